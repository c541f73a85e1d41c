//! BFT consensus data: the Malachite context (heights, block-hash values, validators, votes,
//! proposals), the ordered blocks it decides, and the validator wire format.

pub mod context;
pub mod net;
pub mod state;
pub mod types;
pub mod validators;
pub mod wal;
pub mod wire;

pub use net::{NetEvent, NetInbox, NetOutbox, PeerKey};
pub use state::{
    ConsensusProgress, ConsensusSettings, ConsensusTimers, DecidedQueue, DeferredEvents, PendingEvidence, ReceivedBlocks,
    SyncProgress, TxGossip,
};
pub use context::ZgContext;
pub use types::{BlockValue, Height, Proposal, ValidatorAddress, Vote, voting_power_of};
pub use validators::{Validator, ValidatorSet, ValidatorSetError};
pub use wal::{ProposedValueRecord, WalEntry};
pub use wire::{DecidedBlock, Shard, SignedBlock, DoubleSignEvidence, NetMessage, OrderedBlock, WireCertificate, WireError, WireProposal, WireVote};
