use super::*;
use proptest::prelude::*;

fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Every row and every column is the codeword of its first `k` shares.
fn assert_every_axis_is_a_codeword(square: &ExtendedSquare) {
    let layout = square.layout;
    let width = layout.width();
    for axis in [Axis::Row, Axis::Column] {
        for index in 0..width {
            let line: Vec<u8> = match axis {
                Axis::Row => square.row(index).to_vec(),
                Axis::Column => square.column(index),
            };
            let first_k: Vec<Option<&[u8]>> =
                line.chunks(SHARE_SIZE).enumerate().map(|(i, s)| (i < layout.k).then_some(s)).collect();
            assert_eq!(rebuild_axis(layout, axis, index, &first_k).unwrap(), line, "{axis:?} {index}");
        }
    }
}

fn held(square: &ExtendedSquare, missing: impl Fn(usize, usize) -> bool) -> Vec<Option<Vec<u8>>> {
    let width = square.layout.width();
    (0..width * width)
        .map(|i| {
            let (r, c) = (i / width, i % width);
            (!missing(r, c)).then(|| square.share(r, c).unwrap().to_vec())
        })
        .collect()
}

/// A square whose row `row` has one parity share changed, committed as it is (what a
/// byzantine disperser would send with matching roots).
fn corrupted(square: &ExtendedSquare, row: usize) -> (ExtendedSquare, AxisRoots) {
    let mut bad = square.clone();
    let width = bad.layout.width();
    let at = (row * width + width - 1) * SHARE_SIZE;
    bad.data[at] ^= 0x5a;
    let roots = bad.commit();
    (bad, roots)
}

#[test]
fn the_original_square_is_the_top_left_quarter_and_gives_the_blob_back() {
    for len in [0, 1, 300, 5_000, 100_000] {
        let data = blob(len, 3);
        let square = extend_blob(&data).unwrap();
        assert_eq!(square.data.len(), square.layout.extended_bytes());
        assert_eq!(&square.row(0)[..data.len().min(square.layout.k * SHARE_SIZE)], &data[..data.len().min(square.layout.k * SHARE_SIZE)]);
        assert_eq!(blob_of(&square).unwrap(), data);
        assert_every_axis_is_a_codeword(&square);
    }
}

#[test]
fn the_square_comes_back_from_any_quarter_missing_and_from_the_worst_recoverable_loss() {
    let square = extend_blob(&blob(40_000, 9)).unwrap();
    let k = square.layout.k;
    for quarter in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let missing = |r: usize, c: usize| (r / k, c / k) == quarter;
        assert_eq!(rebuild_square(square.layout, &held(&square, missing)).unwrap(), square);
    }
    // Everything but the original quarter, and a k × k block anywhere: both recoverable.
    assert_eq!(rebuild_square(square.layout, &held(&square, |r, c| r >= k || c >= k)).unwrap(), square);
    assert_eq!(rebuild_square(square.layout, &held(&square, |r, c| (2..k + 2).contains(&r) && (1..k + 1).contains(&c))).unwrap(), square);
}

#[test]
fn withholding_k_plus_one_squared_shares_makes_the_square_unrecoverable() {
    let square = extend_blob(&blob(40_000, 1)).unwrap();
    let k = square.layout.k;
    let missing = |r: usize, c: usize| r <= k && c <= k;
    let result = rebuild_square(square.layout, &held(&square, missing));
    assert_eq!(result, Err(CodingError::Unrecoverable { missing: (k + 1) * (k + 1) }));
}

#[test]
fn share_proofs_place_a_share_and_nothing_else() {
    let square = extend_blob(&blob(20_000, 5)).unwrap();
    let (roots, leaves) = (square.commit(), square.leaf_hashes());
    let data_root = roots.data_root();
    let width = square.layout.width();
    for (r, c) in [(0, 0), (1, width - 1), (width - 1, 3)] {
        for axis in [Axis::Row, Axis::Column] {
            let proof = share_proof(&square, &roots, &roots.tree(), &leaves, r, c, axis).unwrap();
            let share = square.share(r, c).unwrap();
            proof.verify(&data_root, square.layout, share).unwrap();
            assert_eq!(proof.coordinates(), (r, c));
            let mut other = share.to_vec();
            other[7] ^= 1;
            assert!(proof.verify(&data_root, square.layout, &other).is_err(), "a changed share");
            assert!(proof.verify(&B256::repeat_byte(1), square.layout, share).is_err(), "another data root");
            let mut moved = proof.clone();
            moved.position = (moved.position + 1) % width as u32;
            assert!(moved.verify(&data_root, square.layout, share).is_err(), "another position");
            let mut other_axis = proof.clone();
            other_axis.axis_index = (other_axis.axis_index + 1) % width as u32;
            assert!(other_axis.verify(&data_root, square.layout, share).is_err(), "another axis");
            assert!(matches!(proof.verify(&data_root, square.layout, &share[1..]), Err(DaError::ShareSize { .. })));
        }
    }
    assert!(share_proof(&square, &roots, &roots.tree(), &leaves, width, 0, Axis::Row).is_err());
}

