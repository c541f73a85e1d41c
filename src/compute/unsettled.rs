//! A provider's unsettled requests and settlements in flight, in its own redb file, so a
//! provider killed at any point restarts owing nothing it served and claiming nothing twice.
//!
//! A served request is written (and the write committed) before its response goes out. A
//! settlement is written with its nonce and signature before its transaction is sent; until the
//! chain shows that nonce settled, the same signed settlement is what gets sent again — never a
//! new one over the same requests — and its requests stay out of new plans. Only this provider's
//! signer can move a sub-account's settled nonce, so `settled nonce >= planned nonce` on chain
//! means this settlement landed.

use alloy_primitives::{Address, B256, Bytes, U256};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

use super::receipt::SignedResponse;
use zg_systems::compute::settlement::{PlannedSettlement, ServedRequest};

/// seq -> user (20) ‖ fee (32, big-endian) ‖ chat id (utf-8)
const SERVED: TableDefinition<u64, &[u8]> = TableDefinition::new("compute_served");
/// user (20) -> nonce (32) ‖ total fee (32) ‖ requests hash (32) ‖ signature length (1) ‖
/// signature ‖ seqs (8 each)
const IN_FLIGHT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("compute_in_flight");
/// "next" -> the next request's seq
const SEQ: TableDefinition<&str, u64> = TableDefinition::new("compute_seq");
/// chat id -> the signed response record (JSON), for `/v1/proxy/signature/{chatID}`
const RECEIPTS: TableDefinition<&str, &[u8]> = TableDefinition::new("compute_receipts");
/// seq -> chat id: the receipts in served order, the oldest pruned first
const RECEIPT_ORDER: TableDefinition<u64, &str> = TableDefinition::new("compute_receipt_order");
/// Signed response records kept (settled or not); older ones are pruned.
pub const RECEIPTS_KEPT: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum UnsettledError {
    #[error("the provider's settlement store: {0}")]
    Store(String),
    #[error("the provider's settlement store holds a malformed {0} record")]
    Corrupt(&'static str),
}

macro_rules! store_error {
    ($($t:ty),*) => {$(impl From<$t> for UnsettledError {
        fn from(error: $t) -> Self {
            UnsettledError::Store(error.to_string())
        }
    })*};
}
store_error!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// A settlement as sent: the plan and the signer's signature over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedSettlement {
    pub plan: PlannedSettlement,
    pub signature: Bytes,
}

pub struct UnsettledStore {
    db: Database,
    receipts_kept: u64,
}

fn encode_served(request: &ServedRequest) -> Vec<u8> {
    let mut out = request.user.to_vec();
    out.extend_from_slice(&request.fee.to_be_bytes::<32>());
    out.extend_from_slice(request.chat_id.as_bytes());
    out
}

fn decode_served(seq: u64, bytes: &[u8]) -> Result<ServedRequest, UnsettledError> {
    let bad = || UnsettledError::Corrupt("served request");
    let user = Address::from_slice(bytes.get(..20).ok_or_else(bad)?);
    let fee = U256::from_be_slice(bytes.get(20..52).ok_or_else(bad)?);
    let chat_id = String::from_utf8(bytes[52..].to_vec()).map_err(|_| bad())?;
    Ok(ServedRequest { seq, user, chat_id, fee })
}

fn encode_settlement(settlement: &SignedSettlement) -> Result<Vec<u8>, UnsettledError> {
    let plan = &settlement.plan;
    let mut out = plan.nonce.to_be_bytes::<32>().to_vec();
    out.extend_from_slice(&plan.total_fee.to_be_bytes::<32>());
    out.extend_from_slice(plan.requests_hash.as_slice());
    let length = u8::try_from(settlement.signature.len()).map_err(|_| UnsettledError::Corrupt("signature"))?;
    out.push(length);
    out.extend_from_slice(&settlement.signature);
    plan.seqs.iter().for_each(|seq| out.extend_from_slice(&seq.to_be_bytes()));
    Ok(out)
}

