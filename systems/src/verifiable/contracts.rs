//! Verifiable compute's contracts (`assets/contracts/{ModelRegistry,VerifiedInference}.sol`):
//! their genesis addresses, their ABI, and the hashes users and providers sign.

use alloy_primitives::{Address, B256, U256, address, keccak256};
use alloy_sol_types::{SolValue, sol};
use halo2_proofs::pasta::Fp;

use zg_components::chain::GenesisAccount;

use super::circuit::field_to_word;

pub const MODEL_REGISTRY_ADDRESS: Address = address!("00000000000000000000000000000000000c0de1");
pub const VERIFIED_INFERENCE_ADDRESS: Address = address!("00000000000000000000000000000000000c0de2");

sol! {
    #[derive(Debug, Default, PartialEq, Eq)]
    struct VerifiedRequest {
        address user;
        address provider;
        bytes32 modelId;
        uint256 nonce;
        bytes32 inputCommitment;
        uint256 fee;
    }

    #[derive(Debug, Default, PartialEq, Eq)]
    struct VerifiedResult {
        VerifiedRequest request;
        bytes userSignature;
        int256[] logits;
        bytes proof;
    }

    #[derive(Debug, Default, PartialEq, Eq)]
    struct WrongResultEvidence {
        int256[] logits;
        bytes proof;
        bytes providerSignature;
        int256[] honestLogits;
        bytes honestProof;
    }

    interface IModelRegistry {
        function register(bytes32 modelId, bytes calldata model, bytes32 vkHash) external payable;
        function inspect(bytes calldata model) external view returns (uint32 k, bool provable);
        function registrationFee(uint32 k) external view returns (uint256);
        function activationDelay() external view returns (uint64);
        function verifyInference(bytes32 modelId, bytes32[] calldata publicInputs, bytes calldata proof) external view returns (bool);
        function verifyInferenceBatch(bytes32 modelId, bytes32[][] calldata publicInputs, bytes[] calldata proofs) external view returns (bool[] memory verified);
        function getModel(bytes32 modelId) external view returns (address owner, bytes32 modelHash, bytes32 vkHash, uint32 k, uint32 size, uint64 registeredAt, uint64 activeAt);
        function modelBytes(bytes32 modelId) external view returns (bytes memory);
        function modelCount() external view returns (uint256);
        function modelIdAt(uint256 index) external view returns (bytes32);
        event ModelRegistered(bytes32 indexed modelId, address indexed owner, bytes32 modelHash, bytes32 vkHash, uint32 k, uint64 activeAt, bytes model);
    }

    interface IVerifiedInference {
        function registerProvider(bytes32 modelId, uint256 price, string calldata url) external payable;
        function providers(address provider) external view returns (bytes32 modelId, uint256 price, uint256 stake, string memory url, bool slashed);
        function deposit() external payable;
        function requestWithdrawal(uint256 amount) external;
        function withdraw(uint256 amount) external;
        function pendingWithdrawal(address user) external view returns (uint256 amount, uint256 unlockAt);
        function WITHDRAW_DELAY() external view returns (uint256);
        function balanceOf(address user) external view returns (uint256);
        function lastNonce(address user, address provider) external view returns (uint256);
        function settle(VerifiedResult[] calldata results) external returns (uint256 paid, uint256 refused);
        function reportWrongResult(VerifiedRequest calldata request, WrongResultEvidence calldata evidence) external;
        event Settled(address indexed provider, address indexed user, uint256 nonce, uint256 fee);
        event Refused(address indexed provider, address indexed user, uint256 nonce, uint8 reason);
        event Slashed(address indexed provider, address indexed reporter, bytes32 resultHash, uint256 amount);
        event ProviderRegistered(address indexed provider, bytes32 indexed modelId, uint256 price, uint256 stake, string url);
    }

    /// The same evidence handed to the market through the AI alignment manager (0x…4011), which
    /// passes the reporter's reward to the accusing operator or takes its penalty.
    interface IAlignmentAccusations {
        function accuseVerifiedResult(VerifiedRequest calldata request, WrongResultEvidence calldata evidence) external;
    }
}

/// The hash a user signs (`personal_sign`) for a request, as `VerifiedInference.requestHash`.
pub fn request_hash(contract: Address, chain_id: u64, request: &VerifiedRequest) -> B256 {
    keccak256(
        (contract, U256::from(chain_id), request.user, request.provider, request.modelId, request.nonce, request.inputCommitment, request.fee)
            .abi_encode_params(),
    )
}

/// The hash a provider signs for a result, as `VerifiedInference.resultHash`.
pub fn result_hash(contract: Address, chain_id: u64, request: &VerifiedRequest, logits: &[i64], proof: &[u8]) -> B256 {
    let packed: Vec<u8> = logits.iter().flat_map(|l| alloy_primitives::I256::try_from(*l).unwrap_or_default().to_be_bytes::<32>()).collect();
    keccak256((request_hash(contract, chain_id, request), keccak256(packed), keccak256(proof)).abi_encode_params())
}

/// The registry's id for a model: keccak-256 of its name (any 32 bytes will do on chain).
pub fn model_id(name: &str) -> B256 {
    keccak256(name.as_bytes())
}

pub fn commitment_word(commitment: &Fp) -> B256 {
    B256::from(field_to_word(commitment))
}

/// The registry's parameters: seconds from registration to the first verification (the nodes
/// derive the model's key meanwhile) and the fee burnt per circuit row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistryParams {
    pub activation_delay_secs: u64,
    pub fee_per_row: U256,
}

/// The two contracts' genesis accounts (the verifier reads the registry's address baked in).
pub fn genesis_accounts(
    registry_code: &[u8],
    verified_code: &[u8],
    params: RegistryParams,
) -> Result<Vec<(Address, GenesisAccount)>, crate::chain::genesis::DeployError> {
    let mut verified = verified_code.to_vec();
    verified.extend(MODEL_REGISTRY_ADDRESS.abi_encode());
    let mut registry = registry_code.to_vec();
    registry.extend((params.activation_delay_secs, params.fee_per_row).abi_encode_params());
    Ok(vec![
        (MODEL_REGISTRY_ADDRESS, crate::chain::genesis::deploy_contract(&registry, U256::ZERO)?),
        (VERIFIED_INFERENCE_ADDRESS, crate::chain::genesis::deploy_contract(&verified, U256::ZERO)?),
    ])
}
