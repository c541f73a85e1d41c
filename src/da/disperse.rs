//! Dispersal: a blob is extended and committed, registered on the DA entrance with its fee,
//! its rows and columns are sent to the quorum members that keep them, and once signers with at
//! least 2/3 of the slots have attested, their signatures go to the entrance.
//!
//! What to do next is decided by the pure state machine `zg_systems::da::dispersal`; this
//! module only carries out its effects (transactions, pieces over QUIC, timers) and feeds it
//! what came of them.

use alloy_primitives::{Address, B256, Bytes, U256};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zg_components::consensus::PeerKey;
use zg_components::da::piece::{DaAnswer, DaRequest, PieceBatch, attestation_message};
use zg_components::da::{Axis, AxisRoots, BlobStatus, DaError, ExtendedSquare, SquareLayout};
use zg_systems::da::dispersal::{Dispersal, DispersalEffect, DispersalInput};
use zg_systems::da::entrance::{DA_ENTRANCE_ADDRESS, IDAEntrance};
use zg_systems::da::pieces::pieces_of;

use super::{DaNode, DispersalPhase, request_id};
use crate::node::{HandleError, TxRequest};

/// Most bytes of pieces in one request (frames stop at 16 MiB), and requests in flight to one
/// member.
const BATCH_BYTES: usize = 4 * 1024 * 1024;
const BATCHES_IN_FLIGHT: usize = 2;
/// A request for pieces is tried this many times before the member counts as failed.
const STORE_ATTEMPTS: usize = 3;
const STORE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a member that is not connected is waited for.
const CONNECT_WAIT: Duration = Duration::from_secs(20);
const SIGN_TIMEOUT: Duration = Duration::from_secs(30);
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
const REGISTER_GAS: u64 = 200_000;
/// Why a blob was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum DisperseError {
    #[error("this node accepts no blobs: it has no disperser account (da.disperser_key)")]
    NoDisperser,
    #[error("the blob is empty")]
    Empty,
    #[error(transparent)]
    Size(#[from] DaError),
    #[error("encoding the blob failed: {0}")]
    Encoding(String),
    #[error("keeping the blob failed: {0}")]
    Keep(String),
    #[error("this node is dispersing {limit} blobs already (da.max_concurrent_dispersals); try again shortly")]
    Busy { limit: usize },
    #[error("paid DA writes are not served on this listener without an API key: it is not loopback and da.public_submissions is false")]
    NotServedHere,
    #[error("the API key is not one of this node's (da.api_keys)")]
    BadApiKey,
    #[error("this client has dispersed {limit} blobs in the last hour (da.blobs_per_client_hour); try again later")]
    Quota { limit: usize },
}

/// Where a submission came in, to decide whether paid writes are served there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    JsonRpc,
    Grpc,
}

/// Extends and commits a blob off the async threads; hands the blob back with the square.
async fn encode(blob: Vec<u8>, accelerator: zg_systems::erasure::accel::Accelerator) -> Result<(Vec<u8>, ExtendedSquare, AxisRoots, f64), DisperseError> {
    let encoding = std::time::Instant::now();
    let (blob, square, roots) = tokio::task::spawn_blocking(move || {
        let square = zg_systems::da::encoding::extend_blob_on(&accelerator, &blob).map_err(|e| DisperseError::Encoding(e.to_string()))?;
        let roots = square.commit();
        Ok::<_, DisperseError>((blob, square, roots))
    })
    .await
    .map_err(|e| DisperseError::Encoding(e.to_string()))??;
    Ok((blob, square, roots, encoding.elapsed().as_secs_f64()))
}

fn failed(what: &str, error: impl std::fmt::Display) -> String {
    format!("{what}: {error}")
}

