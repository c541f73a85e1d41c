//! `zgnode bench settlement`: the gas a provider pays to settle requests on InferenceServing,
//! per request, in one `settleFeesWithTEE` batch of `n` users against the same requests settled
//! one transaction each (the baseline), on a hand-ticked dev node in this process.

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use std::time::Duration;

use zg_components::chain::GrantEntry;
use zg_systems::compute::contracts::{
    ILedgerManager, IInferenceServing, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME, InferenceServiceParams, LEDGER_ADDRESS,
    TEESettlementData,
};
use zg_systems::compute::settlement::{PlannedSettlement, requests_hash};

use crate::assembly::NodeBuilder;
use crate::node::{Node, NodeHandle};

#[derive(Clone, Debug)]
pub struct SettlementReport {
    pub users: usize,
    /// Gas of the one batched transaction.
    pub batch_gas: u64,
    /// Gas of each single-settlement transaction, summed.
    pub singles_gas: u64,
}

impl SettlementReport {
    pub fn batch_per_request(&self) -> f64 {
        self.batch_gas as f64 / self.users as f64
    }
    pub fn single_per_request(&self) -> f64 {
        self.singles_gas as f64 / self.users as f64
    }
}

/// A hand-ticked dev node in this process (shared with `bench proofs`' on-chain figures).
pub(super) struct Chain {
    pub node: Node,
    pub handle: NodeHandle,
    pub now_ms: u64,
    pub chain_id: u64,
}

impl Chain {
    /// Submits signed transactions, ticks until all have receipts, and returns their gas.
    /// A dev chain with `genesis`, blocks only when there are transactions.
    pub fn start(genesis: zg_components::chain::Genesis) -> anyhow::Result<Self> {
        let (node, handle) = NodeBuilder::dev().with_genesis(genesis).block_time(Duration::from_millis(100)).skip_empty_blocks().build()?;
        let chain_id = handle.chain_id();
        Ok(Chain { node, handle, now_ms: crate::node::now_ms(), chain_id })
    }

    pub fn run(&mut self, txs: Vec<alloy_consensus::TxEnvelope>) -> anyhow::Result<Vec<u64>> {
        let hashes: Vec<B256> = txs.into_iter().map(|tx| self.handle.submit_signed(tx).map(|s| s.hash())).collect::<Result<_, _>>()?;
        let mut gas = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let mut ticks = 0;
            let receipt = loop {
                if let Some(receipt) = self.handle.receipt(hash)? {
                    break receipt;
                }
                anyhow::ensure!(ticks < 1_000, "transaction {hash} never mined");
                self.now_ms += 1_000;
                self.node.tick(self.now_ms)?;
                ticks += 1;
            };
            anyhow::ensure!(receipt.success, "transaction {hash} reverted");
            gas.push(receipt.gas_used);
        }
        Ok(gas)
    }

    /// What `settleFeesWithTEE` would answer now: every settlement must succeed for the gas
    /// to mean anything.
    fn ensure_all_settle(&self, provider: Address, call: &IInferenceServing::settleFeesWithTEECall) -> anyhow::Result<()> {
        let output = self.handle.call(provider, INFERENCE_ADDRESS, call.abi_encode())?;
        let statuses = IInferenceServing::settleFeesWithTEECall::abi_decode_returns(&output)?;
        anyhow::ensure!(statuses.iter().all(|s| *s == 0), "settlement statuses {statuses:?}");
        Ok(())
    }

    pub fn call<C: SolCall>(&self, from: &PrivateKeySigner, to: Address, call: &C, value: U256, nonce: u64) -> alloy_consensus::TxEnvelope {
        self.call_with_gas(from, to, call, value, nonce, 5_000_000)
    }

    pub fn call_with_gas<C: SolCall>(&self, from: &PrivateKeySigner, to: Address, call: &C, value: U256, nonce: u64, gas: u64) -> alloy_consensus::TxEnvelope {
        crate::signing::sign_eip1559(from, self.chain_id, TxKind::Call(to), value, Bytes::from(call.abi_encode()), nonce, gas)
    }
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

