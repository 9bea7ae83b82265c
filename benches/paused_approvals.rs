//! 100,000 runs paused at an approval (design.md §7: "100,000 paused runs fit in under 500 MB
//! of disk and resume by id in under 10 ms"; see benches/README.md, "Interpreter"). A plain
//! timed binary, not criterion: building the store takes a while, then each figure is
//! measured once or over many runs.
//!
//!     cargo bench --bench paused_approvals      # WEIR_PAUSED_APPROVALS=100000 by default
//!     cargo test --bench paused_approvals       # 500 runs: does it still work?
//!
//! The runs are real: `Interpreter::start` of the flow in `benches/paused_approvals/release.rs`
//! (store the program, create the run, journal its start, take its concurrency slot, run a
//! `function` step, journal the approval's request and its timeout timer, status `paused`),
//! from many threads at once over one shared `SledStore` (group commit), each thread with an
//! interpreter of its own. Then figure 5: the store's size on disk, the time to open it
//! again, and for 1,000 runs picked at random (seeded) the time to load the run's program
//! (`interp.program(id)`) and to `resume` it, which re-executes it from its journal up to
//! the approval and pauses again (no decision has been made). The store lives under
//! `WEIR_BENCH_DIR` (default: the system temp dir), so the disk is the one being measured.

// The flow lives in `benches/paused_approvals/` so cargo does not take it for a bench target.
#[path = "paused_approvals/release.rs"]
mod release;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weir_runtime::interp::{Interpreter, Outcome, SystemClock};
use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{RunId, RunStatus, SledStore, Store};

/// Runs made when `WEIR_PAUSED_APPROVALS` is not set.
const DEFAULT_RUNS: u64 = 100_000;
/// Runs made under `cargo test --benches` (a check that the bench works, not a figure).
const SMOKE_RUNS: u64 = 500;
/// Threads starting runs at once (each start waits for its syncs; group commit shares them).
const WRITERS: usize = 50;
/// Runs resumed by id.
const RESUMES: usize = 1_000;
/// Targets (design.md §7).
const DISK_TARGET_BYTES: u64 = 500_000_000;
const RESUME_TARGET: Duration = Duration::from_millis(10);

/// The `q`-quantile (0.0–1.0) of sorted `samples`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Median, p90, p99 and max of `samples`, for printing.
fn spread(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    format!(
        "median {:.2?}, p90 {:.2?}, p99 {:.2?}, max {:.2?} (n={})",
        quantile(samples, 0.5),
        quantile(samples, 0.9),
        quantile(samples, 0.99),
        samples[samples.len() - 1],
        samples.len()
    )
}

/// The name of a run's waiting approval, when the outcome is a pause at one.
fn paused_at(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::Paused(waiting) if waiting.kind == "approval" => Some(waiting.name.as_str()),
        _ => None,
    }
}

