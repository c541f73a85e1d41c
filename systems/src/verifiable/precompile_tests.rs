use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use zg_components::verifiable::wire::encode_model;
use zg_components::verifiable::{ModelFile, QuantizedModel};

use super::*;

struct Fixture {
    model: Vec<u8>,
    vk_hash: [u8; 32],
    k: u32,
    public: Vec<Fp>,
    proof: Vec<u8>,
    other_public: Vec<Fp>,
    other_proof: Vec<u8>,
}

/// One key and two real proofs of the small reference model, shared by the tests (slow to make).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let file: ModelFile = serde_json::from_str(include_str!("../../../assets/models/digits/digits-small.json")).unwrap();
        let model: Arc<QuantizedModel> = Arc::new(file.model);
        let keys = circuit::setup(&model).unwrap();
        let (proof, public) = circuit::prove(&keys, &model, &file.test.inputs[0]).unwrap();
        let (other_proof, other_public) = circuit::prove(&keys, &model, &file.test.inputs[1]).unwrap();
        let bytes = encode_model(&model).unwrap();
        // Registered, as the ModelRegistry's event would make it on a node.
        mark_registered(&bytes);
        Fixture { model: bytes, vk_hash: circuit::vk_hash(keys.vk()), k: keys.k, public, proof, other_public, other_proof }
    })
}

fn verify_input(vk_hash: &[u8], model: &[u8], public: &[Fp], proof: &[u8]) -> Vec<u8> {
    verify_call(vk_hash, model, &public.iter().map(field_to_word).collect::<Vec<_>>(), proof)
}

fn answer(input: &[u8]) -> u8 {
    let output = verify_inference(input, 100_000_000).unwrap();
    assert_eq!(output.bytes.len(), 32);
    output.bytes[31]
}

fn inspects_a_model_and_warms_its_key() {
    let f = fixture();
    let mut input = vec![OP_INSPECT];
    input.extend_from_slice(&f.model);
    let output = verify_inference(&input, 100_000_000).unwrap();
    assert_eq!((output.bytes[31] as u32, output.bytes[63]), (f.k, 1));
    assert_eq!(output.gas_used, BASE_GAS + WORD_GAS * input.len().div_ceil(32) as u64, "inspecting derives nothing");
    let garbage = verify_inference(&[OP_INSPECT, 1, 2, 3], 100_000).unwrap();
    assert_eq!(garbage.bytes.as_ref(), &[0u8; 64], "not a model: zeros");
    assert_eq!(warm(&f.model), Some((f.k, f.vk_hash)), "the background derivation finds the prover's key");
    assert_eq!(warm(&[1, 2, 3]), None);
}

/// One test process makes the (slow) fixture once for the inspect, single and batch cases.
#[test]
fn inspects_verifies_and_batches_with_every_change_refused() {
    inspects_a_model_and_warms_its_key();
    a_true_proof_answers_one_and_every_change_zero();
    a_batch_answers_each_proof_on_its_own();
}

fn a_true_proof_answers_one_and_every_change_zero() {
    let f = fixture();
    let input = verify_input(&f.vk_hash, &f.model, &f.public, &f.proof);
    let output = verify_inference(&input, 100_000_000).unwrap();
    assert_eq!(output.bytes[31], 1);
    assert_eq!(output.gas_used, BASE_GAS + WORD_GAS * input.len().div_ceil(32) as u64 + verify_gas(f.k));
    assert!(verify_inference(&input, output.gas_used - 1).is_err(), "one gas short halts");

    let mut output_changed = f.public.clone();
    output_changed[3] += Fp::one();
    assert_eq!(answer(&verify_input(&f.vk_hash, &f.model, &output_changed, &f.proof)), 0, "a changed logit");
    let mut commitment_changed = f.public.clone();
    commitment_changed[0] = f.other_public[0];
    assert_eq!(answer(&verify_input(&f.vk_hash, &f.model, &commitment_changed, &f.proof)), 0, "another input's commitment");
    assert_eq!(answer(&verify_input(&f.vk_hash, &f.model, &f.other_public, &f.proof)), 0, "another request's public inputs");
    assert_eq!(answer(&verify_input(&f.vk_hash, &f.model, &f.other_public, &f.other_proof)), 1);

    // A changed weight: under the registered hash the derived key no longer matches; under its
    // own key the proof fails.
    let mut weight_changed = f.model.clone();
    weight_changed[20] ^= 1;
    // Not registered: refused before any key is derived (a stranger cannot make a node derive).
    let unregistered = verify_inference(&verify_input(&f.vk_hash, &weight_changed, &f.public, &f.proof), 100_000_000);
    assert!(matches!(unregistered, Err(PrecompileHalt::Other(_))), "an unregistered model halts");
    let mut batch = vec![OP_VERIFY_BATCH];
    batch.extend_from_slice(&verify_input(&f.vk_hash, &weight_changed, &f.public, &f.proof)[1..]);
    assert!(verify_inference(&batch, 100_000_000).is_err(), "in a batch too");
    assert_eq!(derive_key(&weight_changed).map(|(k, _)| k), Some(f.k), "a provider may still derive it for itself");
    assert!(verify_inference(&verify_input(&f.vk_hash, &weight_changed, &f.public, &f.proof), 100_000_000).is_err(), "which registers nothing");
    let other_hash = warm(&weight_changed).unwrap().1.to_vec();
    assert_eq!(answer(&verify_input(&f.vk_hash, &weight_changed, &f.public, &f.proof)), 0, "a changed weight, once registered");
    assert_ne!(other_hash, f.vk_hash);
    assert_eq!(answer(&verify_input(&other_hash, &weight_changed, &f.public, &f.proof)), 0, "the changed model's own key");
    assert_eq!(answer(&verify_input(&[7; 32], &f.model, &f.public, &f.proof)), 0, "a wrong key hash");
}

