//! The journal store: everything a run's durability rests on.
//!
//! The [`Store`] trait is what the interpreter writes through. [`SledStore`] is the embedded
//! implementation (sled plus a real fdatasync, with group commit), [`MemoryStore`] the
//! simple model the tests compare it with, and [`FaultStore`] a wrapper that fails chosen
//! operations and cuts the power. `docs/runtime.md` describes the journal model, what is
//! durable when, and the error codes.

pub mod callback;
pub mod crash;
pub mod error;
pub mod event;
pub mod fault;
mod group_commit;
pub mod hex;
pub mod limits;
pub mod memory;
pub mod op;
pub mod resource;
pub mod rng;
pub mod run;
pub mod schedule;
pub mod sled;

pub use callback::{CallbackRecord, CallbackState, PostOutcome, TokenHash};
pub use crash::{CrashHook, CrashPoint};
pub use error::{CallbackProblem, STORE_ERROR_CODES, StoreError, StoreResult};
pub use event::{Append, AppendReceipt, Event, EventKind, NewEvent, StepId};
pub use fault::{FaultMode, FaultPlan, FaultStore};
pub use limits::Limits;
pub use memory::MemoryStore;
pub use op::{Op, OpOutput};
pub use resource::{Resource, ResourceHash, ResourceMeta};
pub use run::{NewRun, RunId, RunQuery, RunRecord, RunStatus};
pub use schedule::{DueTimer, SlotHolder};
pub use sled::{SledConfig, SledStore, StoreStats};

/// A durable journal store. Every method that writes returns only once its write is durable
/// (for [`SledStore`]: covered by a flush and an fdatasync); an error from a write means its
/// outcome is unknown when [`StoreError::outcome_unknown`] says so, and retrying the same
/// call is safe. Implementations are shared between threads.
pub trait Store: Send + Sync {
    /// Creates a run in status `Queued`. Creating the same run again (same flow and time)
    /// returns the existing record.
    fn create_run(&self, run: &NewRun) -> StoreResult<RunRecord>;

    /// Appends events to a run's journal atomically with its status, its record and every
    /// index the events imply (timers, callbacks, slots), and returns once durable.
    fn append(&self, run: RunId, append: &Append) -> StoreResult<AppendReceipt>;

    /// Creates a run and appends its first events, as [`Store::create_run`] then
    /// [`Store::append`] would, and returns the append's receipt. The sled store does both
    /// in one atomic write and one sync, so a crash never leaves a created run with an empty
    /// journal; this default (two writes) is for stores where that cannot happen or does
    /// not matter. Retrying after an unknown outcome is safe, as for both calls.
    fn create_run_with(&self, run: &NewRun, first: &Append) -> StoreResult<AppendReceipt> {
        self.create_run(run)?;
        self.append(run.id, first)
    }

    /// The run's record, if it exists.
    fn run(&self, run: RunId) -> StoreResult<Option<RunRecord>>;

    /// The run's journal from index `from`, in journal order.
    fn journal(&self, run: RunId, from: u32) -> StoreResult<Vec<Event>>;

    /// Runs matching a query, by creation time then id.
    fn find_runs(&self, query: &RunQuery) -> StoreResult<Vec<RunRecord>>;

    /// A flow's kv value.
    fn kv_get(&self, flow: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// Sets a flow's kv value, durably.
    fn kv_put(&self, flow: &str, key: &[u8], value: &[u8]) -> StoreResult<()>;

    /// Removes a flow's kv value, durably; true when it existed.
    fn kv_delete(&self, flow: &str, key: &[u8]) -> StoreResult<bool>;

    /// Stores bytes under their SHA-256, durably (idempotent: the first put's media type and
    /// time stay).
    fn put_resource(&self, media_type: &str, bytes: &[u8], at_ms: u64) -> StoreResult<ResourceMeta>;

    /// A resource's bytes and metadata.
    fn get_resource(&self, hash: &ResourceHash) -> StoreResult<Option<Resource>>;

    /// A resource's metadata (size, media type) without its bytes.
    fn stat_resource(&self, hash: &ResourceHash) -> StoreResult<Option<ResourceMeta>>;

    /// Timers due at or before `now_ms`, earliest first, at most `limit` (0: all).
    fn due_timers(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<DueTimer>>;

    /// A callback by its token's hash.
    fn callback(&self, token: &TokenHash) -> StoreResult<Option<CallbackRecord>>;

    /// Posts to a callback, durably when accepted; the post is kept until the run consumes
    /// it, even if the run is not waiting yet.
    fn post_callback(&self, token: &TokenHash, payload: &[u8], at_ms: u64) -> StoreResult<PostOutcome>;

    /// The runs holding a slot of a concurrency key, by run id.
    fn slot_holders(&self, key: &str) -> StoreResult<Vec<SlotHolder>>;

    /// Deletes a finished run: its record, journal, indexes and callbacks (`weir gc`),
    /// durably; false when there was no such run. A run that has not finished is refused
    /// (`STORE-RUN-OPEN`). Resources and kv values are the flows', not the run's: they stay.
    fn delete_run(&self, run: RunId) -> StoreResult<bool> {
        Err(StoreError::Limit(format!("this store cannot delete runs (run {run})")))
    }
}
