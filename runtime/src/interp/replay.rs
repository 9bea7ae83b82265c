//! Replay (design.md §5; docs/runtime.md, "Replay"): re-execute a run from an empty state
//! against its journal and report the first event that does not match.
//!
//! The replayed drive runs the run's program with nothing memoized. Everything the outside
//! world decided comes from the journal, the *oracle*: the outcomes of effectful steps
//! (`http`, `kv`, callback waits), `now()`/`uuid()` draws, approval votes, and the clock
//! (which reads the time of the next journaled event, so timeouts decide as they did).
//! Everything else is computed again (control flow, expressions, `function` steps, the
//! approval requests, timers), and every event the drive appends is compared, in order, with
//! the journal. The first difference is the divergence: its journal index, what the journal
//! holds there, what the program produced instead, and the source span of the step.

use super::{Clock, InterpError, Interpreter, Outcome};
use crate::store::{
    Append, AppendReceipt, CallbackRecord, DueTimer, Event, EventKind, NewEvent, NewRun, PostOutcome,
    Resource, ResourceHash, ResourceMeta, RunId, RunQuery, RunRecord, SlotHolder, StepId, Store, StoreError,
    StoreResult, TokenHash,
};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use weir_bytecode::Bytecode;

/// Where a replay first differs from the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The journal index of the first event that does not match (the journal's length when
    /// the program produced an event the journal does not have).
    pub index: u32,
    /// What the journal holds there (`kind step`), if anything.
    pub journaled: Option<String>,
    /// What the program produced instead, if anything.
    pub replayed: Option<String>,
    /// The step identity the difference is about.
    pub step: String,
    /// Its source span in the run's program (line and column from 1), when the program has
    /// that step.
    pub span: Option<weir_bytecode::Span>,
    /// What happened, in words.
    pub message: String,
}

/// The result of replaying one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayReport {
    /// The run.
    pub run: String,
    /// Events in its journal.
    pub events: u32,
    /// Events the replay compared (those the drive itself appends).
    pub compared: u32,
    /// The first difference; `None` when the replay matched the journal throughout.
    pub divergence: Option<Divergence>,
}

/// The journal being replayed against.
pub(super) struct Oracle {
    events: Vec<Event>,
    /// Index into `events` of the next event the drive must append.
    cursor: AtomicUsize,
    /// Events already matched (out of order, inside `parallel`).
    consumed: Mutex<Vec<bool>>,
    /// Depth of `parallel` sections: inside one, events match by identity, not position.
    unordered: AtomicUsize,
    compared: AtomicU32,
    divergence: Mutex<Option<Divergence>>,
    program: Bytecode,
    /// Journal positions by (identity, kind): every lookup is one hash probe, so a replay
    /// is linear in the journal.
    by_identity: HashMap<(StepId, u8), usize>,
    /// Journal positions by (path, iteration), in journal order (a step's attempts).
    by_path: HashMap<(String, u32), Vec<usize>>,
}

/// Events the drive does not append itself: the start (written by `start`), the votes
/// (written by `decide`), and a cancellation's end (written by `cancel`).
fn external(event: &Event) -> bool {
    event.step.path.starts_with("@run")
        || event.kind == EventKind::ApprovalDecided
        || (event.step.path == "@end"
            && event.kind == EventKind::StepFailed
            && serde_json::from_slice::<serde_json::Value>(&event.payload)
                .is_ok_and(|v| v["code"] == "cancelled"))
}

fn describe(kind: &EventKind, step: &StepId) -> String {
    let iteration = if step.iteration > 0 { format!("#{}", step.iteration) } else { String::new() };
    format!("{} {}{iteration}", kind.name(), step.path)
}

impl Oracle {
    fn skip_external(&self) {
        let consumed = self.consumed.lock().unwrap_or_else(|e| e.into_inner());
        let mut at = self.cursor.load(Ordering::Relaxed);
        while self.events.get(at).is_some_and(|e| external(e) || consumed.get(at).copied().unwrap_or(false)) {
            at += 1;
        }
        self.cursor.store(at, Ordering::Relaxed);
    }

