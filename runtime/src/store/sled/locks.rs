//! The write locks of the sled store. Writes of different runs are applied concurrently
//! (sled's single-key inserts are); what must be atomic is each write's read-check-write,
//! and only some checks look across runs:
//!
//! - a **run lock** (one of [`RUN_STRIPES`] mutexes, chosen by the run id) orders every
//!   write of one run: its record, journal, status and timer indexes are only written under
//!   it, and it guards the run's in-memory state (`run_state`);
//! - the **cross-run lock** orders the writes whose checks read other runs' keys: slot
//!   acquisition and release (the holder count), callback creation, posting and consumption
//!   (single use), and a run becoming terminal (it drops its slots, and a post checks that
//!   the run is unfinished);
//! - the **content lock** orders kv, resource and header writes, which belong to no run.
//!
//! Order: a run lock, then the cross-run lock; the content lock is never held with
//! another. Applying a multi-key write through an intent also takes the store's `visible`
//! lock (readers wait for it), inside all of these.

use std::sync::{Mutex, MutexGuard};

use crate::store::run::RunId;
use crate::store::sled::run_state::Stripe;

/// Run-lock stripes. Two runs that share a stripe only wait for each other; with 1,024
/// stripes, 50 concurrent runs share one about once.
pub(crate) const RUN_STRIPES: usize = 1024;

/// The store's write locks.
#[derive(Debug)]
pub(crate) struct WriteLocks {
    runs: Box<[Mutex<Stripe>]>,
    cross_run: Mutex<()>,
    content: Mutex<()>,
}

/// What a write of a run holds while it is built and applied; dropped (the cross-run lock
/// first) before it waits for its sync.
pub(crate) struct RunHeld<'a> {
    _cross_run: Option<MutexGuard<'a, ()>>,
    stripe: MutexGuard<'a, Stripe>,
}

impl RunHeld<'_> {
    /// The run states of the locked stripe.
    pub(crate) fn stripe(&mut self) -> &mut Stripe {
        &mut self.stripe
    }
}

fn take<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic under a lock could leave a run's in-memory state behind sled only between
    // applying a write and recording it, where nothing panics; so poisoning is ignored.
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for WriteLocks {
    fn default() -> WriteLocks {
        WriteLocks {
            runs: (0..RUN_STRIPES).map(|_| Mutex::new(Stripe::default())).collect(),
            cross_run: Mutex::new(()),
            content: Mutex::new(()),
        }
    }
}

impl WriteLocks {
    fn stripe(run: RunId) -> usize {
        let bits = run.0.as_u128();
        let folded = (bits as u64) ^ ((bits >> 64) as u64);
        // Fibonacci hashing: the top bits of the product mix every input bit.
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize % RUN_STRIPES
    }

    /// The locks of a write to `run`; `cross_run` when its checks read other runs' keys.
    pub(crate) fn run(&self, run: RunId, cross_run: bool) -> RunHeld<'_> {
        let stripe = take(&self.runs[WriteLocks::stripe(run)]);
        RunHeld { _cross_run: cross_run.then(|| take(&self.cross_run)), stripe }
    }

    /// The cross-run lock alone (posting to a callback).
    pub(crate) fn cross_run(&self) -> MutexGuard<'_, ()> {
        take(&self.cross_run)
    }

    /// The content lock (kv, resources, the store header).
    pub(crate) fn content(&self) -> MutexGuard<'_, ()> {
        take(&self.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_spread_sequential_and_random_ids() {
        let mut used = std::collections::BTreeSet::new();
        for i in 0..50u128 {
            used.insert(WriteLocks::stripe(RunId::from_u128(1000 + i)));
        }
        assert!(used.len() >= 45, "{} stripes for 50 sequential ids", used.len());
        let mut used = std::collections::BTreeSet::new();
        for ms in 0..50u64 {
            used.insert(WriteLocks::stripe(RunId::generate(1_700_000_000_000 + ms)));
        }
        assert!(used.len() >= 45, "{} stripes for 50 generated ids", used.len());
    }
}