#[test]
fn an_honest_square_has_no_fraud_proof_and_a_forged_one_is_refused() {
    let square = extend_blob(&blob(9_000, 2)).unwrap();
    let roots = square.commit();
    for axis in [Axis::Row, Axis::Column] {
        for index in 0..square.layout.width() {
            assert_eq!(prove_bad_encoding(&square, &roots, axis, index).unwrap(), None);
        }
    }
    // A forger takes a bad square's proof shape but honest shares: the axis rebuilds to its root.
    let (bad, bad_roots) = corrupted(&square, 1);
    let mut forged = prove_bad_encoding(&bad, &bad_roots, Axis::Row, 1).unwrap().expect("bad row");
    let leaves = square.leaf_hashes();
    forged.data_root = roots.data_root();
    forged.accused_root = roots.rows[1];
    forged.accused_proof = roots.axis_proof(Axis::Row, 1).unwrap();
    for (i, (share, proof)) in forged.shares.iter_mut().enumerate() {
        *share = square.share(1, i).unwrap().to_vec();
        *proof = share_proof(&square, &roots, &roots.tree(), &leaves, 1, i, Axis::Column).unwrap();
    }
    assert_eq!(check_bad_encoding(&forged), Err(FraudProofError::SoundAxis));
}

#[test]
fn a_badly_encoded_row_is_proven_and_tampered_proofs_are_refused() {
    let square = extend_blob(&blob(9_000, 4)).unwrap();
    let (bad, roots) = corrupted(&square, 2);
    let proof = prove_bad_encoding(&bad, &roots, Axis::Row, 2).unwrap().expect("row 2 is bad");
    assert_eq!(proof.shares.len(), bad.layout.k);
    check_bad_encoding(&proof).unwrap();
    // The corrupted share's column is bad too.
    let width = bad.layout.width();
    let column = prove_bad_encoding(&bad, &roots, Axis::Column, width - 1).unwrap().expect("its column is bad");
    check_bad_encoding(&column).unwrap();

    let mut changed_share = proof.clone();
    changed_share.shares[0].0[0] ^= 1;
    assert!(matches!(check_bad_encoding(&changed_share), Err(FraudProofError::Share(0, _))));
    let mut other_root = proof.clone();
    other_root.accused_root = roots.rows[3];
    assert!(matches!(check_bad_encoding(&other_root), Err(FraudProofError::AccusedRoot(..))));
    let mut twice = proof.clone();
    twice.shares[1] = twice.shares[0].clone();
    assert_eq!(check_bad_encoding(&twice), Err(FraudProofError::Misplaced(1)));
    let mut short = proof.clone();
    short.shares.pop();
    assert_eq!(check_bad_encoding(&short), Err(FraudProofError::ShareCount { got: bad.layout.k - 1, need: bad.layout.k }));
    let mut off_axis = proof.clone();
    off_axis.shares[0].1.position += 1;
    assert_eq!(check_bad_encoding(&off_axis), Err(FraudProofError::Misplaced(0)));
    let mut huge = proof.clone();
    huge.layout.k = 1 << 20;
    assert_eq!(check_bad_encoding(&huge), Err(FraudProofError::Layout));
    let mut zero = proof;
    zero.layout.k = 0;
    assert_eq!(check_bad_encoding(&zero), Err(FraudProofError::Layout));
}

#[test]
fn a_wrong_size_square_or_shape_is_refused() {
    let layout = SquareLayout { k: 2 };
    assert!(matches!(extend_original(layout, &[0u8; 10]), Err(CodingError::Da(DaError::SquareSize { .. }))));
    assert!(rebuild_square(layout, &vec![None; 3]).is_err());
    let line: Vec<Option<&[u8]>> = vec![None; 4];
    assert!(matches!(rebuild_axis(layout, Axis::Row, 0, &line), Err(CodingError::TooFewShares { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any blob's square is a product code, comes back from any one random half of each row
    /// missing... as long as k shares of each row remain, and keeps its blob.
    #[test]
    fn any_blob_extends_to_a_product_code_and_comes_back(len in 0usize..60_000, seed: u8, drop_seed: u64) {
        let data = blob(len, seed);
        let square = extend_blob(&data).unwrap();
        assert_every_axis_is_a_codeword(&square);
        // Laying the blob straight into the square gives the original square's bytes.
        let (layout, original) = zg_components::da::square::original_square(&data).unwrap();
        prop_assert_eq!(&extend_original(layout, &original).unwrap(), &square);
        let (k, width) = (square.layout.k, square.layout.width());
        // Drop k shares of each row at positions drawn from the seed.
        let dropped = |r: usize, c: usize| {
            let start = (drop_seed as usize).wrapping_add(r * 7919) % width;
            (c + width - start) % width < k
        };
        let rebuilt = rebuild_square(square.layout, &held(&square, dropped)).unwrap();
        prop_assert_eq!(blob_of(&rebuilt).unwrap(), data);
    }
}

#[test]
fn no_fraud_proof_claiming_another_k_holds_against_an_honest_blob() {
    for len in [1_400, 9_000, 30_000] {
        let square = extend_blob(&blob(len, 5)).unwrap();
        let k = square.layout.k;
        let forger = super::forgery_for_tests::Forger::new(&square);
        let mut tried = 0;
        for claimed in 1..=3 * k {
            for proof in forger.forge(claimed) {
                tried += 1;
                assert!(check_bad_encoding(&proof).is_err(), "a {len}-byte blob (k = {k}) failed by a proof claiming k = {claimed}: {:?} {}", proof.axis, proof.index);
            }
        }
        // Claiming the real k, the forger assembles honest proofs: the walk itself is sound.
        assert!(tried > 0, "the forger assembled nothing for k = {k}");
    }
}
