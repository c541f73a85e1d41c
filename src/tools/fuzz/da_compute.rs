//! The targets of the inputs the DA and compute halves added: fraud proofs, provider request
//! bodies, the inference verifier's input; their fixtures and seeds.

use std::sync::OnceLock;

use super::CHAIN_ID;

/// An honest blob's square and a badly encoded one, for the DA fraud-proof target.
struct FraudFixture {
    honest_root: alloy_primitives::B256,
    honest: zg_components::da::ExtendedSquare,
    bad: zg_components::da::ExtendedSquare,
}

fn fraud_fixture() -> &'static FraudFixture {
    static FIXTURE: OnceLock<FraudFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let blob: Vec<u8> = (0..3_000u32).map(|i| (i * 13 % 251) as u8).collect();
        let honest = zg_systems::da::encoding::extend_blob(&blob).expect("a small blob extends");
        let mut bad = honest.clone();
        let width = bad.layout.width();
        bad.data[(2 * width - 1) * zg_components::da::SHARE_SIZE] ^= 1;
        FraudFixture { honest_root: honest.commit().data_root(), honest, bad }
    })
}

/// A fraud proof as `submitFraudProof` hands it to the precompile at 0x..da01: decoded and
/// checked without panicking, within its gas; no proof ever fails the honest blob; and what
/// holds names the proof's own data root and k.
pub fn da_fraud_proof(data: &[u8]) {
    let fixture = fraud_fixture();
    let Ok(output) = zg_systems::da::precompile::check_fraud_proof(data, u64::MAX) else { return };
    let bytes = output.bytes;
    assert_eq!(bytes.len(), 96, "the precompile answers valid, root, k");
    if bytes[31] == 1 {
        assert_ne!(&bytes[32..64], fixture.honest_root.as_slice(), "a fraud proof against the honest blob held");
        let proof = zg_components::da::wire::decode_fraud_proof(data).expect("what holds decodes");
        assert_eq!(&bytes[32..64], proof.data_root.as_slice());
        assert_eq!(u32::from_be_bytes([bytes[92], bytes[93], bytes[94], bytes[95]]) as usize, proof.layout.k);
    }
}

/// The body of a compute provider's request: a chat completion (`/v1/chat/completions`) and a
/// verifiable request (`/v1/proxy/verifiable/{model}`). Refused with a reason or accepted as
/// what the provider may serve: messages present, 1 <= max_tokens <= the limit, temperature in
/// 0-2; a verifiable request only with the user's signature over that request and the input's
/// commitment.
pub fn provider_http_body(data: &[u8]) {
    const LIMIT: u32 = 256;
    if let Ok(chat) = crate::compute::provider::http::parse_chat(data, LIMIT) {
        assert!(!chat.messages.is_empty());
        assert!((1..=LIMIT).contains(&chat.max_tokens), "max_tokens {}", chat.max_tokens);
        assert!((0.0..=2.0).contains(&chat.temperature));
        let _ = chat.stream;
    }
    let Ok(body) = serde_json::from_slice::<crate::compute::verifiable::http::ProveBody>(data) else { return };
    let model = verifier_fixture();
    let terms = crate::compute::verifiable::http::Terms {
        model: &model.model,
        model_id: alloy_primitives::B256::repeat_byte(1),
        chain_id: CHAIN_ID,
        price: alloy_primitives::U256::from(1_000u64),
        provider: alloy_primitives::Address::repeat_byte(2),
    };
    if let Ok((input, request)) = crate::compute::verifiable::http::check_body(&terms, &body) {
        assert_eq!(input.len(), zg_systems::verifiable::circuit::INPUT_LEN);
        assert!(request.fee >= terms.price);
        let hash = zg_systems::verifiable::contracts::request_hash(zg_systems::verifiable::contracts::VERIFIED_INFERENCE_ADDRESS, CHAIN_ID, &request);
        let signer = alloy_primitives::Signature::try_from(body.request.signature.as_ref()).ok().and_then(|s| s.recover_address_from_msg(hash.as_slice()).ok());
        assert_eq!(signer, Some(request.user), "accepted without the user's signature");
    }
}

/// The small reference model, registered (its key derived once), for the verifier target.
struct VerifierFixture {
    model: zg_components::verifiable::QuantizedModel,
    bytes: Vec<u8>,
}

fn verifier_fixture() -> &'static VerifierFixture {
    static FIXTURE: OnceLock<VerifierFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let file: zg_components::verifiable::ModelFile =
            serde_json::from_str(include_str!("../../../assets/models/digits/digits-small.json")).expect("the shipped model parses");
        let bytes = zg_components::verifiable::wire::encode_model(&file.model).expect("the shipped model encodes");
        // Registered, as the ModelRegistry's event makes it on a node: its verifications run.
        zg_systems::verifiable::precompile::mark_registered(&bytes);
        VerifierFixture { model: file.model, bytes }
    })
}

