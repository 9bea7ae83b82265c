//! Property test: the sled store and the in-memory model, given the same operations, return
//! the same results (values, or error codes) and end in the same observable state.

mod support;

use proptest::prelude::*;
use support::{FLOWS, KV_KEYS, SLOT_KEYS, resource_bytes, run_id, snapshot, token};
use weir_runtime::store::{
    Append, EventKind, MemoryStore, NewEvent, NewRun, Op, RunQuery, RunStatus, SledStore, StepId, Store,
};

/// A read, compared between the two stores.
#[derive(Clone, Debug)]
enum Read {
    Journal(u8, u32),
    Timers(u64, usize),
    Runs(RunQuery),
    Slots(usize),
}

#[derive(Clone, Debug)]
enum Step {
    Write(Op),
    Read(Read),
}

fn status() -> impl Strategy<Value = RunStatus> {
    prop::sample::select(RunStatus::ALL.to_vec())
}

fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        1 => Just(EventKind::RunStarted),
        1 => Just(EventKind::StepStarted),
        1 => Just(EventKind::StepCompleted),
        1 => Just(EventKind::StepFailed),
        1 => Just(EventKind::ValueRecorded),
        3 => (0u64..6).prop_map(|d| EventKind::TimerScheduled { due_at_ms: d * 1000 }),
        3 => Just(EventKind::TimerFired),
        3 => (0u8..4, 0u64..6).prop_map(|(t, e)| EventKind::CallbackCreated {
            token: token(t),
            expires_at_ms: e * 1000,
        }),
        3 => (0u8..4).prop_map(|t| EventKind::CallbackReceived { token: token(t) }),
        1 => Just(EventKind::ApprovalDecided),
        3 => (0usize..2, 0u32..3).prop_map(|(k, limit)| EventKind::SlotAcquired {
            key: SLOT_KEYS[k].to_owned(),
            limit,
        }),
        3 => (0usize..2).prop_map(|k| EventKind::SlotReleased {
            key: SLOT_KEYS[k].to_owned(),
        }),
        1 => Just(EventKind::UndoRun),
    ]
}

fn new_event() -> impl Strategy<Value = NewEvent> {
    (
        prop::sample::select(vec!["a", "b/c"]),
        0u32..2,
        0u32..1,
        kind(),
        prop::sample::select(vec![&b""[..], b"wibble", b"wobble"]),
    )
        .prop_map(|(path, iteration, attempt, kind, payload)| NewEvent {
            step: StepId::new(path, iteration, attempt),
            kind,
            payload: payload.to_vec(),
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u8..4, 0usize..2, 0u64..3).prop_map(|(r, f, t)| Op::CreateRun(NewRun {
            id: run_id(r),
            flow: FLOWS[f].to_owned(),
            created_at_ms: t * 1000,
        })),
        6 => (0u8..4, 0u64..6, prop::collection::vec(new_event(), 0..4), prop::option::of(status()))
            .prop_map(|(r, at, events, status)| Op::Append(run_id(r), Append {
                at_ms: at * 1000,
                events,
                status,
            })),
        1 => (0usize..2, 0usize..3, prop::collection::vec(any::<u8>(), 0..8)).prop_map(|(f, k, v)| Op::KvPut {
            flow: FLOWS[f].to_owned(),
            key: KV_KEYS[k].to_vec(),
            value: v,
        }),
        1 => (0usize..2, 0usize..3).prop_map(|(f, k)| Op::KvDelete {
            flow: FLOWS[f].to_owned(),
            key: KV_KEYS[k].to_vec(),
        }),
        1 => (0u8..3, 0u64..3).prop_map(|(i, t)| Op::PutResource {
            media_type: if i == 0 { "text/plain" } else { "application/octet-stream" }.to_owned(),
            bytes: resource_bytes(i),
            at_ms: t,
        }),
        1 => (0u8..4).prop_map(|r| Op::DeleteRun(run_id(r))),
        2 => (0u8..4, prop::sample::select(vec![&b"p"[..], b"q"]), 0u64..6).prop_map(|(t, p, at)| Op::PostCallback {
            token: token(t),
            payload: p.to_vec(),
            at_ms: at * 1000,
        }),
    ]
}

fn read() -> impl Strategy<Value = Read> {
    prop_oneof![
        (0u8..5, 0u32..4).prop_map(|(r, from)| Read::Journal(r, from)),
        (0u64..7, 0usize..3).prop_map(|(now, limit)| Read::Timers(now * 1000, limit)),
        (
            prop::option::of(0usize..2),
            prop::option::of(status()),
            prop::option::of(0u64..3),
            prop::option::of(0u64..4),
            0usize..3
        )
            .prop_map(|(flow, status, from, before, limit)| Read::Runs(RunQuery {
                flow: flow.map(|f| FLOWS[f].to_owned()),
                status,
                created_from_ms: from.map(|t| t * 1000),
                created_before_ms: before.map(|t| t * 1000),
                limit,
            })),
        (0usize..2).prop_map(Read::Slots),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![4 => op().prop_map(Step::Write), 1 => read().prop_map(Step::Read)]
}

fn do_read(store: &dyn Store, read: &Read) -> Result<String, &'static str> {
    let out = match read {
        Read::Journal(r, from) => store.journal(run_id(*r), *from).map(|v| format!("{v:?}")),
        Read::Timers(now, limit) => store.due_timers(*now, *limit).map(|v| format!("{v:?}")),
        Read::Runs(q) => store.find_runs(q).map(|v| format!("{v:?}")),
        Read::Slots(k) => store.slot_holders(SLOT_KEYS[*k]).map(|v| format!("{v:?}")),
    };
    out.map_err(|e| e.code())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sled_behaves_like_the_model(steps in prop::collection::vec(step(), 1..60)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let sled = SledStore::open_dir(dir.path()).expect("open");
        let model = MemoryStore::new();
        for step in &steps {
            match step {
                Step::Write(op) => {
                    let expected = op.apply(&model).map_err(|e| e.code());
                    let actual = op.apply(&sled).map_err(|e| e.code());
                    prop_assert_eq!(actual, expected, "{:?}", op);
                }
                Step::Read(read) => {
                    prop_assert_eq!(do_read(&sled, read), do_read(&model, read), "{:?}", read);
                }
            }
        }
        prop_assert_eq!(snapshot(&sled), snapshot(&model));
        drop(sled);
        let reopened = SledStore::open_dir(dir.path()).expect("reopen");
        prop_assert_eq!(snapshot(&reopened), snapshot(&model));
    }
}
