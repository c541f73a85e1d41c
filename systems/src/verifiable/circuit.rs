//! The halo2 circuit (PLONK, IPA over Pasta: no trusted setup) proving `logits = model(x)` for a
//! [`QuantizedModel`] with the input private: public are the Poseidon commitment of the input
//! and the logits (the class is their argmax). The weights and biases are fixed columns, so
//! the verifying key commits to them: a proof verifies only against the key of that model.
//!
//! Layout, per layer: each output is a block of `inputs / 8 + 1` rows — the bias, then eight
//! multiply-accumulates per row (`acc' = acc + Σ w_k·x_k`, each `x_k` copied from the previous
//! layer's cell). Each hidden output then takes one requantization row proving
//! `acc·M + 2^(S-1) = q·2^S + r` with `r` in 2 bytes, and `y = clamp(q, 0, 127)` by a case
//! split (`lo`, `hi` booleans; the distance past the clamp in 6 bytes). Inputs are range-checked
//! to int8. Byte ranges use one 256-row lookup table.

use std::sync::Arc;

use halo2_gadgets::poseidon::primitives::{self as poseidon, ConstantLength, P128Pow5T3};
use halo2_gadgets::poseidon::{Hash, Pow5Chip, Pow5Config};
use halo2_proofs::circuit::{AssignedCell, Layouter, SimpleFloorPlanner, Value};
pub use halo2_proofs::pasta::{EqAffine, Fp};
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Error, Expression, Fixed, Instance, ProvingKey, Selector, SingleVerifier, TableColumn,
    VerifyingKey, create_proof, keygen_pk, keygen_vk, verify_proof,
};
use halo2_proofs::poly::{Rotation, commitment::Params};
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};

use super::inference::requantize;
use zg_components::verifiable::QuantizedModel;

/// The inputs the circuit commits to (Poseidon over exactly this many field elements).
pub const INPUT_LEN: usize = 64;
/// The requantization shift the circuit supports (the reference models' `shift`).
pub const SHIFT: u32 = 16;
const ADVICE: usize = 14;
const D_LIMBS: usize = 6;
/// Multiply-accumulates per row: fewer rows make IPA verification (linear in 2^k) cheaper.
pub const MACS_PER_ROW: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("this circuit proves models with {INPUT_LEN} inputs and requantization shift {SHIFT}: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Model(#[from] super::inference::InferenceError),
    #[error("the proving system: {0:?}")]
    Halo2(Error),
    #[error("the proof does not verify")]
    Invalid,
}

impl From<Error> for ProofError {
    fn from(error: Error) -> Self {
        ProofError::Halo2(error)
    }
}

fn field(value: i64) -> Fp {
    if value >= 0 { Fp::from(value as u64) } else { -Fp::from(value.unsigned_abs()) }
}

#[derive(Clone, Debug)]
pub struct InferenceConfig {
    advice: [Column<Advice>; ADVICE],
    /// The multiplicands of a row's multiply-accumulates (`advice[0]` is the first).
    xs: [Column<Advice>; MACS_PER_ROW],
    weights: [Column<Fixed>; MACS_PER_ROW],
    bias: Column<Fixed>,
    multiplier: Column<Fixed>,
    half: Column<Fixed>,
    instance: Column<Instance>,
    bytes: TableColumn,
    q_bias: Selector,
    q_mac: Selector,
    q_requant: Selector,
    q_input: Selector,
    poseidon: Pow5Config<Fp, 3, 2>,
}

#[derive(Clone, Debug)]
pub struct InferenceCircuit {
    pub model: Arc<QuantizedModel>,
    pub input: Value<Vec<i8>>,
}

fn check_supported(model: &QuantizedModel) -> Result<(), ProofError> {
    model.validate().map_err(super::inference::InferenceError::from)?;
    if model.input_len != INPUT_LEN {
        return Err(ProofError::Unsupported(format!("the model takes {}", model.input_len)));
    }
    if let Some(layer) = model.layers.iter().find(|l| l.relu && l.shift != SHIFT) {
        return Err(ProofError::Unsupported(format!("a layer shifts by {}", layer.shift)));
    }
    Ok(())
}

/// Whether the circuit proves `model` (valid, 64 inputs, shift 16).
pub fn is_supported(model: &QuantizedModel) -> bool {
    check_supported(model).is_ok()
}

