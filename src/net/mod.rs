//! The validator network: QUIC (quinn) between nodes that know each other's keys.
//!
//! Each connection carries one unidirectional stream per direction with length-prefixed frames
//! ([`zg_components::consensus::wire`]). Network tasks never touch the world: what arrives goes
//! into the consensus inbox (or the pool's request inbox for transactions); what the world sends
//! comes through [`NetHandle`], the `NetSink` the `Egress` system calls.
//!
//! A message that does not decode or that this node refuses (a bad signature, an unknown
//! validator, a stray shard) is dropped and counted; the stream goes on. Only a frame length over
//! the limit stops a stream (its framing is lost; the sender opens a new one), and only a peer
//! that keeps misbehaving is disconnected and banned for a while ([`conduct`]). Each peer has
//! byte and request budgets and a cap on the database work it can cause.
//!
//! Dialing: every configured peer is dialed, with exponential backoff while it is away, and
//! again whenever its connection ends. Two nodes that dial each other at once keep the
//! connection the lower key dialed, at both ends, and close the other; later, the newest
//! connection replaces the older (a restarted peer's). Keys are allowed while they are configured peers or in
//! the validator set; a key that leaves the set is disconnected.

pub mod conduct;
mod connection;
mod da;
pub mod identity;
mod seen;
mod serve;
mod tls;

use alloy_primitives::Address;
use malachite_ed25519::PublicKey;
use quinn::{Endpoint, VarInt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

use zg_components::consensus::wire::{self, NetMessage};
use zg_components::consensus::{NetEvent, PeerKey, Shard, ValidatorSet};
use zg_components::node::NodeRequest;
use zg_systems::consensus::driver::NetSink;

use crate::store::ChainStore;
use conduct::{Conduct, Offence, Verdict};
use identity::{Identity, PeerAllowlist};
use tls::tls_configs;

pub use da::{AskError, DaService};
pub use identity::IdentityError;

/// Protocol name in the TLS handshake; a peer speaking anything else is refused.
const ALPN: &[u8] = b"zgnode/1";
/// Frames and bytes queued for one peer before new ones are dropped (consensus re-sends what
/// matters; shard placement is repaired).
const PEER_QUEUE_FRAMES: usize = 8_192;
const PEER_QUEUE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
}

pub use crate::peer_address::PeerAddress;

/// What the network needs from the node.
pub struct NetworkSetup {
    pub identity: Identity,
    pub listen: SocketAddr,
    pub peers: Vec<PeerAddress>,
    pub validators: ValidatorSet,
    pub chain_id: u64,
    pub max_tx_bytes: usize,
    pub events: crossbeam_channel::Sender<NetEvent>,
    pub requests: crossbeam_channel::Sender<NodeRequest>,
    pub store: ChainStore,
    /// Status messages from peers on another chain are not counted as sync targets.
    pub genesis_hash: [u8; 32],
    pub transport: Transport,
}

/// How the network reaches its peers.
#[derive(Clone, Debug, Default)]
pub enum Transport {
    /// A UDP socket bound to `listen`: every real node.
    #[default]
    Udp,
    /// A socket a network simulation supplies (`zgnode bench wan`). The work a message causes
    /// (recovering gossiped senders, serving sync, storing shards) then runs on the simulated
    /// host itself: tokio's blocking pool would run it on threads outside the simulation's
    /// clock, and the run would not replay.
    Simulated { socket: Arc<dyn quinn::AsyncUdpSocket>, rng_seed: [u8; 32] },
}

/// The writing side of a live connection.
struct PeerLink {
    connection_id: usize,
    /// Whether the node with the lower key dialed this connection: when two nodes dial each
    /// other at once, both keep that one and close the other.
    preferred: bool,
    /// When it was made (tokio's clock: the simulation's under `zgnode bench wan`).
    established: tokio::time::Instant,
    connection: quinn::Connection,
    frames: mpsc::Sender<Arc<Vec<u8>>>,
    /// Bytes queued and not yet written.
    queued: Arc<AtomicUsize>,
}

