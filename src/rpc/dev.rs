//! The dev chain's conveniences, as anvil and Hardhat offer them: unlocked dev accounts
//! (eth_accounts, eth_sendTransaction), impersonation, mining on demand, moving the clock and
//! editing state. Served when `rpc.dev_methods` is on (`zgnode dev` turns it on); refused with a
//! clear error otherwise, and always on a validator network.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U64, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::Params;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use zg_components::chain::{DevCommand, StateEdit};
use zg_components::node::NodeRequest;
use zg_systems::chain::dev::MAX_MINED_PER_REQUEST;

use super::RpcContext;
use super::call::{LatestMeans, call_site, estimate, prepare_tx};
use super::error::{RpcResult, invalid_params, server_error};
use super::eth::SUGGESTED_TIP;
use super::types::CallRequest;

/// What the dev methods need: the unlocked accounts and who is being impersonated.
pub struct DevAccess {
    signers: HashMap<Address, PrivateKeySigner>,
    order: Vec<Address>,
    impersonated: Mutex<HashSet<Address>>,
    /// evm_snapshot ids with the head block each was taken at, oldest first.
    snapshots: Mutex<(u64, Vec<(u64, u64)>)>,
}

impl DevAccess {
    pub fn new(signers: Vec<PrivateKeySigner>) -> Self {
        let order = signers.iter().map(|s| s.address()).collect();
        Self { signers: signers.into_iter().map(|s| (s.address(), s)).collect(), order, impersonated: Mutex::new(HashSet::new()), snapshots: Mutex::new((0, Vec::new())) }
    }

    fn impersonating(&self, address: &Address) -> bool {
        self.impersonated.lock().map(|set| set.contains(address)).unwrap_or(false)
    }
}

fn dev_access<'a>(ctx: &'a RpcContext, method: &str) -> RpcResult<&'a DevAccess> {
    if ctx.network.is_some() {
        return Err(server_error(format!(
            "{method} is a dev-chain control and this node is on a validator network, whose blocks are decided by consensus"
        )));
    }
    ctx.dev.as_ref().ok_or_else(|| {
        server_error(format!("{method} is a dev-chain control: run `zgnode dev`, or set rpc.dev_methods = true"))
    })
}

async fn dev_command(ctx: &RpcContext, command: DevCommand) -> RpcResult<u64> {
    ctx.ask(|reply| NodeRequest::Dev { command, reply }).await?.map_err(|e| server_error(e.to_string()))
}