/// Starts `runs` runs of the release flow over `store` from `WRITERS` threads; every one must
/// pause at its approval. Returns their ids (in no particular order).
fn build(store: &SledStore, runs: u64) -> Vec<RunId> {
    let bytecode = release::compile();
    let next = AtomicU64::new(0);
    let ids = Mutex::new(Vec::with_capacity(runs as usize));
    let progress_every = (runs / 10).max(1);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| {
                let clock = SystemClock;
                let interp = Interpreter::new(store, &clock);
                let mut mine = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= runs {
                        break;
                    }
                    let (id, outcome) =
                        interp.start(&bytecode, release::input(n), None, &mut |_| {}).expect("start a run");
                    assert_eq!(paused_at(&outcome), Some("go"), "run {n} did not pause at its approval");
                    mine.push(id);
                    if (n + 1).is_multiple_of(progress_every) {
                        eprintln!("  … {} runs started, {:.1?}", n + 1, started.elapsed());
                    }
                }
                ids.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
            });
        }
    });
    ids.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) the bench is a quick
    // check that it still works, not a measurement.
    let measuring = std::env::args().any(|a| a == "--bench");
    let runs: u64 = std::env::var("WEIR_PAUSED_APPROVALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(if measuring { DEFAULT_RUNS } else { SMOKE_RUNS });
    let base = match std::env::var_os("WEIR_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("bench tempdir");
    let dir = base.path().join(".weir");
    let whole = Instant::now();

    let mode = if measuring { "" } else { " (cargo test: unoptimised, a check, not a figure)" };
    eprintln!(
        "figure 5, {runs} runs paused at an approval{mode}: starting them ({WRITERS} threads, one store)"
    );
    let ids = {
        let store = SledStore::open_dir(&dir).expect("open store");
        let started = Instant::now();
        let ids = build(&store, runs);
        let took = started.elapsed();
        assert_eq!(ids.len() as u64, runs, "every run must have started");
        let stats = store.stats();
        eprintln!(
            "  built in {took:.1?}: {:.0} starts/s; {} durable writes ({:.1} per start), {} syncs \
             ({:.1} writes per sync)",
            runs as f64 / took.as_secs_f64(),
            stats.writes,
            stats.writes as f64 / runs as f64,
            stats.syncs,
            stats.writes as f64 / stats.syncs.max(1) as f64
        );
        let journal = store.journal(ids[0], 0).expect("a run's journal");
        let payload: usize = journal.iter().map(|e| e.payload.len()).sum();
        eprintln!(
            "  one run's journal: {} events, {payload} bytes of payload ({})",
            journal.len(),
            journal
                .iter()
                .map(|e| format!("{} {}", e.kind.name(), e.step.path))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let bytes = store.disk_bytes().expect("store size");
        eprintln!(
            "  disk: {:.1} MB ({:.0} bytes per run; target < {} MB: {})",
            bytes as f64 / 1e6,
            bytes as f64 / runs as f64,
            DISK_TARGET_BYTES / 1_000_000,
            if bytes < DISK_TARGET_BYTES { "meets" } else { "MISSES" }
        );
        ids
    };

    let opening = Instant::now();
    let store = SledStore::open_dir(&dir).expect("reopen store");
    eprintln!("  open time of the store: {:.1?}", opening.elapsed());
    eprintln!("  disk after reopen: {:.1} MB", store.disk_bytes().expect("store size") as f64 / 1e6);

    let clock = SystemClock;
    let interp = Interpreter::new(&store, &clock);
    let mut rng = SeededRng::new(7);
    let (mut programs, mut resumes, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    let before = store.stats();
    for _ in 0..RESUMES.min(ids.len()) {
        let id = ids[rng.below(ids.len() as u64) as usize];
        let started = Instant::now();
        let bytecode = interp.program(id).expect("the run's program");
        let loaded = Instant::now();
        let outcome = interp.resume(id, &bytecode, &mut |_| {}).expect("resume");
        let done = Instant::now();
        assert_eq!(paused_at(&outcome), Some("go"), "a resumed run did not pause at its approval again");
        programs.push(loaded - started);
        resumes.push(done - loaded);
        totals.push(done - started);
    }
    let after = store.stats();
    let paused = ids.iter().take(100).filter(|&&id| {
        store.run(id).expect("read a run").is_some_and(|record| record.status == RunStatus::Paused)
    });
    assert_eq!(paused.count(), ids.len().min(100), "resumed runs must stay paused");
    totals.sort_unstable();
    let median = quantile(&totals, 0.5);
    let p99 = quantile(&totals, 0.99);
    eprintln!("  resume by id ({} random runs), program + resume: {}", totals.len(), spread(&mut totals));
    eprintln!(
        "    target < {RESUME_TARGET:.0?}: median {}, p99 {}",
        if median < RESUME_TARGET { "meets" } else { "MISSES" },
        if p99 < RESUME_TARGET { "meets" } else { "MISSES" }
    );
    eprintln!("    of which interp.program(id) (journal, resource, decode): {}", spread(&mut programs));
    eprintln!("    of which interp.resume(id) (re-execute to the approval, pause): {}", spread(&mut resumes));
    eprintln!(
        "    durable writes during the resumes: {} ({} syncs)",
        after.writes - before.writes,
        after.syncs - before.syncs
    );
    eprintln!("  the whole bench took {:.1?}", whole.elapsed());
}
