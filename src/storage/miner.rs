//! The storage node's PoRA miner: registers its storage stake once, then for every epoch asks
//! the PoraMine contract which sectors it is challenged for, proves the ones it holds from the
//! segments in redb, and sends the proofs as transactions through the node's own JSON-RPC.

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zg_components::storage::merkle::{self, SEGMENT_CHUNKS};
use zg_systems::storage::pora::{self, IPoraMine, MINE_ADDRESS};

use crate::store::ChainStore;

/// What the miner has done, for logs and tests.
#[derive(Debug, Default, Clone)]
pub struct MinerStats {
    pub epochs: u64,
    pub proofs_sent: u64,
    pub unprovable: u64,
}

pub struct Miner {
    rpc: HttpClient,
    store: ChainStore,
    key: PrivateKeySigner,
    /// This storage node's network key, registered with the stake (it signs the registration);
    /// None for a node that keeps no erasure-coded shards.
    node_key: Option<malachite_ed25519::PrivateKey>,
    /// The erasure coding this node keeps shards under, if any (proofs from data shards).
    coding: Option<zg_systems::storage::erasure::ErasureConfig>,
    chain_id: u64,
    stop: Arc<AtomicBool>,
}

impl Miner {
    pub fn new(
        rpc_url: &str,
        store: ChainStore,
        key: PrivateKeySigner,
        node_key: Option<malachite_ed25519::PrivateKey>,
        coding: Option<zg_systems::storage::erasure::ErasureConfig>,
        chain_id: u64,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, jsonrpsee::core::ClientError> {
        Ok(Self { rpc: HttpClientBuilder::default().build(rpc_url)?, store, key, node_key, coding, chain_id, stop })
    }

    async fn view(&self, data: Vec<u8>) -> anyhow::Result<Bytes> {
        Ok(self.rpc.request("eth_call", rpc_params![json!({"to": MINE_ADDRESS, "data": Bytes::from(data)}), "latest"]).await?)
    }

    async fn send(&self, input: Vec<u8>, value: U256, nonce: u64) -> anyhow::Result<B256> {
        let tx = crate::signing::sign_eip1559(&self.key, self.chain_id, TxKind::Call(MINE_ADDRESS), value, input.into(), nonce, 2_000_000);
        let raw = Bytes::from(alloy_eips::eip2718::Encodable2718::encoded_2718(&tx));
        Ok(self.rpc.request("eth_sendRawTransaction", rpc_params![raw]).await?)
    }

    async fn nonce(&self) -> anyhow::Result<u64> {
        let nonce: U256 = self.rpc.request("eth_getTransactionCount", rpc_params![self.key.address(), "pending"]).await?;
        Ok(nonce.to())
    }

    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Proves a chunk of `file` from the whole segment if this node holds it, else from the data
    /// shard of that segment it keeps.
    fn prove(&self, file: &zg_components::storage::FileRecord, chunk: u64) -> Option<pora::SectorProof> {
        let store = &self.store;
        let segment = chunk / SEGMENT_CHUNKS as u64;
        if let (Ok(Some(data)), Ok(Some(proof))) = (store.segment(file.tx_seq, segment), store.segment_proof(file.tx_seq, segment)) {
            return pora::prove(file, chunk, |index| {
                if index == segment {
                    return Some((data.clone(), proof.clone()));
                }
                Some((store.segment(file.tx_seq, index).ok()??, store.segment_proof(file.tx_seq, index).ok()??))
            });
        }
        let coding = self.coding?;
        let chunks = merkle::chunk_count(file.size).checked_sub(segment * SEGMENT_CHUNKS as u64)?.min(SEGMENT_CHUNKS as u64) as usize;
        let within = (chunk % SEGMENT_CHUNKS as u64) as usize;
        let index = (0..coding.data_shards).find(|j| coding.data_shard_chunks(chunks, *j).contains(&within))?;
        let shard = store.shard(file.tx_seq, segment, index as u8).ok()??;
        pora::shard_proof::prove_from_shard(file, chunk, coding.data_shard_chunks(chunks, index), &shard.data, &shard.boundary, &shard.proof_lemma)
    }

    /// Runs until stopped; errors are logged and retried (a miner must not take the node down).
    pub async fn run(self) {
        let mut stats = MinerStats::default();
        let mut last_epoch: Option<u64> = None;
        // A step only has news when a block came: at rest the miner asks the chain nothing.
        let mut stepped_at_head: Option<u64> = None;
        while !self.stop.load(Ordering::Relaxed) {
            let head = self.store.head_number().ok().flatten();
            if head.is_none() || head != stepped_at_head {
                match self.step(&mut last_epoch, &mut stats).await {
                    Ok(()) => stepped_at_head = head,
                    Err(error) => tracing::warn!(%error, "PoRA miner step failed; retrying"),
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn step(&self, last_epoch: &mut Option<u64>, stats: &mut MinerStats) -> anyhow::Result<()> {
        let me = self.key.address();
        let status = IPoraMine::minersCall::abi_decode_returns(&self.view(IPoraMine::minersCall { miner: me }.abi_encode()).await?)?;
        if !status.registered {
            let stake = IPoraMine::minStakeCall::abi_decode_returns(&self.view(IPoraMine::minStakeCall {}.abi_encode()).await?)?;
            let register = match &self.node_key {
                Some(node_key) => {
                    let message = IPoraMine::registrationMessageCall::abi_decode_returns(
                        &self.view(IPoraMine::registrationMessageCall { miner: me }.abi_encode()).await?,
                    )?;
                    let signature = node_key.sign(&message).to_bytes();
                    IPoraMine::registerCall { nodeId: B256::from(*node_key.public_key().as_bytes()), nodeSignature: Bytes::from(signature.to_vec()) }
                }
                None => IPoraMine::registerCall { nodeId: B256::ZERO, nodeSignature: Bytes::new() },
            };
            let hash = self.send(register.abi_encode(), stake, self.nonce().await?).await?;
            tracing::info!(miner = %me, %stake, tx = %hash, "registering as a PoRA storage node");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(());
        }
        let epoch_blocks: u64 =
            IPoraMine::epochBlocksCall::abi_decode_returns(&self.view(IPoraMine::epochBlocksCall {}.abi_encode()).await?)?.to();
        let challenges: u64 = IPoraMine::challengesPerEpochCall::abi_decode_returns(
            &self.view(IPoraMine::challengesPerEpochCall {}.abi_encode()).await?,
        )?
        .to();
        let head = self.store.head_number()?.unwrap_or(0);
        let epoch = head / epoch_blocks;
        // The seed is the epoch's first block; a proof lands in a later one.
        if head < epoch * epoch_blocks + 1 || epoch < status.registeredEpoch.to::<u64>() || *last_epoch == Some(epoch) {
            return Ok(());
        }
        *last_epoch = Some(epoch);
        stats.epochs += 1;
        let files = self.store.files()?;
        let mut nonce = self.nonce().await?;
        for index in 0..challenges {
            let call = IPoraMine::challengeCall { epoch: U256::from(epoch), miner: me, index: U256::from(index) };
            let Ok(output) = self.view(call.abi_encode()).await else {
                // An empty flow, or an epoch already past: nothing to prove.
                return Ok(());
            };
            let position = IPoraMine::challengeCall::abi_decode_returns(&output)?;
            if position == U256::MAX {
                // Nothing this node keeps was drawn (NO_CHALLENGE): claimed without a proof.
                let submit = IPoraMine::submitProofCall { epoch: U256::from(epoch), index: U256::from(index), chunk: Bytes::new(), siblings: vec![] };
                self.send(submit.abi_encode(), U256::ZERO, nonce).await?;
                nonce += 1;
                continue;
            }
            let position = u64::try_from(position).map_err(|_| anyhow::anyhow!("challenge position {position} out of range"))?;
            let Some(file) = pora::file_at(&files, position) else {
                stats.unprovable += 1;
                continue;
            };
            let proof = self.prove(file, position - file.start_entry_index);
            let Some(proof) = proof else {
                stats.unprovable += 1;
                tracing::warn!(epoch, index, position, seq = file.tx_seq, "challenged for a sector this node does not hold");
                continue;
            };
            let submit = IPoraMine::submitProofCall {
                epoch: U256::from(epoch),
                index: U256::from(index),
                chunk: proof.chunk.into(),
                siblings: proof.siblings,
            };
            self.send(submit.abi_encode(), U256::ZERO, nonce).await?;
            nonce += 1;
            stats.proofs_sent += 1;
        }
        tracing::info!(epoch, sent = stats.proofs_sent, unprovable = stats.unprovable, "PoRA proofs sent");
        Ok(())
    }
}
