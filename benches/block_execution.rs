//! Block execution through the node's pipeline (pool -> block -> revm -> state root -> redb)
//! against bare revm on the same transactions. Prints criterion's figures for both sides, then
//! a summary with the ratio, measured in the same run.

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use zgnode::tools::bench::{self, Workload};

const TXS: usize = 2_000;
const SENDERS: usize = 200;

fn execution(c: &mut Criterion) {
    for workload in [Workload::EthTransfers, Workload::Erc20Transfers] {
        let fixture = bench::fixture(workload, TXS, SENDERS);
        let mut group = c.benchmark_group(format!("execution/{workload:?}"));
        group.sample_size(10).throughput(Throughput::Elements(TXS as u64));
        group.bench_function("node_pipeline", |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let node = bench::prepared_node(&fixture, dir.path());
                    (dir, node)
                },
                |(_dir, mut node)| bench::run_pipeline(&mut node, &fixture),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("bare_revm", |b| {
            b.iter_batched(
                || bench::prepared_bare_db(&fixture),
                |mut db| bench::run_bare(&mut db, &fixture.genesis, &fixture.txs),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, execution);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    for workload in [Workload::EthTransfers, Workload::Erc20Transfers] {
        let report = bench::execution(workload, TXS, SENDERS, 5);
        println!(
            "summary {workload:?}: node {:.0} tx/s, bare revm {:.0} tx/s, ratio {:.2}",
            report.pipeline_tps,
            report.bare_revm_tps,
            report.ratio()
        );
    }
}
