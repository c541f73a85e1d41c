//! revm set-up shared by block execution and read-only calls: the chain's EVM configuration,
//! block environments, transaction environments, and a database view of the world.

use alloy_consensus::{Header, Transaction, TxEnvelope};
use alloy_primitives::{Address, B256, U256};
use bevy_ecs::prelude::*;
use revm::{
    Context, MainBuilder, MainContext,
    context::Evm,
    handler::{EthFrame, instructions::EthInstructions},
    interpreter::interpreter::EthInterpreter,
    context::{BlockEnv, CfgEnv, Journal, TxEnv},
    database::WrapDatabaseRef,
    primitives::hardfork::SpecId,
    state::{AccountInfo as RevmAccountInfo, Bytecode},
    DatabaseRef,
};
use std::convert::Infallible;

use zg_components::chain::{
    AccountIndex, AccountInfo, AccountStorage, BlockHeader, BlockIndex, CodeStore,
};

/// The hardfork rules the chain runs: Prague (PUSH0, MCOPY, transient storage, EIP-7623).
pub use super::precompile::{ChainPrecompiles, PrecompileRegistry};

pub const SPEC: SpecId = super::precompile::FORK;

type ChainContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, WrapDatabaseRef<DB>, Journal<WrapDatabaseRef<DB>>, ()>;

/// revm's mainnet EVM with the chain's precompile provider.
pub type ChainEvm<DB> = Evm<
    ChainContext<DB>,
    (),
    EthInstructions<EthInterpreter, ChainContext<DB>>,
    ChainPrecompiles,
    EthFrame<EthInterpreter>,
>;

/// The same EVM with an inspector attached (tracing, access lists).
pub type InspectingEvm<DB, I> = Evm<
    ChainContext<DB>,
    I,
    EthInstructions<EthInterpreter, ChainContext<DB>>,
    ChainPrecompiles,
    EthFrame<EthInterpreter>,
>;

pub fn cfg_env(chain_id: u64) -> CfgEnv {
    CfgEnv::new().with_chain_id(chain_id).with_spec_and_mainnet_gas_params(SPEC)
}

/// The environment of the block that follows `parent`.
pub fn block_env(
    number: u64,
    timestamp: u64,
    coinbase: Address,
    gas_limit: u64,
    base_fee: u64,
    prevrandao: B256,
) -> BlockEnv {
    BlockEnv {
        number: U256::from(number),
        beneficiary: coinbase,
        timestamp: U256::from(timestamp),
        gas_limit,
        basefee: base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(prevrandao),
        ..Default::default()
    }
}

/// The environment of an already sealed block (for calls against it).
pub fn block_env_of(header: &Header) -> BlockEnv {
    block_env(
        header.number,
        header.timestamp,
        header.beneficiary,
        header.gas_limit,
        header.base_fee_per_gas.unwrap_or_default(),
        header.mix_hash,
    )
}

/// An EVM over `db` with the chain's precompiles (from its [`PrecompileRegistry`]).
pub fn build_evm<DB: DatabaseRef>(db: DB, cfg: CfgEnv, block: BlockEnv, precompiles: ChainPrecompiles) -> ChainEvm<DB> {
    Context::mainnet().with_ref_db(db).with_cfg(cfg).with_block(block).build_mainnet().with_precompiles(precompiles)
}

/// [`build_evm`] with `inspector` watching every step.
pub fn build_inspecting_evm<DB: DatabaseRef, I>(
    db: DB,
    cfg: CfgEnv,
    block: BlockEnv,
    precompiles: ChainPrecompiles,
    inspector: I,
) -> InspectingEvm<DB, I> {
    Context::mainnet()
        .with_ref_db(db)
        .with_cfg(cfg)
        .with_block(block)
        .build_mainnet_with_inspector(inspector)
        .with_precompiles(precompiles)
}

/// The revm transaction for a signed envelope whose sender is known.
pub fn tx_env(envelope: &TxEnvelope, sender: Address) -> TxEnv {
    TxEnv {
        tx_type: envelope.tx_type() as u8,
        caller: sender,
        gas_limit: envelope.gas_limit(),
        gas_price: envelope.max_fee_per_gas(),
        kind: envelope.kind(),
        value: envelope.value(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: envelope.max_priority_fee_per_gas(),
        ..Default::default()
    }
}

/// Reads chain state straight from the world's account entities. Used for the duration of one
/// block's execution, while nothing else touches the world.
pub struct WorldState<'w> {
    pub world: &'w World,
}

impl WorldState<'_> {
    fn account_entity(&self, address: &Address) -> Option<Entity> {
        self.world.resource::<AccountIndex>().0.get(address).copied()
    }
}

impl DatabaseRef for WorldState<'_> {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<RevmAccountInfo>, Infallible> {
        let Some(entity) = self.account_entity(&address) else { return Ok(None) };
        let Some(info) = self.world.get::<AccountInfo>(entity) else { return Ok(None) };
        let code = info
            .has_code()
            .then(|| self.world.resource::<CodeStore>().by_hash.get(&info.code_hash))
            .flatten()
            .map(|code| Bytecode::new_raw(code.clone()));
        Ok(Some(RevmAccountInfo::new(info.balance, info.nonce, info.code_hash, code.unwrap_or_default())))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Infallible> {
        Ok(self
            .world
            .resource::<CodeStore>()
            .by_hash
            .get(&code_hash)
            .map(|code| Bytecode::new_raw(code.clone()))
            .unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Infallible> {
        Ok(self
            .account_entity(&address)
            .and_then(|entity| self.world.get::<AccountStorage>(entity))
            .map(|storage| storage.get(&index))
            .unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Infallible> {
        Ok(self
            .world
            .resource::<BlockIndex>()
            .by_number
            .get(&number)
            .and_then(|entity| self.world.get::<BlockHeader>(*entity))
            .map(|block| block.hash)
            .unwrap_or_default())
    }
}

/// Looks up an account's entity, for callers outside revm.
pub fn account_info(world: &World, address: &Address) -> Option<AccountInfo> {
    let entity = world.resource::<AccountIndex>().0.get(address)?;
    world.get::<AccountInfo>(*entity).copied()
}


/// Calls a view of any contract against the world's current state, as of the head block (no
/// gas price, no nonce, 30 M gas at most). Returns the output, or why the call failed.
pub fn call_view(world: &World, to: Address, data: Vec<u8>) -> Result<alloy_primitives::Bytes, String> {
    use revm::ExecuteEvm;
    let chain_id = world.resource::<zg_components::chain::ChainSpec>().chain_id;
    let head = world.resource::<zg_components::chain::ChainHead>();
    let mut block = block_env_of(&head.header);
    block.basefee = 0;
    let mut cfg = cfg_env(chain_id);
    cfg.disable_nonce_check = true;
    let precompiles = world.resource::<PrecompileRegistry>().provider();
    let mut evm = build_evm(WorldState { world }, cfg, block, precompiles);
    let call = TxEnv {
        caller: Address::ZERO,
        kind: alloy_primitives::TxKind::Call(to),
        data: data.into(),
        gas_limit: 30_000_000.min(head.header.gas_limit),
        gas_price: 0,
        chain_id: Some(chain_id),
        ..Default::default()
    };
    match evm.transact_one(call).map_err(|e| e.to_string())? {
        revm::context::result::ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        other => Err(format!("{other:?}")),
    }
}
