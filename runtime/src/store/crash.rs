//! Named crash points inside the durable write path, for kill -9 tests: a test installs a
//! hook that kills its own process at the k-th time a point is reached.

use std::sync::Arc;

/// A point in the write path where a crash is interesting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// A write is applied to sled's memory, not yet synced; other writers may be in the
    /// same group.
    DuringGroup,
    /// The group's leader is about to flush and sync.
    BeforeSync,
    /// sled's flush returned; the fdatasync has not run yet.
    BetweenFlushAndSync,
    /// The sync returned; no writer has been acknowledged yet.
    AfterSync,
}

impl CrashPoint {
    /// Every point.
    pub const ALL: [CrashPoint; 4] = [
        CrashPoint::DuringGroup,
        CrashPoint::BeforeSync,
        CrashPoint::BetweenFlushAndSync,
        CrashPoint::AfterSync,
    ];

    /// The point's name, as written in `WEIR_CRASH_AT=<name>:<k>`.
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::DuringGroup => "during-group",
            CrashPoint::BeforeSync => "before-sync",
            CrashPoint::BetweenFlushAndSync => "between-flush-and-sync",
            CrashPoint::AfterSync => "after-sync",
        }
    }

    /// Parses a name written by [`CrashPoint::name`].
    pub fn parse(name: &str) -> Option<CrashPoint> {
        CrashPoint::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Called at each crash point; a test hook may end the process there.
pub type CrashHook = Arc<dyn Fn(CrashPoint) + Send + Sync>;
