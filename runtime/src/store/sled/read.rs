//! Reads of the sled store: journals, run queries, resources, timers, slots.

use sha2::{Digest, Sha256};

use crate::store::error::{StoreError, StoreResult};
use crate::store::event::{Event, StepId};
use crate::store::resource::{Resource, ResourceHash, ResourceMeta};
use crate::store::run::{RunId, RunQuery, RunRecord};
use crate::store::schedule::{DueTimer, SlotHolder};
use crate::store::sled::codec::{self, StoredSlot, sled_error};
use crate::store::sled::keys;

fn load_run(db: &sled::Db, run: RunId) -> StoreResult<Option<RunRecord>> {
    match db.get(keys::run(run)).map_err(|e| sled_error("reading a run", e))? {
        Some(raw) => codec::decode(&raw, || format!("run record of {run}")).map(Some),
        None => Ok(None),
    }
}

/// A run's journal from `from`, in order.
pub(crate) fn journal(db: &sled::Db, run: RunId, from: u32) -> StoreResult<Vec<Event>> {
    let record = load_run(db, run)?.ok_or(StoreError::RunUnknown(run))?;
    super::journal::read(db, run, from, record.journal_len)
}

/// The smallest key greater than every key starting with `prefix`.
fn after_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Runs matching a query, through the narrowest index.
pub(crate) fn find_runs(db: &sled::Db, query: &RunQuery) -> StoreResult<Vec<RunRecord>> {
    let prefix = match (&query.flow, query.status) {
        (Some(flow), _) => keys::by_flow_prefix(flow),
        (None, Some(status)) => vec![keys::BY_STATUS, status.tag()],
        (None, None) => vec![keys::BY_TIME],
    };
    let mut start = prefix.clone();
    start.extend_from_slice(&query.created_from_ms.unwrap_or(0).to_be_bytes());
    let end = match query.created_before_ms {
        Some(before) => {
            let mut end = prefix.clone();
            end.extend_from_slice(&before.to_be_bytes());
            Some(end)
        }
        None => after_prefix(&prefix),
    };
    let iter = match end {
        Some(end) => db.range(start..end),
        None => db.range(start..),
    };
    let mut out = Vec::new();
    for entry in iter {
        let (key, _) = entry.map_err(|e| sled_error("scanning runs", e))?;
        let run = keys::run_at(&key, prefix.len() + 8).ok_or_else(|| StoreError::Corrupt {
            what: "run index".to_owned(),
            detail: "malformed index key".to_owned(),
        })?;
        let record = load_run(db, run)?.ok_or_else(|| StoreError::Corrupt {
            what: format!("run index entry of {run}"),
            detail: "points at a missing run".to_owned(),
        })?;
        if query.matches(&record) {
            out.push(record);
            if query.limit > 0 && out.len() >= query.limit {
                break;
            }
        }
    }
    Ok(out)
}

/// A resource's metadata.
pub(crate) fn resource_meta(db: &sled::Db, hash: &ResourceHash) -> StoreResult<Option<ResourceMeta>> {
    match db.get(keys::resource(hash)).map_err(|e| sled_error("reading a resource", e))? {
        Some(raw) => codec::decode(&raw, || format!("resource {hash}")).map(Some),
        None => Ok(None),
    }
}

/// A resource's bytes, checked against their hash.
pub(crate) fn resource(db: &sled::Db, hash: &ResourceHash) -> StoreResult<Option<Resource>> {
    let Some(meta) = resource_meta(db, hash)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
    let mut prefix = vec![keys::RESOURCE_CHUNK];
    prefix.extend_from_slice(&hash.0);
    for entry in db.scan_prefix(&prefix) {
        let (_, chunk) = entry.map_err(|e| sled_error("reading a resource", e))?;
        bytes.extend_from_slice(&chunk);
    }
    let actual: [u8; 32] = Sha256::digest(&bytes).into();
    if actual != hash.0 {
        return Err(StoreError::Corrupt {
            what: format!("resource {hash}"),
            detail: format!("content hashes to {}", ResourceHash(actual)),
        });
    }
    Ok(Some(Resource { meta, bytes }))
}

/// Timers due at or before `now_ms`.
pub(crate) fn due_timers(db: &sled::Db, now_ms: u64, limit: usize) -> StoreResult<Vec<DueTimer>> {
    let mut out = Vec::new();
    for entry in db.scan_prefix([keys::TIMER]) {
        let (key, _) = entry.map_err(|e| sled_error("scanning timers", e))?;
        let corrupt = || StoreError::Corrupt {
            what: "timer index".to_owned(),
            detail: "malformed timer key".to_owned(),
        };
        let due = key
            .get(1..9)
            .and_then(|raw| <[u8; 8]>::try_from(raw).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(corrupt)?;
        if due > now_ms {
            break;
        }
        let run = keys::run_at(&key, 9).ok_or_else(corrupt)?;
        let (step, _) = key.get(25..).and_then(StepId::decode).ok_or_else(corrupt)?;
        out.push(DueTimer { due_at_ms: due, run, step });
        if limit > 0 && out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// The holders of a concurrency key's slots.
pub(crate) fn slot_holders(db: &sled::Db, key: &str) -> StoreResult<Vec<SlotHolder>> {
    let prefix = keys::slot_prefix(key);
    let mut out = Vec::new();
    for entry in db.scan_prefix(&prefix) {
        let (k, v) = entry.map_err(|e| sled_error("scanning slots", e))?;
        let run = keys::run_at(&k, prefix.len()).ok_or_else(|| StoreError::Corrupt {
            what: format!("slot index of {key:?}"),
            detail: "malformed slot key".to_owned(),
        })?;
        let slot: StoredSlot = codec::decode(&v, || format!("slot of {key:?} held by {run}"))?;
        out.push(SlotHolder {
            key: key.to_owned(),
            run,
            step: slot.step,
            acquired_at_ms: slot.acquired_at_ms,
        });
    }
    Ok(out)
}
