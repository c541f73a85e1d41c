//! Fixtures for the chain systems' unit tests: a world with genesis and signed transactions.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use bevy_ecs::prelude::*;

use zg_components::chain::{ChainSpec, Genesis, GrantEntry};

use super::{ChainPlugin, genesis};
use crate::{NodePlugin, tick_schedule};

pub const CHAIN_ID: u64 = 4242;
pub const COINBASE: Address = Address::repeat_byte(0xc0);

pub fn signer(index: u8) -> PrivateKeySigner {
    let mut key = [0u8; 32];
    key[31] = index + 1;
    key[0] = 0x42;
    PrivateKeySigner::from_slice(&key).expect("valid key")
}

/// A world with the chain plugin, genesis built, and `funded` keys holding 1,000 tokens each.
pub fn chain_world(funded: u8) -> (World, Schedule, Genesis) {
    let mut world = World::new();
    world.insert_resource(ChainSpec::dev(CHAIN_ID, COINBASE));
    let schedule = tick_schedule(&mut world, &[&ChainPlugin as &dyn NodePlugin]);
    let mut genesis = Genesis::zero_gravity(CHAIN_ID);
    genesis.grants = (0..funded)
        .map(|i| GrantEntry { address: signer(i).address(), tokens: 1_000, from: "ecosystem".into() })
        .collect();
    genesis::build_genesis(&mut world, &genesis).expect("genesis");
    (world, schedule, genesis)
}

pub fn transfer(from: &PrivateKeySigner, to: Address, value: u64, nonce: u64, tip: u128) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = from.sign_hash_sync(&tx.signature_hash()).expect("signs");
    tx.into_signed(signature).into()
}

pub fn call(from: &PrivateKeySigner, to: TxKind, input: Bytes, nonce: u64, gas_limit: u64) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let signature = from.sign_hash_sync(&tx.signature_hash()).expect("signs");
    tx.into_signed(signature).into()
}

/// A contract call carrying `value` wei.
pub fn call_with_value(from: &PrivateKeySigner, to: Address, input: Bytes, value: U256, nonce: u64) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 1_000_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input,
    };
    let signature = from.sign_hash_sync(&tx.signature_hash()).expect("signs");
    tx.into_signed(signature).into()
}

pub fn legacy_transfer(from: &PrivateKeySigner, to: Address, chain_id: Option<u64>, nonce: u64) -> TxEnvelope {
    let tx = TxLegacy {
        chain_id,
        nonce,
        gas_price: 100_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let signature = from.sign_hash_sync(&tx.signature_hash()).expect("signs");
    tx.into_signed(signature).into()
}

pub fn balance(world: &World, address: Address) -> U256 {
    super::evm::account_info(world, &address).map(|a| a.balance).unwrap_or_default()
}

pub fn total_supply(world: &mut World) -> U256 {
    world.query::<&zg_components::chain::AccountInfo>().iter(world).map(|a| a.balance).sum()
}

/// Executes `txs` (senders recovered) as the next block on top of the world's head, with the
/// block number as its timestamp.
pub fn execute_next_block(world: &mut World, txs: Vec<TxEnvelope>) -> zg_components::chain::CommittedBlock {
    use super::producer::{self, BlockContext, Candidate};
    let candidates = txs
        .into_iter()
        .map(|tx| {
            let sender = alloy_consensus::transaction::SignerRecoverable::recover_signer(&tx).expect("a signed transaction");
            Candidate { pooled: None, tx: zg_components::chain::PooledTx::new(tx, sender, 0) }
        })
        .collect();
    let number = world.resource::<zg_components::chain::ChainHead>().number() + 1;
    producer::execute_block(world, BlockContext { timestamp_s: number, coinbase: COINBASE, ..Default::default() }, candidates)
}

/// A world with the chain plugin and `genesis` built (a dev chain spec).
pub fn world_of_genesis(genesis: &Genesis) -> World {
    let mut world = World::new();
    world.insert_resource(ChainSpec::dev(CHAIN_ID, COINBASE));
    let _ = tick_schedule(&mut world, &[&ChainPlugin as &dyn NodePlugin]);
    genesis::build_genesis(&mut world, genesis).expect("genesis");
    world
}

/// A compiled artifact's creation code (the JSON `build.mjs` writes).
pub fn artifact_code(artifact: &str) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_str(artifact).expect("an artifact is JSON");
    alloy_primitives::hex::decode(value["bytecode"].as_str().expect("an artifact has bytecode")).expect("hex bytecode")
}

/// A world whose signers call contracts one block per call, keeping their nonces.
pub struct CallChain {
    pub world: World,
    nonces: Vec<u64>,
    /// Gas of a call without value (a value transfer gets `call_with_value`'s).
    call_gas: u64,
}

impl CallChain {
    pub fn new(world: World, signers: usize, call_gas: u64) -> Self {
        Self { world, nonces: vec![0; signers], call_gas }
    }

    /// Signer `from` calls `to` in a block of its own; whether the call succeeded.
    pub fn send<C: alloy_sol_types::SolCall>(&mut self, from: u8, to: Address, call: C, value: U256) -> bool {
        let nonce = self.nonces[from as usize];
        self.nonces[from as usize] += 1;
        let tx = if value.is_zero() {
            self::call(&signer(from), TxKind::Call(to), call.abi_encode().into(), nonce, self.call_gas)
        } else {
            call_with_value(&signer(from), to, call.abi_encode().into(), value, nonce)
        };
        let block = execute_next_block(&mut self.world, vec![tx]);
        block.receipts.first().is_some_and(|r| r.success)
    }

    /// After `signer` sent `nonce` transactions outside this chain's calls.
    pub fn set_nonce(&mut self, signer: u8, nonce: u64) {
        self.nonces[signer as usize] = nonce;
    }

    /// A view as of the head block, decoded.
    pub fn view<C: alloy_sol_types::SolCall>(&self, to: Address, call: C) -> C::Return {
        let output = super::evm::call_view(&self.world, to, call.abi_encode()).expect("the view answers");
        C::abi_decode_returns(&output).expect("decodes")
    }

    pub fn mine(&mut self, blocks: u64) {
        for _ in 0..blocks {
            execute_next_block(&mut self.world, vec![]);
        }
    }

    pub fn head(&self) -> u64 {
        self.world.resource::<zg_components::chain::ChainHead>().number()
    }
}
