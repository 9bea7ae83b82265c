//! Interpreter benchmarks (design.md §7; see benches/README.md, "Interpreter"). Run with
//! `cargo bench --bench interpreter`. The runs are chains of `function` steps (no outside
//! executor), so the figures are the engine's and the journal store's:
//!
//! 1. one durable `function` step against one raw 200-byte pwrite + fdatasync on the same
//!    disk, interleaved one by one in the same run (target ≤ 2×). The unit is the *marginal*
//!    step: the time from one step's start to the next one's inside a 100-step run (its
//!    evaluation, its durable `StepCompleted` append, and the interpreter's work up to the
//!    next step), with the raw sync done between two steps and left out of both. The same
//!    in 1,000-step runs, to show whether a step costs more when its run is long;
//! 2. a 100-step run end to end (create, `RunStarted`, the concurrency slot, 100 steps,
//!    `@end`), and a 1-step run for the cross-check `(T100 − T1) / 99`;
//! 3. 50 concurrent runs of 100 steps, one thread and one `Interpreter` each over one shared
//!    store: durable steps/s (target ≥ 10,000) and syncs per step (group commit).
//!
//! The store lives under `WEIR_BENCH_DIR` (default: the system temp dir), so the disk is
//! the one being measured. Each figure is printed (stderr) beside criterion's output.

// Helpers live in `benches/interpreter/` so cargo does not take them for bench targets.
#[path = "interpreter/chain.rs"]
mod chain;
#[path = "interpreter/timed_store.rs"]
mod timed_store;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use weir_bytecode::Bytecode;
use weir_runtime::interp::{Interpreter, Outcome, SystemClock};
use weir_runtime::store::{SledStore, Store};

use timed_store::TimedStore;

/// Steps in the runs of figures 1–3.
const STEPS: usize = 100;
/// Steps in the long runs of figure 1 (does a step cost more late in a long run?).
const LONG_STEPS: usize = 1_000;
/// Concurrent runs in figure 3.
const CONCURRENT_RUNS: usize = 50;
/// Size of the preallocated file the raw fdatasync writes into.
const FLOOR_FILE_BYTES: u64 = 8 << 20;

/// A fresh directory on the disk being measured.
fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("WEIR_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("bench tempdir")
}

/// The floor: 200 bytes written into a preallocated file, then fdatasync (data only, the
/// file's size never changes), what a log with preallocated segments pays per record.
struct Floor {
    file: File,
    offset: u64,
}

impl Floor {
    fn new(dir: &std::path::Path) -> Floor {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(dir.join("floor.log"))
            .expect("floor file");
        file.write_all_at(&vec![0u8; FLOOR_FILE_BYTES as usize], 0).expect("preallocate");
        file.sync_all().expect("sync");
        Floor { file, offset: 0 }
    }

    /// One raw write + fdatasync, timed.
    fn sync_one(&mut self) -> Duration {
        let started = Instant::now();
        self.file.write_all_at(&[b'w'; 200], self.offset).expect("write");
        self.file.sync_data().expect("fdatasync");
        let took = started.elapsed();
        self.offset = (self.offset + 200) % FLOOR_FILE_BYTES;
        took
    }
}

/// The `q`-quantile (0.0–1.0) of `samples`, sorting them.
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_unstable();
    let at = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[at]
}

/// Median and the 10th–90th percentile range, for printing.
fn spread(samples: &mut [Duration]) -> String {
    let (p10, p50, p90) = (quantile(samples, 0.1), quantile(samples, 0.5), quantile(samples, 0.9));
    format!("median {p50:.1?} (p10 {p10:.1?}, p90 {p90:.1?}, n={})", samples.len())
}

/// Start one run of `bytecode` and require the chain's output.
fn run_chain(store: &dyn Store, bytecode: &Bytecode, steps: usize, report: &mut dyn FnMut(&str)) {
    let clock = SystemClock;
    let (_, outcome) =
        Interpreter::new(store, &clock).start(bytecode, chain::input(0), None, report).expect("run");
    assert_eq!(outcome, Outcome::Succeeded(chain::output(0, steps)), "the chain run ended wrongly");
}

