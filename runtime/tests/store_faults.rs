//! R4 (storage faults at the N-th operation, transient and persistent) and power cuts at
//! every write, through the fault-injecting wrapper over the model and over sled.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use support::{FLOWS, reference_workload, run_id, snapshot};
use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{
    Append, EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, NewEvent, NewRun, Op, OpOutput,
    STORE_ERROR_CODES, SledStore, StepId, Store, StoreError,
};

/// What a driven workload saw.
#[derive(Debug, Default)]
struct Drive {
    /// Codes of every error seen.
    errors: Vec<&'static str>,
    /// Ops that ended with an error after their retries.
    failed: usize,
    /// Events acknowledged: (run, step, kind, payload).
    acked: BTreeSet<(u8, String, String, Vec<u8>)>,
}

fn event_key(run: u8, e: &NewEvent) -> (u8, String, String, Vec<u8>) {
    (run, e.step.to_string(), e.kind.name().to_owned(), e.payload.clone())
}

fn run_index(op: &Op) -> Option<u8> {
    match op {
        Op::Append(id, _) => (0..=255u8).find(|i| run_id(*i) == *id),
        _ => None,
    }
}

fn coded(e: &StoreError) -> &'static str {
    let code = e.code();
    assert!(STORE_ERROR_CODES.contains(&code), "uncoded error {e}");
    code
}

/// Applies each op, reading the run back after it; on an error whose outcome is unknown
/// (or a poisoned store) it reopens the store and retries, up to `retries` times.
fn drive<S: Store>(store: &FaultStore<S>, ops: &[Op], retries: u32) -> Drive {
    let mut drive = Drive::default();
    for op in ops {
        let mut tries = 0;
        loop {
            match op.apply(store) {
                Ok(out) => {
                    if let (Op::Append(_, append), Some(run), OpOutput::Appended(_)) =
                        (op, run_index(op), &out)
                    {
                        for e in &append.events {
                            drive.acked.insert(event_key(run, e));
                        }
                    }
                    break;
                }
                Err(e) => {
                    drive.errors.push(coded(&e));
                    let retry = e.outcome_unknown() || e.code() == "STORE-POISONED";
                    if retry && tries < retries {
                        tries += 1;
                        store.reopen().expect("reopen after a fault");
                        continue;
                    }
                    drive.failed += 1;
                    break;
                }
            }
        }
        if let Some(run) = run_index(op) {
            // A read that may itself be the faulty operation.
            if let Err(e) = store.journal(run_id(run), 0) {
                drive.errors.push(coded(&e));
                store.reopen().expect("reopen after a read fault");
            }
        }
    }
    drive
}

fn journal_events<S: Store>(store: &S, runs: u8) -> BTreeSet<(u8, String, String, Vec<u8>)> {
    let mut out = BTreeSet::new();
    for r in 0..runs {
        if let Ok(journal) = store.journal(run_id(r), 0) {
            for e in journal {
                out.insert((r, e.step.to_string(), e.kind.name().to_owned(), e.payload));
            }
        }
    }
    out
}

fn memory_factory() -> Box<dyn Fn() -> Result<MemoryStore, StoreError> + Send + Sync> {
    Box::new(|| Ok(MemoryStore::new()))
}

fn sled_factory() -> Box<dyn Fn() -> Result<SledStore, StoreError> + Send + Sync> {
    let root = Arc::new(tempfile::tempdir().expect("tempdir"));
    let next = AtomicU32::new(0);
    Box::new(move || {
        let n = next.fetch_add(1, Ordering::SeqCst);
        SledStore::open_dir(root.path().join(format!("store-{n}")))
    })
}

/// R4 over every N, both modes, for one inner store.
fn r4_sweep<S: Store>(
    factory: impl Fn() -> Box<dyn Fn() -> Result<S, StoreError> + Send + Sync>,
    every: u64,
) -> usize {
    let ops = reference_workload();
    let reference = MemoryStore::new();
    for op in &ops {
        op.apply(&reference).expect("fault-free reference");
    }
    let expected = snapshot(&reference);
    let clean = FaultStore::new(FaultPlan::new(1), factory()).expect("store");
    let clean_drive = drive(&clean, &ops, 3);
    assert!(clean_drive.errors.is_empty(), "{:?}", clean_drive.errors);
    let total = clean.operations();
    let mut cases = 0;
    for mode in [FaultMode::Transient, FaultMode::Persistent] {
        for n in (1..=total).step_by(every as usize) {
            let seed = n * 31 + u64::from(mode == FaultMode::Persistent);
            let store = FaultStore::new(FaultPlan::new(seed).fail_at(n, mode), factory()).expect("store");
            let seen = drive(&store, &ops, 3);
            assert_eq!(seen.failed, 0, "N={n} {mode:?}: every op finishes after retry");
            assert!(!seen.errors.is_empty(), "N={n} {mode:?}: the fault was injected");
            store.reopen().expect("final reopen");
            let present = journal_events(&store, 3);
            for acked in &seen.acked {
                assert!(present.contains(acked), "N={n} {mode:?}: lost {acked:?}");
            }
            assert_eq!(snapshot(&store), expected, "N={n} {mode:?}");
            cases += 1;
        }
    }
    cases
}

#[test]
fn r4_every_nth_operation_fails_over_the_model() {
    let cases = r4_sweep(memory_factory, 1);
    println!("R4 over the model: {cases} cases (every N, transient and persistent)");
    assert!(cases >= 100, "{cases} cases");
}

