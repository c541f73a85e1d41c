//! Dev-chain controls (anvil's and Hardhat's conveniences), as data the world acts on.

use alloy_primitives::{Address, Bytes, U256};

/// A direct change to an account, made by a dev control rather than a transaction. It takes
/// effect in a block of its own, mined at once, so every block's state root stays true and the
/// state history records it like any other change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateEdit {
    Balance(Address, U256),
    Nonce(Address, u64),
    Code(Address, Bytes),
    Storage(Address, U256, U256),
}

/// What a dev control asks the world to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DevCommand {
    /// Mine `blocks` blocks now (pooled transactions included), the first at `timestamp` if set.
    Mine { blocks: u64, timestamp: Option<u64> },
    /// Apply the edits in a block mined at once.
    Edit(Vec<StateEdit>),
    /// Put the chain back to `block`: later blocks and their state are dropped (evm_revert).
    Revert { block: u64 },
}

/// Why a dev control was refused or did not complete.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DevError {
    #[error("dev controls are refused on a validator network: its blocks are decided by consensus")]
    DecidedByConsensus,
    #[error("this node cannot rewind its chain")]
    CannotRewind,
    /// The store or the world could not be put back to the block.
    #[error("the chain could not be rewound: {0}")]
    RewindFailed(std::sync::Arc<dyn std::error::Error + Send + Sync>),
    /// The node stopped for safety (its fault says why) before the control completed.
    #[error("the node stopped: {0}")]
    NodeStopped(std::sync::Arc<dyn std::error::Error + Send + Sync>),
    #[error("no chain head")]
    NoHead,
}
