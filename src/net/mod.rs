//! The validator network: QUIC (quinn) between nodes that know each other's keys.
//!
//! Each connection carries one unidirectional stream per direction with length-prefixed frames
//! ([`zg_components::consensus::wire`]). Network tasks never touch the world: what arrives goes
//! into the consensus inbox (or the pool's request inbox for transactions); what the world sends
//! comes through [`NetHandle`], the `NetSink` the `Egress` system calls. A frame that is too
//! large, does not decode, or carries a vote or proposal whose signature does not verify closes
//! the stream it came on and is counted; the node carries on.
//!
//! Dialing: every configured peer is dialed, with exponential backoff while it is away. Two
//! nodes that dial each other may hold two connections; both are read, the newest is written.

pub mod identity;

use alloy_primitives::Address;
use malachite_ed25519::{PublicKey, Signature};
use quinn::{Endpoint, VarInt};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

use zg_components::storage::StorageEvent;
use zg_components::consensus::wire::{self, NetMessage, WireError};
use zg_components::consensus::{NetEvent, PeerKey, ValidatorSet};
use zg_components::node::{NodeRequest, ReplyTo};
use zg_systems::consensus::driver::NetSink;

use crate::store::ChainStore;
use identity::{Identity, PeerAllowlist, PeerVerifier};

pub use identity::IdentityError;

/// Protocol name in the TLS handshake; a peer speaking anything else is refused.
const ALPN: &[u8] = b"zgnode/1";
/// Frames queued for one peer before new ones are dropped (consensus re-sends what matters).
const PEER_QUEUE: usize = 8_192;
/// Most decided blocks one sync answer carries, and its byte budget.
const SYNC_MAX_BLOCKS: u64 = 32;
const SYNC_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Most transactions taken from one gossip message.
const GOSSIP_MAX_TRANSACTIONS: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error("bad peer address {0:?}: expected <64 hex key>@<ip:port>")]
    PeerAddress(String),
}

/// A peer to dial: its key and where it listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddress {
    pub key: PeerKey,
    pub addr: SocketAddr,
}

impl std::str::FromStr for PeerAddress {
    type Err = NetError;

    fn from_str(text: &str) -> Result<Self, NetError> {
        let bad = || NetError::PeerAddress(text.to_string());
        let (key, addr) = text.split_once('@').ok_or_else(bad)?;
        let key: PeerKey = hex::decode(key.trim_start_matches("0x")).ok().and_then(|k| k.try_into().ok()).ok_or_else(bad)?;
        let addr = addr.parse().map_err(|_| bad())?;
        Ok(Self { key, addr })
    }
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", hex::encode(self.key), self.addr)
    }
}

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
}

struct PeerLink {
    connection_id: usize,
    frames: mpsc::Sender<Arc<Vec<u8>>>,
}

struct Shared {
    chain_id: u64,
    max_tx_bytes: usize,
    links: Mutex<HashMap<PeerKey, PeerLink>>,
    validator_keys: RwLock<HashMap<Address, PublicKey>>,
    events: crossbeam_channel::Sender<NetEvent>,
    requests: crossbeam_channel::Sender<NodeRequest>,
    store: ChainStore,
    /// Peers whose traffic is dropped both ways (the fault layer tests use to cut links).
    blocked: RwLock<HashSet<PeerKey>>,
    allowlist: PeerAllowlist,
    /// This node and its configured peers, ordered by key: where erasure-coded shards go.
    members: Vec<PeerKey>,
    /// Shard requests waiting for their reply, by request id.
    pending_shards: Mutex<HashMap<u64, tokio::sync::oneshot::Sender<Option<zg_components::consensus::Shard>>>>,
    /// Where stored shards are reported to the storage systems, once the storage role is on.
    storage_events: std::sync::OnceLock<crossbeam_channel::Sender<StorageEvent>>,
    coding: std::sync::OnceLock<zg_systems::storage::erasure::ErasureConfig>,
    next_request: AtomicU64,
    rejected: AtomicU64,
    closed: std::sync::atomic::AtomicBool,
}

