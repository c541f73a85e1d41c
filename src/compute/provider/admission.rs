//! Whether a request is served: its token (signature, expiry, provider, revocation against the
//! user's on-chain account), the sub-account (exists, acknowledged this provider) and its
//! balance covering what the user already owes plus the most this request can cost.

use alloy_primitives::{Address, U256};

use super::ProviderState;
use crate::compute::token::{self, TokenError, TokenState, UserToken};
use zg_systems::compute::settlement::{fee_at_tier, request_fee};

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("no sub-account between {user} and this provider: acknowledge the provider and fund it first (SDK: acknowledgeProviderSigner, transferFund)")]
    NoAccount { user: Address },
    #[error("the sub-account has not acknowledged this provider's signer (SDK: acknowledgeProviderSigner)")]
    NotAcknowledged,
    #[error(
        "the sub-account cannot cover this request: {spendable} neuron spendable (balance less pending refunds), {owed} owed to this provider unsettled, this request may cost up to {cost} neuron; transfer more to the sub-account (SDK: transferFund)"
    )]
    Balance { spendable: U256, owed: U256, cost: U256 },
    #[error("the chain could not be read: {0}")]
    Chain(String),
}

/// A request admitted with `cost` reserved against its user until it is stored or dropped.
pub struct Admitted {
    pub user: UserToken,
    pub cost: U256,
    state: std::sync::Arc<ProviderState>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Ok(mut reserved) = self.state.reserved.lock()
            && let Some(amount) = reserved.get_mut(&self.user.user)
        {
            *amount = amount.saturating_sub(self.cost);
            if amount.is_zero() {
                reserved.remove(&self.user.user);
            }
        }
    }
}

/// The most a request can cost: every prompt byte a token (byte-level tokenizers never
/// produce more) plus the template's, and the whole completion budget.
pub fn cost_bound(state: &ProviderState, prompt_bytes: usize, messages: usize, max_tokens: u32) -> U256 {
    let prompt_tokens = (prompt_bytes as u64).saturating_add(16 * messages as u64 + 16);
    // Every tier's price (and the base one), whichever the request lands in.
    let base = request_fee(prompt_tokens, u64::from(max_tokens), state.input_price, state.output_price);
    let tiered = state.tiers.iter().map(|tier| fee_at_tier(prompt_tokens, u64::from(max_tokens), state.input_price, state.output_price, tier));
    std::iter::once(base).chain(tiered).map(|fee| fee.unwrap_or(U256::MAX)).max().unwrap_or(U256::MAX)
}

pub async fn admit(state: &std::sync::Arc<ProviderState>, authorization: Option<&str>, cost: U256) -> Result<Admitted, Refusal> {
    let user = token::parse(authorization)?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    // Cheap checks (provider, expiry) before the chain is asked.
    user.check(state.provider, now_ms, &TokenState { generation: user.generation, revoked_bitmap: U256::ZERO })?;
    let account = state.market.account(user.user, state.provider).await.map_err(|e| Refusal::Chain(format!("{e:#}")))?.ok_or(Refusal::NoAccount { user: user.user })?;
    let on_chain = TokenState { generation: account.generation.saturating_to(), revoked_bitmap: account.revokedBitmap };
    user.check(state.provider, now_ms, &on_chain)?;
    if !account.acknowledged {
        return Err(Refusal::NotAcknowledged);
    }
    let stored = state.store.owed_by(user.user).map_err(|e| Refusal::Chain(e.to_string()))?;
    let spendable = account.balance.saturating_sub(account.pendingRefund);
    let mut reserved = state.reserved.lock().map_err(|_| Refusal::Chain("the reservation table is poisoned".into()))?;
    let in_progress = reserved.get(&user.user).copied().unwrap_or_default();
    let owed = stored.saturating_add(in_progress);
    if owed.saturating_add(cost) > spendable {
        return Err(Refusal::Balance { spendable, owed, cost });
    }
    *reserved.entry(user.user).or_default() += cost;
    drop(reserved);
    Ok(Admitted { user, cost, state: state.clone() })
}
