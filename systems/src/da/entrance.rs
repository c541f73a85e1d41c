//! The DA entrance contract (`assets/contracts/DAEntrance.sol`): where genesis places it, its
//! parameters, and how its events read.

use alloy_primitives::{Address, B256, Log, U256, address};
use alloy_sol_types::{SolEvent, SolValue, sol};

use zg_components::chain::GenesisAccount;

pub const DA_ENTRANCE_ADDRESS: Address = address!("0000000000000000000000000000000000003000");

sol! {
    event DataUpload(address sender, bytes32 dataRoot, uint256 epoch, uint256 quorumId, uint256 blobPrice);
    event ErasureCommitmentVerified(bytes32 dataRoot, uint256 epoch, uint256 quorumId);
    event BlobRejected(bytes32 indexed dataRoot, address prover, uint256 slashedAttesters);
    event SampleAccepted(bytes32 indexed dataRoot, address sampler, uint256 round, uint256 row, uint256 column, uint256 reward);

    struct SampleResponse {
        bytes32 dataRoot;
        uint256 k;
        uint256 row;
        uint256 column;
        bool throughRow;
        bytes share;
        bytes32[] toAxis;
        bytes32[] toRoot;
        bytes32 signer;
        bytes signature;
        uint256 slotRank;
    }

    interface IDAEntrance {
        function epoch() external view returns (uint256);
        function blobPrice() external view returns (uint256);
        function fraudWindowBlocks() external view returns (uint256);
        function attestTimeoutBlocks() external view returns (uint256);
        function tokensPerVote() external view returns (uint256);
        function signers() external view returns (bytes32[] memory keys, uint256[] memory stakes);
        function votesOf(uint256 stake) external view returns (uint256);
        function submitOriginalData(bytes32[] calldata dataRoots) external payable;
        function submitBlobs(bytes32[] calldata dataRoots, uint32[] calldata ks) external payable;
        function kOf(bytes32 dataRoot) external view returns (uint32);
        function submitVerifiedCommitRoots(bytes32 dataRoot, bytes32[] calldata keys, bytes[] calldata signatures) external;
        function submitFraudProof(bytes calldata proof) external;
        function statusOf(bytes32 dataRoot) external view returns (uint8);
        function attestersOf(bytes32 dataRoot) external view returns (bytes32[] memory);
        function attestationMessage(bytes32 dataRoot, uint256 epoch, uint256 quorumId) external view returns (bytes memory);
        function samplePeriod() external view returns (uint256);
        function sampleWindowBlocks() external view returns (uint256);
        function podasTarget() external view returns (uint256);
        function sampleSeed() external view returns (uint256 round, bytes32 seed);
        function sampleQuality(bytes32 seed, bytes32 dataRoot, uint256 row, uint256 column, bytes calldata share) external pure returns (uint256);
        function submitSamplingResponse(SampleResponse calldata r) external;
        function samplingMessage(uint256 round, bytes32 dataRoot, uint256 row, uint256 column, address payee) external view returns (bytes memory);
        function slotOf(bytes32 seed, uint256 total, uint256 rank) external pure returns (uint256);
        function holdsAxis(bytes32 dataRoot, uint256 k, bytes32 signer, uint256 rank, uint256 row, uint256 column) external view returns (bool);
    }
}

/// What the entrance is deployed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntranceParams {
    /// The staking contract whose validators sign; None: `fixed_signers` (a chain without staking).
    pub staking: Option<Address>,
    /// Wei per blob.
    pub blob_price: U256,
    pub fraud_window_blocks: u64,
    pub attest_timeout_blocks: u64,
    /// Wei of stake per vote.
    pub tokens_per_vote: U256,
    pub max_votes_per_signer: u64,
    /// (ed25519 key, stake in wei) when there is no staking contract.
    pub fixed_signers: Vec<([u8; 32], U256)>,
    /// Blocks per sampling round (at most 256).
    pub sample_period: u64,
    /// Confirmed blobs are sampled this many blocks.
    pub sample_window_blocks: u64,
    /// The first round's target (a response is valid when its quality is at most this).
    pub podas_target: U256,
}

