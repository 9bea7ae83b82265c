//! `weir retry ID`: a failed run again, from its failed step. Journals are never rewritten:
//! the retry is a new run, linked to the failed one (`@run/retry_of`), whose journal starts
//! as a copy of the failed run's up to the failing step (that step's own attempts left out,
//! so it gets its full retry budget). Driving it memoizes everything before the failing
//! step and runs the rest. The copy is itself a valid prefix at every moment, so a crash
//! during it leaves a run that `weir resume` continues.

use super::{InterpError, Interpreter, Outcome, RunError};
use crate::store::{Append, Event, EventKind, NewEvent, NewRun, RunId, RunStatus, StepId, TokenHash};
use weir_bytecode::Bytecode;

/// Events copied per append.
const CHUNK: usize = 32;

impl Interpreter<'_> {
    /// Starts a new run that repeats the failed run `failed` up to its failing step, then
    /// drives it. Returns the new run's id and outcome.
    pub fn retry(
        &self,
        failed: RunId,
        id: Option<RunId>,
        report: &mut dyn FnMut(&str),
    ) -> Result<(RunId, Outcome), InterpError> {
        let record =
            self.store.run(failed)?.ok_or_else(|| InterpError::Journal(format!("no run {}", failed.0)))?;
        if record.status != RunStatus::Failed {
            return Err(InterpError::Decision(format!(
                "run {} is {}; only a failed run can be retried",
                failed.0,
                record.status.name()
            )));
        }
        let bytecode: Bytecode = self.program(failed)?;
        let journal = self.store.journal(failed, 0)?;
        let error = journal
            .iter()
            .find(|e| e.step.path == "@end")
            .and_then(|e| serde_json::from_slice::<RunError>(&e.payload).ok())
            .ok_or_else(|| InterpError::Journal(format!("run {} has no end", failed.0)))?;
        // The failing step's own outcome (a `fail`, an evaluation error: the end).
        let cut = journal
            .iter()
            .position(|e| e.step.path == error.step && e.step.attempt == 0 && e.kind == EventKind::StepFailed)
            .or_else(|| journal.iter().position(|e| e.step.path == "@end"))
            .unwrap_or(journal.len());
        let failing = journal.get(cut).map(|e| e.step.clone());
        let now = self.clock.now_ms();
        let new = id.unwrap_or_else(|| RunId::generate(now));
        if self.store.run(new)?.is_none() {
            self.store.create_run(&NewRun { id: new, flow: record.flow.clone(), created_at_ms: now })?;
        }
        let already = self.store.journal(new, 0)?.len();
        let mut events: Vec<NewEvent> = journal[..cut]
            .iter()
            .filter(|e| keep(e, failing.as_ref()))
            .map(|e| self.copied(e, new))
            .collect::<Result<_, _>>()?;
        // A fresh deadline: the retry is a new run.
        if let Some(timeout) = bytecode.program.flow.run_timeout
            && let Ok(weir_bytecode::Value::Duration(ms)) =
                weir_bytecode::eval(&bytecode.program, &weir_bytecode::MapEnv::default(), timeout)
        {
            events.push(NewEvent {
                step: StepId::new(super::RUN_TIMEOUT, 0, 0),
                kind: EventKind::TimerScheduled {
                    due_at_ms: now.saturating_add(u64::try_from(ms).unwrap_or(0)),
                },
                payload: Vec::new(),
            });
        }
        events.push(NewEvent {
            step: StepId::new("@run/retry_of", 0, 0),
            kind: EventKind::ValueRecorded,
            payload: serde_json::to_vec(&failed.0.to_string()).unwrap_or_default(),
        });
        // Copy what a crash during an earlier retry did not (appends are idempotent by
        // identity, so the overlap is harmless).
        let skip = already.saturating_sub(1).min(events.len());
        for chunk in events[skip..].chunks(CHUNK) {
            let append = Append { at_ms: now, events: chunk.to_vec(), status: Some(RunStatus::Running) };
            self.store.append(new, &append)?;
        }
        (report)(&format!("run {} retries run {} from {}", new.0, failed.0, error.step));
        let outcome = self.drive(new, &bytecode, report)?;
        Ok((new, outcome))
    }

    /// An event of the failed run as the new run journals it: a callback gets the new run's
    /// token (its hash), since tokens are derived from the run id.
    fn copied(&self, event: &Event, new: RunId) -> Result<NewEvent, InterpError> {
        let kind = match &event.kind {
            EventKind::CallbackCreated { expires_at_ms, .. } => {
                let token = self.callback_token(new, &event.step)?;
                EventKind::CallbackCreated {
                    token: TokenHash::of(token.as_bytes()),
                    expires_at_ms: *expires_at_ms,
                }
            }
            other => other.clone(),
        };
        Ok(NewEvent { step: event.step.clone(), kind, payload: event.payload.clone() })
    }
}

/// Which events of the failed run the retry starts from: not the failing step's attempts
/// (it gets its full budget again), not the concurrency slot (taken again), not the
/// deadline (a new one from now), not the posts consumed (the waits' outcomes are copied;
/// the new callbacks were never posted to).
fn keep(event: &Event, failing: Option<&StepId>) -> bool {
    if let Some(step) = failing
        && event.step.iteration == step.iteration
        && (event.step.path == step.path || event.step.path.starts_with(&format!("{}/", step.path)))
    {
        return false;
    }
    !(event.step.path == "@run/slot"
        || event.step.path == super::RUN_TIMEOUT
        || matches!(event.kind, EventKind::CallbackReceived { .. }))
}