impl PeerLink {
    /// Queues a frame unless the peer's queue is full (in frames or bytes); counts either way.
    fn queue(&self, frame: Arc<Vec<u8>>, kind: &'static str) {
        let len = frame.len();
        let queued = self.queued.fetch_add(len, Ordering::AcqRel) + len <= PEER_QUEUE_BYTES && self.frames.try_send(frame).is_ok();
        if queued {
            metrics::counter!("zgnode_net_sent_total", "kind" => kind).increment(1);
        } else {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            metrics::counter!("zgnode_net_dropped_total", "kind" => kind).increment(1);
        }
    }
}

/// The storage role's side of shard traffic. The transport only moves `StoreShard`,
/// `ShardRequest` and `ShardReply` frames; what a shard means (does it prove against its file
/// root, where it is kept, whether this node can cut it from a segment it holds) is decided here,
/// by the service the storage role installs with [`NetHandle::serve_shards`]. A node without one
/// refuses placed shards (counted as bad shards) and answers every request with "none".
pub trait ShardService: Send + Sync + 'static {
    /// A shard a peer placed here: kept when it checks out; `Err` when it is a bad shard (the
    /// peer is penalised for it).
    fn keep(&self, shard: &Shard) -> Result<(), BadShard>;
    /// The shard a peer asks for, if this node holds it or can cut it from a whole segment.
    fn find(&self, tx_seq: u64, segment: u64, index: u8) -> Option<Shard>;
}

/// A placed shard that does not fit its published file or does not prove against its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadShard;

/// A shard request waiting for its reply: only `peer` may answer it, with that shard.
struct PendingShard {
    peer: PeerKey,
    tx_seq: u64,
    segment: u64,
    index: u8,
    reply: tokio::sync::oneshot::Sender<Option<Shard>>,
}

struct Shared {
    own: PeerKey,
    chain_id: u64,
    genesis_hash: [u8; 32],
    max_tx_bytes: usize,
    /// Ordered by key, so a message to every peer is queued in the same order on every run
    /// (what a simulated network needs to replay).
    links: Mutex<BTreeMap<PeerKey, PeerLink>>,
    validator_keys: RwLock<HashMap<Address, PublicKey>>,
    events: crossbeam_channel::Sender<NetEvent>,
    requests: crossbeam_channel::Sender<NodeRequest>,
    store: ChainStore,
    /// Peers whose traffic is dropped both ways (the fault layer tests use to cut links).
    blocked: RwLock<HashSet<PeerKey>>,
    /// Fault layer: each outgoing frame waits a random 0..this many ms (so frames also reorder).
    max_delay_ms: AtomicU64,
    runtime: tokio::runtime::Handle,
    allowlist: PeerAllowlist,
    /// Keys configured in `network.peers` (and this node's): allowed whatever the validator set.
    configured: HashSet<PeerKey>,
    conduct: Conduct,
    /// Last height each connected peer reported (same genesis only).
    peer_heights: Mutex<HashMap<PeerKey, u64>>,
    /// This node and its configured peers, ordered by key: where erasure-coded shards go.
    members: Vec<PeerKey>,
    /// Shard requests waiting for their reply, by request id.
    pending_shards: Mutex<HashMap<u64, PendingShard>>,
    /// Transactions gossiped or taken from gossip: one recovery per transaction per node.
    seen_transactions: seen::SeenTransactions,
    /// The storage role's shard handling, once it is on.
    shards: std::sync::OnceLock<Arc<dyn ShardService>>,
    /// The DA role's request handling, once it is on. Weak: the DA node holds this network.
    da: std::sync::OnceLock<std::sync::Weak<dyn DaService>>,
    /// DA requests waiting for their answer, by request id.
    pending_da: Mutex<HashMap<u64, da::PendingDa>>,
    /// The validator set as DA signers: (key, voting power), ordered by key.
    da_signers: RwLock<Vec<(PeerKey, u64)>>,
    next_request: AtomicU64,
    rejected: AtomicU64,
    closed: std::sync::atomic::AtomicBool,
    /// Message work runs where the message was read (a simulated network), not on tokio's
    /// blocking pool.
    inline_work: bool,
}

/// The running network; cloning shares it.
/// A peer as `admin_getPeers` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerView {
    pub key: PeerKey,
    /// Its address while connected.
    pub address: Option<SocketAddr>,
    /// QUIC's smoothed round-trip time to it while connected.
    pub round_trip: Option<Duration>,
    pub banned: bool,
    /// Named in `network.peers` (trusted whatever the validator set).
    pub configured: bool,
}

