//! `call SLUG[@RANGE] { input … }` at run time: a linked child run.
//!
//! The callee is resolved when the call starts, against the project's compiled flows (the
//! highest version in the range; releases come with the server), and its program is pinned:
//! the call's `started` event holds the child's id, the callee's version and its program's
//! hash. The child's id is derived from the parent's id and the call's identity, so a
//! resumed parent finds the same child. The child is driven in the same process; its outcome
//! is the call's (a failed child fails the call, catchably). A child that pauses pauses its
//! parent; when a child finishes, its parent is marked `running` so that `weir resume`
//! drives it on, and `weir approve`/`weir callback` drive it at once.

use super::{InterpError, Interpreter, Outcome, Run, RunError, Stop};
use crate::store::{Append, EventKind, NewEvent, ResourceHash, RunId, RunStatus, StepId};
use serde::{Deserialize, Serialize};
use weir_bytecode::{Bytecode, CallStep, Value};

/// What a call's `started` event holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Started {
    /// The child run.
    child: String,
    /// The callee's slug and version.
    flow: String,
    version: String,
    /// The SHA-256 of the callee's program (stored as a resource).
    program: String,
    /// The step's `timeout`: when the call gives up on the child (Unix ms).
    #[serde(default)]
    due_at_ms: Option<u64>,
}

/// The run that called the run of this journal (its `@run/parent` link), if any.
pub(super) fn parent_in(journal: &[crate::store::Event]) -> Option<RunId> {
    journal
        .iter()
        .find(|e| e.step.path == super::PARENT)
        .and_then(|e| serde_json::from_slice::<serde_json::Value>(&e.payload).ok())
        .and_then(|link| link["run"].as_str().and_then(|s| s.parse::<uuid::Uuid>().ok()))
        .map(RunId)
}

/// The child run of the call at `step` of run `parent`.
fn child_id(parent: RunId, step: &StepId) -> RunId {
    let mut seed = parent.to_bytes().to_vec();
    seed.extend_from_slice(b"call");
    seed.extend_from_slice(&step.encode());
    let digest = weir_bytecode::sha256(&seed);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // A version 8 (custom) UUID.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    RunId(uuid::Uuid::from_bytes(bytes))
}

impl Interpreter<'_> {
    /// The run that called `id` (`call`), if any.
    pub fn parent_of(&self, id: RunId) -> Result<Option<RunId>, InterpError> {
        Ok(parent_in(&self.store.journal(id, 0)?))
    }

    /// When a child run has just finished, its parent (`parent_in` its journal) can go on:
    /// marked `running` so that `weir resume` drives it.
    pub(super) fn wake_parent(&self, parent: Option<RunId>) -> Result<(), InterpError> {
        if self.replay.is_some() {
            return Ok(());
        }
        if let Some(parent) = parent
            && let Some(record) = self.store.run(parent)?
            && record.status == RunStatus::Paused
        {
            let at_ms = self.clock.now_ms();
            self.store
                .append(parent, &Append { at_ms, events: Vec::new(), status: Some(RunStatus::Running) })?;
        }
        Ok(())
    }

    /// The highest version of `flow` in `range` among the project's flows.
    fn resolve_callee(&self, flow: &str, range: Option<&str>) -> Result<&Bytecode, String> {
        let requirement = match range {
            Some(range) => Some(
                semver::VersionReq::parse(range)
                    .map_err(|e| format!("`{range}` is not a version range: {e}"))?,
            ),
            None => None,
        };
        self.library
            .iter()
            .filter(|b| b.header.slug == flow)
            .filter(|b| requirement.as_ref().is_none_or(|r| r.matches(&b.header.flow_version)))
            .max_by(|a, b| a.header.flow_version.cmp(&b.header.flow_version))
            .ok_or_else(|| match range {
                Some(range) => format!("no flow `{flow}` matching `{range}` in this project"),
                None => format!("no flow `{flow}` in this project"),
            })
    }
}

