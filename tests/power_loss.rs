//! Power cuts, not just crashes: the chain store and the consensus WAL on a redb backend that
//! keeps only what was synced (`zgnode::store::power_cut`). SIGKILL keeps the page cache, so it
//! cannot show a missing fsync; losing every unsynced write can.

mod common;

use alloy_primitives::{Address, B256, U256};
use common::*;

use zg_components::node::{NodeRequest, ReplyTo};
use zg_systems::consensus::engine::ConsensusWal;
use zgnode::node::chain_spec;
use zgnode::store::ChainStore;
use zgnode::store::power_cut::PowerCutBackend;

#[test]
fn every_block_and_receipt_a_reader_saw_survives_a_power_cut() {
    let genesis = zgnode::dev::dev_genesis(CHAIN_ID);
    let spec = chain_spec(&test_config(), &genesis);
    let backend = PowerCutBackend::new();
    let mut node = zgnode::Node::new(spec.clone(), &genesis, ChainStore::with_backend(backend.clone()).unwrap()).unwrap();
    let mut now = 1_700_000_000_000u64;
    let mut seen: Vec<(u64, B256)> = Vec::new();
    let mut hashes = Vec::new();
    for nonce in 0..8u64 {
        let tx = sign(&dev_key(0), alloy_primitives::TxKind::Call(Address::repeat_byte(0x55)), U256::from(1), Default::default(), dev0_nonce(nonce), 21_000);
        hashes.push(*tx.tx_hash());
        let sender = dev_key(0).address();
        node.requests()
            .send(NodeRequest::SubmitTransaction { envelope: Box::new(tx), sender, reply: ReplyTo::new(|r: Result<B256, _>| assert!(r.is_ok(), "{r:?}")) })
            .unwrap();
        for _ in 0..60 {
            now += 5;
            node.tick(now).unwrap();
        }
        // What an RPC reader sees now was acknowledged to the world.
        let reader = node.store().reader().snapshot().unwrap();
        let head = reader.head_number().unwrap_or(0);
        seen.push((head, node.store().block_hash(head).unwrap().unwrap()));
    }
    let receipts_seen: Vec<B256> =
        hashes.iter().copied().filter(|h| node.store().reader().snapshot().unwrap().receipt(h).unwrap().is_some()).collect();
    assert!(receipts_seen.len() >= 7, "blocks were sealed: {} receipts", receipts_seen.len());
    assert!(backend.syncs() > 0);

    // The power goes; nothing unsynced survives. Open what the disk holds.
    let disk = backend.cut_power();
    drop(node);
    let store = ChainStore::with_backend(disk).unwrap();
    for (number, hash) in &seen {
        assert_eq!(store.block_hash(*number).unwrap(), Some(*hash), "block {number} was seen, then lost");
    }
    let reader = store.reader().snapshot().unwrap();
    for hash in &receipts_seen {
        assert!(reader.receipt(hash).unwrap().is_some(), "receipt {hash} was seen, then lost");
    }
    // And the node starts on it and goes on.
    let mut node = zgnode::Node::new(spec, &genesis, store).unwrap();
    node.tick(now + 1_000).unwrap();
}

#[test]
fn durable_wal_entries_survive_a_power_cut() {
    let backend = PowerCutBackend::new();
    let store = ChainStore::with_backend(backend.clone()).unwrap();
    // Peers' votes are logged without a sync; own votes with one (and everything before them).
    store.append(7, b"peer vote a", false).unwrap();
    store.append(7, b"own prevote", true).unwrap();
    store.append(7, b"peer vote b", false).unwrap();
    store.append(7, b"own precommit", true).unwrap();
    store.append(7, b"peer vote c", false).unwrap();
    let store = ChainStore::with_backend(backend.cut_power()).unwrap();
    let entries = store.entries(7).unwrap();
    assert_eq!(
        entries[..4].iter().map(|e| e.as_slice()).collect::<Vec<_>>(),
        vec![&b"peer vote a"[..], b"own prevote", b"peer vote b", b"own precommit"],
        "everything up to the last durable entry survives"
    );
    assert_eq!(entries.len(), 4, "the unsynced entry after the last durable one is gone: the cut is real");
}
