//! Shared test support: small fixed domains of ids, an observable snapshot of a store, and
//! a reference workload touching every feature of the store.

#![allow(dead_code)]

use weir_runtime::store::{
    Append, CallbackRecord, DueTimer, Event, EventKind, NewEvent, NewRun, Op, Resource, ResourceHash, RunId,
    RunQuery, RunRecord, RunStatus, SlotHolder, StepId, Store, TokenHash,
};

/// The run ids the workloads use (`RUNS[4]` is never created).
pub fn run_id(i: u8) -> RunId {
    RunId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(i))
}

pub const FLOWS: [&str; 2] = ["wibble", "wobble"];
pub const SLOT_KEYS: [&str; 2] = ["wibble-key", "wobble-key"];
pub const KV_KEYS: [&[u8]; 3] = [b"x", b"y", b"z"];

pub fn token(i: u8) -> TokenHash {
    TokenHash::of(&[b't', i])
}

pub fn resource_bytes(i: u8) -> Vec<u8> {
    match i {
        0 => b"wibble".to_vec(),
        1 => vec![7u8; 3000],
        _ => (0..200_000u32).map(|v| (v % 251) as u8).collect(),
    }
}

/// Everything a caller can observe about the fixed domains.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub runs: Vec<RunRecord>,
    pub journals: Vec<Vec<Event>>,
    pub kv: Vec<Option<Vec<u8>>>,
    pub resources: Vec<Option<Resource>>,
    pub timers: Vec<DueTimer>,
    pub callbacks: Vec<Option<CallbackRecord>>,
    pub slots: Vec<Vec<SlotHolder>>,
    pub by_status: Vec<Vec<RunRecord>>,
    pub by_flow: Vec<Vec<RunRecord>>,
}

pub fn snapshot(store: &dyn Store) -> Snapshot {
    let runs = store.find_runs(&RunQuery::default()).expect("find runs");
    let journals = runs.iter().map(|r| store.journal(r.id, 0).expect("journal")).collect();
    let mut kv = Vec::new();
    for flow in FLOWS {
        for key in KV_KEYS {
            kv.push(store.kv_get(flow, key).expect("kv"));
        }
    }
    let resources = (0..3)
        .map(|i| store.get_resource(&ResourceHash::of(&resource_bytes(i))).expect("resource"))
        .collect();
    let timers = store.due_timers(u64::MAX, 0).expect("timers");
    let callbacks = (0..4).map(|i| store.callback(&token(i)).expect("callback")).collect();
    let slots = SLOT_KEYS.iter().map(|k| store.slot_holders(k).expect("slots")).collect();
    let by_status = RunStatus::ALL
        .iter()
        .map(|s| store.find_runs(&RunQuery { status: Some(*s), ..RunQuery::default() }).expect("by status"))
        .collect();
    let by_flow = FLOWS
        .iter()
        .map(|f| {
            store
                .find_runs(&RunQuery { flow: Some((*f).to_owned()), ..RunQuery::default() })
                .expect("by flow")
        })
        .collect();
    Snapshot { runs, journals, kv, resources, timers, callbacks, slots, by_status, by_flow }
}

pub fn event(path: &str, kind: EventKind, payload: &[u8]) -> NewEvent {
    NewEvent { step: StepId::new(path, 0, 0), kind, payload: payload.to_vec() }
}

pub fn append(at_ms: u64, events: Vec<NewEvent>, status: Option<RunStatus>) -> Append {
    Append { at_ms, events, status }
}

