//! Proof of random access, the prover's side: which flow sectors an epoch challenges a storage
//! node for (the same derivation as `PoraMine.sol`), and the proof of a held sector: its 256-byte
//! chunk and the Merkle siblings up to its file's root.

use alloy_primitives::{Address, B256, U256, address, keccak256};
use alloy_sol_types::{SolValue, sol};

use zg_components::storage::merkle::{self, CHUNK_SIZE, MerkleTree, Proof, SEGMENT_CHUNKS};
use zg_components::storage::FileRecord;

/// Where genesis places the PoRA contract.
pub const MINE_ADDRESS: Address = address!("0000000000000000000000000000000000002002");

sol! {
    interface IPoraMine {
        function register(bytes32 nodeId, bytes calldata nodeSignature) external payable;
        function registrationMessage(address miner) external view returns (bytes memory);
        function nodeOwner(bytes32 nodeId) external view returns (address);
        function submitProof(uint256 epoch, uint256 index, bytes calldata chunk, bytes32[] calldata siblings) external;
        function settle(uint256 epoch, address miner) external;
        function challenge(uint256 epoch, address miner, uint256 index) external view returns (uint256);
        function miners(address miner) external view returns (uint256 stake, uint256 earned, uint256 penalized, uint256 registeredEpoch, bool registered, bytes32 nodeId);
        function passed(uint256 epoch, address miner) external view returns (uint256);
        function epochBlocks() external view returns (uint256);
        function challengesPerEpoch() external view returns (uint256);
        function minStake() external view returns (uint256);
        function NO_CHALLENGE() external view returns (uint256);
        event Registered(address indexed miner, uint256 stake, bytes32 nodeId);
        event Settled(address indexed miner, uint256 indexed epoch, uint256 missed, uint256 penalty);
        function segmentAnswerHash(bytes32 root, uint256 segment, bytes calldata data, bytes32[] calldata siblings) external view returns (bytes32);
        function reportBadSegment(uint256 txSeq, uint256 segment, bytes calldata data, bytes32[] calldata siblings, bytes calldata signature) external returns (address miner);
        function answerReported(bytes32 answer) external view returns (bool);
        function BAD_SEGMENT_PENALTY_PER_MILLE() external view returns (uint256);
        event ServedBadSegment(address indexed miner, address indexed reporter, bytes32 indexed root, uint256 segment, uint256 penalty);
    }
}

/// PoRA parameters fixed at genesis (the contract's constructor arguments).
#[derive(Clone, Debug)]
pub struct MineParams {
    pub epoch_blocks: u64,
    pub challenges_per_epoch: u64,
    pub min_stake: U256,
    pub penalty_per_mille: u64,
    pub reward_per_challenge: U256,
    /// The storage nodes erasure-coding across each other, by key; empty: none.
    pub ring: Vec<[u8; 32]>,
    /// Data shards per segment on that ring (`[storage] erasure_data_shards`).
    pub data_shards: u64,
}

/// The constructor arguments, ABI-encoded, to append to the creation code.
pub fn constructor_args(flow: Address, params: &MineParams) -> Vec<u8> {
    (
        flow,
        U256::from(params.epoch_blocks),
        U256::from(params.challenges_per_epoch),
        params.min_stake,
        U256::from(params.penalty_per_mille),
        params.reward_per_challenge,
        params.ring.iter().map(|key| B256::from(*key)).collect::<Vec<_>>(),
        U256::from(params.data_shards),
    )
        .abi_encode_params()
}

/// The flow's length (sectors) before block `block`: the end of the last file published in an
/// earlier block (submissions start aligned to their largest piece, so the flow also holds
/// padding between files; a challenge landing there asks nothing).
pub fn flow_length_before(files: &[FileRecord], block: u64) -> u64 {
    files.iter().filter(|f| f.block_number < block).map(|f| f.start_entry_index + f.sectors).max().unwrap_or(0)
}

/// The word challenge `index` of `miner` is drawn from, given the epoch's seed (the hash of its
/// first block).
fn challenge_draw(seed: B256, miner: Address, index: u64) -> U256 {
    U256::from_be_bytes(keccak256((seed, miner, U256::from(index)).abi_encode()).0)
}

/// The first sector challenge `index` draws for `miner` on a flow of `flow_length` sectors
/// (before any redraw out of padding: see [`flow_challenge`]).
pub fn challenge_position(seed: B256, miner: Address, index: u64, flow_length: u64) -> Option<u64> {
    (flow_length > 0).then(|| (challenge_draw(seed, miner, index) % U256::from(flow_length)).to::<u64>())
}

