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