    /// Enters (+1) or leaves (-1) a `parallel` section.
    pub(super) fn unordered(&self, delta: isize) {
        if delta > 0 {
            self.unordered.fetch_add(1, Ordering::SeqCst);
        } else {
            self.unordered.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// True when every event the drive must append has been appended.
    pub(super) fn exhausted(&self) -> bool {
        self.skip_external();
        self.cursor.load(Ordering::Relaxed) >= self.events.len()
    }

    /// The journaled event of this identity and kind.
    pub(super) fn find(&self, step: &StepId, kind: &EventKind) -> Option<&Event> {
        self.by_identity.get(&(step.clone(), kind.tag())).and_then(|&i| self.events.get(i))
    }

    /// Outside `parallel`: the original journaled `timer` (the run's deadline) as fired
    /// before the event the replay expects next.
    pub(super) fn deadline_passed_here(&self, timer: &StepId) -> bool {
        self.unordered.load(Ordering::SeqCst) == 0 && self.passed(timer, false)
    }

    /// Whether the original had found `timer` (the run's deadline) passed at this point:
    /// journaled as fired before the event the replay expects next; inside `parallel`, where
    /// positions are timing, fired at all (the caller asks only where the original did not
    /// finish what it was doing).
    pub(super) fn passed(&self, timer: &StepId, finished: bool) -> bool {
        let Some(fired) = self.by_identity.get(&(timer.clone(), EventKind::TimerFired.tag())).copied() else {
            return false;
        };
        if self.unordered.load(Ordering::SeqCst) > 0 {
            return !finished;
        }
        self.skip_external();
        fired < self.cursor.load(Ordering::Relaxed)
    }

    /// The events of a step's attempts before its outcome (`started` of each attempt, failed
    /// attempts, retry timers), in journal order.
    pub(super) fn attempts(&self, step: &StepId) -> Vec<NewEvent> {
        let mut at: Vec<usize> = Vec::new();
        for path in [
            step.path.clone(),
            format!("{}/attempt", step.path),
            format!("{}/retry", step.path),
            format!("{}/timeout", step.path),
        ] {
            let found = self.by_path.get(&(path.clone(), step.iteration)).into_iter().flatten();
            at.extend(found.filter(|&&i| path != step.path || self.events[i].kind == EventKind::StepStarted));
        }
        at.sort_unstable();
        at.into_iter()
            .map(|i| &self.events[i])
            .map(|e| NewEvent { step: e.step.clone(), kind: e.kind.clone(), payload: e.payload.clone() })
            .collect()
    }

    /// The journaled outcome of a step: `Ok(output)` or `Err(error)` payloads.
    pub(super) fn outcome(&self, step: &StepId) -> Option<Result<&[u8], &[u8]>> {
        if let Some(done) = self.find(step, &EventKind::StepCompleted) {
            return Some(Ok(done.payload.as_slice()));
        }
        self.find(step, &EventKind::StepFailed).map(|failed| Err(failed.payload.as_slice()))
    }

    /// The time of the next event the drive must append (the replay's clock).
    fn now_ms(&self) -> u64 {
        self.skip_external();
        let at = self.cursor.load(Ordering::Relaxed);
        self.events.get(at).or_else(|| self.events.last()).map_or(0, |e| e.at_ms)
    }

    fn span_of(&self, step: &StepId) -> Option<weir_bytecode::Span> {
        let base = step.path.split(['[', '/']).next().unwrap_or_default();
        self.program.program.steps.iter().find(|s| s.id == base).map(|s| s.span)
    }

    /// Records the first divergence (later ones are consequences).
    pub(super) fn diverge(&self, step: &StepId, replayed: Option<String>, message: String) {
        self.skip_external();
        let at = self.cursor.load(Ordering::Relaxed);
        self.diverge_at(at, step, replayed, message);
    }

    fn diverge_at(&self, at: usize, step: &StepId, replayed: Option<String>, message: String) {
        let mut slot = self.divergence.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let journaled = self.events.get(at);
        *slot = Some(Divergence {
            index: journaled.map_or(self.events.len() as u32, |e| e.index),
            journaled: journaled.map(|e| describe(&e.kind, &e.step)),
            replayed,
            step: step.path.clone(),
            span: self.span_of(step),
            message,
        });
    }

    /// Compares appended events with the journal, in order.
    fn check(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        for event in events {
            self.skip_external();
            let mut at = self.cursor.load(Ordering::Relaxed);
            if self.unordered.load(Ordering::SeqCst) > 0 {
                // Inside `parallel`: the event of this identity and kind, wherever it is.
                let consumed = self.consumed.lock().unwrap_or_else(|e| e.into_inner());
                let found = self
                    .by_identity
                    .get(&(event.step.clone(), event.kind.tag()))
                    .copied()
                    .filter(|&i| i >= at && !consumed.get(i).copied().unwrap_or(false));
                at = found.unwrap_or(self.events.len());
            }
            let replayed = || describe(&event.kind, &event.step);
            match self.events.get(at) {
                Some(journaled)
                    if journaled.step == event.step
                        && journaled.kind == event.kind
                        && journaled.payload == event.payload =>
                {
                    if let Some(flag) = self.consumed.lock().unwrap_or_else(|e| e.into_inner()).get_mut(at) {
                        *flag = true;
                    }
                    self.compared.fetch_add(1, Ordering::Relaxed);
                }
                Some(journaled) => {
                    let message = if journaled.step == event.step && journaled.kind == event.kind {
                        format!(
                            "the program produced {} with different content than the journal ({} bytes journaled, {} replayed)",
                            replayed(),
                            journaled.payload.len(),
                            event.payload.len()
                        )
                    } else {
                        format!(
                            "the program produced {} where the journal has {}",
                            replayed(),
                            describe(&journaled.kind, &journaled.step)
                        )
                    };
                    self.diverge_at(at, &event.step, Some(replayed()), message);
                    return Err(diverged());
                }
                // A journal without an end was interrupted: the replay matched all of it.
                None if !self.events.iter().any(|e| e.step.path == "@end") => {
                    return Err(StoreError::Limit(REPLAY_END.to_string()));
                }
                None => {
                    let message = format!("the program produced {} after the end of the journal", replayed());
                    self.diverge(&event.step, Some(replayed()), message);
                    return Err(diverged());
                }
            }
        }
        Ok(())
    }
}

/// The error that stops a replayed drive at its divergence (the report says what it was).
fn diverged() -> StoreError {
    StoreError::Limit("the replay diverged from the journal".to_string())
}

/// The clock of a replay: the journal's time.
struct ReplayClock<'o> {
    oracle: &'o Oracle,
}

impl Clock for ReplayClock<'_> {
    fn now_ms(&self) -> u64 {
        self.oracle.now_ms()
    }

