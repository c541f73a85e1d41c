//! DA traffic on the validator network: a DA node asks another for something (pieces to keep,
//! an attestation, roots, an axis, a share) and waits for the answer. Each request and each
//! answer travels on a stream of its own, so megabytes of pieces never queue in front of
//! consensus votes on the connection's main stream.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use zg_components::consensus::PeerKey;
use zg_components::consensus::wire::{self, NetMessage};
use zg_components::da::piece::{DaAnswer, DaRequest};

use super::{NetHandle, Shared};

/// The DA role's side of DA traffic (installed with [`NetHandle::serve_da`]); a node without it
/// answers every request [`DaAnswer::NotServed`].
pub trait DaService: Send + Sync + 'static {
    /// The answer to `from`'s request (runs on the blocking pool).
    fn answer(&self, from: &PeerKey, request: DaRequest) -> DaAnswer;
}

/// A DA request waiting for its answer: only `peer` may give it.
pub(super) struct PendingDa {
    pub peer: PeerKey,
    pub reply: tokio::sync::oneshot::Sender<DaAnswer>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AskError {
    #[error("peer is not connected")]
    NotConnected,
    #[error("the request does not fit in a frame: {0}")]
    TooLarge(String),
    #[error("could not send: {0}")]
    Send(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Writes one frame on a new stream to `peer`.
pub(super) async fn send_on_own_stream(shared: &Shared, peer: PeerKey, frame: Vec<u8>) -> Result<(), AskError> {
    if shared.blocked.read().map(|b| b.contains(&peer)).unwrap_or(false) {
        // The fault layer's cut link: the frame is lost, as on the main stream.
        return Ok(());
    }
    let connection = {
        let links = shared.links.lock().map_err(|_| AskError::NotConnected)?;
        links.get(&peer).map(|link| link.connection.clone()).ok_or(AskError::NotConnected)?
    };
    let mut stream = connection.open_uni().await.map_err(|e| AskError::Send(e.to_string()))?;
    stream.write_all(&frame).await.map_err(|e| AskError::Send(e.to_string()))?;
    stream.finish().map_err(|e| AskError::Send(e.to_string()))?;
    Ok(())
}

impl NetHandle {
    /// Hands DA traffic to the DA role (once; a second call changes nothing). The network
    /// keeps it weakly: the DA role holds the network, and its owner decides when it goes.
    pub fn serve_da(&self, service: Arc<dyn DaService>) {
        let _ = self.shared.da.set(Arc::downgrade(&service));
    }

    /// The validator set as DA signers: (key, voting power), ordered by key.
    pub fn da_signers(&self) -> Vec<(PeerKey, u64)> {
        self.shared.da_signers.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Asks `peer` and waits up to `timeout` for its answer.
    pub async fn ask_da(&self, peer: PeerKey, request: DaRequest, timeout: Duration) -> Result<DaAnswer, AskError> {
        let id = self.shared.next_request.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode_frame(&NetMessage::DaRequest { id, request }).map_err(|e| AskError::TooLarge(e.to_string()))?;
        let (reply, receiver) = tokio::sync::oneshot::channel();
        if let Ok(mut pending) = self.shared.pending_da.lock() {
            pending.insert(id, PendingDa { peer, reply });
        }
        let forget = || {
            if let Ok(mut pending) = self.shared.pending_da.lock() {
                pending.remove(&id);
            }
        };
        if let Err(error) = send_on_own_stream(&self.shared, peer, frame).await {
            forget();
            return Err(error);
        }
        let answer = tokio::time::timeout(timeout, receiver).await;
        forget();
        match answer {
            Ok(Ok(answer)) => Ok(answer),
            _ => Err(AskError::Timeout(timeout)),
        }
    }
}
