//! Batched settlement in one proof (0G's former ZK settlement, which compressed 40 requests a
//! proof): a halo2 circuit over `N` request records of one user with one provider — each a
//! nonce, tokens and a price per token, all private — proving that the nonces strictly increase
//! from a settled floor and that the fees `tokens × price` sum to the total. Public:
//! `[commitment, user, provider, floor nonce, last nonce, total fee]`, where the commitment is
//! Poseidon over `user, provider` and each record packed into one field element
//! (`nonce + tokens·2^64 + price·2^96`, the packing pinned by the byte decompositions).
//!
//! Layout: three rows a record — the nonce's gap above the previous nonce minus one (8 bytes),
//! the price (8 bytes), the tokens (4 bytes) — over eight byte columns checked against one
//! 256-row table, and the record's values beside them: so nonces, prices and tokens are u64,
//! u64 and u32, and nothing wraps in the field.

use halo2_gadgets::poseidon::primitives::{self as poseidon, ConstantLength, P128Pow5T3};
use halo2_gadgets::poseidon::{Hash, Pow5Chip, Pow5Config};
use halo2_proofs::circuit::{AssignedCell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::pasta::group::ff::PrimeField;
use halo2_proofs::pasta::{EqAffine, Fp};
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Error, Expression, Instance, ProvingKey, Selector, TableColumn, VerifyingKey,
    keygen_pk, keygen_vk,
};
use halo2_proofs::poly::{Rotation, commitment::Params};

/// One request as settled: its nonce, the tokens served and the price per token (neuron).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub nonce: u64,
    pub tokens: u32,
    pub price: u64,
}

impl RequestRecord {
    pub fn fee(&self) -> u128 {
        u128::from(self.tokens) * u128::from(self.price)
    }

    fn packed(&self) -> Fp {
        Fp::from(self.nonce) + Fp::from(u64::from(self.tokens)) * Fp::from_u128(1 << 64) + Fp::from(self.price) * Fp::from_u128(1 << 96)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("a batch holds {expected} records, not {got}")]
    Size { expected: usize, got: usize },
    #[error("nonces must strictly increase from the settled nonce {floor}: record {index} has {nonce}")]
    Nonce { floor: u64, index: usize, nonce: u64 },
    #[error("the proving system: {0:?}")]
    Halo2(Error),
    #[error("the proof does not verify")]
    Invalid,
}

impl From<Error> for BatchError {
    fn from(error: Error) -> Self {
        BatchError::Halo2(error)
    }
}

/// A batch's public statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchStatement {
    pub user: [u8; 20],
    pub provider: [u8; 20],
    pub floor: u64,
    pub last: u64,
    pub total_fee: u128,
}

fn address_field(address: &[u8; 20]) -> Fp {
    address.iter().fold(Fp::zero(), |acc, byte| acc * Fp::from(256) + Fp::from(u64::from(*byte)))
}

#[derive(Clone, Debug)]
pub struct BatchConfig {
    value: [Column<Advice>; 4],
    bytes: [Column<Advice>; 8],
    instance: Column<Instance>,
    table: TableColumn,
    q_record: Selector,
    q_bytes: Selector,
    poseidon: Pow5Config<Fp, 3, 2>,
}

/// `N` records of one user with one provider; `L = N + 2` (what the commitment hashes).
#[derive(Clone, Debug)]
pub struct BatchCircuit<const N: usize, const L: usize> {
    pub statement: BatchStatement,
    pub records: Value<[RequestRecord; N]>,
}

fn bytes_of(value: u64) -> [u64; 8] {
    std::array::from_fn(|i| (value >> (8 * i)) & 0xff)
}