impl Circuit<Fp> for InferenceCircuit {
    type Config = InferenceConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self { model: self.model.clone(), input: Value::unknown() }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> InferenceConfig {
        let advice: [Column<Advice>; ADVICE] = std::array::from_fn(|_| meta.advice_column());
        for column in &advice {
            meta.enable_equality(*column);
        }
        let extra: [Column<Advice>; MACS_PER_ROW - 1] = std::array::from_fn(|_| meta.advice_column());
        for column in &extra {
            meta.enable_equality(*column);
        }
        let xs: [Column<Advice>; MACS_PER_ROW] = std::array::from_fn(|i| if i == 0 { advice[0] } else { extra[i - 1] });
        let weights: [Column<Fixed>; MACS_PER_ROW] = std::array::from_fn(|_| meta.fixed_column());
        let (bias, multiplier, half) = (meta.fixed_column(), meta.fixed_column(), meta.fixed_column());
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let bytes = meta.lookup_table_column();
        let (q_bias, q_mac) = (meta.selector(), meta.selector());
        let (q_requant, q_input) = (meta.complex_selector(), meta.complex_selector());
        let [x, acc, q, lo, hi, y, r0, r1, ..] = advice;
        let d: [Column<Advice>; D_LIMBS] = std::array::from_fn(|i| advice[8 + i]);

        meta.create_gate("bias", |meta| {
            let s = meta.query_selector(q_bias);
            vec![s * (meta.query_advice(acc, Rotation::cur()) - meta.query_fixed(bias))]
        });
        meta.create_gate("multiply-accumulate", |meta| {
            let s = meta.query_selector(q_mac);
            let (now, before) = (meta.query_advice(acc, Rotation::cur()), meta.query_advice(acc, Rotation::prev()));
            let products = (0..MACS_PER_ROW).fold(Expression::Constant(Fp::zero()), |sum, k| sum + meta.query_fixed(weights[k]) * meta.query_advice(xs[k], Rotation::cur()));
            vec![s * (now - before - products)]
        });
        meta.create_gate("requantize", |meta| {
            let s = meta.query_selector(q_requant);
            let a = meta.query_advice(acc, Rotation::cur());
            let (qv, lov, hiv, yv) = (meta.query_advice(q, Rotation::cur()), meta.query_advice(lo, Rotation::cur()), meta.query_advice(hi, Rotation::cur()), meta.query_advice(y, Rotation::cur()));
            let r = meta.query_advice(r0, Rotation::cur()) + meta.query_advice(r1, Rotation::cur()) * Expression::Constant(Fp::from(256));
            let distance = (0..D_LIMBS).fold(Expression::Constant(Fp::zero()), |sum, i| sum + meta.query_advice(d[i], Rotation::cur()) * Expression::Constant(Fp::from(1u64 << (8 * i))));
            let one = Expression::Constant(Fp::one());
            let max = Expression::Constant(Fp::from(127));
            let pow = Expression::Constant(Fp::from(1u64 << SHIFT));
            vec![
                s.clone() * (a * meta.query_fixed(multiplier) + meta.query_fixed(half) - qv.clone() * pow - r),
                s.clone() * lov.clone() * (one.clone() - lov.clone()),
                s.clone() * hiv.clone() * (one.clone() - hiv.clone()),
                s.clone() * lov.clone() * hiv.clone(),
                s.clone() * (yv - hiv.clone() * max.clone() - (one - lov.clone() - hiv.clone()) * qv.clone()),
                s * (distance - lov * (Expression::Constant(Fp::zero()) - qv.clone()) - hiv * (qv - max)),
            ]
        });
        let mut bytes_of = |column: Column<Advice>, offset: u64, selector: Selector| {
            meta.lookup(|meta| {
                let s = meta.query_selector(selector);
                vec![(s * (meta.query_advice(column, Rotation::cur()) + Expression::Constant(Fp::from(offset))), bytes)]
            });
        };
        for column in [r0, r1, y].into_iter().chain(d) {
            bytes_of(column, 0, q_requant);
        }
        bytes_of(y, 128, q_requant);
        bytes_of(x, 128, q_input);

        let rc_a: [Column<Fixed>; 3] = std::array::from_fn(|_| meta.fixed_column());
        let rc_b: [Column<Fixed>; 3] = std::array::from_fn(|_| meta.fixed_column());
        meta.enable_constant(rc_b[0]);
        let poseidon = Pow5Chip::configure::<P128Pow5T3>(meta, [advice[0], advice[1], advice[2]], advice[3], rc_a, rc_b);
        InferenceConfig { advice, xs, weights, bias, multiplier, half, instance, bytes, q_bias, q_mac, q_requant, q_input, poseidon }
    }

