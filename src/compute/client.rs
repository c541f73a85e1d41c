//! A user's side of the marketplace over the chain's JSON-RPC: the ledger (deposit, refund,
//! transfer to a provider's sub-account, retrieve), balances, and the services on offer. Behind
//! `zgnode compute …`. Every transaction is simulated first, so a refusal comes back as the
//! contract's own reason (`InsufficientAvailableBalance(available, required)`), not as a
//! reverted receipt.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError, SolInterface};
use anyhow::Context;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::json;
use std::time::Duration;

use zg_systems::compute::contracts::{
    IInferenceServing, ILedgerManager, IMarketErrors, INFERENCE_ADDRESS, InferenceAccount, InferenceService, LEDGER_ADDRESS, LedgerInfo,
};

#[derive(Clone)]
pub struct MarketClient {
    eth: HttpClient,
}

/// A call the contract refused: its custom error's selector (when it gave one) and the reason
/// in words. Callers that expect a refusal match the selector, never the wording.
#[derive(Debug, thiserror::Error)]
#[error("refused: {reason}")]
pub struct Refused {
    pub selector: Option<[u8; 4]>,
    pub reason: String,
}

/// Whether `error` is the contract refusing with custom error `E`.
fn refused_with<E: SolError>(error: &anyhow::Error) -> bool {
    error.downcast_ref::<Refused>().is_some_and(|refused| refused.selector == Some(E::SELECTOR))
}

/// A user's money in the marketplace: the ledger's available part, and each inference
/// provider's sub-account.
#[derive(Clone)]
pub struct Balances {
    pub ledger: Option<LedgerInfo>,
    pub sub_accounts: Vec<InferenceAccount>,
    pub lock_time_secs: u64,
}

/// 0G (18 decimals) as a decimal string without trailing zeros ("1.5", "3").
pub fn format_0g(amount: U256) -> String {
    let text = alloy_primitives::utils::format_ether(amount);
    match text.split_once('.') {
        Some((whole, fraction)) if fraction.trim_end_matches('0').is_empty() => whole.to_string(),
        Some((whole, fraction)) => format!("{whole}.{}", fraction.trim_end_matches('0')),
        None => text,
    }
}

impl MarketClient {
    pub fn new(eth_url: &str) -> anyhow::Result<Self> {
        let eth = HttpClientBuilder::default().request_timeout(Duration::from_secs(30)).build(eth_url).with_context(|| format!("bad URL {eth_url}"))?;
        Ok(Self { eth })
    }

    async fn eth<T: serde::de::DeserializeOwned>(&self, method: &str, params: jsonrpsee::core::params::ArrayParams) -> anyhow::Result<T> {
        self.eth.request(method, params).await.with_context(|| format!("{method} on the chain's JSON-RPC"))
    }

