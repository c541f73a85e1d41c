//! The inference-proof precompile at `0x…c001`, answering only the ModelRegistry contract
//! (its [`register`] sets the rule the chain's provider enforces): the registry hands it a
//! registered, activated model's canonical bytes (`zg_components::verifiable::wire`), the
//! verifying-key hash registered for them and a halo2 proof; it derives the model's verifying
//! key, checks the key's hash and verifies the proof. Deriving a key takes far longer than a
//! block may (0.7 s for the small model here, ~50 M gas at ecrecover's rate), so it is not in
//! the price: every node derives the keys of registered models ahead of time, in the background
//! (`super::warm`), during the registry's activation delay and again after a restart. Only
//! those models have keys here: a verification for any other model bytes halts at once
//! ("not registered"), deriving nothing, so no caller (an `eth_call` with any `from` and state
//! overrides included) can make a node derive a key for free. Registered keys are never
//! evicted (registration burns a fee per circuit row, so there are few). A verification that
//! arrives while its registered key is still being derived waits for that derivation: the same
//! answer on every node, so block execution stays deterministic.
//!
//! Operations (first byte), all integers big-endian:
//! - `1` verify: `vk hash 32 ‖ model length u32 ‖ model ‖ count u32 ‖ public input 32 × count ‖
//!   proof` → a word, 1 when the proof verifies, else 0.
//! - `2` inspect: `model` → `k (a word) ‖ provable (a word, 1 or 0)`: the circuit size a
//!   verification costs, without deriving anything.
//! - `3` verify a batch for one model: `vk hash 32 ‖ model length u32 ‖ model ‖ proofs u32 ‖
//!   (count u32 ‖ public inputs ‖ proof length u32 ‖ proof)*` → one word per proof.
//!
//! Public inputs are Pasta Fp elements in canonical big-endian form (`< p`). Anything malformed
//! answers 0 (or zeros); only too little gas, or model bytes not registered on this chain,
//! halt (the registry then reverts: "no" is only ever a verification's answer).
//!
//! Gas, measured (`zgnode bench proofs` prints the measurement beside ecrecover's 3,000 gas):
//! verifying costs a fixed part and a part linear in the circuit's `2^k` rows, so it is a
//! price per proof plus one per row ([`verify_gas`]); input words cost like calldata hashing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use alloy_primitives::{Address, B256, Bytes, address, keccak256};
use halo2_proofs::pasta::group::ff::PrimeField;
use halo2_proofs::pasta::{EqAffine, Fp};
use halo2_proofs::plonk::VerifyingKey;
use revm::precompile::{EthPrecompileOutput, EthPrecompileResult, Precompile, PrecompileHalt, PrecompileId};

use zg_components::verifiable::wire::decode_model;

use super::circuit::{self, MAX_K};

pub const INFERENCE_VERIFIER_ADDRESS: Address = address!("000000000000000000000000000000000000c001");
pub const OP_VERIFY: u8 = 1;
pub const OP_INSPECT: u8 = 2;
pub const OP_VERIFY_BATCH: u8 = 3;
pub const BASE_GAS: u64 = 3_000;
pub const WORD_GAS: u64 = 6;
/// Verifying one proof: a fixed part (evaluations and the multi-open of ~60 columns) and a
/// part per circuit row (the final MSM). Measured whole calls here: 19.2 ms for 2^11 rows and
/// 26.0 ms for 2^12, with ecrecover's 3,000 gas taking 39.7 µs (13.2 ns a gas): 1.45 M and
/// 1.96 M gas, fitted as 1,000,000 + 260 a row.
pub const VERIFY_GAS_BASE: u64 = 1_000_000;
pub const VERIFY_GAS_PER_ROW: u64 = 260;

/// The gas one proof's verification costs for a circuit of `2^k` rows.
pub const fn verify_gas(k: u32) -> u64 {
    VERIFY_GAS_BASE + (VERIFY_GAS_PER_ROW << k)
}
/// The most proofs one batch call checks.
pub const MAX_BATCH_PROOFS: usize = 64;
/// Public inputs past this are refused before any work (the input commitment and logits).
pub const MAX_PUBLIC_INPUTS: usize = 4_097;
struct Key {
    k: u32,
    hash: [u8; 32],
    vk: VerifyingKey<EqAffine>,
}

