//! The alignment contracts on a bare chain world, attacker first: who may name operators, report,
//! claim and transfer, what a false accusation costs, and that rewards only move tokens.

use alloy_primitives::{B256, Bytes, U256};
use alloy_sol_types::SolCall;
use bevy_ecs::prelude::*;
use proptest::prelude::*;

use super::*;
use crate::chain::test_support::*;
use crate::verifiable::contracts::{IVerifiedInference, VerifiedRequest, WrongResultEvidence};

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

const EPOCH_BLOCKS: u64 = 5;
const LOCKED_EPOCHS: u64 = 3;
const VESTING_EPOCHS: u64 = 10;

/// Signers 0–2 hold licences 1–3; signers 3 and 4 are would-be operators; 1,000 0G each.
fn params() -> AlignmentParams {
    AlignmentParams {
        holders: (0..3u8).map(|i| signer(i).address()).collect(),
        epoch_blocks: EPOCH_BLOCKS,
        locked_epochs: LOCKED_EPOCHS,
        vesting_epochs: VESTING_EPOCHS,
        reward_per_licence: tokens(100),
        launch_share_bps: 3_300,
        min_bond: tokens(10),
        false_accusation_penalty: tokens(5),
        verified_inference: crate::verifiable::contracts::VERIFIED_INFERENCE_ADDRESS,
        pora_mine: crate::storage::pora::MINE_ADDRESS,
    }
}

fn aligned_world() -> World {
    let (_, _, mut genesis) = chain_world(5);
    let params = params();
    let code = AlignmentCode {
        license: &artifact_code(include_str!("../../../assets/contracts/AlignmentLicense.json")),
        manager: &artifact_code(include_str!("../../../assets/contracts/AlignmentManager.json")),
    };
    genesis.accounts.extend(genesis_accounts(&code, &params).expect("the shipped contracts deploy"));
    let pool = u64::try_from(params.pool() / tokens(1)).unwrap();
    genesis.grants.push(zg_components::chain::GrantEntry { address: MANAGER_ADDRESS, tokens: pool, from: "ai_alignment_nodes".into() });
    let registry = code_of_registry();
    let verifiable = crate::verifiable::contracts::genesis_accounts(
        &registry.0,
        &registry.1,
        crate::verifiable::contracts::RegistryParams { activation_delay_secs: 1, fee_per_row: U256::from(1u64) },
    )
    .unwrap();
    genesis.accounts.extend(verifiable);
    crate::storage::pora::tests::install_flow_and_mine(&mut genesis, vec![], 0);
    world_of_genesis(&genesis)
}

fn code_of_registry() -> (Vec<u8>, Vec<u8>) {
    (
        artifact_code(include_str!("../../../assets/contracts/ModelRegistry.json")),
        artifact_code(include_str!("../../../assets/contracts/VerifiedInference.json")),
    )
}

/// The alignment world with its calls, and the manager's steps the tests repeat.
struct Chain(CallChain);

impl std::ops::Deref for Chain {
    type Target = CallChain;
    fn deref(&self) -> &CallChain {
        &self.0
    }
}

impl std::ops::DerefMut for Chain {
    fn deref_mut(&mut self) -> &mut CallChain {
        &mut self.0
    }
}

impl Chain {
    fn new() -> Self {
        Self(CallChain::new(aligned_world(), 5, 20_000_000))
    }

    fn manager<C: SolCall>(&mut self, from: u8, call: C) -> bool {
        self.send(from, MANAGER_ADDRESS, call, U256::ZERO)
    }

    /// Mines until the next block to be built is in `epoch`.
    fn reach_epoch(&mut self, epoch: u64) {
        while (self.head() + 1) / EPOCH_BLOCKS < epoch {
            execute_next_block(&mut self.world, vec![]);
        }
    }

    fn bond(&mut self, operator: u8, amount: U256) -> bool {
        self.send(operator, MANAGER_ADDRESS, IAlignmentManager::bondCall {}, amount)
    }