    fn synthesize(&self, config: InferenceConfig, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        let [x, acc, q, lo, hi, y, r0, r1, ..] = config.advice;
        assign_byte_table(&mut layouter, config.bytes)?;
        let inputs: Vec<AssignedCell<Fp, Fp>> = layouter.assign_region(
            || "input",
            |mut region| {
                (0..INPUT_LEN)
                    .map(|i| {
                        config.q_input.enable(&mut region, i)?;
                        region.assign_advice(|| "x", x, i, || self.input.as_ref().map(|v| field(i64::from(v[i]))))
                    })
                    .collect()
            },
        )?;
        let message: [AssignedCell<Fp, Fp>; INPUT_LEN] = inputs.clone().try_into().map_err(|_| Error::Synthesis)?;
        let hasher = Hash::<_, _, P128Pow5T3, ConstantLength<INPUT_LEN>, 3, 2>::init(Pow5Chip::construct(config.poseidon.clone()), layouter.namespace(|| "poseidon"))?;
        let commitment = hasher.hash(layouter.namespace(|| "commit input"), message)?;
        layouter.constrain_instance(commitment.cell(), config.instance, 0)?;

        let mut activations = inputs;
        let mut values: Value<Vec<i64>> = self.input.as_ref().map(|v| v.iter().map(|x| i64::from(*x)).collect());
        for layer in &self.model.layers {
            let sums: Vec<AssignedCell<Fp, Fp>> = layouter.assign_region(
                || "dense",
                |mut region| {
                    let mut ends = Vec::with_capacity(layer.outputs);
                    let block = layer.inputs.div_ceil(MACS_PER_ROW) + 1;
                    for (j, row) in layer.weights.chunks_exact(layer.inputs).enumerate() {
                        let start = j * block;
                        config.q_bias.enable(&mut region, start)?;
                        region.assign_fixed(|| "bias", config.bias, start, || Value::known(field(i64::from(layer.bias[j]))))?;
                        let mut running = values.as_ref().map(|_| i64::from(layer.bias[j]));
                        let mut cell = region.assign_advice(|| "acc", acc, start, || running.map(field))?;
                        for (chunk, weights) in row.chunks(MACS_PER_ROW).enumerate() {
                            let offset = start + 1 + chunk;
                            config.q_mac.enable(&mut region, offset)?;
                            for k in 0..MACS_PER_ROW {
                                let i = chunk * MACS_PER_ROW + k;
                                // Past the layer's inputs: weight 0 and x 0 add nothing.
                                let weight = weights.get(k).copied().unwrap_or(0);
                                region.assign_fixed(|| "w", config.weights[k], offset, || Value::known(field(i64::from(weight))))?;
                                match activations.get(i).filter(|_| k < weights.len()) {
                                    Some(input) => input.copy_advice(|| "x", &mut region, config.xs[k], offset)?,
                                    None => region.assign_advice(|| "x", config.xs[k], offset, || Value::known(Fp::zero()))?,
                                };
                                running = running.zip(values.as_ref()).map(|(sum, v)| sum + i64::from(weight) * v.get(i).copied().unwrap_or(0));
                            }
                            cell = region.assign_advice(|| "acc", acc, offset, || running.map(field))?;
                        }
                        ends.push(cell);
                    }
                    Ok(ends)
                },
            )?;
            let sum_values: Value<Vec<i64>> = values.as_ref().map(|v| {
                layer.weights.chunks_exact(layer.inputs).zip(&layer.bias).map(|(row, b)| i64::from(*b) + row.iter().zip(v).map(|(w, x)| i64::from(*w) * x).sum::<i64>()).collect()
            });
            if !layer.relu {
                for (j, cell) in sums.iter().enumerate() {
                    layouter.constrain_instance(cell.cell(), config.instance, 1 + j)?;
                }
                break;
            }
            activations = layouter.assign_region(
                || "requantize",
                |mut region| {
                    let mut outs = Vec::with_capacity(sums.len());
                    for (j, sum) in sums.iter().enumerate() {
                        config.q_requant.enable(&mut region, j)?;
                        sum.copy_advice(|| "acc", &mut region, acc, j)?;
                        region.assign_fixed(|| "M", config.multiplier, j, || Value::known(Fp::from(layer.multiplier as u64)))?;
                        region.assign_fixed(|| "half", config.half, j, || Value::known(Fp::from(1u64 << (SHIFT - 1))))?;
                        let parts = sum_values.as_ref().map(|s| {
                            let t = s[j] * layer.multiplier + (1i64 << (SHIFT - 1));
                            let quotient = t.div_euclid(1 << SHIFT);
                            let remainder = t.rem_euclid(1 << SHIFT);
                            let (low, high) = (quotient <= 0, quotient >= 127);
                            let distance = if low { -quotient } else if high { quotient - 127 } else { 0 };
                            (quotient, remainder, low, high, distance)
                        });
                        region.assign_advice(|| "q", q, j, || parts.map(|p| field(p.0)))?;
                        region.assign_advice(|| "r0", r0, j, || parts.map(|p| Fp::from((p.1 & 0xff) as u64)))?;
                        region.assign_advice(|| "r1", r1, j, || parts.map(|p| Fp::from((p.1 >> 8) as u64)))?;
                        region.assign_advice(|| "lo", lo, j, || parts.map(|p| Fp::from(u64::from(p.2 && !p.3))))?;
                        region.assign_advice(|| "hi", hi, j, || parts.map(|p| Fp::from(u64::from(p.3))))?;
                        for (limb, column) in config.advice[8..].iter().enumerate() {
                            region.assign_advice(|| "d", *column, j, || parts.map(|p| Fp::from(((p.4 as u64) >> (8 * limb)) & 0xff)))?;
                        }
                        let out = sum_values.as_ref().map(|s| i64::from(requantize(s[j] as i32, layer.multiplier, SHIFT)));
                        outs.push(region.assign_advice(|| "y", y, j, || out.map(field))?);
                    }
                    Ok(outs)
                },
            )?;
            values = sum_values.map(|s| s.iter().map(|v| i64::from(requantize(*v as i32, layer.multiplier, SHIFT))).collect());
        }
        Ok(())
    }
}

