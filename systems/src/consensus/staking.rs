//! The staking system contract as the chain sees it: where it lives, how genesis places it, how
//! the validator set is read from it, and the calls block execution makes to it (closing an
//! epoch, slashing a double signer).

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::{SolCall, sol};
use bevy_ecs::prelude::*;
use malachite_ed25519::PublicKey;

use zg_components::chain::GenesisAccount;
use zg_components::consensus::{Validator, ValidatorSet, ValidatorSetError, voting_power_of};

use crate::chain::evm;

/// Where genesis places the staking contract.
pub const STAKING_ADDRESS: Address = address!("0000000000000000000000000000000000001000");
/// Collects gas fees of consensus blocks until they are shared out at the end of the block.
pub const FEE_POOL_ADDRESS: Address = address!("0000000000000000000000000000000000001001");
/// The sender of the chain's own calls (the contract checks for it).
pub const SYSTEM_ADDRESS: Address = address!("fffffffffffffffffffffffffffffffffffffffe");
/// Most validators a set may hold (the highest stakes win).
pub const MAX_VALIDATORS: usize = 100;

sol! {
    interface IStaking {
        function activeValidators() external view returns (address[] memory ops, bytes32[] memory keys, uint256[] memory stakes);
        function currentValidators() external view returns (address[] memory ops, bytes32[] memory keys, uint256[] memory stakes);
        function closeEpoch() external;
        function slash(bytes32 consensusKey) external;
        function submitDoubleSign(bytes calldata voteA, bytes calldata sigA, bytes calldata voteB, bytes calldata sigB) external;
        function createValidator(bytes32 consensusKey) external payable;
        function delegate(address operator) external payable;
        function undelegate(address operator, uint256 amount) external;
        function withdraw() external;
        function stakeOf(address operator, address delegator) external view returns (uint256);
        function epoch() external view returns (uint256);
        function validators(address operator) external view returns (bytes32 consensusKey, uint256 totalStake, uint256 totalShares, bool jailed, bool exists);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    #[error("the staking contract call failed: {0}")]
    Call(String),
    #[error("the staking contract answered something undecodable: {0}")]
    Decode(String),
    #[error("the staking contract holds no usable validator set: {0}")]
    Set(#[from] ValidatorSetError),
    #[error("deploying the staking contract failed: {0}")]
    Deploy(#[from] crate::chain::genesis::DeployError),
}

/// One genesis validator: who operates it, its consensus key, and its stake in wei.
#[derive(Clone, Debug)]
pub struct GenesisValidator {
    pub operator: Address,
    pub consensus_key: [u8; 32],
    pub stake: U256,
}

/// Runs the contract's constructor in a scratch EVM and returns the account genesis should hold
/// at [`STAKING_ADDRESS`]: its runtime code and storage. The stake itself is the account's
/// balance, granted in genesis from an allocation.
pub fn genesis_account(
    creation_code: &[u8],
    validators: &[GenesisValidator],
    min_self_stake: U256,
    unbonding_blocks: u64,
    slash_percent: u64,
) -> Result<GenesisAccount, StakingError> {
    use alloy_sol_types::SolValue;
    let args = (
        validators.iter().map(|v| v.operator).collect::<Vec<_>>(),
        validators.iter().map(|v| B256::from(v.consensus_key)).collect::<Vec<_>>(),
        validators.iter().map(|v| v.stake).collect::<Vec<_>>(),
        min_self_stake,
        U256::from(unbonding_blocks),
        U256::from(slash_percent),
    )
        .abi_encode_params();
    let mut init = creation_code.to_vec();
    init.extend_from_slice(&args);
    let value: U256 = validators.iter().map(|v| v.stake).sum();
    Ok(crate::chain::genesis::deploy_contract(&init, value)?)
}

/// Calls a view of the staking contract against the world's current state.
fn view(world: &World, data: Vec<u8>) -> Result<Bytes, StakingError> {
    call_view(world, STAKING_ADDRESS, data)
}

/// Calls a view of any contract against the world's current state (no gas price, no nonce).
pub fn call_view(world: &World, to: Address, data: Vec<u8>) -> Result<Bytes, StakingError> {
    evm::call_view(world, to, data).map_err(StakingError::Call)
}

/// A validator's total stake and whether it is jailed, as the contract holds them now.
pub fn validator_status(world: &World, operator: Address) -> Result<(U256, bool), StakingError> {
    let output = view(world, IStaking::validatorsCall { operator }.abi_encode())?;
    let decoded = IStaking::validatorsCall::abi_decode_returns(&output).map_err(|e| StakingError::Decode(e.to_string()))?;
    Ok((decoded.totalStake, decoded.jailed))
}

/// Whether genesis placed a staking contract in the state.
pub fn is_deployed(world: &World) -> bool {
    evm::account_info(world, &STAKING_ADDRESS).is_some_and(|info| info.has_code())
}

/// The validator set in effect: the contract's epoch snapshot. Entries whose key is not a valid
/// ed25519 point are skipped (the contract cannot check that); the highest stakes win when
/// there are more than [`MAX_VALIDATORS`].
pub fn current_validator_set(world: &World) -> Result<ValidatorSet, StakingError> {
    let output = view(world, IStaking::currentValidatorsCall {}.abi_encode())?;
    let decoded = IStaking::currentValidatorsCall::abi_decode_returns(&output).map_err(|e| StakingError::Decode(e.to_string()))?;
    let mut validators: Vec<Validator> = decoded
        .ops
        .iter()
        .zip(decoded.keys.iter())
        .zip(decoded.stakes.iter())
        .filter_map(|((operator, key), stake)| {
            let public_key = PublicKey::from_bytes(key.0).ok()?;
            let power = voting_power_of(*stake);
            (power > 0).then(|| Validator::new(public_key, power, *operator))
        })
        .collect();
    validators.sort_by(|a, b| b.voting_power.cmp(&a.voting_power).then(a.address.cmp(&b.address)));
    validators.truncate(MAX_VALIDATORS);
    Ok(ValidatorSet::new(validators)?)
}

/// The system call that slashes and jails the holder of `key`.
pub fn slash_call(key: &[u8; 32]) -> (Address, Address, Bytes) {
    (SYSTEM_ADDRESS, STAKING_ADDRESS, IStaking::slashCall { consensusKey: B256::from(*key) }.abi_encode().into())
}

/// Calldata proving a double sign to the contract (`submitDoubleSign`), for anyone to send.
pub fn double_sign_calldata(evidence: &zg_components::consensus::DoubleSignEvidence, chain_id: u64) -> Bytes {
    let bytes = |vote: &zg_components::consensus::WireVote| Bytes::copy_from_slice(&vote.to_signed().message.sign_bytes(chain_id));
    IStaking::submitDoubleSignCall {
        voteA: bytes(&evidence.first),
        sigA: Bytes::copy_from_slice(&evidence.first.signature),
        voteB: bytes(&evidence.second),
        sigB: Bytes::copy_from_slice(&evidence.second.signature),
    }
    .abi_encode()
    .into()
}

/// The system call that ends an epoch.
pub fn close_epoch_call() -> (Address, Address, Bytes) {
    (SYSTEM_ADDRESS, STAKING_ADDRESS, IStaking::closeEpochCall {}.abi_encode().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::test_support::*;

    #[test]
    fn slashing_jails_and_the_next_epoch_drops_the_validator() {
        let artifact: serde_json::Value = serde_json::from_str(include_str!("../../../assets/contracts/Staking.json")).unwrap();
        let code = alloy_primitives::hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap();
        let keys: Vec<_> = (1..=4u8).map(|i| malachite_ed25519::PrivateKey::from([i; 32])).collect();
        let one = U256::from(10u64).pow(U256::from(18));
        let validators: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| GenesisValidator { operator: Address::repeat_byte(i as u8 + 1), consensus_key: *k.public_key().as_bytes(), stake: one * U256::from(100) })
            .collect();
        let account = genesis_account(&code, &validators, one, 3, 10).unwrap();
        let (_, _, mut genesis) = chain_world(1);
        genesis.accounts.insert(STAKING_ADDRESS, account);
        genesis.grants.push(zg_components::chain::GrantEntry { address: STAKING_ADDRESS, tokens: 400, from: "ecosystem".into() });
        let mut world = World::new();
        world.insert_resource(zg_components::chain::ChainSpec::dev(CHAIN_ID, COINBASE));
        let _schedule = crate::tick_schedule(&mut world, &[&crate::chain::ChainPlugin as &dyn crate::NodePlugin]);
        crate::chain::genesis::build_genesis(&mut world, &genesis).unwrap();
        assert!(is_deployed(&world));
        assert_eq!(current_validator_set(&world).unwrap().validators().len(), 4);
        let context = crate::chain::producer::BlockContext {
            timestamp_s: 1,
            coinbase: COINBASE,
            system_calls: vec![slash_call(keys[2].public_key().as_bytes()), close_epoch_call()],
            rewards: None,
            edits: Vec::new(),
        };
        crate::chain::producer::execute_block(&mut world, context, vec![]);
        let set = current_validator_set(&world).unwrap();
        assert_eq!(set.validators().len(), 3, "{set:?}");
        let (stake, jailed) = validator_status(&world, Address::repeat_byte(3)).unwrap();
        assert!(jailed);
        assert_eq!(stake, one * U256::from(90));
        // Only the chain may slash or close epochs: the same calls from anyone else fail.
        let outsider = Address::repeat_byte(0x99);
        let context = crate::chain::producer::BlockContext {
            timestamp_s: 2,
            coinbase: COINBASE,
            system_calls: vec![(outsider, STAKING_ADDRESS, slash_call(keys[0].public_key().as_bytes()).2)],
            rewards: None,
            edits: Vec::new(),
        };
        crate::chain::producer::execute_block(&mut world, context, vec![]);
        assert!(!validator_status(&world, Address::repeat_byte(1)).unwrap().1);

        // Anyone may prove a double sign with the votes and signatures; the precompile checks them.
        let vote = |key: &malachite_ed25519::PrivateKey, value: u8| {
            let vote = zg_components::consensus::Vote {
                height: zg_components::consensus::Height(9),
                round: malachite_types::Round::new(2),
                value: malachite_types::NilOrVal::Val(B256::repeat_byte(value)),
                vote_type: malachite_types::VoteType::Precommit,
                validator: zg_components::consensus::ValidatorAddress::from_public_key(&key.public_key()),
            };
            let signature = key.sign(&vote.sign_bytes(CHAIN_ID));
            zg_components::consensus::WireVote::from_signed(&malachite_types::SignedMessage::new(vote, signature)).unwrap()
        };
        let evidence = |first, second| zg_components::consensus::DoubleSignEvidence { first, second };
        let reporter = signer(0);
        let mut nonce = 0;
        let mut submit = |world: &mut World, calldata: Bytes| {
            let tx = call_with_value(&reporter, STAKING_ADDRESS, calldata, U256::ZERO, nonce);
            nonce += 1;
            let tx = crate::chain::producer::Candidate {
                pooled: None,
                tx: zg_components::chain::PooledTx::new(tx, reporter.address(), 0),
            };
            let context = crate::chain::producer::BlockContext { timestamp_s: 3, coinbase: COINBASE, ..Default::default() };
            crate::chain::producer::execute_block(world, context, vec![tx]).receipts[0].success
        };
        let agreeing = evidence(vote(&keys[0], 1), vote(&keys[0], 1));
        assert!(!submit(&mut world, double_sign_calldata(&agreeing, CHAIN_ID)), "agreeing votes prove nothing");
        let mut forged = evidence(vote(&keys[0], 1), vote(&keys[0], 2));
        forged.second.signature[5] ^= 1;
        assert!(!submit(&mut world, double_sign_calldata(&forged, CHAIN_ID)), "a bad signature proves nothing");
        let mixed = evidence(vote(&keys[0], 1), vote(&keys[1], 2));
        assert!(!submit(&mut world, double_sign_calldata(&mixed, CHAIN_ID)), "two validators' votes prove nothing");
        assert!(!validator_status(&world, Address::repeat_byte(1)).unwrap().1);
        let proof = evidence(vote(&keys[0], 1), vote(&keys[0], 2));
        assert!(submit(&mut world, double_sign_calldata(&proof, CHAIN_ID)), "a real double sign");
        let (stake, jailed) = validator_status(&world, Address::repeat_byte(1)).unwrap();
        assert!(jailed);
        assert_eq!(stake, one * U256::from(90));
        assert!(!submit(&mut world, double_sign_calldata(&proof, CHAIN_ID)), "slashed once only");
    }
}