/// A fixed sequence of writes touching every feature: runs, journals, status changes,
/// timers, callbacks with an early post, slots, kv and resources.
pub fn reference_workload() -> Vec<Op> {
    let (a, b, c) = (run_id(0), run_id(1), run_id(2));
    let mut ops = vec![
        Op::CreateRun(NewRun { id: a, flow: FLOWS[0].to_owned(), created_at_ms: 1_000 }),
        Op::CreateRun(NewRun { id: b, flow: FLOWS[0].to_owned(), created_at_ms: 2_000 }),
        Op::CreateRun(NewRun { id: c, flow: FLOWS[1].to_owned(), created_at_ms: 3_000 }),
        Op::Append(
            a,
            append(
                1_001,
                vec![
                    event("main", EventKind::RunStarted, b"{}"),
                    event(
                        "main/gate",
                        EventKind::SlotAcquired { key: SLOT_KEYS[0].to_owned(), limit: 1 },
                        b"",
                    ),
                ],
                Some(RunStatus::Running),
            ),
        ),
        Op::Append(
            b,
            append(
                2_001,
                vec![event(
                    "main/gate",
                    EventKind::SlotAcquired { key: SLOT_KEYS[1].to_owned(), limit: 2 },
                    b"",
                )],
                Some(RunStatus::Running),
            ),
        ),
        Op::KvPut { flow: FLOWS[0].to_owned(), key: KV_KEYS[0].to_vec(), value: b"wibble".to_vec() },
        Op::Append(
            a,
            append(
                1_002,
                vec![
                    event("main/fetch", EventKind::StepStarted, b""),
                    event("main/fetch", EventKind::StepCompleted, b"{\"ok\":true}"),
                    event(
                        "main/wait",
                        EventKind::CallbackCreated { token: token(0), expires_at_ms: 50_000 },
                        b"",
                    ),
                ],
                Some(RunStatus::Paused),
            ),
        ),
        Op::PutResource { media_type: "text/plain".to_owned(), bytes: resource_bytes(0), at_ms: 1_003 },
        Op::PostCallback { token: token(0), payload: b"early".to_vec(), at_ms: 1_004 },
        Op::Append(
            c,
            append(
                3_001,
                vec![event("main/nap", EventKind::TimerScheduled { due_at_ms: 9_000 }, b"")],
                Some(RunStatus::Paused),
            ),
        ),
        Op::KvPut { flow: FLOWS[1].to_owned(), key: KV_KEYS[1].to_vec(), value: vec![1, 2, 3] },
        Op::PutResource {
            media_type: "application/octet-stream".to_owned(),
            bytes: resource_bytes(2),
            at_ms: 3_002,
        },
        Op::Append(
            a,
            append(
                1_005,
                vec![event("main/wait", EventKind::CallbackReceived { token: token(0) }, b"early")],
                Some(RunStatus::Running),
            ),
        ),
        Op::Append(
            c,
            append(9_001, vec![event("main/nap", EventKind::TimerFired, b"")], Some(RunStatus::Running)),
        ),
        Op::KvDelete { flow: FLOWS[0].to_owned(), key: KV_KEYS[0].to_vec() },
        Op::Append(
            b,
            append(
                2_002,
                vec![
                    event("main/later", EventKind::TimerScheduled { due_at_ms: 20_000 }, b""),
                    event("main/now", EventKind::ValueRecorded, b"2002"),
                ],
                Some(RunStatus::Paused),
            ),
        ),
        Op::Append(
            a,
            append(
                1_006,
                vec![
                    event("main/gate", EventKind::SlotReleased { key: SLOT_KEYS[0].to_owned() }, b""),
                    event("main/end", EventKind::StepCompleted, b"done"),
                ],
                Some(RunStatus::Succeeded),
            ),
        ),
        Op::Append(
            c,
            append(9_002, vec![event("main/end", EventKind::StepFailed, b"wobble")], Some(RunStatus::Failed)),
        ),
    ];
    // A longer journal for one run, so reads and retries cover many events.
    for i in 0..12u32 {
        ops.push(Op::Append(
            b,
            Append {
                at_ms: 2_100 + u64::from(i),
                events: vec![NewEvent {
                    step: StepId::new("main/each/step", i, 0),
                    kind: EventKind::StepCompleted,
                    payload: i.to_be_bytes().to_vec(),
                }],
                status: None,
            },
        ));
    }
    ops
}
