//! The sled store on its own: persistence across reopen, the directory lock, the format
//! header, large resources (sled blobs), group commit under concurrency.

mod support;

use std::sync::Arc;

use support::{append, event, reference_workload, run_id, snapshot};
use weir_runtime::store::{EventKind, MemoryStore, NewRun, ResourceHash, RunStatus, SledStore, Store};

#[test]
fn the_reference_workload_matches_the_model_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = MemoryStore::new();
    {
        let store = SledStore::open_dir(dir.path()).expect("open");
        for op in reference_workload() {
            let expected = op.apply(&model).map_err(|e| e.code());
            let actual = op.apply(&store).map_err(|e| e.code());
            assert_eq!(actual, expected, "{op:?}");
        }
        assert_eq!(snapshot(&store), snapshot(&model));
    }
    let store = SledStore::open_dir(dir.path()).expect("reopen");
    assert_eq!(snapshot(&store), snapshot(&model));
}

#[test]
fn a_second_open_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = SledStore::open_dir(dir.path()).expect("open");
    let second = SledStore::open_dir(dir.path()).expect_err("second open must fail");
    assert_eq!(second.code(), "STORE-LOCKED");
    let message = second.to_string();
    assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
}

#[test]
fn an_unknown_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = sled::open(dir.path().join("store")).expect("sled");
        db.insert(b"Mformat", postcard::to_stdvec(&(99u32, "9.9.9")).expect("encode")).expect("insert");
        db.flush().expect("flush");
    }
    let err = SledStore::open_dir(dir.path()).expect_err("must refuse");
    assert_eq!(err.code(), "STORE-FORMAT");
}

#[test]
fn a_resource_larger_than_a_sled_blob_round_trips_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes: Vec<u8> = (0..1_500_000u32).map(|v| (v * 7 % 253) as u8).collect();
    let hash = ResourceHash::of(&bytes);
    {
        let store = SledStore::open_dir(dir.path()).expect("open");
        let meta = store.put_resource("image/png", &bytes, 5).expect("put");
        assert_eq!(meta.size, bytes.len() as u64);
        assert_eq!(meta.hash, hash);
    }
    let store = SledStore::open_dir(dir.path()).expect("reopen");
    let stat = store.stat_resource(&hash).expect("stat").expect("present");
    assert_eq!(stat.media_type, "image/png");
    let got = store.get_resource(&hash).expect("get").expect("present");
    assert_eq!(got.bytes, bytes);
}

#[test]
fn fifty_concurrent_writers_share_syncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open_dir(dir.path()).expect("open"));
    let threads: Vec<_> = (0..50u8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let id = run_id(100 + t);
                store
                    .create_run(&NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 })
                    .expect("create");
                for i in 0..20u32 {
                    let path = format!("main/s{i}");
                    store
                        .append(
                            id,
                            &append(
                                2,
                                vec![event(&path, EventKind::StepCompleted, &[t; 200])],
                                Some(RunStatus::Running),
                            ),
                        )
                        .expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let stats = store.stats();
    assert_eq!(stats.writes, 50 * 21 + 1);
    assert!(stats.syncs < stats.writes, "group commit must share syncs: {stats:?}");
    for t in 0..50u8 {
        assert_eq!(store.journal(run_id(100 + t), 0).expect("journal").len(), 20);
    }
}

#[test]
fn every_error_code_is_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/runtime.md"))
        .expect("docs/runtime.md");
    for code in weir_runtime::store::STORE_ERROR_CODES {
        assert!(docs.contains(&format!("`{code}`")), "{code} is not in docs/runtime.md");
    }
}

