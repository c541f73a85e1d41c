//! Tick overhead: an idle tick (the baseline), and a tick whose schedule also has a system
//! touching 100k account entities in parallel.

use criterion::{Criterion, criterion_group};

const ACCOUNTS: usize = 100_000;

fn ticks(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.sample_size(20);
    for (name, touching) in [("idle", false), ("touch_100k_accounts", true)] {
        let mut node = zgnode::tools::bench::tick_node(ACCOUNTS, touching);
        let mut now = 10_000u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                now += 1;
                node.tick(now).expect("tick")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ticks);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let report = zgnode::tools::bench::tick(ACCOUNTS, 500);
    println!(
        "summary tick: idle {:.1} µs, touching {} accounts {:.1} µs, ratio {:.1}",
        report.idle_us,
        report.accounts,
        report.touching_us,
        report.touching_us / report.idle_us
    );
}
