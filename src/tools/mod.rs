//! Tooling beside the node, not inside it: the workloads behind `zgnode bench` ([`bench`]),
//! the seeded fault campaign of `zgnode chaos` ([`chaos`], its schedule in [`chaos_schedule`],
//! its RNG in [`seeded`]), the fuzz
//! targets and their corpus ([`fuzz`]) and the local validator networks of `zgnode testnet`
//! ([`testnet`]). Only the CLI opens this door: no role imports it (`tests/layering.rs`).

pub mod bench;
pub mod chaos;
pub mod chaos_schedule;
pub mod fuzz;
pub mod seeded;
pub mod testnet;
pub mod wan;