/// The public inputs of a proof: the input's commitment, then the logits.
pub fn public_inputs(model: &QuantizedModel, input: &[i8]) -> Result<Vec<Fp>, ProofError> {
    check_supported(model)?;
    let inference = super::inference::infer(model, input)?;
    let commitment = input_commitment(input).ok_or_else(|| ProofError::Unsupported(format!("an input of {}", input.len())))?;
    Ok(std::iter::once(commitment).chain(inference.logits.iter().map(|l| field(i64::from(*l)))).collect())
}

/// The Poseidon commitment of an input (the first public input); None unless it has
/// [`INPUT_LEN`] values.
pub fn input_commitment(input: &[i8]) -> Option<Fp> {
    if input.len() != INPUT_LEN {
        return None;
    }
    let message: [Fp; INPUT_LEN] = std::array::from_fn(|i| field(i64::from(input[i])));
    Some(poseidon::Hash::<_, P128Pow5T3, ConstantLength<INPUT_LEN>, 3, 2>::init().hash(message))
}

/// A logit (or any small integer) as the field element a public input holds.
pub fn field_of(value: i64) -> Fp {
    field(value)
}

/// A model's proving setup: the IPA parameters (no trusted setup: derived from a hash) and keys.
pub struct ModelKeys {
    pub k: u32,
    pub params: Arc<Params<EqAffine>>,
    pub pk: ProvingKey<EqAffine>,
}

impl ModelKeys {
    pub fn vk(&self) -> &VerifyingKey<EqAffine> {
        self.pk.get_vk()
    }
}

/// The circuit size (`2^k` rows) a model takes: its dense, requantization and input rows plus
/// room for the Poseidon commitment and blinding. A pure function of the model's shape, so the
/// precompile prices a verification before doing any of it.
pub fn circuit_k(model: &QuantizedModel) -> u32 {
    let rows: usize = model.layers.iter().map(|l| l.outputs * (l.inputs.div_ceil(MACS_PER_ROW) + 1) + if l.relu { l.outputs } else { 0 }).sum();
    (rows + INPUT_LEN + POSEIDON_ROWS).next_power_of_two().trailing_zeros().max(9)
}

