//! Runs: their identity, status and record, and the query that finds them.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identity of a run: a UUID, v7 when generated here so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(pub Uuid);

impl RunId {
    /// A new time-ordered id for a run created at `unix_ms`.
    pub fn generate(unix_ms: u64) -> RunId {
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            unix_ms / 1000,
            u32::try_from((unix_ms % 1000) * 1_000_000).unwrap_or(0),
        );
        RunId(Uuid::new_v7(ts))
    }

    /// A run id from raw bytes (tests and replays use fixed ids).
    pub fn from_u128(value: u128) -> RunId {
        RunId(Uuid::from_u128(value))
    }

    /// The 16 bytes of the id, as stored in keys.
    pub fn to_bytes(self) -> [u8; 16] {
        *self.0.as_bytes()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Where a run is in its life. The last four are terminal: the journal is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RunStatus {
    /// Created, not yet picked up.
    Queued,
    /// Being driven by an interpreter.
    Running,
    /// Waiting for a timer, a callback or an approval.
    Paused,
    /// A write step's outcome is unknown: a human must retry it or mark it done.
    NeedsDecision,
    /// Finished successfully.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Ended by an approval's rejection (or a timeout whose default is reject) that its
    /// `on reject` did not turn into another outcome.
    Rejected,
}

impl RunStatus {
    /// Every status, in index order.
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Paused,
        RunStatus::NeedsDecision,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Rejected,
    ];

    /// The status as people and JSON write it (`needs_decision`).
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::NeedsDecision => "needs_decision",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Rejected => "rejected",
        }
    }

    /// The status a [`RunStatus::name`] stands for.
    pub fn from_name(name: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.name() == name)
    }

    /// True when the run is over and its journal closed.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled | RunStatus::Rejected)
    }

    /// The byte that stands for this status in index keys.
    pub fn tag(self) -> u8 {
        match self {
            RunStatus::Queued => 0,
            RunStatus::Running => 1,
            RunStatus::Paused => 2,
            RunStatus::NeedsDecision => 3,
            RunStatus::Succeeded => 4,
            RunStatus::Failed => 5,
            RunStatus::Cancelled => 6,
            RunStatus::Rejected => 7,
        }
    }
}

/// What the caller gives to create a run. Time comes from the caller's clock, so replays
/// and tests are deterministic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRun {
    /// The run's id.
    pub id: RunId,
    /// The flow slug the run executes.
    pub flow: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
}

/// The stored summary of a run, kept atomically in step with its journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub id: RunId,
    /// The flow slug.
    pub flow: String,
    /// The current status.
    pub status: RunStatus,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Time of the last append, Unix milliseconds.
    pub updated_at_ms: u64,
    /// Number of events in the journal.
    pub journal_len: u32,
}

/// A query over runs. Empty filters match everything; results are ordered by creation
/// time, then id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunQuery {
    /// Only runs of this flow.
    pub flow: Option<String>,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs created at or after this time (Unix ms).
    pub created_from_ms: Option<u64>,
    /// Only runs created before this time (Unix ms).
    pub created_before_ms: Option<u64>,
    /// At most this many runs (0 means no limit).
    pub limit: usize,
}

impl RunQuery {
    /// True when `run` passes every filter.
    pub fn matches(&self, run: &RunRecord) -> bool {
        self.flow.as_deref().is_none_or(|f| f == run.flow)
            && self.status.is_none_or(|s| s == run.status)
            && self.created_from_ms.is_none_or(|t| run.created_at_ms >= t)
            && self.created_before_ms.is_none_or(|t| run.created_at_ms < t)
    }
}