impl DaNode {
    /// Accepts a blob: it is encoded while the caller waits (so the request id can name its data
    /// root) and kept durably (a restart resumes it), then registered and dispersed in the
    /// background. Returns the request id and root.
    ///
    /// Paid writes spend this node's disperser account: they are served only on listeners the
    /// operator opened for them (loopback, or any with `da.public_submissions`) or to callers
    /// with one of `da.api_keys`, each client within `da.blobs_per_client_hour`, and at most
    /// `da.max_concurrent_dispersals` run at once (each holds a square for up to minutes).
    pub async fn submit(self: &Arc<Self>, blob: Vec<u8>, listener: Listener, api_key: Option<&str>) -> Result<(Vec<u8>, B256), DisperseError> {
        let disperser = self.disperser.ok_or(DisperseError::NoDisperser)?;
        let client = self.submissions.client(listener, api_key)?;
        if blob.is_empty() {
            return Err(DisperseError::Empty);
        }
        SquareLayout::for_blob(blob.len())?;
        let permit = self.submissions.in_flight.clone().try_acquire_owned().map_err(|_| DisperseError::Busy { limit: self.submissions.limit })?;
        self.submissions.charge(&client)?;
        let blob_bytes = blob.len();
        let (blob, square, roots, encode_s) = encode(blob, self.accelerator.clone()).await?;
        let data_root = roots.data_root();
        let sequence = self.next_request.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = request_id(&data_root, sequence);
        let settled = self.status(&data_root).is_some_and(|r| !matches!(r.status, BlobStatus::Processing | BlobStatus::Unknown));
        if self.is_dispersing(&data_root) || settled {
            // The same blob again: one dispersal serves both requests.
            return Ok((id, data_root));
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.put_da_pending(&data_root.0, &blob))
            .await
            .map_err(|e| DisperseError::Encoding(e.to_string()))?
            .map_err(|e| DisperseError::Keep(e.to_string()))?;
        tracing::info!(root = %data_root, k = square.layout.k, "DA blob accepted");
        self.start_dispersal(disperser, square, roots, (blob_bytes, encode_s), Some(permit));
        self.phase_recorded(&data_root).await;
        Ok((id, data_root))
    }

    /// Waits (a tick, normally) until the blob's entity carries its dispersal phase, so a status
    /// asked right after the submission answers; gives up after a while on a stalled node.
    async fn phase_recorded(&self, data_root: &B256) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.view.phase(data_root).is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Resumes the dispersals a previous run accepted and did not finish.
    pub(super) async fn resume_pending(self: &Arc<Self>) {
        let store = self.store.clone();
        let pending = match tokio::task::spawn_blocking(move || store.da_pending()).await {
            Ok(Ok(pending)) => pending,
            Ok(Err(error)) => return tracing::error!(%error, "cannot read the DA blobs to resume"),
            Err(_) => return,
        };
        for (root, blob) in pending {
            let Some(disperser) = self.disperser else {
                return tracing::warn!(root = %B256::from(root), "a dispersal to resume, but no da.disperser_key: left for later");
            };
            let blob_bytes = blob.len();
            match encode(blob, self.accelerator.clone()).await {
                Ok((_, square, roots, encode_s)) if roots.data_root().0 == root => {
                    tracing::info!(root = %roots.data_root(), "resuming a DA dispersal accepted before the restart");
                    self.start_dispersal(disperser, square, roots, (blob_bytes, encode_s), None);
                }
                _ => tracing::error!(root = %B256::from(root), "a kept blob no longer encodes to its data root: not resumed"),
            }
        }
    }

    fn start_dispersal(
        self: &Arc<Self>,
        disperser: Address,
        square: ExtendedSquare,
        roots: AxisRoots,
        (blob_bytes, encode_s): (usize, f64),
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let data_root = roots.data_root();
        self.set_local(data_root, DispersalPhase::Registering);
        let this = self.clone();
        tokio::spawn(async move {
            // Held until the dispersal ends: the concurrency cap counts running dispersals.
            let _permit = permit;
            let state = this.disperse(disperser, square, roots, (blob_bytes, encode_s)).await;
            match &state {
                DispersalPhase::Failed { detail } => tracing::warn!(root = %data_root, why = %detail, "DA dispersal failed"),
                DispersalPhase::Insufficient { detail } => {
                    tracing::warn!(root = %data_root, why = %detail, "DA dispersal stopped short of 2/3 of the slots")
                }
                _ => {}
            }
            // Done either way: a restart has nothing to resume (a failed blob is submitted again).
            let store = this.store.clone();
            let _ = tokio::task::spawn_blocking(move || store.remove_da_pending(&data_root.0)).await;
            this.set_local(data_root, state);
        });
    }

