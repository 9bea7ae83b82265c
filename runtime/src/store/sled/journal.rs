//! A run's journal in sled: one key per event (`J run index`).
//!
//! **Pages are read, no longer written.** Stores written before 2026-11-26 sealed every 64
//! events into one page (`G run first-index`) to read long journals in fewer sled steps.
//! Measured, those pages cost far more than they saved: sled splits leaves by item count
//! (17), not by size, so a leaf of pages is 17 × 13 KiB, and sled rewrites whole leaves on
//! consolidation and segment cleaning. A 200-byte append then wrote 14.6 KB to sled's log
//! (1.7 KB without pages), and 50 writers reached 14,300 durable events/s instead of 24,300.
//! Reading a 10,000-event journal one key per event takes 6.8 ms once payloads decode as
//! bytes (`codec::StoredEvent`) rather than as a sequence of `u8`s. Existing pages stay
//! where they are and are read with the single events; the format is unchanged.

use crate::store::error::{StoreError, StoreResult};
use crate::store::event::Event;
use crate::store::run::RunId;
use crate::store::sled::codec::{self, StoredEvent, sled_error};
use crate::store::sled::keys::{self, LEGACY_PAGE_EVENTS};
use crate::store::sled::overlay::Overlay;

/// The first index of the legacy page that would hold `index`.
fn page_start(index: u32) -> u32 {
    index - index % LEGACY_PAGE_EVENTS
}

/// One journaled event, wherever it is stored.
pub(crate) fn load_event(ov: &Overlay<'_>, run: RunId, index: u32) -> StoreResult<Option<StoredEvent>> {
    if let Some(raw) = ov.get(&keys::journal(run, index))? {
        return codec::decode(&raw, || format!("event {index} of run {run}")).map(Some);
    }
    let first = page_start(index);
    let Some(raw) = ov.get(&keys::page(run, first))? else {
        return Ok(None);
    };
    let mut page: Vec<StoredEvent> = codec::decode(&raw, || format!("journal page {first} of run {run}"))?;
    let at = (index - first) as usize;
    if at < page.len() { Ok(Some(page.swap_remove(at))) } else { Ok(None) }
}

fn event(run: RunId, index: u32, stored: StoredEvent) -> Event {
    Event { run, index, at_ms: stored.at_ms, step: stored.step, kind: stored.kind, payload: stored.payload }
}

fn index_after(key: &[u8], prefix: &[u8], run: RunId) -> StoreResult<u32> {
    key.get(prefix.len()..).and_then(|raw| <[u8; 4]>::try_from(raw).ok()).map(u32::from_be_bytes).ok_or_else(
        || StoreError::Corrupt { what: format!("journal of run {run}"), detail: "malformed key".to_owned() },
    )
}

/// The journal from `from` up to `len` (the run record's `journal_len`), in order: sealed
/// pages, then single events. Keys at or past `len` are ignored: a plain append that crashed
/// before writing its record can leave some (see `append::plain_append_commit`).
pub(crate) fn read(db: &sled::Db, run: RunId, from: u32, len: u32) -> StoreResult<Vec<Event>> {
    let mut out = Vec::with_capacity(len.saturating_sub(from) as usize);
    if from >= len {
        return Ok(out);
    }
    let prefix = keys::page_prefix(run);
    for entry in db.range(keys::page(run, page_start(from))..keys::page(run, len)) {
        let (key, value) = entry.map_err(|e| sled_error("reading a journal", e))?;
        let first = index_after(&key, &prefix, run)?;
        let page: Vec<StoredEvent> = codec::decode(&value, || format!("journal page {first} of run {run}"))?;
        for (i, stored) in page.into_iter().enumerate() {
            let index = first + i as u32;
            if (from..len).contains(&index) {
                out.push(event(run, index, stored));
            }
        }
    }
    let prefix = keys::journal_prefix(run);
    for entry in db.range(keys::journal(run, from)..keys::journal(run, len)) {
        let (key, value) = entry.map_err(|e| sled_error("reading a journal", e))?;
        let index = index_after(&key, &prefix, run)?;
        let stored: StoredEvent = codec::decode(&value, || format!("event {index} of run {run}"))?;
        out.push(event(run, index, stored));
    }
    // Legacy pages and single events are disjoint runs of indexes, each sorted: this merge
    // is linear (and a no-op when there are no pages).
    out.sort_by_key(|e| e.index);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::event::{Append, EventKind, NewEvent, StepId};
    use crate::store::run::NewRun;
    use crate::store::sled::SledStore;

    #[test]
    fn legacy_pages_are_read_with_the_single_events_after_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open_dir(dir.path()).expect("open");
        let run = RunId::from_u128(1);
        store.create_run(&NewRun { id: run, flow: "wibble".to_owned(), created_at_ms: 0 }).expect("create");
        for i in 0..100u32 {
            let event = NewEvent {
                step: StepId::new("s", i, 0),
                kind: EventKind::StepCompleted,
                payload: vec![7; 16],
            };
            store.append(run, &Append { at_ms: 0, events: vec![event], status: None }).expect("append");
        }
        assert_eq!(store.db.scan_prefix(keys::page_prefix(run)).count(), 0, "no page is written any more");
        // Seal events 0..64 into a page as the stores of before did.
        let ov = Overlay::new(&store.db);
        let events: Vec<StoredEvent> =
            (0..LEGACY_PAGE_EVENTS).map(|i| load_event(&ov, run, i).expect("load").expect("event")).collect();
        store.db.insert(keys::page(run, 0), codec::encode(&events).expect("encode")).expect("page");
        for i in 0..LEGACY_PAGE_EVENTS {
            store.db.remove(keys::journal(run, i)).expect("remove");
        }
        let journal = store.journal(run, 0).expect("journal");
        assert_eq!(journal.iter().map(|e| e.index).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
        assert_eq!(store.journal(run, 70).expect("tail").len(), 30);
        let ov = Overlay::new(&store.db);
        let from_page = load_event(&ov, run, 5).expect("load").expect("event in the page");
        assert_eq!(from_page.step, StepId::new("s", 5, 0));
        let single = load_event(&ov, run, 80).expect("load").expect("single event");
        assert_eq!(single.step, StepId::new("s", 80, 0));
    }
}
