//! The provider's side of FineTuningServing: registering the service, reading a user's
//! sub-account and deliverables, recording a deliverable, settling it.

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer::SignerSync;

use super::FineTuningService;
use crate::compute::client::Refused;
use zg_systems::compute::contracts::{
    FINE_TUNING_ADDRESS, FineTuningAccount, FineTuningDeliverable, FineTuningQuota, FineTuningService as ServiceRecord, FineTuningVerifierInput,
    IFineTuningServing, PROVIDER_STAKE_0G, fine_tuning_digest,
};

/// A read of FineTuningServing; a refusal (any reason: a missing account, deliverable or
/// service) reads as None.
async fn view_or_none<C: alloy_sol_types::SolCall>(ft: &FineTuningService, call: &C) -> anyhow::Result<Option<C::Return>> {
    match ft.market.view(FINE_TUNING_ADDRESS, call).await {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.downcast_ref::<Refused>().is_some() => Ok(None),
        Err(error) => Err(error),
    }
}

pub async fn service(ft: &FineTuningService) -> anyhow::Result<Option<ServiceRecord>> {
    view_or_none(ft, &IFineTuningServing::getServiceCall { provider: ft.provider }).await
}

pub async fn account(ft: &FineTuningService, user: Address) -> anyhow::Result<Option<FineTuningAccount>> {
    view_or_none(ft, &IFineTuningServing::getAccountCall { user, provider: ft.provider }).await
}

pub async fn deliverable(ft: &FineTuningService, user: Address, id: &str) -> anyhow::Result<Option<FineTuningDeliverable>> {
    view_or_none(ft, &IFineTuningServing::getDeliverableCall { user, provider: ft.provider, id: id.into() }).await
}

pub async fn lock_time_and_penalty(ft: &FineTuningService) -> anyhow::Result<(u64, U256)> {
    let lock = ft.market.view(FINE_TUNING_ADDRESS, &IFineTuningServing::lockTimeCall {}).await?;
    let penalty = ft.market.view(FINE_TUNING_ADDRESS, &IFineTuningServing::penaltyPercentageCall {}).await?;
    Ok((lock.saturating_to(), penalty))
}

/// Registers (or updates) the service: URL, this machine's quota, price, model, signer. A new
/// service stakes the contract's minimum; the marketplace owner's key (the dev provider's)
/// acknowledges the signer too.
pub async fn register(ft: &FineTuningService, url: &str) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let quota = FineTuningQuota { cpuCount: U256::from(cpus), nodeMemory: U256::ZERO, gpuCount: U256::ZERO, nodeStorage: U256::ZERO, gpuType: "cpu".into() };
    let price = U256::from(ft.config.price_per_token);
    let current = service(ft).await?;
    let unchanged = current.as_ref().is_some_and(|s| {
        s.url == url && s.pricePerToken == price && s.models == [ft.model.name.clone()] && s.teeSignerAddress == ft.signer.address() && s.quota.cpuCount == quota.cpuCount
    });
    if !unchanged {
        let stake = if current.is_some() { U256::ZERO } else { U256::from(PROVIDER_STAKE_0G) * U256::from(10u64).pow(U256::from(18)) };
        let call = IFineTuningServing::addOrUpdateServiceCall {
            url: url.into(),
            quota,
            pricePerToken: price,
            occupied: false,
            models: vec![ft.model.name.clone()],
            teeSignerAddress: ft.signer.address(),
        };
        ft.market.send(&ft.key, FINE_TUNING_ADDRESS, &call, stake).await.map_err(|e| e.context("registering the fine-tuning service (addOrUpdateService)"))?;
    }
    Ok(())
}

/// Acknowledges this provider's own signer, as the marketplace's owner (the dev provider is).
pub async fn acknowledge_own_signer(ft: &FineTuningService) -> anyhow::Result<()> {
    if service(ft).await?.is_some_and(|s| !s.teeSignerAcknowledged) {
        ft.market.send(&ft.key, FINE_TUNING_ADDRESS, &IFineTuningServing::acknowledgeTEESignerByOwnerCall { provider: ft.provider }, U256::ZERO).await?;
    }
    Ok(())
}

/// Records the deliverable; the gas it used.
pub async fn add_deliverable(ft: &FineTuningService, user: Address, id: &str, root: Bytes) -> anyhow::Result<u64> {
    let call = IFineTuningServing::addDeliverableCall { user, id: id.into(), modelRootHash: root };
    let hash = ft.market.send(&ft.key, FINE_TUNING_ADDRESS, &call, U256::ZERO).await?;
    ft.market.gas_used(hash).await
}

/// Settles a deliverable for `fee` (the contract takes 30 % of it for one never acknowledged),
/// revealing `encrypted_secret` (empty when unacknowledged); the gas it used.
pub async fn settle(ft: &FineTuningService, user: Address, id: &str, root: Bytes, encrypted_secret: Bytes, fee: U256) -> anyhow::Result<u64> {
    let nonce = account(ft, user).await?.map(|a| a.nonce).unwrap_or_default() + U256::from(1);
    let mut input = FineTuningVerifierInput { id: id.into(), encryptedSecret: encrypted_secret, modelRootHash: root, nonce, signature: Bytes::new(), taskFee: fee, user };
    let signature = ft.signer.sign_message_sync(fine_tuning_digest(&input, ft.provider).as_slice())?;
    input.signature = Bytes::from(signature.as_bytes().to_vec());
    let hash = ft.market.send(&ft.key, FINE_TUNING_ADDRESS, &IFineTuningServing::settleFeesCall { verifierInput: input }, U256::ZERO).await?;
    ft.market.gas_used(hash).await
}
