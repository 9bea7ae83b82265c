//! The key layout of the sled store. One tree, one prefix byte per record family, integers
//! big endian so byte order is numeric order.

use crate::store::callback::TokenHash;
use crate::store::event::StepId;
use crate::store::resource::ResourceHash;
use crate::store::run::{RunId, RunStatus};

/// `M format` → the store header.
pub(crate) const FORMAT: &[u8] = b"Mformat";
/// Run records: `R run`.
pub(crate) const RUN: u8 = b'R';
/// Journal events: `J run index`.
pub(crate) const JOURNAL: u8 = b'J';
/// Journal pages, written by stores before 2026-11-26 and still read: `G run first-index` →
/// [`LEGACY_PAGE_EVENTS`] events (`journal.rs` says why no more are written).
pub(crate) const PAGE: u8 = b'G';
// `I run step kind` → index held event identities in format 1; they are no longer written
// or read (`run_state` folds them from the journal).
/// Runs by status: `S status created run`.
pub(crate) const BY_STATUS: u8 = b'S';
/// Runs by flow: `F len flow created run`.
pub(crate) const BY_FLOW: u8 = b'F';
/// Runs by time: `T created run`.
pub(crate) const BY_TIME: u8 = b'T';
/// Due timers: `D due run step`.
pub(crate) const TIMER: u8 = b'D';
/// A run's timers: `d run step` → due.
pub(crate) const RUN_TIMER: u8 = b'd';
/// Slot holders: `L len key run` → holder.
pub(crate) const SLOT: u8 = b'L';
/// A run's slots: `l run len key`.
pub(crate) const RUN_SLOT: u8 = b'l';
/// Callbacks: `C token`.
pub(crate) const CALLBACK: u8 = b'C';
/// Kv: `K len flow key`.
pub(crate) const KV: u8 = b'K';
/// Resource metadata: `P hash`.
pub(crate) const RESOURCE: u8 = b'P';
/// Resource bytes: `Q hash chunk`.
pub(crate) const RESOURCE_CHUNK: u8 = b'Q';

/// Events in a legacy journal page (see [`PAGE`]).
pub(crate) const LEGACY_PAGE_EVENTS: u32 = 64;

/// Size of a resource chunk.
pub(crate) const CHUNK_BYTES: usize = 32 * 1024;

fn with(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(prefix);
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// A length-prefixed string (the limits keep it under 256 bytes).
fn short(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 1);
    out.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(text.as_bytes());
    out
}

pub(crate) fn run(id: RunId) -> Vec<u8> {
    with(RUN, &[&id.to_bytes()])
}

pub(crate) fn journal_prefix(id: RunId) -> Vec<u8> {
    with(JOURNAL, &[&id.to_bytes()])
}

pub(crate) fn journal(id: RunId, index: u32) -> Vec<u8> {
    with(JOURNAL, &[&id.to_bytes(), &index.to_be_bytes()])
}

pub(crate) fn page_prefix(id: RunId) -> Vec<u8> {
    with(PAGE, &[&id.to_bytes()])
}

pub(crate) fn page(id: RunId, first: u32) -> Vec<u8> {
    with(PAGE, &[&id.to_bytes(), &first.to_be_bytes()])
}

pub(crate) fn by_status(status: RunStatus, created: u64, id: RunId) -> Vec<u8> {
    with(BY_STATUS, &[&[status.tag()], &created.to_be_bytes(), &id.to_bytes()])
}

pub(crate) fn by_flow_prefix(flow: &str) -> Vec<u8> {
    with(BY_FLOW, &[&short(flow)])
}

pub(crate) fn by_flow(flow: &str, created: u64, id: RunId) -> Vec<u8> {
    with(BY_FLOW, &[&short(flow), &created.to_be_bytes(), &id.to_bytes()])
}

pub(crate) fn by_time(created: u64, id: RunId) -> Vec<u8> {
    with(BY_TIME, &[&created.to_be_bytes(), &id.to_bytes()])
}

pub(crate) fn timer(due: u64, id: RunId, step: &StepId) -> Vec<u8> {
    with(TIMER, &[&due.to_be_bytes(), &id.to_bytes(), &step.encode()])
}

pub(crate) fn run_timer_prefix(id: RunId) -> Vec<u8> {
    with(RUN_TIMER, &[&id.to_bytes()])
}

pub(crate) fn run_timer(id: RunId, step: &StepId) -> Vec<u8> {
    with(RUN_TIMER, &[&id.to_bytes(), &step.encode()])
}

pub(crate) fn slot_prefix(key: &str) -> Vec<u8> {
    with(SLOT, &[&short(key)])
}

pub(crate) fn slot(key: &str, id: RunId) -> Vec<u8> {
    with(SLOT, &[&short(key), &id.to_bytes()])
}

pub(crate) fn run_slot_prefix(id: RunId) -> Vec<u8> {
    with(RUN_SLOT, &[&id.to_bytes()])
}

pub(crate) fn run_slot(id: RunId, key: &str) -> Vec<u8> {
    with(RUN_SLOT, &[&id.to_bytes(), &short(key)])
}

pub(crate) fn callback(token: &TokenHash) -> Vec<u8> {
    with(CALLBACK, &[&token.0])
}

pub(crate) fn kv(flow: &str, key: &[u8]) -> Vec<u8> {
    with(KV, &[&short(flow), key])
}

pub(crate) fn resource(hash: &ResourceHash) -> Vec<u8> {
    with(RESOURCE, &[&hash.0])
}

pub(crate) fn resource_chunk(hash: &ResourceHash, chunk: u32) -> Vec<u8> {
    with(RESOURCE_CHUNK, &[&hash.0, &chunk.to_be_bytes()])
}

/// The run id at `offset` of a key, if the key is long enough.
pub(crate) fn run_at(key: &[u8], offset: usize) -> Option<RunId> {
    let bytes: [u8; 16] = key.get(offset..offset + 16)?.try_into().ok()?;
    Some(RunId(uuid::Uuid::from_bytes(bytes)))
}