/// The inference verifier precompile's input (what `ModelRegistry` builds, or anything a
/// contract sends): answered or halted, never a panic; a verification for model bytes not
/// registered on the chain halts at once (nothing is derived for it).
pub fn verifier_input(data: &[u8]) {
    use zg_systems::verifiable::precompile::{OP_VERIFY, OP_VERIFY_BATCH, verify_inference};
    let fixture = verifier_fixture();
    if let Ok(output) = verify_inference(data, 50_000_000) {
        assert!(output.bytes.len().is_multiple_of(32) && !output.bytes.is_empty());
    }
    // The same input's model bytes swapped for the registered model's: still no panic.
    if data.len() > 37 && matches!(data[0], OP_VERIFY | OP_VERIFY_BATCH) {
        let mut registered = data[..33].to_vec();
        registered.extend_from_slice(&(fixture.bytes.len() as u32).to_be_bytes());
        registered.extend_from_slice(&fixture.bytes);
        registered.extend_from_slice(&data[37..]);
        let _ = verify_inference(&registered, 50_000_000);
    }
}

/// Seeds of the DA fraud-proof, provider-body and verifier targets.
pub(super) fn seeds(signer: &alloy_signer_local::PrivateKeySigner) -> Vec<(&'static str, Vec<u8>)> {
    use alloy_primitives::{B256, U256};
    use alloy_signer::SignerSync;
    use zg_components::da::Axis;
    use zg_components::da::wire::encode_fraud_proof;
    use zg_systems::da::encoding::{prove_bad_encoding, share_proof};
    let mut seeds: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let fraud = fraud_fixture();
    let bad_roots = fraud.bad.commit();
    if let Ok(Some(proof)) = prove_bad_encoding(&fraud.bad, &bad_roots, Axis::Row, 1) {
        seeds.push(("da_fraud_proof", encode_fraud_proof(&proof)));
        let mut other_k = proof.clone();
        other_k.layout.k += 1;
        seeds.push(("da_fraud_proof", encode_fraud_proof(&other_k)));
        // The same shape against the honest blob: its own shares, proven, rebuild its row.
        let roots = fraud.honest.commit();
        let (leaves, tree) = (fraud.honest.leaf_hashes(), roots.tree());
        let mut against_honest = proof;
        against_honest.data_root = fraud.honest_root;
        against_honest.accused_root = roots.rows[1];
        if let Some(accused) = roots.axis_proof(Axis::Row, 1) {
            against_honest.accused_proof = accused;
        }
        for (i, (share, share_proof_slot)) in against_honest.shares.iter_mut().enumerate() {
            if let (Some(honest_share), Ok(proof)) = (fraud.honest.share(1, i), share_proof(&fraud.honest, &roots, &tree, &leaves, 1, i, Axis::Column)) {
                *share = honest_share.to_vec();
                *share_proof_slot = proof;
            }
        }
        seeds.push(("da_fraud_proof", encode_fraud_proof(&against_honest)));
    }

    let chats = [
        serde_json::json!({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "stream": true}),
        serde_json::json!({"messages": [{"role": "system", "content": null}, {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}], "temperature": 0.7, "seed": 3}),
        serde_json::json!({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0}),
    ];
    for chat in chats {
        seeds.push(("provider_http_body", serde_json::to_vec(&chat).expect("serializable")));
    }
    let verifier = verifier_fixture();
    let input: Vec<i8> = (0..zg_systems::verifiable::circuit::INPUT_LEN).map(|i| (i as i8).wrapping_mul(3)).collect();
    if let Ok(public) = zg_systems::verifiable::circuit::public_inputs(&verifier.model, &input) {
        let request = zg_systems::verifiable::contracts::VerifiedRequest {
            user: signer.address(),
            provider: alloy_primitives::Address::repeat_byte(2),
            modelId: B256::repeat_byte(1),
            nonce: U256::from(1),
            inputCommitment: zg_systems::verifiable::contracts::commitment_word(&public[0]),
            fee: U256::from(1_000u64),
        };
        let hash = zg_systems::verifiable::contracts::request_hash(zg_systems::verifiable::contracts::VERIFIED_INFERENCE_ADDRESS, CHAIN_ID, &request);
        if let Ok(signature) = signer.sign_message_sync(hash.as_slice()) {
            let body = serde_json::json!({
                "input": input,
                "request": {"user": request.user, "nonce": request.nonce, "inputCommitment": request.inputCommitment, "fee": request.fee, "signature": alloy_primitives::hex::encode_prefixed(signature.as_bytes())},
            });
            seeds.push(("provider_http_body", serde_json::to_vec(&body).expect("serializable")));
        }
        use zg_systems::verifiable::precompile::{OP_INSPECT, OP_VERIFY_BATCH, field_to_word, verify_call};
        let words: Vec<[u8; 32]> = public.iter().map(field_to_word).collect();
        let verify = verify_call(&[7u8; 32], &verifier.bytes, &words, &[1u8; 96]);
        seeds.push(("verifier_input", verify.clone()));
        let mut batch = vec![OP_VERIFY_BATCH];
        batch.extend_from_slice(&verify[1..37 + verifier.bytes.len()]);
        batch.extend_from_slice(&1u32.to_be_bytes());
        batch.extend_from_slice(&(words.len() as u32).to_be_bytes());
        words.iter().for_each(|w| batch.extend_from_slice(w));
        batch.extend_from_slice(&3u32.to_be_bytes());
        batch.extend_from_slice(&[1, 2, 3]);
        seeds.push(("verifier_input", batch));
        let mut inspect = vec![OP_INSPECT];
        inspect.extend_from_slice(&verifier.bytes);
        seeds.push(("verifier_input", inspect));
    }
    seeds
}
