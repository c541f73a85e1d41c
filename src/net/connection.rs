//! Connections: accepting and dialing authenticated peers, one writer and any number of stream
//! readers per connection, frames read as their bytes arrive and within the peer's budgets.

use quinn::{Endpoint, VarInt};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

use zg_components::consensus::PeerKey;
use zg_components::consensus::wire::{self, WireError};

use super::conduct::Offence;
use super::{PEER_QUEUE_FRAMES, PeerAddress, PeerLink, Shared, identity, refuse, serve, short_key};

/// Application close codes, so the other side's logs say why.
pub const CLOSE_NO_IDENTITY: u32 = 2;
pub const CLOSE_UNEXPECTED_KEY: u32 = 3;
pub const CLOSE_BANNED: u32 = 4;
pub const CLOSE_TOO_MANY: u32 = 5;
pub const CLOSE_NOT_ALLOWED: u32 = 6;
pub const CLOSE_WRITER_GONE: u32 = 7;
/// Both ends dialed at once; this one is not the one both keep.
pub const CLOSE_DUPLICATE: u32 = 8;
/// Stream stop code for a frame whose length is over the limit.
const STOP_OVERSIZED: u32 = 1;
/// Bytes read at a time into a frame: memory follows what arrived, not what a length claims.
const READ_CHUNK: usize = 64 * 1024;
/// New outgoing streams a writer opens after the peer stopped one, before giving up on the
/// connection.
const STREAM_REOPENS: usize = 8;

pub(super) fn peer_key(connection: &quinn::Connection) -> Option<PeerKey> {
    let identity = connection.peer_identity()?;
    let certificates = identity.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok()?;
    identity::certificate_key(certificates.first()?)
}

pub(super) async fn accept_loop(endpoint: Endpoint, shared: Arc<Shared>) {
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
                connection.close(VarInt::from_u32(CLOSE_NO_IDENTITY), b"no identity");
                return;
            };
            run_connection(shared, connection, key, Dialed::ByPeer).await;
        });
    }
}

pub(super) async fn dial_loop(endpoint: Endpoint, shared: Arc<Shared>, peer: PeerAddress) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if shared.closed.load(Ordering::Relaxed) {
            return;
        }
        if let Some(ban) = shared.conduct.banned_for(&peer.key) {
            tokio::time::sleep(ban).await;
            continue;
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
                    connection.close(VarInt::from_u32(CLOSE_UNEXPECTED_KEY), b"unexpected key");
                } else {
                    backoff = Duration::from_millis(100);
                    run_connection(shared.clone(), connection, peer.key, Dialed::ByUs).await;
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

/// Who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialed {
    ByUs,
    ByPeer,
}

/// Whether a connection to `peer` is the one both ends keep when they dialed each other at
/// once: the one the lower key dialed. Without one rule both ends agree on, each kept the
/// connection it finished last — over a WAN, where the dialer finishes a round trip before the
/// listener, each end kept the other's and closed its own, both died, and the retry raced the
/// same way (found by `zgnode bench wan`).
pub(super) fn preferred(own: &PeerKey, peer: &PeerKey, dialed: Dialed) -> bool {
    (dialed == Dialed::ByUs) == (own < peer)
}

/// How long after a connection is made another one to the same peer counts as a crossing dial
/// (handshakes over a lossy WAN take a few round trips) rather than the peer coming back.
const CROSSING_WINDOW: Duration = Duration::from_secs(5);

/// Whether the link to a peer stays when another connection to it arrives. Only the connection
/// both ends keep ([`preferred`]), made moments ago and still open, beats a newer one that is
/// not; otherwise the newest wins, so a peer that restarted replaces at once the connection its
/// old process left behind (which would otherwise linger until the idle timeout).
pub(super) fn keeps_existing(existing_preferred: bool, existing_age: Duration, existing_open: bool, arriving_preferred: bool) -> bool {
    existing_preferred && !arriving_preferred && existing_open && existing_age < CROSSING_WINDOW
}

