//! Sagas and compensations at run time (language.md, "Control flow and failure").
//!
//! A step with `undo { … }` inside `saga { … }` registers its compensation when it completes
//! (`undo always`: when it started at all, so also when it failed). When the saga's body
//! fails, is rejected or stops with a rejection, the registered undos run newest first, each
//! in the context its step ran in (its loop iterations, loop variables and output), each
//! marked by an `UndoRun` event before its steps. A failed undo does not stop the others;
//! the error that then propagates is `compensation_failed`, naming every failed undo;
//! otherwise the original failure (or rejection) propagates. A saga that completes hands its
//! registrations to the enclosing saga, if any.
//!
//! Nothing of an unwind lives only in memory: the body's failure is journaled (or is a
//! `fail` evaluated again), and each undo's steps are memoized like any other, so a crash in
//! the middle of an unwind makes the next drive fail the same way and continue the unwind
//! where it stopped.

use super::{Flow, Run, RunError, Stop};
use crate::store::{EventKind, NewEvent, StepId};
use weir_bytecode::{BlockIx, StepIx, Undo, Value};

/// A compensation waiting for its saga to fail.
#[derive(Clone, Debug)]
pub(super) struct Registered {
    /// The step it compensates (its journal identity).
    step: StepId,
    /// The step's name and output, visible to the undo.
    name: Option<(String, Value)>,
    /// The undo's block.
    body: BlockIx,
    /// The loop iterations and locals the step ran under.
    loops: Vec<u32>,
    locals: Vec<(String, Value)>,
}

impl Run<'_, '_, '_> {
    /// Runs a step that may carry an undo, registering the undo with the innermost saga.
    pub(super) fn step_with_undo(&mut self, ix: StepIx, undo: &Undo) -> Result<Flow, Stop> {
        let result = self.step(ix);
        let register = match &result {
            Ok(()) => true,
            Err(Stop::Failed(_)) => undo.always,
            Err(_) => false,
        };
        if register && !self.sagas.is_empty() {
            let id = self.step_id(ix, "");
            let name = self
                .program
                .step(ix)
                .and_then(|s| s.name.clone())
                .map(|n| (n.clone(), self.steps.get(&n).cloned().unwrap_or(Value::None)));
            let registered = Registered {
                step: id,
                name,
                body: undo.body,
                loops: self.loops.clone(),
                locals: self.locals.clone(),
            };
            if let Some(frame) = self.sagas.last_mut() {
                frame.push(registered);
            }
        }
        result.map(|()| Flow::Next)
    }

    /// `saga { … }`.
    pub(super) fn saga(&mut self, body: BlockIx) -> Result<Flow, Stop> {
        self.sagas.push(Vec::new());
        let result = self.block(body);
        let frame = self.sagas.pop().unwrap_or_default();
        match result {
            Err(Stop::Failed(_)) | Err(Stop::Rejected(_)) => {
                let Err(stop) = result else { return Ok(Flow::Next) };
                self.unwind(frame, stop)
            }
            other => {
                // Completed (or stopped for a reason that is not a failure: a pause, a
                // store error): the compensations stay with the enclosing saga.
                if let Some(parent) = self.sagas.last_mut() {
                    parent.extend(frame);
                }
                other
            }
        }
    }

    /// Run the compensations newest first, then propagate `cause` (or
    /// `compensation_failed`).
    fn unwind(&mut self, frame: Vec<Registered>, cause: Stop) -> Result<Flow, Stop> {
        // Compensations run even when the run's deadline, or a sibling branch's failure, is
        // what stopped it.
        let deadline = self.deadline.take();
        let cancelled = self.cancelled.take();
        let result = self.compensate(frame, cause);
        self.deadline = deadline;
        self.cancelled = cancelled;
        result
    }

    fn compensate(&mut self, frame: Vec<Registered>, cause: Stop) -> Result<Flow, Stop> {
        let mut failed: Vec<String> = Vec::new();
        for undo in frame.into_iter().rev() {
            let marker = StepId::new(format!("{}/undo", undo.step.path), undo.step.iteration, 0);
            if self.recorded(&marker, &EventKind::UndoRun).is_none() {
                self.append(vec![NewEvent { step: marker, kind: EventKind::UndoRun, payload: Vec::new() }])?;
                (self.report)(&format!("undo {} started", undo.step.path));
            }
            let saved_loops = std::mem::replace(&mut self.loops, undo.loops);
            let saved_locals = std::mem::replace(&mut self.locals, undo.locals);
            let saved_value =
                undo.name.as_ref().map(|(n, v)| (n.clone(), self.steps.insert(n.clone(), v.clone())));
            let result = self.block(undo.body);
            self.loops = saved_loops;
            self.locals = saved_locals;
            if let Some((name, previous)) = saved_value {
                match previous {
                    Some(value) => self.steps.insert(name, value),
                    None => self.steps.remove(&name),
                };
            }
            match result {
                Ok(_) => {}
                Err(Stop::Failed(error)) => {
                    failed.push(format!("{} ({}: {})", undo.step.path, error.code, error.message))
                }
                // A pause, a rejection inside an undo, a store error: the drive stops here
                // and the next one unwinds again from the journal.
                Err(other) => return Err(other),
            }
        }
        if failed.is_empty() {
            return Err(cause);
        }
        let step = match &cause {
            Stop::Failed(error) => error.step.clone(),
            _ => String::new(),
        };
        Err(Stop::Failed(RunError {
            code: "compensation_failed".into(),
            message: format!("compensation failed for {}", failed.join("; ")),
            step,
        }))
    }
}
