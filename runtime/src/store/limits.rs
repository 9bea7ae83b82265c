//! The store's documented limits, checked before anything is written (a refused request
//! writes nothing).

use crate::store::error::{StoreError, StoreResult};
use crate::store::event::{Append, EventKind};

/// Size limits of a store. Both implementations apply the same checks in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest flow slug, bytes.
    pub flow_bytes: usize,
    /// Longest step path, bytes.
    pub step_path_bytes: usize,
    /// Largest event payload, bytes.
    pub payload_bytes: usize,
    /// Most events in one append.
    pub events_per_append: usize,
    /// Most events in one journal.
    pub events_per_run: u32,
    /// Longest concurrency key, bytes.
    pub slot_key_bytes: usize,
    /// Longest kv key, bytes.
    pub kv_key_bytes: usize,
    /// Largest kv value, bytes.
    pub kv_value_bytes: usize,
    /// Longest media type, bytes.
    pub media_type_bytes: usize,
    /// Largest resource, bytes.
    pub resource_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            flow_bytes: 255,
            step_path_bytes: 1024,
            payload_bytes: 1 << 20,
            events_per_append: 1024,
            events_per_run: 1_000_000,
            slot_key_bytes: 255,
            kv_key_bytes: 1024,
            kv_value_bytes: 1 << 20,
            media_type_bytes: 255,
            resource_bytes: 64 << 20,
        }
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> StoreResult<()> {
    if ok { Ok(()) } else { Err(StoreError::Limit(what())) }
}

impl Limits {
    /// Checks a flow slug: 1 to `flow_bytes` bytes.
    pub fn check_flow(&self, flow: &str) -> StoreResult<()> {
        check(!flow.is_empty() && flow.len() <= self.flow_bytes, || {
            format!("a flow slug must be 1 to {} bytes", self.flow_bytes)
        })
    }

    /// Checks an append's shape (not the journal length, which needs the run).
    pub fn check_append(&self, append: &Append) -> StoreResult<()> {
        check(append.events.len() <= self.events_per_append, || {
            format!("{} events in one append; the limit is {}", append.events.len(), self.events_per_append)
        })?;
        for event in &append.events {
            check(event.step.path.len() <= self.step_path_bytes, || {
                format!("a step path must be at most {} bytes", self.step_path_bytes)
            })?;
            check(event.payload.len() <= self.payload_bytes, || {
                format!(
                    "an event payload of {} bytes exceeds the {} byte limit",
                    event.payload.len(),
                    self.payload_bytes
                )
            })?;
            if let EventKind::SlotAcquired { key, .. } | EventKind::SlotReleased { key } = &event.kind {
                check(!key.is_empty() && key.len() <= self.slot_key_bytes, || {
                    format!("a concurrency key must be 1 to {} bytes", self.slot_key_bytes)
                })?;
            }
        }
        Ok(())
    }

    /// Checks that a journal of `len` events may grow by `more`.
    pub fn check_journal_len(&self, len: u32, more: u32) -> StoreResult<()> {
        check(u64::from(len) + u64::from(more) <= u64::from(self.events_per_run), || {
            format!("a journal holds at most {} events", self.events_per_run)
        })
    }

    /// Checks a kv key and, when given, its value.
    pub fn check_kv(&self, flow: &str, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        self.check_flow(flow)?;
        check(!key.is_empty() && key.len() <= self.kv_key_bytes, || {
            format!("a kv key must be 1 to {} bytes", self.kv_key_bytes)
        })?;
        check(value.is_none_or(|v| v.len() <= self.kv_value_bytes), || {
            format!("a kv value must be at most {} bytes", self.kv_value_bytes)
        })
    }

    /// Checks a resource before it is hashed and stored.
    pub fn check_resource(&self, media_type: &str, bytes: &[u8]) -> StoreResult<()> {
        check(!media_type.is_empty() && media_type.len() <= self.media_type_bytes, || {
            format!("a media type must be 1 to {} bytes", self.media_type_bytes)
        })?;
        check(bytes.len() <= self.resource_bytes, || {
            format!("a resource of {} bytes exceeds the {} byte limit", bytes.len(), self.resource_bytes)
        })
    }
}
