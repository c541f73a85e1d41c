//! AI alignment nodes on chain, as genesis places them: the soulbound-then-tradeable licence
//! NFT at [`LICENSE_ADDRESS`] and the manager at [`MANAGER_ADDRESS`] (operators, bonds, epoch
//! reports, the vesting rewards out of the 15 % allocation, evidence judged through the markets),
//! and the auditor's tick ([`audits`]): targets drawn from the chain's seed, checked, reported.

pub mod audits;

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::{SolValue, sol};

use zg_components::chain::GenesisAccount;

use crate::chain::genesis::{DeployError, deploy_contract_at};

pub const LICENSE_ADDRESS: Address = address!("0000000000000000000000000000000000004010");
pub const MANAGER_ADDRESS: Address = address!("0000000000000000000000000000000000004011");
/// Gas the manager forwards to the market judging an accusation (`AlignmentManager.JUDGE_GAS`).
pub const JUDGE_GAS: u64 = 15_000_000;

sol! {
    interface IAlignmentLicense {
        function ownerOf(uint256 tokenId) external view returns (address);
        function balanceOf(address owner) external view returns (uint256);
        function totalLicences() external view returns (uint256);
        function lockedEpochs() external view returns (uint256);
        function transferFrom(address from, address to, uint256 tokenId) external;
    }
    interface IAlignmentManager {
        function currentEpoch() external view returns (uint256);
        function seed(uint256 epoch) external view returns (bytes32);
        function epochBlocks() external view returns (uint256);
        function setOperator(uint256 tokenId, address operator) external;
        function operatorOf(uint256 tokenId) external view returns (address);
        function bond() external payable;
        function bondOf(address operator) external view returns (uint256);
        function minBond() external view returns (uint256);
        function withdrawBond() external;
        function submitReport(uint256 epoch, uint256[] calldata tokenIds, uint256 checked, uint256 failed, bytes32 digest) external;
        function reported(uint256 tokenId, uint256 epoch) external view returns (bool);
        function epochShare() external view returns (uint256);
        function claimable(uint256 tokenId) external view returns (uint256);
        function claim(uint256 tokenId) external;
        function pool() external view returns (uint256);
        function totalBonds() external view returns (uint256);
        event Reported(address indexed operator, uint256 indexed epoch, uint256[] tokenIds, uint256 checked, uint256 failed, bytes32 digest);
        function accuseBadSegment(uint256 txSeq, uint256 segment, bytes calldata data, bytes32[] calldata siblings, bytes calldata signature) external;
        function falseAccusationPenalty() external view returns (uint256);
        function JUDGE_GAS() external view returns (uint256);
        event Accused(address indexed operator, uint8 indexed kind, address indexed target, bool upheld, uint256 amount);
    }
}

pub use crate::verifiable::contracts::IAlignmentAccusations;

/// What genesis fixes about alignment nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlignmentParams {
    /// One licence each, token ids 1.. in this order.
    pub holders: Vec<Address>,
    /// Blocks per audit epoch; an epoch is a reward day.
    pub epoch_blocks: u64,
    /// Epochs the licences stay soulbound (a year of reward days).
    pub locked_epochs: u64,
    /// Daily parts the vesting 67 % is paid in (36 months of days).
    pub vesting_epochs: u64,
    pub reward_per_licence: U256,
    /// Share of a licence's reward claimable from launch, in basis points (0G: 33 %).
    pub launch_share_bps: u64,
    pub min_bond: U256,
    pub false_accusation_penalty: U256,
    /// Where the market that judges verifiable-inference evidence lives.
    pub verified_inference: Address,
    /// Where the PoRA mine that judges storage nodes' signed segment answers lives.
    pub pora_mine: Address,
}

impl AlignmentParams {
    /// Tokens the manager must hold at genesis to pay every licence in full.
    pub fn pool(&self) -> U256 {
        self.reward_per_licence * U256::from(self.holders.len())
    }
}

/// The creation code of the two contracts (from their compiled artifacts).
pub struct AlignmentCode<'a> {
    pub license: &'a [u8],
    pub manager: &'a [u8],
}

/// The licence and the manager, each constructed at its own address (they name each other).
/// The manager's pool is its balance: genesis grants it [`AlignmentParams::pool`].
pub fn genesis_accounts(code: &AlignmentCode<'_>, params: &AlignmentParams) -> Result<[(Address, GenesisAccount); 2], DeployError> {
    let mut license = code.license.to_vec();
    license.extend((MANAGER_ADDRESS, params.holders.clone(), U256::from(params.locked_epochs)).abi_encode_params());
    let mut manager = code.manager.to_vec();
    manager.extend(
        (
            LICENSE_ADDRESS,
            params.verified_inference,
            params.pora_mine,
            U256::from(params.epoch_blocks),
            U256::from(params.vesting_epochs),
            params.reward_per_licence,
            U256::from(params.launch_share_bps),
            params.min_bond,
            params.false_accusation_penalty,
        )
            .abi_encode_params(),
    );
    Ok([
        (LICENSE_ADDRESS, deploy_contract_at(LICENSE_ADDRESS, &license, &[])?),
        (MANAGER_ADDRESS, deploy_contract_at(MANAGER_ADDRESS, &manager, &[])?),
    ])
}

#[cfg(test)]
mod tests;
