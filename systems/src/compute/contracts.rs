//! The marketplace's contracts (`assets/contracts/{LedgerManager,InferenceServing,
//! FineTuningServing}.sol`): where genesis places them — the addresses 0G's user SDK
//! (`@0glabs/0g-serving-broker` 0.7) picks for chain id 31337 — their parameters, and the
//! settlement message a provider's signer signs.

use alloy_primitives::{Address, B256, U256, address, keccak256};
use alloy_sol_types::{SolValue, sol};

use zg_components::chain::GenesisAccount;

pub const LEDGER_ADDRESS: Address = address!("9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0");
pub const INFERENCE_ADDRESS: Address = address!("0165878A594ca255338adfa4d48449f69242Eb8F");
pub const FINE_TUNING_ADDRESS: Address = address!("A51c1fc2f0D1a1b8494Ed1FE312d7C3a78Ed91C0");

/// Hardhat's first dev account, whose CREATE addresses at nonces 2, 6 and 12 the three are
/// (0G deploys them from it in that order). Genesis starts it at nonce 13, as after that
/// deployment, so its own deployments never land on them.
pub const DEPLOYER: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
pub const DEPLOYER_NONCE: u64 = 13;

/// The service names the ledger registers its two serving contracts under.
/// The stake a new inference or fine-tuning service posts (both contracts' minimum), in 0G.
pub const PROVIDER_STAKE_0G: u64 = 100;
pub const INFERENCE_SERVICE_NAME: &str = "inference-v1.0";
pub const FINE_TUNING_SERVICE_NAME: &str = "fine-tuning-v1.0";

