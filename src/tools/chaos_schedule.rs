//! A fault campaign's schedule: every fault (which node, what, when, for how long) and every
//! upload (to which node, how large, when) decided from the seed alone, before anything runs, so
//! a seed is the same campaign on every run, whatever the nodes answer and however long each
//! step takes. It is printed at the start and written as JSON beside the network; `zgnode chaos
//! --replay FILE` runs a written (or hand-trimmed) schedule again.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::tools::seeded::SeededRng;

/// What a fault does to its node while it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL, restarted when the hold ends.
    Kill,
    /// Cut off from every other validator (both directions).
    Partition,
    /// Every node's outgoing frames delayed up to this many milliseconds (and so reordered).
    Delay { max_delay_ms: u64 },
    /// One bit flipped in a settled segment file of the node's; `draw` picks the file (among
    /// those on disk then), the byte and the bit.
    Corrupt { draw: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// Milliseconds after the campaign's start.
    pub at_ms: u64,
    pub node: usize,
    pub hold_ms: u64,
    pub fault: Fault,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledUpload {
    pub at_ms: u64,
    /// A node no fault holds at `at_ms`.
    pub node: usize,
    pub bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosSchedule {
    /// Also seeds the ports, the load's targets and the uploaded bytes.
    pub seed: u64,
    pub nodes: usize,
    pub duration_ms: u64,
    pub faults: Vec<ScheduledFault>,
    pub uploads: Vec<ScheduledUpload>,
}

/// Seconds between uploads.
const UPLOAD_EVERY_MS: u64 = 5_000;
/// Independent streams drawn from one seed, so adding draws to one leaves the others alone.
const FAULT_STREAM: u64 = 0xfa17;
const UPLOAD_STREAM: u64 = 0x0b10;

impl ChaosSchedule {
    /// The campaign a seed stands for: one fault at a time (f = 1 of the validators), each held
    /// 2–8 s, the next starting 0–2×`fault_every` after the last healed; an upload every 5 s to a
    /// node no fault holds then.
    pub fn from_seed(seed: u64, nodes: usize, duration: Duration, fault_every: Duration) -> Self {
        let duration_ms = duration.as_millis() as u64;
        let fault_every_ms = fault_every.as_millis() as u64;
        let mut rng = SeededRng::new(seed ^ FAULT_STREAM);
        let mut faults = Vec::new();
        let mut at_ms = fault_every_ms;
        while at_ms < duration_ms {
            let node = rng.below(nodes as u64) as usize;
            let hold_ms = 2_000 + rng.below(6_000);
            let fault = match rng.below(4) {
                0 => Fault::Kill,
                1 => Fault::Partition,
                2 => Fault::Delay { max_delay_ms: 50 + rng.below(250) },
                _ => Fault::Corrupt { draw: rng.next_u64() },
            };
            faults.push(ScheduledFault { at_ms, node, hold_ms, fault });
            at_ms += hold_ms + rng.below(2 * fault_every_ms);
        }
        let mut schedule = Self { seed, nodes, duration_ms, faults, uploads: Vec::new() };
        let mut rng = SeededRng::new(seed ^ UPLOAD_STREAM);
        for at_ms in (0..duration_ms).step_by(UPLOAD_EVERY_MS as usize) {
            let faulty = schedule.faulty_at(at_ms);
            let healthy: Vec<usize> = (0..nodes).filter(|n| Some(*n) != faulty).collect();
            let node = healthy[rng.below(healthy.len() as u64) as usize];
            schedule.uploads.push(ScheduledUpload { at_ms, node, bytes: 20_000 + rng.below(600_000) as usize });
        }
        schedule
    }

    /// The node a fault holds at `at_ms`, if any (a fault that only delays frames holds none).
    pub fn faulty_at(&self, at_ms: u64) -> Option<usize> {
        self.faults
            .iter()
            .find(|f| f.at_ms <= at_ms && at_ms < f.at_ms + f.hold_ms + HEAL_GRACE_MS && !matches!(f.fault, Fault::Delay { .. }))
            .map(|f| f.node)
    }

    /// Refuses a schedule the campaign cannot run as written: nodes out of range, faults out of
    /// order or overlapping (one at a time is what the validators tolerate), times past the end.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(4..=7).contains(&self.nodes) {
            bail!("the schedule has {} nodes; 4..=7 run", self.nodes);
        }
        let mut free_from = 0;
        for (i, fault) in self.faults.iter().enumerate() {
            if fault.node >= self.nodes {
                bail!("fault {i} is on node {}, but there are {}", fault.node, self.nodes);
            }
            if fault.at_ms < free_from {
                bail!("fault {i} at {} ms starts before the fault before it has healed ({free_from} ms)", fault.at_ms);
            }
            if fault.at_ms >= self.duration_ms || fault.hold_ms == 0 {
                bail!("fault {i} at {} ms (held {} ms) is outside the campaign's {} ms", fault.at_ms, fault.hold_ms, self.duration_ms);
            }
            free_from = fault.at_ms + fault.hold_ms;
        }
        for (i, upload) in self.uploads.iter().enumerate() {
            if upload.node >= self.nodes || upload.at_ms >= self.duration_ms || upload.bytes == 0 || upload.bytes > 64 << 20 {
                bail!("upload {i} ({upload:?}) names no node, falls after the end or has a size outside 1 B..64 MiB");
            }
        }
        Ok(())
    }

    /// One line per fault, as printed before the campaign.
    pub fn describe(&self) -> Vec<String> {
        self.faults
            .iter()
            .map(|f| {
                let what = match &f.fault {
                    Fault::Kill => "kill".to_string(),
                    Fault::Partition => "partition".to_string(),
                    Fault::Delay { max_delay_ms } => format!("delay ≤ {max_delay_ms} ms (every node)"),
                    Fault::Corrupt { draw } => format!("corrupt (draw {draw:#x})"),
                };
                format!("{:>6.1}s node {}: {what} for {:.1}s", f.at_ms as f64 / 1e3, f.node, f.hold_ms as f64 / 1e3)
            })
            .collect()
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(self)?).with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let schedule: Self = serde_json::from_slice(&text).with_context(|| format!("{} is not a chaos schedule", path.display()))?;
        schedule.validate().with_context(|| format!("{} cannot be run", path.display()))?;
        Ok(schedule)
    }
}

