//! The in-memory model of the store: plain maps and vectors, timers and slots folded from
//! the journals on every query. It is the oracle the sled store is tested against, and a
//! store for tests of the layers above. Nothing here is durable.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::store::Store;
use crate::store::callback::{CallbackRecord, CallbackState, PostOutcome, TokenHash};
use crate::store::error::{CallbackProblem, StoreError, StoreResult};
use crate::store::event::{Append, AppendReceipt, Event, EventKind, NewEvent, StepId};
use crate::store::limits::Limits;
use crate::store::resource::{Resource, ResourceHash, ResourceMeta};
use crate::store::run::{NewRun, RunId, RunQuery, RunRecord};
use crate::store::schedule::{DueTimer, SlotHolder};

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    limits: Limits,
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone)]
struct State {
    runs: BTreeMap<RunId, (RunRecord, Vec<Event>)>,
    kv: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    resources: BTreeMap<ResourceHash, Resource>,
    callbacks: BTreeMap<TokenHash, CallbackRecord>,
}

impl MemoryStore {
    /// An empty store with the default limits.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store with the given limits.
    pub fn with_limits(limits: Limits) -> MemoryStore {
        MemoryStore { limits, state: Mutex::default() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated: every write
        // builds its result first and assigns at the end.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The slots a journal holds: key -> (step, time), folded in journal order.
fn held_slots<'a>(
    events: impl Iterator<Item = (&'a StepId, &'a EventKind, u64)>,
) -> BTreeMap<String, (StepId, u64)> {
    let mut held = BTreeMap::new();
    for (step, kind, at) in events {
        match kind {
            EventKind::SlotAcquired { key, .. } => {
                held.entry(key.clone()).or_insert((step.clone(), at));
            }
            EventKind::SlotReleased { key } => {
                held.remove(key);
            }
            _ => {}
        }
    }
    held
}

fn holders_of(state: &State, key: &str) -> Vec<SlotHolder> {
    let mut out = Vec::new();
    for (id, (record, journal)) in &state.runs {
        if record.status.is_terminal() {
            continue;
        }
        let held = held_slots(journal.iter().map(|e| (&e.step, &e.kind, e.at_ms)));
        if let Some((step, at)) = held.get(key) {
            out.push(SlotHolder { key: key.to_owned(), run: *id, step: step.clone(), acquired_at_ms: *at });
        }
    }
    out
}

impl Store for MemoryStore {
    fn create_run(&self, run: &NewRun) -> StoreResult<RunRecord> {
        self.limits.check_flow(&run.flow)?;
        let mut state = self.state();
        if let Some((existing, _)) = state.runs.get(&run.id) {
            if existing.flow == run.flow && existing.created_at_ms == run.created_at_ms {
                return Ok(existing.clone());
            }
            return Err(StoreError::RunExists(run.id));
        }
        let record = RunRecord {
            id: run.id,
            flow: run.flow.clone(),
            status: crate::store::run::RunStatus::Queued,
            created_at_ms: run.created_at_ms,
            updated_at_ms: run.created_at_ms,
            journal_len: 0,
        };
        state.runs.insert(run.id, (record.clone(), Vec::new()));
        Ok(record)
    }

    fn append(&self, run: RunId, append: &Append) -> StoreResult<AppendReceipt> {
        self.limits.check_append(append)?;
        let mut state = self.state();
        let Some((record, journal)) = state.runs.get(&run) else {
            return Err(StoreError::RunUnknown(run));
        };
        let mut indexes = Vec::with_capacity(append.events.len());
        let mut fresh: Vec<&NewEvent> = Vec::new();
        for event in &append.events {
            let tag = event.kind.tag();
            let earlier = journal
                .iter()
                .find(|e| e.step == event.step && e.kind.tag() == tag)
                .map(|e| (e.index, &e.kind, &e.payload))
                .or_else(|| {
                    fresh.iter().position(|e| e.step == event.step && e.kind.tag() == tag).map(|pos| {
                        let e = fresh[pos];
                        (record.journal_len + pos as u32, &e.kind, &e.payload)
                    })
                });
            match earlier {
                Some((index, kind, payload)) => {
                    if *kind != event.kind || *payload != event.payload {
                        return Err(StoreError::EventConflict {
                            run,
                            step: event.step.to_string(),
                            kind: event.kind.name(),
                        });
                    }
                    indexes.push(index);
                }
                None => {
                    indexes.push(record.journal_len + fresh.len() as u32);
                    fresh.push(event);
                }
            }
        }
        let status_change = append.status.filter(|s| *s != record.status);
        if record.status.is_terminal() && (!fresh.is_empty() || status_change.is_some()) {
            return Err(StoreError::RunClosed(run));
        }
        self.limits.check_journal_len(record.journal_len, fresh.len() as u32)?;

        // Preconditions, in event order, against the state as the earlier events leave it.
        let mut callbacks = state.callbacks.clone();
        let mut own: Vec<(&StepId, &EventKind, u64)> =
            journal.iter().map(|e| (&e.step, &e.kind, e.at_ms)).collect();
        for event in &fresh {
            match &event.kind {
                EventKind::SlotAcquired { key, limit } => {
                    let mine = held_slots(own.iter().copied());
                    if !mine.contains_key(key) {
                        let held = holders_of(&state, key).iter().filter(|h| h.run != run).count() as u32;
                        if held >= *limit {
                            return Err(StoreError::SlotFull { key: key.clone(), held, limit: *limit });
                        }
                    }
                }
                EventKind::CallbackCreated { token, expires_at_ms } => {
                    if callbacks.contains_key(token) {
                        return Err(StoreError::Callback { run, problem: CallbackProblem::Exists });
                    }
                    callbacks.insert(
                        *token,
                        CallbackRecord {
                            token: *token,
                            run,
                            step: event.step.clone(),
                            expires_at_ms: *expires_at_ms,
                            state: CallbackState::Waiting,
                        },
                    );
                }
                EventKind::CallbackReceived { token } => {
                    let problem = match callbacks.get_mut(token) {
                        None => Some(CallbackProblem::Unknown),
                        Some(cb) if cb.run != run => Some(CallbackProblem::WrongRun),
                        Some(cb) => match &cb.state {
                            CallbackState::Waiting => Some(CallbackProblem::NotPosted),
                            CallbackState::Consumed { .. } => Some(CallbackProblem::Consumed),
                            CallbackState::Posted { at_ms, payload } => {
                                cb.state = CallbackState::Consumed {
                                    posted_at_ms: *at_ms,
                                    payload: payload.clone(),
                                };
                                None
                            }
                        },
                    };
                    if let Some(problem) = problem {
                        return Err(StoreError::Callback { run, problem });
                    }
                }
                _ => {}
            }
            own.push((&event.step, &event.kind, append.at_ms));
        }

        let new_events: Vec<Event> = fresh
            .iter()
            .enumerate()
            .map(|(i, e)| Event {
                run,
                index: record.journal_len + i as u32,
                at_ms: append.at_ms,
                step: e.step.clone(),
                kind: e.kind.clone(),
                payload: e.payload.clone(),
            })
            .collect();
        let changed = !new_events.is_empty() || status_change.is_some();
        let mut record = record.clone();
        if changed {
            record.journal_len += new_events.len() as u32;
            record.updated_at_ms = record.updated_at_ms.max(append.at_ms);
            if let Some(status) = status_change {
                record.status = status;
            }
        }
        let appended = new_events.len() as u32;
        state.callbacks = callbacks;
        if let Some(entry) = state.runs.get_mut(&run) {
            entry.0 = record.clone();
            entry.1.extend(new_events);
        }
        Ok(AppendReceipt { indexes, appended, run: record })
    }

    fn run(&self, run: RunId) -> StoreResult<Option<RunRecord>> {
        Ok(self.state().runs.get(&run).map(|(r, _)| r.clone()))
    }

    fn journal(&self, run: RunId, from: u32) -> StoreResult<Vec<Event>> {
        let state = self.state();
        let (_, journal) = state.runs.get(&run).ok_or(StoreError::RunUnknown(run))?;
        Ok(journal.iter().skip(from as usize).cloned().collect())
    }

    fn find_runs(&self, query: &RunQuery) -> StoreResult<Vec<RunRecord>> {
        let state = self.state();
        let mut found: Vec<RunRecord> =
            state.runs.values().map(|(r, _)| r).filter(|r| query.matches(r)).cloned().collect();
        found.sort_by_key(|r| (r.created_at_ms, r.id));
        if query.limit > 0 {
            found.truncate(query.limit);
        }
        Ok(found)
    }

    fn kv_get(&self, flow: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.limits.check_kv(flow, key, None)?;
        Ok(self.state().kv.get(&(flow.to_owned(), key.to_vec())).cloned())
    }

    fn kv_put(&self, flow: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.limits.check_kv(flow, key, Some(value))?;
        self.state().kv.insert((flow.to_owned(), key.to_vec()), value.to_vec());
        Ok(())
    }

    fn kv_delete(&self, flow: &str, key: &[u8]) -> StoreResult<bool> {
        self.limits.check_kv(flow, key, None)?;
        Ok(self.state().kv.remove(&(flow.to_owned(), key.to_vec())).is_some())
    }

    fn put_resource(&self, media_type: &str, bytes: &[u8], at_ms: u64) -> StoreResult<ResourceMeta> {
        self.limits.check_resource(media_type, bytes)?;
        let hash = ResourceHash::of(bytes);
        let mut state = self.state();
        let resource = state.resources.entry(hash).or_insert_with(|| Resource {
            meta: ResourceMeta {
                hash,
                size: bytes.len() as u64,
                media_type: media_type.to_owned(),
                created_at_ms: at_ms,
            },
            bytes: bytes.to_vec(),
        });
        Ok(resource.meta.clone())
    }

    fn get_resource(&self, hash: &ResourceHash) -> StoreResult<Option<Resource>> {
        Ok(self.state().resources.get(hash).cloned())
    }

    fn stat_resource(&self, hash: &ResourceHash) -> StoreResult<Option<ResourceMeta>> {
        Ok(self.state().resources.get(hash).map(|r| r.meta.clone()))
    }

    fn due_timers(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<DueTimer>> {
        let state = self.state();
        let mut due = Vec::new();
        for (id, (record, journal)) in &state.runs {
            if record.status.is_terminal() {
                continue;
            }
            let mut set: BTreeMap<&StepId, u64> = BTreeMap::new();
            for event in journal {
                match &event.kind {
                    EventKind::TimerScheduled { due_at_ms } => {
                        set.insert(&event.step, *due_at_ms);
                    }
                    EventKind::TimerFired => {
                        set.remove(&event.step);
                    }
                    _ => {}
                }
            }
            for (step, at) in set {
                if at <= now_ms {
                    due.push(DueTimer { due_at_ms: at, run: *id, step: step.clone() });
                }
            }
        }
        due.sort_by_key(|t| (t.due_at_ms, t.run, t.step.encode()));
        if limit > 0 {
            due.truncate(limit);
        }
        Ok(due)
    }

    fn callback(&self, token: &TokenHash) -> StoreResult<Option<CallbackRecord>> {
        Ok(self.state().callbacks.get(token).cloned())
    }

    fn post_callback(&self, token: &TokenHash, payload: &[u8], at_ms: u64) -> StoreResult<PostOutcome> {
        let mut state = self.state();
        let Some(cb) = state.callbacks.get(token) else {
            return Ok(PostOutcome::Unknown);
        };
        let finished = state.runs.get(&cb.run).is_none_or(|(r, _)| r.status.is_terminal());
        if finished {
            return Ok(PostOutcome::RunFinished);
        }
        let outcome = match &cb.state {
            CallbackState::Consumed { .. } => PostOutcome::Consumed,
            CallbackState::Posted { payload: p, .. } => {
                PostOutcome::AlreadyPosted { same: p.as_slice() == payload }
            }
            CallbackState::Waiting if at_ms > cb.expires_at_ms => PostOutcome::Expired,
            CallbackState::Waiting => PostOutcome::Accepted,
        };
        if outcome == PostOutcome::Accepted
            && let Some(cb) = state.callbacks.get_mut(token)
        {
            cb.state = CallbackState::Posted { at_ms, payload: payload.to_vec() };
        }
        Ok(outcome)
    }

    fn slot_holders(&self, key: &str) -> StoreResult<Vec<SlotHolder>> {
        Ok(holders_of(&self.state(), key))
    }

    fn delete_run(&self, run: RunId) -> StoreResult<bool> {
        let mut state = self.state();
        match state.runs.get(&run) {
            None => return Ok(false),
            Some((record, _)) if !record.status.is_terminal() => return Err(StoreError::RunOpen(run)),
            Some(_) => {}
        }
        state.runs.remove(&run);
        state.callbacks.retain(|_, cb| cb.run != run);
        Ok(true)
    }
}
