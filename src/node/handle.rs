//! The host's typed handle on a node: submit transactions, call contracts, read state and take
//! event subscriptions, with no JSON on the way.
//!
//! A [`NodeHandle`] is cheap to clone and `Send`; it works the same on a node the host ticks
//! ([`super::Node`]) and on one with its own driver thread ([`super::RunningNode`]). Reads and
//! calls go to the committed state on disk (what JSON-RPC reads), never to the world, so they
//! never wait for a tick. Submissions go through the node's inbox: a [`Submitted`] resolves when
//! the next tick admits or refuses the transaction — on a hand-ticked node, after the host's next
//! `tick`.

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use revm::context::TxEnv;
use revm::context::result::ExecutionResult;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use zg_components::chain::{AccountInfo, ChainClock, PoolError, TxReceipt};
use zg_components::node::{NodeRequest, ReplyTo};

use super::events::{BlockEvent, EventHub, LogEvent, LogFilter, Subscription};
use crate::store::{SnapshotDbError, StateSnapshot};
use zg_systems::chain::simulate::{self, SimulationError};

/// Where [`NodeHandle::submit_raw`] decodes and recovers senders: threads of their own (not the
/// caller's, not the pool that seals blocks), started with the first raw submission.
fn recovery_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| zg_systems::pools::per_core("zgnode-recover-"))
}

/// Where the handle's calls run: the head's state, the next block's environment.
struct PendingSite {
    db: revm::database::CacheDB<StateSnapshot>,
    block: revm::context::BlockEnv,
    precompiles: zg_systems::chain::evm::ChainPrecompiles,
}

impl PendingSite {
    fn simulation(&self, chain_id: u64) -> simulate::Site<'_, revm::database::CacheDB<StateSnapshot>> {
        simulate::Site { db: &self.db, block: &self.block, precompiles: &self.precompiles, chain_id }
    }
}
use crate::store::{ChainReader, StoreError};