#[test]
fn long_journals_read_and_dedupe_like_the_model() {
    use weir_runtime::store::{Append, NewEvent, StepId};
    let dir = tempfile::tempdir().expect("tempdir");
    let model = MemoryStore::new();
    let id = run_id(9);
    let step = |i: u32| StepId::new(format!("main/s{}", i / 3), i % 3, 0);
    // Events 128..192 carry 2 KB each (stores before 2026-11-26 left such a run of events
    // unsealed; `journal.rs` reads both).
    let payload = |i: u32| if (128..192).contains(&i) { vec![b'w'; 2048] } else { i.to_be_bytes().to_vec() };
    let mut ops =
        vec![weir_runtime::store::Op::CreateRun(NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 })];
    let mut next = 0u32;
    let mut size = 1u32;
    while next < 300 {
        let events = (next..(next + size).min(300))
            .map(|i| NewEvent { step: step(i), kind: EventKind::StepCompleted, payload: payload(i) })
            .collect::<Vec<_>>();
        next += events.len() as u32;
        ops.push(weir_runtime::store::Op::Append(
            id,
            Append { at_ms: u64::from(next), events, status: None },
        ));
        size = size % 70 + 7;
    }
    // A retried append of old events is recognised; a changed one conflicts.
    ops.push(weir_runtime::store::Op::Append(
        id,
        Append {
            at_ms: 999,
            events: vec![
                NewEvent { step: step(5), kind: EventKind::StepCompleted, payload: payload(5) },
                NewEvent { step: step(300), kind: EventKind::StepCompleted, payload: vec![1] },
            ],
            status: None,
        },
    ));
    ops.push(weir_runtime::store::Op::Append(
        id,
        Append {
            at_ms: 1000,
            events: vec![NewEvent { step: step(70), kind: EventKind::StepCompleted, payload: vec![9] }],
            status: None,
        },
    ));
    {
        let store = SledStore::open_dir(dir.path()).expect("open");
        for op in &ops {
            let expected = op.apply(&model).map_err(|e| e.code());
            let actual = op.apply(&store).map_err(|e| e.code());
            assert_eq!(actual, expected, "{op:?}");
        }
        for from in [0, 1, 63, 64, 65, 130, 191, 192, 250, 301, 400] {
            assert_eq!(
                store.journal(id, from).expect("sled"),
                model.journal(id, from).expect("model"),
                "from {from}"
            );
        }
    }
    let store = SledStore::open_dir(dir.path()).expect("reopen");
    assert_eq!(store.journal(id, 0).expect("sled"), model.journal(id, 0).expect("model"));
    assert_eq!(snapshot(&store), snapshot(&model));
}

#[test]
fn concurrent_acquisitions_never_exceed_the_slot_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open_dir(dir.path()).expect("open"));
    let barrier = Arc::new(std::sync::Barrier::new(20));
    let threads: Vec<_> = (0..20u8)
        .map(|t| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let id = run_id(200 + t);
                store
                    .create_run(&NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 })
                    .expect("create");
                barrier.wait();
                let acquire = EventKind::SlotAcquired { key: "wobble".to_owned(), limit: 3 };
                match store.append(id, &append(2, vec![event("main/gate", acquire, b"")], None)) {
                    Ok(_) => {
                        let held = store.slot_holders("wobble").expect("holders").len();
                        assert!(held <= 3, "{held} slots held");
                        true
                    }
                    Err(e) => {
                        assert_eq!(e.code(), "STORE-SLOT-FULL");
                        false
                    }
                }
            })
        })
        .collect();
    let won = threads.into_iter().map(|t| t.join().expect("thread")).filter(|w| *w).count();
    assert_eq!(won, 3);
    assert_eq!(store.slot_holders("wobble").expect("holders").len(), 3);
}

