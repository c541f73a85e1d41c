//! One block of the workload through the node's pipeline against bare revm on the same
//! transactions, and blocks in a row through the node's schedule.

use super::*;

/// Pool admission, block building, revm execution, state root and the redb commit of one
/// block holding every measured transaction. Returns (elapsed, gas used).
pub fn run_pipeline(node: &mut Node, fixture: &Fixture) -> PipelineTimes {
    let trie_before = node.world().resource::<zg_components::chain::StateTrie>().0.clone();
    let started = Instant::now();
    for (tx, sender) in &fixture.txs {
        mempool::admit(node.world_mut(), tx.clone(), *sender).expect("admitted");
    }
    let admitted = Instant::now();
    let block = producer::seal_block(node.world_mut(), 2);
    let sealed = Instant::now();
    node.store().write_block(&block).expect("persisted");
    let persisted = Instant::now();
    assert_eq!(block.receipts.len(), fixture.txs.len(), "every transaction made it into the block");
    let commitments = commitments_alone(node, trie_before, &block);
    PipelineTimes {
        total: persisted - started,
        admit: admitted - started,
        seal: sealed - admitted,
        persist: persisted - sealed,
        commitments,
        gas_used: block.header.gas_used,
    }
}

/// What the block's Ethereum commitments cost by themselves, with the node's own code: the
/// changed accounts written into the state trie as it was before the block and its root, and
/// the transactions and receipts roots (blooms included). Storage roots are taken as computed,
/// so this is a lower bound on the work any node that commits to its state each block does on
/// top of execution.
fn commitments_alone(node: &mut Node, mut trie: zg_components::chain::MerkleTrie, block: &zg_components::chain::CommittedBlock) -> Duration {
    use zg_components::chain::{AccountIndex, AccountStorage};
    let world = node.world_mut();
    let leaves: Vec<(alloy_primitives::B256, Vec<u8>)> = block
        .changes
        .iter()
        .map(|change| {
            let value = change
                .info
                .map(|info| {
                    let entity = world.resource::<AccountIndex>().0.get(&change.address).copied();
                    let root = entity
                        .and_then(|entity| world.get_mut::<AccountStorage>(entity).map(|mut storage| storage.root()))
                        .unwrap_or(alloy_trie::EMPTY_ROOT_HASH);
                    info.trie_value(root)
                })
                .unwrap_or_default();
            (alloy_primitives::keccak256(change.address), value)
        })
        .collect();
    let started = Instant::now();
    let (state_root, (transactions_root, receipts_root, logs_bloom)) = rayon::join(
        || {
            for (key, value) in leaves {
                trie.insert(key, value);
            }
            trie.root()
        },
        || producer::transactions_and_receipts_roots(&block.transactions, &block.receipts),
    );
    let took = started.elapsed();
    assert_eq!(
        (state_root, transactions_root, receipts_root, logs_bloom),
        (block.header.state_root, block.header.transactions_root, block.header.receipts_root, block.header.logs_bloom),
        "the commitments rebuilt match the block's"
    );
    took
}

/// Where one pipeline run spent its time.
#[derive(Clone, Copy, Debug)]
pub struct PipelineTimes {
    pub total: Duration,
    /// Stateful pool checks and mempool entities.
    pub admit: Duration,
    /// Selection, revm execution, state application, state/tx/receipt roots.
    pub seal: Duration,
    /// One redb write transaction, fsynced.
    pub persist: Duration,
    /// The state, transactions and receipts roots alone, measured apart (a floor; see
    /// `commitments_alone`).
    pub commitments: Duration,
    pub gas_used: u64,
}

/// The same transactions through bare revm: an in-memory `CacheDB`, `transact_commit` each.
pub fn prepared_bare_db(fixture: &Fixture) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    for (address, balance) in fixture.genesis.balances().expect("valid genesis") {
        db.insert_account_info(address, RevmAccountInfo::new(balance, 0, alloy_trie::KECCAK_EMPTY, Bytecode::default()));
    }
    if !fixture.setup.is_empty() {
        run_bare(&mut db, &fixture.genesis, &fixture.setup);
    }
    db
}