impl PeerView {
    /// The round-trip time in milliseconds to a tenth, as the RPC and the status page show it.
    pub fn latency_ms(&self) -> Option<f64> {
        self.round_trip.map(|rtt| (rtt.as_secs_f64() * 10_000.0).round() / 10.0)
    }
}

#[derive(Clone)]
pub struct NetHandle {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    local_addr: SocketAddr,
    own: PeerKey,
}

impl NetHandle {
    /// Binds the endpoint and starts accepting and dialing. Must run inside a tokio runtime.
    pub fn start(setup: NetworkSetup) -> Result<Self, NetError> {
        let own = setup.identity.public();
        let allowlist = PeerAllowlist::new(
            setup.peers.iter().map(|p| p.key).chain(setup.validators.validators().iter().map(|v| *v.public_key.as_bytes())),
        );
        let (server, client) = tls_configs(&setup.identity, allowlist.clone())?;
        let mut endpoint = match &setup.transport {
            Transport::Udp => Endpoint::server(server, setup.listen),
            Transport::Simulated { socket, rng_seed } => Endpoint::new_with_abstract_socket(
                // QUIC's own draws (packet number skips) from the run's seed.
                quinn::EndpointConfig::default().rng_seed(Some(*rng_seed)).clone(),
                Some(server),
                socket.clone(),
                Arc::new(quinn::TokioRuntime),
            ),
        }
        .map_err(|e| NetError::Bind { addr: setup.listen, message: e.to_string() })?;
        endpoint.set_default_client_config(client);
        let local_addr = endpoint.local_addr().map_err(|e| NetError::Bind { addr: setup.listen, message: e.to_string() })?;
        let validator_keys = setup.validators.validators().iter().map(|v| (v.address.0, v.public_key)).collect();
        let mut members: Vec<PeerKey> = setup.peers.iter().map(|p| p.key).chain([own]).collect();
        members.sort();
        members.dedup();
        let configured: HashSet<PeerKey> = members.iter().copied().collect();
        let shared = Arc::new(Shared {
            own,
            chain_id: setup.chain_id,
            genesis_hash: setup.genesis_hash,
            configured,
            conduct: Conduct::default(),
            peer_heights: Mutex::new(HashMap::new()),
            max_tx_bytes: setup.max_tx_bytes,
            links: Mutex::new(BTreeMap::new()),
            validator_keys: RwLock::new(validator_keys),
            events: setup.events,
            requests: setup.requests,
            store: setup.store,
            blocked: RwLock::new(HashSet::new()),
            max_delay_ms: AtomicU64::new(0),
            runtime: tokio::runtime::Handle::current(),
            allowlist,
            members,
            pending_shards: Mutex::new(HashMap::new()),
            seen_transactions: seen::SeenTransactions::default(),
            shards: std::sync::OnceLock::new(),
            da: std::sync::OnceLock::new(),
            pending_da: Mutex::new(HashMap::new()),
            da_signers: RwLock::new(da_signers_of(&setup.validators)),
            next_request: AtomicU64::new(1),
            rejected: AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
            inline_work: matches!(setup.transport, Transport::Simulated { .. }),
        });
        tokio::spawn(connection::accept_loop(endpoint.clone(), shared.clone()));
        for peer in setup.peers.into_iter().filter(|p| p.key != own) {
            tokio::spawn(connection::dial_loop(endpoint.clone(), shared.clone(), peer));
        }
        tracing::info!(addr = %local_addr, key = %hex::encode(own), "validator network listening");
        Ok(Self { shared, endpoint, local_addr, own })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every peer this node knows (its configured members and whoever is connected): whether
    /// connected, from which address, and whether banned.
    pub fn peers(&self) -> Vec<PeerView> {
        let links: HashMap<PeerKey, (SocketAddr, Duration)> = self
            .shared
            .links
            .lock()
            .map(|l| l.iter().map(|(key, link)| (*key, (link.connection.remote_address(), link.connection.rtt()))).collect())
            .unwrap_or_default();
        let mut keys: Vec<PeerKey> = self.shared.members.iter().chain(links.keys()).copied().filter(|key| *key != self.own).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|key| PeerView {
                key,
                address: links.get(&key).map(|(address, _)| *address),
                round_trip: links.get(&key).map(|(_, round_trip)| *round_trip),
                banned: self.banned_for(&key).is_some(),
                configured: self.shared.configured.contains(&key),
            })
            .collect()
    }