/// Gas a transaction sent without a limit gets above its estimate: the estimate runs on the
/// committed head, and a game's transaction often lands after others that change its path.
const ESTIMATE_MARGIN_PERCENT: u64 = 25;

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("the transaction pool refused the transaction: {0}")]
    Refused(#[from] PoolError),
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted { reason: Option<String>, data: Bytes },
    #[error("execution halted: {0:?}")]
    Halted(revm::context::result::HaltReason),
    #[error("the call could not run: {0}")]
    Call(revm::context::result::EVMError<SnapshotDbError, revm::context::result::InvalidTransaction>),
    #[error("gas estimation failed: {0}")]
    Estimate(#[from] SimulationError<SnapshotDbError>),
    #[error("the chain has no head block to call on")]
    NoHead,
    #[error("cannot decode: {0}")]
    Decode(String),
    #[error("{0} is not an unlocked account of this node (dev accounts are unlocked on a dev node)")]
    Locked(Address),
    #[error("no answer within {0:?}: is the node ticking? (on a hand-ticked node, tick it first)")]
    Timeout(Duration),
    #[error("the node stopped before answering")]
    Stopped,
    #[error("the node is busy: its inbox is full")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A transaction to send from an unlocked account; the handle fills nonce, fees and (unless
/// given) the gas limit.
#[derive(Clone, Debug, Default)]
pub struct TxRequest {
    /// `None` deploys `input` as a contract.
    pub to: Option<Address>,
    pub value: U256,
    pub input: Bytes,
    pub gas: Option<u64>,
}

impl TxRequest {
    pub fn transfer(to: Address, value: U256) -> Self {
        Self { to: Some(to), value, input: Bytes::new(), gas: Some(21_000) }
    }

    pub fn call(to: Address, input: impl Into<Bytes>) -> Self {
        Self { to: Some(to), input: input.into(), ..Self::default() }
    }

    /// A call of a `sol!` binding.
    pub fn sol<C: SolCall>(to: Address, call: &C) -> Self {
        Self::call(to, call.abi_encode())
    }

    pub fn deploy(init_code: impl Into<Bytes>) -> Self {
        Self { to: None, input: init_code.into(), ..Self::default() }
    }

    pub fn with_gas(mut self, gas: u64) -> Self {
        self.gas = Some(gas);
        self
    }
}

/// One answer the node will give through its inbox.
struct Answer<T> {
    value: crossbeam_channel::Receiver<T>,
    ready: Arc<tokio::sync::Notify>,
}

/// Wakes an async waiter when the reply is given or dropped unanswered.
struct WakeOnDrop(Arc<tokio::sync::Notify>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

fn answer<T: Send + 'static>(on_answer: impl FnOnce(&T) + Send + Sync + 'static) -> (ReplyTo<T>, Answer<T>) {
    let (sender, value) = crossbeam_channel::bounded(1);
    let ready = Arc::new(tokio::sync::Notify::new());
    let wake = WakeOnDrop(ready.clone());
    let reply = ReplyTo::new(move |result: T| {
        on_answer(&result);
        let _ = sender.send(result);
        drop(wake);
    });
    (reply, Answer { value, ready })
}

impl<T> Answer<T> {
    fn try_take(&self) -> Option<Result<T, HandleError>> {
        match self.value.try_recv() {
            Ok(value) => Some(Ok(value)),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => Some(Err(HandleError::Stopped)),
        }
    }

    fn wait(&self, timeout: Duration) -> Result<T, HandleError> {
        self.value.recv_timeout(timeout).map_err(|error| match error {
            crossbeam_channel::RecvTimeoutError::Timeout => HandleError::Timeout(timeout),
            crossbeam_channel::RecvTimeoutError::Disconnected => HandleError::Stopped,
        })
    }

    async fn recv(&self) -> Result<T, HandleError> {
        loop {
            if let Some(result) = self.try_take() {
                return result;
            }
            self.ready.notified().await;
        }
    }
}

/// A transaction handed to the node, waiting for the pool's verdict.
pub struct Submitted {
    hash: B256,
    answer: Answer<Result<B256, PoolError>>,
}

impl Submitted {
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// The verdict if the node gave it (after a tick), without waiting.
    pub fn try_result(&self) -> Option<Result<B256, HandleError>> {
        self.answer.try_take().map(|result| result.and_then(|admitted| admitted.map_err(HandleError::from)))
    }

    /// Waits for the verdict (blocks: not from the thread that ticks the node).
    pub fn wait(&self, timeout: Duration) -> Result<B256, HandleError> {
        self.answer.wait(timeout)?.map_err(HandleError::from)
    }

    /// Awaits the verdict.
    pub async fn admitted(&self) -> Result<B256, HandleError> {
        self.answer.recv().await?.map_err(HandleError::from)
    }
}

/// The next nonce per sending account, counting what this handle sent and the pool has not
/// mined yet, so a host can send many transactions per frame without asking the node.
#[derive(Default)]
struct Nonces(Mutex<HashMap<Address, u64>>);

impl Nonces {
    fn take(&self, address: Address, committed: u64) -> u64 {
        let mut next = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let nonce = next.get(&address).copied().unwrap_or(0).max(committed);
        next.insert(address, nonce + 1);
        nonce
    }

    /// A refused transaction leaves its nonce free for the next one.
    fn give_back(&self, address: Address, nonce: u64) {
        let mut next = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = next.get_mut(&address) {
            *entry = (*entry).min(nonce);
        }
    }
}

/// The host's handle on a node. See the module docs.
#[derive(Clone)]
pub struct NodeHandle {
    chain_id: u64,
    max_tx_bytes: usize,
    requests: crossbeam_channel::Sender<NodeRequest>,
    reader: ChainReader,
    clock: ChainClock,
    precompiles: zg_systems::chain::evm::PrecompileRegistry,
    events: Arc<EventHub>,
    signers: Arc<HashMap<Address, PrivateKeySigner>>,
    nonces: Arc<Nonces>,
}

impl NodeHandle {
    // Each is a distinct piece of the node the handle reads; only the node builds one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        chain_id: u64,
        max_tx_bytes: usize,
        requests: crossbeam_channel::Sender<NodeRequest>,
        reader: ChainReader,
        clock: ChainClock,
        precompiles: zg_systems::chain::evm::PrecompileRegistry,
        events: Arc<EventHub>,
        signers: Vec<PrivateKeySigner>,
    ) -> Self {
        let signers = signers.into_iter().map(|signer| (signer.address(), signer)).collect();
        Self { chain_id, max_tx_bytes, requests, reader, clock, precompiles, events, signers: Arc::new(signers), nonces: Arc::default() }
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The accounts this handle signs for (the dev accounts on a dev node), in no order.
    pub fn unlocked_accounts(&self) -> Vec<Address> {
        self.signers.keys().copied().collect()
    }

    // ---- transactions ----

    /// Hands a signed transaction to the node, checked as `eth_sendRawTransaction` checks it.
    pub fn submit_signed(&self, envelope: TxEnvelope) -> Result<Submitted, HandleError> {
        self.submit_raw(&envelope.encoded_2718())
    }

    /// Hands raw EIP-2718 transaction bytes (what `eth_sendRawTransaction` takes) to the node.
    /// Size, decoding, type and chain id (EIP-155) are checked here and refused at once; the
    /// costly part, recovering the sender (~50 µs), runs on a pool of its own, so a game's
    /// frame does not pay it: the pool hands the transaction to the node's inbox and a later
    /// tick admits it (usually the next frame's). A bad signature is refused through the
    /// returned [`Submitted`], like anything the pool refuses; so is a transaction that finds
    /// the inbox full (`txpool is full`).
    pub fn submit_raw(&self, raw: &[u8]) -> Result<Submitted, HandleError> {
        let envelope = zg_systems::chain::mempool::decode_unrecovered(raw, self.chain_id, self.max_tx_bytes)?;
        let hash = *envelope.tx_hash();
        let (reply, answer) = answer(|_: &Result<B256, PoolError>| {});
        let requests = self.requests.clone();
        if requests.is_full() {
            return Err(HandleError::Busy);
        }
        recovery_pool().spawn(move || match zg_systems::chain::mempool::recover_sender(&envelope) {
            Ok(sender) => {
                let request = NodeRequest::SubmitTransaction { envelope: Box::new(envelope), sender, reply };
                if let Err(crossbeam_channel::TrySendError::Full(NodeRequest::SubmitTransaction { reply, .. })) = requests.try_send(request) {
                    reply.send(Err(PoolError::PoolFull));
                }
            }
            Err(error) => reply.send(Err(error)),
        });
        Ok(Submitted { hash, answer })
    }

    /// Signs `request` with the unlocked account `from` and hands it to the node. The nonce
    /// follows this handle's earlier transactions from `from`; without a gas limit the request is
    /// estimated on the committed head (plus a margin).
    pub fn send(&self, from: Address, request: TxRequest) -> Result<Submitted, HandleError> {
        let signer = self.signers.get(&from).ok_or(HandleError::Locked(from))?;
        let to = request.to.map(TxKind::Call).unwrap_or(TxKind::Create);
        let gas = match request.gas {
            Some(gas) => gas,
            None => {
                let estimate = self.estimate_gas(from, &request)?;
                estimate + estimate * ESTIMATE_MARGIN_PERCENT / 100
            }
        };
        let committed = self.reader.snapshot()?.account(&from)?.map(|account| account.nonce).unwrap_or_default();
        let nonce = self.nonces.take(from, committed);
        let envelope = crate::signing::sign_eip1559(signer, self.chain_id, to, request.value, request.input, nonce, gas);
        self.submit_from(envelope, from, Some(nonce))
    }

    /// Calls a `sol!` binding as a transaction from the unlocked account `from`.
    pub fn send_sol<C: SolCall>(&self, from: Address, to: Address, call: &C) -> Result<Submitted, HandleError> {
        self.send(from, TxRequest::sol(to, call))
    }

    fn submit_from(&self, envelope: TxEnvelope, sender: Address, nonce: Option<u64>) -> Result<Submitted, HandleError> {
        let hash = *envelope.tx_hash();
        let nonces = self.nonces.clone();
        let (reply, answer) = answer(move |result: &Result<B256, PoolError>| {
            if let (Err(_), Some(nonce)) = (result, nonce) {
                nonces.give_back(sender, nonce);
            }
        });
        let request = NodeRequest::SubmitTransaction { envelope: Box::new(envelope), sender, reply };
        self.requests.try_send(request).map_err(|error| match error {
            crossbeam_channel::TrySendError::Full(_) => HandleError::Busy,
            crossbeam_channel::TrySendError::Disconnected(_) => HandleError::Stopped,
        })?;
        Ok(Submitted { hash, answer })
    }

    // ---- calls ----

    /// Runs a call on the committed head, in the next block's environment (eth_call on
    /// "pending"); changes nothing.
    pub fn call(&self, from: Address, to: Address, input: impl Into<Bytes>) -> Result<Bytes, HandleError> {
        let site = self.pending_site()?;
        let tx = self.call_tx(&site, from, TxKind::Call(to), U256::ZERO, input.into());
        match simulate::execute(&site.simulation(self.chain_id), &tx, tx.gas_limit).map_err(HandleError::Call)? {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => {
                Err(HandleError::Reverted { reason: simulate::revert_reason(&output), data: output })
            }
            ExecutionResult::Halt { reason, .. } => Err(HandleError::Halted(reason)),
        }
    }

    /// Calls a `sol!` binding and decodes what it returns.
    pub fn call_sol<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, HandleError> {
        let output = self.call(Address::ZERO, to, call.abi_encode())?;
        C::abi_decode_returns(&output).map_err(|e| HandleError::Decode(e.to_string()))
    }

    /// The least gas `request` from `from` needs on the committed head (geth's search).
    pub fn estimate_gas(&self, from: Address, request: &TxRequest) -> Result<u64, HandleError> {
        let site = self.pending_site()?;
        let kind = request.to.map(TxKind::Call).unwrap_or(TxKind::Create);
        let tx = self.call_tx(&site, from, kind, request.value, request.input.clone());
        Ok(simulate::estimate(&site.simulation(self.chain_id), &tx)?)
    }

    /// The head's state in the next block's environment (geth's pending header).
    fn pending_site(&self) -> Result<PendingSite, HandleError> {
        let snapshot = self.reader.snapshot()?;
        let head = snapshot.head_number().unwrap_or_default();
        let (header, hash) = snapshot.header(head)?.ok_or(HandleError::NoHead)?;
        let timestamp = self.clock.peek(crate::wall_clock::now_ms() / 1000, header.timestamp);
        let mut block = zg_systems::chain::producer::next_block_env(&header, hash, timestamp, header.beneficiary, header.gas_limit);
        // As geth for a call that names no price: no base fee, so no funds are needed for gas.
        block.basefee = 0;
        Ok(PendingSite { db: revm::database::CacheDB::new(snapshot), block, precompiles: self.precompiles.provider() })
    }

    fn call_tx(&self, site: &PendingSite, from: Address, kind: TxKind, value: U256, data: Bytes) -> TxEnv {
        use revm::DatabaseRef;
        let nonce = site.db.basic_ref(from).ok().flatten().map(|account| account.nonce).unwrap_or_default();
        TxEnv {
            caller: from,
            gas_limit: site.block.gas_limit,
            gas_price: 0,
            kind,
            value,
            data,
            nonce,
            chain_id: Some(self.chain_id),
            ..Default::default()
        }
    }

    // ---- state ----

    /// The committed head: (number, hash).
    pub fn head(&self) -> Result<(u64, B256), HandleError> {
        let snapshot = self.reader.snapshot()?;
        let number = snapshot.head_number().unwrap_or_default();
        let hash = snapshot.header(number)?.map(|(_, hash)| hash).unwrap_or_default();
        Ok((number, hash))
    }

    pub fn account(&self, address: Address) -> Result<AccountInfo, HandleError> {
        Ok(self.reader.snapshot()?.account(&address)?.unwrap_or_default())
    }

    pub fn balance(&self, address: Address) -> Result<U256, HandleError> {
        Ok(self.account(address)?.balance)
    }

    /// The committed nonce (transactions still in the pool not counted).
    pub fn nonce(&self, address: Address) -> Result<u64, HandleError> {
        Ok(self.account(address)?.nonce)
    }

    pub fn code(&self, address: Address) -> Result<Bytes, HandleError> {
        let snapshot = self.reader.snapshot()?;
        let Some(account) = snapshot.account(&address)? else { return Ok(Bytes::new()) };
        Ok(snapshot.code(&account.code_hash)?.unwrap_or_default())
    }

    pub fn storage_at(&self, address: Address, slot: U256) -> Result<U256, HandleError> {
        Ok(self.reader.snapshot()?.storage_at(&address, &slot)?)
    }

    /// A mined transaction's receipt; `None` while it is pending or unknown.
    pub fn receipt(&self, hash: B256) -> Result<Option<TxReceipt>, HandleError> {
        Ok(self.reader.snapshot()?.receipt(&hash)?)
    }

    /// Waits for a transaction's receipt (blocks: not from the thread that ticks the node).
    pub fn wait_receipt(&self, hash: B256, timeout: Duration) -> Result<TxReceipt, HandleError> {
        let mut receipts = self.receipts();
        if let Some(receipt) = self.receipt(hash)? {
            return Ok(receipt);
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match receipts.next_timeout(left) {
                Ok(receipt) if receipt.tx_hash == hash => return Ok(receipt),
                Ok(_) | Err(super::events::SubscriptionError::Lagged(_)) => {
                    if let Some(receipt) = self.receipt(hash)? {
                        return Ok(receipt);
                    }
                }
                Err(super::events::SubscriptionError::Timeout(_)) => return Err(HandleError::Timeout(timeout)),
                Err(super::events::SubscriptionError::Closed) => return Err(HandleError::Stopped),
            }
        }
    }

    /// Awaits a transaction's receipt.
    pub async fn receipt_of(&self, hash: B256) -> Result<TxReceipt, HandleError> {
        let mut receipts = self.receipts();
        if let Some(receipt) = self.receipt(hash)? {
            return Ok(receipt);
        }
        loop {
            match receipts.next().await {
                Ok(receipt) if receipt.tx_hash == hash => return Ok(receipt),
                Ok(_) | Err(super::events::SubscriptionError::Lagged(_)) | Err(super::events::SubscriptionError::Timeout(_)) => {
                    if let Some(receipt) = self.receipt(hash)? {
                        return Ok(receipt);
                    }
                }
                Err(super::events::SubscriptionError::Closed) => return Err(HandleError::Stopped),
            }
        }
    }

    // ---- events ----

    /// Every block committed from now on.
    pub fn blocks(&self) -> Subscription<BlockEvent> {
        self.events.blocks()
    }

    /// Every receipt committed from now on.
    pub fn receipts(&self) -> Subscription<TxReceipt> {
        self.events.receipts()
    }

    /// The logs `filter` lets through, committed from now on.
    pub fn logs(&self, filter: LogFilter) -> Subscription<LogEvent> {
        self.events.logs(filter)
    }
}