/// Rows the Poseidon commitment of the 64 inputs takes (33 permutations, partial rounds two to
/// a row) with room for the byte table and blinding.
const POSEIDON_ROWS: usize = 1_600;

/// The largest circuit the node sets up or verifies (`2^MAX_K` rows).
pub const MAX_K: u32 = 17;

fn sized(model: &QuantizedModel) -> Result<u32, ProofError> {
    check_supported(model)?;
    let k = circuit_k(model);
    if k > MAX_K {
        return Err(ProofError::Unsupported(format!("the model needs 2^{k} rows; at most 2^{MAX_K}")));
    }
    Ok(k)
}

/// Fresh IPA parameters, bypassing the cache (to measure what making them costs).
pub fn make_params(k: u32) -> Params<EqAffine> {
    Params::<EqAffine>::new(k)
}

/// The IPA parameters for `2^k` rows (derived from a hash, no trusted setup); made once per `k`
/// and shared, since they depend on nothing else.
pub fn params(k: u32) -> Arc<Params<EqAffine>> {
    static CACHE: std::sync::Mutex<Vec<(u32, Arc<Params<EqAffine>>)>> = std::sync::Mutex::new(Vec::new());
    let cached = |k| CACHE.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(at, _)| *at == k).map(|(_, p)| p.clone());
    if let Some(found) = cached(k) {
        return found;
    }
    let made = Arc::new(Params::<EqAffine>::new(k));
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, found)) = cache.iter().find(|(at, _)| *at == k) {
        return found.clone();
    }
    cache.push((k, made.clone()));
    made
}

/// The verifying key of `model` alone (no proving key): what the chain's precompile derives.
pub fn verifying_key(model: &Arc<QuantizedModel>) -> Result<(u32, VerifyingKey<EqAffine>), ProofError> {
    let k = sized(model)?;
    let circuit = InferenceCircuit { model: model.clone(), input: Value::unknown() };
    Ok((k, keygen_vk(&params(k), &circuit)?))
}

/// The verifying key's hash as the ModelRegistry records it: keccak-256 of halo2's pinned
/// representation (domain, constraint system, fixed and permutation commitments) — the same
/// text halo2 hashes into every proof's transcript.
pub fn vk_hash(vk: &VerifyingKey<EqAffine>) -> [u8; 32] {
    alloy_primitives::keccak256(format!("{:?}", vk.pinned()).as_bytes()).0
}

/// Keys for `model`, at [`circuit_k`]'s size.
pub fn setup(model: &Arc<QuantizedModel>) -> Result<ModelKeys, ProofError> {
    let k = sized(model)?;
    let circuit = InferenceCircuit { model: model.clone(), input: Value::unknown() };
    let params = params(k);
    let vk = keygen_vk(&params, &circuit)?;
    let pk = keygen_pk(&params, vk, &circuit)?;
    Ok(ModelKeys { k, params, pk })
}

/// Proves `model(input)`; the proof bytes and its public inputs.
pub fn prove(keys: &ModelKeys, model: &Arc<QuantizedModel>, input: &[i8]) -> Result<(Vec<u8>, Vec<Fp>), ProofError> {
    let public = public_inputs(model, input)?;
    let circuit = InferenceCircuit { model: model.clone(), input: Value::known(input.to_vec()) };
    Ok((prove_circuit(&keys.params, &keys.pk, circuit, &public)?, public))
}

/// The 256-row table every byte lookup of this module's circuits reads.
pub(super) fn assign_byte_table(layouter: &mut impl Layouter<Fp>, column: TableColumn) -> Result<(), Error> {
    layouter.assign_table(
        || "bytes",
        |mut table| {
            for value in 0..256u64 {
                table.assign_cell(|| "byte", column, value as usize, || Value::known(Fp::from(value)))?;
            }
            Ok(())
        },
    )
}

/// One proof of `circuit` for `public` (Blake2b transcript, the system's RNG).
pub(super) fn prove_circuit<C: Circuit<Fp>>(params: &Params<EqAffine>, pk: &ProvingKey<EqAffine>, circuit: C, public: &[Fp]) -> Result<Vec<u8>, Error> {
    let mut transcript = Blake2bWrite::<_, EqAffine, Challenge255<_>>::init(vec![]);
    create_proof(params, pk, &[circuit], &[&[public]], rand::rand_core::UnwrapErr(rand::rngs::SysRng), &mut transcript)?;
    Ok(transcript.finalize())
}