impl<const N: usize, const L: usize> Circuit<Fp> for BatchCircuit<N, L> {
    type Config = BatchConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self { statement: self.statement, records: Value::unknown() }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> BatchConfig {
        let value: [Column<Advice>; 4] = std::array::from_fn(|_| meta.advice_column());
        let bytes: [Column<Advice>; 8] = std::array::from_fn(|_| meta.advice_column());
        for column in value.iter().chain(&bytes) {
            meta.enable_equality(*column);
        }
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let table = meta.lookup_table_column();
        let (q_record, q_bytes) = (meta.selector(), meta.complex_selector());
        // Row a: prev nonce, nonce, packed, running total; row b: price, tokens, fee, previous
        // total; row c: the tokens' bytes. Bytes: row a the gap, row b the price, row c tokens.
        meta.create_gate("record", |meta| {
            let s = meta.query_selector(q_record);
            let [prev, nonce, packed, total] = [0, 1, 2, 3].map(|i| meta.query_advice(value[i], Rotation::cur()));
            let [price, tokens, fee, before] = [0, 1, 2, 3].map(|i| meta.query_advice(value[i], Rotation::next()));
            let mut bytes_value = |row: i32| {
                (0..8).rev().fold(Expression::Constant(Fp::zero()), |sum, i| sum * Expression::Constant(Fp::from(256)) + meta.query_advice(bytes[i], Rotation(row)))
            };
            let (gap, price_bytes, token_bytes) = (bytes_value(0), bytes_value(1), bytes_value(2));
            let high_token_bytes = (4..8).fold(Expression::Constant(Fp::zero()), |sum, i| sum + meta.query_advice(bytes[i], Rotation(2)));
            let one = Expression::Constant(Fp::one());
            vec![
                s.clone() * (nonce.clone() - prev - one - gap),
                s.clone() * (price.clone() - price_bytes),
                s.clone() * (tokens.clone() - token_bytes),
                s.clone() * high_token_bytes,
                s.clone() * (fee.clone() - tokens.clone() * price.clone()),
                s.clone() * (total - before - fee),
                s * (packed - nonce - tokens * Expression::Constant(Fp::from_u128(1 << 64)) - price * Expression::Constant(Fp::from_u128(1 << 96))),
            ]
        });
        for column in bytes {
            meta.lookup(|meta| vec![(meta.query_selector(q_bytes) * meta.query_advice(column, Rotation::cur()), table)]);
        }
        let rc_a: [_; 3] = std::array::from_fn(|_| meta.fixed_column());
        let rc_b: [_; 3] = std::array::from_fn(|_| meta.fixed_column());
        meta.enable_constant(rc_b[0]);
        let poseidon = Pow5Chip::configure::<P128Pow5T3>(meta, [value[0], value[1], value[2]], value[3], rc_a, rc_b);
        BatchConfig { value, bytes, instance, table, q_record, q_bytes, poseidon }
    }

