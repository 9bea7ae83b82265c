//! A flow's `concurrency max N [per KEY] queue|skip|cancel-previous` at run time
//! (design.md §5: slots derived from journals).
//!
//! Before a run's first drive, it takes a slot of its key: `SlotAcquired` at `@run/slot`,
//! which the store checks against the limit atomically with the append (a slot is held iff
//! acquired and not released, and a finished run's slots are dropped with its end). When the
//! key is full: `queue` leaves the run `queued` (`weir resume` admits queued runs, oldest
//! first, as slots free up); `skip` ends it `cancelled` without running anything; and
//! `cancel-previous` cancels the oldest run holding the key, then takes its slot. A replay
//! takes the decision from the journal.

use super::{InterpError, Interpreter, Outcome, RunError};
use crate::store::{Append, Event, EventKind, NewEvent, RunId, RunStatus, StepId, StoreError};
use weir_bytecode::{Bytecode, Concurrency, MapEnv, OverflowPolicy, Value, eval};

/// The identity of a run's slot.
const SLOT: &str = "@run/slot";

impl Interpreter<'_> {
    /// Takes the run's concurrency slot if it has none yet. `Some(outcome)` when the run must
    /// not be driven now (queued, or skipped).
    pub(super) fn admit(
        &self,
        id: RunId,
        bytecode: &Bytecode,
        journal: &[Event],
        input: &Value,
    ) -> Result<Option<Outcome>, InterpError> {
        let program = &bytecode.program;
        let Concurrency::Max { max, per, policy } = &program.flow.concurrency else { return Ok(None) };
        if journal.iter().any(|e| e.step.path == SLOT && matches!(e.kind, EventKind::SlotAcquired { .. })) {
            return Ok(None);
        }
        let env = MapEnv::default().with("input", input.clone());
        let limit = match eval(program, &env, *max) {
            Ok(Value::Int(n)) => u32::try_from(n.max(1)).unwrap_or(u32::MAX),
            _ => 1,
        };
        let mut key = bytecode.header.slug.clone();
        if let Some(per) = per {
            let value = eval(program, &env, *per).map_err(|e| InterpError::Input(e.message))?;
            key.push('=');
            key.push_str(&weir_bytecode::eval::to_json(&value).unwrap_or_else(|_| value.to_string()));
        }
        if let Some(oracle) = self.replay {
            // The journal says what happened: admitted, skipped, or still queued.
            let step = StepId::new(SLOT, 0, 0);
            if oracle.find(&step, &EventKind::SlotAcquired { key: String::new(), limit: 0 }).is_some() {
                return Ok(None);
            }
            let skipped = oracle
                .find(&StepId::new("@end", 0, 0), &EventKind::StepFailed)
                .and_then(|e| serde_json::from_slice::<RunError>(&e.payload).ok())
                .is_some_and(|e| e.message.starts_with("skipped"));
            if skipped {
                return Ok(Some(Outcome::Skipped { key }));
            }
            return Err(InterpError::Store(StoreError::Limit(super::replay::REPLAY_END.to_string())));
        }
        let acquire = || {
            let event = NewEvent {
                step: StepId::new(SLOT, 0, 0),
                kind: EventKind::SlotAcquired { key: key.clone(), limit },
                payload: Vec::new(),
            };
            let status = Some(RunStatus::Running);
            self.store.append(id, &Append { at_ms: self.clock.now_ms(), events: vec![event], status })
        };
        match acquire() {
            Ok(_) => Ok(None),
            Err(StoreError::SlotFull { held, .. }) => match policy {
                OverflowPolicy::Queue => {
                    let at_ms = self.clock.now_ms();
                    let status = Some(RunStatus::Queued);
                    self.store.append(id, &Append { at_ms, events: Vec::new(), status })?;
                    Ok(Some(Outcome::Queued { key, held }))
                }
                OverflowPolicy::Skip => {
                    let reason =
                        format!("skipped: {held} run(s) hold the concurrency key `{key}` (policy skip)");
                    self.cancel(id, &reason)?;
                    Ok(Some(Outcome::Skipped { key }))
                }
                OverflowPolicy::CancelPrevious => {
                    let holders = self.store.slot_holders(&key)?;
                    let oldest =
                        holders.iter().filter(|h| h.run != id).min_by_key(|h| (h.acquired_at_ms, h.run));
                    if let Some(previous) = oldest {
                        let reason = format!("cancelled by the newer run {} (policy cancel-previous)", id.0);
                        self.cancel(previous.run, &reason)?;
                    }
                    acquire()?;
                    Ok(None)
                }
            },
            Err(e) => Err(InterpError::Store(e)),
        }
    }
}
