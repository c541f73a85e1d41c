//! The status page's data: the node's own JSON-RPC answers, asked in-process (the same methods
//! a client calls, so the page shows nothing the RPC does not), gathered into one JSON object.
//! A method that fails leaves its part as `{"error": ...}`; the rest still shows.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use jsonrpsee::Methods;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

use zg_systems::consensus::staking::{self, IStaking};
use zg_systems::storage::pora::{IPoraMine, MINE_ADDRESS};

/// Recent blocks the page lists (and averages the block time over).
pub const RECENT_BLOCKS: u64 = 12;

async fn ask(methods: &Methods, method: &str, params: ArrayParams) -> Value {
    match methods.call::<_, Value>(method, params).await {
        Ok(value) => value,
        Err(error) => json!({"error": error.to_string()}),
    }
}

fn number(value: &Value) -> Option<u64> {
    u64::from_str_radix(value.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// Everything the page shows, now.
pub async fn snapshot(methods: &Methods) -> Value {
    let at = crate::wall_clock::now_ms();
    let chain_id = ask(methods, "eth_chainId", rpc_params![]).await;
    let head = ask(methods, "eth_blockNumber", rpc_params![]).await;
    let height = number(&head);
    let mut blocks = Vec::new();
    if let Some(height) = height {
        for n in (height.saturating_sub(RECENT_BLOCKS - 1)..=height).rev() {
            let block = ask(methods, "eth_getBlockByNumber", rpc_params![format!("0x{n:x}"), false]).await;
            if block.is_object() && block.get("error").is_none() {
                blocks.push(json!({
                    "number": number(&block["number"]),
                    "hash": block["hash"],
                    "timestamp": number(&block["timestamp"]),
                    "transactions": block["transactions"].as_array().map_or(0, Vec::len),
                    "gasUsed": number(&block["gasUsed"]),
                    "gasLimit": number(&block["gasLimit"]),
                    "coinbase": block["miner"],
                }));
            }
        }
    }
    let pool = ask(methods, "txpool_status", rpc_params![]).await;
    let node = ask(methods, "zgnode_status", rpc_params![]).await;
    let errors: Vec<&Value> = [head.get("error"), pool.get("error"), node.get("error")].into_iter().flatten().collect();
    let mut roles = node["roles"].clone();
    if let Some(storage) = roles.get_mut("storage").and_then(Value::as_object_mut)
        && let Some(miner) = storage.get("poraMiner").and_then(Value::as_str).and_then(|a| a.parse::<Address>().ok())
    {
        storage.insert("poraStanding".into(), pora_standing(methods, miner, height.unwrap_or(0)).await);
    }
    json!({
        "at": at,
        "chain": {
            "chainId": number(&chain_id),
            "height": height,
            "syncing": ask(methods, "eth_syncing", rpc_params![]).await,
            "pending": number(&pool["pending"]),
            "queued": number(&pool["queued"]),
            "blockTimeMs": block_time_ms(&blocks),
            "blocks": blocks,
        },
        "validators": validators(methods).await,
        "network": node["network"],
        "roles": roles,
        "gpu": node["gpu"],
        "errors": errors,
    })
}

/// Mean time between the listed blocks (the chain's timestamps are whole seconds).
/// The genesis block is left out: its timestamp is the genesis file's, not a sealing time.
fn block_time_ms(blocks: &[Value]) -> Option<u64> {
    let sealed: Vec<&Value> = blocks.iter().filter(|b| b["number"].as_u64().is_some_and(|n| n > 0)).collect();
    let first = sealed.last()?;
    let last = sealed.first()?;
    let (from, to) = (first["timestamp"].as_u64()?, last["timestamp"].as_u64()?);
    let (low, high) = (first["number"].as_u64()?, last["number"].as_u64()?);
    (high > low).then(|| (to.saturating_sub(from)) * 1000 / (high - low))
}

/// A contract view through the node's own eth_call, decoded; None when it fails.
async fn view_call<C: SolCall>(methods: &Methods, to: Address, call: C) -> Option<C::Return> {
    let request = json!({"to": to, "data": Bytes::from(call.abi_encode())});
    let answer = ask(methods, "eth_call", rpc_params![request, "latest"]).await;
    let bytes = alloy_primitives::hex::decode(answer.as_str()?).ok()?;
    C::abi_decode_returns(&bytes).ok()
}

/// A PoRA miner's standing as the mine contract keeps it: registered, its stake (after
/// penalties), what it earned and lost, and the challenges it passed this epoch and the last
/// (proofs for an epoch land until the next one ends), at the snapshot's `head`. Null without
/// the contract.
async fn pora_standing(methods: &Methods, miner: Address, head: u64) -> Value {
    let Some(record) = view_call(methods, MINE_ADDRESS, IPoraMine::minersCall { miner }).await else { return Value::Null };
    let (Some(epoch_blocks), Some(challenges)) = (
        view_call(methods, MINE_ADDRESS, IPoraMine::epochBlocksCall {}).await,
        view_call(methods, MINE_ADDRESS, IPoraMine::challengesPerEpochCall {}).await,
    ) else {
        return Value::Null;
    };
    let epoch = head / epoch_blocks.saturating_to::<u64>().max(1);
    let mut passed = Vec::new();
    for at in [epoch, epoch.saturating_sub(1)] {
        let bits = view_call(methods, MINE_ADDRESS, IPoraMine::passedCall { epoch: U256::from(at), miner }).await;
        passed.push(bits.map(|bits| format!("{} of {challenges}", bits.count_ones())));
    }
    json!({
        "registered": record.registered,
        "stake": format!("{} 0G", tokens(record.stake)),
        "earned": format!("{} 0G", tokens(record.earned)),
        "penalized": format!("{} 0G", tokens(record.penalized)),
        "passedThisEpoch": passed[0],
        "passedLastEpoch": passed[1],
    })
}

/// Neuron (10^-18) as 0G with up to four decimals.
fn tokens(neuron: U256) -> String {
    let scale = U256::from(10u64).pow(U256::from(14u64));
    let tenths_of_milli = (neuron / scale).saturating_to::<u128>();
    let (whole, fraction) = (tenths_of_milli / 10_000, tenths_of_milli % 10_000);
    match fraction {
        0 => whole.to_string(),
        _ => format!("{whole}.{}", format!("{fraction:04}").trim_end_matches('0')),
    }
}

/// The validator set in effect (the Staking contract's `currentValidators`), with each one's
/// share of the stake as its voting power; null on a chain without that contract.
async fn validators(methods: &Methods) -> Value {
    let Some(set) = view_call(methods, staking::STAKING_ADDRESS, IStaking::currentValidatorsCall {}).await else {
        return Value::Null;
    };
    let total: U256 = set.stakes.iter().copied().fold(U256::ZERO, |sum, stake| sum.saturating_add(stake));
    let members: Vec<Value> = set
        .ops
        .iter()
        .zip(&set.keys)
        .zip(&set.stakes)
        .map(|((operator, key), stake)| {
            let power_bps = if total.is_zero() { 0 } else { (*stake * U256::from(10_000u64) / total).to::<u64>() };
            json!({"operator": operator, "key": key, "stake": stake.to_string(), "powerBps": power_bps})
        })
        .collect();
    json!({"total": total.to_string(), "members": members})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_time_is_the_mean_over_the_listed_blocks() {
        let blocks = vec![json!({"number": 10, "timestamp": 20}), json!({"number": 6, "timestamp": 16}), json!({"number": 4, "timestamp": 14})];
        assert_eq!(block_time_ms(&blocks), Some(1000));
        assert_eq!(block_time_ms(&blocks[..1]), None, "one block has no interval");
        assert_eq!(block_time_ms(&[]), None);
        let with_genesis = vec![json!({"number": 2, "timestamp": 1_000_002}), json!({"number": 1, "timestamp": 1_000_001}), json!({"number": 0, "timestamp": 0})];
        assert_eq!(block_time_ms(&with_genesis), Some(1000), "the genesis timestamp is not a sealing time");
    }

    #[test]
    fn token_amounts_are_written_in_0g() {
        let neuron = |n: u128| U256::from(n);
        assert_eq!(tokens(neuron(0)), "0");
        assert_eq!(tokens(neuron(10u128.pow(18))), "1");
        assert_eq!(tokens(neuron(15 * 10u128.pow(17))), "1.5");
        assert_eq!(tokens(neuron(10u128.pow(18) + 25 * 10u128.pow(13))), "1.0002", "below a ten-thousandth is cut");
        assert_eq!(tokens(neuron(7)), "0");
    }

    #[test]
    fn quantities_are_read_as_the_rpc_writes_them() {
        assert_eq!(number(&json!("0x1f")), Some(31));
        assert_eq!(number(&json!("31")), None);
        assert_eq!(number(&json!(31)), None);
        assert_eq!(number(&json!("0xzz")), None);
    }
}
