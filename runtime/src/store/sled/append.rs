//! Writing a run: creation and the atomic append (events, identities, record, status index,
//! timers, callbacks, slots), computed over an [`Overlay`] and applied atomically as one write.

use crate::store::callback::{CallbackRecord, CallbackState};
use crate::store::error::{CallbackProblem, StoreError, StoreResult};
use crate::store::event::{Append, AppendReceipt, EventKind, NewEvent};
use crate::store::limits::Limits;
use crate::store::run::{NewRun, RunId, RunRecord, RunStatus};
use crate::store::sled::codec::{self, StoredEventRef, StoredSlot};
use crate::store::sled::journal;
use crate::store::sled::keys;
use crate::store::sled::overlay::Overlay;
use crate::store::sled::run_state::{self, RunState};

/// Loads a run's record.
pub(crate) fn load_run(ov: &Overlay<'_>, run: RunId) -> StoreResult<Option<RunRecord>> {
    match ov.get(&keys::run(run))? {
        Some(bytes) => codec::decode(&bytes, || format!("run record of {run}")).map(Some),
        None => Ok(None),
    }
}

/// Loads a callback record.
pub(crate) fn load_callback(
    ov: &Overlay<'_>,
    token: &crate::store::callback::TokenHash,
) -> StoreResult<Option<CallbackRecord>> {
    match ov.get(&keys::callback(token))? {
        Some(bytes) => codec::decode(&bytes, || format!("callback record {token:?}")).map(Some),
        None => Ok(None),
    }
}

/// Creates a run with its index entries (idempotent for the same flow and time).
pub(crate) fn create_run(ov: &mut Overlay<'_>, limits: &Limits, run: &NewRun) -> StoreResult<RunRecord> {
    limits.check_flow(&run.flow)?;
    if let Some(existing) = load_run(ov, run.id)? {
        if existing.flow == run.flow && existing.created_at_ms == run.created_at_ms {
            return Ok(existing);
        }
        return Err(StoreError::RunExists(run.id));
    }
    let record = RunRecord {
        id: run.id,
        flow: run.flow.clone(),
        status: RunStatus::Queued,
        created_at_ms: run.created_at_ms,
        updated_at_ms: run.created_at_ms,
        journal_len: 0,
    };
    ov.insert(keys::run(run.id), codec::encode(&record)?);
    ov.insert(keys::by_status(record.status, run.created_at_ms, run.id), Vec::new());
    ov.insert(keys::by_flow(&run.flow, run.created_at_ms, run.id), Vec::new());
    ov.insert(keys::by_time(run.created_at_ms, run.id), Vec::new());
    Ok(record)
}

/// An event already journaled (or earlier in this append) with the same identity.
struct Earlier {
    index: u32,
    kind: EventKind,
    payload: Vec<u8>,
}

fn find_earlier(
    ov: &Overlay<'_>,
    run: RunId,
    state: &RunState,
    fresh: &[(&NewEvent, Vec<u8>)],
    event: &NewEvent,
    identity: &[u8],
) -> StoreResult<Option<Earlier>> {
    if let Some(pos) = fresh.iter().position(|(_, id)| id.as_slice() == identity) {
        let (earlier, _) = fresh[pos];
        return Ok(Some(Earlier {
            index: state.record.journal_len + pos as u32,
            kind: earlier.kind.clone(),
            payload: earlier.payload.clone(),
        }));
    }
    let Some(index) = state.index_of(identity) else {
        return Ok(None);
    };
    let stored = journal::load_event(ov, run, index)?.ok_or_else(|| StoreError::Corrupt {
        what: format!("journal of run {run}"),
        detail: format!("event {index} ({}) is missing", event.step),
    })?;
    Ok(Some(Earlier { index, kind: stored.kind, payload: stored.payload }))
}

