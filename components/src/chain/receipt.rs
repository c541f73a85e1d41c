//! Transaction receipts: what execution produced, with the position the RPC reports.

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy_primitives::{Address, B256, Bloom, Log};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// A receipt as stored and served. `contract_address` and `to` use the zero address for "none"
/// so the record stays a flat RLP list.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxReceipt {
    pub tx_hash: B256,
    pub block_hash: B256,
    pub block_number: u64,
    pub tx_index: u64,
    pub tx_type: u8,
    pub from: Address,
    pub to: Address,
    pub contract_address: Address,
    pub success: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    pub effective_gas_price: u128,
    pub logs: Vec<Log>,
}

impl TxReceipt {
    /// The consensus form that the receipts root commits to.
    pub fn envelope(&self) -> ReceiptEnvelope {
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        };
        let with_bloom = ReceiptWithBloom { logs_bloom: self.bloom(), receipt };
        match TxType::try_from(self.tx_type).unwrap_or(TxType::Legacy) {
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
            TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
            TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
            TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
        }
    }

    pub fn bloom(&self) -> Bloom {
        let mut bloom = Bloom::default();
        for log in &self.logs {
            bloom.accrue_log(log);
        }
        bloom
    }

    pub fn to_opt(&self) -> Option<Address> {
        (self.to != Address::ZERO || self.contract_address == Address::ZERO).then_some(self.to)
    }

    pub fn contract_address_opt(&self) -> Option<Address> {
        (self.contract_address != Address::ZERO).then_some(self.contract_address)
    }
}