pub fn run_bare(db: &mut CacheDB<EmptyDB>, genesis: &Genesis, txs: &[(TxEnvelope, Address)]) -> Duration {
    let block = evm::block_env(1, 1, Address::repeat_byte(0xc0), genesis.gas_limit, 0, Default::default());
    let started = Instant::now();
    let mut evm = revm::Context::mainnet()
        .with_db(db)
        .with_cfg(evm::cfg_env(genesis.chain_id))
        .with_block(block)
        .build_mainnet();
    for (tx, sender) in txs {
        let result = evm.transact_commit(evm::tx_env(tx, *sender)).expect("bare revm executes");
        debug_assert!(result.is_success());
    }
    started.elapsed()
}


#[derive(Debug, Clone)]
pub struct ExecutionReport {
    pub workload: Workload,
    pub transactions: usize,
    pub pipeline_tps: f64,
    pub bare_revm_tps: f64,
    pub mgas_per_s: f64,
    /// The median pipeline run.
    pub breakdown: PipelineTimes,
}

impl ExecutionReport {
    pub fn ratio(&self) -> f64 {
        self.pipeline_tps / self.bare_revm_tps
    }
}

/// Runs both sides `rounds` times on fresh state and reports medians.
pub fn execution(workload: Workload, count: usize, senders: usize, rounds: usize) -> ExecutionReport {
    let fixture = fixture(workload, count, senders);
    let mut runs = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..rounds.max(1) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = prepared_node(&fixture, dir.path());
        runs.push(run_pipeline(&mut node, &fixture));
        let mut db = prepared_bare_db(&fixture);
        bare.push(run_bare(&mut db, &fixture.genesis, &fixture.txs));
    }
    runs.sort_by_key(|run| run.total);
    let run = runs[runs.len() / 2];
    let bare = median(bare);
    ExecutionReport {
        workload,
        transactions: count,
        pipeline_tps: count as f64 / run.total.as_secs_f64(),
        bare_revm_tps: count as f64 / bare.as_secs_f64(),
        mgas_per_s: run.gas_used as f64 / run.total.as_secs_f64() / 1e6,
        breakdown: run,
    }
}

/// Blocks in a row through the node's own schedule (automine, the pool filled first): each
/// block's redb commit inline, against the dev chain's writer thread committing block N while
/// N+1 executes; bare revm on the same transactions in the same run.
#[derive(Clone, Debug)]
pub struct SustainedReport {
    pub blocks: usize,
    pub per_block: usize,
    pub inline_tps: f64,
    pub overlapped_tps: f64,
    pub bare_revm_tps: f64,
}

pub fn sustained(workload: Workload, blocks: usize, per_block: usize, senders: usize) -> SustainedReport {
    let fixture = fixture(workload, blocks * per_block, senders);
    let gas_per_tx = fixture.txs.first().map(|(tx, _)| alloy_consensus::Transaction::gas_limit(tx)).unwrap_or(21_000);
    let run = |overlapped: bool| -> f64 {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = prepared_node(&fixture, dir.path());
        if !overlapped {
            node.world_mut().remove_resource::<zg_systems::chain::writer::BlockWriter>();
        }
        {
            let mut spec = node.world_mut().resource_mut::<ChainSpec>();
            spec.block_time_ms = 0;
            spec.block_gas_limit = gas_per_tx * per_block as u64;
        }
        for (tx, sender) in &fixture.txs {
            mempool::admit(node.world_mut(), tx.clone(), *sender).expect("admitted");
        }
        let start_head = node.world().resource::<zg_components::chain::ChainHead>().number();
        let target = start_head + blocks as u64;
        let started = Instant::now();
        let mut now_ms = 1_000_000;
        loop {
            now_ms += 1;
            node.tick(now_ms).expect("bench node ticks");
            let sealed = node.world().resource::<zg_components::chain::ChainHead>().number() >= target;
            let on_disk = node.store().head_number().ok().flatten().unwrap_or_default() >= target;
            if sealed && on_disk {
                break;
            }
        }
        fixture.txs.len() as f64 / started.elapsed().as_secs_f64()
    };
    let inline_tps = run(false);
    let overlapped_tps = run(true);
    let mut db = prepared_bare_db(&fixture);
    let bare = run_bare(&mut db, &fixture.genesis, &fixture.txs);
    SustainedReport {
        blocks,
        per_block,
        inline_tps,
        overlapped_tps,
        bare_revm_tps: fixture.txs.len() as f64 / bare.as_secs_f64(),
    }
}