    fn synthesize(&self, config: BatchConfig, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        assert_eq!(L, N + 2, "the commitment hashes user, provider and N records");
        super::circuit::assign_byte_table(&mut layouter, config.table)?;
        let floor = self.statement.floor;
        let (message, last, total) = layouter.assign_region(
            || "records",
            |mut region| {
                let [prev_col, nonce_col, packed_col, total_col] = config.value;
                let user = region.assign_advice_from_instance(|| "user", config.instance, 1, prev_col, 0)?;
                let provider = region.assign_advice_from_instance(|| "provider", config.instance, 2, nonce_col, 0)?;
                let mut prev = region.assign_advice_from_instance(|| "floor", config.instance, 3, packed_col, 0)?;
                let mut total = region.assign_advice(|| "zero", total_col, 0, || Value::known(Fp::zero()))?;
                region.constrain_constant(total.cell(), Fp::zero())?;
                let mut message = vec![user, provider];
                for i in 0..N {
                    let row = 1 + 3 * i;
                    config.q_record.enable(&mut region, row)?;
                    for r in 0..3 {
                        config.q_bytes.enable(&mut region, row + r)?;
                    }
                    let record = self.records.map(|records| records[i]);
                    let gap = self.records.map(|records| {
                        let previous = if i == 0 { floor } else { records[i - 1].nonce };
                        records[i].nonce.wrapping_sub(previous).wrapping_sub(1)
                    });
                    prev.copy_advice(|| "prev", &mut region, prev_col, row)?;
                    let nonce = region.assign_advice(|| "nonce", nonce_col, row, || record.map(|r| Fp::from(r.nonce)))?;
                    message.push(region.assign_advice(|| "packed", packed_col, row, || record.map(|r| r.packed()))?);
                    region.assign_advice(|| "price", config.value[0], row + 1, || record.map(|r| Fp::from(r.price)))?;
                    region.assign_advice(|| "tokens", config.value[1], row + 1, || record.map(|r| Fp::from(u64::from(r.tokens))))?;
                    let fee = record.map(|r| Fp::from_u128(r.fee()));
                    region.assign_advice(|| "fee", config.value[2], row + 1, || fee)?;
                    total.copy_advice(|| "before", &mut region, config.value[3], row + 1)?;
                    let running = total.value().copied().zip(fee).map(|(t, f)| t + f);
                    total = region.assign_advice(|| "total", total_col, row, || running)?;
                    for b in 0..8 {
                        region.assign_advice(|| "gap byte", config.bytes[b], row, || gap.map(|g| Fp::from(bytes_of(g)[b])))?;
                        region.assign_advice(|| "price byte", config.bytes[b], row + 1, || record.map(|r| Fp::from(bytes_of(r.price)[b])))?;
                        region.assign_advice(|| "token byte", config.bytes[b], row + 2, || record.map(|r| Fp::from(bytes_of(u64::from(r.tokens))[b])))?;
                    }
                    prev = nonce;
                }
                Ok((message, prev, total))
            },
        )?;
        layouter.constrain_instance(last.cell(), config.instance, 4)?;
        layouter.constrain_instance(total.cell(), config.instance, 5)?;
        let message: [AssignedCell<Fp, Fp>; L] = message.try_into().map_err(|_| Error::Synthesis)?;
        let hasher = Hash::<_, _, P128Pow5T3, ConstantLength<L>, 3, 2>::init(Pow5Chip::construct(config.poseidon.clone()), layouter.namespace(|| "poseidon"))?;
        let commitment = hasher.hash(layouter.namespace(|| "commit records"), message)?;
        layouter.constrain_instance(commitment.cell(), config.instance, 0)
    }
}

/// The batch sizes the bench and tests prove (the commitment's length is a type parameter).
pub type Batch8 = BatchCircuit<8, 10>;
pub type Batch16 = BatchCircuit<16, 18>;
pub type Batch32 = BatchCircuit<32, 34>;
pub type Batch64 = BatchCircuit<64, 66>;

/// The public inputs for `records` settled above `floor`, checking what the circuit proves.
pub fn statement_of<const N: usize, const L: usize>(user: [u8; 20], provider: [u8; 20], floor: u64, records: &[RequestRecord; N]) -> Result<(BatchStatement, Vec<Fp>), BatchError> {
    let mut previous = floor;
    for (index, record) in records.iter().enumerate() {
        if record.nonce <= previous {
            return Err(BatchError::Nonce { floor, index, nonce: record.nonce });
        }
        previous = record.nonce;
    }
    let total_fee: u128 = records.iter().map(RequestRecord::fee).sum();
    let statement = BatchStatement { user, provider, floor, last: previous, total_fee };
    let message: [Fp; L] = std::array::from_fn(|i| match i {
        0 => address_field(&user),
        1 => address_field(&provider),
        _ => records[i - 2].packed(),
    });
    let commitment = poseidon::Hash::<_, P128Pow5T3, ConstantLength<L>, 3, 2>::init().hash(message);
    let public = vec![commitment, address_field(&user), address_field(&provider), Fp::from(floor), Fp::from(previous), Fp::from_u128(total_fee)];
    Ok((statement, public))
}

/// Keys for batches of `N` at `2^k` rows.
pub struct BatchKeys {
    pub k: u32,
    pub params: std::sync::Arc<Params<EqAffine>>,
    pub pk: ProvingKey<EqAffine>,
}

impl BatchKeys {
    pub fn vk(&self) -> &VerifyingKey<EqAffine> {
        self.pk.get_vk()
    }
}