fn one<T: serde::de::DeserializeOwned>(params: &Params) -> RpcResult<T> {
    let (value,): (T,) = params.parse()?;
    Ok(value)
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("eth_accounts", |_, ctx, _| -> Vec<Address> {
        match (&ctx.dev, &ctx.network) {
            // As anvil: the dev accounts, then whoever is impersonated.
            (Some(dev), None) => {
                let mut accounts = dev.order.clone();
                if let Ok(impersonated) = dev.impersonated.lock() {
                    accounts.extend(impersonated.iter().filter(|a| !dev.signers.contains_key(*a)));
                }
                accounts
            }
            _ => Vec::new(),
        }
    })?;
    module.register_async_method("eth_sendTransaction", |params, ctx, _| async move {
        let dev = dev_access(&ctx, "eth_sendTransaction")?;
        let request: CallRequest = one(&params)?;
        let from = request.from.ok_or_else(|| invalid_params("eth_sendTransaction needs \"from\""))?;
        let signer = dev.signers.get(&from).cloned();
        if signer.is_none() && !dev.impersonating(&from) {
            return Err(server_error(format!("unknown account {from}: not a dev account and not impersonated")));
        }
        let envelope = fill_and_sign(&ctx, request, from, signer.as_ref()).await?;
        ctx.submit(envelope, from).await
    })?;
    for name in ["anvil_impersonateAccount", "hardhat_impersonateAccount"] {
        module.register_method(name, move |params, ctx, _| -> RpcResult<Value> {
            let dev = dev_access(ctx, name)?;
            let address: Address = one(&params)?;
            dev.impersonated.lock().map_err(|_| server_error("impersonation state unavailable"))?.insert(address);
            Ok(Value::Null)
        })?;
    }
    for name in ["anvil_stopImpersonatingAccount", "hardhat_stopImpersonatingAccount"] {
        module.register_method(name, move |params, ctx, _| -> RpcResult<Value> {
            let dev = dev_access(ctx, name)?;
            let address: Address = one(&params)?;
            dev.impersonated.lock().map_err(|_| server_error("impersonation state unavailable"))?.remove(&address);
            Ok(Value::Null)
        })?;
    }
    module.register_async_method("evm_mine", |params, ctx, _| async move {
        dev_access(&ctx, "evm_mine")?;
        let timestamp: Option<U64> = params.sequence().optional_next()?;
        let timestamp = timestamp.map(|t| t.to::<u64>());
        if let Some(timestamp) = timestamp {
            check_future_timestamp(&ctx, timestamp)?;
        }
        dev_command(&ctx, DevCommand::Mine { blocks: 1, timestamp }).await?;
        RpcResult::Ok("0x0")
    })?;
    for name in ["anvil_mine", "hardhat_mine"] {
        module.register_async_method(name, move |params, ctx, _| async move {
            dev_access(&ctx, name)?;
            let mut seq = params.sequence();
            let blocks: Option<U64> = seq.optional_next()?;
            let interval: Option<U64> = seq.optional_next()?;
            let blocks = blocks.map(|b| b.to::<u64>()).unwrap_or(1);
            if blocks == 0 || blocks > MAX_MINED_PER_REQUEST {
                return Err(invalid_params(format!("blocks must be 1..={MAX_MINED_PER_REQUEST}")));
            }
            let interval = interval.map(|i| i.to::<u64>());
            if interval.is_some_and(|i| i > MAX_DEV_SECONDS / MAX_MINED_PER_REQUEST) {
                return Err(invalid_params("interval too large"));
            }
            match interval {
                // Each block `interval` seconds after the previous one.
                Some(interval) if interval > 1 => {
                    for _ in 0..blocks {
                        ctx.clock.advance(interval - 1);
                        dev_command(&ctx, DevCommand::Mine { blocks: 1, timestamp: None }).await?;
                    }
                }
                _ => {
                    dev_command(&ctx, DevCommand::Mine { blocks, timestamp: None }).await?;
                }
            }
            RpcResult::Ok(Value::Null)
        })?;
    }
    module.register_blocking_method("evm_increaseTime", |params, ctx, _| -> RpcResult<u64> {
        dev_access(&ctx, "evm_increaseTime")?;
        let seconds = seconds_param(&params, "evm_increaseTime takes a non-negative number of seconds")?;
        // Sub-second blocks may have run the chain clock ahead of the wall clock: the jump is
        // from whichever is later, so the next block lands at least `seconds` after the head.
        let snapshot = ctx.reader.snapshot()?;
        let head = snapshot.head_number().unwrap_or_default();
        let (header, _) = snapshot.header(head)?.ok_or_else(|| server_error("header not found"))?;
        let wall = (crate::wall_clock::now_ms() / 1000).saturating_add(ctx.clock.offset_s());
        let lead = header.timestamp.saturating_sub(wall);
        ctx.clock.advance(lead);
        Ok(ctx.clock.advance(seconds))
    })?;
    module.register_blocking_method("evm_setNextBlockTimestamp", |params, ctx, _| -> RpcResult<Value> {
        dev_access(&ctx, "evm_setNextBlockTimestamp")?;
        let timestamp = seconds_param(&params, "evm_setNextBlockTimestamp takes a timestamp in seconds")?;
        check_future_timestamp(&ctx, timestamp)?;
        ctx.clock.set_next_timestamp(timestamp);
        Ok(Value::Null)
    })?;
    module.register_blocking_method("evm_snapshot", |_, ctx, _| -> RpcResult<String> {
        let dev = dev_access(&ctx, "evm_snapshot")?;
        let head = ctx.reader.snapshot()?.head_number().unwrap_or_default();
        let mut snapshots = dev.snapshots.lock().map_err(|_| server_error("snapshot state unavailable"))?;
        snapshots.0 += 1;
        let id = snapshots.0;
        snapshots.1.push((id, head));
        Ok(super::types::quantity(id))
    })?;
    module.register_async_method("evm_revert", |params, ctx, _| async move {
        let dev = dev_access(&ctx, "evm_revert")?;
        let id: U64 = one(&params)?;
        let id = id.to::<u64>();
        let block = {
            let snapshots = dev.snapshots.lock().map_err(|_| server_error("snapshot state unavailable"))?;
            snapshots.1.iter().find(|(taken, _)| *taken == id).map(|(_, block)| *block)
        };
        // As Hardhat and anvil: an unknown (or already used) snapshot is `false`, not an error.
        let Some(block) = block else { return RpcResult::Ok(false) };
        dev_command(&ctx, DevCommand::Revert { block }).await?;
        // The snapshot and every later one are used up.
        if let Ok(mut snapshots) = dev.snapshots.lock() {
            snapshots.1.retain(|(taken, _)| *taken < id);
        }
        Ok(true)
    })?;
    register_edit(module, &["anvil_setBalance", "hardhat_setBalance"], |params| {
        let (address, balance): (Address, U256) = params.parse()?;
        Ok(StateEdit::Balance(address, balance))
    })?;
    register_edit(module, &["anvil_setNonce", "hardhat_setNonce"], |params| {
        let (address, nonce): (Address, U64) = params.parse()?;
        Ok(StateEdit::Nonce(address, nonce.to()))
    })?;
    register_edit(module, &["anvil_setCode", "hardhat_setCode"], |params| {
        let (address, code): (Address, Bytes) = params.parse()?;
        if code.len() > revm::primitives::eip170::MAX_CODE_SIZE * 2 {
            return Err(invalid_params("code larger than twice EIP-170's limit"));
        }
        Ok(StateEdit::Code(address, code))
    })?;
    register_edit(module, &["anvil_setStorageAt", "hardhat_setStorageAt"], |params| {
        let (address, slot, value): (Address, U256, B256) = params.parse()?;
        Ok(StateEdit::Storage(address, slot, U256::from_be_bytes(value.0)))
    })?;
    Ok(())
}