/// A registered model's key: derived once (by the background job or the first verification,
/// whichever comes first; the other waits), `None` inside when the bytes are not provable.
type KeySlot = Arc<OnceLock<Option<Arc<Key>>>>;

/// The keys of the models registered on this chain, by keccak of their bytes; never evicted.
static REGISTERED: Mutex<Option<HashMap<B256, KeySlot>>> = Mutex::new(None);

fn derive(model: &[u8]) -> Option<Arc<Key>> {
    let decoded = Arc::new(decode_model(model).ok()?);
    let (k, vk) = circuit::verifying_key(&decoded).ok()?;
    Some(Arc::new(Key { k, hash: circuit::vk_hash(&vk), vk }))
}

/// Marks `model` bytes as registered on this chain (its key may now be derived and is kept).
fn slot_for_registered(model: &[u8]) -> KeySlot {
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    registered.get_or_insert_with(HashMap::new).entry(keccak256(model)).or_default().clone()
}

/// The key of registered `model` bytes (derived now, or waited for, if not yet); `Err` when the
/// bytes were never registered here.
fn key_for(model: &[u8]) -> Result<Option<Arc<Key>>, PrecompileHalt> {
    let slot = REGISTERED.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|r| r.get(&keccak256(model)).cloned());
    let slot = slot.ok_or(PrecompileHalt::Other("the model is not registered on this chain: no verifying key is derived for it".into()))?;
    Ok(slot.get_or_init(|| derive(model)).clone())
}

/// Registers `model` bytes (a model the ModelRegistry holds) and derives its key ahead of its
/// first verification; its circuit size and key hash, or None when the bytes are not a model
/// the circuit proves. What the chain-following system and the restart path call.
pub fn warm(model: &[u8]) -> Option<(u32, [u8; 32])> {
    let slot = slot_for_registered(model);
    let key = slot.get_or_init(|| derive(model)).clone()?;
    Some((key.k, key.hash))
}

/// Marks `model` bytes as registered without deriving (the derivation is left to a
/// background job, or to the first verification, which then waits for it).
pub fn mark_registered(model: &[u8]) {
    slot_for_registered(model);
}

/// The circuit size and key hash of `model` bytes, derived and dropped: for a provider about to
/// register a model (nothing is kept, so this enables no verification).
pub fn derive_key(model: &[u8]) -> Option<(u32, [u8; 32])> {
    derive(model).map(|key| (key.k, key.hash))
}

/// The circuit size of model bytes without deriving anything (None: not a provable model).
fn k_of(model: &[u8]) -> Option<u32> {
    let decoded = decode_model(model).ok()?;
    let k = circuit::circuit_k(&decoded);
    (k <= MAX_K && circuit::is_supported(&decoded)).then_some(k)
}

#[derive(Clone)]
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<usize> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

/// A canonical big-endian field element.
pub fn field_from_word(word: &[u8]) -> Option<Fp> {
    let mut repr = [0u8; 32];
    repr.copy_from_slice(word.get(..32)?);
    repr.reverse();
    Option::from(Fp::from_repr(repr))
}

pub use super::circuit::field_to_word;

/// The verify operation's input, as the ModelRegistry builds it: `vk_hash` (32 bytes), the
/// model's canonical bytes, the public inputs as big-endian words, the proof.
pub fn verify_call(vk_hash: &[u8], model: &[u8], public: &[[u8; 32]], proof: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(1 + vk_hash.len() + 8 + model.len() + 32 * public.len() + proof.len());
    input.push(OP_VERIFY);
    input.extend_from_slice(vk_hash);
    input.extend_from_slice(&(model.len() as u32).to_be_bytes());
    input.extend_from_slice(model);
    input.extend_from_slice(&(public.len() as u32).to_be_bytes());
    public.iter().for_each(|word| input.extend_from_slice(word));
    input.extend_from_slice(proof);
    input
}

