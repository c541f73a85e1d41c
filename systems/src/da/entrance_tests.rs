//! The DA entrance contract executed in a world: attestations by a quorum of 64 signers within
//! the gas bound, fraud proofs that must name the registered square size, forged proofs
//! refused, sampling responses proven through the domain-separated trees.

use super::*;
use crate::chain::test_support::*;
use crate::chain::test_support::execute_next_block as block;
use crate::da::encoding::{extend_blob, prove_bad_encoding};
use alloy_primitives::{Bytes, TxKind};
use alloy_sol_types::SolCall;
use bevy_ecs::prelude::*;
use malachite_ed25519::PrivateKey;
use zg_components::chain::ChainHead;
use zg_components::da::piece::attestation_message;
use zg_components::da::wire::encode_fraud_proof;
use zg_components::da::{Axis, SHARE_SIZE};

fn one() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

fn da_key(i: usize) -> PrivateKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    PrivateKey::from(seed)
}

/// A chain whose entrance has `signers` fixed signers of one vote each.
fn world(signers: usize) -> World {
    let (_, _, mut genesis) = chain_world(4);
    let artifact: serde_json::Value = serde_json::from_str(include_str!("../../../assets/contracts/DAEntrance.json")).unwrap();
    let code = alloy_primitives::hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap();
    let params = EntranceParams {
        staking: None,
        blob_price: U256::from(1_000_000u64),
        fraud_window_blocks: 100,
        attest_timeout_blocks: 100,
        tokens_per_vote: one(),
        max_votes_per_signer: 1_024,
        fixed_signers: (0..signers).map(|i| (*da_key(i).public_key().as_bytes(), one())).collect(),
        sample_period: 1,
        sample_window_blocks: 1_000,
        podas_target: U256::MAX,
    };
    genesis.accounts.insert(DA_ENTRANCE_ADDRESS, genesis_account(&code, &params).unwrap());
    world_of_genesis(&genesis)
}

fn status(world: &World, root: B256) -> u8 {
    let out = crate::consensus::staking::call_view(world, DA_ENTRANCE_ADDRESS, IDAEntrance::statusOfCall { dataRoot: root }.abi_encode()).unwrap();
    IDAEntrance::statusOfCall::abi_decode_returns(&out).unwrap()
}

/// Registers `root` with `k` (0: through 0G's `submitOriginalData`) from signer 0 at `nonce`.
fn register(world: &mut World, root: B256, k: u32, nonce: u64) {
    let input = if k == 0 {
        IDAEntrance::submitOriginalDataCall { dataRoots: vec![root] }.abi_encode()
    } else {
        IDAEntrance::submitBlobsCall { dataRoots: vec![root], ks: vec![k] }.abi_encode()
    };
    let done = block(world, vec![call_with_value(&signer(0), DA_ENTRANCE_ADDRESS, input.into(), U256::from(1_000_000u64), nonce)]);
    assert!(done.receipts[0].success, "registering");
}

/// Confirms `root` with the signatures of the first `count` signers.
fn attest(world: &mut World, root: B256, count: usize, nonce: u64, gas: u64) -> (bool, u64) {
    let message = attestation_message(CHAIN_ID, &root.0, 0, 0);
    let mut keys: Vec<(B256, Bytes)> = (0..count)
        .map(|i| (B256::from(*da_key(i).public_key().as_bytes()), Bytes::copy_from_slice(&da_key(i).sign(&message).to_bytes())))
        .collect();
    keys.sort();
    let input = IDAEntrance::submitVerifiedCommitRootsCall {
        dataRoot: root,
        keys: keys.iter().map(|(k, _)| *k).collect(),
        signatures: keys.into_iter().map(|(_, s)| s).collect(),
    };
    let done = block(world, vec![call(&signer(1), TxKind::Call(DA_ENTRANCE_ADDRESS), input.abi_encode().into(), nonce, gas)]);
    (done.receipts[0].success, done.receipts[0].gas_used)
}

fn submit_proof(world: &mut World, proof: Vec<u8>, nonce: u64) -> bool {
    let input = IDAEntrance::submitFraudProofCall { proof: proof.into() }.abi_encode();
    block(world, vec![call(&signer(2), TxKind::Call(DA_ENTRANCE_ADDRESS), input.into(), nonce, 20_000_000)]).receipts[0].success
}

#[test]
fn a_quorum_of_64_signers_attests_within_the_linear_bound() {
    let mut world = world(64);
    let root = B256::repeat_byte(3);
    register(&mut world, root, 2, 0);
    let bound = attest_gas_bound(64, 64);
    let (ok, used) = attest(&mut world, root, 64, 0, bound);
    assert!(ok, "64 signatures within the bound {bound}");
    assert!(used <= bound && bound < 30_000_000, "used {used}, bound {bound}");
    eprintln!("64 attestations of 64 signers: {used} gas (bound {bound})");
    assert_eq!(status(&world, root), 2, "confirmed");
    // The bound grows linearly in signers for a fixed set; 100 of 100 still fit a block.
    assert!(attest_gas_bound(100, 100) < 10_000_000);
}

