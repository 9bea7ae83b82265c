//! Group commit: writers apply their writes concurrently (writes of different runs do not
//! wait for each other), then wait for a sync that covers them. A waiter whose write no
//! running sync covers leads a new one (at most [`MAX_IN_FLIGHT`] at once): it syncs
//! everything fully applied so far, for itself and every writer behind it. Waiting is
//! parking until a sync wakes us, never a timer.
//!
//! **Waking.** A finished sync wakes exactly the writers it covers, which return on an
//! atomic check without touching the state's mutex, and one writer it does not cover, to
//! lead the next sync. (With a condition variable, every woken writer had to take the
//! mutex again on its way out: fifty writers queued on it one by one, each needing the
//! scheduler, and on the shared 2-core machine that queue cost more than the sync.)
//!
//! **Which writes a sync covers.** Each write takes a sequence number when it starts
//! applying ([`GroupCommit::begin`]) and reports when it is done ([`GroupCommit::finish`]).
//! Writes finish out of order, so a sync covers the *watermark*: the highest number below
//! which every write has finished (sled's `flush()` makes durable every insert that returned
//! before it was called). **Which syncs a write waits for.** A write may have read what
//! another write, still unsynced, put in sled (a slot released, a kv value, a callback
//! posted); it must not be acknowledged unless that write is durable too. Such a write
//! began before our write finished, so the write waits for every number issued before it
//! finished: its *target* is the highest number issued at that moment. So "durable(B)
//! implies durable(A)" holds whenever B could have seen A, as it did when writes were
//! applied one at a time.

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, Thread};

use crate::store::error::{StoreError, StoreResult};

/// Syncs allowed to run at the same time. Measured with 50 writers: 2 made every sync
/// cover ~3 writes instead of ~19 and lowered throughput by a third, so one it is.
/// (Re-measured once writes were applied in parallel: 11–13 writes per sync instead of
/// 17–19, throughput within the noise of the shared machine; so still one.)
pub(crate) const MAX_IN_FLIGHT: u32 = 1;

/// The shared durability state of one store.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    state: Mutex<GroupState>,
    /// A copy of `GroupState::synced`, read by woken writers without the mutex.
    synced: AtomicU64,
}

/// A parked writer.
#[derive(Debug)]
struct Sleeper {
    /// The sequence number it waits for.
    target: u64,
    thread: Thread,
}

#[derive(Debug, Default)]
struct GroupState {
    /// Highest sequence number handed out by `begin`.
    issued: u64,
    /// Writes begun and not finished.
    applying: BTreeSet<u64>,
    /// Writers waiting for a running sync (or for the next one).
    sleepers: Vec<Sleeper>,
    /// Writers that found nothing new to sync because a write they depend on is still
    /// being applied; `finish` wakes them.
    waiting_for_apply: Vec<Thread>,
    /// Highest sequence number covered by a successful sync.
    synced: u64,
    /// Syncs running now.
    in_flight: u32,
    /// Highest sequence number a started sync covers.
    started: u64,
    /// The first sync failure: the store refuses writes until reopened.
    poisoned: Option<String>,
    /// Writes finished successfully.
    writes: u64,
    /// Successful syncs so far.
    syncs: u64,
}

impl GroupState {
    /// Every write numbered at or below this has finished applying.
    fn watermark(&self) -> u64 {
        match self.applying.first() {
            Some(first) => first - 1,
            None => self.issued,
        }
    }

    /// Takes every parked writer out, to be woken (after a failure).
    fn everyone(&mut self) -> Vec<Thread> {
        let mut out: Vec<Thread> = self.sleepers.drain(..).map(|s| s.thread).collect();
        out.append(&mut self.waiting_for_apply);
        out
    }

    /// Takes out the writers a successful sync covered, and one it did not cover to lead
    /// the next sync.
    fn covered_and_next_leader(&mut self) -> Vec<Thread> {
        let synced = self.synced;
        let mut woken = Vec::new();
        let mut i = 0;
        while i < self.sleepers.len() {
            if self.sleepers[i].target <= synced {
                woken.push(self.sleepers.swap_remove(i).thread);
            } else {
                i += 1;
            }
        }
        if !self.sleepers.is_empty() {
            woken.push(self.sleepers.swap_remove(0).thread);
        }
        woken
    }
}

