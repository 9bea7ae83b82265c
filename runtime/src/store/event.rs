//! The journal's event envelope: a run, a stable step identity, a kind and opaque payload.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::store::callback::TokenHash;
use crate::store::run::{RunId, RunRecord, RunStatus};

/// The stable identity of a step execution: where in the flow (path, with the iterations of
/// enclosing loops written into it), which iteration of its own loop, which attempt. Events
/// are keyed by it, never by arrival order, so a retried append is recognised.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StepId {
    /// The step path, e.g. `main/fetch` or `main/each[3]/notify`.
    pub path: String,
    /// The iteration of the step's innermost loop (0 outside loops).
    pub iteration: u32,
    /// The attempt number (0 for the first try).
    pub attempt: u32,
}

impl StepId {
    /// A step identity.
    pub fn new(path: impl Into<String>, iteration: u32, attempt: u32) -> StepId {
        StepId { path: path.into(), iteration, attempt }
    }

    /// The byte encoding used in keys: u16 length, path, iteration, attempt (big endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.path.len() + 10);
        let len = u16::try_from(self.path.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(self.path.as_bytes());
        out.extend_from_slice(&self.iteration.to_be_bytes());
        out.extend_from_slice(&self.attempt.to_be_bytes());
        out
    }

    /// Reads an identity written by [`StepId::encode`] at the start of `bytes`; returns it
    /// and the number of bytes used.
    pub fn decode(bytes: &[u8]) -> Option<(StepId, usize)> {
        let len = usize::from(u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?));
        let path = std::str::from_utf8(bytes.get(2..2 + len)?).ok()?.to_owned();
        let rest = bytes.get(2 + len..2 + len + 8)?;
        let iteration = u32::from_be_bytes(rest[..4].try_into().ok()?);
        let attempt = u32::from_be_bytes(rest[4..].try_into().ok()?);
        Some((StepId { path, iteration, attempt }, 2 + len + 8))
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}@{}", self.path, self.iteration, self.attempt)
    }
}

/// What happened. Kinds that carry fields also maintain an index atomically with the
/// journal (timers, callbacks, concurrency slots); the rest is opaque payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// The run started; the payload is its input.
    RunStarted,
    /// A write or irreversible step is about to run its effect.
    StepStarted,
    /// A step completed; the payload is its output.
    StepCompleted,
    /// A step failed; the payload is its error.
    StepFailed,
    /// A recorded nondeterministic value (`now()`, `uuid()`).
    ValueRecorded,
    /// A durable timer is set; it is due at this time (Unix ms) until fired.
    TimerScheduled {
        /// When the timer is due.
        due_at_ms: u64,
    },
    /// The timer set by the same step identity fired.
    TimerFired,
    /// A callback token (stored only as its hash) now accepts one post.
    CallbackCreated {
        /// The token's hash.
        token: TokenHash,
        /// After this time a post is refused as expired.
        expires_at_ms: u64,
    },
    /// The posted callback was received and consumed (single use).
    CallbackReceived {
        /// The token's hash.
        token: TokenHash,
    },
    /// An approval was decided; the payload holds the decision.
    ApprovalDecided,
    /// A concurrency slot of `key` is taken by this run, if fewer than `limit` are held.
    SlotAcquired {
        /// The concurrency key.
        key: String,
        /// The key's limit, checked atomically with the append.
        limit: u32,
    },
    /// This run's slot of `key` is given back.
    SlotReleased {
        /// The concurrency key.
        key: String,
    },
    /// The run's undo (compensation) began.
    UndoRun,
}

impl EventKind {
    /// The byte that stands for this kind in identity keys.
    pub fn tag(&self) -> u8 {
        match self {
            EventKind::RunStarted => 0,
            EventKind::StepStarted => 1,
            EventKind::StepCompleted => 2,
            EventKind::StepFailed => 3,
            EventKind::ValueRecorded => 4,
            EventKind::TimerScheduled { .. } => 5,
            EventKind::TimerFired => 6,
            EventKind::CallbackCreated { .. } => 7,
            EventKind::CallbackReceived { .. } => 8,
            EventKind::ApprovalDecided => 9,
            EventKind::SlotAcquired { .. } => 10,
            EventKind::SlotReleased { .. } => 11,
            EventKind::UndoRun => 12,
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RunStarted => "run-started",
            EventKind::StepStarted => "step-started",
            EventKind::StepCompleted => "step-completed",
            EventKind::StepFailed => "step-failed",
            EventKind::ValueRecorded => "value-recorded",
            EventKind::TimerScheduled { .. } => "timer-scheduled",
            EventKind::TimerFired => "timer-fired",
            EventKind::CallbackCreated { .. } => "callback-created",
            EventKind::CallbackReceived { .. } => "callback-received",
            EventKind::ApprovalDecided => "approval-decided",
            EventKind::SlotAcquired { .. } => "slot-acquired",
            EventKind::SlotReleased { .. } => "slot-released",
            EventKind::UndoRun => "undo-run",
        }
    }
}

/// An event to append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The step identity it belongs to.
    pub step: StepId,
    /// What happened.
    pub kind: EventKind,
    /// Opaque bytes (the interpreter's encoding of values).
    pub payload: Vec<u8>,
}

/// A journaled event, as read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The run.
    pub run: RunId,
    /// Position in the journal (0-based), stable forever.
    pub index: u32,
    /// Time of the append that wrote it, Unix ms.
    pub at_ms: u64,
    /// The step identity.
    pub step: StepId,
    /// What happened.
    pub kind: EventKind,
    /// Opaque bytes.
    pub payload: Vec<u8>,
}

/// One atomic, durable append: events plus an optional status change, with every index the
/// events imply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Append {
    /// The caller's clock, Unix ms.
    pub at_ms: u64,
    /// Events in order; an event whose (step, kind) is already journaled with the same
    /// content is skipped, with different content it is a conflict.
    pub events: Vec<NewEvent>,
    /// The run's new status, if it changes.
    pub status: Option<RunStatus>,
}

/// What an append did, returned once it is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Journal index of each event of the append, new or already there, in order.
    pub indexes: Vec<u32>,
    /// How many events were new.
    pub appended: u32,
    /// The run's record after the append.
    pub run: RunRecord,
}