#[test]
fn r4_every_nth_operation_fails_over_sled() {
    // Every other N over sled (the model takes every N): each case opens fresh sled stores.
    let cases = r4_sweep(sled_factory, 2);
    println!("R4 over sled: {cases} cases (every other N, transient and persistent)");
    assert!(cases >= 50, "{cases} cases");
}

/// A seeded workload of writes: five runs, events with distinct identities, status
/// changes, kv puts.
fn seeded_workload(seed: u64, writes: usize) -> Vec<Op> {
    let mut rng = SeededRng::new(seed);
    let mut ops: Vec<Op> = (0..5u8)
        .map(|r| {
            Op::CreateRun(NewRun {
                id: run_id(r),
                flow: FLOWS[usize::from(r % 2)].to_owned(),
                created_at_ms: u64::from(r),
            })
        })
        .collect();
    for i in 0..writes {
        let run = rng.below(5) as u8;
        if rng.below(8) == 0 {
            ops.push(Op::KvPut {
                flow: FLOWS[0].to_owned(),
                key: format!("k{}", rng.below(4)).into_bytes(),
                value: i.to_be_bytes().to_vec(),
            });
            continue;
        }
        let events = (0..1 + rng.below(3))
            .map(|j| NewEvent {
                step: StepId::new(format!("main/s{i}"), j as u32, 0),
                kind: EventKind::StepCompleted,
                payload: vec![run; 1 + rng.below(300) as usize],
            })
            .collect();
        ops.push(Op::Append(run_id(run), Append { at_ms: 10 + i as u64, events, status: None }));
    }
    ops
}

fn power_cut_sweep<S: Store>(
    factory: impl Fn() -> Box<dyn Fn() -> Result<S, StoreError> + Send + Sync>,
    seed: u64,
    writes: usize,
    every: usize,
) -> usize {
    let ops = seeded_workload(seed, writes);
    let mut cuts = 0;
    for k in (1..=ops.len() as u64).step_by(every) {
        // Only writes here, so operation k is write k.
        let store = FaultStore::new(FaultPlan::new(seed).cut_power_at(k), factory()).expect("store");
        let mut acked = BTreeSet::new();
        let mut crashed = 0;
        for op in &ops {
            match op.apply(&store) {
                Ok(_) => {
                    if let (Op::Append(_, append), Some(run)) = (op, run_index(op)) {
                        for e in &append.events {
                            acked.insert(event_key(run, e));
                        }
                    }
                }
                Err(e) if e.code() == "STORE-CRASHED" => crashed += 1,
                // A write after the cut may reference a run whose creation was cut.
                Err(e) => assert_eq!(coded(&e), "STORE-RUN-UNKNOWN", "k={k}: {e}"),
            }
        }
        assert_eq!(crashed, 1, "k={k}: exactly one write was cut");
        assert_eq!(store.cuts(), 1);
        store.cut_power().expect("second cut");
        let present = journal_events(&store, 5);
        // Nothing acknowledged lost, and the cut write left nothing behind.
        assert_eq!(present, acked, "seed={seed} k={k}");
        cuts += 1;
    }
    cuts
}

#[test]
fn a_power_cut_at_every_write_loses_nothing_acknowledged() {
    let seed = 0x5eed_0001;
    println!("power-cut seed {seed:#x}");
    let cuts = power_cut_sweep(memory_factory, seed, 120, 1);
    println!("power cuts over the model: {cuts}");
    assert!(cuts >= 120, "{cuts} cuts");
}

#[test]
fn a_power_cut_during_sled_writes_loses_nothing_acknowledged() {
    let seed = 0x5eed_0002;
    println!("power-cut seed {seed:#x}");
    let cuts = power_cut_sweep(sled_factory, seed, 40, 3);
    println!("power cuts over sled: {cuts}");
    assert!(cuts >= 15, "{cuts} cuts");
}

#[test]
fn a_failed_sync_refuses_writes_until_reopen_and_keeps_acknowledged_ones() {
    let ops = seeded_workload(7, 20);
    let store = FaultStore::new(FaultPlan::new(7).fail_sync_at(10), memory_factory()).expect("store");
    let mut codes = Vec::new();
    for op in &ops[..12] {
        if let Err(e) = op.apply(&store) {
            codes.push(e.code());
        }
    }
    assert_eq!(codes, ["STORE-SYNC", "STORE-POISONED", "STORE-POISONED"]);
    let before = store.synced_ops().len();
    store.reopen().expect("reopen");
    assert_eq!(store.synced_ops().len(), before);
    for op in &ops[12..] {
        op.apply(&store).expect("writes work after reopen");
    }
}

#[test]
fn random_faults_with_retries_reach_the_fault_free_state() {
    let ops = reference_workload();
    let reference = MemoryStore::new();
    for op in &ops {
        op.apply(&reference).expect("reference");
    }
    let expected = snapshot(&reference);
    for seed in 0..100u64 {
        let store = FaultStore::new(FaultPlan::new(seed).random(80_000), memory_factory()).expect("store");
        let seen = drive(&store, &ops, 20);
        assert_eq!(seen.failed, 0, "seed {seed}");
        // What a restart finds: the synced writes, replayed into a fresh model (reads of
        // the wrapper itself would keep failing at random).
        let restarted = MemoryStore::new();
        for op in store.synced_ops() {
            op.apply(&restarted).expect("replay");
        }
        assert_eq!(snapshot(&restarted), expected, "seed {seed}");
    }
}
