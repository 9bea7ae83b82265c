//! kill -9: a child process (this test binary, re-executed) appends events for 50
//! concurrent runs through the sled store and prints each acknowledgement (plain appends,
//! which skip the intent, mixed with status changes, timers and slots of a shared key,
//! which go through intents and the cross-run lock); the parent
//! SIGKILLs it at random moments and the child kills itself at named crash points
//! (`WEIR_CRASH_AT=<point>:<k>`). After every kill the parent reopens the store and checks
//! that every acknowledged event is there and every journal is an exact prefix of what the
//! child meant to write. Reproduce a run with `WEIR_KILL9_SEED=<seed>`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{
    Append, CrashPoint, EventKind, NewEvent, NewRun, RunId, RunQuery, RunRecord, RunStatus, SledConfig,
    SledStore, StepId, Store,
};

const TEST_NAME: &str = "kill9_acknowledged_events_survive";
const CHILD_ENV: &str = "WEIR_KILL9_CHILD";
const RUNS: u32 = 50;
const EVENTS_PER_LIFE: u32 = 24;
const MIN_KILLS: u32 = 200;
/// Cycles per store directory.
const EPOCH: u32 = 12;

fn run_id(r: u32) -> RunId {
    RunId::from_u128(0x0190_0000_0000_7000_9000_0000_0000_0000 + u128::from(r))
}

fn payload(r: u32, i: u32) -> Vec<u8> {
    let mut p = format!("run {r} event {i} ").into_bytes();
    p.resize(64 + (i as usize * 7 + r as usize) % 150, b'w');
    p
}

/// The concurrency key every run takes a slot of (never full).
const SLOT_KEY: &str = "wibble-slot";

/// The i-th event of every run: mostly completed steps, and in every eight a timer
/// scheduled (the run pauses), the same timer fired, a slot acquired and released.
fn kind(i: u32) -> EventKind {
    match i % 8 {
        3 => EventKind::TimerScheduled { due_at_ms: 1_000 + u64::from(i) },
        4 => EventKind::TimerFired,
        6 => EventKind::SlotAcquired { key: SLOT_KEY.to_owned(), limit: 1_000 },
        7 => EventKind::SlotReleased { key: SLOT_KEY.to_owned() },
        _ => EventKind::StepCompleted,
    }
}

fn status(i: u32) -> RunStatus {
    if i % 8 == 3 { RunStatus::Paused } else { RunStatus::Running }
}

fn step(i: u32) -> StepId {
    // A timer fires under the identity that scheduled it.
    let i = if i % 8 == 4 { i - 1 } else { i };
    StepId::new(format!("main/s{i}"), i % 3, 0)
}

#[test]
fn kill9_acknowledged_events_survive() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
        std::process::exit(0);
    }
    parent();
}

/// Kills this process at the k-th time the chosen point is reached.
fn crash_hook() -> Option<weir_runtime::store::CrashHook> {
    let spec = std::env::var("WEIR_CRASH_AT").ok()?;
    let (name, k) = spec.split_once(':')?;
    let point = CrashPoint::parse(name)?;
    let k: u64 = k.parse().ok()?;
    let hits = AtomicU64::new(0);
    Some(Arc::new(move |at: CrashPoint| {
        if at == point && hits.fetch_add(1, Ordering::SeqCst) + 1 == k {
            // SAFETY: kill(2) on our own pid with SIGKILL; nothing to clean up.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            std::process::abort();
        }
    }))
}