    fn report(&mut self, operator: u8, epoch: u64, ids: &[u64]) -> bool {
        let call = IAlignmentManager::submitReportCall {
            epoch: U256::from(epoch),
            tokenIds: ids.iter().map(|id| U256::from(*id)).collect(),
            checked: U256::from(12u64),
            failed: U256::ZERO,
            digest: B256::repeat_byte(7),
        };
        self.manager(operator, call)
    }
}

fn id(n: u64) -> U256 {
    U256::from(n)
}

#[test]
fn only_a_licence_holder_names_its_operator_and_only_that_operator_reports_for_it() {
    let mut chain = Chain::new();
    assert!(!chain.manager(3, IAlignmentManager::setOperatorCall { tokenId: id(1), operator: signer(3).address() }), "not the holder");
    assert!(chain.manager(0, IAlignmentManager::setOperatorCall { tokenId: id(1), operator: signer(3).address() }));
    assert!(chain.manager(1, IAlignmentManager::setOperatorCall { tokenId: id(2), operator: signer(3).address() }), "one operator, two licences");
    assert!(chain.manager(2, IAlignmentManager::setOperatorCall { tokenId: id(3), operator: signer(4).address() }));
    assert!(chain.bond(3, tokens(10)));
    chain.reach_epoch(1);
    assert!(!chain.report(3, 0, &[3]), "operator 3 does not serve licence 3");
    assert!(!chain.report(4, 0, &[3]), "operator 4 has no bond");
    assert!(!chain.report(3, 1, &[1, 2]), "the running epoch is not reportable");
    assert!(chain.report(3, 0, &[1, 2]));
    assert!(!chain.report(3, 0, &[1]), "one report per licence and epoch");
    chain.reach_epoch(3);
    assert!(!chain.report(3, 1, &[1]), "an epoch is reported during the next one only");
    assert!(chain.view(MANAGER_ADDRESS, IAlignmentManager::reportedCall { tokenId: id(2), epoch: U256::ZERO }));
    // The holder moves licence 2 to another operator: the old one can no longer report for it.
    assert!(chain.manager(1, IAlignmentManager::setOperatorCall { tokenId: id(2), operator: signer(4).address() }));
    assert!(!chain.report(3, 2, &[2]));
    assert!(chain.report(3, 2, &[1]));
}

#[test]
fn rewards_are_the_launch_share_and_each_reported_epochs_part_paid_once_to_the_holder() {
    let mut chain = Chain::new();
    assert!(chain.manager(0, IAlignmentManager::setOperatorCall { tokenId: id(1), operator: signer(3).address() }));
    assert!(chain.bond(3, tokens(10)));
    let launch = tokens(33);
    let share = chain.view(MANAGER_ADDRESS, IAlignmentManager::epochShareCall {});
    assert_eq!(share, tokens(67) / U256::from(VESTING_EPOCHS));
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::claimableCall { tokenId: id(1) }), launch, "33 % from launch");
    chain.reach_epoch(1);
    assert!(chain.report(3, 0, &[1]));
    chain.reach_epoch(3);
    assert!(chain.report(3, 2, &[1]), "epoch 1 went unreported: forfeited");
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::claimableCall { tokenId: id(1) }), launch + share * U256::from(2));
    assert!(!chain.manager(3, IAlignmentManager::claimCall { tokenId: id(1) }), "the operator is not the holder");
    let before = balance(&chain.world, signer(0).address());
    assert!(chain.manager(0, IAlignmentManager::claimCall { tokenId: id(1) }));
    let gained = balance(&chain.world, signer(0).address()) + tokens(1) - before;
    assert!(gained > launch + share * U256::from(2) && gained <= launch + share * U256::from(2) + tokens(1), "paid, less gas");
    assert!(!chain.manager(0, IAlignmentManager::claimCall { tokenId: id(1) }), "nothing twice");
    assert!(!chain.manager(1, IAlignmentManager::claimCall { tokenId: id(1) }), "not licence 1's holder");
    // An operator serving a licence keeps its bond in; one serving none takes it out.
    assert!(!chain.manager(3, IAlignmentManager::withdrawBondCall {}));
    assert!(chain.manager(0, IAlignmentManager::setOperatorCall { tokenId: id(1), operator: Address::ZERO }));
    assert!(chain.manager(3, IAlignmentManager::withdrawBondCall {}));
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::totalBondsCall {}), U256::ZERO);
}

