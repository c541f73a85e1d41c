//! The channels between the validator network tasks and the world.

use bevy_ecs::prelude::*;

use super::wire::NetMessage;

/// A peer, named by its ed25519 public key (the key its QUIC certificate is bound to).
pub type PeerKey = [u8; 32];

/// A message a connected, authenticated peer sent.
#[derive(Debug, Clone)]
pub struct NetEvent {
    pub from: PeerKey,
    pub message: NetMessage,
}

/// The receiving end of the network channel, drained in `Ingest`/`Consensus`.
#[derive(Resource, Clone, Debug)]
pub struct NetInbox(pub crossbeam_channel::Receiver<NetEvent>);

/// Messages for the network, handed over in `Egress`; `to: None` goes to every peer.
#[derive(Resource, Debug, Default)]
pub struct NetOutbox(pub Vec<(Option<PeerKey>, NetMessage)>);
