//! The chain's precompile registry ([`PrecompileRegistry`]), which domains register theirs in,
//! and the chain's own: ed25519 signature verification, so contracts (the staking contract's
//! double-sign check) can verify what validators sign.
//!
//! Input: `public key (32) ‖ signature (64) ‖ message`. Output: a 32-byte word, 1 when the
//! signature is valid, 0 when not (malformed input included). Gas: 2,000 + 6 per message word.

use alloy_primitives::{Address, Bytes, address};
use revm::context_interface::{Cfg, ContextTr};
use revm::handler::{EthPrecompiles, PrecompileProvider};
use revm::interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult};
use revm::precompile::{EthPrecompileOutput, EthPrecompileResult, Precompile, PrecompileHalt, PrecompileId, Precompiles};
use revm::primitives::AddressSet;
use bevy_ecs::prelude::Resource;
use std::sync::Mutex;

/// The fork whose standard precompiles (and rules) the chain runs; `evm::SPEC` is this.
pub const FORK: revm::primitives::hardfork::SpecId = revm::primitives::hardfork::SpecId::PRAGUE;

pub const ED25519_VERIFY_ADDRESS: Address = address!("000000000000000000000000000000000000ed25");
/// Priced from `zgnode bench precompiles` (ed25519 against ecrecover's 3,000 gas in one run):
/// 83 µs against ecrecover's 54.6 µs here, 4,561 gas at that rate (2,000 was 2.25× too cheap).
pub const ED25519_VERIFY_BASE_GAS: u64 = 5_000;
pub const ED25519_VERIFY_WORD_GAS: u64 = 6;

pub fn ed25519_verify(input: &[u8], gas_limit: u64) -> EthPrecompileResult {
    let words = input.len().saturating_sub(96).div_ceil(32) as u64;
    let gas = ED25519_VERIFY_BASE_GAS + ED25519_VERIFY_WORD_GAS * words;
    if gas > gas_limit {
        return Err(PrecompileHalt::OutOfGas);
    }
    let mut word = [0u8; 32];
    if input.len() >= 96 {
        let key: [u8; 32] = input[..32].try_into().expect("32 bytes");
        let signature: [u8; 64] = input[32..96].try_into().expect("64 bytes");
        let valid = malachite_ed25519::PublicKey::from_bytes(key)
            .map(|key| key.verify(&input[96..], &malachite_ed25519::Signature::from_bytes(signature)).is_ok())
            .unwrap_or(false);
        word[31] = valid as u8;
    }
    Ok(EthPrecompileOutput::new(gas, Bytes::copy_from_slice(&word)))
}

revm::precompile::eth_precompile_fn!(ed25519_verify_precompile, ed25519_verify);

/// The chain's precompiles: Prague's, the chain's own (ed25519) and whatever the domains
/// register (DA's fraud-proof check, verifiable compute's verifier), with the rules that limit
/// who may call one. Which precompiles exist is a rule of the chain, the same on every node
/// whatever roles it runs, so the registry is filled once where a world is assembled
/// (`crate::chain_rules`), not by role plugins; every EVM the node builds takes its provider
/// from this resource.
#[derive(Resource, Clone, Debug)]
pub struct PrecompileRegistry {
    added: Vec<Precompile>,
    callers: Vec<CallerRule>,
    interned: &'static Precompiles,
}

/// A precompile that answers only one caller; any other gets a refusal (32 zero bytes) for
/// `refusal_gas`, before the precompile runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerRule {
    pub precompile: Address,
    pub only_caller: Address,
    pub refusal_gas: u64,
}

impl PrecompileRegistry {
    /// Prague's precompiles and ed25519 verification.
    pub fn new() -> Self {
        let ed25519 = Precompile::new(PrecompileId::Custom("ed25519_verify".into()), ED25519_VERIFY_ADDRESS, ed25519_verify_precompile);
        let added = vec![ed25519];
        let interned = intern(&added);
        Self { added, callers: Vec::new(), interned }
    }

