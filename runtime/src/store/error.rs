//! The store's errors, each with a stable code (`STORE-…`) documented in `docs/runtime.md`.

use std::path::PathBuf;

use crate::store::run::RunId;

/// Every code a [`StoreError`] can carry, in documentation order.
pub const STORE_ERROR_CODES: &[&str] = &[
    "STORE-IO",
    "STORE-FULL",
    "STORE-SYNC",
    "STORE-POISONED",
    "STORE-LOCKED",
    "STORE-CORRUPT",
    "STORE-FORMAT",
    "STORE-BUG",
    "STORE-RUN-UNKNOWN",
    "STORE-RUN-EXISTS",
    "STORE-RUN-CLOSED",
    "STORE-RUN-OPEN",
    "STORE-EVENT-CONFLICT",
    "STORE-SLOT-FULL",
    "STORE-CALLBACK",
    "STORE-LIMIT",
    "STORE-CRASHED",
];

/// Why a callback-related append was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackProblem {
    /// No callback was created with this token.
    Unknown,
    /// The token was already created (by another step or run).
    Exists,
    /// The token belongs to another run.
    WrongRun,
    /// Nothing was posted to the token yet, so there is nothing to consume.
    NotPosted,
    /// The post was already consumed (tokens are single use).
    Consumed,
}

/// An error from a journal store. `code()` is stable and documented; the message says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error from the disk or from sled (sled latches it: reopen the store).
    #[error(
        "store I/O error while {context}: {source}; reopen the store (a failed write's outcome is unknown: retrying the same append is safe)"
    )]
    Io {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The disk is full.
    #[error("store disk is full while {context}: {source}; free space and reopen the store")]
    Full {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// flush or fdatasync failed: writes since the last sync are of unknown outcome.
    #[error(
        "store sync failed: {source}; writes since the last sync may be lost; the store refuses writes until it is reopened"
    )]
    Sync {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A previous sync failed; the store must be reopened before it accepts writes.
    #[error("store refuses writes after a failed sync ({reason}); reopen it")]
    Poisoned {
        /// The first failure.
        reason: String,
    },
    /// Another process holds the store's lock.
    #[error("the store at {} is in use by another process{}; stop it, or go through its `weir serve` API", path.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The store directory.
        path: PathBuf,
        /// The holder's pid, read from `lock.pid`, when known.
        pid: Option<u32>,
    },
    /// A stored record could not be decoded.
    #[error("corrupt store record {what}: {detail}")]
    Corrupt {
        /// Which record (the run is named when there is one).
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// The store was written by an unknown format version.
    #[error(
        "store format {found} is not supported (this weir reads format {supported}); use a matching weir or export and import"
    )]
    Format {
        /// The version found on disk.
        found: String,
        /// The version this build reads.
        supported: String,
    },
    /// sled reported an internal bug.
    #[error("sled reported a bug: {0}; reopen the store and report it")]
    Bug(String),
    /// The run does not exist.
    #[error("run {0} is unknown")]
    RunUnknown(RunId),
    /// A run with this id exists with a different flow or creation time.
    #[error("run {0} already exists with a different flow or creation time")]
    RunExists(RunId),
    /// The run is terminal: its journal is closed.
    #[error("run {0} is finished: its journal is closed")]
    RunClosed(RunId),
    /// Only a finished run can be deleted.
    #[error("run {0} has not finished; only finished runs can be deleted")]
    RunOpen(RunId),
    /// An event with the same step identity and kind exists with another content.
    #[error("run {run}: the journal already holds a different {kind} event for step {step}")]
    EventConflict {
        /// The run.
        run: RunId,
        /// The step identity.
        step: String,
        /// The event kind.
        kind: &'static str,
    },
    /// A concurrency slot's limit is reached.
    #[error("concurrency key {key:?} has {held} of {limit} slots held")]
    SlotFull {
        /// The concurrency key.
        key: String,
        /// Slots held now.
        held: u32,
        /// The limit asked for.
        limit: u32,
    },
    /// A callback append was refused.
    #[error("run {run}: callback token refused: {problem:?}")]
    Callback {
        /// The run appending.
        run: RunId,
        /// Why.
        problem: CallbackProblem,
    },
    /// A documented limit was exceeded; nothing was written.
    #[error("store limit exceeded: {0}")]
    Limit(String),
    /// The (simulated) power was cut before this write was synced: reopen the store.
    #[error("the store crashed before this write was synced (simulated power cut); reopen it")]
    Crashed,
}

impl StoreError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "STORE-IO",
            StoreError::Full { .. } => "STORE-FULL",
            StoreError::Sync { .. } => "STORE-SYNC",
            StoreError::Poisoned { .. } => "STORE-POISONED",
            StoreError::Locked { .. } => "STORE-LOCKED",
            StoreError::Corrupt { .. } => "STORE-CORRUPT",
            StoreError::Format { .. } => "STORE-FORMAT",
            StoreError::Bug(_) => "STORE-BUG",
            StoreError::RunUnknown(_) => "STORE-RUN-UNKNOWN",
            StoreError::RunExists(_) => "STORE-RUN-EXISTS",
            StoreError::RunClosed(_) => "STORE-RUN-CLOSED",
            StoreError::RunOpen(_) => "STORE-RUN-OPEN",
            StoreError::EventConflict { .. } => "STORE-EVENT-CONFLICT",
            StoreError::SlotFull { .. } => "STORE-SLOT-FULL",
            StoreError::Callback { .. } => "STORE-CALLBACK",
            StoreError::Limit(_) => "STORE-LIMIT",
            StoreError::Crashed => "STORE-CRASHED",
        }
    }

    /// Wraps an I/O error, classifying a full disk as `STORE-FULL`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> StoreError {
        let context = context.into();
        if source.kind() == std::io::ErrorKind::StorageFull || source.raw_os_error() == Some(28) {
            StoreError::Full { context, source }
        } else {
            StoreError::Io { context, source }
        }
    }

    /// True when the outcome of the failed write is unknown (it may or may not survive):
    /// the caller may retry the same append, which is idempotent by step identity.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            StoreError::Io { .. }
                | StoreError::Full { .. }
                | StoreError::Sync { .. }
                | StoreError::Bug(_)
                | StoreError::Crashed
        )
    }
}

/// The store's result type.
pub type StoreResult<T> = Result<T, StoreError>;
