//! Thread pools the node keeps apart from rayon's global pool (which seals blocks), so work on
//! one never waits behind the other's.

/// A pool with a thread per core, its threads named `{prefix}{i}` (one thread if the system
/// refuses more).
pub fn per_core(prefix: &'static str) -> rayon::ThreadPool {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{prefix}{i}"))
        .build()
        .unwrap_or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool"))
}
