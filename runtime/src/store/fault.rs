//! The fault-injecting store: wraps any [`Store`], fails the N-th operation once or from
//! then on, fails syncs, and cuts the power, dropping every write not covered by a sync.
//!
//! It keeps the writes its inner store applied, and how many of them a sync covered. A cut
//! (or a reopen) rebuilds the inner store from the covered ones, so tests can prove that
//! nothing acknowledged is lost. Faults are chosen from a seed, reproducibly.

use std::sync::{Mutex, MutexGuard};

use crate::store::Store;
use crate::store::callback::{CallbackRecord, PostOutcome, TokenHash};
use crate::store::error::{StoreError, StoreResult};
use crate::store::event::{Append, AppendReceipt, Event};
use crate::store::op::{Op, OpOutput};
use crate::store::resource::{Resource, ResourceHash, ResourceMeta};
use crate::store::rng::SeededRng;
use crate::store::run::{NewRun, RunId, RunQuery, RunRecord};
use crate::store::schedule::{DueTimer, SlotHolder};

/// How long an injected fault lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultMode {
    /// Only the chosen operation fails.
    Transient,
    /// The chosen operation and every later one fail until [`FaultStore::reopen`], like
    /// sled's latched error.
    Persistent,
}

/// Which faults to inject. Operations are numbered from 1, reads and writes alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    /// Chooses, for a failed write, whether it failed before applying (I/O) or after (sync).
    pub seed: u64,
    /// Fail this operation, in this mode.
    pub fail_at: Option<(u64, FaultMode)>,
    /// Apply this write, then fail its sync.
    pub fail_sync_at: Option<u64>,
    /// Apply this write, then cut the power before its sync.
    pub cut_power_at: Option<u64>,
    /// Fail each operation with this chance (per million), transiently.
    pub random_per_million: u32,
}

impl FaultPlan {
    /// A plan that injects nothing yet.
    pub fn new(seed: u64) -> FaultPlan {
        FaultPlan { seed, fail_at: None, fail_sync_at: None, cut_power_at: None, random_per_million: 0 }
    }

    /// Fails operation `n` in `mode`.
    pub fn fail_at(mut self, n: u64, mode: FaultMode) -> FaultPlan {
        self.fail_at = Some((n, mode));
        self
    }

    /// Fails the sync of write `n`.
    pub fn fail_sync_at(mut self, n: u64) -> FaultPlan {
        self.fail_sync_at = Some(n);
        self
    }

    /// Cuts the power during write `n`.
    pub fn cut_power_at(mut self, n: u64) -> FaultPlan {
        self.cut_power_at = Some(n);
        self
    }

    /// Fails operations at random, transiently.
    pub fn random(mut self, per_million: u32) -> FaultPlan {
        self.random_per_million = per_million;
        self
    }
}

/// Builds an empty inner store (after a cut, it is refilled from the synced writes).
pub type StoreFactory<S> = Box<dyn Fn() -> StoreResult<S> + Send + Sync>;

struct FaultState<S> {
    inner: S,
    /// Operations seen so far.
    ops: u64,
    /// Writes the inner store applied, in order.
    applied: Vec<Op>,
    /// How many of `applied` a sync covered.
    synced: usize,
    /// A persistent fault is active.
    failing: bool,
    /// A sync failed: writes are refused until reopen.
    poisoned: bool,
    /// Power cuts so far.
    cuts: u64,
    rng: SeededRng,
}

/// The fault-injecting wrapper.
pub struct FaultStore<S> {
    plan: FaultPlan,
    factory: StoreFactory<S>,
    state: Mutex<FaultState<S>>,
}

enum Fault {
    None,
    Io,
    Sync,
    Cut,
}

fn injected(n: u64) -> StoreError {
    StoreError::io(format!("operation {n}"), std::io::Error::other("injected fault"))
}

