//! Named crash points of the interpreter, for kill -9 tests (reliability-tests.md R1): a
//! test's hook may kill the process the k-th time a point is reached. With the store's
//! points ([`crate::store::CrashPoint`]) they cover the moments where a crash is interesting.

use std::sync::Arc;

/// A point in a drive where a crash is interesting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InterpPoint {
    /// A write's `started` is journaled; its request has not gone out.
    AfterStarted,
    /// The effect happened (the response arrived); its outcome is not journaled.
    AfterEffect,
    /// A timer is due; its `fired` is not journaled.
    BeforeTimerFired,
    /// A branch of a `parallel` finished; its siblings may still be running.
    InParallel,
    /// A decision is journaled; the run has not been driven on it.
    AfterVote,
}

impl InterpPoint {
    /// Every point.
    pub const ALL: [InterpPoint; 5] = [
        InterpPoint::AfterStarted,
        InterpPoint::AfterEffect,
        InterpPoint::BeforeTimerFired,
        InterpPoint::InParallel,
        InterpPoint::AfterVote,
    ];

    /// The point's name, as written in `WEIR_CRASH_AT=<name>:<k>`.
    pub fn name(self) -> &'static str {
        match self {
            InterpPoint::AfterStarted => "after-started",
            InterpPoint::AfterEffect => "after-effect",
            InterpPoint::BeforeTimerFired => "before-timer-fired",
            InterpPoint::InParallel => "in-parallel",
            InterpPoint::AfterVote => "after-vote",
        }
    }

    /// Parses a name written by [`InterpPoint::name`].
    pub fn parse(name: &str) -> Option<InterpPoint> {
        InterpPoint::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Called at each crash point; a test hook may end the process there.
pub type InterpHook = Arc<dyn Fn(InterpPoint) + Send + Sync>;

/// Hooks from `WEIR_CRASH_AT=<point>:<k>` (a store or an interpreter point): the process
/// kills itself with SIGKILL the k-th time the point is reached. For the kill -9 tests
/// only: the `weir` binary reads it in debug builds, never in release builds.
pub fn hooks_from_env() -> (Option<crate::store::CrashHook>, Option<InterpHook>) {
    let Some((name, k)) = std::env::var("WEIR_CRASH_AT").ok().and_then(|spec| {
        let (name, k) = spec.split_once(':')?;
        Some((name.to_string(), k.parse::<u64>().ok()?))
    }) else {
        return (None, None);
    };
    let hits = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let die = move || {
        if hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == k {
            // A real kill -9: no destructor, no flush, no unwinding.
            let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
            std::process::abort();
        }
    };
    if let Some(point) = crate::store::CrashPoint::parse(&name) {
        return (
            Some(Arc::new(move |at| {
                if at == point {
                    die()
                }
            })),
            None,
        );
    }
    if let Some(point) = InterpPoint::parse(&name) {
        return (
            None,
            Some(Arc::new(move |at| {
                if at == point {
                    die()
                }
            })),
        );
    }
    (None, None)
}