/// The entrance's genesis account for `creation_code` (the artifact's bytecode) and `params`.
pub fn genesis_account(creation_code: &[u8], params: &EntranceParams) -> Result<GenesisAccount, crate::chain::genesis::DeployError> {
    let args = (
        params.staking.unwrap_or(Address::ZERO),
        params.blob_price,
        U256::from(params.fraud_window_blocks),
        U256::from(params.attest_timeout_blocks),
        params.tokens_per_vote,
        U256::from(params.max_votes_per_signer),
        U256::from(params.sample_period),
        U256::from(params.sample_window_blocks),
        params.podas_target,
        params.fixed_signers.iter().map(|(key, _)| B256::from(*key)).collect::<Vec<_>>(),
        params.fixed_signers.iter().map(|(_, stake)| *stake).collect::<Vec<_>>(),
    )
        .abi_encode_params();
    let mut init = creation_code.to_vec();
    init.extend_from_slice(&args);
    crate::chain::genesis::deploy_contract(&init, U256::ZERO)
}

/// Whether genesis placed the entrance in the state.
pub fn is_deployed(world: &bevy_ecs::world::World) -> bool {
    crate::chain::evm::account_info(world, &DA_ENTRANCE_ADDRESS).is_some_and(|info| info.has_code())
}

/// Whether the deployed entrance is the one this node speaks to (it answers `kOf`, which the
/// entrances from before domain-separated commitments lack).
pub fn is_current(world: &bevy_ecs::world::World) -> bool {
    view(world, IDAEntrance::kOfCall { dataRoot: B256::ZERO }).is_some()
}

/// A view of the entrance against the world's current state, decoded.
fn view<C: alloy_sol_types::SolCall>(world: &bevy_ecs::world::World, call: C) -> Option<C::Return> {
    let output = crate::consensus::staking::call_view(world, DA_ENTRANCE_ADDRESS, call.abi_encode()).ok()?;
    C::abi_decode_returns(&output).ok()
}

/// The entrance's windows, read from its state.
pub fn windows(world: &bevy_ecs::world::World) -> Option<zg_components::da::DaWindows> {
    Some(zg_components::da::DaWindows {
        fraud_window_blocks: u64::try_from(view(world, IDAEntrance::fraudWindowBlocksCall {})?).ok()?,
        attest_timeout_blocks: u64::try_from(view(world, IDAEntrance::attestTimeoutBlocksCall {})?).ok()?,
    })
}

/// A DA signer: its ed25519 key and its voting power (whole tokens of stake).
pub type Signer = ([u8; 32], u64);

/// Whole tokens of stake per vote, and the fixed signers of a chain without staking, read from
/// the entrance's state.
pub fn signer_rules(world: &bevy_ecs::world::World) -> Option<(u64, Vec<Signer>)> {
    let one = U256::from(10u64).pow(U256::from(18));
    let per_vote = view(world, IDAEntrance::tokensPerVoteCall {})? / one;
    let signers = view(world, IDAEntrance::signersCall {})?;
    let fixed = signers.keys.iter().zip(&signers.stakes).map(|(key, stake)| (key.0, zg_components::consensus::voting_power_of(*stake))).collect();
    Some((u64::try_from(per_vote).ok()?.max(1), fixed))
}

/// Attestation gas when it cannot be estimated: the call and storage, per key submitted (the
/// ed25519 precompile, storing the key), per member of the set (reading it from staking) and
/// per key and member (the contract's membership scan, ~100 gas an iteration: a small term, so
/// 100 signers of 100 members stay far under a block's gas).
const ATTEST_BASE_GAS: u64 = 150_000;
const ATTEST_GAS_PER_KEY: u64 = 30_000;
const ATTEST_GAS_PER_MEMBER: u64 = 10_000;
const ATTEST_GAS_PER_SCAN: u64 = 150;

/// The attestation's gas limit without an estimate, for `keys` signatures over `members` signers.
pub fn attest_gas_bound(keys: u64, members: u64) -> u64 {
    ATTEST_BASE_GAS + ATTEST_GAS_PER_KEY * keys + ATTEST_GAS_PER_MEMBER * members + ATTEST_GAS_PER_SCAN * keys * members
}