impl Run<'_, '_, '_> {
    /// Runs (or continues) the child run of a `call`; its output is the call's.
    pub(super) fn call_step(&mut self, call: &CallStep, id: &StepId) -> Result<Value, Stop> {
        let child = child_id(self.id, id);
        let started = match self.recorded(id, &EventKind::StepStarted) {
            Some(event) => serde_json::from_slice::<Started>(&event.payload).map_err(|e| {
                Stop::Failed(RunError {
                    code: "journal".into(),
                    message: format!("the journaled start of call `{}` cannot be read: {e}", id.path),
                    step: id.path.clone(),
                })
            })?,
            None => {
                let callee = match self.interp.resolve_callee(&call.flow, call.range.as_deref()) {
                    Ok(callee) => callee,
                    Err(message) => return self.step_failed(id, "call_unresolved", message),
                };
                let encoded = match weir_bytecode::encode(callee) {
                    Ok(bytes) => bytes,
                    Err(e) => return self.step_failed(id, "call_unresolved", e.to_string()),
                };
                let now = self.interp.clock.now_ms();
                let meta = self.interp.store.put_resource(super::PROGRAM_MEDIA_TYPE, &encoded, now)?;
                let due_at_ms = match call.policy.timeout.map(|t| self.eval(t)) {
                    Some(Ok(Value::Duration(ms))) => Some(now.saturating_add(u64::try_from(ms).unwrap_or(0))),
                    Some(Err(e)) => return self.fail(e),
                    _ => None,
                };
                let started = Started {
                    child: child.0.to_string(),
                    flow: callee.header.slug.clone(),
                    version: callee.header.flow_version.to_string(),
                    program: meta.hash.to_hex(),
                    due_at_ms,
                };
                let payload = serde_json::to_vec(&started).unwrap_or_default();
                let mut events = vec![NewEvent { step: id.clone(), kind: EventKind::StepStarted, payload }];
                // A durable timer at the deadline wakes the (paused) caller to give up.
                if let Some(due_at_ms) = due_at_ms {
                    events.push(NewEvent {
                        step: timeout_id(id),
                        kind: EventKind::TimerScheduled { due_at_ms },
                        payload: Vec::new(),
                    });
                }
                self.append_at(now, events)?;
                (self.report)(&format!(
                    "call {} starts {} {} as run {}",
                    id.path, started.flow, started.version, child.0
                ));
                started
            }
        };
        let bytecode = ResourceHash::from_hex(&started.program)
            .map(|hash| self.interp.store.get_resource(&hash))
            .transpose()?
            .flatten()
            .and_then(|resource| weir_bytecode::decode(&resource.bytes).ok());
        let Some(bytecode) = bytecode else {
            return self.step_failed(
                id,
                "call_unresolved",
                format!("the program of `{}` is missing", started.flow),
            );
        };
        let input = match call.input.map(|e| self.eval(e)).transpose() {
            Ok(input) => input.unwrap_or(Value::Record(Vec::new())),
            Err(e) => return self.fail(e),
        };
        if let Some(due) = started.due_at_ms
            && self.interp.clock.now_ms() >= due
        {
            return self.call_timed_out(id, child, &started.flow);
        }
        let mut lines = Vec::new();
        let driven = match self.interp.store.run(child)? {
            Some(_) => self.interp.resume(child, &bytecode, &mut |l| lines.push(l.to_string())),
            None => self
                .interp
                .create(&bytecode, input, Some(child), None, Some((self.id, id)), RunStatus::Running)
                .and_then(|child| self.interp.drive(child, &bytecode, &mut |l| lines.push(l.to_string()))),
        };
        for line in lines {
            (self.report)(&format!("  {line}"));
        }
        let outcome = match driven {
            Ok(outcome) => outcome,
            Err(InterpError::Store(e)) => return Err(Stop::Store(e)),
            Err(e) => return self.step_failed(id, "call_failed", e.to_string()),
        };
        match outcome {
            Outcome::Succeeded(value) => Ok(value),
            Outcome::Failed(error) => self.step_failed(
                id,
                &error.code,
                format!("the called flow `{}` failed at {}: {}", started.flow, error.step, error.message),
            ),
            Outcome::Rejected { approval, by, .. } => self.step_failed(
                id,
                "rejected",
                format!("the called flow `{}` was rejected at `{approval}` by {by}", started.flow),
            ),
            Outcome::Skipped { key } => self.step_failed(
                id,
                "skipped",
                format!(
                    "the called flow `{}` was skipped: its concurrency key `{key}` is full",
                    started.flow
                ),
            ),
            Outcome::Paused(_) | Outcome::Queued { .. }
                if started.due_at_ms.is_some_and(|due| self.interp.clock.now_ms() >= due) =>
            {
                self.call_timed_out(id, child, &started.flow)
            }
            Outcome::Paused(mut waiting) => {
                waiting.run.get_or_insert(child.0.to_string());
                Err(Stop::Paused(Box::new(waiting)))
            }
            Outcome::Queued { .. } => Err(Stop::Paused(Box::new(super::Waiting {
                kind: "call".into(),
                name: started.flow.clone(),
                step: id.path.clone(),
                deciders: Vec::new(),
                excluded: Vec::new(),
                inputs: Vec::new(),
                min: 0,
                approvals: 0,
                due_at_ms: 0,
                summary: Some(format!("the called run {} waits for a concurrency slot", child.0)),
                url: None,
                run: Some(child.0.to_string()),
            }))),
            Outcome::NeedsDecision { step } => Err(Stop::NeedsDecision(format!("{}:{step}", child.0))),
        }
    }

    /// The call's `timeout` passed before its child finished: the child is cancelled and
    /// the call fails with code `timeout` (catchable).
    fn call_timed_out(&mut self, id: &StepId, child: RunId, flow: &str) -> Result<Value, Stop> {
        if self.interp.replay.is_none() {
            match self.interp.cancel(child, &format!("the calling step `{}` timed out", id.path)) {
                Ok(_) | Err(InterpError::Journal(_)) => {}
                Err(InterpError::Store(e)) => return Err(Stop::Store(e)),
                Err(e) => return self.step_failed(id, "call_failed", e.to_string()),
            }
        }
        if self.recorded(&timeout_id(id), &EventKind::TimerFired).is_none() {
            self.append(vec![NewEvent {
                step: timeout_id(id),
                kind: EventKind::TimerFired,
                payload: Vec::new(),
            }])?;
        }
        self.step_failed(
            id,
            "timeout",
            format!("the called flow `{flow}` did not finish before the step's timeout"),
        )
    }
}

/// The identity of a call's timeout timer.
fn timeout_id(id: &StepId) -> StepId {
    StepId::new(format!("{}/timeout", id.path), id.iteration, 0)
}