sol! {
    struct TEESettlementData {
        address user;
        address provider;
        uint256 totalFee;
        bytes32 requestsHash;
        uint256 nonce;
        bytes signature;
    }

    struct InferenceServiceParams {
        string serviceType;
        string url;
        string model;
        string verifiability;
        uint256 inputPrice;
        uint256 outputPrice;
        string additionalInfo;
        address teeSignerAddress;
    }

    struct LedgerInfo {
        address user;
        uint256 availableBalance;
        uint256 totalBalance;
        string additionalInfo;
    }

    struct FineTuningQuota {
        uint256 cpuCount;
        uint256 nodeMemory;
        uint256 gpuCount;
        uint256 nodeStorage;
        string gpuType;
    }

    struct FineTuningVerifierInput {
        string id;
        bytes encryptedSecret;
        bytes modelRootHash;
        uint256 nonce;
        bytes signature;
        uint256 taskFee;
        address user;
    }

    interface IFineTuningServing {
        function addOrUpdateService(string url, FineTuningQuota quota, uint256 pricePerToken, bool occupied, string[] models, address teeSignerAddress) external payable;
        function acknowledgeTEESignerByOwner(address provider) external;
        function acknowledgeTEESigner(address provider, bool acknowledged) external;
        function addDeliverable(address user, string id, bytes modelRootHash) external;
        function acknowledgeDeliverable(address provider, string id) external;
        function settleFees(FineTuningVerifierInput verifierInput) external;
        function getDeliverable(address user, address provider, string id) external view returns (FineTuningDeliverable);
        function getAccount(address user, address provider) external view returns (FineTuningAccount);
        function getService(address provider) external view returns (FineTuningService);
        function lockTime() external view returns (uint256);
        function penaltyPercentage() external view returns (uint256);
    }

    struct FineTuningDeliverable {
        string id;
        bytes modelRootHash;
        bytes encryptedSecret;
        bool acknowledged;
        uint248 timestamp;
        bool settled;
    }

    struct FineTuningAccount {
        address user;
        address provider;
        uint256 nonce;
        uint256 balance;
        uint256 pendingRefund;
        InferenceRefund[] refunds;
        string additionalInfo;
        FineTuningDeliverable[] deliverables;
        uint256 validRefundsLength;
        uint256 deliverablesHead;
        uint256 deliverablesCount;
        bool acknowledged;
    }

    struct FineTuningService {
        address provider;
        string url;
        FineTuningQuota quota;
        uint256 pricePerToken;
        bool occupied;
        string[] models;
        address teeSignerAddress;
        bool teeSignerAcknowledged;
    }

    struct InferenceRefund {
        uint256 index;
        uint256 amount;
        uint256 createdAt;
        bool processed;
    }

    struct InferenceAccount {
        address user;
        address provider;
        uint256 nonce;
        uint256 balance;
        uint256 pendingRefund;
        InferenceRefund[] refunds;
        string additionalInfo;
        bool acknowledged;
        uint256 validRefundsLength;
        uint256 generation;
        uint256 revokedBitmap;
    }

    struct InferenceService {
        address provider;
        string serviceType;
        string url;
        uint256 inputPrice;
        uint256 outputPrice;
        uint256 updatedAt;
        string model;
        string verifiability;
        string additionalInfo;
        address teeSignerAddress;
        bool teeSignerAcknowledged;
    }

    /// The reverts a user meets, for clear messages.
    interface IMarketErrors {
        error InsufficientAvailableBalance(uint256 available, uint256 required);
        error LedgerExists(address user);
        error LedgerNotExists(address user);
        error MinimumDepositRequired(uint256 provided, uint256 required);
        error MustWithdrawAllFundsFirst(uint256 remainingBalance);
        error InvalidServiceType(string serviceType);
        error TooManyProviders(uint256 requested, uint256 maximum);
        error TooManyProvidersForService(uint256 current, uint256 maximum);
        error ZeroAmountNotAllowed();
        error AccountNotExists(address user, address provider);
        error ServiceNotExist(address provider);
        error TooManyRefunds(address user, address provider);
        error CannotRevokeWithNonZeroBalance(address user, address provider, uint256 balance);
        error InsufficientStake(uint256 provided, uint256 required);
    }

    /// FineTuningServing's own refusals (a provider's delivery and settlement meet these).
    interface IFineTuningErrors {
        error InvalidVerifierInput(string reason);
        error DeliverableAlreadyExists(string id);
        error DeliverableAlreadySettled(string id);
        error DeliverableNotExists(string id);
        error PreviousDeliverableNotAcknowledged(string id);
        error SecretShouldBeEmpty();
        error SecretShouldNotBeEmpty();
    }

    interface ILedgerManager {
        function addLedger(string additionalInfo) external payable returns (uint256, uint256);
        function depositFund() external payable;
        function getLedgerProviders(address user, string serviceName) external view returns (address[]);
        function refund(uint256 amount) external;
        function transferFund(address provider, string serviceName, uint256 amount) external;
        function retrieveFund(address[] providers, string serviceName) external;
        function getLedger(address user) external view returns (LedgerInfo ledger);
    }

    interface IInferenceServing {
        function addOrUpdateService(InferenceServiceParams params) external payable;
        function acknowledgeTEESignerByOwner(address provider) external;
        function acknowledgeTEESigner(address provider, bool acknowledged) external;
        function settleFeesWithTEE(TEESettlementData[] settlements) external returns (uint8[] statuses);
        function accountExists(address user, address provider) external view returns (bool);
        function lockTime() external view returns (uint256);
        function getAccount(address user, address provider) external view returns (InferenceAccount account);
        function getAllServices(uint256 offset, uint256 limit) external view returns (InferenceService[] services, uint256 total);
        function getService(address provider) external view returns (InferenceService service);
        function getAccountsByProvider(address provider, uint256 offset, uint256 limit) external view returns (InferenceAccount[] accounts, uint256 total);
        function revokeToken(address provider, uint8 tokenId) external;
        function revokeAllTokens(address provider) external;
    }
}

