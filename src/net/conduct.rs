//! How each peer behaves and what it may cost this node: misbehaviour scores that decay, bans
//! for peers that keep misbehaving, byte and request budgets, and caps on concurrent work.
//!
//! One refused message never ends a connection: honest peers send things this node refuses now
//! and then (a vote from a validator that joined at an epoch this node has not executed yet, a
//! shard for a file it has not indexed yet). Only offences that cost points add up, and only a
//! peer whose score passes [`BAN_SCORE`] is disconnected and refused for [`BAN_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use zg_components::consensus::PeerKey;

/// Score at which a peer is disconnected and banned.
pub const BAN_SCORE: f64 = 100.0;
/// How long a banned peer is refused (both ways).
pub const BAN_FOR: Duration = Duration::from_secs(30);
/// Points a score loses each second, so rare refusals never add up to a ban.
const DECAY_PER_SECOND: f64 = 2.0;
/// Live connections one key may hold (two nodes dialing each other hold two).
pub const MAX_CONNECTIONS_PER_PEER: usize = 2;
/// Blocking tasks (database reads and writes) one peer may have running, and all peers together.
pub const WORK_PER_PEER: usize = 4;
pub const WORK_TOTAL: usize = 32;
/// Frame bytes one peer may send a second (bursting to `BYTE_BURST`); more waits, so QUIC flow
/// control slows the sender instead of this node buffering for it.
const BYTES_PER_SECOND: f64 = 256.0 * 1024.0 * 1024.0;
const BYTE_BURST: f64 = 64.0 * 1024.0 * 1024.0;
/// Block-sync requests one peer may make a second (an honest node asks at most once a second):
/// each may be answered with megabytes, so more are dropped.
const SYNC_REQUESTS_PER_SECOND: f64 = 4.0;
const SYNC_REQUEST_BURST: f64 = 8.0;

/// Why a message was refused, as counted in `zgnode_net_rejected_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offence {
    /// A frame length over the limit: the stream's framing is lost, the stream is stopped.
    Oversized,
    Malformed,
    Version,
    BadSignature,
    /// A vote or proposal from a key not in this node's validator set (honest across epochs).
    UnknownValidator,
    /// A shard this node does not take (not published here yet, wrong size, fails its proof).
    BadShard,
    /// A shard reply nobody asked this peer for.
    UnsolicitedReply,
    /// Over a request budget: dropped.
    OverBudget,
    /// A gossiped transaction no honest pool would hold (`PoolError::kind` is `Invalid`).
    InvalidTransaction,
}

impl Offence {
    pub fn label(self) -> &'static str {
        match self {
            Offence::Oversized => "oversized",
            Offence::Malformed => "malformed",
            Offence::Version => "version",
            Offence::BadSignature => "bad_signature",
            Offence::UnknownValidator => "unknown_validator",
            Offence::BadShard => "bad_shard",
            Offence::UnsolicitedReply => "unsolicited_reply",
            Offence::OverBudget => "over_budget",
            Offence::InvalidTransaction => "invalid_transaction",
        }
    }

    /// What it adds to the sender's score: nothing for what honest peers also send.
    fn points(self) -> f64 {
        match self {
            Offence::Oversized => 25.0,
            Offence::Malformed | Offence::Version | Offence::BadSignature | Offence::InvalidTransaction => 10.0,
            Offence::UnsolicitedReply | Offence::OverBudget => 1.0,
            Offence::UnknownValidator | Offence::BadShard => 0.0,
        }
    }
}

/// A token bucket: `rate` a second, at most `burst` saved.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Self { tokens: burst, rate, burst, last: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// Takes `amount`, going into debt if need be; returns how long until the debt is paid.
    fn charge(&mut self, amount: f64, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= amount;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / self.rate) }
    }

    /// Takes one if there is one.
    fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct PeerRecord {
    score: f64,
    scored_at: Instant,
    banned_until: Option<Instant>,
    connections: usize,
    bytes: Bucket,
    sync_requests: Bucket,
    work: Arc<Semaphore>,
}

impl PeerRecord {
    fn new(now: Instant) -> Self {
        Self {
            score: 0.0,
            scored_at: now,
            banned_until: None,
            connections: 0,
            bytes: Bucket::new(BYTES_PER_SECOND, BYTE_BURST, now),
            sync_requests: Bucket::new(SYNC_REQUESTS_PER_SECOND, SYNC_REQUEST_BURST, now),
            work: Arc::new(Semaphore::new(WORK_PER_PEER)),
        }
    }

    fn decayed_score(&mut self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.scored_at).as_secs_f64();
        self.score = (self.score - elapsed * DECAY_PER_SECOND).max(0.0);
        self.scored_at = now;
        self.score
    }
}

/// What happened to a peer after an offence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Disconnect it: it is banned until the ban runs out.
    Ban,
}

/// Every peer's record; shared by all connection tasks.
#[derive(Debug)]
pub struct Conduct {
    peers: Mutex<HashMap<PeerKey, PeerRecord>>,
    work: Arc<Semaphore>,
}

impl Default for Conduct {
    fn default() -> Self {
        Self { peers: Mutex::new(HashMap::new()), work: Arc::new(Semaphore::new(WORK_TOTAL)) }
    }
}

