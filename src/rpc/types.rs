//! Request parameter types and the JSON shapes of blocks, transactions, receipts and logs.

use alloy_consensus::{Header, Transaction, TxEnvelope};
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, U64, U128, U256};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use zg_components::chain::TxReceipt;

use super::error::{RpcResult, invalid_params};

pub fn quantity(value: impl Into<u128>) -> String {
    format!("{:#x}", value.into())
}

/// A block reference: a tag, a number, or (EIP-1898) a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRef {
    Latest,
    Pending,
    Earliest,
    Safe,
    Finalized,
    Number(u64),
    Hash(B256),
}

impl<'de> Deserialize<'de> for BlockRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct ByObject {
            block_hash: Option<B256>,
            block_number: Option<U64>,
            #[serde(default)]
            #[allow(dead_code)]
            require_canonical: bool,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Object(ByObject),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => match text.as_str() {
                "latest" => Ok(Self::Latest),
                "pending" => Ok(Self::Pending),
                "earliest" => Ok(Self::Earliest),
                "safe" => Ok(Self::Safe),
                "finalized" => Ok(Self::Finalized),
                hex if hex.starts_with("0x") && hex.len() == 66 => {
                    hex.parse().map(Self::Hash).map_err(serde::de::Error::custom)
                }
                hex => parse_quantity(hex).map(Self::Number).map_err(serde::de::Error::custom),
            },
            Raw::Object(ByObject { block_hash: Some(hash), block_number: None, .. }) => Ok(Self::Hash(hash)),
            Raw::Object(ByObject { block_hash: None, block_number: Some(n), .. }) => Ok(Self::Number(n.to())),
            Raw::Object(_) => Err(serde::de::Error::custom("expected exactly one of blockHash or blockNumber")),
        }
    }
}

/// A JSON quantity ("0x1a") as a number; 0 when it is not one (clients of our own RPC).
pub fn quantity_of(value: &Value) -> u64 {
    value.as_str().and_then(|text| parse_quantity(text).ok()).unwrap_or_default()
}

pub fn parse_quantity(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix("0x").ok_or_else(|| format!("invalid block number {text:?}: hex string without 0x prefix"))?;
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return Err(format!("invalid block number {text:?}"));
    }
    u64::from_str_radix(digits, 16).map_err(|_| format!("invalid block number {text:?}"))
}

/// The call object of eth_call and eth_estimateGas.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CallRequest {
    pub from: Option<Address>,
    pub to: Option<Address>,
    pub gas: Option<U64>,
    pub gas_price: Option<U128>,
    pub max_fee_per_gas: Option<U128>,
    pub max_priority_fee_per_gas: Option<U128>,
    pub value: Option<U256>,
    pub data: Option<Bytes>,
    pub input: Option<Bytes>,
    pub nonce: Option<U64>,
    pub chain_id: Option<U64>,
    pub access_list: Option<AccessList>,
    #[serde(rename = "type")]
    pub tx_type: Option<U64>,
}

impl CallRequest {
    pub fn input(&self) -> RpcResult<Bytes> {
        match (&self.input, &self.data) {
            (Some(input), Some(data)) if input != data => {
                Err(invalid_params("both \"data\" and \"input\" are set and not equal. Please use \"input\" to pass transaction call data"))
            }
            (Some(input), _) => Ok(input.clone()),
            (None, Some(data)) => Ok(data.clone()),
            (None, None) => Ok(Bytes::new()),
        }
    }
}

/// One position of an eth_getLogs topic filter: any value, one value, or one of several.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicSlot(pub Option<Vec<B256>>);

