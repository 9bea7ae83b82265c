//! Replay benchmark (design.md §7: "replay of a 10,000-event journal: under 50 ms"; see
//! benches/README.md, "Interpreter"). Run with `cargo bench --bench replay`.
//!
//! Each run is made for real first (durable appends over a `SledStore`), then replayed with
//! `Interpreter::replay(run, None)`: the run's pinned program loaded from the store, its
//! journal read, the program re-executed from an empty state against that journal (the
//! oracle), and every event the drive produces compared with the journal. Every replay must
//! match its journal throughout (`divergence == None`, every event of the drive compared).
//!
//! Figure 4 prints, for each journal: the replay's median and per-event cost, and the two
//! reads it starts with, timed alone: the journal (`store.journal(run, 0)`) and the program
//! (`interp.program(run)`, which reads the journal again to find the program's hash, then
//! reads and decodes the stored `.weirc`). The runs:
//!
//! - `long_loop` (`benches/replay/long_loop.rs`): one `for` over 2,500, 5,000 and 10,000
//!   input items with one `function` step inside, i.e. journals of ~2,500–10,000 events (one
//!   `StepCompleted` per iteration), to show whether the cost per event stays flat;
//! - `chain` (`benches/interpreter/chain.rs`): 10,000 distinct `function` steps in a row, a
//!   10,000-step program (so loading and decoding the program weighs in).
//!
//! The store lives under `WEIR_BENCH_DIR` (default: the system temp dir).

// Helpers live in subdirectories so cargo does not take them for bench targets.
#[path = "interpreter/chain.rs"]
mod chain;
#[path = "replay/long_loop.rs"]
mod long_loop;

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Interpreter, Outcome, SystemClock};
use weir_runtime::store::{RunId, SledStore, Store};

/// Items of the `long_loop` runs: the last is the 10,000-event journal of the target.
const LOOP_ITEMS: [usize; 3] = [2_500, 5_000, 10_000];
/// Steps of the `chain` run.
const CHAIN_STEPS: usize = 10_000;
/// The target for a 10,000-event journal (design.md §7).
const TARGET: Duration = Duration::from_millis(50);

/// A fresh directory on the disk being measured.
fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("WEIR_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("bench tempdir")
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
    format!("median {p50:.2?} (p10 {p10:.2?}, p90 {p90:.2?}, n={})", samples.len())
}

/// One finished run to replay.
struct Journaled {
    /// What it is, for the benchmark's id and the printed lines.
    name: String,
    run: RunId,
    /// Events in its journal.
    events: usize,
    /// Of those, the events the drive appends itself (not the start's `@run…` ones), which a
    /// replay must compare one by one.
    own: usize,
}

/// Makes one run of `bytecode` for real over `store`, requires its output, and says how
/// long it took and how many durable writes and syncs it cost.
fn journal_one(
    store: &SledStore,
    name: String,
    bytecode: &Bytecode,
    input: Value,
    expected: Value,
) -> Journaled {
    let clock = SystemClock;
    let before = store.stats();
    let started = Instant::now();
    let (run, outcome) =
        Interpreter::new(store, &clock).start(bytecode, input, None, &mut |_| {}).expect("the run");
    let took = started.elapsed();
    assert_eq!(outcome, Outcome::Succeeded(expected), "the {name} run ended wrongly");
    let after = store.stats();
    let journal = store.journal(run, 0).expect("journal");
    let events = journal.len();
    let own = journal.iter().filter(|e| !e.step.path.starts_with("@run")).count();
    eprintln!(
        "  made {name}: {events} events in {took:.1?} ({} durable writes, {} syncs)",
        after.writes - before.writes,
        after.syncs - before.syncs
    );
    Journaled { name, run, events, own }
}

