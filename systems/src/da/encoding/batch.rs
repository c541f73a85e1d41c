//! Many lines of a square rebuilt at once on the erasure accelerator (the GPU): lines missing
//! the same positions share one decoding program, so one batch restores their missing data
//! shares and a second codes their parity. `None` whenever the accelerator does not take the
//! work (none installed, too small, a failure, a malformed share): the caller rebuilds the
//! lines one by one on the CPU, with its errors.

use zg_components::da::{SHARE_SIZE, SquareLayout};

use crate::erasure::accel::Accelerator;
use crate::erasure::program;

/// Each line (`pattern[i]`: whether share `i` is present, the same for every line) back whole:
/// `2k` shares, data then parity.
pub(super) fn rebuild_lines(accelerator: &Accelerator, layout: SquareLayout, pattern: &[bool], lines: &[Vec<Option<&[u8]>>]) -> Option<Vec<Vec<u8>>> {
    let k = layout.k;
    if pattern.len() != 2 * k || !accelerator.wants(lines.len() * k * SHARE_SIZE) {
        return None;
    }
    if lines.iter().flatten().flatten().any(|share| share.len() != SHARE_SIZE) {
        return None;
    }
    let (data_present, parity_present) = pattern.split_at(k);
    let mut originals: Vec<u8> = Vec::with_capacity(lines.len() * k * SHARE_SIZE);
    if data_present.iter().all(|p| *p) {
        lines.iter().for_each(|line| line[..k].iter().flatten().for_each(|s| originals.extend_from_slice(s)));
    } else {
        let decode = program::decode(data_present, parity_present, SHARE_SIZE).ok()?;
        let inputs: Vec<u8> = lines.iter().flat_map(|line| line.iter().flatten().flat_map(|s| s.iter().copied())).collect();
        let restored = accelerator.run_batch(&decode, &inputs, inputs.len())?;
        let missing = decode.outputs.len();
        for (line, restored) in lines.iter().zip(restored.chunks(missing * SHARE_SIZE)) {
            let mut next_restored = restored.chunks(SHARE_SIZE);
            for share in &line[..k] {
                match share {
                    Some(share) => originals.extend_from_slice(share),
                    None => originals.extend_from_slice(next_restored.next()?),
                }
            }
        }
    }
    let parity = accelerator.encode_batch(k, k, SHARE_SIZE, &originals)?;
    Some(originals.chunks(k * SHARE_SIZE).zip(parity.chunks(k * SHARE_SIZE)).map(|(data, parity)| [data, parity].concat()).collect())
}