    fn uuid(&self) -> String {
        // Draws come from the journal (`Run::draw`); a fresh one is never used.
        String::new()
    }

    fn sleep_until(&self, _due_ms: u64) {}
}

/// The store a replay drives against: the run's start and votes as its journal, appends
/// compared with the oracle, nothing written; reads of weir's own values (the callback
/// key, resources) go to the real store.
struct ReplayStore<'o> {
    inner: &'o dyn Store,
    oracle: &'o Oracle,
    record: RunRecord,
}

impl Store for ReplayStore<'_> {
    fn create_run(&self, _run: &NewRun) -> StoreResult<RunRecord> {
        Ok(self.record.clone())
    }

    fn append(&self, _run: RunId, append: &Append) -> StoreResult<AppendReceipt> {
        self.oracle.check(&append.events)?;
        let at = self.oracle.cursor.load(Ordering::Relaxed) as u32;
        let first = at.saturating_sub(append.events.len() as u32);
        let mut record = self.record.clone();
        record.updated_at_ms = append.at_ms;
        Ok(AppendReceipt {
            indexes: (first..at).collect(),
            appended: append.events.len() as u32,
            run: record,
        })
    }

    fn run(&self, run: RunId) -> StoreResult<Option<RunRecord>> {
        Ok((run == self.record.id).then(|| self.record.clone()))
    }

    fn journal(&self, _run: RunId, _from: u32) -> StoreResult<Vec<Event>> {
        let start = self.oracle.events.iter().filter(|e| e.step.path.starts_with("@run"));
        let votes = self.oracle.events.iter().filter(|e| e.kind == EventKind::ApprovalDecided);
        Ok(start.chain(votes).cloned().collect())
    }

    fn find_runs(&self, _query: &RunQuery) -> StoreResult<Vec<RunRecord>> {
        Ok(vec![self.record.clone()])
    }

    fn kv_get(&self, flow: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.inner.kv_get(flow, key)
    }

    fn kv_put(&self, _flow: &str, _key: &[u8], _value: &[u8]) -> StoreResult<()> {
        Ok(())
    }

    fn kv_delete(&self, _flow: &str, _key: &[u8]) -> StoreResult<bool> {
        Ok(false)
    }

    fn put_resource(&self, media_type: &str, bytes: &[u8], at_ms: u64) -> StoreResult<ResourceMeta> {
        Ok(ResourceMeta {
            hash: ResourceHash::of(bytes),
            size: bytes.len() as u64,
            media_type: media_type.to_string(),
            created_at_ms: at_ms,
        })
    }

    fn get_resource(&self, hash: &ResourceHash) -> StoreResult<Option<Resource>> {
        self.inner.get_resource(hash)
    }

    fn stat_resource(&self, hash: &ResourceHash) -> StoreResult<Option<ResourceMeta>> {
        self.inner.stat_resource(hash)
    }

    fn due_timers(&self, _now_ms: u64, _limit: usize) -> StoreResult<Vec<DueTimer>> {
        Ok(Vec::new())
    }

    fn callback(&self, token: &TokenHash) -> StoreResult<Option<CallbackRecord>> {
        self.inner.callback(token)
    }

    fn post_callback(&self, _token: &TokenHash, _payload: &[u8], _at_ms: u64) -> StoreResult<PostOutcome> {
        Ok(PostOutcome::Unknown)
    }

    fn slot_holders(&self, key: &str) -> StoreResult<Vec<SlotHolder>> {
        self.inner.slot_holders(key)
    }
}

