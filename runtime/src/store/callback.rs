//! Callback tokens: created by a run, posted to once from outside (possibly before the run
//! waits: the early post is kept), consumed once by the run.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::event::StepId;
use crate::store::hex;
use crate::store::run::RunId;

/// The SHA-256 of a callback token. The store never sees a token, only its hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The hash of a token's bytes.
    pub fn of(token: &[u8]) -> TokenHash {
        TokenHash(Sha256::digest(token).into())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", hex::encode(&self.0[..8]))
    }
}

/// Where a callback is in its single-use life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallbackState {
    /// Created, nothing posted yet.
    Waiting,
    /// Posted (maybe before the run waits), not yet consumed by the run.
    Posted {
        /// When the post arrived, Unix ms.
        at_ms: u64,
        /// The posted body.
        payload: Vec<u8>,
    },
    /// Consumed by the run: any further post is refused.
    Consumed {
        /// When the post arrived, Unix ms.
        posted_at_ms: u64,
        /// The posted body.
        payload: Vec<u8>,
    },
}

/// A stored callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecord {
    /// The token's hash.
    pub token: TokenHash,
    /// The run that created it.
    pub run: RunId,
    /// The step that created it.
    pub step: StepId,
    /// After this time a post is refused, Unix ms.
    pub expires_at_ms: u64,
    /// Where it is in its life.
    pub state: CallbackState,
}

/// The answer to a post. Only `Accepted` wrote anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostOutcome {
    /// Stored durably; the run will consume it.
    Accepted,
    /// A post already arrived; `same` tells whether it had the same body (an idempotent
    /// repeat) or not (a conflict).
    AlreadyPosted {
        /// True when the earlier post had the same body.
        same: bool,
    },
    /// The run already consumed a post (HTTP 410).
    Consumed,
    /// The token expired before anything was posted (HTTP 410).
    Expired,
    /// The token's run is finished (HTTP 410).
    RunFinished,
    /// No such token (HTTP 404, the same answer as a guessed token).
    Unknown,
}