    async fn send_and_wait(&self, from: Address, request: TxRequest, what: &str) -> Result<(), String> {
        let submitted = self.handle.send(from, request).map_err(|e| failed(what, e))?;
        let hash = submitted.admitted().await.map_err(|e| failed(what, e))?;
        let receipt = tokio::time::timeout(RECEIPT_TIMEOUT, self.handle.receipt_of(hash))
            .await
            .map_err(|_| failed(what, HandleError::Timeout(RECEIPT_TIMEOUT)))?
            .map_err(|e| failed(what, e))?;
        if !receipt.success {
            return Err(failed(what, format!("transaction {hash} reverted")));
        }
        Ok(())
    }

    /// Runs a dispersal to its end; the phase it ended in (submitted, failed, insufficient).
    async fn disperse(
        self: &Arc<Self>,
        disperser: Address,
        square: ExtendedSquare,
        roots: AxisRoots,
        (blob_bytes, encode_s): (usize, f64),
    ) -> DispersalPhase {
        let data_root = roots.data_root();
        let k = square.layout.k;
        let mut machine = Dispersal::new(data_root.0, square.layout, self.signers(), self.tokens_per_vote);
        let registering = Instant::now();
        let mut queue: VecDeque<DispersalEffect> = match self.chain_status(&data_root) {
            Some(_) => match self.epoch() {
                Ok(epoch) => machine.start(Some(epoch)).into(),
                Err(why) => {
                    machine.start(None);
                    machine.step(DispersalInput::RegistrationFailed(why)).into()
                }
            },
            None => machine.start(None).into(),
        };
        let wire_roots = Arc::new(roots.to_wire());
        let square = Arc::new(square);
        let mut tasks = tokio::task::JoinSet::new();
        let mut task_members: HashMap<tokio::task::Id, PeerKey> = HashMap::new();
        let far = Duration::from_secs(86_400);
        let deadline = tokio::time::sleep(far);
        tokio::pin!(deadline);
        let grace = tokio::time::sleep(far);
        tokio::pin!(grace);
        let mut graced = false;
        let (mut register_s, mut distributing, mut distribute_s, mut wire_bytes) = (0.0, None::<Instant>, None::<f64>, 0);
        loop {
            while let Some(effect) = queue.pop_front() {
                match effect {
                    DispersalEffect::Phase(phase) => {
                        if phase == DispersalPhase::Dispersing {
                            register_s = registering.elapsed().as_secs_f64();
                            distributing = Some(Instant::now());
                        }
                        if matches!(phase, DispersalPhase::Insufficient { .. }) {
                            distribute_s = distributing.map(|at| at.elapsed().as_secs_f64());
                        }
                        if phase.is_running() {
                            self.set_local(data_root, phase);
                        }
                    }
                    DispersalEffect::Register => {
                        let input = match self.register(disperser, data_root, k).await {
                            Ok(epoch) => DispersalInput::Registered { epoch },
                            Err(why) => DispersalInput::RegistrationFailed(why),
                        };
                        queue.extend(machine.step(input));
                    }
                    DispersalEffect::Deliver { epoch, members } => {
                        let half = k * zg_components::da::SHARE_SIZE;
                        wire_bytes = members.iter().filter(|(member, _)| **member != self.own).map(|(_, axes)| axes.len() * half).sum();
                        let signers = Arc::new(machine.signers().to_vec());
                        for (member, axes) in members {
                            let (this, square, wire_roots, signers) = (self.clone(), square.clone(), wire_roots.clone(), signers.clone());
                            let task = tasks.spawn(async move { this.deliver(member, &square, &axes, (data_root.0, &wire_roots), epoch, &signers).await });
                            task_members.insert(task.id(), member);
                        }
                        deadline.as_mut().reset(tokio::time::Instant::now() + self.attest_timeout);
                    }
                    DispersalEffect::StartGrace(wait) => {
                        graced = true;
                        grace.as_mut().reset(tokio::time::Instant::now() + wait);
                    }
                    DispersalEffect::StopDeliveries => tasks.abort_all(),
                    DispersalEffect::SubmitSignatures { keys, signatures } => {
                        distribute_s = distributing.map(|at| at.elapsed().as_secs_f64());
                        tracing::info!(root = %data_root, signed = machine.tally().signed_slots, total = machine.tally().total_slots, "DA blob attested; submitting the signatures");
                        let input = match self.submit_signatures(disperser, data_root, keys, signatures, machine.signers().len()).await {
                            Ok(()) => DispersalInput::SignaturesLanded,
                            Err(why) => DispersalInput::SignaturesFailed(why),
                        };
                        queue.extend(machine.step(input));
                    }
                }
            }
            if machine.is_over() {
                break;
            }
            let input = tokio::select! {
                Some(joined) = tasks.join_next_with_id() => match joined {
                    Ok((id, Ok(signature))) => DispersalInput::Attested { member: task_members.get(&id).copied().unwrap_or_default(), signature },
                    Ok((id, Err(why))) => DispersalInput::Refused { member: task_members.get(&id).copied().unwrap_or_default(), why },
                    Err(error) => DispersalInput::Refused { member: task_members.get(&error.id()).copied().unwrap_or_default(), why: error.to_string() },
                },
                _ = &mut deadline => DispersalInput::DeadlineReached,
                _ = &mut grace, if graced => DispersalInput::GraceOver,
            };
            queue.extend(machine.step(input));
        }
        tasks.abort_all();
        if let Some(distribute_s) = distribute_s {
            let tally = machine.tally();
            self.record_dispersal(super::DispersalReport {
                data_root,
                blob_bytes,
                k,
                encode_s,
                register_s,
                distribute_s,
                wire_bytes,
                members: tally.members,
                signed_slots: tally.signed_slots,
                total_slots: tally.total_slots,
            });
        }
        machine.phase().clone()
    }

