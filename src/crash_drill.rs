//! Crash drills: `ZG_CRASH_AT=<point>` makes the process die, with no cleanup, the first time
//! it passes the named point (`fine-tuning:Delivering`, `fine-tuning:checkpoint`, …) — what a
//! `kill -9` at exactly that moment would do. Tests restart the process after it and check that
//! nothing was lost or done twice. Unset (always, outside drills), a point costs one compare.

use std::sync::OnceLock;

fn armed() -> Option<&'static str> {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    AT.get_or_init(|| std::env::var("ZG_CRASH_AT").ok().filter(|at| !at.is_empty())).as_deref()
}

/// Dies here when the drill names this point.
pub fn point(name: &str) {
    if armed() == Some(name) {
        eprintln!("crash drill: dying at {name}");
        std::process::abort();
    }
}