    /// Peers with a live connection.
    pub fn connected(&self) -> Vec<PeerKey> {
        self.shared.links.lock().map(|l| l.keys().copied().collect()).unwrap_or_default()
    }

    /// Messages refused so far (oversized, undecodable, badly signed, unknown signer, stray
    /// shards, unsolicited replies, over budget).
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// How long `peer` stays banned for misbehaving, if it is.
    pub fn banned_for(&self, peer: &PeerKey) -> Option<Duration> {
        self.shared.conduct.banned_for(peer)
    }

    /// The highest height a connected peer on this chain reported.
    pub fn highest_peer_height(&self) -> Option<u64> {
        let connected: HashSet<PeerKey> = self.connected().into_iter().collect();
        let heights = self.shared.peer_heights.lock().ok()?;
        heights.iter().filter(|(key, _)| connected.contains(*key)).map(|(_, height)| *height).max()
    }

    /// Drops all traffic to and from these peers (empty heals).
    pub fn set_blocked(&self, peers: impl IntoIterator<Item = PeerKey>) {
        if let Ok(mut blocked) = self.shared.blocked.write() {
            *blocked = peers.into_iter().collect();
        }
    }

    /// Delays every outgoing frame by a random 0..`max_ms` (0 turns it off); frames sent close
    /// together may overtake each other (the fault layer's delay and reorder).
    pub fn set_max_delay(&self, max_ms: u64) {
        self.shared.max_delay_ms.store(max_ms, Ordering::Relaxed);
    }

    /// This node's key.
    pub fn own_key(&self) -> PeerKey {
        self.own
    }

    /// This node and its configured peers, ordered by key.
    pub fn members(&self) -> &[PeerKey] {
        &self.shared.members
    }

    /// Hands shard traffic to the storage role (once; a second call changes nothing).
    pub fn serve_shards(&self, service: Arc<dyn ShardService>) {
        let _ = self.shared.shards.set(service);
    }

    /// Sends a shard to the peer that is to keep it (no answer; repair covers a lost one).
    pub fn place_shard(&self, peer: PeerKey, shard: zg_components::consensus::Shard) {
        NetSink::send(self, Some(peer), NetMessage::StoreShard(shard));
    }

    /// Asks `peer` for a shard; None when it does not answer in time or does not hold it.
    pub async fn fetch_shard(&self, peer: PeerKey, tx_seq: u64, segment: u64, shard: u8) -> Option<zg_components::consensus::Shard> {
        // A peer that is not connected cannot answer: do not wait for it.
        if !self.shared.links.lock().ok()?.contains_key(&peer) {
            return None;
        }
        let id = self.shared.next_request.fetch_add(1, Ordering::Relaxed);
        let (reply, receiver) = tokio::sync::oneshot::channel();
        self.shared.pending_shards.lock().ok()?.insert(id, PendingShard { peer, tx_seq, segment, index: shard, reply });
        NetSink::send(self, Some(peer), NetMessage::ShardRequest { id, tx_seq, segment, shard });
        let answer = tokio::time::timeout(Duration::from_secs(3), receiver).await;
        if let Ok(mut pending) = self.shared.pending_shards.lock() {
            pending.remove(&id);
        }
        answer.ok()?.ok()?
    }

    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.endpoint.close(VarInt::from_u32(0), b"shutting down");
    }
}