/// Where the run record is in `writes` when they are a *plain append* of `run`: inserts
/// of the run's journal keys only, plus its record. Such a write needs no intent: applied
/// with the record last, a crash (sled recovers a prefix of its log) leaves either all of
/// it or some journal keys without the record. Those are unreachable: the record's
/// `journal_len` bounds every read of the journal (and the identity index is folded from
/// what it bounds, `run_state`), and the next append at those indexes overwrites them.
/// Everything else (status, timers, slots, callbacks, creation) goes through
/// an intent.
pub(crate) fn plain_append_commit(run: RunId, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Option<usize> {
    let record = keys::run(run);
    let journal = keys::journal_prefix(run);
    let mut commit = None;
    for (i, (key, value)) in writes.iter().enumerate() {
        value.as_ref()?;
        if *key == record {
            commit = Some(i);
        } else if !key.starts_with(&journal) {
            return None;
        }
    }
    commit
}

/// Applies the index effect of one new event, checking its precondition first.
fn index_event(ov: &mut Overlay<'_>, run: RunId, at_ms: u64, event: &NewEvent) -> StoreResult<()> {
    match &event.kind {
        EventKind::SlotAcquired { key, limit } => {
            if ov.get(&keys::run_slot(run, key))?.is_some() {
                return Ok(());
            }
            let prefix = keys::slot_prefix(key);
            let held = ov
                .scan_prefix(&prefix)?
                .iter()
                .filter(|(k, _)| keys::run_at(k, prefix.len()) != Some(run))
                .count() as u32;
            if held >= *limit {
                return Err(StoreError::SlotFull { key: key.clone(), held, limit: *limit });
            }
            let slot = StoredSlot { step: event.step.clone(), acquired_at_ms: at_ms };
            ov.insert(keys::slot(key, run), codec::encode(&slot)?);
            ov.insert(keys::run_slot(run, key), Vec::new());
        }
        EventKind::SlotReleased { key } => {
            ov.remove(keys::slot(key, run));
            ov.remove(keys::run_slot(run, key));
        }
        EventKind::TimerScheduled { due_at_ms } => {
            ov.insert(keys::timer(*due_at_ms, run, &event.step), Vec::new());
            ov.insert(keys::run_timer(run, &event.step), due_at_ms.to_be_bytes().to_vec());
        }
        EventKind::TimerFired => {
            if let Some(raw) = ov.get(&keys::run_timer(run, &event.step))? {
                let due = codec::decode_u64(&raw, || format!("timer of run {run}"))?;
                ov.remove(keys::timer(due, run, &event.step));
                ov.remove(keys::run_timer(run, &event.step));
            }
        }
        EventKind::CallbackCreated { token, expires_at_ms } => {
            if load_callback(ov, token)?.is_some() {
                return Err(StoreError::Callback { run, problem: CallbackProblem::Exists });
            }
            let record = CallbackRecord {
                token: *token,
                run,
                step: event.step.clone(),
                expires_at_ms: *expires_at_ms,
                state: CallbackState::Waiting,
            };
            ov.insert(keys::callback(token), codec::encode(&record)?);
        }
        EventKind::CallbackReceived { token } => {
            let problem = match load_callback(ov, token)? {
                None => Some(CallbackProblem::Unknown),
                Some(cb) if cb.run != run => Some(CallbackProblem::WrongRun),
                Some(mut cb) => match cb.state {
                    CallbackState::Waiting => Some(CallbackProblem::NotPosted),
                    CallbackState::Consumed { .. } => Some(CallbackProblem::Consumed),
                    CallbackState::Posted { at_ms, payload } => {
                        cb.state = CallbackState::Consumed { posted_at_ms: at_ms, payload };
                        ov.insert(keys::callback(token), codec::encode(&cb)?);
                        None
                    }
                },
            };
            if let Some(problem) = problem {
                return Err(StoreError::Callback { run, problem });
            }
        }
        EventKind::RunStarted
        | EventKind::StepStarted
        | EventKind::StepCompleted
        | EventKind::StepFailed
        | EventKind::ValueRecorded
        | EventKind::ApprovalDecided
        | EventKind::UndoRun => {}
    }
    Ok(())
}

/// Deletes a finished run: record, indexes, journal (single events and pages, and the
/// identity keys a format-1 store wrote), and its callbacks. False when there is no such run.
pub(crate) fn delete_run(ov: &mut Overlay<'_>, run: RunId) -> StoreResult<bool> {
    let Some(record) = load_run(ov, run)? else { return Ok(false) };
    if !record.status.is_terminal() {
        return Err(StoreError::RunOpen(run));
    }
    ov.remove(keys::run(run));
    ov.remove(keys::by_status(record.status, record.created_at_ms, run));
    ov.remove(keys::by_flow(&record.flow, record.created_at_ms, run));
    ov.remove(keys::by_time(record.created_at_ms, run));
    let mut legacy_identities = vec![b'I'];
    legacy_identities.extend_from_slice(&run.to_bytes());
    for prefix in [keys::journal_prefix(run), keys::page_prefix(run), legacy_identities] {
        for (key, _) in ov.scan_prefix(&prefix)? {
            ov.remove(key);
        }
    }
    for (key, value) in ov.scan_prefix(&[keys::CALLBACK])? {
        let callback: CallbackRecord = codec::decode(&value, || "a callback record".to_owned())?;
        if callback.run == run {
            ov.remove(key);
        }
    }
    Ok(true)
}

/// Drops the timers and slots of a run that just finished.
fn close_run(ov: &mut Overlay<'_>, run: RunId) -> StoreResult<()> {
    let timer_prefix = keys::run_timer_prefix(run);
    for (key, due) in ov.scan_prefix(&timer_prefix)? {
        let due = codec::decode_u64(&due, || format!("timer of run {run}"))?;
        let mut timer = vec![keys::TIMER];
        timer.extend_from_slice(&due.to_be_bytes());
        timer.extend_from_slice(&run.to_bytes());
        timer.extend_from_slice(&key[timer_prefix.len()..]);
        ov.remove(timer);
        ov.remove(key);
    }
    let slot_prefix = keys::run_slot_prefix(run);
    for (key, _) in ov.scan_prefix(&slot_prefix)? {
        let mut slot = vec![keys::SLOT];
        slot.extend_from_slice(&key[slot_prefix.len()..]);
        slot.extend_from_slice(&run.to_bytes());
        ov.remove(slot);
        ov.remove(key);
    }
    Ok(())
}

/// What an append wrote: the receipt, and the identities of the events it journaled (for
/// the run's in-memory state, once the write is applied).
pub(crate) struct Appended {
    /// The caller's receipt.
    pub(crate) receipt: AppendReceipt,
    /// Identity and journal index of each new event.
    pub(crate) identities: Vec<(Vec<u8>, u32)>,
}

/// The atomic append, over the run's current state; the caller has checked the append
/// against `Limits::check_append`.
pub(crate) fn append(
    ov: &mut Overlay<'_>,
    limits: &Limits,
    run: RunId,
    state: &RunState,
    append: &Append,
) -> StoreResult<Appended> {
    let record = &state.record;
    let mut indexes = Vec::with_capacity(append.events.len());
    let mut fresh: Vec<(&NewEvent, Vec<u8>)> = Vec::new();
    for event in &append.events {
        let identity = run_state::identity(&event.step, event.kind.tag());
        match find_earlier(ov, run, state, &fresh, event, &identity)? {
            Some(earlier) => {
                if earlier.kind != event.kind || earlier.payload != event.payload {
                    return Err(StoreError::EventConflict {
                        run,
                        step: event.step.to_string(),
                        kind: event.kind.name(),
                    });
                }
                indexes.push(earlier.index);
            }
            None => {
                indexes.push(record.journal_len + fresh.len() as u32);
                fresh.push((event, identity));
            }
        }
    }
    let status_change = append.status.filter(|s| *s != record.status);
    if record.status.is_terminal() && (!fresh.is_empty() || status_change.is_some()) {
        return Err(StoreError::RunClosed(run));
    }
    limits.check_journal_len(record.journal_len, fresh.len() as u32)?;

    for (i, (event, _)) in fresh.iter().enumerate() {
        index_event(ov, run, append.at_ms, event)?;
        let index = record.journal_len + i as u32;
        let stored = StoredEventRef {
            at_ms: append.at_ms,
            step: &event.step,
            kind: &event.kind,
            payload: &event.payload,
        };
        ov.insert(keys::journal(run, index), codec::encode(&stored)?);
    }
    let appended = fresh.len() as u32;
    if appended == 0 && status_change.is_none() {
        let receipt = AppendReceipt { indexes, appended, run: record.clone() };
        return Ok(Appended { receipt, identities: Vec::new() });
    }
    let mut updated = record.clone();
    updated.journal_len += appended;
    updated.updated_at_ms = updated.updated_at_ms.max(append.at_ms);
    if let Some(status) = status_change {
        updated.status = status;
        ov.remove(keys::by_status(record.status, record.created_at_ms, run));
        ov.insert(keys::by_status(status, record.created_at_ms, run), Vec::new());
        if status.is_terminal() {
            close_run(ov, run)?;
        }
    }
    ov.insert(keys::run(run), codec::encode(&updated)?);
    let identities = fresh
        .into_iter()
        .enumerate()
        .map(|(i, (_, identity))| (identity, record.journal_len + i as u32))
        .collect();
    Ok(Appended { receipt: AppendReceipt { indexes, appended, run: updated }, identities })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::event::StepId;
    use crate::store::sled::SledStore;
    use crate::store::sled::codec::StoredEvent;

    fn event(path: &str, payload: &[u8]) -> NewEvent {
        NewEvent { step: StepId::new(path, 0, 0), kind: EventKind::StepCompleted, payload: payload.to_vec() }
    }

    fn one(event: NewEvent) -> Append {
        Append { at_ms: 5, events: vec![event], status: None }
    }

    #[test]
    fn journal_keys_left_past_the_record_by_a_crash_are_ignored_and_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunId::from_u128(7);
        {
            let store = SledStore::open_dir(dir.path()).expect("open");
            store
                .create_run(&NewRun { id: run, flow: "wibble".to_owned(), created_at_ms: 1 })
                .expect("create");
            store.append(run, &one(event("main/a", b"a"))).expect("append");
            // What a plain append that crashed before its record leaves: events past the
            // journal's length (here two, as from one append of two events).
            for (index, path) in [(1u32, "main/lost"), (2, "main/lost-too")] {
                let stored = StoredEvent {
                    at_ms: 6,
                    step: StepId::new(path, 0, 0),
                    kind: EventKind::StepCompleted,
                    payload: b"lost".to_vec(),
                };
                let raw = codec::encode(&stored).expect("encode");
                store.db.insert(keys::journal(run, index), raw).expect("insert");
            }
            store.db.flush().expect("flush");
        }
        let store = SledStore::open_dir(dir.path()).expect("reopen");
        let journal = store.journal(run, 0).expect("journal");
        assert_eq!(journal.len(), 1);
        assert!(store.journal(run, 1).expect("journal").is_empty());
        // The lost event was never journaled: appending it journals it, at the next index.
        let receipt = store.append(run, &one(event("main/lost-too", b"other"))).expect("append");
        assert_eq!((receipt.appended, receipt.indexes.clone()), (1, vec![1]));
        let journal = store.journal(run, 0).expect("journal");
        assert_eq!(journal.len(), 2);
        assert_eq!(
            (journal[1].step.path.as_str(), journal[1].payload.as_slice()),
            ("main/lost-too", &b"other"[..])
        );
        // The other leftover (index 2) is still beyond the record and invisible.
        assert_eq!(store.run(run).expect("run").expect("present").journal_len, 2);
        let again = store.append(run, &one(event("main/lost", b"lost"))).expect("append");
        assert_eq!((again.appended, again.indexes), (1, vec![2]));
    }

    #[test]
    fn a_format_1_store_is_upgraded_and_its_identity_keys_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunId::from_u128(8);
        {
            let store = SledStore::open_dir(dir.path()).expect("open");
            store
                .create_run(&NewRun { id: run, flow: "wibble".to_owned(), created_at_ms: 1 })
                .expect("create");
            store.append(run, &one(event("main/a", b"a"))).expect("append");
            let header = codec::Header { format: codec::FORMAT_UPGRADABLE, sled: "0.34.7".to_owned() };
            store.db.insert(keys::FORMAT, codec::encode(&header).expect("encode")).expect("header");
            // A format 1 identity key, pointing nowhere useful.
            let mut identity = vec![b'I'];
            identity.extend_from_slice(&run.to_bytes());
            identity.extend_from_slice(&run_state::identity(&StepId::new("main/b", 0, 0), 3));
            store.db.insert(identity, 0u32.to_be_bytes().to_vec()).expect("identity");
            store.db.flush().expect("flush");
        }
        let store = SledStore::open_dir(dir.path()).expect("reopen");
        let raw = store.db.get(keys::FORMAT).expect("get").expect("header");
        let header: codec::Header = codec::decode(&raw, String::new).expect("decode");
        assert_eq!(header.format, codec::FORMAT_VERSION);
        let again = store.append(run, &one(event("main/a", b"a"))).expect("retry");
        assert_eq!((again.appended, again.indexes), (0, vec![0]));
        let fresh = store.append(run, &one(event("main/b", b"b"))).expect("append");
        assert_eq!((fresh.appended, fresh.indexes), (1, vec![1]));
    }
}
