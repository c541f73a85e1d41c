//! [`NodeFault`]: set when the node can no longer go on safely; the driver stops ticking when it
//! sees one. What stopped it is a [`Fault`], never a bare message, so a host can tell a full disk
//! from a broken log.

use bevy_ecs::prelude::*;

use crate::ports::PersistError;

#[derive(Resource, Clone, Debug, Default)]
pub struct NodeFault(pub Option<Fault>);

#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    /// A sealed block could not be written: announcing it could contradict the disk.
    #[error("block not persisted: {0}")]
    BlockNotPersisted(PersistError),
    /// The consensus write-ahead log could not be written: a vote cast now could contradict
    /// what a restart replays.
    #[error("the consensus WAL could not be written: {0}")]
    ConsensusWal(PersistError),
    /// The storage role's published files could not be recorded.
    #[error("published files not persisted: {0}")]
    FilesNotPersisted(PersistError),
    /// The DA blobs' records could not be written.
    #[error("DA blob records not persisted: {0}")]
    DaBlobsNotPersisted(PersistError),
}
