//! Simulating a transaction against the chain's rules without changing anything: a call run
//! once, and the least gas that does not fail (as geth estimates it). Pure over any state
//! (`DatabaseRef`): JSON-RPC (`eth_call`, `eth_estimateGas`) and the node's handle run these
//! on a read snapshot, with the chain's own precompiles, so a call runs exactly what a block
//! would.

use alloy_primitives::{Bytes, U256};
use revm::context::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};
use revm::context::{BlockEnv, TxEnv};
use revm::{DatabaseRef, ExecuteEvm};

use super::evm::{self, ChainPrecompiles};

/// geth's tolerance when narrowing an estimate: stop within 1.5% of the true minimum.
pub const ESTIMATE_ERROR_RATIO: f64 = 0.015;

/// Where a simulation runs: the state it reads, the block it runs in, the chain's precompiles.
pub struct Site<'a, DB> {
    pub db: &'a DB,
    pub block: &'a BlockEnv,
    pub precompiles: &'a ChainPrecompiles,
    pub chain_id: u64,
}

/// Why a simulation did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError<E: std::fmt::Debug + std::fmt::Display> {
    /// The EVM refused the transaction or could not read the state.
    #[error("{0}")]
    Evm(EVMError<E, InvalidTransaction>),
    /// The state could not be read.
    #[error("reading state: {0}")]
    Database(E),
    #[error("insufficient funds for transfer")]
    InsufficientFunds,
    /// The transaction reverts with this output at the most gas it could have.
    #[error("execution reverted")]
    Reverted(Bytes),
    /// The transaction halts at the most gas it could have.
    #[error("execution halted: {reason:?}")]
    Halted { reason: HaltReason, gas: u64 },
}

/// The chain's EVM settings for calls: no nonce check (a call is not a transaction).
pub fn call_cfg(chain_id: u64) -> revm::context::CfgEnv {
    let mut cfg = evm::cfg_env(chain_id);
    cfg.disable_nonce_check = true;
    cfg
}

/// Runs `tx` with `gas` at `site`, changing nothing.
pub fn execute<DB: DatabaseRef>(site: &Site<'_, DB>, tx: &TxEnv, gas: u64) -> Result<ExecutionResult, EVMError<DB::Error, InvalidTransaction>> {
    let mut evm = evm::build_evm(site.db, call_cfg(site.chain_id), site.block.clone(), site.precompiles.clone());
    evm.transact_one(TxEnv { gas_limit: gas, ..tx.clone() })
}

/// Binary search for the least gas with which `tx` does not fail, as geth does: capped by the
/// block's gas limit and, when a price is named, by what the sender's balance can pay.
pub fn estimate<DB>(site: &Site<'_, DB>, tx: &TxEnv) -> Result<u64, SimulationError<DB::Error>>
where
    DB: DatabaseRef,
    DB::Error: std::fmt::Debug + std::fmt::Display,
{
    let mut hi = tx.gas_limit.min(site.block.gas_limit);
    if tx.gas_price > 0 {
        let balance = site.db.basic_ref(tx.caller).map_err(SimulationError::Database)?.map(|a| a.balance).unwrap_or_default();
        if tx.value > balance {
            return Err(SimulationError::InsufficientFunds);
        }
        let allowance = (balance - tx.value) / U256::from(tx.gas_price);
        if allowance < U256::from(hi) {
            hi = allowance.to::<u64>();
        }
    }
    let succeeds = |gas: u64| -> Result<Result<ExecutionResult, ExecutionResult>, SimulationError<DB::Error>> {
        let result = execute(site, tx, gas).map_err(SimulationError::Evm)?;
        Ok(if result.is_success() { Ok(result) } else { Err(result) })
    };
    let first = match succeeds(hi)? {
        Ok(result) => result,
        Err(ExecutionResult::Revert { output, .. }) => return Err(SimulationError::Reverted(output)),
        Err(ExecutionResult::Halt { reason, .. }) => return Err(SimulationError::Halted { reason, gas: hi }),
        Err(success) => return Ok(success.tx_gas_used()),
    };
    let used = first.tx_gas_used();
    // Without refunds or the 63/64 rule in play (plain transfers, simple calls) exactly what
    // was used is enough: answer that, as geth does for a transfer's 21,000.
    if used < hi && succeeds(used)?.is_ok() {
        return Ok(used);
    }
    // Nothing below what the successful run used can succeed.
    let mut lo = used.saturating_sub(1);
    // Most calls need little more than what they used (refunds and the 63/64 rule aside).
    let optimistic = (used + first.gas().final_refunded() + 2_300) * 64 / 63;
    if optimistic < hi {
        match succeeds(optimistic)? {
            Ok(_) => hi = optimistic,
            Err(_) => lo = optimistic,
        }
    }
    while lo + 1 < hi {
        if (hi - lo) as f64 / hi as f64 <= ESTIMATE_ERROR_RATIO {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        match succeeds(mid) {
            Ok(Ok(_)) => hi = mid,
            Ok(Err(_)) | Err(_) => lo = mid,
        }
    }
    Ok(hi)
}

/// The reason string of `Error(string)` revert data, or a description of `Panic(uint256)`.
pub fn revert_reason(output: &[u8]) -> Option<String> {
    use alloy_sol_types::{Panic, Revert, SolError};
    if let Ok(revert) = Revert::abi_decode(output) {
        return Some(revert.reason);
    }
    Panic::abi_decode(output).ok().map(|panic| match panic.kind() {
        Some(kind) => format!("{kind}"),
        None => format!("panic code {:#x}", panic.code),
    })
}