fn decode_settlement(user: &[u8], bytes: &[u8]) -> Result<SignedSettlement, UnsettledError> {
    let bad = || UnsettledError::Corrupt("settlement");
    let user = Address::try_from(user).map_err(|_| bad())?;
    let word = |at: usize| bytes.get(at..at + 32).ok_or_else(bad);
    let length = *bytes.get(96).ok_or_else(bad)? as usize;
    let signature = Bytes::copy_from_slice(bytes.get(97..97 + length).ok_or_else(bad)?);
    let rest = &bytes[97 + length..];
    if !rest.len().is_multiple_of(8) {
        return Err(bad());
    }
    let seqs = rest.chunks(8).map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default())).collect();
    Ok(SignedSettlement {
        plan: PlannedSettlement {
            user,
            nonce: U256::from_be_slice(word(0)?),
            total_fee: U256::from_be_slice(word(32)?),
            requests_hash: B256::from_slice(word(64)?),
            seqs,
        },
        signature,
    })
}

impl UnsettledStore {
    pub fn open(path: &Path) -> Result<Self, UnsettledError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(SERVED)?;
        txn.open_table(IN_FLIGHT)?;
        txn.open_table(SEQ)?;
        txn.open_table(RECEIPTS)?;
        txn.open_table(RECEIPT_ORDER)?;
        txn.commit()?;
        Ok(Self { db, receipts_kept: RECEIPTS_KEPT })
    }

    /// Keeps a served request (committed when this returns); its `seq` is assigned here, one
    /// above the highest ever kept.
    pub fn record_served(&self, user: Address, chat_id: &str, fee: U256) -> Result<ServedRequest, UnsettledError> {
        self.record(user, chat_id, fee, None)
    }

    /// [`Self::record_served`] with the response's signed record, in the same commit.
    pub fn record_served_signed(&self, user: Address, chat_id: &str, fee: U256, signed: &SignedResponse) -> Result<ServedRequest, UnsettledError> {
        self.record(user, chat_id, fee, Some(signed))
    }

    fn record(&self, user: Address, chat_id: &str, fee: U256, signed: Option<&SignedResponse>) -> Result<ServedRequest, UnsettledError> {
        let txn = self.db.begin_write()?;
        let request = {
            let mut table = txn.open_table(SERVED)?;
            let mut meta = txn.open_table(SEQ)?;
            let seq = meta.get("next")?.map(|v| v.value()).unwrap_or(1);
            meta.insert("next", seq + 1)?;
            let request = ServedRequest { seq, user, chat_id: chat_id.to_string(), fee };
            table.insert(seq, encode_served(&request).as_slice())?;
            if let Some(signed) = signed {
                let mut receipts = txn.open_table(RECEIPTS)?;
                let mut order = txn.open_table(RECEIPT_ORDER)?;
                let json = serde_json::to_vec(signed).map_err(|e| UnsettledError::Store(e.to_string()))?;
                receipts.insert(chat_id, json.as_slice())?;
                order.insert(seq, chat_id)?;
                while order.len()? > self.receipts_kept {
                    let Some((_, oldest)) = order.pop_first()? else { break };
                    receipts.remove(oldest.value())?;
                }
            }
            request
        };
        txn.commit()?;
        Ok(request)
    }

    /// The signed record of a response served here, while kept.
    pub fn receipt(&self, chat_id: &str) -> Result<Option<SignedResponse>, UnsettledError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECEIPTS)?;
        let Some(bytes) = table.get(chat_id)? else { return Ok(None) };
        serde_json::from_slice(bytes.value()).map(Some).map_err(|_| UnsettledError::Corrupt("receipt"))
    }

    /// Requests served and not in a settlement in flight, in served order.
    pub fn unsettled(&self) -> Result<Vec<ServedRequest>, UnsettledError> {
        let in_flight: std::collections::HashSet<u64> = self.in_flight()?.iter().flat_map(|s| s.plan.seqs.clone()).collect();
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SERVED)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (seq, bytes) = entry?;
            if !in_flight.contains(&seq.value()) {
                out.push(decode_served(seq.value(), bytes.value())?);
            }
        }
        Ok(out)
    }

    /// What `user` owes this provider and has not been settled (in flight included).
    pub fn owed_by(&self, user: Address) -> Result<U256, UnsettledError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SERVED)?;
        let mut total = U256::ZERO;
        for entry in table.iter()? {
            let (seq, bytes) = entry?;
            let request = decode_served(seq.value(), bytes.value())?;
            if request.user == user {
                total = total.saturating_add(request.fee);
            }
        }
        Ok(total)
    }

    /// Keeps signed settlements before they are sent; a user with one in flight keeps it.
    pub fn record_in_flight(&self, settlements: &[SignedSettlement]) -> Result<(), UnsettledError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(IN_FLIGHT)?;
            for settlement in settlements {
                let user = settlement.plan.user;
                if table.get(user.as_slice())?.is_none() {
                    table.insert(user.as_slice(), encode_settlement(settlement)?.as_slice())?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    pub fn in_flight(&self) -> Result<Vec<SignedSettlement>, UnsettledError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(IN_FLIGHT)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (user, bytes) = entry?;
            out.push(decode_settlement(user.value(), bytes.value())?);
        }
        Ok(out)
    }

    /// Drops `user`'s settlement in flight (the chain refused it as stale); its requests are
    /// planned again.
    pub fn release(&self, user: Address) -> Result<(), UnsettledError> {
        let txn = self.db.begin_write()?;
        txn.open_table(IN_FLIGHT)?.remove(user.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Forgets everything `user` owes (its sub-account is gone: nobody can pay); how many
    /// requests were dropped.
    pub fn write_off(&self, user: Address) -> Result<usize, UnsettledError> {
        let txn = self.db.begin_write()?;
        let dropped = {
            txn.open_table(IN_FLIGHT)?.remove(user.as_slice())?;
            let mut served = txn.open_table(SERVED)?;
            let mut theirs = Vec::new();
            for entry in served.iter()? {
                let (seq, bytes) = entry?;
                if decode_served(seq.value(), bytes.value())?.user == user {
                    theirs.push(seq.value());
                }
            }
            for seq in &theirs {
                served.remove(*seq)?;
            }
            theirs.len()
        };
        txn.commit()?;
        Ok(dropped)
    }

    /// The chain settled `user` up to `settled_nonce`: a settlement in flight at or below it
    /// landed, and its requests are paid for (or, for a partial one, are all the user could
    /// pay): they leave the store. Returns the settlement that landed.
    pub fn confirm(&self, user: Address, settled_nonce: U256) -> Result<Option<SignedSettlement>, UnsettledError> {
        let txn = self.db.begin_write()?;
        let landed = {
            let mut flights = txn.open_table(IN_FLIGHT)?;
            let current = flights.get(user.as_slice())?.map(|v| decode_settlement(user.as_slice(), v.value())).transpose()?;
            match current {
                Some(settlement) if settlement.plan.nonce <= settled_nonce => {
                    flights.remove(user.as_slice())?;
                    let mut served = txn.open_table(SERVED)?;
                    for seq in &settlement.plan.seqs {
                        served.remove(*seq)?;
                    }
                    Some(settlement)
                }
                _ => None,
            }
        };
        txn.commit()?;
        Ok(landed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zg_systems::compute::settlement::plan;

    fn sign(plan: PlannedSettlement) -> SignedSettlement {
        SignedSettlement { signature: Bytes::from(vec![plan.nonce.to::<u8>(); 65]), plan }
    }

    #[test]
    fn served_requests_survive_a_reopen_and_settle_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.redb");
        let (alice, bob) = (Address::repeat_byte(1), Address::repeat_byte(2));
        {
            let store = UnsettledStore::open(&path).unwrap();
            store.record_served(alice, "a1", U256::from(10)).unwrap();
            store.record_served(bob, "b1", U256::from(5)).unwrap();
            store.record_served(alice, "a2", U256::from(7)).unwrap();
            // Killed here: nothing else happened.
        }
        let store = UnsettledStore::open(&path).unwrap();
        let unsettled = store.unsettled().unwrap();
        assert_eq!(unsettled.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(store.owed_by(alice).unwrap(), U256::from(17));

        // A plan is signed and kept, then the provider dies before (or after) sending it.
        let batches = plan(&unsettled, |_| U256::ZERO);
        let signed: Vec<_> = batches[0].iter().cloned().map(sign).collect();
        store.record_in_flight(&signed).unwrap();
        drop(store);
        let store = UnsettledStore::open(&path).unwrap();
        assert_eq!(store.in_flight().unwrap(), signed, "the same signed settlements come back to be sent again");
        assert!(store.unsettled().unwrap().is_empty(), "requests in flight are not planned twice");
        // A new request meanwhile, and another plan attempt: alice keeps her settlement in flight.
        store.record_served(alice, "a3", U256::from(1)).unwrap();
        let again: Vec<_> = plan(&store.unsettled().unwrap(), |_| U256::ZERO)[0].iter().cloned().map(sign).collect();
        store.record_in_flight(&again).unwrap();
        assert_eq!(store.in_flight().unwrap(), signed);

        // The chain has not settled alice yet: nothing is confirmed.
        assert_eq!(store.confirm(alice, U256::ZERO).unwrap(), None);
        // It has now: her first two requests leave, the third stays unsettled.
        let landed = store.confirm(alice, U256::from(1)).unwrap().unwrap();
        assert_eq!(landed.plan.seqs, vec![1, 3]);
        assert_eq!(store.confirm(alice, U256::from(1)).unwrap(), None, "confirmed once");
        assert_eq!(store.unsettled().unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4]);
        assert_eq!(store.owed_by(alice).unwrap(), U256::from(1));
        // Bob's still in flight; after a reopen too.
        drop(store);
        let store = UnsettledStore::open(&path).unwrap();
        assert_eq!(store.in_flight().unwrap().len(), 1);
        assert_eq!(store.record_served(bob, "b2", U256::from(1)).unwrap().seq, 5, "sequence numbers never repeat");
    }

    #[test]
    fn signed_records_survive_a_reopen_and_the_oldest_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let signed = |n: u8| SignedResponse { text: format!("record {n}"), signature: format!("0x{n:02x}") };
        {
            let mut store = UnsettledStore::open(&path).unwrap();
            store.receipts_kept = 2;
            for n in 1..=3u8 {
                store.record_served_signed(Address::repeat_byte(n), &format!("chat-{n}"), U256::from(n), &signed(n)).unwrap();
            }
            assert_eq!(store.receipt("chat-1").unwrap(), None, "pruned: only 2 kept");
        }
        let store = UnsettledStore::open(&path).unwrap();
        assert_eq!(store.receipt("chat-2").unwrap(), Some(signed(2)));
        assert_eq!(store.receipt("chat-3").unwrap(), Some(signed(3)));
        assert_eq!(store.receipt("unknown").unwrap(), None);
        assert_eq!(store.unsettled().unwrap().len(), 3, "pruning receipts never drops what is owed");
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        assert!(matches!(decode_served(1, &[0u8; 10]), Err(UnsettledError::Corrupt(_))));
        assert!(matches!(decode_served(1, &[[0u8; 52].as_slice(), &[0xff, 0xfe]].concat()), Err(UnsettledError::Corrupt(_))));
        assert!(matches!(decode_settlement(&[1u8; 20], &[0u8; 50]), Err(UnsettledError::Corrupt(_))));
        assert!(matches!(decode_settlement(&[1u8; 19], &[0u8; 97]), Err(UnsettledError::Corrupt(_))));
        let mut record = vec![0u8; 96];
        record.push(65);
        record.extend([0u8; 65]);
        record.extend([0u8; 3]);
        assert!(matches!(decode_settlement(&[1u8; 20], &record), Err(UnsettledError::Corrupt(_))), "seqs not whole");
    }
}
