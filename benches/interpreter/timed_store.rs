//! A store wrapper that times the durable writes the interpreter makes, so a benchmark can
//! split one step's cost into "in the store" (apply + flush + fdatasync) and "in the
//! interpreter" (everything else). It adds two clock reads and two atomic stores per write
//! (well under a microsecond, against writes of hundreds of microseconds).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weir_runtime::store::{
    Append, AppendReceipt, CallbackRecord, DueTimer, Event, NewRun, PostOutcome, Resource, ResourceHash,
    ResourceMeta, RunId, RunQuery, RunRecord, SlotHolder, Store, StoreResult, TokenHash,
};

/// `inner`, with the duration of its latest `append` and the total time spent in appends.
pub struct TimedStore<S> {
    inner: S,
    last_append_ns: AtomicU64,
    total_append_ns: AtomicU64,
    appends: AtomicU64,
}

impl<S: Store> TimedStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> TimedStore<S> {
        TimedStore {
            inner,
            last_append_ns: AtomicU64::new(0),
            total_append_ns: AtomicU64::new(0),
            appends: AtomicU64::new(0),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How long the latest `append` took (meaningful with one writer at a time).
    pub fn last_append(&self) -> Duration {
        Duration::from_nanos(self.last_append_ns.load(Ordering::Relaxed))
    }

    /// Appends so far and the time they took in all.
    pub fn append_totals(&self) -> (u64, Duration) {
        (
            self.appends.load(Ordering::Relaxed),
            Duration::from_nanos(self.total_append_ns.load(Ordering::Relaxed)),
        )
    }
}

impl<S: Store> TimedStore<S> {
    fn timed(&self, write: impl FnOnce() -> StoreResult<AppendReceipt>) -> StoreResult<AppendReceipt> {
        let started = Instant::now();
        let receipt = write();
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_append_ns.store(ns, Ordering::Relaxed);
        self.total_append_ns.fetch_add(ns, Ordering::Relaxed);
        self.appends.fetch_add(1, Ordering::Relaxed);
        receipt
    }
}

impl<S: Store> Store for TimedStore<S> {
    fn create_run(&self, run: &NewRun) -> StoreResult<RunRecord> {
        self.inner.create_run(run)
    }

    fn append(&self, run: RunId, append: &Append) -> StoreResult<AppendReceipt> {
        self.timed(|| self.inner.append(run, append))
    }

    /// A run's creation with its start counts as one append (it is one write).
    fn create_run_with(&self, run: &NewRun, first: &Append) -> StoreResult<AppendReceipt> {
        self.timed(|| self.inner.create_run_with(run, first))
    }

    fn run(&self, run: RunId) -> StoreResult<Option<RunRecord>> {
        self.inner.run(run)
    }

    fn journal(&self, run: RunId, from: u32) -> StoreResult<Vec<Event>> {
        self.inner.journal(run, from)
    }

    fn find_runs(&self, query: &RunQuery) -> StoreResult<Vec<RunRecord>> {
        self.inner.find_runs(query)
    }

    fn kv_get(&self, flow: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.inner.kv_get(flow, key)
    }

    fn kv_put(&self, flow: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.inner.kv_put(flow, key, value)
    }

    fn kv_delete(&self, flow: &str, key: &[u8]) -> StoreResult<bool> {
        self.inner.kv_delete(flow, key)
    }

    fn put_resource(&self, media_type: &str, bytes: &[u8], at_ms: u64) -> StoreResult<ResourceMeta> {
        self.inner.put_resource(media_type, bytes, at_ms)
    }

    fn get_resource(&self, hash: &ResourceHash) -> StoreResult<Option<Resource>> {
        self.inner.get_resource(hash)
    }

    fn stat_resource(&self, hash: &ResourceHash) -> StoreResult<Option<ResourceMeta>> {
        self.inner.stat_resource(hash)
    }

    fn due_timers(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<DueTimer>> {
        self.inner.due_timers(now_ms, limit)
    }

    fn callback(&self, token: &TokenHash) -> StoreResult<Option<CallbackRecord>> {
        self.inner.callback(token)
    }

    fn post_callback(&self, token: &TokenHash, payload: &[u8], at_ms: u64) -> StoreResult<PostOutcome> {
        self.inner.post_callback(token, payload, at_ms)
    }

    fn slot_holders(&self, key: &str) -> StoreResult<Vec<SlotHolder>> {
        self.inner.slot_holders(key)
    }
}
