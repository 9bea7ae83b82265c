//! A write to a store as data: the fault wrapper logs them to rebuild the synced state, and
//! the tests generate them.

use crate::store::Store;
use crate::store::callback::{PostOutcome, TokenHash};
use crate::store::error::StoreResult;
use crate::store::event::{Append, AppendReceipt};
use crate::store::resource::ResourceMeta;
use crate::store::run::{NewRun, RunId, RunRecord};

/// One write to a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`Store::create_run`].
    CreateRun(NewRun),
    /// [`Store::append`].
    Append(RunId, Append),
    /// [`Store::kv_put`].
    KvPut {
        /// The flow.
        flow: String,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// [`Store::kv_delete`].
    KvDelete {
        /// The flow.
        flow: String,
        /// The key.
        key: Vec<u8>,
    },
    /// [`Store::put_resource`].
    PutResource {
        /// The media type.
        media_type: String,
        /// The bytes.
        bytes: Vec<u8>,
        /// The caller's clock.
        at_ms: u64,
    },
    /// [`Store::delete_run`].
    DeleteRun(RunId),
    /// [`Store::post_callback`].
    PostCallback {
        /// The token's hash.
        token: TokenHash,
        /// The posted body.
        payload: Vec<u8>,
        /// The caller's clock.
        at_ms: u64,
    },
}

/// What a write returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpOutput {
    /// From `create_run`.
    Run(RunRecord),
    /// From `append`.
    Appended(AppendReceipt),
    /// From `kv_put`.
    Done,
    /// From `kv_delete`.
    Deleted(bool),
    /// From `put_resource`.
    Resource(ResourceMeta),
    /// From `post_callback`.
    Posted(PostOutcome),
}

impl Op {
    /// Applies the write to a store.
    pub fn apply(&self, store: &dyn Store) -> StoreResult<OpOutput> {
        match self {
            Op::CreateRun(run) => store.create_run(run).map(OpOutput::Run),
            Op::Append(run, append) => store.append(*run, append).map(OpOutput::Appended),
            Op::KvPut { flow, key, value } => store.kv_put(flow, key, value).map(|()| OpOutput::Done),
            Op::KvDelete { flow, key } => store.kv_delete(flow, key).map(OpOutput::Deleted),
            Op::PutResource { media_type, bytes, at_ms } => {
                store.put_resource(media_type, bytes, *at_ms).map(OpOutput::Resource)
            }
            Op::PostCallback { token, payload, at_ms } => {
                store.post_callback(token, payload, *at_ms).map(OpOutput::Posted)
            }
            Op::DeleteRun(run) => store.delete_run(*run).map(OpOutput::Deleted),
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Op::CreateRun(_) => "create-run",
            Op::Append(..) => "append",
            Op::KvPut { .. } => "kv-put",
            Op::KvDelete { .. } => "kv-delete",
            Op::PutResource { .. } => "put-resource",
            Op::PostCallback { .. } => "post-callback",
            Op::DeleteRun(_) => "delete-run",
        }
    }
}