impl<'de> Deserialize<'de> for TopicSlot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(B256),
            Many(Vec<Option<B256>>),
        }
        Ok(match Option::<Raw>::deserialize(deserializer)? {
            None => Self(None),
            Some(Raw::One(topic)) => Self(Some(vec![topic])),
            // A null inside the list matches anything, like a null slot.
            Some(Raw::Many(list)) if list.iter().any(Option::is_none) || list.is_empty() => Self(None),
            Some(Raw::Many(list)) => Self(Some(list.into_iter().flatten().collect())),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressFilter(pub Option<Vec<Address>>);

impl<'de> Deserialize<'de> for AddressFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(Address),
            Many(Vec<Address>),
        }
        Ok(match Option::<Raw>::deserialize(deserializer)? {
            None => Self(None),
            Some(Raw::One(address)) => Self(Some(vec![address])),
            Some(Raw::Many(list)) if list.is_empty() => Self(None),
            Some(Raw::Many(list)) => Self(Some(list)),
        })
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogFilter {
    pub from_block: Option<BlockRef>,
    pub to_block: Option<BlockRef>,
    pub block_hash: Option<B256>,
    #[serde(default)]
    pub address: AddressFilter,
    #[serde(default)]
    pub topics: Vec<TopicSlot>,
}

/// geth's limits on one log filter: more makes every scanned block cost more.
pub const MAX_FILTER_ADDRESSES: usize = 1_000;
pub const MAX_FILTER_TOPIC_POSITIONS: usize = 4;
pub const MAX_TOPICS_PER_POSITION: usize = 1_000;

impl LogFilter {
    /// Refuses filters past the limits above.
    pub fn check_limits(&self) -> RpcResult<()> {
        if self.address.0.as_ref().is_some_and(|a| a.len() > MAX_FILTER_ADDRESSES) {
            return Err(invalid_params(format!("too many addresses in the filter (at most {MAX_FILTER_ADDRESSES})")));
        }
        if self.topics.len() > MAX_FILTER_TOPIC_POSITIONS {
            return Err(invalid_params(format!("too many topic positions (at most {MAX_FILTER_TOPIC_POSITIONS})")));
        }
        if self.topics.iter().any(|slot| slot.0.as_ref().is_some_and(|t| t.len() > MAX_TOPICS_PER_POSITION)) {
            return Err(invalid_params(format!("too many topics in one position (at most {MAX_TOPICS_PER_POSITION})")));
        }
        Ok(())
    }

    pub fn matches(&self, log: &alloy_primitives::Log) -> bool {
        if let Some(addresses) = &self.address.0
            && !addresses.contains(&log.address)
        {
            return false;
        }
        let topics = log.topics();
        self.topics.iter().enumerate().all(|(i, slot)| match &slot.0 {
            None => true,
            Some(wanted) => topics.get(i).is_some_and(|topic| wanted.contains(topic)),
        })
    }
}

pub fn header_json(header: &Header, hash: B256, transactions: Value) -> Value {
    let size = alloy_rlp::Encodable::length(header);
    json!({
        "number": quantity(header.number),
        "hash": hash,
        "parentHash": header.parent_hash,
        "nonce": header.nonce,
        "mixHash": header.mix_hash,
        "sha3Uncles": header.ommers_hash,
        "logsBloom": header.logs_bloom,
        "transactionsRoot": header.transactions_root,
        "stateRoot": header.state_root,
        "receiptsRoot": header.receipts_root,
        "miner": header.beneficiary,
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": header.extra_data,
        "size": quantity(size as u64),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "baseFeePerGas": quantity(header.base_fee_per_gas.unwrap_or_default()),
        "transactions": transactions,
        "uncles": [],
    })
}

/// Where a transaction was mined, if it was.
#[derive(Clone, Copy, Debug)]
pub struct Inclusion {
    pub block_hash: B256,
    pub block_number: u64,
    pub index: u64,
    pub base_fee: u64,
}

pub fn transaction_json(tx: &TxEnvelope, sender: Address, inclusion: Option<Inclusion>) -> Value {
    let signature = tx.signature();
    let mut object = json!({
        "hash": tx.tx_hash(),
        "type": quantity(tx.tx_type() as u8),
        "from": sender,
        "to": tx.to(),
        "nonce": quantity(tx.nonce()),
        "gas": quantity(tx.gas_limit()),
        "value": tx.value(),
        "input": tx.input(),
        "r": U256::from(signature.r()),
        "s": U256::from(signature.s()),
        "blockHash": inclusion.map(|i| i.block_hash),
        "blockNumber": inclusion.map(|i| quantity(i.block_number)),
        "transactionIndex": inclusion.map(|i| quantity(i.index)),
    });
    let fields = object.as_object_mut().expect("built as an object");
    if let Some(chain_id) = tx.chain_id() {
        fields.insert("chainId".into(), json!(quantity(chain_id)));
    }
    match tx {
        TxEnvelope::Legacy(_) => {
            let v = signature.v() as u64 + tx.chain_id().map_or(27, |id| 35 + 2 * id);
            fields.insert("v".into(), json!(quantity(v)));
            fields.insert("gasPrice".into(), json!(quantity(tx.max_fee_per_gas())));
        }
        _ => {
            let y = signature.v() as u64;
            fields.insert("v".into(), json!(quantity(y)));
            fields.insert("yParity".into(), json!(quantity(y)));
            fields.insert("accessList".into(), json!(tx.access_list().cloned().unwrap_or_default()));
            let price = match inclusion {
                Some(i) => tx.effective_gas_price(Some(i.base_fee)),
                None => tx.max_fee_per_gas(),
            };
            fields.insert("gasPrice".into(), json!(quantity(price)));
            if tx.is_dynamic_fee() {
                fields.insert("maxFeePerGas".into(), json!(quantity(tx.max_fee_per_gas())));
                fields.insert(
                    "maxPriorityFeePerGas".into(),
                    json!(quantity(tx.max_priority_fee_per_gas().unwrap_or_default())),
                );
            }
        }
    }
    object
}

/// A log with its position. `first_log_index` is the index of the receipt's first log in its block.
pub fn log_json(receipt: &TxReceipt, log: &alloy_primitives::Log, log_index: u64) -> Value {
    json!({
        "address": log.address,
        "topics": log.topics(),
        "data": log.data.data,
        "blockHash": receipt.block_hash,
        "blockNumber": quantity(receipt.block_number),
        "transactionHash": receipt.tx_hash,
        "transactionIndex": quantity(receipt.tx_index),
        "logIndex": quantity(log_index),
        "removed": false,
    })
}

pub fn receipt_json(receipt: &TxReceipt, first_log_index: u64) -> Value {
    let logs: Vec<Value> = receipt
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| log_json(receipt, log, first_log_index + i as u64))
        .collect();
    json!({
        "transactionHash": receipt.tx_hash,
        "transactionIndex": quantity(receipt.tx_index),
        "blockHash": receipt.block_hash,
        "blockNumber": quantity(receipt.block_number),
        "from": receipt.from,
        "to": receipt.to_opt(),
        "contractAddress": receipt.contract_address_opt(),
        "cumulativeGasUsed": quantity(receipt.cumulative_gas_used),
        "gasUsed": quantity(receipt.gas_used),
        "effectiveGasPrice": quantity(receipt.effective_gas_price),
        "status": quantity(receipt.success as u8),
        "type": quantity(receipt.tx_type),
        "logs": logs,
        "logsBloom": receipt.bloom(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_refs_parse_like_geth() {
        let parse = |s: &str| serde_json::from_str::<BlockRef>(s);
        assert_eq!(parse("\"latest\"").unwrap(), BlockRef::Latest);
        assert_eq!(parse("\"0x1f\"").unwrap(), BlockRef::Number(31));
        assert_eq!(parse("\"0x0\"").unwrap(), BlockRef::Number(0));
        assert_eq!(parse(r#"{"blockNumber":"0x2"}"#).unwrap(), BlockRef::Number(2));
        assert!(matches!(parse(&format!("\"{}\"", B256::repeat_byte(1))).unwrap(), BlockRef::Hash(_)));
        for bad in ["\"12\"", "\"0x\"", "\"0x01\"", "\"0xzz\"", "\"newest\"", "17", "{}", r#"{"blockNumber":"0x1","blockHash":"0x00"}"#, "\"0x10000000000000000\""] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn topic_filters_follow_the_spec() {
        let filter: LogFilter = serde_json::from_str(&format!(
            r#"{{"topics":[null,"{}",["{}",null]]}}"#,
            B256::repeat_byte(1),
            B256::repeat_byte(2)
        ))
        .unwrap();
        assert_eq!(filter.topics[0], TopicSlot(None));
        assert_eq!(filter.topics[1], TopicSlot(Some(vec![B256::repeat_byte(1)])));
        assert_eq!(filter.topics[2], TopicSlot(None));
        let log = alloy_primitives::Log::new_unchecked(
            Address::ZERO,
            vec![B256::ZERO, B256::repeat_byte(1)],
            Bytes::new(),
        );
        assert!(filter.matches(&log));
        let log = alloy_primitives::Log::new_unchecked(Address::ZERO, vec![B256::ZERO], Bytes::new());
        assert!(!filter.matches(&log));
        assert!(serde_json::from_str::<LogFilter>(r#"{"topics":"nope"}"#).is_err());
        assert!(serde_json::from_str::<LogFilter>(r#"{"fromBlock":"0x1","bogus":1}"#).is_err());
    }
}