/// The running network; cloning shares it.
#[derive(Clone)]
pub struct NetHandle {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    local_addr: SocketAddr,
    own: PeerKey,
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(500)));
    // A peer silent this long is gone: its connection closes and the dialer starts again.
    transport.max_idle_timeout(Some(VarInt::from_u32(3_000).into()));
    transport.max_concurrent_uni_streams(VarInt::from_u32(8));
    transport.max_concurrent_bidi_streams(VarInt::from_u32(0));
    Arc::new(transport)
}

fn tls_configs(identity: &Identity, allowlist: PeerAllowlist) -> Result<(quinn::ServerConfig, quinn::ClientConfig), NetError> {
    let tls = |e: &dyn std::fmt::Display| NetError::Tls(e.to_string());
    let (certificate, key) = identity.certificate()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PeerVerifier::new(allowlist);

    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(vec![certificate.clone()], key.clone_key())
        .map_err(|e| tls(&e))?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls(&e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![certificate], key)
        .map_err(|e| tls(&e))?;
    client.alpn_protocols = vec![ALPN.to_vec()];

    let server_crypto = quinn::crypto::rustls::QuicServerConfig::try_from(server).map_err(|e| tls(&e))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
    server.transport_config(transport());
    let client_crypto = quinn::crypto::rustls::QuicClientConfig::try_from(client).map_err(|e| tls(&e))?;
    let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
    client.transport_config(transport());
    Ok((server, client))
}