impl NetSink for NetHandle {
    fn validators_changed(&self, set: &ValidatorSet) {
        if let Ok(mut keys) = self.shared.validator_keys.write() {
            *keys = set.validators().iter().map(|v| (v.address.0, v.public_key)).collect();
        }
        // Keys follow the set: a validator that joined may connect from now on, one that left
        // (or was slashed out) is disconnected; configured peers stay allowed.
        let allowed: HashSet<PeerKey> =
            self.shared.configured.iter().copied().chain(set.validators().iter().map(|v| *v.public_key.as_bytes())).collect();
        self.shared.allowlist.replace(allowed.clone());
        if let Ok(mut signers) = self.shared.da_signers.write() {
            *signers = da_signers_of(set);
        }
        if let Ok(links) = self.shared.links.lock() {
            for (key, link) in links.iter().filter(|(key, _)| !allowed.contains(*key)) {
                tracing::info!(peer = %short_key(key), "disconnecting a key that left the validator set");
                link.connection.close(VarInt::from_u32(connection::CLOSE_NOT_ALLOWED), b"not in the validator set");
            }
        }
    }

    fn send(&self, to: Option<PeerKey>, message: NetMessage) {
        let kind = message.kind();
        if let NetMessage::Transactions(raw) = &message {
            // Peers forward what they admit; this node's own gossip must not cost it a recovery.
            self.shared.seen_transactions.remember_all(raw);
        }
        let frame = match wire::encode_frame(&message) {
            Ok(frame) => Arc::new(frame),
            Err(error) => {
                tracing::warn!(kind, %error, "not sending an oversized message");
                return;
            }
        };
        let blocked = self.shared.blocked.read().map(|b| b.clone()).unwrap_or_default();
        let max_delay = self.shared.max_delay_ms.load(Ordering::Relaxed);
        let Ok(links) = self.shared.links.lock() else { return };
        for (key, link) in links.iter() {
            if to.is_some_and(|t| t != *key) || blocked.contains(key) {
                continue;
            }
            if max_delay == 0 {
                link.queue(frame.clone(), kind);
            } else {
                let (shared, key, frame) = (self.shared.clone(), *key, frame.clone());
                let delay = Duration::from_millis(rand::random::<u64>() % (max_delay + 1));
                self.shared.runtime.spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Ok(links) = shared.links.lock()
                        && let Some(link) = links.get(&key)
                    {
                        link.queue(frame, kind);
                    }
                });
            }
        }
    }
}

fn da_signers_of(set: &ValidatorSet) -> Vec<(PeerKey, u64)> {
    let mut signers: Vec<(PeerKey, u64)> = set.validators().iter().map(|v| (*v.public_key.as_bytes(), v.voting_power)).collect();
    signers.sort();
    signers
}

/// Opens a connection to `peer` as `identity`, outside any running network: for diagnostics and
/// for tests that speak the wire protocol by hand. The peer must know `identity`'s key.
pub async fn connect_raw(identity: &Identity, peer: PeerAddress) -> Result<quinn::Connection, NetError> {
    let (_, client) = tls_configs(identity, PeerAllowlist::new([peer.key]))?;
    let mut endpoint = Endpoint::client("127.0.0.1:0".parse().expect("valid literal"))
        .map_err(|e| NetError::Bind { addr: peer.addr, message: e.to_string() })?;
    endpoint.set_default_client_config(client);
    let connecting = endpoint.connect(peer.addr, "zgnode").map_err(|e| NetError::Tls(e.to_string()))?;
    connecting.await.map_err(|e| NetError::Tls(e.to_string()))
}

/// A peer key as logs show it: its first six bytes in hex.
fn short_key(key: &PeerKey) -> String {
    hex::encode(&key[..6])
}

/// Counts a refused message and the sender's offence; a peer that keeps misbehaving is
/// disconnected (and refused until its ban ends).
fn refuse(shared: &Shared, key: &PeerKey, offence: Offence, detail: &dyn std::fmt::Display) {
    shared.rejected.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("zgnode_net_rejected_total", "reason" => offence.label()).increment(1);
    tracing::debug!(peer = %short_key(key), reason = offence.label(), %detail, "refused a message");
    if shared.conduct.offend(key, offence) == Verdict::Ban {
        tracing::warn!(peer = %short_key(key), reason = offence.label(), "banning a misbehaving peer");
        metrics::counter!("zgnode_net_banned_total").increment(1);
        if let Ok(links) = shared.links.lock()
            && let Some(link) = links.get(key)
        {
            link.connection.close(VarInt::from_u32(connection::CLOSE_BANNED), b"misbehaving");
        }
    }
}

#[cfg(test)]
mod tests;
