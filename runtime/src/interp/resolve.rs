//! A person's decision on a run whose write has an unknown outcome (`needs_decision`,
//! design.md §5): weir never re-sends such a write by itself. `Retry` journals the unknown
//! attempt as failed, so the next drive sends the write again as a new attempt; `Done`
//! journals the step as completed with the output the person gives (what the outside world
//! says happened), so the next drive goes on after it.

use super::{InterpError, Interpreter, RunError};
use crate::store::{Append, Event, EventKind, NewEvent, RunId, RunStatus, StepId};
use weir_bytecode::Value;

/// What a person decided about a write whose outcome is unknown.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// Send it again (a new attempt).
    Retry,
    /// It happened: the step completes with this output.
    Done(Value),
}

/// The write a `needs_decision` run waits on: `started` without an outcome.
fn unknown(journal: &[Event]) -> Option<&Event> {
    // What is known: a step's outcome (attempt 0), and each failed attempt (`STEP/attempt`).
    let known: std::collections::HashSet<&StepId> = journal
        .iter()
        .filter(|d| matches!(d.kind, EventKind::StepCompleted | EventKind::StepFailed))
        .map(|d| &d.step)
        .collect();
    journal.iter().rev().find(|e| {
        e.kind == EventKind::StepStarted
            && e.payload.is_empty()
            && !known.contains(&StepId::new(e.step.path.clone(), e.step.iteration, 0))
            && !known.contains(&StepId::new(
                format!("{}/attempt", e.step.path),
                e.step.iteration,
                e.step.attempt,
            ))
    })
}

impl Interpreter<'_> {
    /// Journals a person's decision on the write a `needs_decision` run waits on and returns
    /// that step's identity path. The run is not driven here: `resume` it.
    pub fn resolve(&self, id: RunId, resolution: &Resolution) -> Result<String, InterpError> {
        let record = self.store.run(id)?.ok_or_else(|| InterpError::Journal(format!("no run {}", id.0)))?;
        if record.status != RunStatus::NeedsDecision {
            return Err(InterpError::Decision(format!(
                "run {} is {}, not waiting for a decision about a write",
                id.0,
                record.status.name()
            )));
        }
        let journal = self.store.journal(id, 0)?;
        let started = unknown(&journal).ok_or_else(|| {
            InterpError::Journal(format!(
                "run {} needs a decision but no write is started without an outcome",
                id.0
            ))
        })?;
        let step = started.step.clone();
        let event = match resolution {
            Resolution::Retry => {
                let error = RunError {
                    code: "outcome_unknown".into(),
                    message: format!(
                        "attempt {} had an unknown outcome; a person chose to send it again",
                        step.attempt + 1
                    ),
                    step: step.path.clone(),
                };
                NewEvent {
                    step: StepId::new(format!("{}/attempt", step.path), step.iteration, step.attempt),
                    kind: EventKind::StepFailed,
                    payload: serde_json::to_vec(&error).unwrap_or_default(),
                }
            }
            Resolution::Done(output) => NewEvent {
                step: StepId::new(step.path.clone(), step.iteration, 0),
                kind: EventKind::StepCompleted,
                payload: serde_json::to_vec(output).unwrap_or_default(),
            },
        };
        let at_ms = self.clock.now_ms();
        self.store.append(id, &Append { at_ms, events: vec![event], status: Some(RunStatus::Running) })?;
        Ok(step.path)
    }
}