#[test]
fn a_fraud_proof_must_state_the_registered_k_and_forged_ones_are_refused_on_chain() {
    let mut world = world(1);
    // A badly encoded blob registered with its k: its true fraud proof holds.
    let square = extend_blob(&vec![5u8; 3_000]).unwrap();
    let mut bad = square.clone();
    let width = bad.layout.width();
    bad.data[(2 * width - 1) * SHARE_SIZE] ^= 1;
    let roots = bad.commit();
    let root = roots.data_root();
    register(&mut world, root, bad.layout.k as u32, 0);
    assert!(attest(&mut world, root, 1, 0, 2_000_000).0);
    let proof = prove_bad_encoding(&bad, &roots, Axis::Row, 1).unwrap().expect("row 1 is bad");
    // The same proof with another k written in it is refused by the precompile (the data root
    // commits to k) before the registered k is even compared.
    let mut other_k = proof.clone();
    other_k.layout.k += 1;
    assert!(!submit_proof(&mut world, encode_fraud_proof(&other_k), 0));
    assert_eq!(status(&world, root), 2, "still confirmed");
    assert!(submit_proof(&mut world, encode_fraud_proof(&proof), 1));
    assert_eq!(status(&world, root), 3, "failed");

    // An honest blob: no proof the forger assembles, for any k it claims, fails it.
    let honest = extend_blob(&vec![9u8; 1_400]).unwrap();
    let honest_root = honest.commit().data_root();
    register(&mut world, honest_root, honest.layout.k as u32, 1);
    assert!(attest(&mut world, honest_root, 1, 1, 2_000_000).0);
    let forger = crate::da::encoding::forgery_for_tests::Forger::new(&honest);
    let mut nonce = 2;
    for claimed in 1..=2 * honest.layout.k + 1 {
        for forged in forger.forge(claimed).into_iter().take(2) {
            assert!(!submit_proof(&mut world, encode_fraud_proof(&forged), nonce), "a forged proof claiming k = {claimed} held");
            nonce += 1;
        }
    }
    assert_eq!(status(&world, honest_root), 2, "the honest blob stays confirmed");
}

#[test]
fn a_sampling_response_proves_through_the_domain_separated_trees_at_the_registered_k() {
    let mut world = world(1);
    let square = extend_blob(&vec![4u8; 5_000]).unwrap();
    let roots = square.commit();
    let root = roots.data_root();
    register(&mut world, root, square.layout.k as u32, 0);
    assert!(attest(&mut world, root, 1, 0, 2_000_000).0);
    let (leaves, tree) = (square.leaf_hashes(), roots.tree());
    let (row, column) = (1, 2);
    let proof = crate::da::encoding::share_proof(&square, &roots, &tree, &leaves, row, column, Axis::Row).unwrap();
    let siblings = |lemma: &[B256]| lemma[1..lemma.len() - 1].to_vec();
    let payee = signer(3).address();
    // Signed by attester 0 for the round of the block it lands in (a round a block here).
    let signed = |world: &World, by: &PrivateKey| {
        let round = world.resource::<ChainHead>().number() + 1;
        Bytes::copy_from_slice(&by.sign(&sampling_message(CHAIN_ID, round, &root, row as u32, column as u32, &payee)).to_bytes())
    };
    // The attester's slot rank whose axis is row 1 (a single signer holds every slot).
    let ranks = crate::da::quorum::ranks_of(root, &[(da_key(0).public_key().as_bytes().to_vec(), 1u64)], 1, &da_key(0).public_key().as_bytes().to_vec(), square.layout);
    let rank = ranks[&(Axis::Row, row)];
    let response = |k: usize, signer_key: B256, signature: Bytes| SampleResponse {
        dataRoot: root,
        k: U256::from(k),
        row: U256::from(row),
        column: U256::from(column),
        throughRow: true,
        share: Bytes::copy_from_slice(square.share(row, column).unwrap()),
        toAxis: siblings(&proof.to_axis.lemma),
        toRoot: siblings(&proof.to_data_root.lemma),
        signer: signer_key,
        signature,
        slotRank: U256::from(rank),
    };
    let send = |world: &mut World, r: SampleResponse, nonce: u64| {
        let input = IDAEntrance::submitSamplingResponseCall { r }.abi_encode();
        let receipt = block(world, vec![call(&signer(3), TxKind::Call(DA_ENTRANCE_ADDRESS), input.into(), nonce, 2_000_000)]).receipts[0].clone();
        if receipt.success {
            eprintln!("a sampling response at k = {}: {} gas", square.layout.k, receipt.gas_used);
        }
        receipt.success
    };
    let attester = B256::from(*da_key(0).public_key().as_bytes());
    let k = square.layout.k;
    let sig = signed(&world, &da_key(0));
    assert!(!send(&mut world, response(k + 1, attester, sig), 0), "another k is refused");
    let stranger = da_key(9);
    let sig = signed(&world, &stranger);
    assert!(!send(&mut world, response(k, B256::from(*stranger.public_key().as_bytes()), sig), 1), "a key that did not attest is refused");
    let sig = signed(&world, &stranger);
    assert!(!send(&mut world, response(k, attester, sig), 2), "the attester's key without its signature is refused");
    let sig = signed(&world, &da_key(0));
    let mut off_axis = response(k, attester, sig);
    off_axis.slotRank = U256::from(ranks[&(Axis::Row, row + 1)]);
    assert!(!send(&mut world, off_axis, 3), "a slot whose axis is not the share's row or column is refused");
    let sig = signed(&world, &da_key(0));
    assert!(send(&mut world, response(k, attester, sig), 4), "the attester's true share at the registered k is paid");
}

#[test]
fn the_shipped_entrance_is_recognised_as_current_and_a_missing_one_is_not() {
    assert!(is_current(&world(1)));
    let (_, _, genesis) = chain_world(1);
    assert!(!is_current(&world_of_genesis(&genesis)), "no entrance at all");
}
