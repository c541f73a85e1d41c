//! Data availability: blobs extended as 2D Reed–Solomon squares, their commitments, share
//! proofs, repair and bad-encoding fraud proofs (see `zg_components::da` for the format).

pub mod blobs;
pub mod dispersal;
pub mod encoding;
pub mod entrance;
pub mod pieces;
pub mod precompile;
pub mod quorum;
pub mod sampling;
pub mod status;

pub use blobs::DaPlugin;