/// What an attester signs to claim a sampling reward for `payee`, as the entrance's
/// `samplingMessage`: "ZGDS" ‖ chain id (8) ‖ round (8) ‖ data root ‖ row (4) ‖ column (4) ‖ payee.
pub fn sampling_message(chain_id: u64, round: u64, data_root: &B256, row: u32, column: u32, payee: &Address) -> Vec<u8> {
    let mut message = Vec::with_capacity(80);
    message.extend_from_slice(b"ZGDS");
    message.extend_from_slice(&chain_id.to_be_bytes());
    message.extend_from_slice(&round.to_be_bytes());
    message.extend_from_slice(data_root.as_slice());
    message.extend_from_slice(&row.to_be_bytes());
    message.extend_from_slice(&column.to_be_bytes());
    message.extend_from_slice(payee.as_slice());
    message
}

/// A sampling response's quality, as the entrance computes it (lower is better).
pub fn sample_quality(seed: &B256, data_root: &B256, row: u32, column: u32, share: &[u8]) -> U256 {
    let mut preimage = Vec::with_capacity(104);
    preimage.extend_from_slice(seed.as_slice());
    preimage.extend_from_slice(data_root.as_slice());
    preimage.extend_from_slice(&row.to_be_bytes());
    preimage.extend_from_slice(&column.to_be_bytes());
    preimage.extend_from_slice(alloy_primitives::keccak256(share).as_slice());
    U256::from_be_bytes(alloy_primitives::keccak256(&preimage).0)
}

/// An entrance event, as the DA domain follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntranceEvent {
    Uploaded { data_root: B256, submitter: Address, epoch: u64, quorum: u64 },
    Verified { data_root: B256, epoch: u64, quorum: u64 },
    Rejected { data_root: B256, prover: Address },
}

/// The entrance's event in `log`, if it is one.
pub fn decode_event(log: &Log) -> Option<EntranceEvent> {
    if log.address != DA_ENTRANCE_ADDRESS {
        return None;
    }
    let topic = *log.topics().first()?;
    let to_u64 = |value: U256| u64::try_from(value).ok();
    if topic == DataUpload::SIGNATURE_HASH {
        let event = DataUpload::decode_log(log).ok()?.data;
        return Some(EntranceEvent::Uploaded {
            data_root: event.dataRoot,
            submitter: event.sender,
            epoch: to_u64(event.epoch)?,
            quorum: to_u64(event.quorumId)?,
        });
    }
    if topic == ErasureCommitmentVerified::SIGNATURE_HASH {
        let event = ErasureCommitmentVerified::decode_log(log).ok()?.data;
        return Some(EntranceEvent::Verified { data_root: event.dataRoot, epoch: to_u64(event.epoch)?, quorum: to_u64(event.quorumId)? });
    }
    if topic == BlobRejected::SIGNATURE_HASH {
        let event = BlobRejected::decode_log(log).ok()?.data;
        return Some(EntranceEvent::Rejected { data_root: event.dataRoot, prover: event.prover });
    }
    None
}

#[cfg(test)]
#[path = "entrance_tests.rs"]
mod contract_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_other_contracts_or_kinds_are_not_read() {
        let data = ErasureCommitmentVerified { dataRoot: B256::repeat_byte(1), epoch: U256::from(3), quorumId: U256::ZERO };
        let log = Log { address: DA_ENTRANCE_ADDRESS, data: data.encode_log_data() };
        assert_eq!(decode_event(&log), Some(EntranceEvent::Verified { data_root: B256::repeat_byte(1), epoch: 3, quorum: 0 }));
        let elsewhere = Log { address: Address::repeat_byte(9), data: data.encode_log_data() };
        assert_eq!(decode_event(&elsewhere), None);
        let huge = ErasureCommitmentVerified { dataRoot: B256::ZERO, epoch: U256::MAX, quorumId: U256::ZERO };
        assert_eq!(decode_event(&Log { address: DA_ENTRANCE_ADDRESS, data: huge.encode_log_data() }), None);
    }
}