    fn epoch(&self) -> Result<u64, String> {
        let epoch: U256 = self.handle.call_sol(DA_ENTRANCE_ADDRESS, &IDAEntrance::epochCall {}).map_err(|e| failed("reading the epoch", e))?;
        u64::try_from(epoch).map_err(|e| failed("reading the epoch", e))
    }

    /// Registers the blob with its k (so the entrance refuses proofs and samples of another
    /// size), paying the entrance's price; the epoch it is in.
    async fn register(&self, disperser: Address, data_root: B256, k: usize) -> Result<u64, String> {
        let price = self.handle.call_sol(DA_ENTRANCE_ADDRESS, &IDAEntrance::blobPriceCall {}).map_err(|e| failed("reading the blob price", e))?;
        let call = IDAEntrance::submitBlobsCall { dataRoots: vec![data_root], ks: vec![k as u32] };
        let request = TxRequest { value: price, ..TxRequest::sol(DA_ENTRANCE_ADDRESS, &call) }.with_gas(REGISTER_GAS);
        self.send_and_wait(disperser, request, "registering the blob on chain").await?;
        self.epoch()
    }

    async fn submit_signatures(&self, disperser: Address, data_root: B256, keys: Vec<PeerKey>, signatures: Vec<[u8; 64]>, signers: usize) -> Result<(), String> {
        let call = IDAEntrance::submitVerifiedCommitRootsCall {
            dataRoot: data_root,
            keys: keys.iter().map(|k| B256::from(*k)).collect(),
            signatures: signatures.iter().map(|s| Bytes::copy_from_slice(s)).collect(),
        };
        // Estimated (with a quarter spare) against the head, which shows the registration: its
        // receipt was awaited before any piece went out. When the estimate fails, a bound that
        // grows with keys and members (not, as it once did, 30k × keys × members: 50 signers
        // then passed the block gas limit and every dispersal failed).
        let request = TxRequest::sol(DA_ENTRANCE_ADDRESS, &call);
        let bound = zg_systems::da::entrance::attest_gas_bound(call.keys.len() as u64, signers as u64);
        let gas = match self.handle.estimate_gas(disperser, &request) {
            Ok(estimate) => estimate + estimate / 4,
            Err(e) => {
                tracing::debug!(error = %e, bound, "attestation gas not estimated; using the bound");
                bound
            }
        };
        self.send_and_wait(disperser, request.with_gas(gas), "submitting the attestations").await
    }