/// Checks `proof` for `public` against a verifying key; a proof with bytes past its end is
/// refused too (halo2 would ignore them, making proofs malleable).
pub fn verify(params: &Params<EqAffine>, vk: &VerifyingKey<EqAffine>, public: &[Fp], proof: &[u8]) -> Result<(), ProofError> {
    let mut rest = proof;
    {
        let mut transcript = Blake2bRead::<_, EqAffine, Challenge255<_>>::init(&mut rest);
        verify_proof(params, vk, SingleVerifier::new(params), &[&[public]], &mut transcript).map_err(|_| ProofError::Invalid)?;
    }
    if !rest.is_empty() {
        return Err(ProofError::Invalid);
    }
    Ok(())
}

/// A public input as the contracts see it: the field element's canonical big-endian word.
pub fn field_to_word(value: &halo2_proofs::pasta::Fp) -> [u8; 32] {
    use halo2_proofs::pasta::group::ff::PrimeField;
    let mut word = value.to_repr();
    word.reverse();
    word
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::dev::MockProver;
    use zg_components::verifiable::ModelFile;

    fn small() -> (Arc<QuantizedModel>, Vec<Vec<i8>>) {
        let file: ModelFile = serde_json::from_str(include_str!("../../../assets/models/digits/digits-small.json")).unwrap();
        (Arc::new(file.model), file.test.inputs)
    }

    #[test]
    fn the_mock_prover_accepts_true_inferences_and_refuses_changed_outputs() {
        let (model, inputs) = small();
        for input in inputs.iter().take(3) {
            let public = public_inputs(&model, input).unwrap();
            let circuit = InferenceCircuit { model: model.clone(), input: Value::known(input.clone()) };
            let k = 13;
            MockProver::run(k, &circuit, vec![public.clone()]).unwrap().verify().unwrap();
            let mut wrong = public.clone();
            wrong[1] += Fp::one();
            assert!(MockProver::run(k, &circuit, vec![wrong]).unwrap().verify().is_err(), "a changed logit");
            let mut wrong = public;
            wrong[0] += Fp::one();
            assert!(MockProver::run(k, &circuit, vec![wrong]).unwrap().verify().is_err(), "a changed input commitment");
        }
    }

    #[test]
    fn real_proofs_verify_and_tampering_is_refused() {
        let (model, inputs) = small();
        let keys = setup(&model).unwrap();
        let (proof, public) = prove(&keys, &model, &inputs[0]).unwrap();
        verify(&keys.params, keys.vk(), &public, &proof).unwrap();
        let mut changed = public.clone();
        changed[2] += Fp::one();
        assert!(verify(&keys.params, keys.vk(), &changed, &proof).is_err(), "a changed output");
        let mut flipped = proof.clone();
        flipped[40] ^= 1;
        assert!(verify(&keys.params, keys.vk(), &public, &flipped).is_err(), "a flipped byte");
        assert!(verify(&keys.params, keys.vk(), &public, &proof[..proof.len() / 2]).is_err(), "truncated");
        assert!(verify(&keys.params, keys.vk(), &public, &[]).is_err(), "empty");
        let mut padded = proof.clone();
        padded.push(0);
        assert!(verify(&keys.params, keys.vk(), &public, &padded).is_err(), "a byte past the end");
        let (k, vk) = verifying_key(&model).unwrap();
        assert_eq!(k, keys.k);
        assert_eq!(vk_hash(&vk), vk_hash(keys.vk()), "the verifier's own key is the prover's");
        verify(&params(k), &vk, &public, &proof).unwrap();
        // Another model's key (one weight changed) refuses the proof.
        let mut other = (*model).clone();
        other.layers[0].weights[0] = other.layers[0].weights[0].wrapping_add(1);
        let other_keys = setup(&Arc::new(other)).unwrap();
        assert!(verify(&keys.params, other_keys.vk(), &public, &proof).is_err(), "a changed weight");
        assert_ne!(vk_hash(other_keys.vk()), vk_hash(keys.vk()));
    }
}