/// The serving contract's service events (the auditor's view of the chat services on offer);
/// an event of eight fields gets an eight-argument constructor.
#[allow(clippy::too_many_arguments)]
pub mod inference_events {
    alloy_sol_types::sol! {
        interface IInferenceServingEvents {
            event ServiceUpdated(address indexed service, string serviceType, string url, uint256 inputPrice, uint256 outputPrice, uint256 updatedAt, string model, string verifiability);
            event ServiceRemoved(address indexed service);
        }
    }
}

/// `settleFeesWithTEE`'s per-settlement statuses.
pub mod settlement_status {
    pub const SUCCESS: u8 = 0;
    pub const PARTIAL: u8 = 1;
    pub const PROVIDER_MISMATCH: u8 = 2;
    pub const NO_TEE_SIGNER: u8 = 3;
    pub const INVALID_NONCE: u8 = 4;
    pub const INVALID_SIGNATURE: u8 = 5;
    pub const NOT_ACKNOWLEDGED: u8 = 6;
    pub const NO_ACCOUNT: u8 = 7;
}

/// What the provider's signer signs (with `personal_sign`) for one settlement.
pub fn settlement_digest(requests_hash: B256, nonce: U256, provider: Address, user: Address, total_fee: U256) -> B256 {
    keccak256((requests_hash, nonce, provider, user, total_fee).abi_encode_packed())
}

/// What the provider's signer signs (with `personal_sign`) to settle a fine-tuning task.
pub fn fine_tuning_digest(input: &FineTuningVerifierInput, provider: Address) -> B256 {
    keccak256(
        (
            input.id.clone(),
            input.encryptedSecret.clone(),
            input.modelRootHash.clone(),
            input.nonce,
            provider,
            input.user,
            input.taskFee,
        )
            .abi_encode_packed(),
    )
}

/// The marketplace's genesis parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketParams {
    /// May acknowledge providers' signers and change lock times.
    pub owner: Address,
    /// Seconds a refund waits before it leaves a sub-account.
    pub lock_time_secs: u64,
    /// Share (percent) of a fine-tuning fee paid for a deliverable the user never acknowledged.
    pub penalty_percent: u64,
}

/// The three contracts' creation code (the artifacts' `bytecode`).
pub struct MarketCode<'a> {
    pub ledger: &'a [u8],
    pub inference: &'a [u8],
    pub fine_tuning: &'a [u8],
}

/// The three genesis accounts, at the SDK's addresses.
pub fn genesis_accounts(code: &MarketCode<'_>, params: &MarketParams) -> Result<Vec<(Address, GenesisAccount)>, crate::chain::genesis::DeployError> {
    let deploy = |creation: &[u8], args: Vec<u8>| {
        let mut init = creation.to_vec();
        init.extend_from_slice(&args);
        crate::chain::genesis::deploy_contract(&init, U256::ZERO)
    };
    let lock = U256::from(params.lock_time_secs);
    Ok(vec![
        (DEPLOYER, GenesisAccount { nonce: DEPLOYER_NONCE, ..Default::default() }),
        (LEDGER_ADDRESS, deploy(code.ledger, (params.owner, INFERENCE_ADDRESS, FINE_TUNING_ADDRESS).abi_encode_params())?),
        (INFERENCE_ADDRESS, deploy(code.inference, (params.owner, LEDGER_ADDRESS, lock).abi_encode_params())?),
        (
            FINE_TUNING_ADDRESS,
            deploy(code.fine_tuning, (params.owner, LEDGER_ADDRESS, lock, U256::from(params.penalty_percent)).abi_encode_params())?,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_addresses_are_the_deployers_creates_below_its_genesis_nonce() {
        assert_eq!(DEPLOYER.create(2), LEDGER_ADDRESS);
        assert_eq!(DEPLOYER.create(6), INFERENCE_ADDRESS);
        assert_eq!(DEPLOYER.create(12), FINE_TUNING_ADDRESS);
        assert_eq!(DEPLOYER.create(DEPLOYER_NONCE - 1), FINE_TUNING_ADDRESS, "the last deployment is just below the genesis nonce");
    }
}