#[test]
fn licences_are_soulbound_for_their_first_year_then_tradeable() {
    let mut chain = Chain::new();
    let (from, to) = (signer(0).address(), signer(4).address());
    let transfer = || IAlignmentLicense::transferFromCall { from, to, tokenId: id(1) };
    assert!(!chain.send(0, LICENSE_ADDRESS, transfer(), U256::ZERO), "locked in epoch 0");
    chain.reach_epoch(LOCKED_EPOCHS);
    assert!(chain.send(0, LICENSE_ADDRESS, transfer(), U256::ZERO));
    assert_eq!(chain.view(LICENSE_ADDRESS, IAlignmentLicense::ownerOfCall { tokenId: id(1) }), to);
    assert!(!chain.manager(0, IAlignmentManager::claimCall { tokenId: id(1) }), "the seller no longer claims");
    assert!(chain.manager(4, IAlignmentManager::claimCall { tokenId: id(1) }), "the buyer does");
}

#[test]
fn a_false_accusation_costs_the_accuser_part_of_its_bond() {
    let mut chain = Chain::new();
    assert!(chain.manager(0, IAlignmentManager::setOperatorCall { tokenId: id(1), operator: signer(3).address() }));
    assert!(chain.bond(3, tokens(10)));
    let pool_before = chain.view(MANAGER_ADDRESS, IAlignmentManager::poolCall {});
    let request = VerifiedRequest {
        user: signer(2).address(),
        provider: signer(4).address(),
        modelId: B256::repeat_byte(1),
        nonce: U256::from(1u64),
        inputCommitment: B256::repeat_byte(2),
        fee: U256::from(1u64),
    };
    let evidence = WrongResultEvidence { logits: vec![], proof: Bytes::new(), providerSignature: Bytes::from(vec![0u8; 65]), honestLogits: vec![], honestProof: Bytes::new() };
    let accuse = IAlignmentAccusations::accuseVerifiedResultCall { request: request.clone(), evidence: evidence.clone() };
    assert!(!chain.manager(4, accuse.clone()), "only an operator may accuse");
    assert!(chain.manager(3, accuse.clone()), "judged, not reverted");
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::bondOfCall { operator: signer(3).address() }), tokens(5));
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::poolCall {}), pool_before + tokens(5), "the penalty joins the pool");
    assert!(!chain.manager(3, accuse), "a bond below the minimum accuses no more");
    // The same evidence sent straight to the market is refused: it shows nothing wrong.
    let direct = IVerifiedInference::reportWrongResultCall { request, evidence };
    assert!(!chain.send(2, crate::verifiable::contracts::VERIFIED_INFERENCE_ADDRESS, direct, U256::ZERO));
}

