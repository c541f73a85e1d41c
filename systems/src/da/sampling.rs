//! Random sampling: which shares a sampler draws, and how sure `s` answered samples make it.
//!
//! A square that cannot be rebuilt hides at least `(k+1)²` of its `4k²` shares (a `(k+1) ×
//! (k+1)` block, up to row and column order, is the smallest stuck pattern of a product code),
//! so one uniform sample finds a hidden share with probability at least `(k+1)²/4k²` (just
//! over 1/4), and `s` independent samples miss every hidden share with probability at most
//! `(1 − (k+1)²/4k²)^s`. A share the sampler cannot get counts as hidden.

use alloy_primitives::{B256, keccak256};

use zg_components::da::SquareLayout;

/// `s` shares (row, column) drawn uniformly, with replacement, from `seed`: the same seed
/// draws the same shares, so a sampler's draw can be replayed and checked.
pub fn draw(seed: B256, layout: SquareLayout, s: usize) -> Vec<(usize, usize)> {
    let width = layout.width() as u64;
    (0..s as u64)
        .map(|i| {
            let mut preimage = seed.to_vec();
            preimage.extend_from_slice(&i.to_be_bytes());
            let h = keccak256(&preimage);
            let word = |at: usize| u64::from_be_bytes(h[at..at + 8].try_into().unwrap_or_default());
            // 2^64 is no multiple of the width, but the bias is below 2^-50.
            ((word(0) % width) as usize, (word(8) % width) as usize)
        })
        .collect()
}

/// The least share of an unrecoverable square that is hidden: `(k+1)² / 4k²`.
pub fn hidden_fraction(layout: SquareLayout) -> f64 {
    let k = layout.k as f64;
    (k + 1.0) * (k + 1.0) / (4.0 * k * k)
}

/// The confidence that a square is available after `s` samples all answered with valid proofs:
/// `1 − (1 − (k+1)²/4k²)^s`.
pub fn confidence(layout: SquareLayout, s: usize) -> f64 {
    1.0 - (1.0 - hidden_fraction(layout)).powi(s.min(i32::MAX as usize) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::da::encoding::{extend_blob, rebuild_square};

    #[test]
    fn draws_are_replayable_and_cover_the_square() {
        let layout = SquareLayout { k: 4 };
        let a = draw(B256::repeat_byte(1), layout, 2_000);
        assert_eq!(a, draw(B256::repeat_byte(1), layout, 2_000));
        assert_ne!(a, draw(B256::repeat_byte(2), layout, 2_000));
        assert!(a.iter().all(|(r, c)| *r < 8 && *c < 8));
        let distinct: std::collections::BTreeSet<_> = a.iter().collect();
        assert_eq!(distinct.len(), 64, "2,000 uniform draws hit every one of 64 shares");
    }

    #[test]
    fn confidence_grows_with_samples_toward_one() {
        let layout = SquareLayout::for_blob(zg_components::da::MAX_BLOB_SIZE).unwrap();
        assert!((hidden_fraction(layout) - 0.25).abs() < 0.002);
        assert!(confidence(layout, 0).abs() < 1e-12);
        assert!((confidence(layout, 16) - (1.0 - 0.75f64.powi(16))).abs() < 0.01);
        assert!(confidence(layout, 30) > 0.9998);
        assert!(confidence(SquareLayout { k: 1 }, 1) == 1.0, "k = 1: every share is needed");
    }

    /// Withholding the smallest unrecoverable block, seeded trials of `s` uniform samples catch
    /// it at least as often as the bound says (less three standard deviations); withholding a
    /// `k × k` block leaves the square recoverable, and the same trials catch that less often.
    #[test]
    fn seeded_withholding_trials_meet_the_bound() {
        let square = extend_blob(&vec![3u8; 60_000]).unwrap();
        let layout = square.layout;
        let (k, width) = (layout.k, layout.width());
        let held = |hidden: &dyn Fn(usize, usize) -> bool| -> Vec<Option<Vec<u8>>> {
            (0..width * width).map(|i| (!hidden(i / width, i % width)).then(|| square.share(i / width, i % width).unwrap().to_vec())).collect()
        };
        let stuck = |r: usize, c: usize| (3..k + 4).contains(&r) && (5..k + 6).contains(&c);
        assert!(rebuild_square(layout, &held(&stuck)).is_err(), "(k+1)² hidden: unrecoverable");
        let less = |r: usize, c: usize| (3..k + 3).contains(&r) && (5..k + 5).contains(&c);
        assert_eq!(rebuild_square(layout, &held(&less)).unwrap(), square, "k² hidden: recoverable");

        let (trials, s) = (4_000u64, 8usize);
        let rate = |hidden: &dyn Fn(usize, usize) -> bool| -> f64 {
            let caught = (0..trials)
                .filter(|t| draw(keccak256(t.to_be_bytes()), layout, s).iter().any(|(r, c)| hidden(*r, *c)))
                .count();
            caught as f64 / trials as f64
        };
        let bound = confidence(layout, s);
        let sigma = (bound * (1.0 - bound) / trials as f64).sqrt();
        let caught_stuck = rate(&stuck);
        assert!(caught_stuck >= bound - 3.0 * sigma, "caught {caught_stuck}, bound {bound}");
        let caught_less = rate(&less);
        let expected_less = 1.0 - (1.0 - (k * k) as f64 / (width * width) as f64).powi(s as i32);
        assert!((caught_less - expected_less).abs() <= 4.0 * (expected_less * (1.0 - expected_less) / trials as f64).sqrt());
        assert!(caught_less < caught_stuck);
    }
}
