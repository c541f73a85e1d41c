//! The DA role's I/O: accepting blobs (JSON-RPC `da_*`, 0G's disperser gRPC), dispersing their
//! pieces to the quorum over QUIC, keeping and attesting pieces others disperse, retrieving
//! blobs and sampling them. Blob statuses come from the chain through the DA systems'
//! [`DaView`]; this side only adds what the chain cannot know (a request still encoding, a
//! dispersal that gave up).

mod assignments;
mod crossings;
mod disperse;
mod repair;
pub mod restore;
pub mod role;
mod blob_tables;
mod tables;
pub mod genesis;
pub mod grpc;
mod retrieve;
pub mod rpc;
mod sampler;
mod service;
mod status;

use alloy_primitives::{Address, B256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use zg_components::consensus::PeerKey;
use zg_components::da::{BlobStatus, DaView};

use crate::net::NetHandle;
use crate::node::NodeHandle;
use crate::store::ChainStore;

pub use disperse::{DisperseError, Listener};
pub use retrieve::{RetrieveError, SampleReport};
pub use sampler::SamplerStats;

/// The well-known seed of the dev chain's one DA signer (the dev genesis names its key, as it
/// funds the dev accounts: public, for development only).
pub const DEV_SIGNER_SEED: [u8; 32] = *b"zgnode dev chain DA signer seed!";

/// The dev chain's DA signer key.
pub fn dev_signer() -> malachite_ed25519::PrivateKey {
    malachite_ed25519::PrivateKey::from(DEV_SIGNER_SEED)
}


/// How a request id reads: the blob's data root and this node's request number.
pub fn request_id(data_root: &B256, sequence: u64) -> Vec<u8> {
    let mut id = data_root.to_vec();
    id.extend_from_slice(&sequence.to_be_bytes());
    id
}

/// The data root a request id names (None: not one of ours).
pub fn root_of_request(id: &[u8]) -> Option<B256> {
    (id.len() == 40).then(|| B256::from_slice(&id[..32]))
}

pub use zg_components::da::{BlobReport, DispersalPhase};

/// Everything the DA role's services share.
pub struct DaNode {
    chain_id: u64,
    store: ChainStore,
    /// The node's erasure accelerator (its GPU, or the CPU), for extending and rebuilding.
    accelerator: zg_systems::erasure::accel::Accelerator,
    /// Signs attestations: the node's network key on a validator network, the dev signer else.
    signer: malachite_ed25519::PrivateKey,
    own: PeerKey,
    network: Option<NetHandle>,
    view: DaView,
    /// The signers of a chain without staking (the dev chain): from the entrance, at start.
    fixed_signers: Vec<(PeerKey, u64)>,
    /// Whole tokens of stake per vote (the entrance's `tokensPerVote`).
    tokens_per_vote: u64,
    handle: NodeHandle,
    /// The account that pays blob fees and submits attestations; None: this node accepts no blobs.
    disperser: Option<Address>,
    /// The account sampling responses are sent from (None: the disperser's).
    sampler: Option<Address>,
    /// Where dispersal phases go: the DA systems set them on the blobs' entities (the view's
    /// `phases` is what status reads).
    phase_reports: crossbeam_channel::Sender<(B256, DispersalPhase)>,
    /// Blobs being dispersed here now: a second submission of one joins it.
    dispersing: Mutex<std::collections::HashSet<B256>>,
    next_request: AtomicU64,
    /// How long a dispersal waits for attestations.
    attest_timeout: Duration,
    sampling: SamplerStats,
    repaired: std::sync::atomic::AtomicU64,
    /// The last dispersals' timings, newest last (a few kept).
    dispersals: Mutex<Vec<DispersalReport>>,
    submissions: Submissions,
    /// Store batches refused per peer (past `service::MAX_REFUSED_BATCHES`, no more are read).
    refused_batches: Mutex<HashMap<PeerKey, u64>>,
    /// Which axes each signer keeps, for the blobs seen lately.
    assignments: assignments::Assignments,
    /// Leaf hashes of the axes checked lately, for the attestation's crossing check.
    crossing_leaves: crossings::CrossingLeaves,
    /// When axes no peer serves were last rebuilt from each blob (see `repair`).
    rebuilds_tried: Mutex<HashMap<B256, std::time::Instant>>,
}

/// Who may make this node pay for a blob, how many at once, and how many an hour each.
pub struct Submissions {
    /// Listeners (JSON-RPC, gRPC) on which paid writes are served without a key.
    pub json_rpc: bool,
    pub grpc: bool,
    pub limit: usize,
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Keys that open paid writes on any listener, each its own client for the quota.
    api_keys: Vec<String>,
    per_client_hour: usize,
    /// Each client's submissions in the last hour.
    recent: Mutex<HashMap<String, std::collections::VecDeque<std::time::Instant>>>,
}

/// What [`Submissions::new`] takes from the `[da]` section.
pub struct SubmissionRules {
    pub public: bool,
    pub max_concurrent: usize,
    pub api_keys: Vec<String>,
    pub per_client_hour: usize,
}

impl Submissions {
    /// Paid writes on a listener bound to loopback, on any with `public`, or with one of
    /// `api_keys`; `max_concurrent` at once, `per_client_hour` an hour per client (a key, or
    /// the open listeners together).
    pub fn new(rpc_addr: Option<std::net::SocketAddr>, grpc_addr: Option<std::net::SocketAddr>, rules: SubmissionRules) -> Self {
        let open = |addr: Option<std::net::SocketAddr>| rules.public || addr.is_some_and(|a| a.ip().is_loopback());
        let limit = rules.max_concurrent.max(1);
        Self {
            json_rpc: open(rpc_addr),
            grpc: open(grpc_addr),
            limit,
            in_flight: Arc::new(tokio::sync::Semaphore::new(limit)),
            api_keys: rules.api_keys,
            per_client_hour: rules.per_client_hour.max(1),
            recent: Mutex::new(HashMap::new()),
        }
    }

    fn open_on(&self, listener: disperse::Listener) -> bool {
        match listener {
            disperse::Listener::JsonRpc => self.json_rpc,
            disperse::Listener::Grpc => self.grpc,
        }
    }

    /// The client a submission counts against: its API key's, or the open listener's.
    fn client(&self, listener: disperse::Listener, api_key: Option<&str>) -> Result<String, DisperseError> {
        match api_key {
            Some(key) => match self.api_keys.iter().position(|known| known.as_bytes() == key.as_bytes()) {
                Some(index) => Ok(format!("key {index}")),
                None => Err(DisperseError::BadApiKey),
            },
            None if self.open_on(listener) => Ok("open listeners".into()),
            None => Err(DisperseError::NotServedHere),
        }
    }

    /// Counts one submission against `client`'s hour, or refuses it past the quota.
    fn charge(&self, client: &str) -> Result<(), DisperseError> {
        let now = std::time::Instant::now();
        let hour = Duration::from_secs(3_600);
        let mut recent = self.recent.lock().map_err(|_| DisperseError::Keep("the quota's lock was poisoned".into()))?;
        let times = recent.entry(client.to_string()).or_default();
        while times.front().is_some_and(|at| now.duration_since(*at) >= hour) {
            times.pop_front();
        }
        if times.len() >= self.per_client_hour {
            return Err(DisperseError::Quota { limit: self.per_client_hour });
        }
        times.push_back(now);
        Ok(())
    }
}

/// Where one dispersal's time went.
#[derive(Clone, Debug, PartialEq)]
pub struct DispersalReport {
    pub data_root: B256,
    pub blob_bytes: usize,
    pub k: usize,
    /// Extending and committing the square.
    pub encode_s: f64,
    /// The registration transaction, sent to its receipt.
    pub register_s: f64,
    /// Pieces to every member and their attestations back.
    pub distribute_s: f64,
    /// Piece bytes sent to other members (their systematic halves).
    pub wire_bytes: usize,
    pub members: usize,
    pub signed_slots: u64,
    pub total_slots: u64,
}

/// What a DA node is started with.
pub struct DaSetup {
    pub chain_id: u64,
    pub store: ChainStore,
    pub accelerator: zg_systems::erasure::accel::Accelerator,
    pub signer: malachite_ed25519::PrivateKey,
    pub network: Option<NetHandle>,
    pub view: DaView,
    pub fixed_signers: Vec<(PeerKey, u64)>,
    pub tokens_per_vote: u64,
    pub handle: NodeHandle,
    pub disperser: Option<Address>,
    pub sampler: Option<Address>,
    pub attest_timeout: Duration,
    pub submissions: Submissions,
    /// Where dispersal phases are reported to the DA systems (`DispersalReports` in the world).
    pub phase_reports: crossbeam_channel::Sender<(B256, DispersalPhase)>,
}

impl DaNode {
    pub fn new(setup: DaSetup) -> Self {
        let own = *setup.signer.public_key().as_bytes();
        Self {
            chain_id: setup.chain_id,
            store: setup.store,
            accelerator: setup.accelerator,
            signer: setup.signer,
            own,
            network: setup.network,
            view: setup.view,
            fixed_signers: setup.fixed_signers,
            tokens_per_vote: setup.tokens_per_vote.max(1),
            handle: setup.handle,
            disperser: setup.disperser,
            sampler: setup.sampler,
            phase_reports: setup.phase_reports,
            dispersing: Mutex::new(std::collections::HashSet::new()),
            next_request: AtomicU64::new(1),
            attest_timeout: setup.attest_timeout,
            sampling: SamplerStats::default(),
            repaired: std::sync::atomic::AtomicU64::new(0),
            dispersals: Mutex::new(Vec::new()),
            submissions: setup.submissions,
            refused_batches: Mutex::new(HashMap::new()),
            assignments: assignments::Assignments::default(),
            crossing_leaves: crossings::CrossingLeaves::default(),
            rebuilds_tried: Mutex::new(HashMap::new()),
        }
    }

    /// This node's DA key (what it signs attestations with).
    pub fn key(&self) -> PeerKey {
        self.own
    }

    /// The signers of the current epoch: the validator set, or the entrance's fixed signers.
    pub fn signers(&self) -> Vec<(PeerKey, u64)> {
        match &self.network {
            Some(network) => network.da_signers(),
            None => self.fixed_signers.clone(),
        }
    }

    /// The last dispersals this node ran, newest last.
    pub fn dispersals(&self) -> Vec<DispersalReport> {
        self.dispersals.lock().map(|d| d.clone()).unwrap_or_default()
    }

    fn record_dispersal(&self, report: DispersalReport) {
        if let Ok(mut dispersals) = self.dispersals.lock() {
            if dispersals.len() >= 16 {
                dispersals.remove(0);
            }
            dispersals.push(report);
        }
    }

    /// Reports a dispersal's phase to the DA systems (it lands on the blob's entity next tick).
    fn set_local(&self, data_root: B256, state: DispersalPhase) {
        if let Ok(mut dispersing) = self.dispersing.lock() {
            if state.is_running() {
                dispersing.insert(data_root);
            } else {
                dispersing.remove(&data_root);
            }
        }
        if self.phase_reports.try_send((data_root, state)).is_err() {
            tracing::warn!(root = %data_root, "the DA systems are not taking dispersal phases (the node is stopping or stalled)");
        }
    }

    /// Whether this node is dispersing the blob now.
    fn is_dispersing(&self, data_root: &B256) -> bool {
        self.dispersing.lock().is_ok_and(|dispersing| dispersing.contains(data_root))
    }

    /// What the chain says of a blob (status, epoch, quorum): the DA systems' record of it,
    /// restored after a restart. None: never registered.
    pub fn chain_status(&self, data_root: &B256) -> Option<(BlobStatus, u64, u64)> {
        self.view.get(data_root).map(|blob| (blob.status, blob.epoch, blob.quorum))
    }

    /// A blob's status: its entity as the DA systems publish it (the chain's record and this
    /// node's dispersal phase, `zg_systems::da::status::blob_report`).
    /// Only what blocks already on disk say is reported (`zg_systems::da::status::as_of`).
    pub fn status(&self, data_root: &B256) -> Option<BlobReport> {
        let durable = self.store.reader().snapshot().ok().and_then(|snapshot| snapshot.head_number()).unwrap_or(0);
        let chain = self.view.get(data_root).and_then(|blob| zg_systems::da::status::as_of(blob, durable));
        zg_systems::da::status::blob_report(*data_root, chain.as_ref(), self.view.phase(data_root).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_name_their_root_and_nothing_else_does() {
        let root = B256::repeat_byte(5);
        let id = request_id(&root, 7);
        assert_eq!(root_of_request(&id), Some(root));
        assert_eq!(root_of_request(&id[1..]), None);
        assert_eq!(root_of_request(b""), None);
    }

    /// Paid writes are served only on listeners bound to loopback unless the operator opens
    /// them; the concurrency cap is at least one.
    #[test]
    fn submissions_are_served_on_loopback_unless_opened() {
        let public: std::net::SocketAddr = "0.0.0.0:8545".parse().unwrap();
        let local: std::net::SocketAddr = "127.0.0.1:51001".parse().unwrap();
        let rules = |public, max_concurrent| SubmissionRules { public, max_concurrent, api_keys: vec!["s3cret".into()], per_client_hour: 2 };
        let closed = Submissions::new(Some(public), Some(local), rules(false, 0));
        assert!(!closed.open_on(Listener::JsonRpc) && closed.open_on(Listener::Grpc));
        assert_eq!(closed.limit, 1);
        let v6: std::net::SocketAddr = "[::1]:8545".parse().unwrap();
        assert!(Submissions::new(Some(v6), None, rules(false, 4)).open_on(Listener::JsonRpc));
        assert!(!Submissions::new(Some(v6), None, rules(false, 4)).open_on(Listener::Grpc), "no gRPC listener");
        let opened = Submissions::new(Some(public), None, rules(true, 4));
        assert!(opened.open_on(Listener::JsonRpc) && opened.open_on(Listener::Grpc));
        // Beyond loopback: only with a known key; each key is its own client with its quota.
        assert!(matches!(closed.client(Listener::JsonRpc, None), Err(DisperseError::NotServedHere)));
        assert!(matches!(closed.client(Listener::JsonRpc, Some("guess")), Err(DisperseError::BadApiKey)));
        assert!(matches!(closed.client(Listener::Grpc, Some("")), Err(DisperseError::BadApiKey)), "a wrong key is refused even where none is needed");
        let client = closed.client(Listener::JsonRpc, Some("s3cret")).unwrap();
        closed.charge(&client).unwrap();
        closed.charge(&client).unwrap();
        assert!(matches!(closed.charge(&client), Err(DisperseError::Quota { limit: 2 })));
        let local_client = closed.client(Listener::Grpc, None).unwrap();
        assert!(closed.charge(&local_client).is_ok(), "another client's quota is its own");
    }
}