#[test]
fn a_storage_node_that_signed_a_corrupted_segment_pays_the_operator_who_shows_it() {
    use crate::storage::pora::{IPoraMine, MINE_ADDRESS, inner_siblings, segment_answer_hash};
    use alloy_signer::SignerSync;
    let mut world = aligned_world();
    let data: Vec<u8> = (0..3 * zg_components::storage::merkle::SEGMENT_SIZE).map(|i| (i % 253) as u8).collect();
    let (commitment, record) = crate::storage::pora::tests::publish(&mut world, &data, 0);
    let mut chain = Chain(CallChain::new(world, 5, 20_000_000));
    chain.0.set_nonce(0, 1);
    let (operator, miner) = (3u8, 4u8);
    assert!(chain.manager(0, IAlignmentManager::setOperatorCall { tokenId: id(1), operator: signer(operator).address() }));
    assert!(chain.bond(operator, tokens(10)));
    assert!(chain.send(miner, MINE_ADDRESS, IPoraMine::registerCall { nodeId: B256::ZERO, nodeSignature: Bytes::new() }, tokens(1)));
    let siblings = inner_siblings(&commitment.tree.proof(1).unwrap());
    let honest = data[zg_components::storage::merkle::SEGMENT_SIZE..2 * zg_components::storage::merkle::SEGMENT_SIZE].to_vec();
    let mut corrupted = honest.clone();
    corrupted[7] ^= 0x80;
    let accuse = |bytes: &[u8]| {
        let hash = segment_answer_hash(CHAIN_ID, record.root(), 1, bytes, &siblings);
        let signature = signer(miner).sign_message_sync(hash.as_slice()).unwrap();
        IAlignmentManager::accuseBadSegmentCall {
            txSeq: U256::ZERO,
            segment: U256::from(1u64),
            data: bytes.to_vec().into(),
            siblings: siblings.clone(),
            signature: signature.as_bytes().to_vec().into(),
        }
    };
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::JUDGE_GASCall {}), U256::from(JUDGE_GAS), "the auditor's gas budget is the contract's");
    assert!(!chain.manager(4, accuse(&corrupted)), "only a bonded operator accuses");
    // Upheld: the mine cuts 10 % of the stake and the reporter's half reaches the operator.
    let before = balance(&chain.world, signer(operator).address());
    assert!(chain.manager(operator, accuse(&corrupted)));
    let stake = chain.view(MINE_ADDRESS, IPoraMine::minersCall { miner: signer(miner).address() }).stake;
    assert_eq!(stake, tokens(1) - tokens(1) / U256::from(10));
    assert!(balance(&chain.world, signer(operator).address()) > before + tokens(1) / U256::from(20) - tokens(1) / U256::from(50));
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::bondOfCall { operator: signer(operator).address() }), tokens(10));
    // The honest answer is no evidence: the accuser pays, the miner does not.
    assert!(chain.manager(operator, accuse(&honest)), "judged, not reverted");
    assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::bondOfCall { operator: signer(operator).address() }), tokens(5));
    assert_eq!(chain.view(MINE_ADDRESS, IPoraMine::minersCall { miner: signer(miner).address() }).stake, stake);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever operators report and holders claim, in whatever order, the token's supply does
    /// not change, the manager never pays out more than its pool, and bonds stay covered.
    #[test]
    fn rewards_only_move_tokens(steps in proptest::collection::vec((0u8..4, 0u64..3), 1..24)) {
        let mut chain = Chain::new();
        for (licence, holder) in (1..=3u64).zip(0u8..) {
            let named = chain.manager(holder, IAlignmentManager::setOperatorCall { tokenId: id(licence), operator: signer(3).address() });
            prop_assert!(named);
        }
        let bonded = chain.bond(3, tokens(10));
        prop_assert!(bonded);
        let supply = total_supply(&mut chain.world);
        let pool = chain.view(MANAGER_ADDRESS, IAlignmentManager::poolCall {});
        for (action, licence) in steps {
            match action {
                0 => {
                    let epoch = (chain.head() + 1) / EPOCH_BLOCKS;
                    if epoch > 0 {
                        chain.report(3, epoch - 1, &[licence + 1]);
                    }
                }
                1 => {
                    chain.manager(licence as u8, IAlignmentManager::claimCall { tokenId: id(licence + 1) });
                }
                _ => {
                    for _ in 0..EPOCH_BLOCKS {
                        execute_next_block(&mut chain.world, vec![]);
                    }
                }
            }
            prop_assert_eq!(total_supply(&mut chain.world), supply);
            let left = chain.view(MANAGER_ADDRESS, IAlignmentManager::poolCall {});
            prop_assert!(left <= pool);
            prop_assert!(pool - left <= tokens(100) * U256::from(3u64));
            prop_assert_eq!(chain.view(MANAGER_ADDRESS, IAlignmentManager::totalBondsCall {}), tokens(10));
        }
    }
}
