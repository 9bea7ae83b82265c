//! 100,000 paused runs, each with a short journal: disk size, open time, find-by-id
//! latency. A plain bench binary (not criterion): building the store takes a while, then
//! each figure is measured once or over many lookups. `WEIR_PAUSED_RUNS` changes the count.
//!
//!     cargo bench -p weir-runtime --bench paused_runs

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{
    Append, EventKind, NewEvent, NewRun, RunId, RunQuery, RunStatus, SledStore, StepId, Store,
};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn short_journal(i: u64) -> Append {
    let event = |path: &str, kind: EventKind, payload: Vec<u8>| NewEvent {
        step: StepId::new(path, 0, 0),
        kind,
        payload,
    };
    Append {
        at_ms: 1_000 + i,
        events: vec![
            event("main", EventKind::RunStarted, br#"{"ticket":"WIB-1234","priority":"high"}"#.to_vec()),
            event("main/fetch", EventKind::StepCompleted, vec![b'w'; 120]),
            event("main/now", EventKind::ValueRecorded, (1_000 + i).to_be_bytes().to_vec()),
            event("main/approve", EventKind::StepStarted, Vec::new()),
        ],
        status: Some(RunStatus::Paused),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: u64 = std::env::var("WEIR_PAUSED_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let base = match std::env::var_os("WEIR_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("bench tempdir");
    let dir = base.path().join(".weir");
    let id = |i: u64| RunId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(i));

    let t = Instant::now();
    {
        let store = Arc::new(SledStore::open_dir(&dir).expect("open"));
        let writers = 50u64;
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut i = w;
                    while i < runs {
                        store
                            .create_run(&NewRun {
                                id: id(i),
                                flow: format!("wibble-{}", i % 20),
                                created_at_ms: 1_000 + i,
                            })
                            .expect("create");
                        store.append(id(i), &short_journal(i)).expect("append");
                        i += writers;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("writer");
        }
        let stats = store.stats();
        println!(
            "built {runs} paused runs (4 events each) in {:.1?} with 50 writers: {} writes, {} syncs",
            t.elapsed(),
            stats.writes,
            stats.syncs
        );
        println!("disk size: {:.1} MB", store.disk_bytes().expect("size") as f64 / 1e6);
    }

    let t = Instant::now();
    let store = SledStore::open_dir(&dir).expect("reopen");
    println!("open time: {:.1?}", t.elapsed());
    println!("disk size after reopen: {:.1} MB", store.disk_bytes().expect("size") as f64 / 1e6);

    let mut rng = SeededRng::new(42);
    let mut lookups = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let run = id(rng.below(runs));
        let t = Instant::now();
        let record = store.run(run).expect("find").expect("present");
        let journal = store.journal(run, 0).expect("journal");
        lookups.push(t.elapsed());
        assert_eq!(record.status, RunStatus::Paused);
        assert_eq!(journal.len(), 4);
    }
    lookups.sort();
    println!(
        "find by id + read its journal (10,000 random lookups): median {:.1?}, p99 {:.1?}, max {:.1?}",
        percentile(&lookups, 0.5),
        percentile(&lookups, 0.99),
        lookups[lookups.len() - 1]
    );

    let t = Instant::now();
    let page = store
        .find_runs(&RunQuery {
            status: Some(RunStatus::Paused),
            flow: Some("wibble-7".to_owned()),
            limit: 100,
            ..RunQuery::default()
        })
        .expect("query");
    println!("find 100 paused runs of one flow: {:.1?} ({} found)", t.elapsed(), page.len());
}
