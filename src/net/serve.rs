//! What the network does with a decoded message: checks signatures before anything reaches the
//! world, answers sync and shard requests from the database, takes placed shards, and hands
//! consensus messages to the world's inbox. Database work runs on the blocking pool, within the
//! sending peer's work budget.

use alloy_primitives::Address;
use malachite_ed25519::Signature;
use std::sync::Arc;

use zg_components::consensus::wire::{self, NetMessage};
use zg_components::consensus::{NetEvent, PeerKey};
use zg_components::node::NodeRequest;

use super::Shared;
use super::conduct::Offence;

/// Most decided blocks one sync answer carries, and its byte budget.
const SYNC_MAX_BLOCKS: u64 = 32;
const SYNC_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Most transactions taken from one gossip message.
const GOSSIP_MAX_TRANSACTIONS: usize = 5_000;

/// Checks a vote's or proposal's signature before it reaches the world.
fn signature_ok(shared: &Shared, message: &NetMessage) -> Result<(), Offence> {
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
    let keys = shared.validator_keys.read().map_err(|_| Offence::Malformed)?;
    let key = keys.get(&validator).ok_or(Offence::UnknownValidator)?;
    key.verify(&bytes, &Signature::from_bytes(signature)).map_err(|_| Offence::BadSignature)
}

/// Runs a message's work on tokio's blocking pool, or here when the network is simulated.
fn run_blocking(inline: bool, work: impl FnOnce() + Send + 'static) {
    if inline {
        work();
    } else {
        tokio::task::spawn_blocking(work);
    }
}

/// Handles one message; an error is the offence to count (the message is dropped).
pub(super) async fn dispatch(shared: &Arc<Shared>, from: PeerKey, message: NetMessage) -> Result<(), Offence> {
    if shared.blocked.read().map(|b| b.contains(&from)).unwrap_or(false) {
        return Ok(());
    }
    metrics::counter!("zgnode_net_received_total", "kind" => message.kind()).increment(1);
    signature_ok(shared, &message)?;
    match message {
        NetMessage::Status { genesis, height } => {
            if genesis == shared.genesis_hash
                && let Ok(mut heights) = shared.peer_heights.lock()
            {
                heights.insert(from, height);
            }
            forward(shared, from, NetMessage::Status { genesis, height });
        }
        NetMessage::Transactions(raw) => {
            let work = shared.conduct.work_permit(&from).await;
            // What this node admits goes on to its peers, as before the seen-set: skipping the
            // second hop between validators was tried and left a seeded chaos run with a file
            // never finalized on one node (cause not found); the seen-set already keeps the
            // cost at one recovery per transaction per node.
            let forward = true;
            let shared = shared.clone();
            run_blocking(shared.inline_work, move || {
                let _work = work;
                admit_gossip(&shared, from, raw, forward)
            });
        }
        NetMessage::SyncRequest { from: first, to: last } => {
            if !shared.conduct.allow_sync_request(&from) {
                return Err(Offence::OverBudget);
            }
            let work = shared.conduct.work_permit(&from).await;
            let shared = shared.clone();
            run_blocking(shared.inline_work, move || {
                let _work = work;
                serve_sync(&shared, from, first, last)
            });
        }
        NetMessage::StoreShard(shard) => {
            let work = shared.conduct.work_permit(&from).await;
            let shared = shared.clone();
            run_blocking(shared.inline_work, move || {
                let _work = work;
                // A node without the storage role keeps no shard: refused like a bad one
                // (counted; a bad shard costs its sender no points).
                let kept = shared.shards.get().is_some_and(|service| service.keep(&shard).is_ok());
                if !kept {
                    let what = format_args!("shard {}/{}/{}", shard.tx_seq, shard.segment, shard.index);
                    super::refuse(&shared, &from, Offence::BadShard, &what);
                }
            });
        }
        NetMessage::ShardRequest { id, tx_seq, segment, shard } => {
            let work = shared.conduct.work_permit(&from).await;
            let shared = shared.clone();
            run_blocking(shared.inline_work, move || {
                let _work = work;
                let shard = shared.shards.get().and_then(|service| service.find(tx_seq, segment, shard));
                reply_to(&shared, from, NetMessage::ShardReply { id, shard });
            });
        }
        NetMessage::ShardReply { id, shard } => {
            let mut pending = shared.pending_shards.lock().map_err(|_| Offence::Malformed)?;
            // Only the peer asked may answer, and only with the shard asked for (or none).
            let asked = pending.get(&id).is_some_and(|request| {
                request.peer == from
                    && shard.as_ref().is_none_or(|s| (s.tx_seq, s.segment, s.index) == (request.tx_seq, request.segment, request.index))
            });
            if !asked {
                return Err(Offence::UnsolicitedReply);
            }
            if let Some(request) = pending.remove(&id) {
                let _ = request.reply.send(shard);
            }
        }
        NetMessage::DaRequest { id, request } => {
            let work = shared.conduct.work_permit(&from).await;
            let shared = shared.clone();
            tokio::spawn(async move {
                let _work = work;
                let answering = shared.clone();
                let answer = tokio::task::spawn_blocking(move || match answering.da.get().and_then(std::sync::Weak::upgrade) {
                    Some(service) => service.answer(&from, request),
                    None => zg_components::da::piece::DaAnswer::NotServed,
                })
                .await
                .unwrap_or(zg_components::da::piece::DaAnswer::NotServed);
                let Ok(frame) = wire::encode_frame(&NetMessage::DaReply { id, answer }) else { return };
                let _ = super::da::send_on_own_stream(&shared, from, frame).await;
            });
        }
        NetMessage::DaReply { id, answer } => {
            let mut pending = shared.pending_da.lock().map_err(|_| Offence::Malformed)?;
            if pending.get(&id).is_none_or(|request| request.peer != from) {
                return Err(Offence::UnsolicitedReply);
            }
            if let Some(request) = pending.remove(&id) {
                let _ = request.reply.send(answer);
            }
        }
        message => forward(shared, from, message),
    }
    Ok(())
}

