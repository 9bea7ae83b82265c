//! Content-addressed resources: bytes stored once under their SHA-256, with size and media
//! type.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::hex;

/// The SHA-256 of a resource's bytes: its identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceHash(pub [u8; 32]);

impl ResourceHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> ResourceHash {
        ResourceHash(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, as shown to users and in URLs.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Parses lowercase or uppercase hex.
    pub fn from_hex(text: &str) -> Option<ResourceHash> {
        hex::decode::<32>(text).map(ResourceHash)
    }
}

impl fmt::Debug for ResourceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Display for ResourceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

/// What is known about a stored resource without reading it. The first put of some content
/// fixes its media type and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceMeta {
    /// The content hash.
    pub hash: ResourceHash,
    /// Size in bytes.
    pub size: u64,
    /// The media type given at the first put.
    pub media_type: String,
    /// Time of the first put, Unix ms.
    pub created_at_ms: u64,
}

/// A resource read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Its metadata.
    pub meta: ResourceMeta,
    /// Its bytes.
    pub bytes: Vec<u8>,
}
