//! The Flow and FixedPrice market contracts (`assets/contracts/Flow.sol`): where genesis places
//! them and how a `Submit` event reads.

use alloy_primitives::{Address, Log, U256, address};
use alloy_sol_types::{SolEvent, SolValue, sol};

use zg_components::chain::GenesisAccount;
use zg_components::storage::FileRecord;

pub const FLOW_ADDRESS: Address = address!("0000000000000000000000000000000000002000");
pub const MARKET_ADDRESS: Address = address!("0000000000000000000000000000000000002001");
/// Wei per 256-byte sector: 1 GiB costs 0.004 0G.
pub const DEFAULT_PRICE_PER_SECTOR: u64 = 1_000_000_000;

sol! {
    struct SubmissionNode { bytes32 root; uint256 height; }
    struct SubmissionData { uint256 length; bytes tags; SubmissionNode[] nodes; }
    struct Submission { SubmissionData data; address submitter; }

    event Submit(address indexed sender, bytes32 indexed identity, uint256 submissionIndex, uint256 startPos, uint256 length, SubmissionData submission);

    interface IFlow {
        function market() external view returns (address);
        function numSubmissions() external view returns (uint256);
        function submit(Submission calldata submission) external payable returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length);
    }

    interface IMarket {
        function pricePerSector() external view returns (uint256);
    }
}

/// The two contracts' genesis accounts: (address, code and storage).
pub fn genesis_accounts(
    flow_creation: &[u8],
    market_creation: &[u8],
    price_per_sector: U256,
) -> Result<Vec<(Address, GenesisAccount)>, crate::chain::genesis::DeployError> {
    let mut market = market_creation.to_vec();
    market.extend(price_per_sector.abi_encode());
    let mut flow = flow_creation.to_vec();
    flow.extend(MARKET_ADDRESS.abi_encode());
    Ok(vec![
        (FLOW_ADDRESS, crate::chain::genesis::deploy_contract(&flow, U256::ZERO)?),
        (MARKET_ADDRESS, crate::chain::genesis::deploy_contract(&market, U256::ZERO)?),
    ])
}

/// A `Submit` event of the Flow contract as a file record; anything else is None.
pub fn decode_submit(log: &Log, block_number: u64) -> Option<FileRecord> {
    if log.address != FLOW_ADDRESS || log.topics().first() != Some(&Submit::SIGNATURE_HASH) {
        return None;
    }
    let event = Submit::decode_log(log).ok()?.data;
    let to_u64 = |value: U256| u64::try_from(value).ok();
    let nodes = event
        .submission
        .nodes
        .iter()
        .map(|n| Some((n.root.0, to_u64(n.height)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(FileRecord {
        tx_seq: to_u64(event.submissionIndex)?,
        root: event.identity.0,
        size: to_u64(event.submission.length)?,
        start_entry_index: to_u64(event.startPos)?,
        sectors: to_u64(event.length)?,
        nodes,
        submitter: event.sender.0 .0,
        block_number,
        tags: event.submission.tags.to_vec(),
        tx_from: event.sender.0 .0,
    })
}

/// The files a transaction sent by `tx_from` published (its receipt's `Submit` events).
pub fn submissions_of<'a>(receipt: &'a zg_components::chain::TxReceipt, tx_from: Address, block_number: u64) -> impl Iterator<Item = FileRecord> + 'a {
    receipt.logs.iter().filter_map(move |log| decode_submit(log, block_number)).map(move |record| FileRecord { tx_from: tx_from.0 .0, ..record })
}

/// The flow's Merkle root and length in sectors (0G's `zgs_getFlowContext`): the tree over every
/// sector, with each submission's pieces as its subtrees (they sit aligned to their size) and
/// the padding between files and past the end as zero sectors, up to the next power of two.
pub fn flow_context(files: &[FileRecord]) -> (alloy_primitives::B256, u64) {
    use zg_components::storage::merkle::{empty_chunk_hash, hash_pair};
    let mut pieces: Vec<(u64, u64, alloy_primitives::B256)> = Vec::new();
    for file in files {
        let mut at = file.start_entry_index;
        for (root, height) in &file.nodes {
            pieces.push((at, *height, alloy_primitives::B256::from(*root)));
            at += 1u64 << height;
        }
    }
    pieces.sort_by_key(|(start, _, _)| *start);
    let length = files.iter().map(|f| f.start_entry_index + f.sectors).max().unwrap_or(0);
    let height = u64::from(length.max(1).next_power_of_two().trailing_zeros());
    let mut empty = vec![empty_chunk_hash()];
    for level in 0..height as usize {
        empty.push(hash_pair(&empty[level], &empty[level]));
    }
    fn subtree(start: u64, height: u64, pieces: &[(u64, u64, alloy_primitives::B256)], empty: &[alloy_primitives::B256]) -> alloy_primitives::B256 {
        let end = start + (1u64 << height);
        let first = pieces.partition_point(|(at, _, _)| *at < start);
        let inside = &pieces[first..pieces[first..].partition_point(|(at, _, _)| *at < end) + first];
        match inside {
            [] => empty[height as usize],
            [(at, piece_height, root)] if *at == start && *piece_height == height => *root,
            _ if height == 0 => empty[0],
            _ => {
                let half = 1u64 << (height - 1);
                hash_pair(&subtree(start, height - 1, inside, empty), &subtree(start + half, height - 1, inside, empty))
            }
        }
    }
    (subtree(0, height, &pieces, &empty), length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zg_components::storage::merkle::{FileCommitment, empty_chunk_hash, hash_pair};

    #[test]
    fn a_flow_of_one_whole_piece_has_the_files_root_and_padding_hashes_as_zero_sectors() {
        assert_eq!(flow_context(&[]), (empty_chunk_hash(), 0));
        let data = vec![7u8; 4 * 256];
        let first = FileRecord::from_commitment(0, &FileCommitment::of(&data));
        assert_eq!(first.sectors, 4);
        assert_eq!(flow_context(std::slice::from_ref(&first)), (first.root(), 4));
        // A one-sector file after it: sectors 4..5, padded with three zero sectors.
        let mut second = FileRecord::from_commitment(1, &FileCommitment::of(&[1u8; 100]));
        second.start_entry_index = 4;
        let piece = alloy_primitives::B256::from(second.nodes[0].0);
        let right = hash_pair(&hash_pair(&piece, &empty_chunk_hash()), &hash_pair(&empty_chunk_hash(), &empty_chunk_hash()));
        assert_eq!(flow_context(&[first.clone(), second]), (hash_pair(&first.root(), &right), 5));
    }
}
