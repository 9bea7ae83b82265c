//! Group commit: writers apply their batches one at a time, then wait for a sync that
//! covers their sequence number. A waiter whose write no running sync covers leads a new
//! one (at most [`MAX_IN_FLIGHT`] at once): it syncs everything applied so far, for itself
//! and every writer behind it. Waiting is on a condition variable signalled by the syncs,
//! never on a timer.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::store::error::{StoreError, StoreResult};

/// Syncs allowed to run at the same time. Measured with 50 writers: 2 made every sync
/// cover ~3 writes instead of ~19 and lowered throughput by a third, so one it is.
/// (Waking only the covered writers instead of all of them was measured too: no gain.)
pub(crate) const MAX_IN_FLIGHT: u32 = 1;

/// The shared durability state of one store.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    state: Mutex<GroupState>,
    synced: Condvar,
}

#[derive(Debug, Default)]
struct GroupState {
    /// Highest sequence number whose write is applied (in memory).
    applied: u64,
    /// Highest sequence number covered by a successful sync.
    synced: u64,
    /// Syncs running now.
    in_flight: u32,
    /// Highest sequence number a started sync covers.
    started: u64,
    /// The first sync failure: the store refuses writes until reopened.
    poisoned: Option<String>,
    /// Successful syncs so far.
    syncs: u64,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails when an earlier sync failed: writes must wait for a reopen.
    pub(crate) fn check_writable(&self) -> StoreResult<()> {
        match &self.lock().poisoned {
            Some(reason) => Err(StoreError::Poisoned { reason: reason.clone() }),
            None => Ok(()),
        }
    }

    /// Refuses writes from now on (a write failed half-applied), until the store is reopened.
    pub(crate) fn poison(&self, reason: String) {
        let mut state = self.lock();
        state.poisoned.get_or_insert(reason);
        self.synced.notify_all();
    }

    /// Records that the write numbered `seq` is applied. Called by the single writer, in
    /// order.
    pub(crate) fn applied(&self, seq: u64) {
        let mut state = self.lock();
        state.applied = state.applied.max(seq);
    }

    /// Successful syncs so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Returns once a sync covers `seq`, leading that sync when no other is running.
    pub(crate) fn wait_durable(&self, seq: u64, sync: &dyn Fn() -> io::Result<()>) -> StoreResult<()> {
        let mut state = self.lock();
        loop {
            if state.synced >= seq {
                return Ok(());
            }
            if let Some(reason) = &state.poisoned {
                return Err(StoreError::Sync {
                    source: io::Error::other(format!("the sync covering this write failed: {reason}")),
                });
            }
            if state.started >= seq || state.in_flight >= MAX_IN_FLIGHT {
                state = self.synced.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.in_flight += 1;
            let target = state.applied;
            state.started = target;
            drop(state);
            let result = sync();
            state = self.lock();
            state.in_flight -= 1;
            match result {
                Ok(()) => {
                    // After a failed sync, a later one proves nothing about the pages the
                    // failure may have dropped: only syncs of a healthy store count.
                    if state.poisoned.is_none() {
                        state.synced = state.synced.max(target);
                    }
                    state.syncs += 1;
                    self.synced.notify_all();
                }
                Err(source) => {
                    state.poisoned = Some(source.to_string());
                    self.synced.notify_all();
                    return Err(StoreError::Sync { source });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn one_sync_covers_every_write_applied_before_it() {
        let group = GroupCommit::default();
        for seq in 1..=5 {
            group.applied(seq);
        }
        let calls = AtomicU64::new(0);
        let sync = || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        for seq in 1..=5 {
            assert!(group.wait_durable(seq, &sync).is_ok());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_sync_poisons_and_fails_every_waiter() {
        let group = Arc::new(GroupCommit::default());
        group.applied(1);
        let err = group.wait_durable(1, &|| Err(io::Error::other("disk gone"))).err().map(|e| e.code());
        assert_eq!(err, Some("STORE-SYNC"));
        assert_eq!(group.check_writable().err().map(|e| e.code()), Some("STORE-POISONED"));
        group.applied(2);
        let again = group.wait_durable(2, &|| Ok(())).err().map(|e| e.code());
        assert_eq!(again, Some("STORE-SYNC"));
    }
}