    /// Sends `member` its pieces and asks for its attestation (this node's own are kept and
    /// signed here).
    async fn deliver(
        self: &Arc<Self>,
        member: PeerKey,
        square: &ExtendedSquare,
        axes: &BTreeSet<(Axis, usize)>,
        (data_root, roots): ([u8; 32], &[[u8; 32]]),
        epoch: u64,
        signers: &[(PeerKey, u64)],
    ) -> Result<[u8; 64], String> {
        let k = square.layout.k;
        if member == self.own {
            // This node made the square: its own axes need no checking against the roots, and
            // go straight from the square into one write (the store keeps their first k shares,
            // so only those are copied out).
            let kept: Vec<(Axis, u32, Vec<u8>)> =
                axes.iter().zip(pieces_of(square, axes)).map(|((axis, index), piece)| (*axis, *index as u32, piece.half)).collect();
            let (this, roots, signers) = (self.clone(), roots.to_vec(), signers.to_vec());
            return tokio::task::spawn_blocking(move || {
                this.store.put_da_axes(&data_root, k as u32, &roots, &kept).map_err(|e| format!("storing pieces: {e}"))?;
                this.attest_square(&data_root, epoch, 0, &signers, super::service::SquareSource::OwnSquare).map_err(|refusal| refusal.to_string())
            })
            .await
            .map_err(|e| e.to_string())?;
        }
        let per_batch = (BATCH_BYTES / (k * zg_components::da::SHARE_SIZE)).max(1);
        let mut pieces = pieces_of(square, axes).into_iter().peekable();
        let mut batches: Vec<PieceBatch> = Vec::new();
        while pieces.peek().is_some() {
            let pieces = pieces.by_ref().take(per_batch).collect();
            batches.push(PieceBatch { data_root, k: k as u32, axis_roots: roots.to_vec(), pieces });
        }
        let network = self.network.as_ref().ok_or("no network to reach other DA nodes")?;
        // Two batches in flight: one travels while the member checks and writes the other.
        use futures::StreamExt;
        let deliveries = futures::stream::iter(batches).map(|batch| async move {
            let mut last = String::new();
            let mut attempts = 0;
            // A member not connected yet (this node just restarted, or it did) is waited for a
            // while; one that does not answer is tried a few times.
            let connect_deadline = tokio::time::Instant::now() + CONNECT_WAIT;
            while attempts < STORE_ATTEMPTS {
                match network.ask_da(member, DaRequest::Store(batch.clone()), STORE_TIMEOUT).await {
                    Ok(DaAnswer::Stored(Ok(_))) => return Ok(()),
                    // A refusal is final: the same pieces would be refused again.
                    Ok(DaAnswer::Stored(Err(why))) => return Err(format!("refused the pieces: {why}")),
                    Ok(other) => return Err(format!("answered {other:?} to pieces")),
                    Err(crate::net::AskError::NotConnected) if tokio::time::Instant::now() < connect_deadline => {
                        last = "not connected".into();
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    Err(error) => {
                        last = error.to_string();
                        attempts += 1;
                    }
                }
            }
            Err(format!("pieces not delivered: {last}"))
        });
        let delivered: Vec<Result<(), String>> = deliveries.buffer_unordered(BATCHES_IN_FLIGHT).collect().await;
        delivered.into_iter().collect::<Result<Vec<()>, String>>()?;
        let request = DaRequest::Sign { data_root, epoch, quorum: 0, signers: signers.to_vec() };
        match network.ask_da(member, request, SIGN_TIMEOUT).await.map_err(|e| e.to_string())? {
            DaAnswer::Signature(Ok(signature)) => {
                let key = malachite_ed25519::PublicKey::from_bytes(member).map_err(|_| "a member key that is not an ed25519 key".to_string())?;
                let message = attestation_message(self.chain_id, &data_root, epoch, 0);
                key.verify(&message, &malachite_ed25519::Signature::from_bytes(signature))
                    .map_err(|_| "answered with a signature that does not verify".to_string())?;
                Ok(signature)
            }
            DaAnswer::Signature(Err(why)) => Err(format!("would not attest: {why}")),
            other => Err(format!("answered {other:?} to an attestation request")),
        }
    }
}
