//! R9, durable timers (reliability-tests.md): 10,000 timers due across a minute, woken by the
//! `weir resume --watch` scheduler, which is SIGKILLed and restarted 10 times meanwhile.
//! Every timer fires exactly once and never early; the lateness after the scheduler is back
//! up is measured (p99 must stay under a second).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weir_bytecode::Value;
use weir_runtime::interp::{Interpreter, Outcome, SystemClock};
use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{RunId, RunStatus, SledStore, Store};

const TIMERS: u64 = 10_000;
const KILLS: u32 = 10;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[test]
fn ten_thousand_timers_fire_once_on_time_across_scheduler_kills() {
    let seed = std::env::var("WEIR_R9_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(now_ms);
    eprintln!("R9 seed: {seed}");
    let text = "flow nap {\n  version \"1.0.0\"\n  concurrency unlimited because \"many sleepers\"\n  trigger manual\n  input { wait: duration = 1s }\n\n  sleep input.wait\n  output { slept: input.wait }\n}\n";
    let parsed = weir_grammar::parse(text);
    let flow = parsed.file.flows().next().expect("a flow");
    let bytecode = weir_compiler::lower::lower_flow(flow, text, None, None).expect("lowers");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("nap.flow"), text).expect("flow");
    let store_dir = dir.path().join(".weir");

    // Set up: 10,000 runs, each driven to its timer, on 8 threads so that their writes share
    // syncs. Every timer is due within the minute that starts 35 s from now (setting up
    // takes less), whenever its run was set up.
    let started = Instant::now();
    let window = now_ms() + 35_000;
    {
        let store = SledStore::open_dir(&store_dir).expect("store");
        let clock = SystemClock;
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                let (store, clock, bytecode) = (&store, &clock, &bytecode);
                scope.spawn(move || {
                    let mut rng = SeededRng::new(seed ^ t);
                    let interp = Interpreter::new(store, clock).pausing_at_timers();
                    for i in (t..TIMERS).step_by(8) {
                        let due = window + rng.below(60_000);
                        let wait = Value::Duration(i64::try_from(due.saturating_sub(now_ms())).expect("ms"));
                        let id = RunId::from_u128(0x0190_0000_0000_7000_d000_0000_0000_0000 + u128::from(i));
                        let (_, outcome) = interp
                            .start(bytecode, Value::record([("wait", wait)]), Some(id), &mut |_| {})
                            .expect("start");
                        assert!(matches!(outcome, Outcome::Paused(_) | Outcome::Succeeded(_)), "{outcome:?}");
                    }
                });
            }
        });
    }
    eprintln!("R9: {TIMERS} timers scheduled in {:.1} s", started.elapsed().as_secs_f64());

    // The scheduler, killed at random moments and restarted at once.
    let weir = assert_cmd::cargo::cargo_bin("weir");
    let spawn = || {
        Command::new(&weir)
            .args(["resume", "--watch", "--project"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("weir resume --watch")
    };
    let mut rng = SeededRng::new(seed);
    let lead = window.saturating_sub(now_ms());
    let mut kill_at: Vec<u64> = (0..KILLS).map(|_| lead + rng.below(58_000)).collect();
    kill_at.sort_unstable();
    let mut incarnations = vec![now_ms()];
    let mut scheduler = spawn();
    let begun = Instant::now();
    for at in kill_at {
        let wait = Duration::from_millis(at).saturating_sub(begun.elapsed());
        std::thread::sleep(wait);
        let _ = scheduler.kill();
        let _ = scheduler.wait();
        incarnations.push(now_ms());
        scheduler = spawn();
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = scheduler.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the scheduler never ran out of timers (seed {seed})");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the last scheduler failed: {status:?} (seed {seed})");

    // Every timer fired once, never early; lateness counted from when it was due or, when
    // it came due while no scheduler was up, from the restart that woke it.
    let store = SledStore::open_dir(&store_dir).expect("reopen");
    let mut lateness = Vec::with_capacity(TIMERS as usize);
    for i in 0..TIMERS {
        let id = RunId::from_u128(0x0190_0000_0000_7000_d000_0000_0000_0000 + u128::from(i));
        let record = store.run(id).expect("run").expect("exists");
        assert_eq!(record.status, RunStatus::Succeeded, "run {id} (seed {seed})");
        let journal = store.journal(id, 0).expect("journal");
        let (due, fired) = super::timers::the_timer(&journal, &format!("run {id} (seed {seed})"));
        let up = incarnations.iter().copied().filter(|&t| t <= fired).max().unwrap_or(0);
        lateness.push(fired - due.max(up));
    }
    lateness.sort_unstable();
    let pick = |q: usize| lateness[(lateness.len() - 1) * q / 100];
    eprintln!(
        "R9: {TIMERS} timers, {KILLS} kills, lateness after the scheduler was up: p50 {} ms, p99 {} ms, max {} ms (seed {seed})",
        pick(50),
        pick(99),
        lateness.last().copied().unwrap_or(0)
    );
    assert!(pick(99) <= 1_000, "lateness p99 {} ms (seed {seed})", pick(99));
}