/// Figure 1: one durable `function` step against one raw fdatasync, interleaved.
///
/// Inside a 100-step run, the report callback hears `step sK started` at the start of each
/// step. The interval between two of those is one marginal step; between them (at the
/// second one) the callback does one raw pwrite + fdatasync, timed on its own and excluded
/// from the step's interval. Criterion's figure is the mean marginal step.
fn durable_step(c: &mut Criterion) {
    let dir = bench_dir();
    let mut floor = Floor::new(dir.path());
    let store = TimedStore::new(SledStore::open_dir(dir.path().join(".weir")).expect("open store"));
    let mut group = c.benchmark_group("interpreter_durable_step");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10).measurement_time(Duration::from_secs(5)).sampling_mode(SamplingMode::Flat);
    for steps in [STEPS, LONG_STEPS] {
        let bytecode = chain::compile(steps);
        // Each sample: (the step's interval, its store.append, the raw sync next to it).
        let mut samples: Vec<(Duration, Duration, Duration)> = Vec::new();
        let before = store.inner().stats();
        group.bench_function(format!("marginal_step_in_{steps}_step_runs_interleaved"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut counted = 0u64;
                while counted < iters {
                    let mut mark: Option<Instant> = None;
                    run_chain(&store, &bytecode, steps, &mut |line| {
                        if !(line.starts_with("step ") && line.ends_with(" started")) {
                            return;
                        }
                        let now = Instant::now();
                        if let Some(mark) = mark {
                            let step = now - mark;
                            let raw = floor.sync_one();
                            samples.push((step, store.last_append(), raw));
                            if counted < iters {
                                total += step;
                                counted += 1;
                            }
                        }
                        mark = Some(Instant::now());
                    });
                }
                total
            })
        });
        if samples.is_empty() {
            continue; // filtered out on the command line
        }
        let after = store.inner().stats();
        let mut intervals: Vec<Duration> = samples.iter().map(|s| s.0).collect();
        let mut appends: Vec<Duration> = samples.iter().map(|s| s.1).collect();
        let mut rest: Vec<Duration> = samples.iter().map(|s| s.0.saturating_sub(s.1)).collect();
        let mut raws: Vec<Duration> = samples.iter().map(|s| s.2).collect();
        let ratio = quantile(&mut intervals, 0.5).as_secs_f64() / quantile(&mut raws, 0.5).as_secs_f64();
        eprintln!(
            "figure 1, one durable function step vs one raw fdatasync, interleaved, {steps}-step runs:"
        );
        eprintln!("  marginal step (start of a step to the next one's): {}", spread(&mut intervals));
        eprintln!("  raw 200-byte pwrite + fdatasync (preallocated):     {}", spread(&mut raws));
        eprintln!("  ratio of the medians: {ratio:.2} (target <= 2.00)");
        eprintln!("  of the step, in store.append (apply + flush + fdatasync): {}", spread(&mut appends));
        eprintln!("  of the step, the rest (interpreter: eval, encode, bookkeeping): {}", spread(&mut rest));
        eprintln!(
            "  store: {} writes, {} syncs (the runs' other writes included: create with start, slot, end)",
            after.writes - before.writes,
            after.syncs - before.syncs
        );
    }
    group.finish();
}

