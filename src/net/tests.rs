//! Two real endpoints on 127.0.0.1 (quinn, TLS with node keys), no node around them: what the
//! transport does with refused messages, misbehaving peers and keys that leave the set.

use super::*;
use std::time::Instant;

use zg_components::consensus::{Validator, ValidatorAddress, Vote, WireVote};

const CHAIN_ID: u64 = 7;

fn set_of(keys: &[&Identity]) -> ValidatorSet {
    let validators =
        keys.iter().map(|k| Validator::new(k.key.public_key(), 100, Address::repeat_byte(1))).collect();
    ValidatorSet::new(validators).unwrap()
}

struct Listener {
    handle: NetHandle,
    events: crossbeam_channel::Receiver<NetEvent>,
    _requests: crossbeam_channel::Receiver<NodeRequest>,
}

fn listen(identity: Identity, peers: Vec<PeerAddress>, set: ValidatorSet) -> Listener {
    let (events, event_inbox) = crossbeam_channel::bounded(1024);
    let (requests, request_inbox) = crossbeam_channel::bounded(1024);
    let handle = NetHandle::start(NetworkSetup {
        identity,
        listen: "127.0.0.1:0".parse().unwrap(),
        peers,
        validators: set,
        chain_id: CHAIN_ID,
        max_tx_bytes: 128 * 1024,
        events,
        requests,
        store: ChainStore::in_memory().unwrap(),
        genesis_hash: [9; 32],
        transport: Default::default(),
    })
    .unwrap();
    Listener { handle, events: event_inbox, _requests: request_inbox }
}

fn vote(key: &Identity, height: u64) -> NetMessage {
    let vote = Vote {
        height: zg_components::consensus::Height(height),
        round: malachite_types::Round::new(0),
        value: malachite_types::NilOrVal::Nil,
        vote_type: malachite_types::VoteType::Prevote,
        validator: ValidatorAddress::from_public_key(&key.key.public_key()),
    };
    let signature = key.key.sign(&vote.sign_bytes(CHAIN_ID));
    NetMessage::Vote(WireVote::from_signed(&malachite_types::SignedMessage::new(vote, signature)).unwrap())
}

fn status(height: u64) -> NetMessage {
    NetMessage::Status { genesis: [9; 32], height }
}