impl NetHandle {
    /// Binds the endpoint and starts accepting and dialing. Must run inside a tokio runtime.
    pub fn start(setup: NetworkSetup) -> Result<Self, NetError> {
        let own = setup.identity.public();
        let allowlist = PeerAllowlist::new(
            setup.peers.iter().map(|p| p.key).chain(setup.validators.validators().iter().map(|v| *v.public_key.as_bytes())),
        );
        let (server, client) = tls_configs(&setup.identity, allowlist.clone())?;
        let mut endpoint = Endpoint::server(server, setup.listen)
            .map_err(|e| NetError::Bind { addr: setup.listen, message: e.to_string() })?;
        endpoint.set_default_client_config(client);
        let local_addr = endpoint.local_addr().map_err(|e| NetError::Bind { addr: setup.listen, message: e.to_string() })?;
        let validator_keys = setup.validators.validators().iter().map(|v| (v.address.0, v.public_key)).collect();
        let mut members: Vec<PeerKey> = setup.peers.iter().map(|p| p.key).chain([own]).collect();
        members.sort();
        members.dedup();
        let shared = Arc::new(Shared {
            chain_id: setup.chain_id,
            max_tx_bytes: setup.max_tx_bytes,
            links: Mutex::new(HashMap::new()),
            validator_keys: RwLock::new(validator_keys),
            events: setup.events,
            requests: setup.requests,
            store: setup.store,
            blocked: RwLock::new(HashSet::new()),
            allowlist,
            members,
            pending_shards: Mutex::new(HashMap::new()),
            storage_events: std::sync::OnceLock::new(),
            coding: std::sync::OnceLock::new(),
            next_request: AtomicU64::new(1),
            rejected: AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(accept_loop(endpoint.clone(), shared.clone()));
        for peer in setup.peers.into_iter().filter(|p| p.key != own) {
            tokio::spawn(dial_loop(endpoint.clone(), shared.clone(), peer));
        }
        tracing::info!(addr = %local_addr, key = %hex::encode(own), "validator network listening");
        Ok(Self { shared, endpoint, local_addr, own })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Peers with a live connection.
    pub fn connected(&self) -> Vec<PeerKey> {
        self.shared.links.lock().map(|l| l.keys().copied().collect()).unwrap_or_default()
    }

    /// Messages refused so far (oversized, undecodable, badly signed).
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// Drops all traffic to and from these peers (empty heals).
    pub fn set_blocked(&self, peers: impl IntoIterator<Item = PeerKey>) {
        if let Ok(mut blocked) = self.shared.blocked.write() {
            *blocked = peers.into_iter().collect();
        }
    }

    /// This node's key.
    pub fn own_key(&self) -> PeerKey {
        self.own
    }

    /// This node and its configured peers, ordered by key.
    pub fn members(&self) -> &[PeerKey] {
        &self.shared.members
    }

    /// Reports shards peers place here to the storage systems; `coding` lets this node answer
    /// for any shard of a segment it holds whole.
    pub fn report_shards_to(&self, events: crossbeam_channel::Sender<StorageEvent>, coding: zg_systems::storage::erasure::ErasureConfig) {
        let _ = self.shared.storage_events.set(events);
        let _ = self.shared.coding.set(coding);
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
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.shared.pending_shards.lock().ok()?.insert(id, sender);
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
        // A validator that joined may connect from now on; peers configured stay allowed.
        for validator in set.validators() {
            self.shared.allowlist.insert(*validator.public_key.as_bytes());
        }
    }

    fn send(&self, to: Option<PeerKey>, message: NetMessage) {
        let kind = message.kind();
        let frame = match wire::encode_frame(&message) {
            Ok(frame) => Arc::new(frame),
            Err(error) => {
                tracing::warn!(kind, %error, "not sending an oversized message");
                return;
            }
        };
        let blocked = self.shared.blocked.read().map(|b| b.clone()).unwrap_or_default();
        let Ok(links) = self.shared.links.lock() else { return };
        for (key, link) in links.iter() {
            if to.is_some_and(|t| t != *key) || blocked.contains(key) {
                continue;
            }
            if link.frames.try_send(frame.clone()).is_err() {
                metrics::counter!("zgnode_net_dropped_total", "kind" => kind).increment(1);
            } else {
                metrics::counter!("zgnode_net_sent_total", "kind" => kind).increment(1);
            }
        }
    }
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

fn peer_key(connection: &quinn::Connection) -> Option<PeerKey> {
    let identity = connection.peer_identity()?;
    let certificates = identity.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok()?;
    identity::certificate_key(certificates.first()?)
}

async fn accept_loop(endpoint: Endpoint, shared: Arc<Shared>) {
    while let Some(incoming) = endpoint.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let connection = match incoming.await {
                Ok(connection) => connection,
                Err(error) => {
                    // Unknown keys end here: the verifier refused the handshake.
                    tracing::debug!(%error, "incoming connection refused");
                    metrics::counter!("zgnode_net_refused_connections_total").increment(1);
                    return;
                }
            };
            let Some(key) = peer_key(&connection) else {
                connection.close(VarInt::from_u32(2), b"no identity");
                return;
            };
            run_connection(shared, connection, key).await;
        });
    }
}

async fn dial_loop(endpoint: Endpoint, shared: Arc<Shared>, peer: PeerAddress) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if shared.closed.load(Ordering::Relaxed) {
            return;
        }
        if shared.links.lock().map(|l| l.contains_key(&peer.key)).unwrap_or(false) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        let attempt = match endpoint.connect(peer.addr, "zgnode") {
            Ok(connecting) => connecting.await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match attempt {
            Ok(connection) => {
                if peer_key(&connection) != Some(peer.key) {
                    tracing::warn!(peer = %peer, "peer answered with another key; refusing it");
                    connection.close(VarInt::from_u32(3), b"unexpected key");
                } else {
                    backoff = Duration::from_millis(100);
                    run_connection(shared.clone(), connection, peer.key).await;
                }
            }
            Err(error) => tracing::debug!(peer = %peer, %error, "dial failed"),
        }
        if shared.closed.load(Ordering::Relaxed) {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Serves one authenticated connection until it closes.
async fn run_connection(shared: Arc<Shared>, connection: quinn::Connection, key: PeerKey) {
    let connection_id = connection.stable_id();
    let (frames, mut outgoing) = mpsc::channel::<Arc<Vec<u8>>>(PEER_QUEUE);
    if let Ok(mut links) = shared.links.lock() {
        links.insert(key, PeerLink { connection_id, frames });
        metrics::gauge!("zgnode_net_peers").set(links.len() as f64);
    }
    tracing::info!(peer = %hex::encode(&key[..6]), remote = %connection.remote_address(), "peer connected");

    let writer = {
        let connection = connection.clone();
        tokio::spawn(async move {
            let Ok(mut stream) = connection.open_uni().await else { return };
            while let Some(frame) = outgoing.recv().await {
                if stream.write_all(&frame).await.is_err() {
                    break;
                }
            }
            let _ = stream.finish();
        })
    };
    while let Ok(stream) = connection.accept_uni().await {
        tokio::spawn(read_stream(shared.clone(), stream, key));
    }
    writer.abort();
    if let Ok(mut links) = shared.links.lock() {
        if links.get(&key).is_some_and(|l| l.connection_id == connection_id) {
            links.remove(&key);
        }
        metrics::gauge!("zgnode_net_peers").set(links.len() as f64);
    }
    tracing::info!(peer = %hex::encode(&key[..6]), "peer disconnected");
}

fn reject(shared: &Shared, key: &PeerKey, reason: &'static str, detail: &dyn std::fmt::Display) {
    shared.rejected.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("zgnode_net_rejected_total", "reason" => reason).increment(1);
    tracing::warn!(peer = %hex::encode(&key[..6]), reason, %detail, "closing a stream");
}

async fn read_stream(shared: Arc<Shared>, mut stream: quinn::RecvStream, key: PeerKey) {
    loop {
        let mut length = [0u8; 4];
        if stream.read_exact(&mut length).await.is_err() {
            return;
        }
        let length = match wire::check_frame_length(u32::from_be_bytes(length)) {
            Ok(length) => length,
            Err(error) => {
                reject(&shared, &key, "oversized", &error);
                let _ = stream.stop(VarInt::from_u32(1));
                return;
            }
        };
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let message = match wire::decode_body(&body) {
            Ok(message) => message,
            Err(error) => {
                let reason = if matches!(error, WireError::Version(_)) { "version" } else { "malformed" };
                reject(&shared, &key, reason, &error);
                let _ = stream.stop(VarInt::from_u32(1));
                return;
            }
        };
        if let Err(reason) = dispatch(&shared, key, message) {
            reject(&shared, &key, reason, &"bad signature");
            let _ = stream.stop(VarInt::from_u32(1));
            return;
        }
    }
}

/// Checks a vote's or proposal's signature before it reaches the world.
fn signature_ok(shared: &Shared, message: &NetMessage) -> Result<(), &'static str> {
    let (validator, bytes, signature) = match message {
        NetMessage::Vote(vote) => {
            let signed = vote.to_signed();
            (Address::from(vote.validator), signed.message.sign_bytes(shared.chain_id).to_vec(), vote.signature)
        }
        NetMessage::Proposal(proposal) => {
            let signed = proposal.to_signed();
            (Address::from(proposal.proposer), signed.message.sign_bytes(shared.chain_id), proposal.signature)
        }
        _ => return Ok(()),
    };
    let keys = shared.validator_keys.read().map_err(|_| "poisoned")?;
    let key = keys.get(&validator).ok_or("unknown_validator")?;
    key.verify(&bytes, &Signature::from_bytes(signature)).map_err(|_| "bad_signature")
}

fn dispatch(shared: &Arc<Shared>, from: PeerKey, message: NetMessage) -> Result<(), &'static str> {
    if shared.blocked.read().map(|b| b.contains(&from)).unwrap_or(false) {
        return Ok(());
    }
    metrics::counter!("zgnode_net_received_total", "kind" => message.kind()).increment(1);
    signature_ok(shared, &message)?;
    match message {
        NetMessage::Transactions(raw) => {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || admit_gossip(&shared, raw));
        }
        NetMessage::SyncRequest { from: first, to: last } => {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || serve_sync(&shared, from, first, last));
        }
        NetMessage::StoreShard(shard) => {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || {
                // Only shards of published files, for segments they have, no bigger than a
                // segment: a peer cannot fill the disk with shards of nothing.
                let known = shared.store.file(shard.tx_seq).ok().flatten();
                let fits = known.is_some_and(|file| {
                    shard.segment < file.data_segments()
                        && shard.data.len() <= zg_components::storage::merkle::SEGMENT_SIZE
                        && shard.segment_len as usize <= zg_components::storage::merkle::SEGMENT_SIZE
                });
                if !fits {
                    shared.rejected.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("zgnode_net_rejected_total", "reason" => "bad_shard").increment(1);
                    return;
                }
                match shared.store.put_shard(&shard) {
                    Ok(_) => {
                        if let Some(events) = shared.storage_events.get() {
                            let held = StorageEvent::ShardHeld { tx_seq: shard.tx_seq, segment: shard.segment, index: shard.index };
                            let _ = events.send(held);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot keep a placed shard"),
                }
            });
        }
        NetMessage::ShardRequest { id, tx_seq, segment, shard } => {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || {
                let shard = shared.store.shard(tx_seq, segment, shard).ok().flatten().or_else(|| shard_from_segment(&shared, tx_seq, segment, shard));
                reply_to(&shared, from, NetMessage::ShardReply { id, shard });
            });
        }
        NetMessage::ShardReply { id, shard } => {
            if let Some(waiter) = shared.pending_shards.lock().ok().and_then(|mut p| p.remove(&id)) {
                let _ = waiter.send(shard);
            }
        }
        message => {
            if shared.events.try_send(NetEvent { from, message }).is_err() {
                metrics::counter!("zgnode_net_dropped_total", "kind" => "inbox_full").increment(1);
            }
        }
    }
    Ok(())
}

