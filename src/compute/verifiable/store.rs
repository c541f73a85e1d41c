//! The verifiable service's served results, in their own redb file: each result (request,
//! user signature, logits, proof) is committed before its response goes out and removed once
//! a settlement transaction carrying it is mined — paid or refused. A provider killed between
//! the two sends it again; the contract's nonce check refuses it the second time, so nothing is
//! paid twice and nothing served is forgotten.

use std::path::Path;

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolValue;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use zg_systems::verifiable::contracts::VerifiedResult;

/// user (20) ‖ nonce (32, big-endian) -> the ABI-encoded `VerifiedResult`: key order is per
/// user in nonce order, the order the contract needs them in.
const RESULTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("verified_results");

#[derive(Debug, thiserror::Error)]
pub enum ResultStoreError {
    #[error("the verifiable service's store: {0}")]
    Store(String),
    #[error("the verifiable service's store holds a malformed result")]
    Corrupt,
}

macro_rules! store_error {
    ($($t:ty),*) => {$(impl From<$t> for ResultStoreError {
        fn from(error: $t) -> Self {
            ResultStoreError::Store(error.to_string())
        }
    })*};
}
store_error!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

pub struct ResultStore {
    db: Database,
}

fn key(user: Address, nonce: U256) -> Vec<u8> {
    [user.as_slice(), &nonce.to_be_bytes::<32>()].concat()
}

impl ResultStore {
    pub fn open(path: &Path) -> Result<Self, ResultStoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(RESULTS)?;
        txn.commit()?;
        Ok(Self { db })
    }

    /// Keeps `result` (committed when this returns).
    pub fn keep(&self, result: &VerifiedResult) -> Result<(), ResultStoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(RESULTS)?;
            table.insert(key(result.request.user, result.request.nonce).as_slice(), result.abi_encode().as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Every kept result, per user in nonce order.
    pub fn pending(&self) -> Result<Vec<VerifiedResult>, ResultStoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RESULTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (_, value) = entry?;
            out.push(VerifiedResult::abi_decode(value.value()).map_err(|_| ResultStoreError::Corrupt)?);
        }
        Ok(out)
    }

    /// The user's kept results: how many, their fees, their highest nonce.
    pub fn owed_by(&self, user: Address) -> Result<(U256, Option<U256>), ResultStoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RESULTS)?;
        let (mut fees, mut highest) = (U256::ZERO, None);
        for entry in table.range(key(user, U256::ZERO).as_slice()..=key(user, U256::MAX).as_slice())? {
            let (_, value) = entry?;
            let result = VerifiedResult::abi_decode(value.value()).map_err(|_| ResultStoreError::Corrupt)?;
            fees += result.request.fee;
            highest = Some(result.request.nonce);
        }
        Ok((fees, highest))
    }

    /// Forgets results a mined settlement carried.
    pub fn remove(&self, results: &[VerifiedResult]) -> Result<(), ResultStoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(RESULTS)?;
            for result in results {
                table.remove(key(result.request.user, result.request.nonce).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zg_systems::verifiable::contracts::VerifiedRequest;

    fn result(user: u8, nonce: u64) -> VerifiedResult {
        VerifiedResult {
            request: VerifiedRequest { user: Address::repeat_byte(user), nonce: U256::from(nonce), fee: U256::from(10), ..Default::default() },
            userSignature: vec![1, 2].into(),
            logits: vec![alloy_primitives::I256::try_from(-3).unwrap()],
            proof: vec![9; 100].into(),
        }
    }

    #[test]
    fn keeps_results_in_user_then_nonce_order_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.redb");
        {
            let store = ResultStore::open(&path).unwrap();
            for (user, nonce) in [(2, 1), (1, 300), (1, 2), (2, 7)] {
                store.keep(&result(user, nonce)).unwrap();
            }
        }
        let store = ResultStore::open(&path).unwrap();
        let order: Vec<(u8, u64)> = store.pending().unwrap().iter().map(|r| (r.request.user.0[0], r.request.nonce.to::<u64>())).collect();
        assert_eq!(order, vec![(1, 2), (1, 300), (2, 1), (2, 7)]);
        assert_eq!(store.owed_by(Address::repeat_byte(1)).unwrap(), (U256::from(20), Some(U256::from(300))));
        store.remove(&[result(1, 2), result(2, 7)]).unwrap();
        assert_eq!(store.pending().unwrap().len(), 2);
        assert_eq!(store.owed_by(Address::repeat_byte(3)).unwrap(), (U256::ZERO, None));
    }
}