#[test]
fn a_hundred_racing_posts_are_accepted_once_and_kept_for_the_run() {
    use weir_runtime::store::{PostOutcome, TokenHash};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open_dir(dir.path()).expect("open"));
    let id = run_id(77);
    let token = TokenHash::of(b"wibble-token");
    store.create_run(&NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 }).expect("create");
    let created = EventKind::CallbackCreated { token, expires_at_ms: 10_000 };
    store
        .append(id, &append(2, vec![event("main/wait", created, b"")], Some(RunStatus::Running)))
        .expect("create");
    let threads: Vec<_> = (0..100u8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || store.post_callback(&token, &[t % 2], 5).expect("post"))
        })
        .collect();
    let outcomes: Vec<PostOutcome> = threads.into_iter().map(|t| t.join().expect("thread")).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == PostOutcome::Accepted).count(), 1);
    let posted = match store.callback(&token).expect("callback").expect("present").state {
        weir_runtime::store::CallbackState::Posted { payload, .. } => payload,
        other => panic!("not posted: {other:?}"),
    };
    // The run consumes the early post once; a second consumption is refused.
    let received = EventKind::CallbackReceived { token };
    store.append(id, &append(6, vec![event("main/wait", received.clone(), &posted)], None)).expect("consume");
    let again = store.append(id, &append(7, vec![event("main/wait2", received, &posted)], None));
    assert_eq!(again.err().map(|e| e.code()), Some("STORE-CALLBACK"));
    assert_eq!(store.post_callback(&token, b"late", 8).expect("post"), PostOutcome::Consumed);
}

