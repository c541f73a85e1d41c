//! A user's request to a provider, as `zgnode compute ask` makes it: the provider's URL from
//! its service on chain, a session token signed like the SDK's, a streamed chat completion
//! through 0G's provider API, then the response's signature checked against the service's
//! acknowledged signer.

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;
use tokio::sync::mpsc;

use super::backend::openai::OpenAiProxy;
use super::backend::{ChatMessage, Generation, Usage};
use super::client::MarketClient;
use super::receipt::SignedResponse;

pub struct Answer {
    pub chat_id: String,
    pub text: String,
    pub usage: Usage,
    /// The fee the signed record states (neuron).
    pub fee: U256,
    pub signer: Address,
}

pub async fn ask(market: &MarketClient, key: &PrivateKeySigner, provider: Address, prompt: &str, max_tokens: u32, mut on_piece: impl FnMut(&str)) -> anyhow::Result<Answer> {
    let service = market
        .service(provider)
        .await?
        .with_context(|| format!("{provider} offers no inference service (`zgnode compute providers` lists those that do)"))?;
    let account = market
        .account(key.address(), provider)
        .await?
        .with_context(|| format!("you have no sub-account with {provider}: `zgnode compute transfer {provider} 1` opens one"))?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    let header = super::token::session_header(key, provider, now_ms, account.generation.saturating_to())?;
    let endpoint = format!("{}/v1/proxy", service.url.trim_end_matches('/'));
    let client = Arc::new(OpenAiProxy::new(&endpoint, &service.model, &service.model, None)?.with_authorization(header));
    let generation = Generation {
        messages: vec![ChatMessage { role: "user".into(), content: prompt.to_string() }],
        max_tokens,
        temperature: 0.0,
        seed: 0,
        body: serde_json::json!({}),
    };
    let (tx, mut rx) = mpsc::channel(64);
    let request = tokio::spawn({
        let client = client.clone();
        async move { client.complete(generation, tx).await }
    });
    let mut text = String::new();
    while let Some(piece) = rx.recv().await {
        on_piece(&piece);
        text.push_str(&piece);
    }
    let (usage, chat_id) = request.await?.with_context(|| format!("the provider at {}", service.url))?;
    let chat_id = chat_id.context("the provider sent no ZG-Res-Key header: it is not a 0G provider")?;
    let signed: SignedResponse = serde_json::from_value(client.get_json(&format!("/signature/{chat_id}?model={}", service.model)).await?)
        .context("the provider's signature is not {text, signature}")?;
    let signer = signed.signer().context("the provider's signature is malformed")?;
    anyhow::ensure!(signer == service.teeSignerAddress, "the response is signed by {signer}, not by the service's signer {}", service.teeSignerAddress);
    let record = signed.record().context("the signed text is not a zgnode response record")?;
    anyhow::ensure!(record.chat_id == chat_id, "the signed record is for {}, not {chat_id}", record.chat_id);
    Ok(Answer { chat_id, text, usage, fee: record.fee, signer })
}
