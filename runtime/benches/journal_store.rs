//! Journal store benchmarks (see benches/README.md, "Journal store"):
//! - one durable append of a 200-byte event beside a raw 200-byte write + fdatasync on the
//!   same disk, in the same run (the ratio is the figure);
//! - group commit with 50 concurrent writers (events/s, syncs per event);
//! - reading a 10,000-event journal.
//!
//! The store lives under `WEIR_BENCH_DIR` (default: the system temp dir), so the disk is
//! the one being measured.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_runtime::store::{Append, EventKind, NewEvent, NewRun, RunId, RunStatus, SledStore, StepId, Store};

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("WEIR_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("bench tempdir")
}

fn one_event(i: u64) -> Append {
    Append {
        at_ms: i,
        events: vec![NewEvent {
            step: StepId::new(format!("main/s{i}"), 0, 0),
            kind: EventKind::StepCompleted,
            payload: vec![b'w'; 200],
        }],
        status: None,
    }
}

fn create(store: &SledStore, n: u128) -> RunId {
    let id = RunId::from_u128(n);
    store.create_run(&NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 }).expect("create run");
    store.append(id, &Append { at_ms: 1, events: vec![], status: Some(RunStatus::Running) }).expect("status");
    id
}

fn durable_append(c: &mut Criterion) {
    let dir = bench_dir();
    let mut group = c.benchmark_group("durable_step");
    group.throughput(Throughput::Elements(1));

    // The floor: 200 bytes written into a preallocated file, then fdatasync (data only, the
    // file size does not change), which is what a log with preallocated segments pays.
    let record = [b'w'; 200];
    let floor = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.path().join("floor.log"))
        .expect("floor file");
    floor.write_all_at(&vec![0u8; 8 << 20], 0).expect("preallocate");
    floor.sync_all().expect("sync");
    let mut offset = 0u64;
    group.bench_function("raw_pwrite_fdatasync_200B_preallocated", |b| {
        b.iter(|| {
            floor.write_all_at(&record, offset).expect("write");
            floor.sync_data().expect("fdatasync");
            offset = (offset + 200) % (8 << 20);
        })
    });

    // An appending write: the file grows, so fdatasync also commits its size.
    let mut raw =
        OpenOptions::new().create(true).append(true).open(dir.path().join("append.log")).expect("raw file");
    group.bench_function("raw_append_fdatasync_200B", |b| {
        b.iter(|| {
            raw.write_all(&record).expect("write");
            raw.sync_data().expect("fdatasync");
        })
    });

    let store = SledStore::open_dir(dir.path().join(".weir")).expect("open");
    let run = create(&store, 1);
    let mut i = 0u64;
    group.bench_function("append_1_event_200B_durable", |b| {
        b.iter(|| {
            i += 1;
            store.append(run, &one_event(i)).expect("append")
        })
    });
    group.finish();

    // The same two, interleaved one by one, so that disk noise hits both alike; the
    // ratio of the medians is the figure we hold ourselves to.
    let mut raw_times = Vec::with_capacity(2000);
    let mut store_times = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let t = Instant::now();
        floor.write_all_at(&record, offset).expect("write");
        floor.sync_data().expect("fdatasync");
        raw_times.push(t.elapsed());
        offset = (offset + 200) % (8 << 20);
        i += 1;
        let t = Instant::now();
        store.append(run, &one_event(i)).expect("append");
        store_times.push(t.elapsed());
    }
    raw_times.sort();
    store_times.sort();
    let (raw_median, store_median) = (raw_times[1000], store_times[1000]);
    println!(
        "interleaved x2000: raw pwrite+fdatasync median {raw_median:.1?}, durable append median \
         {store_median:.1?}, ratio {:.2}",
        store_median.as_secs_f64() / raw_median.as_secs_f64()
    );
}

/// 50 writer threads, each appending to its own run; one criterion iteration is one round
/// of `PER_WRITER` appends by every writer.
fn group_commit(c: &mut Criterion) {
    const WRITERS: usize = 50;
    const PER_WRITER: u64 = 20;
    let dir = bench_dir();
    let store = Arc::new(SledStore::open_dir(dir.path().join(".weir")).expect("open"));
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut go = Vec::new();
    for w in 0..WRITERS {
        let (tx, rx) = mpsc::channel::<u64>();
        go.push(tx);
        let store = Arc::clone(&store);
        let start = Arc::clone(&start);
        let done = done_tx.clone();
        let run = create(&store, 1000 + w as u128);
        std::thread::spawn(move || {
            while let Ok(round) = rx.recv() {
                start.wait();
                for i in 0..PER_WRITER {
                    store.append(run, &one_event(round * PER_WRITER + i)).expect("append");
                }
                if done.send(()).is_err() {
                    return;
                }
            }
        });
    }
    let mut round = 0u64;
    let before = store.stats();
    let mut group = c.benchmark_group("group_commit");
    group.throughput(Throughput::Elements(WRITERS as u64 * PER_WRITER));
    group.sample_size(30);
    group.bench_function("50_writers_x_20_events", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                for tx in &go {
                    tx.send(round).expect("start writer");
                }
                start.wait();
                let t = Instant::now();
                for _ in 0..WRITERS {
                    done_rx.recv().expect("writer done");
                }
                total += t.elapsed();
            }
            total
        })
    });
    group.finish();
    let after = store.stats();
    let writes = after.writes - before.writes;
    let syncs = after.syncs - before.syncs;
    println!(
        "group_commit: {writes} durable appends, {syncs} syncs, {:.3} syncs per event, {:.1} events per sync",
        syncs as f64 / writes.max(1) as f64,
        writes as f64 / syncs.max(1) as f64
    );
    drop(go);
}

fn read_journal(c: &mut Criterion) {
    let dir = bench_dir();
    let store = SledStore::open_dir(dir.path().join(".weir")).expect("open");
    let run = create(&store, 7);
    for chunk in 0..10u64 {
        let events = (0..1000u64)
            .map(|i| NewEvent {
                step: StepId::new(format!("main/s{}", chunk * 1000 + i), 0, 0),
                kind: EventKind::StepCompleted,
                payload: vec![b'w'; 200],
            })
            .collect();
        store.append(run, &Append { at_ms: chunk, events, status: None }).expect("append");
    }
    assert_eq!(store.journal(run, 0).expect("journal").len(), 10_000);
    c.bench_function("read_journal_10k_events", |b| b.iter(|| store.journal(run, 0).expect("journal")));
}

criterion_group!(benches, durable_append, group_commit, read_journal);
criterion_main!(benches);
