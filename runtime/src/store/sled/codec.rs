//! Encoding of stored records (postcard, behind the store's own format version).

use serde::{Deserialize, Serialize};

use crate::store::error::{StoreError, StoreResult};
use crate::store::event::{EventKind, StepId};

/// The store header, checked on open.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    /// The store's own format version.
    pub(crate) format: u32,
    /// The sled version that wrote it.
    pub(crate) sled: String,
}

/// The store format this build writes. 2: event identities are no longer stored (they are
/// folded from the journal, `run_state`); format 1 stores are read as is (their identity
/// keys are ignored) and their header is rewritten on open, so an older weir refuses them.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The older format this build opens and upgrades.
pub(crate) const FORMAT_UPGRADABLE: u32 = 1;

/// A journal event as stored (the run and index are in the key).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredEvent {
    pub(crate) at_ms: u64,
    pub(crate) step: StepId,
    pub(crate) kind: EventKind,
    #[serde(with = "serde_bytes")]
    pub(crate) payload: Vec<u8>,
}

/// A journal event to store, borrowed from the append (encodes exactly as [`StoredEvent`]).
#[derive(Debug, Serialize)]
pub(crate) struct StoredEventRef<'a> {
    pub(crate) at_ms: u64,
    pub(crate) step: &'a StepId,
    pub(crate) kind: &'a EventKind,
    #[serde(with = "serde_bytes")]
    pub(crate) payload: &'a Vec<u8>,
}

/// A held slot as stored (the key and run are in the key).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredSlot {
    pub(crate) step: StepId,
    pub(crate) acquired_at_ms: u64,
}

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Bug(format!("encoding a record: {e}")))
}

/// Decodes a record, naming it in the error when it is corrupt.
pub(crate) fn decode<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    what: impl FnOnce() -> String,
) -> StoreResult<T> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt { what: what(), detail: e.to_string() })
}

/// Decodes a big-endian u64 value.
pub(crate) fn decode_u64(bytes: &[u8], what: impl FnOnce() -> String) -> StoreResult<u64> {
    let raw: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        what: what(),
        detail: format!("expected 8 bytes, found {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(raw))
}

/// Maps a sled error to a coded store error.
pub(crate) fn sled_error(context: &str, error: sled::Error) -> StoreError {
    match error {
        sled::Error::Io(source) => StoreError::io(context, source),
        sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            what: format!("sled data at {at:?}"),
            detail: format!("detected while {context}"),
        },
        sled::Error::ReportableBug(detail) => StoreError::Bug(detail),
        sled::Error::Unsupported(detail) => StoreError::Format {
            found: detail,
            supported: format!("sled 0.34.7 store format {FORMAT_VERSION}"),
        },
        sled::Error::CollectionNotFound(name) => StoreError::Corrupt {
            what: format!("sled tree {name:?}"),
            detail: format!("missing while {context}"),
        },
    }
}
