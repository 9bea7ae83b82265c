//! What the journals imply for scheduling: due timers and held concurrency slots. Both are
//! derived from journal events (kept as index entries written in the same atomic write),
//! never counted in memory, so a crash cannot leak a slot or lose a timer.

use serde::{Deserialize, Serialize};

use crate::store::event::StepId;
use crate::store::run::RunId;

/// A timer set by a run's step and not yet fired. Timers of finished runs are dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueTimer {
    /// When it is due, Unix ms.
    pub due_at_ms: u64,
    /// The run.
    pub run: RunId,
    /// The step that set it (a `TimerFired` with the same identity fires it).
    pub step: StepId,
}

/// A held concurrency slot: acquired by a run and neither released nor freed by the run
/// finishing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotHolder {
    /// The concurrency key.
    pub key: String,
    /// The run holding it.
    pub run: RunId,
    /// The step that acquired it.
    pub step: StepId,
    /// When it was acquired, Unix ms.
    pub acquired_at_ms: u64,
}