impl Interpreter<'_> {
    /// Replays run `id` from an empty state against its journal, with the program the run
    /// pinned (`bytecode` overrides it: a new engine or program checked against old runs).
    pub fn replay(&self, id: RunId, bytecode: Option<&Bytecode>) -> Result<ReplayReport, InterpError> {
        let record = self.store.run(id)?.ok_or_else(|| InterpError::Journal(format!("no run {}", id.0)))?;
        let events = self.store.journal(id, 0)?;
        let program = match bytecode {
            Some(bytecode) => bytecode.clone(),
            None => self.program(id)?,
        };
        let mut by_identity = HashMap::with_capacity(events.len());
        let mut by_path: HashMap<(String, u32), Vec<usize>> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            by_identity.entry((event.step.clone(), event.kind.tag())).or_insert(i);
            by_path.entry((event.step.path.clone(), event.step.iteration)).or_default().push(i);
        }
        let oracle = Oracle {
            by_identity,
            by_path,
            consumed: Mutex::new(vec![false; events.len()]),
            events,
            cursor: AtomicUsize::new(0),
            unordered: AtomicUsize::new(0),
            compared: AtomicU32::new(0),
            divergence: Mutex::new(None),
            program,
        };
        let mut replayed_record = record.clone();
        replayed_record.status = crate::store::RunStatus::Running;
        let store = ReplayStore { inner: self.store, oracle: &oracle, record: replayed_record };
        let clock = ReplayClock { oracle: &oracle };
        let mut interp = Interpreter::new(&store, &clock);
        interp.project = self.project;
        interp.replay = Some(&oracle);
        let bytecode = oracle.program.clone();
        let result = interp.drive(id, &bytecode, &mut |_| {});
        let outcome = match result {
            Ok(outcome) => Some(outcome),
            // The drive stopped where the journal ends (the run was interrupted there).
            Err(InterpError::Store(StoreError::Limit(message)))
                if message == REPLAY_END
                    && oracle.divergence.lock().unwrap_or_else(|e| e.into_inner()).is_none() =>
            {
                None
            }
            Err(_) if oracle.divergence.lock().unwrap_or_else(|e| e.into_inner()).is_some() => None,
            Err(e) => return Err(e),
        };
        if oracle.divergence.lock().unwrap_or_else(|e| e.into_inner()).is_none() && !oracle.exhausted() {
            let at = oracle.cursor.load(Ordering::Relaxed);
            let left = oracle
                .events
                .get(at)
                .ok_or_else(|| InterpError::Journal("the replay lost its place".into()))?;
            let step = left.step.clone();
            let ended = match &outcome {
                Some(Outcome::Paused(waiting)) => format!("paused at `{}`", waiting.name),
                Some(Outcome::NeedsDecision { step }) => format!("stopped for a decision at `{step}`"),
                Some(_) => "finished".to_string(),
                None => "stopped".to_string(),
            };
            oracle.diverge(
                &step,
                None,
                format!(
                    "the program {ended}, but the journal goes on with {}",
                    describe(&left.kind, &left.step)
                ),
            );
        }
        let divergence = oracle.divergence.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(ReplayReport {
            run: id.0.to_string(),
            events: oracle.events.len() as u32,
            compared: oracle.compared.load(Ordering::Relaxed),
            divergence,
        })
    }
}

/// The message of the error that ends a replayed drive at the end of its journal.
pub(super) const REPLAY_END: &str = "replay: the journal ends here";

/// Why a replayed drive cannot go on: the journal ended (the run was interrupted there), or
/// it diverged (recorded in the oracle).
pub(super) fn stop(oracle: &Oracle, step: &StepId, what: &str) -> StoreError {
    if oracle.exhausted() {
        return StoreError::Limit(REPLAY_END.to_string());
    }
    oracle.diverge(
        step,
        Some(what.to_string()),
        format!("the program needs {what} here, but the journal has no such event"),
    );
    diverged()
}