/// A node just healed is still catching up: no upload goes to it this soon after.
const HEAL_GRACE_MS: u64 = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(seed: u64) -> ChaosSchedule {
        ChaosSchedule::from_seed(seed, 4, Duration::from_secs(120), Duration::from_secs(4))
    }

    #[test]
    fn a_seed_is_one_schedule_and_another_seed_another() {
        assert_eq!(schedule(911), schedule(911));
        assert_ne!(schedule(911).faults, schedule(912).faults);
        let s = schedule(911);
        assert!(s.faults.len() >= 8, "{} faults in 120 s", s.faults.len());
        assert_eq!(s.uploads.len(), 24);
        s.validate().unwrap();
    }

    #[test]
    fn one_fault_at_a_time_and_no_upload_to_a_faulty_node() {
        for seed in 0..200 {
            let s = schedule(seed);
            s.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            for upload in &s.uploads {
                assert_ne!(s.faulty_at(upload.at_ms), Some(upload.node), "seed {seed}: {upload:?}");
            }
        }
    }

    #[test]
    fn a_written_schedule_replays_and_a_bad_one_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedule.json");
        let s = schedule(7);
        s.save(&path).unwrap();
        assert_eq!(ChaosSchedule::load(&path).unwrap(), s);

        let mut overlapping = s.clone();
        overlapping.faults[1].at_ms = overlapping.faults[0].at_ms + 1;
        overlapping.save(&path).unwrap();
        let error = format!("{:#}", ChaosSchedule::load(&path).unwrap_err());
        assert!(error.contains("before the fault before it has healed"), "{error}");

        let mut stranger = s.clone();
        stranger.faults[0].node = 9;
        stranger.save(&path).unwrap();
        assert!(format!("{:#}", ChaosSchedule::load(&path).unwrap_err()).contains("on node 9"));

        for hostile in ["", "{", "[]", "{\"seed\": -1}", "{\"seed\":1,\"nodes\":4,\"duration_ms\":1,\"faults\":[],\"uploads\":[],\"extra\":1}"] {
            std::fs::write(&path, hostile).unwrap();
            assert!(ChaosSchedule::load(&path).is_err(), "{hostile:?} was accepted");
        }
        std::fs::write(&path, serde_json::json!({"seed": 1, "nodes": 4, "duration_ms": 10_000, "faults": [{"at_ms": 1, "node": 0, "hold_ms": 5, "fault": {"kind": "melt"}}], "uploads": []}).to_string()).unwrap();
        assert!(ChaosSchedule::load(&path).is_err(), "an unknown fault kind");
    }
}