#[test]
fn slots_taken_and_given_back_by_many_runs_never_exceed_the_limit() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use weir_runtime::store::{Append, NewEvent, StepId};
    const LIMIT: u32 = 3;
    const ROUNDS: u32 = 15;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open_dir(dir.path()).expect("open"));
    // Held slots as the runs see them: raised after an acquisition is acknowledged, lowered
    // before the release is journaled, so it never exceeds what the store holds.
    let holding = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..12u8)
        .map(|t| {
            let (store, holding, most) = (Arc::clone(&store), Arc::clone(&holding), Arc::clone(&most));
            std::thread::spawn(move || {
                let id = run_id(120 + t);
                store
                    .create_run(&NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 })
                    .expect("create");
                let (mut round, mut attempt) = (0u32, 0u32);
                while round < ROUNDS {
                    attempt += 1;
                    let acquire = NewEvent {
                        step: StepId::new("main/gate", round, attempt),
                        kind: EventKind::SlotAcquired { key: "wobble".to_owned(), limit: LIMIT },
                        payload: Vec::new(),
                    };
                    match store.append(id, &Append { at_ms: 2, events: vec![acquire], status: None }) {
                        Ok(_) => {}
                        Err(e) if e.code() == "STORE-SLOT-FULL" => {
                            std::thread::yield_now();
                            continue;
                        }
                        Err(e) => panic!("acquire: {e}"),
                    }
                    // Recorded, not asserted here: a thread that panicked holding a slot
                    // would leave the others waiting for it forever.
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    let held = store.slot_holders("wobble").expect("holders").len() as u32;
                    most.fetch_max(now.max(held), Ordering::SeqCst);
                    holding.fetch_sub(1, Ordering::SeqCst);
                    let release = NewEvent {
                        step: StepId::new("main/gate-done", round, attempt),
                        kind: EventKind::SlotReleased { key: "wobble".to_owned() },
                        payload: Vec::new(),
                    };
                    store
                        .append(id, &Append { at_ms: 3, events: vec![release], status: None })
                        .expect("release");
                    round += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let most = most.load(Ordering::SeqCst);
    assert!((1..=LIMIT).contains(&most), "at most {LIMIT} holders at once, saw {most}");
    assert!(store.slot_holders("wobble").expect("holders").is_empty());
}

#[test]
fn concurrent_appends_to_one_run_get_distinct_indexes_and_dedupe() {
    use weir_runtime::store::{Append, NewEvent, StepId};
    let dir = tempfile::tempdir().expect("tempdir");
    let id = run_id(90);
    {
        let store = Arc::new(SledStore::open_dir(dir.path()).expect("open"));
        store.create_run(&NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 }).expect("create");
        let shared = NewEvent {
            step: StepId::new("main/shared", 0, 0),
            kind: EventKind::StepCompleted,
            payload: b"wibble".to_vec(),
        };
        let threads: Vec<_> = (0..8u32)
            .map(|t| {
                let (store, shared) = (Arc::clone(&store), shared.clone());
                std::thread::spawn(move || {
                    let mut shared_at = Vec::new();
                    for i in 0..25u32 {
                        let own = NewEvent {
                            step: StepId::new(format!("main/t{t}"), i, 0),
                            kind: EventKind::StepCompleted,
                            payload: vec![t as u8; 1 + i as usize],
                        };
                        // Every thread also journals the shared event: once in all.
                        let events = if i % 5 == 0 { vec![own, shared.clone()] } else { vec![own] };
                        let receipt =
                            store.append(id, &Append { at_ms: 2, events, status: None }).expect("append");
                        if i % 5 == 0 {
                            shared_at.push(receipt.indexes[1]);
                        }
                    }
                    shared_at
                })
            })
            .collect();
        let shared_at: Vec<u32> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
        assert!(shared_at.windows(2).all(|w| w[0] == w[1]), "{shared_at:?}");
        let journal = store.journal(id, 0).expect("journal");
        assert_eq!(journal.len(), 8 * 25 + 1);
        assert!(journal.iter().enumerate().all(|(i, e)| e.index == i as u32));
        assert_eq!(journal[shared_at[0] as usize].step, shared.step);
    }
    // After a reopen the identities are folded again from the journal: a retry of any
    // event is recognised, a changed one refused.
    let store = SledStore::open_dir(dir.path()).expect("reopen");
    let retry =
        NewEvent { step: StepId::new("main/t3", 7, 0), kind: EventKind::StepCompleted, payload: vec![3; 8] };
    let receipt =
        store.append(id, &Append { at_ms: 9, events: vec![retry.clone()], status: None }).expect("retry");
    assert_eq!(receipt.appended, 0);
    assert_eq!(store.journal(id, 0).expect("journal")[receipt.indexes[0] as usize].step, retry.step);
    let changed = NewEvent { payload: vec![4], ..retry };
    let err =
        store.append(id, &Append { at_ms: 9, events: vec![changed], status: None }).expect_err("conflict");
    assert_eq!(err.code(), "STORE-EVENT-CONFLICT");
}

#[test]
fn a_run_is_created_and_started_in_one_write_and_one_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = MemoryStore::new();
    let store = SledStore::open_dir(dir.path()).expect("open");
    let id = run_id(40);
    let run = NewRun { id, flow: "wibble".to_owned(), created_at_ms: 7 };
    let start = append(
        7,
        vec![
            event("@run", EventKind::RunStarted, b"{}"),
            event("@run/timeout", EventKind::TimerScheduled { due_at_ms: 1_000 }, b""),
        ],
        Some(RunStatus::Running),
    );
    let before = store.stats();
    let receipt = store.create_run_with(&run, &start).expect("create and start");
    let after = store.stats();
    assert_eq!((after.writes - before.writes, after.syncs - before.syncs), (1, 1));
    assert_eq!(receipt.indexes, vec![0, 1]);
    assert_eq!(receipt.run.status, RunStatus::Running);
    let expected = model.create_run_with(&run, &start).expect("model");
    assert_eq!(receipt, expected);
    // A retry after an unknown outcome changes nothing; the run's next append goes on.
    let retried = store.create_run_with(&run, &start).expect("retry");
    assert_eq!((retried.indexes.clone(), retried.appended), (vec![0, 1], 0));
    assert_eq!(retried, model.create_run_with(&run, &start).expect("model retry"));
    let next = append(8, vec![event("main/a", EventKind::StepCompleted, b"1")], None);
    assert_eq!(store.append(id, &next).expect("next"), model.append(id, &next).expect("model next"));
    // The same id for another flow is refused, as by `create_run`.
    let other = NewRun { id, flow: "wobble".to_owned(), created_at_ms: 9 };
    assert_eq!(store.create_run_with(&other, &start).map_err(|e| e.code()).err(), Some("STORE-RUN-EXISTS"));
    assert_eq!(snapshot(&store), snapshot(&model));
    drop(store);
    let store = SledStore::open_dir(dir.path()).expect("reopen");
    assert_eq!(snapshot(&store), snapshot(&model));
}