async fn next_status(events: &crossbeam_channel::Receiver<NetEvent>) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        while let Ok(event) = events.try_recv() {
            if let NetMessage::Status { height, .. } = event.message {
                return Some(height);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn peer_address(listener: &Listener) -> PeerAddress {
    PeerAddress { key: listener.handle.own_key(), addr: listener.handle.local_addr() }
}

/// A node listening, and a fellow validator connected to it by hand with a stream open.
async fn connected_validator() -> (Listener, Identity, quinn::Connection, quinn::SendStream) {
    let (node, peer) = (Identity::generate(), Identity::generate());
    let listener = listen(node.clone(), vec![], set_of(&[&node, &peer]));
    let connection = connect_raw(&peer, peer_address(&listener)).await.unwrap();
    let stream = connection.open_uni().await.unwrap();
    (listener, peer, connection, stream)
}

/// Whether the node closed the connection as it closes a banned peer's.
fn closed_as_banned(closed: &quinn::ConnectionError) -> bool {
    matches!(closed, quinn::ConnectionError::ApplicationClosed(c) if c.error_code == VarInt::from_u32(connection::CLOSE_BANNED))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_are_dropped_and_the_stream_keeps_carrying_traffic() {
    let (node, peer, newcomer) = (Identity::generate(), Identity::generate(), Identity::generate());
    let listener = listen(node.clone(), vec![], set_of(&[&node, &peer]));
    let connection = connect_raw(&peer, peer_address(&listener)).await.unwrap();
    let mut stream = connection.open_uni().await.unwrap();
    let mut garbled = wire::encode_frame(&vote(&peer, 3)).unwrap();
    let last = garbled.len() - 1;
    garbled[last] ^= 1;
    let frames = [
        // A validator this node does not know yet (it joined at an epoch not executed here).
        wire::encode_frame(&vote(&newcomer, 3)).unwrap(),
        garbled,
        [&4u32.to_be_bytes()[..], &[wire::WIRE_VERSION, 0xff, 0xff, 0xff]].concat(),
        [&2u32.to_be_bytes()[..], &[99, 0]].concat(),
        wire::encode_frame(&status(42)).unwrap(),
    ];
    for frame in &frames {
        stream.write_all(frame).await.expect("the stream stays open");
    }
    assert_eq!(next_status(&listener.events).await, Some(42), "the message after four refused ones arrived");
    assert_eq!(listener.handle.rejected(), 4);
    assert!(connection.close_reason().is_none());
    assert!(listener.handle.banned_for(&peer.public()).is_none());
    listener.handle.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_keeps_sending_garbage_is_disconnected_and_refused_for_a_while() {
    let (listener, peer, connection, mut stream) = connected_validator().await;
    let junk = [&4u32.to_be_bytes()[..], &[wire::WIRE_VERSION, 0xff, 0xff, 0xff]].concat();
    for _ in 0..20 {
        if stream.write_all(&junk).await.is_err() {
            break;
        }
    }
    let closed = tokio::time::timeout(Duration::from_secs(10), connection.closed()).await.expect("disconnected");
    assert!(closed_as_banned(&closed), "{closed:?}");
    assert!(listener.handle.banned_for(&peer.public()).is_some());
    // Coming straight back is refused.
    if let Ok(again) = connect_raw(&peer, peer_address(&listener)).await {
        let closed = tokio::time::timeout(Duration::from_secs(10), again.closed()).await.expect("refused");
        assert!(closed_as_banned(&closed), "{closed:?}");
    }
    listener.handle.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_leaves_the_validator_set_is_disconnected_but_configured_peers_stay() {
    let (node, leaving, configured) = (Identity::generate(), Identity::generate(), Identity::generate());
    let configured_listener = listen(configured.clone(), vec![], set_of(&[&node, &leaving, &configured]));
    let listener = listen(node.clone(), vec![peer_address(&configured_listener)], set_of(&[&node, &leaving, &configured]));
    let leaver = connect_raw(&leaving, peer_address(&listener)).await.expect("a validator connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    while listener.handle.connected().len() < 2 {
        assert!(Instant::now() < deadline, "both peers connect: {:?}", listener.handle.connected().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The next epoch's set: `leaving` is out, and `configured` too (it stays a configured peer).
    NetSink::validators_changed(&listener.handle, &set_of(&[&node]));
    let closed = tokio::time::timeout(Duration::from_secs(10), leaver.closed()).await.expect("the former validator is disconnected");
    assert!(matches!(closed, quinn::ConnectionError::ApplicationClosed(ref c) if c.error_code == VarInt::from_u32(connection::CLOSE_NOT_ALLOWED)), "{closed:?}");
    let refused = match connect_raw(&leaving, peer_address(&listener)).await {
        Err(_) => true,
        Ok(again) => tokio::time::timeout(Duration::from_secs(10), again.closed()).await.is_ok(),
    };
    assert!(refused, "a former validator cannot connect again");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(listener.handle.connected(), vec![configured.public()], "the configured peer stays");
    listener.handle.close();
    configured_listener.handle.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_peer_asked_may_answer_a_shard_request() {
    let (node, asked, other) = (Identity::generate(), Identity::generate(), Identity::generate());
    let listener = listen(node.clone(), vec![], set_of(&[&node, &asked, &other]));
    let asked_connection = connect_raw(&asked, peer_address(&listener)).await.unwrap();
    let other_connection = connect_raw(&other, peer_address(&listener)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while listener.handle.connected().len() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let handle = listener.handle.clone();
    let asked_key = asked.public();
    let fetch = tokio::spawn(async move { handle.fetch_shard(asked_key, 1, 0, 0).await });
    // The request reaches `asked`; read its id there.
    let mut incoming = asked_connection.accept_uni().await.unwrap();
    let id = loop {
        let mut length = [0u8; 4];
        incoming.read_exact(&mut length).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(length) as usize];
        incoming.read_exact(&mut body).await.unwrap();
        if let Ok(NetMessage::ShardRequest { id, .. }) = wire::decode_body(&body) {
            break id;
        }
    };
    let forged = zg_components::consensus::Shard {
        tx_seq: 1,
        segment: 0,
        index: 0,
        segment_len: 256,
        data: vec![0xee; 256],
        proof_lemma: vec![],
        proof_path: vec![],
        boundary: vec![],
    };
    let rejected = listener.handle.rejected();
    let mut stream = other_connection.open_uni().await.unwrap();
    stream.write_all(&wire::encode_frame(&NetMessage::ShardReply { id, shard: Some(forged.clone()) }).unwrap()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while listener.handle.rejected() == rejected {
        assert!(Instant::now() < deadline, "the unsolicited reply was not counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut honest = forged;
    honest.data = vec![0x11; 256];
    let mut stream = asked_connection.open_uni().await.unwrap();
    stream.write_all(&wire::encode_frame(&NetMessage::ShardReply { id, shard: Some(honest.clone()) }).unwrap()).await.unwrap();
    let answer = fetch.await.unwrap();
    assert_eq!(answer, Some(honest), "the asked peer's answer, not the other's");
    listener.handle.close();
}

/// A legacy transfer signed by a fixed key for `chain_id`.
fn signed_transfer(chain_id: u64, nonce: u64) -> Vec<u8> {
    use alloy_consensus::{SignableTransaction, TxEnvelope, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_signer::SignerSync;
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&alloy_primitives::B256::repeat_byte(7)).unwrap();
    let tx = TxLegacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price: 1_000_000_000,
        gas_limit: 21_000,
        to: alloy_primitives::TxKind::Call(Address::repeat_byte(2)),
        value: alloy_primitives::U256::from(1),
        input: Default::default(),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_gossiping_transactions_no_honest_pool_holds_is_banned_and_valid_ones_cost_nothing() {
    let (listener, peer, connection, mut stream) = connected_validator().await;
    // Valid transactions (and one seen twice) are handed to the pool and cost the peer nothing.
    let valid = vec![signed_transfer(CHAIN_ID, 0), signed_transfer(CHAIN_ID, 1), signed_transfer(CHAIN_ID, 1)];
    stream.write_all(&wire::encode_frame(&NetMessage::Transactions(valid)).unwrap()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while listener._requests.len() < 2 {
        assert!(Instant::now() < deadline, "the valid transactions reach the pool");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(listener.handle.rejected(), 0);
    // Transactions for another chain and undecodable bytes, each new: the peer is banned.
    let mut nonce = 0;
    let closed = loop {
        let invalid = vec![signed_transfer(CHAIN_ID + 1, nonce), vec![0xc0, nonce as u8, (nonce >> 8) as u8]];
        nonce += 1;
        let sent = stream.write_all(&wire::encode_frame(&NetMessage::Transactions(invalid)).unwrap()).await;
        if sent.is_err() || nonce > 200 {
            break tokio::time::timeout(Duration::from_secs(10), connection.closed()).await.expect("disconnected");
        }
        if let Some(reason) = connection.close_reason() {
            break reason;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(closed_as_banned(&closed), "{closed:?}");
    assert!(listener.handle.banned_for(&peer.public()).is_some());
    assert!(listener.handle.rejected() >= 2);
    listener.handle.close();
}
