//! The in-memory state of the runs being written: each run's record and the identity index
//! of its journal (step identity and kind → journal index), kept under the run's lock.
//!
//! The identity index is a fold of the journal, so it is not stored: it is built from the
//! journal the first time a run is written after the store opens (or after its state was
//! dropped to bound memory), and kept up to date by every append. This is what lets a plain
//! append write two keys (the event, the record) and read none. The state is correct
//! because every write of a run's record and journal happens under the run's lock and goes
//! through it, after the open has recovered any intent; it is updated only once the write
//! it describes is applied (a failed application poisons the store, which must then be
//! reopened with fresh state).

use std::collections::HashMap;

use crate::store::error::StoreResult;
use crate::store::event::StepId;
use crate::store::run::{RunId, RunRecord};
use crate::store::sled::codec::{self, sled_error};
use crate::store::sled::{journal, keys};

/// Runs whose state a lock stripe keeps; the least recently written is dropped first.
pub(crate) const RUNS_PER_STRIPE: usize = 4;
/// A stripe drops the state of its other runs once its identity indexes hold more than
/// this many entries (the run being written is always kept).
pub(crate) const IDENTITIES_PER_STRIPE: usize = 16_384;

/// The key of an event in the identity index: the step identity's key encoding and the
/// kind's tag.
pub(crate) fn identity(step: &StepId, tag: u8) -> Vec<u8> {
    let mut key = step.encode();
    key.push(tag);
    key
}

/// One run's record and identity index.
#[derive(Debug)]
pub(crate) struct RunState {
    /// The run's record, as stored.
    pub(crate) record: RunRecord,
    identities: HashMap<Vec<u8>, u32>,
}

impl RunState {
    /// The state of a run just created.
    pub(crate) fn created(record: RunRecord) -> RunState {
        RunState { record, identities: HashMap::new() }
    }

    /// Reads a run's record and folds its journal into the identity index.
    fn load(db: &sled::Db, run: RunId) -> StoreResult<Option<RunState>> {
        let Some(raw) = db.get(keys::run(run)).map_err(|e| sled_error("reading a run", e))? else {
            return Ok(None);
        };
        let record: RunRecord = codec::decode(&raw, || format!("run record of {run}"))?;
        let events = journal::read(db, run, 0, record.journal_len)?;
        let mut identities = HashMap::with_capacity(events.len());
        for event in events {
            // An identity journaled twice cannot happen (appends dedupe); the first wins
            // as it would for a lookup that stops at the first match.
            identities.entry(identity(&event.step, event.kind.tag())).or_insert(event.index);
        }
        Ok(Some(RunState { record, identities }))
    }

    /// The journal index of the event with this identity, if journaled.
    pub(crate) fn index_of(&self, identity: &[u8]) -> Option<u32> {
        self.identities.get(identity).copied()
    }

    /// Records an applied append: the new record and the identities of its new events.
    pub(crate) fn applied(&mut self, record: RunRecord, fresh: Vec<(Vec<u8>, u32)>) {
        self.record = record;
        self.identities.extend(fresh);
    }
}

/// The run states kept by one lock stripe.
#[derive(Debug, Default)]
pub(crate) struct Stripe {
    runs: Vec<(RunId, u64, RunState)>,
    clock: u64,
}

impl Stripe {
    /// The state of `run` (loaded from sled when not kept), or `None` for an unknown run.
    pub(crate) fn state(&mut self, db: &sled::Db, run: RunId) -> StoreResult<Option<&mut RunState>> {
        self.clock += 1;
        let position = match self.runs.iter().position(|(id, ..)| *id == run) {
            Some(position) => position,
            None => {
                let Some(state) = RunState::load(db, run)? else {
                    return Ok(None);
                };
                self.keep(run, state)
            }
        };
        let entry = &mut self.runs[position];
        entry.1 = self.clock;
        Ok(Some(&mut entry.2))
    }

    /// Forgets a run (deleted).
    pub(crate) fn forget(&mut self, run: RunId) {
        self.runs.retain(|(id, ..)| *id != run);
    }

    /// Keeps the state of a run just created.
    pub(crate) fn insert(&mut self, run: RunId, state: RunState) {
        self.clock += 1;
        self.runs.retain(|(id, ..)| *id != run);
        self.keep(run, state);
    }

    /// Adds a state, first dropping the least recently written others past the limits
    /// (checked whenever a state is added); returns its position.
    fn keep(&mut self, run: RunId, state: RunState) -> usize {
        let mut identities: usize =
            state.identities.len() + self.runs.iter().map(|(.., s)| s.identities.len()).sum::<usize>();
        while let Some(oldest) = (0..self.runs.len()).min_by_key(|&i| self.runs[i].1) {
            if self.runs.len() < RUNS_PER_STRIPE && identities <= IDENTITIES_PER_STRIPE {
                break;
            }
            let (.., dropped) = self.runs.swap_remove(oldest);
            identities -= dropped.identities.len();
        }
        self.runs.push((run, self.clock, state));
        self.runs.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::run::RunStatus;

    fn record(i: u128, journal_len: u32) -> (RunId, RunState) {
        let id = RunId::from_u128(i);
        let record = RunRecord {
            id,
            flow: "wibble".to_owned(),
            status: RunStatus::Running,
            created_at_ms: 1,
            updated_at_ms: 1,
            journal_len,
        };
        (id, RunState::created(record))
    }

    #[test]
    fn a_stripe_keeps_the_most_recent_runs_and_bounds_identities() {
        let mut stripe = Stripe::default();
        for i in 0..6u128 {
            let (id, state) = record(i, 0);
            stripe.insert(id, state);
        }
        let kept: Vec<u128> = stripe.runs.iter().map(|(id, ..)| id.0.as_u128()).collect();
        assert_eq!(kept.len(), RUNS_PER_STRIPE);
        assert!(kept.contains(&5) && !kept.contains(&0) && !kept.contains(&1), "{kept:?}");

        let (big, mut state) = record(9, 0);
        let fresh = (0..IDENTITIES_PER_STRIPE as u32 + 1)
            .map(|i| (identity(&StepId::new("wobble", i, 0), 3), i))
            .collect();
        state.applied(state.record.clone(), fresh);
        stripe.insert(big, state);
        // Over the identity budget: only the state just added is kept.
        assert_eq!(stripe.runs.len(), 1);
        assert_eq!(stripe.runs[0].2.index_of(&identity(&StepId::new("wobble", 7, 0), 3)), Some(7));
    }
}
