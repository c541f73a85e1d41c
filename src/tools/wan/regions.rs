//! Where simulated validators sit and how far apart: five regions, round-trip times from 50 ms
//! (two validators in one region) to 300 ms (Asia to South America), in line with public
//! inter-region figures. Validator `i` sits in region `i % 5`, so every size spreads evenly.

use std::time::Duration;

pub const REGIONS: [&str; 5] = ["us-east", "us-west", "europe", "asia", "south-america"];

/// Round-trip times in ms between regions (symmetric).
const RTT_MS: [[u64; 5]; 5] = [
    [50, 70, 90, 220, 130],
    [70, 50, 150, 160, 190],
    [90, 150, 50, 240, 200],
    [220, 160, 240, 50, 300],
    [130, 190, 200, 300, 50],
];

pub fn region_of(validator: usize) -> usize {
    validator % REGIONS.len()
}

/// One-way latency between two validators' regions: half the round trip.
pub fn one_way(a: usize, b: usize) -> Duration {
    Duration::from_millis(RTT_MS[region_of(a)][region_of(b)] / 2)
}

/// The latest a datagram on that link may arrive: `jitter` (a fraction) past the one-way time.
/// turmoil draws each datagram's delay between the two (an exponential curve, most near the
/// low end), so datagrams on one link also overtake each other.
pub fn one_way_max(a: usize, b: usize, jitter: f64) -> Duration {
    one_way(a, b).mul_f64(1.0 + jitter.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_symmetric_and_within_the_stated_range() {
        for (a, row) in RTT_MS.iter().enumerate() {
            for (b, rtt) in row.iter().enumerate() {
                assert_eq!(*rtt, RTT_MS[b][a]);
                assert!((50..=300).contains(rtt));
            }
        }
        assert_eq!(one_way(0, 5), Duration::from_millis(25), "same region");
        assert_eq!(one_way(3, 4), Duration::from_millis(150));
        assert_eq!(one_way_max(3, 4, 0.1), Duration::from_millis(165));
    }
}