fn child(dir: &Path) {
    println!("OPEN");
    let mut config = SledConfig::new(dir);
    config.crash_hook = crash_hook();
    let store = match SledStore::open(config) {
        Ok(store) => Arc::new(store),
        Err(e) => {
            println!("ERR open {} {e}", e.code());
            return;
        }
    };
    println!("READY");
    let threads: Vec<_> = (0..RUNS)
        .map(|r| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let id = run_id(r);
                let created = store.create_run(&NewRun { id, flow: "wibble".to_owned(), created_at_ms: 1 });
                if let Err(e) = created {
                    println!("ERR create {} {e}", e.code());
                    return;
                }
                let start = match store.run(id) {
                    Ok(Some(record)) => record.journal_len,
                    other => {
                        println!("ERR run {other:?}");
                        return;
                    }
                };
                for i in start..start + EVENTS_PER_LIFE {
                    let append = Append {
                        at_ms: u64::from(i),
                        events: vec![NewEvent { step: step(i), kind: kind(i), payload: payload(r, i) }],
                        status: Some(status(i)),
                    };
                    match store.append(id, &append) {
                        Ok(_) => println!("ACK {r} {i}"),
                        Err(e) => {
                            println!("ERR append {} {e}", e.code());
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        if t.join().is_err() {
            println!("ERR panic");
        }
    }
}

/// How a cycle ends.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// As soon as the child says it is opening the store.
    DuringOpen,
    /// After this many acknowledgements.
    AfterAcks(u64),
    /// The child kills itself at the k-th time it reaches a point.
    At(CrashPoint, u64),
}

fn verify(dir: &Path, acked: &[u32], seed: u64, cycle: u32) -> Vec<u32> {
    let store =
        SledStore::open_dir(dir).unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: reopen failed: {e}"));
    let mut lens = Vec::with_capacity(acked.len());
    for (r, &acked_len) in acked.iter().enumerate() {
        let r = r as u32;
        let journal = match store.journal(run_id(r), 0) {
            Ok(j) => j,
            Err(e) if e.code() == "STORE-RUN-UNKNOWN" && acked_len == 0 => Vec::new(),
            Err(e) => panic!("seed {seed} cycle {cycle}: run {r}: {e}"),
        };
        assert!(
            journal.len() as u32 >= acked_len,
            "seed {seed} cycle {cycle}: run {r} lost acknowledged events: {} < {acked_len}",
            journal.len()
        );
        for (i, event) in journal.iter().enumerate() {
            let i = i as u32;
            assert_eq!(event.index, i, "seed {seed} cycle {cycle}: run {r}");
            assert_eq!(event.step, step(i), "seed {seed} cycle {cycle}: run {r} event {i}");
            assert_eq!(event.kind, kind(i), "seed {seed} cycle {cycle}: run {r} event {i}");
            assert_eq!(event.payload, payload(r, i), "seed {seed} cycle {cycle}: run {r} event {i}");
        }
        if let Ok(Some(record)) = store.run(run_id(r)) {
            assert_eq!(record.journal_len as usize, journal.len(), "seed {seed} cycle {cycle}");
            check_indexes(&store, r, &record, seed, cycle);
        }
        if let Some(last) = journal.last() {
            // The identity index survived too: re-appending the last event is recognised.
            let again = Append {
                at_ms: 0,
                events: vec![NewEvent {
                    step: last.step.clone(),
                    kind: last.kind.clone(),
                    payload: last.payload.clone(),
                }],
                status: None,
            };
            let receipt = store
                .append(run_id(r), &again)
                .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: run {r}: re-append: {e}"));
            assert_eq!(
                (receipt.appended, receipt.indexes),
                (0, vec![last.index]),
                "seed {seed} cycle {cycle}"
            );
        }
        lens.push(journal.len() as u32);
    }
    lens
}

/// The indexes written with the journal agree with it: status (and the status index), the
/// run's due timer, and its slot.
fn check_indexes(store: &SledStore, r: u32, record: &RunRecord, seed: u64, cycle: u32) {
    let id = run_id(r);
    let last = record.journal_len.checked_sub(1);
    let expected_status = last.map_or(RunStatus::Queued, status);
    assert_eq!(record.status, expected_status, "seed {seed} cycle {cycle}: run {r} status");
    let by_status = store
        .find_runs(&RunQuery { status: Some(record.status), ..RunQuery::default() })
        .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: find runs: {e}"));
    assert!(by_status.iter().any(|found| found.id == id), "seed {seed} cycle {cycle}: run {r} not indexed");
    let timers: Vec<u64> = store
        .due_timers(u64::MAX, 0)
        .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: timers: {e}"))
        .into_iter()
        .filter(|t| t.run == id)
        .map(|t| t.due_at_ms)
        .collect();
    let expected_timers: Vec<u64> = match last {
        Some(i) if i % 8 == 3 => vec![1_000 + u64::from(i)],
        _ => Vec::new(),
    };
    assert_eq!(timers, expected_timers, "seed {seed} cycle {cycle}: run {r} timers");
    let holds = store
        .slot_holders(SLOT_KEY)
        .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: slots: {e}"))
        .iter()
        .any(|h| h.run == id);
    assert_eq!(holds, last.is_some_and(|i| i % 8 == 6), "seed {seed} cycle {cycle}: run {r} slot");
}

fn parent() {
    let seed = std::env::var("WEIR_KILL9_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    println!("kill -9 seed {seed} (rerun with WEIR_KILL9_SEED={seed})");
    let mut rng = SeededRng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store_dir = dir.path().join(".weir-0");
    let exe = std::env::current_exe().expect("current exe");
    let mut acked = vec![0u32; RUNS as usize];
    let mut kills = 0u32;
    let mut by_point = [0u32; 4];
    let (mut during_open, mut after_acks) = (0u32, 0u32);
    let mut total_acks = 0u64;
    let mut cycle = 0u32;
    while kills < MIN_KILLS {
        cycle += 1;
        if cycle.is_multiple_of(EPOCH) {
            // A fresh store now and then keeps sled's recovery (a replay of its whole log)
            // short, so each child's life stays short.
            store_dir = dir.path().join(format!(".weir-{cycle}"));
            acked = vec![0u32; RUNS as usize];
        }
        assert!(cycle < MIN_KILLS * 3, "seed {seed}: too few kills ({kills}) in {cycle} cycles");
        let plan = match rng.below(10) {
            0 => Kill::DuringOpen,
            1..=4 => Kill::AfterAcks(1 + rng.below(200)),
            _ => Kill::At(CrashPoint::ALL[rng.below(4) as usize], 1 + rng.below(30)),
        };
        let mut command = Command::new(&exe);
        command
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, &store_dir)
            .env_remove("WEIR_CRASH_AT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Kill::At(point, k) = plan {
            command.env("WEIR_CRASH_AT", format!("{}:{k}", point.name()));
        }
        let t_life = std::time::Instant::now();
        let mut child = command.spawn().expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut killed_by_us = false;
        let mut acks_this_life = 0u64;
        let mut errors = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read child stdout");
            if let Some(rest) = line.strip_prefix("ACK ") {
                let mut parts = rest.split(' ').map(|p| p.parse::<u32>().expect("ack number"));
                let (r, i) = (parts.next().expect("run"), parts.next().expect("index"));
                acked[r as usize] = acked[r as usize].max(i + 1);
                acks_this_life += 1;
                total_acks += 1;
            } else if line.starts_with("ERR") {
                errors.push(line.clone());
            }
            let kill_now = match plan {
                // libtest prints the test name without a newline first.
                Kill::DuringOpen => line.ends_with("OPEN"),
                Kill::AfterAcks(n) => acks_this_life >= n,
                Kill::At(..) => false,
            };
            if kill_now && !killed_by_us {
                child.kill().expect("SIGKILL the child");
                killed_by_us = true;
            }
        }
        let output = child.wait_with_output().expect("wait for child");
        assert!(errors.is_empty(), "seed {seed} cycle {cycle}: child errors {errors:?}");
        match output.status.signal() {
            Some(libc::SIGKILL) => {
                kills += 1;
                match plan {
                    Kill::At(point, _) => {
                        by_point[CrashPoint::ALL.iter().position(|p| *p == point).unwrap_or(0)] += 1;
                    }
                    Kill::DuringOpen => during_open += 1,
                    Kill::AfterAcks(_) => after_acks += 1,
                }
            }
            _ => assert!(
                output.status.success(),
                "seed {seed} cycle {cycle}: child ended with {:?}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        }
        let t_verify = std::time::Instant::now();
        let lens = verify(&store_dir, &acked, seed, cycle);
        if std::env::var("WEIR_KILL9_TRACE").is_ok() {
            eprintln!("cycle {cycle} {plan:?} life {:?} verify {:?}", t_life.elapsed(), t_verify.elapsed());
        }
        // Events written but not acknowledged before the kill are durable now: count them.
        for (r, len) in lens.iter().enumerate() {
            acked[r] = acked[r].max(*len);
        }
    }
    println!(
        "kill -9: {kills} kills in {cycle} cycles, {total_acks} acknowledged events, 0 lost; \
         {during_open} while opening, {after_acks} after a random number of acks; crash points: {}",
        CrashPoint::ALL
            .iter()
            .zip(by_point)
            .map(|(p, n)| format!("{}={n}", p.name()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (point, hits) in CrashPoint::ALL.iter().zip(by_point) {
        assert!(hits >= 5, "seed {seed}: crash point {} hit only {hits} times", point.name());
    }
}