impl Conduct {
    fn with<T>(&self, key: &PeerKey, f: impl FnOnce(&mut PeerRecord, Instant) -> T) -> Option<T> {
        // tokio's clock: the system's on a real node, the simulation's under `zgnode bench wan`
        // (budgets refill on the clock the messages travel by).
        let now = tokio::time::Instant::now().into_std();
        let mut peers = self.peers.lock().ok()?;
        Some(f(peers.entry(*key).or_insert_with(|| PeerRecord::new(now)), now))
    }

    /// Records an offence; a peer whose score passes the limit is banned.
    pub fn offend(&self, key: &PeerKey, offence: Offence) -> Verdict {
        self.with(key, |peer, now| {
            let score = peer.decayed_score(now) + offence.points();
            peer.score = score;
            if score >= BAN_SCORE {
                peer.score = 0.0;
                peer.banned_until = Some(now + BAN_FOR);
                Verdict::Ban
            } else {
                Verdict::Keep
            }
        })
        .unwrap_or(Verdict::Keep)
    }

    /// How long the peer stays banned, if it is.
    pub fn banned_for(&self, key: &PeerKey) -> Option<Duration> {
        self.with(key, |peer, now| peer.banned_until.map(|until| until.saturating_duration_since(now)).filter(|d| !d.is_zero()))
            .flatten()
    }

    /// Counts a new connection unless the peer is banned or holds enough.
    pub fn admit_connection(&self, key: &PeerKey) -> Result<(), &'static str> {
        if self.banned_for(key).is_some() {
            return Err("banned");
        }
        self.with(key, |peer, _| {
            if peer.connections >= MAX_CONNECTIONS_PER_PEER {
                Err("too many connections")
            } else {
                peer.connections += 1;
                Ok(())
            }
        })
        .unwrap_or(Err("poisoned"))
    }

    pub fn connection_closed(&self, key: &PeerKey) {
        self.with(key, |peer, _| peer.connections = peer.connections.saturating_sub(1));
    }

    /// How long the reader should wait before taking a frame of `bytes` from this peer.
    pub fn charge_bytes(&self, key: &PeerKey, bytes: usize) -> Duration {
        self.with(key, |peer, now| peer.bytes.charge(bytes as f64, now)).unwrap_or_default()
    }

    /// Whether the peer may have one more block-sync request answered now.
    pub fn allow_sync_request(&self, key: &PeerKey) -> bool {
        self.with(key, |peer, now| peer.sync_requests.try_take(now)).unwrap_or(false)
    }

    /// Waits for a slot to run blocking work for this peer (its own cap, then the node's).
    pub async fn work_permit(&self, key: &PeerKey) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let own = self.with(key, |peer, _| peer.work.clone())?;
        let own = own.acquire_owned().await.ok()?;
        let total = self.work.clone().acquire_owned().await.ok()?;
        Some((own, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: PeerKey = [7; 32];

    #[test]
    fn honest_refusals_never_ban() {
        let conduct = Conduct::default();
        for _ in 0..10_000 {
            assert_eq!(conduct.offend(&PEER, Offence::UnknownValidator), Verdict::Keep);
            assert_eq!(conduct.offend(&PEER, Offence::BadShard), Verdict::Keep);
        }
        assert!(conduct.banned_for(&PEER).is_none());
    }

    #[test]
    fn a_peer_that_keeps_misbehaving_is_banned_and_refused() {
        let conduct = Conduct::default();
        let mut verdicts = Vec::new();
        for _ in 0..11 {
            verdicts.push(conduct.offend(&PEER, Offence::BadSignature));
        }
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Ban).count(), 1, "{verdicts:?}");
        let at = verdicts.iter().position(|v| *v == Verdict::Ban);
        assert!(matches!(at, Some(9 | 10)), "banned at the tenth bad signature (or the next, after decay): {verdicts:?}");
        assert!(conduct.banned_for(&PEER).is_some_and(|d| d <= BAN_FOR));
        assert_eq!(conduct.admit_connection(&PEER), Err("banned"));
        assert_eq!(conduct.admit_connection(&[8; 32]), Ok(()), "others are not");
    }

    #[test]
    fn connections_per_key_are_capped() {
        let conduct = Conduct::default();
        for _ in 0..MAX_CONNECTIONS_PER_PEER {
            assert_eq!(conduct.admit_connection(&PEER), Ok(()));
        }
        assert_eq!(conduct.admit_connection(&PEER), Err("too many connections"));
        conduct.connection_closed(&PEER);
        assert_eq!(conduct.admit_connection(&PEER), Ok(()));
    }

    #[test]
    fn budgets_slow_or_drop_what_is_over() {
        let conduct = Conduct::default();
        assert_eq!(conduct.charge_bytes(&PEER, BYTE_BURST as usize), Duration::ZERO);
        let wait = conduct.charge_bytes(&PEER, 16 << 20);
        assert!(wait > Duration::from_millis(40) && wait < Duration::from_millis(100), "{wait:?}");
        let allowed = (0..100).filter(|_| conduct.allow_sync_request(&PEER)).count();
        assert!((SYNC_REQUEST_BURST as usize..=SYNC_REQUEST_BURST as usize + 1).contains(&allowed), "{allowed}");
    }

    #[test]
    fn scores_decay() {
        let mut record = PeerRecord::new(Instant::now());
        record.score = 50.0;
        record.scored_at -= Duration::from_secs(10);
        assert!((record.decayed_score(Instant::now()) - 30.0).abs() < 0.5);
    }
}
