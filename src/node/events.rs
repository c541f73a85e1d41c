//! Chain events for the host, typed: blocks, receipts and logs as the node commits them.
//!
//! The world announces each committed block once, through its event sink; [`EventHub`] is that
//! sink. It feeds the JSON-RPC subscriptions (a tokio broadcast) and every [`Subscription`] a
//! host took, each with its own bounded queue: a host that stops reading loses its oldest
//! blocks (counted, reported as [`SubscriptionError::Lagged`]) and never slows the node down.
//! A subscription can be read without a runtime (`try_next`, `next_timeout`) or awaited (`next`).

use alloy_primitives::{Address, B256, Log};
use alloy_sol_types::SolEvent;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};

use zg_components::chain::{CommittedBlock, TxReceipt};
use zg_components::node::NodeEvent;
use zg_systems::chain::io::EventSink;

/// Committed blocks one subscription may hold unread before its oldest are dropped.
pub const SUBSCRIPTION_QUEUE_BLOCKS: usize = 4_096;

/// A block the node committed (executed and persisted).
#[derive(Clone, Debug)]
pub struct BlockEvent {
    pub number: u64,
    pub hash: B256,
    pub timestamp: u64,
    pub gas_used: u64,
    /// Its transactions' hashes, in order.
    pub transactions: Vec<B256>,
    /// Everything the node committed: header, signed transactions, receipts, state changes.
    pub block: Arc<CommittedBlock>,
}

/// One log a committed transaction emitted, with where it sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    pub block_number: u64,
    pub block_hash: B256,
    pub tx_hash: B256,
    pub tx_index: u64,
    /// The log's index within its block.
    pub log_index: u64,
    pub log: Log,
}

impl LogEvent {
    /// The log as a `sol!` event, checked against the event's signature.
    pub fn decode<E: SolEvent>(&self) -> Result<E, alloy_sol_types::Error> {
        E::decode_log(&self.log).map(|decoded| decoded.data)
    }

    pub fn address(&self) -> Address {
        self.log.address
    }
}

/// Which logs a log subscription delivers: all of them unless narrowed.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    addresses: Vec<Address>,
    topic0: Option<B256>,
}

impl LogFilter {
    pub fn any() -> Self {
        Self::default()
    }

    /// Only logs from `address` (call again to add more addresses).
    pub fn address(mut self, address: Address) -> Self {
        self.addresses.push(address);
        self
    }

    /// Only logs of the `sol!` event `E`.
    pub fn event<E: SolEvent>(mut self) -> Self {
        self.topic0 = Some(E::SIGNATURE_HASH);
        self
    }

    pub fn matches(&self, log: &Log) -> bool {
        (self.addresses.is_empty() || self.addresses.contains(&log.address))
            && self.topic0.is_none_or(|topic| log.topics().first() == Some(&topic))
    }
}

impl BlockEvent {
    pub fn of(block: &Arc<CommittedBlock>) -> Self {
        Self {
            number: block.header.number,
            hash: block.hash,
            timestamp: block.header.timestamp,
            gas_used: block.header.gas_used,
            transactions: block.receipts.iter().map(|receipt| receipt.tx_hash).collect(),
            block: block.clone(),
        }
    }

    pub fn receipts(&self) -> &[TxReceipt] {
        &self.block.receipts
    }