/// Rows a batch of `n` takes: three a record, Poseidon (~65 rows a permutation of two inputs)
/// over `n + 2` elements, the byte table and blinding.
pub fn batch_k(n: usize) -> u32 {
    (3 * n + 1 + (n + 2).div_ceil(2) * 70 + 256 + 64).next_power_of_two().trailing_zeros()
}

pub fn setup<const N: usize, const L: usize>() -> Result<BatchKeys, BatchError> {
    let k = batch_k(N);
    let empty = BatchCircuit::<N, L> { statement: BatchStatement { user: [0; 20], provider: [0; 20], floor: 0, last: 0, total_fee: 0 }, records: Value::unknown() };
    let params = super::circuit::params(k);
    let vk = keygen_vk(&params, &empty)?;
    let pk = keygen_pk(&params, vk, &empty)?;
    Ok(BatchKeys { k, params, pk })
}

pub fn prove<const N: usize, const L: usize>(keys: &BatchKeys, user: [u8; 20], provider: [u8; 20], floor: u64, records: [RequestRecord; N]) -> Result<(Vec<u8>, Vec<Fp>), BatchError> {
    let (statement, public) = statement_of::<N, L>(user, provider, floor, &records)?;
    let circuit = BatchCircuit::<N, L> { statement, records: Value::known(records) };
    Ok((super::circuit::prove_circuit(&keys.params, &keys.pk, circuit, &public)?, public))
}

pub fn verify(keys: &BatchKeys, public: &[Fp], proof: &[u8]) -> Result<(), BatchError> {
    super::circuit::verify(&keys.params, keys.vk(), public, proof).map_err(|_| BatchError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::dev::MockProver;

    fn records() -> [RequestRecord; 8] {
        std::array::from_fn(|i| RequestRecord { nonce: 10 + 3 * i as u64, tokens: 100 + i as u32, price: 1_000_000_007 * (i as u64 + 1) })
    }

    #[test]
    fn a_true_batch_proves_and_a_wrong_total_or_order_does_not() {
        let (user, provider) = ([1u8; 20], [2u8; 20]);
        let records = records();
        let (statement, public) = statement_of::<8, 10>(user, provider, 9, &records).unwrap();
        assert_eq!(statement.total_fee, records.iter().map(RequestRecord::fee).sum::<u128>());
        let circuit = Batch8 { statement, records: Value::known(records) };
        let k = batch_k(8);
        MockProver::run(k, &circuit, vec![public.clone()]).unwrap().verify().unwrap();
        for at in [0, 4, 5] {
            let mut wrong = public.clone();
            wrong[at] += Fp::one();
            assert!(MockProver::run(k, &circuit, vec![wrong]).unwrap().verify().is_err(), "public input {at} changed");
        }
        // A nonce that does not increase is refused before proving, and by the circuit.
        let mut repeated = records;
        repeated[3].nonce = repeated[2].nonce;
        assert!(matches!(statement_of::<8, 10>(user, provider, 9, &repeated), Err(BatchError::Nonce { index: 3, .. })));
        let forced = Batch8 { statement, records: Value::known(repeated) };
        assert!(MockProver::run(k, &forced, vec![public.clone()]).unwrap().verify().is_err());
        // A floor at or above the first nonce too.
        assert!(statement_of::<8, 10>(user, provider, 10, &records).is_err());
    }

    #[test]
    fn real_batch_proofs_verify_and_tampering_is_refused() {
        let keys = setup::<8, 10>().unwrap();
        let (proof, public) = prove::<8, 10>(&keys, [1; 20], [2; 20], 0, records()).unwrap();
        verify(&keys, &public, &proof).unwrap();
        let mut wrong = public.clone();
        wrong[5] += Fp::one();
        assert!(verify(&keys, &wrong, &proof).is_err(), "another total");
        let mut flipped = proof.clone();
        flipped[50] ^= 1;
        assert!(verify(&keys, &public, &flipped).is_err());
        assert!(verify(&keys, &public, &proof[..proof.len() - 1]).is_err());
    }
}