fn public_inputs(reader: &mut Reader<'_>) -> Option<Vec<Fp>> {
    let count = reader.u32()?;
    if count > MAX_PUBLIC_INPUTS {
        return None;
    }
    reader.take(32 * count)?.chunks_exact(32).map(field_from_word).collect()
}

fn check(key: &Key, public: &[Fp], proof: &[u8]) -> bool {
    circuit::verify(&circuit::params(key.k), &key.vk, public, proof).is_ok()
}

fn word(value: bool) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[31] = value as u8;
    out
}

pub fn verify_inference(input: &[u8], gas_limit: u64) -> EthPrecompileResult {
    let words = input.len().div_ceil(32) as u64;
    let mut gas = BASE_GAS + WORD_GAS * words;
    if gas > gas_limit {
        return Err(PrecompileHalt::OutOfGas);
    }
    let (op, body) = input.split_first().map_or((0, &[][..]), |(op, rest)| (*op, rest));
    let mut reader = Reader(body);
    let answer: Vec<u8> = match op {
        OP_INSPECT => {
            let mut out = vec![0u8; 64];
            if let Some(k) = k_of(body) {
                out[31] = k as u8;
                out[63] = 1;
            }
            out
        }
        OP_VERIFY | OP_VERIFY_BATCH => {
            let header = (|| {
                let expected = reader.take(32)?;
                let length = reader.u32()?;
                let model = reader.take(length)?;
                Some((expected, model, k_of(model)?))
            })();
            let Some((expected, model, k)) = header else {
                return Ok(EthPrecompileOutput::new(gas, Bytes::from(vec![0u8; 32])));
            };
            let proofs = if op == OP_VERIFY { 1 } else { reader.clone().u32().unwrap_or(0).min(MAX_BATCH_PROOFS) };
            gas += verify_gas(k) * proofs.max(1) as u64;
            if gas > gas_limit {
                return Err(PrecompileHalt::OutOfGas);
            }
            let key = key_for(model)?.filter(|key| key.hash.as_slice() == expected);
            if op == OP_VERIFY {
                let verified = key.zip(public_inputs(&mut reader)).is_some_and(|(key, public)| check(&key, &public, reader.0));
                word(verified).to_vec()
            } else {
                verify_batch(key.as_deref(), &mut reader, proofs)
            }
        }
        _ => word(false).to_vec(),
    };
    Ok(EthPrecompileOutput::new(gas, Bytes::from(answer)))
}

fn verify_batch(key: Option<&Key>, reader: &mut Reader<'_>, proofs: usize) -> Vec<u8> {
    let mut out = vec![0u8; 32 * proofs.max(1)];
    let (Some(key), Some(count)) = (key, reader.u32()) else { return out };
    if count > MAX_BATCH_PROOFS || count == 0 {
        return out;
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let Some(public) = public_inputs(reader) else { return out };
        let Some(proof) = reader.u32().and_then(|length| reader.take(length)) else { return out };
        items.push((public, proof));
    }
    if !reader.0.is_empty() {
        return out;
    }
    // Each proof is checked on its own: one bad proof must not take good ones down with it.
    use rayon::prelude::*;
    let verified: Vec<bool> = items.par_iter().map(|(public, proof)| check(key, public, proof)).collect();
    for (i, ok) in verified.into_iter().enumerate() {
        out[32 * i + 31] = ok as u8;
    }
    out
}

revm::precompile::eth_precompile_fn!(inference_verifier_precompile, verify_inference);

/// The precompile, for the chain's set.
pub fn inference_precompile() -> Precompile {
    Precompile::new(PrecompileId::Custom("inference_verify".into()), INFERENCE_VERIFIER_ADDRESS, inference_verifier_precompile)
}

/// Adds the verifier to the chain's registry, answering only the ModelRegistry.
pub fn register(registry: &mut crate::chain::precompile::PrecompileRegistry) {
    registry.register(inference_precompile());
    registry.answer_only(crate::chain::precompile::CallerRule {
        precompile: INFERENCE_VERIFIER_ADDRESS,
        only_caller: super::contracts::MODEL_REGISTRY_ADDRESS,
        refusal_gas: BASE_GAS,
    });
}

#[cfg(test)]
#[path = "precompile_tests.rs"]
mod tests;