fn wake(threads: Vec<Thread>) {
    for thread in threads {
        thread.unpark();
    }
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
        let everyone = state.everyone();
        drop(state);
        wake(everyone);
    }

    /// A write is about to put its first key into sled: its sequence number. Called while
    /// the writer holds the locks that order it after every write it read from.
    pub(crate) fn begin(&self) -> u64 {
        let mut state = self.lock();
        state.issued += 1;
        let seq = state.issued;
        state.applying.insert(seq);
        seq
    }

    /// The write numbered `seq` is done (all of it applied, or failed: a failure poisons
    /// the store first). Returns the number its caller must wait for: the highest issued
    /// so far, which covers every write it could have read from.
    pub(crate) fn finish(&self, seq: u64, ok: bool) -> u64 {
        let mut state = self.lock();
        state.applying.remove(&seq);
        if ok {
            state.writes += 1;
        }
        let issued = state.issued;
        let waiting = std::mem::take(&mut state.waiting_for_apply);
        drop(state);
        wake(waiting);
        issued
    }

    /// The number a caller that wrote nothing must wait for: what it read may come from
    /// writes not yet synced.
    pub(crate) fn current(&self) -> u64 {
        self.lock().issued
    }

    /// Successful writes so far.
    pub(crate) fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// Successful syncs so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Returns once a sync covers `target`, leading that sync when no other is running.
    pub(crate) fn wait_durable(&self, target: u64, sync: &dyn Fn() -> io::Result<()>) -> StoreResult<()> {
        let me = thread::current();
        let mut state = self.lock();
        loop {
            if state.synced >= target {
                return Ok(());
            }
            if let Some(reason) = &state.poisoned {
                return Err(StoreError::Sync {
                    source: io::Error::other(format!("the sync covering this write failed: {reason}")),
                });
            }
            let covers = state.watermark();
            if state.started >= target || state.in_flight >= MAX_IN_FLIGHT {
                // A running sync covers us, or none may start: its end wakes us.
                state.sleepers.push(Sleeper { target, thread: me.clone() });
            } else if covers <= state.started {
                // Nothing finished since the last sync started: a write we wait for is
                // still being applied.
                state.waiting_for_apply.push(me.clone());
            } else {
                state.in_flight += 1;
                state.started = covers;
                drop(state);
                let result = sync();
                state = self.lock();
                state.in_flight -= 1;
                match result {
                    Ok(()) => {
                        // After a failed sync, a later one proves nothing about the pages
                        // the failure may have dropped: only syncs of a healthy store count.
                        if state.poisoned.is_none() {
                            state.synced = state.synced.max(covers);
                            self.synced.store(state.synced, Ordering::Release);
                        }
                        state.syncs += 1;
                        let woken = state.covered_and_next_leader();
                        drop(state);
                        wake(woken);
                        state = self.lock();
                    }
                    Err(source) => {
                        state.poisoned = Some(source.to_string());
                        let everyone = state.everyone();
                        drop(state);
                        wake(everyone);
                        return Err(StoreError::Sync { source });
                    }
                }
                continue;
            }
            drop(state);
            // Whoever takes us out of the lists unparks us; a wake-up that finds the sync
            // not covering us (spurious, or chosen to lead, or a failure) goes round again.
            thread::park();
            if self.synced.load(Ordering::Acquire) >= target {
                return Ok(());
            }
            state = self.lock();
            state.sleepers.retain(|s| s.thread.id() != me.id());
            state.waiting_for_apply.retain(|t| t.id() != me.id());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn applied(group: &GroupCommit, n: u64) -> u64 {
        let mut target = 0;
        for _ in 0..n {
            let seq = group.begin();
            target = group.finish(seq, true);
        }
        target
    }

    #[test]
    fn one_sync_covers_every_write_applied_before_it() {
        let group = GroupCommit::default();
        let target = applied(&group, 5);
        let calls = AtomicU64::new(0);
        let sync = || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        for seq in 1..=target {
            assert!(group.wait_durable(seq, &sync).is_ok());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!((group.writes(), group.syncs()), (5, 1));
    }

    #[test]
    fn a_sync_never_covers_a_write_still_being_applied() {
        let group = Arc::new(GroupCommit::default());
        let slow = group.begin();
        let fast = group.begin();
        // The fast write may have read the slow one's keys: it waits for both.
        let target = group.finish(fast, true);
        assert_eq!(target, fast);
        let covered = Arc::new(Mutex::new(Vec::new()));
        let waiter = {
            let (group, covered) = (Arc::clone(&group), Arc::clone(&covered));
            std::thread::spawn(move || {
                let sync = || {
                    let state = group.lock();
                    covered.lock().expect("covered").push(state.started);
                    Ok(())
                };
                group.wait_durable(target, &sync)
            })
        };
        // Wait (on the state, not on a timer) until the waiter is parked for the slow write.
        loop {
            let state = group.lock();
            if state.waiting_for_apply.len() == 1 {
                break;
            }
            drop(state);
            std::thread::yield_now();
        }
        assert!(covered.lock().expect("covered").is_empty(), "nothing may be synced yet");
        group.finish(slow, true);
        assert!(waiter.join().expect("waiter").is_ok());
        assert_eq!(*covered.lock().expect("covered"), vec![fast]);
    }

    #[test]
    fn a_failed_sync_poisons_and_fails_every_waiter() {
        let group = Arc::new(GroupCommit::default());
        let first = applied(&group, 1);
        let err = group.wait_durable(first, &|| Err(io::Error::other("disk gone"))).err().map(|e| e.code());
        assert_eq!(err, Some("STORE-SYNC"));
        assert_eq!(group.check_writable().err().map(|e| e.code()), Some("STORE-POISONED"));
        let second = applied(&group, 1);
        let again = group.wait_durable(second, &|| Ok(())).err().map(|e| e.code());
        assert_eq!(again, Some("STORE-SYNC"));
    }
}