pub fn settlement(users: usize) -> anyhow::Result<SettlementReport> {
    anyhow::ensure!((1..=50).contains(&users), "a batch holds 1 to 50 settlements (the contract's limit)");
    let provider = super::key(10_000);
    let owner = PrivateKeySigner::from_bytes(&crate::dev::dev_accounts()[crate::compute::dev_provider::DEV_PROVIDER_ACCOUNT].private_key)?;
    let signer = super::key(10_001);
    let clients: Vec<PrivateKeySigner> = (0..users as u64).map(super::key).collect();
    let mut genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    genesis.grants.extend(clients.iter().chain([&provider]).map(|k| GrantEntry { address: k.address(), tokens: 1_000, from: "ecosystem".into() }));
    let (node, handle) = NodeBuilder::dev().with_genesis(genesis).block_time(Duration::from_millis(100)).skip_empty_blocks().build()?;
    let chain_id = handle.chain_id();
    let mut chain = Chain { node, handle, now_ms: crate::node::now_ms(), chain_id };

    let params = InferenceServiceParams {
        serviceType: "chatbot".into(),
        url: "http://127.0.0.1:1".into(),
        model: "bench".into(),
        verifiability: String::new(),
        inputPrice: U256::from(1_000u64),
        outputPrice: U256::from(2_000u64),
        additionalInfo: String::new(),
        teeSignerAddress: signer.address(),
    };
    // The dev marketplace's owner (dev account 7) has sent nothing yet.
    let owner_nonce = 0;
    // One block each: the owner can only acknowledge a service that exists, and two senders'
    // transactions in one block carry no order between them.
    chain.run(vec![chain.call(&provider, INFERENCE_ADDRESS, &IInferenceServing::addOrUpdateServiceCall { params }, ether(100), 0)])?;
    chain.run(vec![chain.call(&owner, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerByOwnerCall { provider: provider.address() }, U256::ZERO, owner_nonce)])?;
    let mut setup = Vec::new();
    for client in &clients {
        setup.push(chain.call(client, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, ether(10), 0));
        let transfer = ILedgerManager::transferFundCall { provider: provider.address(), serviceName: INFERENCE_SERVICE_NAME.into(), amount: ether(5) };
        setup.push(chain.call(client, LEDGER_ADDRESS, &transfer, U256::ZERO, 1));
        let acknowledge = IInferenceServing::acknowledgeTEESignerCall { provider: provider.address(), acknowledged: true };
        setup.push(chain.call(client, INFERENCE_ADDRESS, &acknowledge, U256::ZERO, 2));
    }
    chain.run(setup)?;

    // Each user's fees as the provider plans and signs them (one request per settlement).
    let settlement = |client: &PrivateKeySigner, nonce: u64| -> anyhow::Result<TEESettlementData> {
        let chat_id = format!("{} {nonce}", client.address());
        let plan = PlannedSettlement {
            user: client.address(),
            nonce: U256::from(nonce),
            total_fee: U256::from(1_000_000u64) * U256::from(nonce),
            requests_hash: requests_hash([chat_id.as_str()]),
            seqs: vec![nonce],
        };
        let signature = signer.sign_message_sync(plan.digest(provider.address()).as_slice())?;
        Ok(plan.to_call_data(provider.address(), Bytes::from(signature.as_bytes().to_vec())))
    };
    // A first settlement per user, unmeasured: it writes each account's nonce from zero, which
    // costs more than every later one, so both measured rounds below start from the same state.
    let first = clients.iter().map(|client| settlement(client, 1)).collect::<anyhow::Result<Vec<_>>>()?;
    let call = IInferenceServing::settleFeesWithTEECall { settlements: first };
    chain.ensure_all_settle(provider.address(), &call)?;
    chain.run(vec![chain.call(&provider, INFERENCE_ADDRESS, &call, U256::ZERO, 1)])?;
    // Baseline: each user's next fees settled in a transaction of their own.
    let singles: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let call = IInferenceServing::settleFeesWithTEECall { settlements: vec![settlement(client, 2)?] };
            chain.ensure_all_settle(provider.address(), &call)?;
            Ok(chain.call(&provider, INFERENCE_ADDRESS, &call, U256::ZERO, 2 + i as u64))
        })
        .collect::<anyhow::Result<_>>()?;
    let singles_gas = chain.run(singles)?.iter().sum();
    // The same users' next fees in one batch.
    let batch = clients.iter().map(|client| settlement(client, 3)).collect::<anyhow::Result<Vec<_>>>()?;
    let call = IInferenceServing::settleFeesWithTEECall { settlements: batch };
    chain.ensure_all_settle(provider.address(), &call)?;
    let batch_gas = chain.run(vec![chain.call(&provider, INFERENCE_ADDRESS, &call, U256::ZERO, 2 + users as u64)])?[0];
    Ok(SettlementReport { users, batch_gas, singles_gas })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_batch_settles_and_its_size_is_bounded() {
        let report = super::settlement(3).unwrap();
        assert_eq!(report.users, 3);
        assert!(report.batch_gas > 0 && report.singles_gas > 0);
        assert!(super::settlement(0).is_err());
        assert!(super::settlement(51).is_err());
    }
}
