//! Writing a run: creation and the atomic append (events, identities, record, status index,
//! timers, callbacks, slots), computed over an [`Overlay`] and applied atomically as one write.

use crate::store::callback::{CallbackRecord, CallbackState};
use crate::store::error::{CallbackProblem, StoreError, StoreResult};
use crate::store::event::{Append, AppendReceipt, EventKind, NewEvent};
use crate::store::limits::Limits;
use crate::store::run::{NewRun, RunId, RunRecord, RunStatus};
use crate::store::sled::codec::{self, StoredEvent, StoredSlot};
use crate::store::sled::journal;
use crate::store::sled::keys;
use crate::store::sled::overlay::Overlay;

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
    record: &RunRecord,
    fresh: &[&NewEvent],
    event: &NewEvent,
) -> StoreResult<Option<Earlier>> {
    let tag = event.kind.tag();
    if let Some(pos) = fresh.iter().position(|e| e.step == event.step && e.kind.tag() == tag) {
        return Ok(Some(Earlier {
            index: record.journal_len + pos as u32,
            kind: fresh[pos].kind.clone(),
            payload: fresh[pos].payload.clone(),
        }));
    }
    let Some(raw) = ov.get(&keys::identity(run, &event.step, tag))? else {
        return Ok(None);
    };
    let index = codec::decode_u32(&raw, || format!("event identity in run {run}"))?;
    let stored = journal::load_event(ov, run, index)?.ok_or_else(|| StoreError::Corrupt {
        what: format!("journal of run {run}"),
        detail: format!("identity points at missing event {index}"),
    })?;
    Ok(Some(Earlier { index, kind: stored.kind, payload: stored.payload }))
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

/// The atomic append.
pub(crate) fn append(
    ov: &mut Overlay<'_>,
    limits: &Limits,
    run: RunId,
    append: &Append,
) -> StoreResult<AppendReceipt> {
    limits.check_append(append)?;
    let record = load_run(ov, run)?.ok_or(StoreError::RunUnknown(run))?;
    let mut indexes = Vec::with_capacity(append.events.len());
    let mut fresh: Vec<&NewEvent> = Vec::new();
    for event in &append.events {
        match find_earlier(ov, run, &record, &fresh, event)? {
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
                fresh.push(event);
            }
        }
    }
    let status_change = append.status.filter(|s| *s != record.status);
    if record.status.is_terminal() && (!fresh.is_empty() || status_change.is_some()) {
        return Err(StoreError::RunClosed(run));
    }
    limits.check_journal_len(record.journal_len, fresh.len() as u32)?;

    for (i, event) in fresh.iter().enumerate() {
        index_event(ov, run, append.at_ms, event)?;
        let index = record.journal_len + i as u32;
        let stored = StoredEvent {
            at_ms: append.at_ms,
            step: event.step.clone(),
            kind: event.kind.clone(),
            payload: event.payload.clone(),
        };
        ov.insert(keys::journal(run, index), codec::encode(&stored)?);
        ov.insert(keys::identity(run, &event.step, event.kind.tag()), index.to_be_bytes().to_vec());
    }
    let appended = fresh.len() as u32;
    journal::seal_pages(ov, run, record.journal_len, record.journal_len + appended)?;
    if appended == 0 && status_change.is_none() {
        return Ok(AppendReceipt { indexes, appended, run: record });
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
    Ok(AppendReceipt { indexes, appended, run: updated })
}