impl<S: Store> FaultStore<S> {
    /// Wraps a fresh store built by `factory`.
    pub fn new(plan: FaultPlan, factory: StoreFactory<S>) -> StoreResult<FaultStore<S>> {
        let inner = factory()?;
        let rng = SeededRng::new(plan.seed);
        Ok(FaultStore {
            plan,
            factory,
            state: Mutex::new(FaultState {
                inner,
                ops: 0,
                applied: Vec::new(),
                synced: 0,
                failing: false,
                poisoned: false,
                cuts: 0,
                rng,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, FaultState<S>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Operations seen so far (to size a sweep over every N).
    pub fn operations(&self) -> u64 {
        self.state().ops
    }

    /// Power cuts so far.
    pub fn cuts(&self) -> u64 {
        self.state().cuts
    }

    /// The writes covered by a sync: what a restart would find.
    pub fn synced_ops(&self) -> Vec<Op> {
        let state = self.state();
        state.applied[..state.synced].to_vec()
    }

    /// Cuts the power: every write not covered by a sync is dropped, and faults clear.
    pub fn cut_power(&self) -> StoreResult<()> {
        let mut state = self.state();
        self.restart(&mut state)
    }

    /// Reopens the store after an error, as a new process would: only synced writes remain.
    pub fn reopen(&self) -> StoreResult<()> {
        self.cut_power()
    }

    fn restart(&self, state: &mut FaultState<S>) -> StoreResult<()> {
        let fresh = (self.factory)()?;
        for op in &state.applied[..state.synced] {
            op.apply(&fresh)?;
        }
        state.inner = fresh;
        state.applied.truncate(state.synced);
        state.failing = false;
        state.poisoned = false;
        state.cuts += 1;
        Ok(())
    }

    /// Counts an operation and decides its fault.
    fn decide(&self, state: &mut FaultState<S>, write: bool) -> (u64, Fault) {
        state.ops += 1;
        let n = state.ops;
        if state.failing {
            return (n, Fault::Io);
        }
        if write && self.plan.cut_power_at == Some(n) {
            return (n, Fault::Cut);
        }
        if write && self.plan.fail_sync_at == Some(n) {
            return (n, Fault::Sync);
        }
        let planned = match self.plan.fail_at {
            Some((at, mode)) if at == n => {
                if mode == FaultMode::Persistent {
                    state.failing = true;
                }
                true
            }
            _ => false,
        };
        let random = self.plan.random_per_million > 0 && state.rng.chance(self.plan.random_per_million);
        if planned || random {
            // A failed write either never reached the disk or reached it unsynced.
            let after_apply = write && state.rng.next_u64() % 2 == 1;
            return (n, if after_apply { Fault::Sync } else { Fault::Io });
        }
        (n, Fault::None)
    }

    fn read<T>(&self, f: impl FnOnce(&S) -> StoreResult<T>) -> StoreResult<T> {
        let mut state = self.state();
        match self.decide(&mut state, false) {
            (_, Fault::None) => f(&state.inner),
            (n, _) => Err(injected(n)),
        }
    }

    fn write(&self, op: Op) -> StoreResult<OpOutput> {
        let mut state = self.state();
        let (n, fault) = self.decide(&mut state, true);
        if state.poisoned && !matches!(fault, Fault::Io) {
            return Err(StoreError::Poisoned { reason: "an injected sync failure".to_owned() });
        }
        match fault {
            Fault::Io => Err(injected(n)),
            Fault::None => {
                let out = op.apply(&state.inner)?;
                state.applied.push(op);
                state.synced = state.applied.len();
                Ok(out)
            }
            Fault::Sync => {
                if op.apply(&state.inner).is_ok() {
                    state.applied.push(op);
                }
                state.poisoned = true;
                Err(StoreError::Sync {
                    source: std::io::Error::other(format!("injected sync failure at operation {n}")),
                })
            }
            Fault::Cut => {
                if op.apply(&state.inner).is_ok() {
                    state.applied.push(op);
                }
                self.restart(&mut state)?;
                Err(StoreError::Crashed)
            }
        }
    }
}

fn expect<T>(out: OpOutput, pick: impl FnOnce(OpOutput) -> Option<T>) -> StoreResult<T> {
    pick(out).ok_or_else(|| StoreError::Bug("a write returned another write's output".to_owned()))
}

impl<S: Store> Store for FaultStore<S> {
    fn create_run(&self, run: &NewRun) -> StoreResult<RunRecord> {
        let out = self.write(Op::CreateRun(run.clone()))?;
        expect(out, |o| match o {
            OpOutput::Run(r) => Some(r),
            _ => None,
        })
    }

    fn append(&self, run: RunId, append: &Append) -> StoreResult<AppendReceipt> {
        let out = self.write(Op::Append(run, append.clone()))?;
        expect(out, |o| match o {
            OpOutput::Appended(r) => Some(r),
            _ => None,
        })
    }

    fn run(&self, run: RunId) -> StoreResult<Option<RunRecord>> {
        self.read(|s| s.run(run))
    }

    fn journal(&self, run: RunId, from: u32) -> StoreResult<Vec<Event>> {
        self.read(|s| s.journal(run, from))
    }

    fn find_runs(&self, query: &RunQuery) -> StoreResult<Vec<RunRecord>> {
        self.read(|s| s.find_runs(query))
    }

    fn kv_get(&self, flow: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.read(|s| s.kv_get(flow, key))
    }

    fn kv_put(&self, flow: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        let out =
            self.write(Op::KvPut { flow: flow.to_owned(), key: key.to_vec(), value: value.to_vec() })?;
        expect(out, |o| match o {
            OpOutput::Done => Some(()),
            _ => None,
        })
    }

    fn kv_delete(&self, flow: &str, key: &[u8]) -> StoreResult<bool> {
        let out = self.write(Op::KvDelete { flow: flow.to_owned(), key: key.to_vec() })?;
        expect(out, |o| match o {
            OpOutput::Deleted(d) => Some(d),
            _ => None,
        })
    }

    fn put_resource(&self, media_type: &str, bytes: &[u8], at_ms: u64) -> StoreResult<ResourceMeta> {
        let out =
            self.write(Op::PutResource { media_type: media_type.to_owned(), bytes: bytes.to_vec(), at_ms })?;
        expect(out, |o| match o {
            OpOutput::Resource(m) => Some(m),
            _ => None,
        })
    }

    fn get_resource(&self, hash: &ResourceHash) -> StoreResult<Option<Resource>> {
        self.read(|s| s.get_resource(hash))
    }

    fn stat_resource(&self, hash: &ResourceHash) -> StoreResult<Option<ResourceMeta>> {
        self.read(|s| s.stat_resource(hash))
    }

    fn due_timers(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<DueTimer>> {
        self.read(|s| s.due_timers(now_ms, limit))
    }

    fn callback(&self, token: &TokenHash) -> StoreResult<Option<CallbackRecord>> {
        self.read(|s| s.callback(token))
    }

    fn post_callback(&self, token: &TokenHash, payload: &[u8], at_ms: u64) -> StoreResult<PostOutcome> {
        let out = self.write(Op::PostCallback { token: *token, payload: payload.to_vec(), at_ms })?;
        expect(out, |o| match o {
            OpOutput::Posted(p) => Some(p),
            _ => None,
        })
    }

    fn slot_holders(&self, key: &str) -> StoreResult<Vec<SlotHolder>> {
        self.read(|s| s.slot_holders(key))
    }

    fn delete_run(&self, run: RunId) -> StoreResult<bool> {
        let out = self.write(Op::DeleteRun(run))?;
        expect(out, |o| match o {
            OpOutput::Deleted(d) => Some(d),
            _ => None,
        })
    }
}
