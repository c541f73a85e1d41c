//! The bad-encoding fraud proof's bytes, as the DA precompile reads them from a transaction.
//!
//! Big-endian, fixed fields, every count bounded before anything is allocated:
//! `data_root 32 ‖ k u32 ‖ axis u8 ‖ index u32 ‖ accused_root 32 ‖ proof ‖ shares u32 ‖
//! (share 256 ‖ share proof)*`; a proof is `lemma count u8 ‖ lemma 32* ‖ path count u8 ‖ path
//! bits (one byte each, 0 or 1)`; a share proof is `axis u8 ‖ axis index u32 ‖ position u32 ‖
//! axis root 32 ‖ proof (to the axis) ‖ proof (to the data root)`.

use alloy_primitives::B256;

use super::square::{Axis, BadEncodingProof, SHARE_SIZE, ShareProof, SquareLayout};
use crate::storage::merkle::Proof;

/// Longest Merkle path any square needs (2^32 leaves), with room to spare.
const MAX_LEMMA: usize = 40;
/// The most shares a proof can carry: `k` of the largest blob's square.
pub const MAX_PROOF_SHARES: usize = 512;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the proof ends early: {0} wanted")]
    Truncated(&'static str),
    #[error("{0} is out of range")]
    OutOfRange(&'static str),
    #[error("{0} bytes follow the proof")]
    Trailing(usize),
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn hash(&mut self, what: &'static str) -> Result<B256, WireError> {
        Ok(B256::from_slice(self.take(32, what)?))
    }

    fn axis(&mut self) -> Result<Axis, WireError> {
        match self.u8("axis")? {
            0 => Ok(Axis::Row),
            1 => Ok(Axis::Column),
            _ => Err(WireError::OutOfRange("axis")),
        }
    }

    fn proof(&mut self) -> Result<Proof, WireError> {
        let lemmas = self.u8("lemma count")? as usize;
        if lemmas > MAX_LEMMA {
            return Err(WireError::OutOfRange("lemma count"));
        }
        let lemma = (0..lemmas).map(|_| self.hash("lemma")).collect::<Result<_, _>>()?;
        let bits = self.u8("path count")? as usize;
        if bits > MAX_LEMMA {
            return Err(WireError::OutOfRange("path count"));
        }
        let path = self
            .take(bits, "path")?
            .iter()
            .map(|bit| match bit {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(WireError::OutOfRange("path bit")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Proof { lemma, path })
    }
}

fn put_proof(out: &mut Vec<u8>, proof: &Proof) {
    out.push(proof.lemma.len() as u8);
    proof.lemma.iter().for_each(|h| out.extend_from_slice(h.as_slice()));
    out.push(proof.path.len() as u8);
    out.extend(proof.path.iter().map(|bit| *bit as u8));
}

fn put_axis(out: &mut Vec<u8>, axis: Axis) {
    out.push(match axis {
        Axis::Row => 0,
        Axis::Column => 1,
    });
}

/// The proof's bytes.
pub fn encode_fraud_proof(proof: &BadEncodingProof) -> Vec<u8> {
    let mut out = Vec::with_capacity(100 + proof.shares.len() * (SHARE_SIZE + 800));
    out.extend_from_slice(proof.data_root.as_slice());
    out.extend_from_slice(&(proof.layout.k as u32).to_be_bytes());
    put_axis(&mut out, proof.axis);
    out.extend_from_slice(&proof.index.to_be_bytes());
    out.extend_from_slice(proof.accused_root.as_slice());
    put_proof(&mut out, &proof.accused_proof);
    out.extend_from_slice(&(proof.shares.len() as u32).to_be_bytes());
    for (share, share_proof) in &proof.shares {
        out.extend_from_slice(share);
        put_axis(&mut out, share_proof.axis);
        out.extend_from_slice(&share_proof.axis_index.to_be_bytes());
        out.extend_from_slice(&share_proof.position.to_be_bytes());
        out.extend_from_slice(share_proof.axis_root.as_slice());
        put_proof(&mut out, &share_proof.to_axis);
        put_proof(&mut out, &share_proof.to_data_root);
    }
    out
}

/// A proof from its bytes; never panics, allocates only for what the bytes hold.
pub fn decode_fraud_proof(bytes: &[u8]) -> Result<BadEncodingProof, WireError> {
    let mut reader = Reader { bytes };
    let data_root = reader.hash("data root")?;
    let k = reader.u32("k")? as usize;
    if k == 0 || k > MAX_PROOF_SHARES {
        return Err(WireError::OutOfRange("k"));
    }
    let axis = reader.axis()?;
    let index = reader.u32("index")?;
    let accused_root = reader.hash("accused root")?;
    let accused_proof = reader.proof()?;
    let count = reader.u32("share count")? as usize;
    if count > MAX_PROOF_SHARES {
        return Err(WireError::OutOfRange("share count"));
    }
    let mut shares = Vec::with_capacity(count.min(reader.bytes.len() / SHARE_SIZE));
    for _ in 0..count {
        let share = reader.take(SHARE_SIZE, "share")?.to_vec();
        let proof = ShareProof {
            axis: reader.axis()?,
            axis_index: reader.u32("axis index")?,
            position: reader.u32("position")?,
            axis_root: reader.hash("axis root")?,
            to_axis: reader.proof()?,
            to_data_root: reader.proof()?,
        };
        shares.push((share, proof));
    }
    if !reader.bytes.is_empty() {
        return Err(WireError::Trailing(reader.bytes.len()));
    }
    Ok(BadEncodingProof { data_root, layout: SquareLayout { k }, axis, index, accused_root, accused_proof, shares })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> BadEncodingProof {
        let proof = |n: usize| Proof { lemma: (0..n + 2).map(|i| B256::repeat_byte(i as u8)).collect(), path: (0..n).map(|i| i % 2 == 0).collect() };
        BadEncodingProof {
            data_root: B256::repeat_byte(9),
            layout: SquareLayout { k: 2 },
            axis: Axis::Column,
            index: 3,
            accused_root: B256::repeat_byte(4),
            accused_proof: proof(3),
            shares: (0..2)
                .map(|i| {
                    (vec![i as u8; SHARE_SIZE], ShareProof {
                        axis: Axis::Row,
                        axis_index: i,
                        position: 3,
                        axis_root: B256::repeat_byte(7),
                        to_axis: proof(2),
                        to_data_root: proof(3),
                    })
                })
                .collect(),
        }
    }

    #[test]
    fn a_proof_survives_its_bytes() {
        let proof = sample();
        assert_eq!(decode_fraud_proof(&encode_fraud_proof(&proof)).unwrap(), proof);
    }

    #[test]
    fn short_long_and_out_of_range_bytes_are_refused() {
        let bytes = encode_fraud_proof(&sample());
        for cut in [0, 31, 36, 100, bytes.len() - 1] {
            assert!(matches!(decode_fraud_proof(&bytes[..cut]), Err(WireError::Truncated(_))), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_fraud_proof(&long), Err(WireError::Trailing(1)));
        let mut bad_axis = bytes.clone();
        bad_axis[36] = 2;
        assert_eq!(decode_fraud_proof(&bad_axis), Err(WireError::OutOfRange("axis")));
        let mut huge_k = bytes.clone();
        huge_k[32..36].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_fraud_proof(&huge_k), Err(WireError::OutOfRange("k")));
        let mut many_shares = bytes;
        let at = 32 + 4 + 1 + 4 + 32 + 1 + 5 * 32 + 1 + 3;
        many_shares[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_fraud_proof(&many_shares), Err(WireError::OutOfRange("share count")));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = decode_fraud_proof(&bytes);
        }
    }
}