#[test]
fn hostile_proofs_answer_zero_without_panicking() {
    let f = fixture();
    let with = |proof: &[u8]| answer(&verify_input(&f.vk_hash, &f.model, &f.public, proof));
    for at in [0, 31, 32, 100, f.proof.len() / 2, f.proof.len() - 1] {
        let mut flipped = f.proof.clone();
        flipped[at] ^= 0x40;
        assert_eq!(with(&flipped), 0, "byte {at} flipped");
    }
    assert_eq!(with(&f.proof[..f.proof.len() - 1]), 0, "truncated");
    assert_eq!(with(&[]), 0, "empty");
    assert_eq!(with(&[f.proof.as_slice(), &[0; 64]].concat()), 0, "oversized");
    assert_eq!(with(&vec![0xff; f.proof.len()]), 0, "not curve points");
    let mut off_curve = f.proof.clone();
    off_curve[..32].copy_from_slice(&[0x05; 32]);
    assert_eq!(with(&off_curve), 0, "a point off the curve");
    // A public input that is not a canonical field element.
    let mut input = verify_input(&f.vk_hash, &f.model, &f.public, &f.proof);
    let first_public = 1 + 32 + 4 + f.model.len() + 4;
    input[first_public..first_public + 32].copy_from_slice(&[0xff; 32]);
    assert_eq!(answer(&input), 0, "a non-canonical field element");
    // Counts that promise more than there is.
    let mut input = verify_input(&f.vk_hash, &f.model, &f.public, &f.proof);
    input[first_public - 4..first_public].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(answer(&input), 0, "a public input count past the input");
    let mut input = verify_input(&f.vk_hash, &f.model, &f.public, &f.proof);
    input[33..37].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(answer(&input), 0, "a model length past the input");
    assert_eq!(answer(&[9, 9, 9]), 0, "an unknown operation");
    assert_eq!(answer(&[]), 0, "nothing at all");
}

fn a_batch_answers_each_proof_on_its_own() {
    let f = fixture();
    let mut input = vec![OP_VERIFY_BATCH];
    input.extend_from_slice(&f.vk_hash);
    input.extend_from_slice(&(f.model.len() as u32).to_be_bytes());
    input.extend_from_slice(&f.model);
    let mut flipped = f.proof.clone();
    flipped[64] ^= 1;
    let items = [(&f.public, &f.proof), (&f.public, &flipped), (&f.other_public, &f.other_proof)];
    input.extend_from_slice(&(items.len() as u32).to_be_bytes());
    for (public, proof) in items {
        input.extend_from_slice(&(public.len() as u32).to_be_bytes());
        for value in public.iter() {
            input.extend_from_slice(&field_to_word(value));
        }
        input.extend_from_slice(&(proof.len() as u32).to_be_bytes());
        input.extend_from_slice(proof);
    }
    let output = verify_inference(&input, 100_000_000).unwrap();
    let answers: Vec<u8> = output.bytes.chunks(32).map(|w| w[31]).collect();
    assert_eq!(answers, vec![1, 0, 1]);
    assert_eq!(output.gas_used, BASE_GAS + WORD_GAS * input.len().div_ceil(32) as u64 + 3 * verify_gas(f.k));
    let mut trailing = input.clone();
    trailing.push(0);
    let output = verify_inference(&trailing, 100_000_000).unwrap();
    assert!(output.bytes.iter().all(|b| *b == 0), "bytes past the last proof: all refused");
}

#[test]
fn the_chain_carries_the_precompile() {
    assert!(crate::chain_rules().contains(&INFERENCE_VERIFIER_ADDRESS));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_input_never_panics(op in 0u8..5, body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut input = vec![op];
        input.extend_from_slice(&body);
        let output = verify_inference(&input, 10_000_000).unwrap();
        prop_assert!(output.bytes.iter().all(|b| *b == 0));
    }
}