/// Draws a challenge may take before it is given up (`PoraMine.DRAWS`).
pub const DRAWS: u64 = 16;

/// The sector challenge `index` asks `miner` for on a flow of `files` (those published before
/// the epoch), as `PoraMine.challenge` draws it without erasure coding: the first draw, or a
/// redraw while it lands in the padding between files; None when every draw did.
pub fn flow_challenge(seed: B256, miner: Address, index: u64, files: &[FileRecord], flow_length: u64) -> Option<u64> {
    if flow_length == 0 {
        return None;
    }
    let draw = challenge_draw(seed, miner, index);
    (0..DRAWS).find_map(|attempt| {
        let word = if attempt == 0 { draw } else { U256::from_be_bytes(keccak256((draw, U256::from(attempt)).abi_encode()).0) };
        let position = (word % U256::from(flow_length)).to::<u64>();
        file_at(files, position).map(|_| position)
    })
}

/// The file holding flow sector `position`.
pub fn file_at(files: &[FileRecord], position: u64) -> Option<&FileRecord> {
    files.iter().find(|f| f.start_entry_index <= position && position < f.start_entry_index + f.sectors)
}

/// A sector proof as `submitProof` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectorProof {
    pub chunk: Vec<u8>,
    pub siblings: Vec<B256>,
}

/// What a staked storage node signs (`personal_sign` with its miner key) for segment `segment`
/// of the file under `root` it serves: `PoraMine.segmentAnswerHash`, so a corrupted answer is
/// evidence the contract can judge (`reportBadSegment`).
pub fn segment_answer_hash(chain_id: u64, root: B256, segment: u64, data: &[u8], siblings: &[B256]) -> B256 {
    let packed: Vec<u8> = siblings.iter().flat_map(|sibling| sibling.0).collect();
    keccak256((MINE_ADDRESS, U256::from(chain_id), root, U256::from(segment), keccak256(data), keccak256(packed)).abi_encode())
}

/// The Merkle siblings of a proof, leaf and root left out: what `submitProof` and
/// `reportBadSegment` take.
pub fn inner_siblings(proof: &Proof) -> Vec<B256> {
    if proof.lemma.len() >= 2 { proof.lemma[1..proof.lemma.len() - 1].to_vec() } else { Vec::new() }
}

/// Proves chunk `chunk_index` of `record` from what this node holds: `held(segment)` gives a
/// held data segment's bytes (last chunk zero-padded) and the proof it was uploaded with. None
/// when the node lacks what the proof needs.
pub fn prove(record: &FileRecord, chunk_index: u64, held: impl Fn(u64) -> Option<(Vec<u8>, Proof)>) -> Option<SectorProof> {
    if chunk_index >= record.sectors {
        return None;
    }
    let segment = chunk_index / SEGMENT_CHUNKS as u64;
    let within = (chunk_index % SEGMENT_CHUNKS as u64) as usize;
    let width = (record.sectors - segment * SEGMENT_CHUNKS as u64).min(SEGMENT_CHUNKS as u64) as usize;
    let data_segments = record.data_segments();
    let (hashes, chunk, outer) = if segment < data_segments {
        let (data, proof) = held(segment)?;
        let mut hashes = merkle::chunk_hashes(&data);
        hashes.resize(width, merkle::empty_chunk_hash());
        let chunk = data.get(within * CHUNK_SIZE..(within + 1) * CHUNK_SIZE).map(<[u8]>::to_vec).unwrap_or_else(|| vec![0; CHUNK_SIZE]);
        (hashes, chunk, inner_siblings(&proof))
    } else {
        // A padding-only segment: its siblings need every segment root, so every data segment.
        let padded_segments = record.padded_segments();
        let mut roots = Vec::with_capacity(padded_segments as usize);
        for index in 0..padded_segments {
            let root = if index < data_segments {
                let (data, _) = held(index)?;
                merkle::segment_root(record.size, index, &merkle::chunk_hashes(&data))
            } else {
                merkle::segment_root(record.size, index, &[])
            };
            roots.push(root);
        }
        let outer = MerkleTree::build(roots).proof(segment as usize)?;
        (vec![merkle::empty_chunk_hash(); width], vec![0; CHUNK_SIZE], inner_siblings(&outer))
    };
    let inner = MerkleTree::build(hashes).proof(within)?;
    let mut siblings = inner_siblings(&inner);
    siblings.extend(outer);
    Some(SectorProof { chunk, siblings })
}

pub mod shard_proof;

#[cfg(test)]
pub(crate) mod tests;
