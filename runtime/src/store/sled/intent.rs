//! Atomic multi-key writes without sled's `apply_batch`.
//!
//! sled 0.34's `apply_batch` (and its transactions) take a process-wide lock in write mode,
//! while `flush()` holds it in read mode for the whole device write: every batch would wait
//! for the sync in flight, and group commit would cover only the writers that arrive during
//! the final fdatasync (measured: ~140 µs of each write spent waiting, ~5 writes per sync).
//! Single-key inserts take the lock in read mode only. So a write of several keys is
//! journaled first as one *intent* record (a single insert, atomic), then applied key by key,
//! then the intent is removed. sled recovers a prefix of its log, so after a crash either
//! the intent is there (and [`recover`] re-applies it, idempotently) or none of its keys are.
//!
//! Writes are applied concurrently (see `locks`), so several intents can be left by one
//! crash. Two intents that touch a common key were applied under a common lock, one after
//! the other, and the first was removed before the second was recorded: a prefix that holds
//! the second holds that removal. Sequence numbers follow the same order, so replaying the
//! survivors oldest first is right either way.
//!
//! The commonest write, a plain append (new journal events of one run, their identities and
//! the run's record), needs no intent at all: see [`apply_record_last`].

use serde::{Deserialize, Serialize};

use crate::store::error::StoreResult;
use crate::store::sled::codec::{self, sled_error};

/// Prefix of intent records: `W seq`.
pub(crate) const INTENT: u8 = b'W';

/// A multi-key write waiting to be applied.
#[derive(Debug, Serialize, Deserialize)]
struct Intent {
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn key(seq: u64) -> Vec<u8> {
    let mut key = vec![INTENT];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn apply_one(db: &sled::Db, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
    match value {
        Some(value) => db.insert(key, value).map(drop),
        None => db.remove(key).map(drop),
    }
    .map_err(|e| sled_error("applying a write", e))
}

/// Applies `writes` so that a crash leaves all of them or none (after [`recover`]).
pub(crate) fn apply(db: &sled::Db, seq: u64, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
    if let [(k, v)] = writes {
        return apply_one(db, k, v.as_deref());
    }
    let intent = Intent { writes: writes.to_vec() };
    db.insert(key(seq), codec::encode(&intent)?).map_err(|e| sled_error("recording a write", e))?;
    for (k, v) in writes {
        apply_one(db, k, v.as_deref())?;
    }
    db.remove(key(seq)).map_err(|e| sled_error("completing a write", e))?;
    Ok(())
}

/// Applies a plain append (`append::plain_append_commit`): every key but the run record,
/// then the record, which makes the others reachable. One insert per key, no intent.
pub(crate) fn apply_record_last(
    db: &sled::Db,
    writes: &[(Vec<u8>, Option<Vec<u8>>)],
    record: usize,
) -> StoreResult<()> {
    for (i, (k, v)) in writes.iter().enumerate() {
        if i != record {
            apply_one(db, k, v.as_deref())?;
        }
    }
    let (k, v) = &writes[record];
    apply_one(db, k, v.as_deref())
}

/// Re-applies the intents a crash left behind, oldest first; returns how many.
pub(crate) fn recover(db: &sled::Db) -> StoreResult<usize> {
    let mut found = Vec::new();
    for entry in db.scan_prefix([INTENT]) {
        let (k, v) = entry.map_err(|e| sled_error("reading intents", e))?;
        let intent: Intent = codec::decode(&v, || "write intent".to_owned())?;
        found.push((k, intent));
    }
    for (k, intent) in &found {
        for (key, value) in &intent.writes {
            apply_one(db, key, value.as_deref())?;
        }
        db.remove(k).map_err(|e| sled_error("completing a recovered write", e))?;
    }
    Ok(found.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_left_over_intent_is_applied_on_recovery() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new().path(dir.path()).open().expect("sled");
        let writes = vec![(b"a".to_vec(), Some(b"1".to_vec())), (b"b".to_vec(), None)];
        db.insert(b"b", b"old".to_vec()).expect("insert");
        db.insert(key(7), codec::encode(&Intent { writes }).expect("encode")).expect("intent");
        assert_eq!(recover(&db).expect("recover"), 1);
        assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
        assert_eq!(db.get(b"b").expect("get"), None);
        assert_eq!(db.scan_prefix([INTENT]).count(), 0);
    }
}