fn admit_gossip(shared: &Shared, raw: Vec<Vec<u8>>) {
    for tx in raw.iter().take(GOSSIP_MAX_TRANSACTIONS) {
        let Ok((envelope, sender)) = zg_systems::chain::mempool::decode_transaction(tx, shared.chain_id, shared.max_tx_bytes)
        else {
            continue;
        };
        let request = NodeRequest::SubmitTransaction { envelope: Box::new(envelope), sender, reply: ReplyTo::new(|_| ()) };
        if shared.requests.try_send(request).is_err() {
            metrics::counter!("zgnode_net_dropped_total", "kind" => "pool_inbox_full").increment(1);
            return;
        }
    }
}

fn reply_to(shared: &Shared, peer: PeerKey, message: NetMessage) {
    let Ok(frame) = wire::encode_frame(&message) else { return };
    if let Ok(links) = shared.links.lock()
        && let Some(link) = links.get(&peer)
    {
        let _ = link.frames.try_send(Arc::new(frame));
    }
}

fn serve_sync(shared: &Shared, peer: PeerKey, first: u64, last: u64) {
    if last < first {
        return;
    }
    let last = last.min(first.saturating_add(SYNC_MAX_BLOCKS - 1));
    let blocks = match shared.store.decided_blocks(first, last, SYNC_MAX_BYTES) {
        Ok(blocks) => blocks,
        Err(error) => {
            tracing::warn!(%error, "cannot read decided blocks for a peer");
            return;
        }
    };
    if blocks.is_empty() {
        return;
    }
    reply_to(shared, peer, NetMessage::SyncResponse(blocks));
}

/// A shard cut from a segment this node holds whole (it uploaded it, or placement moved): any
/// shard can be answered for without having been placed here.
fn shard_from_segment(shared: &Shared, tx_seq: u64, segment: u64, index: u8) -> Option<zg_components::consensus::Shard> {
    let coding = *shared.coding.get()?;
    let data = shared.store.segment(tx_seq, segment).ok().flatten()?;
    let proof = shared.store.segment_proof(tx_seq, segment).ok().flatten()?;
    let record = shared.store.file(tx_seq).ok().flatten()?;
    crate::zgs::cut_shards(coding, &record, segment, &data, &proof).ok()?.into_iter().nth(index as usize)
}