/// Hands a consensus message to the world.
fn forward(shared: &Shared, from: PeerKey, message: NetMessage) {
    if shared.events.try_send(NetEvent { from, message }).is_err() {
        metrics::counter!("zgnode_net_dropped_total", "kind" => "inbox_full").increment(1);
    }
}

/// Hands gossiped transactions to the pool; one that no honest pool would hold (a bad
/// signature, another chain, garbage) counts against the peer that sent it, one that is merely
/// stale (a nonce just used) does not.
fn admit_gossip(shared: &Shared, from: PeerKey, raw: Vec<Vec<u8>>, forward: bool) {
    for tx in raw.iter().take(GOSSIP_MAX_TRANSACTIONS) {
        if !shared.seen_transactions.first_sight(tx) {
            metrics::counter!("zgnode_net_gossip_known_total").increment(1);
            continue;
        }
        let (envelope, sender) = match zg_systems::chain::mempool::decode_transaction(tx, shared.chain_id, shared.max_tx_bytes) {
            Ok(decoded) => decoded,
            Err(error) => {
                if error.kind() == zg_components::chain::RefusalKind::Invalid {
                    super::refuse(shared, &from, Offence::InvalidTransaction, &error);
                }
                continue;
            }
        };
        let request = NodeRequest::RelayedTransaction { envelope: Box::new(envelope), sender, forward };
        if shared.requests.try_send(request).is_err() {
            metrics::counter!("zgnode_net_dropped_total", "kind" => "pool_inbox_full").increment(1);
            return;
        }
    }
}

pub(super) fn reply_to(shared: &Shared, peer: PeerKey, message: NetMessage) {
    let Ok(frame) = wire::encode_frame(&message) else { return };
    if let Ok(links) = shared.links.lock()
        && let Some(link) = links.get(&peer)
    {
        link.queue(Arc::new(frame), message.kind());
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