/// Serves one authenticated connection until it closes.
async fn run_connection(shared: Arc<Shared>, connection: quinn::Connection, key: PeerKey, dialed: Dialed) {
    if !shared.allowlist.allows(&key) {
        connection.close(VarInt::from_u32(CLOSE_NOT_ALLOWED), b"not allowed");
        return;
    }
    if let Err(reason) = shared.conduct.admit_connection(&key) {
        let code = if reason == "banned" { CLOSE_BANNED } else { CLOSE_TOO_MANY };
        tracing::debug!(peer = %short_key(&key), reason, "refusing a connection");
        metrics::counter!("zgnode_net_refused_connections_total").increment(1);
        connection.close(VarInt::from_u32(code), reason.as_bytes());
        return;
    }
    let connection_id = connection.stable_id();
    let preferred = preferred(&shared.own, &key, dialed);
    let (frames, outgoing) = mpsc::channel::<Arc<Vec<u8>>>(PEER_QUEUE_FRAMES);
    let queued = Arc::new(AtomicUsize::new(0));
    if let Ok(mut links) = shared.links.lock() {
        let keeps_other = links.get(&key).is_some_and(|l| {
            keeps_existing(l.preferred, l.established.elapsed(), l.connection.close_reason().is_none(), preferred)
        });
        if keeps_other {
            drop(links);
            shared.conduct.connection_closed(&key);
            tracing::debug!(peer = %short_key(&key), "closing a crossing connection: the peer's is kept");
            connection.close(VarInt::from_u32(CLOSE_DUPLICATE), b"duplicate");
            return;
        }
        // A newer connection replaces an older one (the older writer stops and closes it).
        let established = tokio::time::Instant::now();
        links.insert(key, PeerLink { connection_id, preferred, established, connection: connection.clone(), frames, queued: queued.clone() });
        metrics::gauge!("zgnode_net_peers").set(links.len() as f64);
    }
    tracing::info!(peer = %short_key(&key), remote = %connection.remote_address(), "peer connected");

    let writer = tokio::spawn(write_frames(connection.clone(), outgoing, queued));
    while let Ok(stream) = connection.accept_uni().await {
        tokio::spawn(read_stream(shared.clone(), stream, key));
    }
    writer.abort();
    shared.conduct.connection_closed(&key);
    if let Ok(mut links) = shared.links.lock() {
        if links.get(&key).is_some_and(|l| l.connection_id == connection_id) {
            links.remove(&key);
            if let Ok(mut heights) = shared.peer_heights.lock() {
                heights.remove(&key);
            }
        }
        metrics::gauge!("zgnode_net_peers").set(links.len() as f64);
    }
    tracing::info!(peer = %short_key(&key), reason = ?connection.close_reason(), "peer disconnected");
}

/// Writes queued frames in order. A peer that stops the stream gets a new one (and the frame
/// again); when no stream can be had, the connection is closed so the link leaves the table and
/// the dialer starts over.
async fn write_frames(connection: quinn::Connection, mut outgoing: mpsc::Receiver<Arc<Vec<u8>>>, queued: Arc<AtomicUsize>) {
    let mut stream = None;
    let mut reopens = 0;
    'frames: while let Some(frame) = outgoing.recv().await {
        loop {
            if stream.is_none() {
                match connection.open_uni().await {
                    Ok(opened) => stream = Some(opened),
                    Err(_) => break 'frames,
                }
            }
            let Some(open) = stream.as_mut() else { break 'frames };
            if open.write_all(&frame).await.is_ok() {
                queued.fetch_sub(frame.len(), Ordering::AcqRel);
                break;
            }
            stream = None;
            reopens += 1;
            if reopens > STREAM_REOPENS || connection.close_reason().is_some() {
                break 'frames;
            }
        }
    }
    if let Some(mut open) = stream {
        let _ = open.finish();
    }
    connection.close(VarInt::from_u32(CLOSE_WRITER_GONE), b"writer stopped");
}

/// Reads a frame body of `length` bytes as it arrives. None at the end of the stream.
async fn read_body(stream: &mut quinn::RecvStream, length: usize) -> Option<Vec<u8>> {
    let mut body = Vec::with_capacity(length.min(READ_CHUNK));
    while body.len() < length {
        let chunk = stream.read_chunk((length - body.len()).min(READ_CHUNK), true).await.ok()??;
        body.extend_from_slice(&chunk.bytes);
    }
    Some(body)
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
                // Where the next frame starts is unknown: this stream is done, the peer is not.
                refuse(&shared, &key, Offence::Oversized, &error);
                let _ = stream.stop(VarInt::from_u32(STOP_OVERSIZED));
                return;
            }
        };
        let wait = shared.conduct.charge_bytes(&key, length + 4);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let Some(body) = read_body(&mut stream, length).await else { return };
        if !shared.allowlist.allows(&key) {
            return;
        }
        let message = match wire::decode_body(&body) {
            Ok(message) => message,
            Err(error) => {
                let offence = if matches!(error, WireError::Version(_)) { Offence::Version } else { Offence::Malformed };
                refuse(&shared, &key, offence, &error);
                continue;
            }
        };
        let kind = message.kind();
        if let Err(offence) = serve::dispatch(&shared, key, message).await {
            refuse(&shared, &key, offence, &kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_keep_the_same_one_of_two_crossing_connections() {
        let (low, high) = ([1u8; 32], [2u8; 32]);
        // The connection the low key dialed: outgoing at the low end, incoming at the high end.
        assert!(preferred(&low, &high, Dialed::ByUs));
        assert!(preferred(&high, &low, Dialed::ByPeer));
        // The one the high key dialed is closed at both ends.
        assert!(!preferred(&high, &low, Dialed::ByUs));
        assert!(!preferred(&low, &high, Dialed::ByPeer));
    }

    #[test]
    fn a_crossing_connection_loses_to_the_kept_one_but_a_returning_peer_replaces_a_stale_one() {
        let moments = Duration::from_millis(300);
        assert!(keeps_existing(true, moments, true, false), "a crossing dial: the kept one stays");
        assert!(!keeps_existing(true, moments, true, true), "the same kind arriving again is newer: it replaces");
        assert!(!keeps_existing(false, moments, true, true), "the kept one arriving replaces the other");
        assert!(!keeps_existing(true, moments, false, false), "a closed link never holds its place");
        assert!(!keeps_existing(true, CROSSING_WINDOW, true, false), "a peer that restarted replaces what its old process left");
    }
}