    /// Runs `input` as `from` would send it; a revert comes back as [`Refused`].
    async fn simulate(&self, from: Address, to: Address, input: &Bytes, value: U256) -> anyhow::Result<Bytes> {
        let request = json!({"from": from, "to": to, "data": input, "value": value});
        match self.eth.request::<Bytes, _>("eth_call", rpc_params![request, "latest"]).await {
            Ok(output) => Ok(output),
            Err(jsonrpsee::core::client::Error::Call(error)) => {
                let data = error.data().and_then(|raw| serde_json::from_str::<Bytes>(raw.get()).ok()).unwrap_or_default();
                let selector = data.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok());
                let reason = explain(&data).unwrap_or_else(|| error.message().to_string());
                Err(Refused { selector, reason }.into())
            }
            Err(error) => Err(error).context("eth_call on the chain's JSON-RPC"),
        }
    }

    pub async fn view<C: SolCall>(&self, to: Address, call: &C) -> anyhow::Result<C::Return> {
        let output = self.simulate(Address::ZERO, to, &call.abi_encode().into(), U256::ZERO).await?;
        C::abi_decode_returns(&output).context("the contract answered something else than its ABI says")
    }

    /// What `call` from `from` would return now (statuses of a settlement batch, say).
    pub async fn preview<C: SolCall>(&self, from: Address, to: Address, call: &C) -> anyhow::Result<C::Return> {
        let output = self.simulate(from, to, &call.abi_encode().into(), U256::ZERO).await?;
        C::abi_decode_returns(&output).context("the contract answered something else than its ABI says")
    }

    /// Simulates, sends and waits for `call` from `key`; the transaction hash.
    pub async fn send<C: SolCall>(&self, key: &PrivateKeySigner, to: Address, call: &C, value: U256) -> anyhow::Result<B256> {
        let input = Bytes::from(call.abi_encode());
        self.simulate(key.address(), to, &input, value).await?;
        let request = json!({"from": key.address(), "to": to, "data": &input, "value": value});
        let estimate: U256 = self.eth("eth_estimateGas", rpc_params![request]).await?;
        let gas = estimate.saturating_to::<u64>().saturating_mul(12) / 10;
        crate::signing::send_and_wait(&self.eth, key, (to, value, input), gas, "the transaction").await
    }

    pub async fn chain_id(&self) -> anyhow::Result<u64> {
        let id: U256 = self.eth("eth_chainId", rpc_params![]).await?;
        Ok(id.saturating_to())
    }

    /// A mined transaction's receipt (null while pending).
    pub async fn receipt(&self, hash: B256) -> anyhow::Result<serde_json::Value> {
        self.eth("eth_getTransactionReceipt", rpc_params![hash]).await
    }

    /// The gas a mined transaction used (0 while pending or when its receipt does not say).
    pub async fn gas_used(&self, hash: B256) -> anyhow::Result<u64> {
        let receipt = self.receipt(hash).await?;
        Ok(receipt["gasUsed"].as_str().and_then(|g| u64::from_str_radix(g.trim_start_matches("0x"), 16).ok()).unwrap_or_default())
    }

    /// The latest block's timestamp (Unix seconds): the clock the contracts' lock times read.
    pub async fn head_timestamp(&self) -> anyhow::Result<u64> {
        let block: serde_json::Value = self.eth("eth_getBlockByNumber", rpc_params!["latest", false]).await?;
        let text = block["timestamp"].as_str().context("the latest block has no timestamp")?;
        u64::from_str_radix(text.trim_start_matches("0x"), 16).context("the latest block's timestamp is not a number")
    }

    /// The account's balance in neuron.
    pub async fn balance_of(&self, account: Address) -> anyhow::Result<U256> {
        self.eth("eth_getBalance", rpc_params![account, "latest"]).await
    }

    pub async fn ledger(&self, user: Address) -> anyhow::Result<Option<LedgerInfo>> {
        match self.view(LEDGER_ADDRESS, &ILedgerManager::getLedgerCall { user }).await {
            Ok(ledger) => Ok(Some(ledger)),
            Err(error) if refused_with::<IMarketErrors::LedgerNotExists>(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `user`'s inference sub-account with `provider`, if there is one.
    pub async fn account(&self, user: Address, provider: Address) -> anyhow::Result<Option<InferenceAccount>> {
        match self.view(INFERENCE_ADDRESS, &IInferenceServing::getAccountCall { user, provider }).await {
            Ok(account) => Ok(Some(account)),
            Err(error) if refused_with::<IMarketErrors::AccountNotExists>(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn balances(&self, user: Address) -> anyhow::Result<Balances> {
        let ledger = self.ledger(user).await?;
        let providers = self
            .view(LEDGER_ADDRESS, &ILedgerManager::getLedgerProvidersCall { user, serviceName: zg_systems::compute::contracts::INFERENCE_SERVICE_NAME.into() })
            .await?;
        let mut sub_accounts = Vec::new();
        for provider in providers {
            // The ledger remembers providers whose sub-account was deleted since.
            sub_accounts.extend(self.account(user, provider).await?);
        }
        let lock_time_secs = self.view(INFERENCE_ADDRESS, &IInferenceServing::lockTimeCall {}).await?.saturating_to();
        Ok(Balances { ledger, sub_accounts, lock_time_secs })
    }

    /// `provider`'s inference service, if it offers one.
    pub async fn service(&self, provider: Address) -> anyhow::Result<Option<InferenceService>> {
        match self.view(INFERENCE_ADDRESS, &IInferenceServing::getServiceCall { provider }).await {
            Ok(service) => Ok(Some(service)),
            Err(error) if refused_with::<IMarketErrors::ServiceNotExist>(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The node's ranking of the services on offer (`compute_providers`: latency probed,
    /// settled history read), best first.
    pub async fn ranked_providers(&self) -> anyhow::Result<Vec<super::ranking::RankedProvider>> {
        let list: Vec<serde_json::Value> = self.eth("compute_providers", rpc_params![]).await?;
        list.into_iter().map(|v| serde_json::from_value(v).context("compute_providers answered an unexpected shape")).collect()
    }
}

/// The contract's custom error, in words.
fn explain(data: &[u8]) -> Option<String> {
    use IMarketErrors::IMarketErrorsErrors as E;
    let Ok(error) = E::abi_decode(data) else { return explain_fine_tuning(data) };
    Some(match error {
        E::InsufficientAvailableBalance(e) => format!(
            "the ledger's available balance is {} 0G and this needs {} 0G (money in provider sub-accounts is not available: `zgnode compute retrieve` asks for it back)",
            format_0g(e.available),
            format_0g(e.required)
        ),
        E::LedgerExists(_) => "this account already has a ledger (deposit adds to it)".into(),
        E::LedgerNotExists(_) => "this account has no ledger yet: `zgnode compute deposit` opens one (at least 3 0G)".into(),
        E::MinimumDepositRequired(e) => format!("at least {} 0G is needed here (got {} 0G)", format_0g(e.required), format_0g(e.provided)),
        E::MustWithdrawAllFundsFirst(e) => format!("{} 0G is still in the ledger or its sub-accounts", format_0g(e.remainingBalance)),
        E::InvalidServiceType(e) => format!("no service named {:?}", e.serviceType),
        E::TooManyProviders(e) => format!("{} providers in one call; at most {}", e.requested, e.maximum),
        E::TooManyProvidersForService(e) => format!("already {} providers for this service; at most {}", e.current, e.maximum),
        E::ZeroAmountNotAllowed(_) => "the amount must be more than 0".into(),
        E::AccountNotExists(e) => format!("no sub-account with provider {}", e.provider),
        E::ServiceNotExist(e) => format!("provider {} offers no service", e.provider),
        E::TooManyRefunds(_) => "too many refunds are waiting on this sub-account; retrieve them after the lock time first".into(),
        E::CannotRevokeWithNonZeroBalance(e) => format!("the sub-account still holds {} 0G", format_0g(e.balance)),
        E::InsufficientStake(e) => format!("a provider stakes at least {} 0G (got {} 0G)", format_0g(e.required), format_0g(e.provided)),
    })
}

fn explain_fine_tuning(data: &[u8]) -> Option<String> {
    use zg_systems::compute::contracts::IFineTuningErrors::IFineTuningErrorsErrors as E;
    Some(match E::abi_decode(data).ok()? {
        E::InvalidVerifierInput(e) => format!("FineTuningServing: {}", e.reason),
        E::DeliverableAlreadyExists(e) => format!("deliverable {} is already on chain", e.id),
        E::DeliverableAlreadySettled(e) => format!("deliverable {} is already settled", e.id),
        E::DeliverableNotExists(e) => format!("no deliverable {}", e.id),
        E::PreviousDeliverableNotAcknowledged(e) => format!("the user's previous deliverable {} is not acknowledged yet", e.id),
        E::SecretShouldBeEmpty(_) => "an unacknowledged deliverable is settled without a secret".into(),
        E::SecretShouldNotBeEmpty(_) => "an acknowledged deliverable is settled with its secret".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverts_read_as_words() {
        let data = IMarketErrors::InsufficientAvailableBalance { available: U256::from(10u64).pow(U256::from(18)), required: U256::from(2) * U256::from(10u64).pow(U256::from(18)) }
            .abi_encode();
        let text = explain(&data).unwrap();
        assert!(text.contains("available balance is 1 0G") && text.contains("needs 2 0G"), "{text}");
        assert_eq!(format_0g(U256::from(15u64) * U256::from(10u64).pow(U256::from(17))), "1.5");
        assert_eq!(format_0g(U256::from(1u64)), "0.000000000000000001");
        let data = zg_systems::compute::contracts::IFineTuningErrors::InvalidVerifierInput { reason: "signer not acknowledged".into() }.abi_encode();
        assert_eq!(explain(&data).as_deref(), Some("FineTuningServing: signer not acknowledged"));
        assert_eq!(explain(&[0xde, 0xad]), None);
        assert_eq!(explain(&[]), None);
        let refusal = anyhow::Error::from(Refused { selector: Some(IMarketErrors::LedgerNotExists::SELECTOR), reason: "any words".into() });
        assert!(refused_with::<IMarketErrors::LedgerNotExists>(&refusal));
        assert!(!refused_with::<IMarketErrors::AccountNotExists>(&refusal));
        assert!(!refused_with::<IMarketErrors::LedgerNotExists>(&anyhow::anyhow!("no ledger")));
    }
}