    /// The block's logs in order, with their positions.
    pub fn logs(&self) -> impl Iterator<Item = LogEvent> + '_ {
        self.block.receipts.iter().flat_map(|receipt| receipt.logs.iter().map(move |log| (receipt, log))).enumerate().map(
            |(index, (receipt, log))| LogEvent {
                block_number: receipt.block_number,
                block_hash: receipt.block_hash,
                tx_hash: receipt.tx_hash,
                tx_index: receipt.tx_index,
                log_index: index as u64,
                log: log.clone(),
            },
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscriptionError {
    /// The subscription's queue was full: this many blocks' events were dropped, oldest first.
    #[error("the subscription fell behind: {0} blocks dropped")]
    Lagged(u64),
    #[error("no event within {0:?}")]
    Timeout(Duration),
    /// The node stopped; nothing more will come.
    #[error("the node stopped")]
    Closed,
}

/// What the hub keeps per subscription.
struct Queue {
    blocks: Mutex<VecDeque<Arc<CommittedBlock>>>,
    dropped: AtomicU64,
    ready: Notify,
    /// Wakes blocking readers (`next_timeout`).
    ready_sync: std::sync::Condvar,
    closed: std::sync::atomic::AtomicBool,
}

impl Queue {
    fn push(&self, block: &Arc<CommittedBlock>) {
        let mut blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        if blocks.len() >= SUBSCRIPTION_QUEUE_BLOCKS {
            blocks.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        blocks.push_back(block.clone());
        drop(blocks);
        self.wake();
    }

    fn wake(&self) {
        self.ready.notify_one();
        self.ready_sync.notify_all();
    }
}

/// The node's event sink: JSON-RPC's broadcast plus the host's typed subscriptions.
pub struct EventHub {
    broadcast: broadcast::Sender<NodeEvent>,
    queues: Mutex<Vec<std::sync::Weak<Queue>>>,
}

impl EventHub {
    pub fn new() -> Arc<Self> {
        let (broadcast, _) = broadcast::channel(1024);
        Arc::new(Self { broadcast, queues: Mutex::new(Vec::new()) })
    }

    /// The raw event stream JSON-RPC subscriptions read.
    pub fn broadcast(&self) -> &broadcast::Sender<NodeEvent> {
        &self.broadcast
    }

    fn queue(&self) -> Arc<Queue> {
        let queue = Arc::new(Queue {
            blocks: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            ready: Notify::new(),
            ready_sync: std::sync::Condvar::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        self.queues.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::downgrade(&queue));
        queue
    }

    /// Every committed block, from now on.
    pub fn blocks(&self) -> Subscription<BlockEvent> {
        Subscription::new(self.queue(), Box::new(|block| vec![BlockEvent::of(block)]))
    }

    /// Every committed transaction's receipt, in block order.
    pub fn receipts(&self) -> Subscription<TxReceipt> {
        Subscription::new(self.queue(), Box::new(|block| block.receipts.clone()))
    }

    /// The committed logs `filter` lets through, in block order.
    pub fn logs(&self, filter: LogFilter) -> Subscription<LogEvent> {
        Subscription::new(
            self.queue(),
            Box::new(move |block| BlockEvent::of(block).logs().filter(|event| filter.matches(&event.log)).collect()),
        )
    }

    /// Tells every subscription that nothing more will come.
    pub fn close(&self) {
        for queue in self.queues.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            if let Some(queue) = queue.upgrade() {
                queue.closed.store(true, Ordering::SeqCst);
                queue.wake();
            }
        }
    }
}

impl EventSink for EventHub {
    fn publish(&self, event: NodeEvent) {
        // No JSON-RPC subscriber is fine.
        let _ = self.broadcast.send(event.clone());
        let NodeEvent::BlockCommitted(block) = event;
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        queues.retain(|queue| match queue.upgrade() {
            Some(queue) => {
                queue.push(&block);
                true
            }
            None => false,
        });
    }
}

type Expand<T> = Box<dyn Fn(&Arc<CommittedBlock>) -> Vec<T> + Send + Sync>;

/// A stream of typed chain events, from the block after it was taken.
pub struct Subscription<T> {
    queue: Arc<Queue>,
    expand: Expand<T>,
    ready: VecDeque<T>,
    reported_drops: u64,
}

impl<T> Subscription<T> {
    fn new(queue: Arc<Queue>, expand: Expand<T>) -> Self {
        Self { queue, expand, ready: VecDeque::new(), reported_drops: 0 }
    }

    /// The next event if one is there, without waiting.
    pub fn try_next(&mut self) -> Option<Result<T, SubscriptionError>> {
        match self.poll() {
            Err(SubscriptionError::Timeout(_)) => None,
            other => Some(other),
        }
    }

    /// Every event there is now.
    pub fn drain(&mut self) -> Vec<T> {
        let mut events = Vec::new();
        while let Some(next) = self.try_next() {
            match next {
                Ok(event) => events.push(event),
                Err(SubscriptionError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        events
    }

    /// The next event, waiting up to `timeout` (blocks the calling thread: never call it from the
    /// thread that ticks the node).
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<T, SubscriptionError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.poll() {
                Err(SubscriptionError::Timeout(_)) => {}
                other => return other,
            }
            let blocks = self.queue.blocks.lock().unwrap_or_else(PoisonError::into_inner);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SubscriptionError::Timeout(timeout));
            }
            if blocks.is_empty() && !self.queue.closed.load(Ordering::SeqCst) {
                let _ = self.queue.ready_sync.wait_timeout(blocks, left);
            }
        }
    }

    /// The next event, awaited.
    pub async fn next(&mut self) -> Result<T, SubscriptionError> {
        loop {
            match self.poll() {
                Err(SubscriptionError::Timeout(_)) => self.queue.ready.notified().await,
                other => return other,
            }
        }
    }

    /// One step: an event, a drop report, `Closed`, or `Timeout(0)` for "nothing yet".
    fn poll(&mut self) -> Result<T, SubscriptionError> {
        let dropped = self.queue.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_drops {
            let lagged = dropped - self.reported_drops;
            self.reported_drops = dropped;
            return Err(SubscriptionError::Lagged(lagged));
        }
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(event);
            }
            let block = self.queue.blocks.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
            match block {
                Some(block) => self.ready.extend((self.expand)(&block)),
                None if self.queue.closed.load(Ordering::SeqCst) => return Err(SubscriptionError::Closed),
                None => return Err(SubscriptionError::Timeout(Duration::ZERO)),
            }
        }
    }
}
