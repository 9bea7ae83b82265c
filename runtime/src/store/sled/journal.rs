//! A run's journal in sled. Each event is first written under its own key
//! (`J run index`); when an append completes a run of [`keys::PAGE_EVENTS`] events whose
//! encoding fits in [`keys::PAGE_BYTES`], the same atomic write seals them into one page
//! (`G run first-index`) and removes the single keys. Reading a long journal then costs a
//! few page reads instead of one sled iteration step per event (sled 0.34's iterator is
//! the cost: ~0.5 µs per item).

use crate::store::error::{StoreError, StoreResult};
use crate::store::event::Event;
use crate::store::run::RunId;
use crate::store::sled::codec::{self, StoredEvent, sled_error};
use crate::store::sled::keys::{self, PAGE_BYTES, PAGE_EVENTS};
use crate::store::sled::overlay::Overlay;

fn page_start(index: u32) -> u32 {
    index - index % PAGE_EVENTS
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

/// Seals the pages an append completed: the journal grew from `old_len` to `new_len`.
pub(crate) fn seal_pages(ov: &mut Overlay<'_>, run: RunId, old_len: u32, new_len: u32) -> StoreResult<()> {
    let mut first = page_start(old_len);
    while first + PAGE_EVENTS <= new_len {
        let mut raws = Vec::with_capacity(PAGE_EVENTS as usize);
        let mut bytes = 0;
        for index in first..first + PAGE_EVENTS {
            match ov.get(&keys::journal(run, index))? {
                Some(raw) => {
                    bytes += raw.len();
                    raws.push(raw);
                }
                None => break,
            }
        }
        if raws.len() == PAGE_EVENTS as usize && bytes <= PAGE_BYTES {
            let mut events = Vec::with_capacity(raws.len());
            for (i, raw) in raws.iter().enumerate() {
                let event: StoredEvent =
                    codec::decode(raw, || format!("event {} of run {run}", first + i as u32))?;
                events.push(event);
            }
            ov.insert(keys::page(run, first), codec::encode(&events)?);
            for index in first..first + PAGE_EVENTS {
                ov.remove(keys::journal(run, index));
            }
        }
        first += PAGE_EVENTS;
    }
    Ok(())
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
    // Pages and single events are disjoint runs of indexes, each sorted: this merge is
    // linear.
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
    fn full_pages_are_sealed_and_oversized_ones_stay_single() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open_dir(dir.path()).expect("open");
        let run = RunId::from_u128(1);
        store.create_run(&NewRun { id: run, flow: "wibble".to_owned(), created_at_ms: 0 }).expect("create");
        for i in 0..200u32 {
            let payload = if (64..128).contains(&i) { vec![0u8; 2048] } else { vec![1u8; 16] };
            let event = NewEvent { step: StepId::new("s", i, 0), kind: EventKind::StepCompleted, payload };
            store.append(run, &Append { at_ms: 0, events: vec![event], status: None }).expect("append");
        }
        let pages = store.db.scan_prefix(keys::page_prefix(run)).count();
        let singles = store.db.scan_prefix(keys::journal_prefix(run)).count();
        assert_eq!((pages, singles), (2, 64 + 8));
        let journal = store.journal(run, 0).expect("journal");
        assert_eq!(journal.iter().map(|e| e.index).collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());
    }
}
