//! The EVM chain's data: state as entities, blocks and receipts, and the mempool.

pub mod account;
pub mod block;
pub mod clock;
pub mod dev;
pub mod genesis;
pub mod index;
pub mod receipt;
pub mod spec;
pub mod transaction;
pub mod trie;

pub use account::{AccountAddress, AccountInfo, AccountStorage, CodeStore, StateTrie};
pub use block::{AccountChange, BlockBody, BlockHeader, ChainHead, CommittedBlock, RecentBlock, SealedBlock};
pub use clock::ChainClock;
pub use dev::{DevCommand, DevError, StateEdit};
pub use genesis::{Allocation, ConsensusGenesis, Genesis, GenesisAccount, GenesisError, GrantEntry};
pub use index::{AccountIndex, BlockIndex, MempoolIndex};
pub use receipt::TxReceipt;
pub use spec::{ChainSpec, ExternalOrdering};
pub use transaction::{PoolError, PooledTx, RefusalKind};
pub use trie::MerkleTrie;