    pub fn register(&mut self, precompile: Precompile) {
        self.added.retain(|p| p.address() != precompile.address());
        self.added.push(precompile);
        self.interned = intern(&self.added);
    }

    pub fn answer_only(&mut self, rule: CallerRule) {
        self.callers.retain(|r| r.precompile != rule.precompile);
        self.callers.push(rule);
    }

    pub fn contains(&self, address: &Address) -> bool {
        self.interned.contains(address)
    }

    /// The provider an EVM runs with.
    pub fn provider(&self) -> ChainPrecompiles {
        ChainPrecompiles { standard: EthPrecompiles { precompiles: self.interned, spec: FORK }, callers: self.callers.clone() }
    }
}

impl Default for PrecompileRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// revm's provider wants a `'static` set: each distinct set (by address, a handful per process)
/// is built once and kept, so worlds that register the same precompiles share it.
fn intern(added: &[Precompile]) -> &'static Precompiles {
    static SETS: Mutex<Vec<(Vec<Address>, &'static Precompiles)>> = Mutex::new(Vec::new());
    let addresses: Vec<Address> = added.iter().map(|p| *p.address()).collect();
    let mut sets = SETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, set)) = sets.iter().find(|(key, _)| *key == addresses) {
        return set;
    }
    let mut precompiles = Precompiles::new(revm::precompile::PrecompileSpecId::PRAGUE).clone();
    precompiles.extend(added.iter().cloned());
    let set: &'static Precompiles = Box::leak(Box::new(precompiles));
    sets.push((addresses, set));
    set
}

/// The chain's precompile provider: the registry's set, with its caller rules applied first —
/// the inference-proof verifier answers only the ModelRegistry, because its price covers
/// verifying, not deriving a model's key (seconds), which nodes do ahead of time for
/// registered models; an arbitrary caller with a fresh model would get that work unpaid.
#[derive(Debug, Clone)]
pub struct ChainPrecompiles {
    standard: EthPrecompiles,
    callers: Vec<CallerRule>,
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for ChainPrecompiles {
    type Output = InterpreterResult;

    /// The chain runs [`super::evm::SPEC`], which this starts at (so nothing changes); another
    /// spec would swap in that fork's standard precompiles alone.
    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.standard, spec)
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
        let refused = self.callers.iter().find(|rule| rule.precompile == inputs.bytecode_address && inputs.caller != rule.only_caller);
        if let Some(rule) = refused {
            let mut gas = Gas::new(inputs.gas_limit);
            if !gas.record_regular_cost(rule.refusal_gas) {
                gas.spend_all();
                return Ok(Some(InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), gas)));
            }
            return Ok(Some(InterpreterResult::new(InstructionResult::Return, Bytes::from(vec![0u8; 32]), gas)));
        }
        self.standard.run(context, inputs)
    }

    fn warm_addresses(&self) -> &AddressSet {
        self.standard.warm_addresses()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_ed25519_and_answers_zero_for_anything_else() {
        let key = malachite_ed25519::PrivateKey::from([3; 32]);
        let message = b"zgnode vote";
        let mut input = key.public_key().as_bytes().to_vec();
        input.extend_from_slice(&key.sign(message).to_bytes());
        input.extend_from_slice(message);
        let output = ed25519_verify(&input, 10_000).unwrap();
        assert_eq!(output.bytes[31], 1);
        assert_eq!(output.gas_used, ED25519_VERIFY_BASE_GAS + ED25519_VERIFY_WORD_GAS);
        let mut tampered = input.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(ed25519_verify(&tampered, 10_000).unwrap().bytes[31], 0);
        assert_eq!(ed25519_verify(&input[..50], 10_000).unwrap().bytes[31], 0, "short input");
        assert!(ed25519_verify(&input, 100).is_err(), "out of gas");
        assert!(PrecompileRegistry::new().contains(&ED25519_VERIFY_ADDRESS));
    }
}
