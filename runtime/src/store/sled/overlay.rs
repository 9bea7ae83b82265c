//! The writes of one operation, gathered before they are applied together and atomically
//! (see `intent`). Reads during the operation see the pending writes first, so later checks
//! in the same append see what earlier events did.

use std::collections::BTreeMap;

use crate::store::error::StoreResult;
use crate::store::sled::codec::sled_error;

/// Pending writes over a sled tree.
pub(crate) struct Overlay<'a> {
    db: &'a sled::Db,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    /// No pending writes over `db`.
    pub(crate) fn new(db: &'a sled::Db) -> Overlay<'a> {
        Overlay { db, pending: BTreeMap::new() }
    }

    /// The value of `key`, pending writes first.
    pub(crate) fn get(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        if let Some(value) = self.pending.get(key) {
            return Ok(value.clone());
        }
        self.db.get(key).map(|v| v.map(|v| v.to_vec())).map_err(|e| sled_error("reading", e))
    }

    /// Sets `key`.
    pub(crate) fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    /// Removes `key`.
    pub(crate) fn remove(&mut self, key: Vec<u8>) {
        self.pending.insert(key, None);
    }

    /// Every entry under `prefix`, pending writes applied, in key order.
    pub(crate) fn scan_prefix(&self, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for entry in self.db.scan_prefix(prefix) {
            let (k, v) = entry.map_err(|e| sled_error("scanning", e))?;
            merged.insert(k.to_vec(), v.to_vec());
        }
        for (k, v) in self.pending.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// True when nothing is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The pending writes, in key order.
    pub(crate) fn into_writes(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.pending.into_iter().collect()
    }
}