/// Prints figure 4 for one journal: what was measured of it (a filter on the command line
/// may have left some groups out).
fn print_figure(
    journaled: &Journaled,
    compared: u32,
    replays: &mut [Duration],
    reads: &mut [Duration],
    programs: &mut [Duration],
) {
    if replays.is_empty() && reads.is_empty() && programs.is_empty() {
        return; // filtered out on the command line
    }
    let events = journaled.events;
    // `cargo bench` passes `--bench`; `cargo test --benches` runs each routine once, unoptimised.
    let measuring = std::env::args().any(|a| a == "--bench");
    if !measuring {
        eprintln!(
            "figure 4, {} ({events} events): cargo test, one unoptimised pass, not a figure",
            journaled.name
        );
    } else {
        eprintln!("figure 4, {} ({events} events):", journaled.name);
    }
    if !replays.is_empty() {
        let replay = quantile(replays, 0.5);
        eprintln!(
            "  replay (Interpreter::replay(run, None), {compared} events compared): {}",
            spread(replays)
        );
        let verdict = if events < 10_000 || !measuring {
            String::new()
        } else if replay < TARGET {
            format!("; target for 10,000 events < {TARGET:.0?}: meets")
        } else {
            format!("; target for 10,000 events < {TARGET:.0?}: MISSES")
        };
        eprintln!("  per event: {:.2} µs{verdict}", replay.as_secs_f64() * 1e6 / events as f64);
    }
    if !reads.is_empty() {
        eprintln!("  read the journal alone (store.journal(run, 0)): {}", spread(reads));
    }
    if !programs.is_empty() {
        eprintln!(
            "  load the program alone (interp.program(run): the journal again, the resource, decode): {}",
            spread(programs)
        );
    }
    if !(replays.is_empty() || reads.is_empty() || programs.is_empty()) {
        let replay = quantile(replays, 0.5);
        let rest = replay.saturating_sub(quantile(reads, 0.5)).saturating_sub(quantile(programs, 0.5));
        eprintln!(
            "  the replay's own work (median replay - median journal read - median program load): \
             {rest:.2?} ({:.2} µs per event, {:.0} % of the replay)",
            rest.as_secs_f64() * 1e6 / events as f64,
            100.0 * rest.as_secs_f64() / replay.as_secs_f64()
        );
    }
}

/// Figure 4: replay of long journals, and the reads it starts with.
fn replay(c: &mut Criterion) {
    let dir = bench_dir();
    let store = SledStore::open_dir(dir.path().join(".weir")).expect("open store");
    eprintln!("figure 4, replay of long journals: making the runs");
    let loop_bytecode = long_loop::compile();
    let mut runs: Vec<Journaled> = LOOP_ITEMS
        .iter()
        .map(|&n| {
            journal_one(
                &store,
                format!("long_loop_{n}_items"),
                &loop_bytecode,
                long_loop::input(n),
                long_loop::output(n),
            )
        })
        .collect();
    let compiled = Instant::now();
    let chain_bytecode = chain::compile(CHAIN_STEPS);
    eprintln!("  (the {CHAIN_STEPS}-step chain flow checked and lowered in {:.1?})", compiled.elapsed());
    runs.push(journal_one(
        &store,
        format!("chain_{CHAIN_STEPS}_steps"),
        &chain_bytecode,
        chain::input(0),
        chain::output(0, CHAIN_STEPS),
    ));

    let clock = SystemClock;
    let interp = Interpreter::new(&store, &clock);
    let mut group = c.benchmark_group("replay");
    group.sample_size(10).measurement_time(Duration::from_secs(4)).sampling_mode(SamplingMode::Flat);
    for journaled in &runs {
        let run = journaled.run;
        group.throughput(Throughput::Elements(journaled.events as u64));
        let mut reads: Vec<Duration> = Vec::new();
        group.bench_function(format!("{}/read_journal", journaled.name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let events = store.journal(run, 0).expect("journal");
                    let took = started.elapsed();
                    assert_eq!(events.len(), journaled.events);
                    reads.push(took);
                    total += took;
                }
                total
            })
        });
        let mut programs: Vec<Duration> = Vec::new();
        group.bench_function(format!("{}/load_program", journaled.name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let program = interp.program(run).expect("the run's program");
                    let took = started.elapsed();
                    std::hint::black_box(program);
                    programs.push(took);
                    total += took;
                }
                total
            })
        });
        let mut replays: Vec<Duration> = Vec::new();
        let mut compared = 0;
        group.bench_function(format!("{}/replay", journaled.name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let report = interp.replay(run, None).expect("the replay");
                    let took = started.elapsed();
                    assert_eq!(report.divergence, None, "the replay of {} diverged", journaled.name);
                    assert_eq!(report.events as usize, journaled.events, "the replay saw another journal");
                    assert_eq!(
                        report.compared as usize, journaled.own,
                        "the replay of {} did not compare every event of the drive",
                        journaled.name
                    );
                    compared = report.compared;
                    replays.push(took);
                    total += took;
                }
                total
            })
        });
        print_figure(journaled, compared, &mut replays, &mut reads, &mut programs);
    }
    group.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