/// The latest timestamp (and the largest jump) the dev clock takes: 2^40 s, some 34,800 years,
/// far past any test's needs and far from overflowing anything that adds to it.
pub const MAX_DEV_SECONDS: u64 = 1 << 40;

/// Seconds as Hardhat and anvil take them: a JSON number or a hex quantity, at most
/// [`MAX_DEV_SECONDS`].
fn seconds_param(params: &Params, refusal: &str) -> RpcResult<u64> {
    let value: Value = one(params)?;
    match &value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => super::types::parse_quantity(s).ok(),
        _ => None,
    }
    .filter(|seconds| *seconds <= MAX_DEV_SECONDS)
    .ok_or_else(|| invalid_params(format!("{refusal} (at most {MAX_DEV_SECONDS})")))
}

/// A state edit method under each of its names; answers `true` once its block is persisted.
fn register_edit(
    module: &mut RpcModule<RpcContext>,
    names: &[&'static str],
    parse: fn(&Params) -> RpcResult<StateEdit>,
) -> Result<(), RegisterMethodError> {
    for &name in names {
        module.register_async_method(name, move |params, ctx, _| async move {
            dev_access(&ctx, name)?;
            let edit = parse(&params)?;
            dev_command(&ctx, DevCommand::Edit(vec![edit])).await?;
            RpcResult::Ok(true)
        })?;
    }
    Ok(())
}

/// Timestamps must exceed the head's (Ethereum's rule); past ones are refused, not clamped.
fn check_future_timestamp(ctx: &RpcContext, timestamp: u64) -> RpcResult<()> {
    if timestamp > MAX_DEV_SECONDS {
        return Err(invalid_params(format!("timestamp {timestamp} is past the dev clock's limit {MAX_DEV_SECONDS}")));
    }
    let snapshot = ctx.reader.snapshot()?;
    let head = snapshot.head_number().unwrap_or_default();
    let (header, _) = snapshot.header(head)?.ok_or_else(|| server_error("header not found"))?;
    if timestamp <= header.timestamp {
        return Err(invalid_params(format!(
            "timestamp {timestamp} is not after the head's ({}): block timestamps strictly increase",
            header.timestamp
        )));
    }
    Ok(())
}

/// Fills what the request leaves out (nonce, gas, fees) as anvil does, then signs with the dev
/// key, or with a stand-in signature for an impersonated sender.
async fn fill_and_sign(
    ctx: &RpcContext,
    request: CallRequest,
    from: Address,
    signer: Option<&PrivateKeySigner>,
) -> RpcResult<TxEnvelope> {
    let nonce = match request.nonce {
        Some(nonce) => nonce.to::<u64>(),
        None => ctx.ask(|reply| NodeRequest::PendingNonce { address: from, reply }).await?,
    };
    let (gas, base_fee) = {
        let mut site = call_site(ctx, None, LatestMeans::Pending, None)?;
        let base_fee = site.block.basefee;
        let gas = match request.gas {
            Some(gas) => gas.to::<u64>(),
            None => {
                let tx = prepare_tx(&mut site, ctx.chain_id, &CallRequest { nonce: Some(U64::from(nonce)), ..request.clone() })?;
                estimate(&site, ctx.chain_id, tx)?
            }
        };
        (gas, base_fee)
    };
    let input = request.input()?;
    let to = request.to.map(TxKind::Call).unwrap_or(TxKind::Create);
    let value = request.value.unwrap_or_default();
    let chain_id = ctx.chain_id;
    let legacy = request.gas_price.is_some() || request.tx_type.is_some_and(|t| t.to::<u64>() == 0);
    let unsigned = if legacy {
        let gas_price = request.gas_price.map(|p| p.to::<u128>()).unwrap_or(base_fee as u128 * 2 + SUGGESTED_TIP);
        match request.access_list.clone() {
            Some(access_list) => {
                Unsigned::Eip2930(TxEip2930 { chain_id, nonce, gas_price, gas_limit: gas, to, value, access_list, input })
            }
            None => Unsigned::Legacy(TxLegacy { chain_id: Some(chain_id), nonce, gas_price, gas_limit: gas, to, value, input }),
        }
    } else {
        let tip = request.max_priority_fee_per_gas.map(|p| p.to::<u128>()).unwrap_or(SUGGESTED_TIP);
        let max_fee = request.max_fee_per_gas.map(|p| p.to::<u128>()).unwrap_or(base_fee as u128 * 2 + tip);
        Unsigned::Eip1559(TxEip1559 {
            chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip.min(max_fee),
            to,
            value,
            access_list: request.access_list.clone().unwrap_or_default(),
            input,
        })
    };
    let signature = match signer {
        Some(signer) => signer
            .sign_hash_sync(&unsigned.signature_hash())
            .map_err(|e| server_error(format!("signing failed: {e}")))?,
        // Never verifies; the sender is carried beside the transaction. Its r is the sender, so
        // two senders' otherwise equal transactions still hash apart.
        None => Signature::new(U256::from_be_slice(from.as_slice()), U256::from(1u8), false),
    };
    Ok(unsigned.into_signed(signature))
}

enum Unsigned {
    Legacy(TxLegacy),
    Eip2930(TxEip2930),
    Eip1559(TxEip1559),
}

impl Unsigned {
    fn signature_hash(&self) -> B256 {
        match self {
            Self::Legacy(tx) => tx.signature_hash(),
            Self::Eip2930(tx) => tx.signature_hash(),
            Self::Eip1559(tx) => tx.signature_hash(),
        }
    }

    fn into_signed(self, signature: Signature) -> TxEnvelope {
        match self {
            Self::Legacy(tx) => tx.into_signed(signature).into(),
            Self::Eip2930(tx) => tx.into_signed(signature).into(),
            Self::Eip1559(tx) => tx.into_signed(signature).into(),
        }
    }
}