/// Figure 2: a whole run, end to end (and a 1-step run for the marginal cross-check).
fn whole_run(c: &mut Criterion) {
    let dir = bench_dir();
    let store = TimedStore::new(SledStore::open_dir(dir.path().join(".weir")).expect("open store"));
    let mut medians = Vec::new();
    let mut group = c.benchmark_group("interpreter_run");
    group.sample_size(10).measurement_time(Duration::from_secs(6)).sampling_mode(SamplingMode::Flat);
    for steps in [1, STEPS] {
        let bytecode = chain::compile(steps);
        let mut runs: Vec<Duration> = Vec::new();
        let (appends_before, in_appends_before) = store.append_totals();
        let writes_before = store.inner().stats();
        group.bench_function(format!("{steps}_function_steps"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    run_chain(&store, &bytecode, steps, &mut |_| {});
                    let took = started.elapsed();
                    runs.push(took);
                    total += took;
                }
                total
            })
        });
        if runs.is_empty() {
            continue; // filtered out on the command line
        }
        let (appends_after, in_appends_after) = store.append_totals();
        let writes_after = store.inner().stats();
        let all: Duration = runs.iter().sum();
        let in_store = in_appends_after - in_appends_before;
        let median = quantile(&mut runs, 0.5);
        medians.push(median);
        eprintln!(
            "figure 2, a run of {steps} function step(s) end to end (create with start, slot, steps, end):"
        );
        eprintln!("  {}", spread(&mut runs));
        eprintln!(
            "  {:.1} durable writes and {:.1} syncs per run; {:.0} % of the time in store.append ({} appends)",
            (writes_after.writes - writes_before.writes) as f64 / runs.len() as f64,
            (writes_after.syncs - writes_before.syncs) as f64 / runs.len() as f64,
            100.0 * in_store.as_secs_f64() / all.as_secs_f64(),
            appends_after - appends_before,
        );
    }
    group.finish();
    if let [one, hundred] = medians[..] {
        eprintln!(
            "  cross-check: (median of {STEPS} steps - median of 1 step) / {} = {:.1?} per marginal step",
            STEPS - 1,
            hundred.saturating_sub(one) / (STEPS as u32 - 1)
        );
    }
}

/// Figure 3: 50 runs of 100 steps at once, one thread and one interpreter each, one store.
fn concurrent_runs(c: &mut Criterion) {
    let dir = bench_dir();
    let store = SledStore::open_dir(dir.path().join(".weir")).expect("open store");
    let bytecode = chain::compile(STEPS);
    // Each round: (wall time, store writes, store syncs).
    let mut rounds: Vec<(Duration, u64, u64)> = Vec::new();
    let function_steps = (CONCURRENT_RUNS * STEPS) as u64;

    let mut group = c.benchmark_group("interpreter_concurrent");
    group.throughput(Throughput::Elements(function_steps));
    group.sample_size(10).measurement_time(Duration::from_secs(8)).sampling_mode(SamplingMode::Flat);
    group.bench_function(format!("{CONCURRENT_RUNS}_runs_x_{STEPS}_function_steps"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ready = Barrier::new(CONCURRENT_RUNS + 1);
                let before = store.stats();
                let started = std::thread::scope(|scope| {
                    for _ in 0..CONCURRENT_RUNS {
                        scope.spawn(|| {
                            ready.wait();
                            run_chain(&store, &bytecode, STEPS, &mut |_| {});
                        });
                    }
                    ready.wait();
                    Instant::now()
                });
                let took = started.elapsed();
                let after = store.stats();
                rounds.push((took, after.writes - before.writes, after.syncs - before.syncs));
                total += took;
            }
            total
        })
    });
    group.finish();
    if rounds.is_empty() {
        return; // filtered out on the command line
    }

    let mut walls: Vec<Duration> = rounds.iter().map(|r| r.0).collect();
    let mut rates: Vec<f64> = rounds.iter().map(|r| function_steps as f64 / r.0.as_secs_f64()).collect();
    rates.sort_unstable_by(f64::total_cmp);
    let mut write_rates: Vec<f64> = rounds.iter().map(|r| r.1 as f64 / r.0.as_secs_f64()).collect();
    write_rates.sort_unstable_by(f64::total_cmp);
    let writes: u64 = rounds.iter().map(|r| r.1).sum();
    let syncs: u64 = rounds.iter().map(|r| r.2).sum();
    let steps = function_steps * rounds.len() as u64;
    eprintln!(
        "figure 3, {CONCURRENT_RUNS} concurrent runs of {STEPS} function steps ({function_steps} steps a round):"
    );
    eprintln!("  round wall time {}", spread(&mut walls));
    eprintln!(
        "  durable function steps/s: median {:.0} (min {:.0}, max {:.0}; target >= 10,000); \
         all durable writes/s (create with start, slot and end included): median {:.0}",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1],
        write_rates[write_rates.len() / 2]
    );
    eprintln!(
        "  {syncs} syncs for {steps} steps ({writes} durable writes): {:.3} syncs per step, {:.1} writes per sync",
        syncs as f64 / steps as f64,
        writes as f64 / syncs.max(1) as f64
    );
}

criterion_group!(benches, durable_step, whole_run, concurrent_runs);
criterion_main!(benches);
