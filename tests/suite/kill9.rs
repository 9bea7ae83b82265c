//! R1, the kill -9 matrix (reliability-tests.md), through the `weir` binary: runs of a flow
//! with keyed writes to a real server on 127.0.0.1, `parallel` branches, a durable timer,
//! an approval and a callback are driven by `weir run`, `weir resume`, `weir approve` and
//! `weir callback`; each command is SIGKILLed at a random moment or kills itself at a named
//! crash point (`WEIR_CRASH_AT=<point>:<k>`, read by debug builds only). After every kill
//! the store is reopened and every journal must extend what it held before. At the end:
//! every run succeeded, every keyed write reached the server under one key only, and
//! `weir replay --all` matches every journal. Reproduce with `WEIR_R1_SEED=<seed>`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weir_runtime::interp::{Interpreter, SystemClock};
use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{EventKind, RunId, RunStatus, SledStore, StepId, Store};

const MIN_KILLS: u32 = 200;
const MIN_HITS: u32 = 10;
/// Named crash points of the interpreter and of the store.
const POINTS: [&str; 9] = [
    "after-started",
    "after-effect",
    "before-timer-fired",
    "in-parallel",
    "after-vote",
    "before-sync",
    "after-sync",
    "during-group",
    "between-flush-and-sync",
];

const FLOW: &str = r#"flow f50 {
  version "1.0.0"
  concurrency max 3 queue
  trigger manual
  input { n: int = 1 }

  step a = function { value input.n * 2 }
  step send = http POST "/effects" {
    connection local
    body { run: run.id, step: "send" }
    idempotency_key "{run.id}/send"
    max_body 1000
  }
  parallel {
    step left = http POST "/effects" {
      connection local
      body { run: run.id, step: "left" }
      idempotency_key "{run.id}/left"
      max_body 1000
    }
    step right = http POST "/effects" {
      connection local
      body { run: run.id, step: "right" }
      idempotency_key "{run.id}/right"
      max_body 1000
    }
  }
  sleep 20ms
  approval go {
    summary "go on with {a.value}?"
    timeout 1h
    default reject
  }
  callback done {
    output { ok: bool }
    timeout 1h
  }
  step handoff = function { value done.url }
  step result = wait done
  output { a: a.value, ok: result.ok, handoff: len(handoff.value) > 0 }
}
"#;

/// Every request to the server: (idempotency key, body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn effects_server() -> (u16, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let port = super::http::serve(move |request| {
        let key = request.header("idempotency-key").unwrap_or("").to_string();
        log.lock().expect("log").push((key, request.body.clone()));
        (200, r#"{"ok": true}"#.to_string())
    });
    (port, seen)
}

/// What to do next for one run.
enum Next {
    Start,
    Approve,
    Post(String),
    Resume,
    Done,
}

fn next(store: &SledStore, run: RunId) -> Next {
    let Some(record) = store.run(run).expect("run") else { return Next::Start };
    let journal = store.journal(run, 0).expect("journal");
    if !journal.iter().any(|e| e.kind == EventKind::RunStarted) {
        return Next::Start;
    }
    match record.status {
        RunStatus::Succeeded => Next::Done,
        RunStatus::Paused => {
            let clock = SystemClock;
            let interp = Interpreter::new(store, &clock);
            if !interp.pending_approvals(run).expect("approvals").is_empty() {
                return Next::Approve;
            }
            let created = journal.iter().any(|e| e.step.path == "done");
            let waited =
                journal.iter().any(|e| e.step.path == "result" && e.kind == EventKind::StepCompleted);
            if created && !waited {
                let token = interp.callback_token(run, &StepId::new("done", 0, 0)).expect("token");
                return Next::Post(token);
            }
            Next::Resume
        }
        RunStatus::Queued | RunStatus::Running => Next::Resume,
        other => panic!("run {run} ended {}: {journal:#?}", other.name()),
    }
}

type Snapshot = Vec<(StepId, u8, Vec<u8>)>;

fn snapshot(store: &SledStore, run: RunId) -> Snapshot {
    if store.run(run).expect("run").is_none() {
        return Vec::new();
    }
    store.journal(run, 0).expect("journal").into_iter().map(|e| (e.step, e.kind.tag(), e.payload)).collect()
}

#[test]
fn kill9_matrix_through_the_cli_loses_nothing_and_repeats_no_keyed_effect() {
    let seed = std::env::var("WEIR_R1_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("R1 seed: {seed} (WEIR_R1_SEED={seed} reproduces the schedule)");
    let mut rng = SeededRng::new(seed);
    let (port, seen) = effects_server();
    let dir = tempfile::tempdir().expect("dir");
    let toml = format!(
        "[connections.local]\ntype = \"http\"\nbase_url = \"http://127.0.0.1:{port}\"\nallow_private_network = true\n\n[people.ada]\nemail = \"ada@example.com\"\n"
    );
    std::fs::write(dir.path().join("weir.toml"), toml).expect("toml");
    std::fs::write(dir.path().join("f50.flow"), FLOW).expect("flow");
    let weir = assert_cmd::cargo::cargo_bin("weir");
    let store_dir = dir.path().join(".weir");

    let mut runs: Vec<RunId> = Vec::new();
    let mut snapshots: HashMap<RunId, Snapshot> = HashMap::new();
    let mut kills = 0u32;
    let mut random_kills = 0u32;
    let mut hits: BTreeMap<&str, u32> = POINTS.iter().map(|p| (*p, 0)).collect();
    let mut cycles = 0u32;
    let started = Instant::now();
    loop {
        cycles += 1;
        assert!(cycles < 4000, "no progress after {cycles} commands (seed {seed})");
        // What is there to do? (The store is free: no command is running.)
        let store = SledStore::open_dir(&store_dir).expect("reopen");
        for run in &runs {
            let now = snapshot(&store, *run);
            if let Some(before) = snapshots.get(run) {
                assert!(
                    now.len() >= before.len() && now[..before.len()] == before[..],
                    "run {run}: a journaled event was lost or changed (seed {seed})"
                );
            }
            snapshots.insert(*run, now);
        }
        // No slot is leaked: at most three runs hold one, and only unfinished ones.
        let holders = store.slot_holders("f50").expect("slots");
        assert!(holders.len() <= 3, "{} slots held (seed {seed})", holders.len());
        for holder in &holders {
            let status = store.run(holder.run).expect("run").map(|r| r.status);
            assert!(status.is_some_and(|s| !s.is_terminal()), "a finished run holds a slot (seed {seed})");
        }
        let pending: Vec<(RunId, Next)> =
            runs.iter().map(|r| (*r, next(&store, *r))).filter(|(_, n)| !matches!(n, Next::Done)).collect();
        drop(store);
        let enough = kills >= MIN_KILLS && hits.values().all(|&h| h >= MIN_HITS);
        if enough && pending.is_empty() {
            break;
        }
        // Up to three runs are in progress at a time; a new one starts when fewer are.
        let in_progress = pending.len();
        let busy = in_progress >= 3 || (enough && in_progress > 0);
        let pick = if busy || (in_progress > 0 && rng.below(2) == 0) {
            Some(rng.below(in_progress as u64) as usize)
        } else {
            None
        };
        let (run, todo) = match pick.and_then(|i| pending.into_iter().nth(i)) {
            Some(work) => work,
            None => match (enough, runs.len()) {
                (false, _) | (true, 0) => {
                    let run =
                        RunId::from_u128(0x0190_0000_0000_7000_a000_0000_0000_0000 + runs.len() as u128);
                    runs.push(run);
                    (run, Next::Start)
                }
                _ => continue,
            },
        };
        let mut command = Command::new(&weir);
        command.current_dir(dir.path()).stdout(Stdio::null()).stderr(Stdio::null());
        let run_text = run.0.to_string();
        match &todo {
            Next::Start => command.args(["run", "f50.flow", "--id", &run_text, "--as", "ada"]),
            Next::Approve => command.args(["approve", &run_text, "go", "--as", "ada"]),
            Next::Post(token) => command.args(["callback", token, "--json-body", r#"{"ok": true}"#]),
            Next::Resume | Next::Done => command.args(["resume", &run_text]),
        };
        // A third of the commands die at a random moment, the rest at a named point (the
        // first time, or the second, it is reached), unless they never reach it.
        let point = if rng.below(3) == 0 {
            None
        } else {
            let candidates: Vec<&str> = POINTS
                .iter()
                .copied()
                .filter(|p| *p != "after-vote" || matches!(todo, Next::Approve))
                .collect();
            let least = candidates.iter().min_by_key(|p| hits[*p]).copied().unwrap_or(POINTS[0]);
            let pick = if rng.below(2) == 0 {
                least
            } else {
                candidates[rng.below(candidates.len() as u64) as usize]
            };
            Some(pick)
        };
        if let Some(point) = point {
            command.env("WEIR_CRASH_AT", format!("{point}:{}", 1 + rng.below(2)));
        }
        let mut child = command.spawn().expect("spawn weir");
        let deadline =
            Instant::now() + Duration::from_millis(if point.is_none() { 5 + rng.below(150) } else { 30_000 });
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                break child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if status.signal() == Some(9) {
            kills += 1;
            match point {
                Some(point) => *hits.get_mut(point).expect("point") += 1,
                None => random_kills += 1,
            }
        }
    }
    eprintln!(
        "R1: {kills} kills ({random_kills} at random moments), named points hit {hits:?}, {} runs, {cycles} commands, {:.1} s (seed {seed})",
        runs.len(),
        started.elapsed().as_secs_f64()
    );

    // Every run finished, with its output.
    let store = SledStore::open_dir(&store_dir).expect("reopen");
    for run in &runs {
        let record = store.run(*run).expect("run").expect("exists");
        assert_eq!(record.status, RunStatus::Succeeded, "run {run} (seed {seed})");
        let end = store
            .journal(*run, 0)
            .expect("journal")
            .into_iter()
            .find(|e| e.step.path == "@end")
            .expect("end");
        let output: serde_json::Value = serde_json::from_slice(&end.payload).expect("output");
        assert!(output.to_string().contains("\"ok\",{\"Bool\":true}"), "run {run}: {output}");
    }
    assert!(store.slot_holders("f50").expect("slots").is_empty(), "slots leaked (seed {seed})");
    drop(store);
    // Every keyed write reached the server under one key, and every one of them arrived.
    let seen = seen.lock().expect("seen").clone();
    let mut keys: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for (key, body) in &seen {
        let value: serde_json::Value = serde_json::from_str(body).expect("json body");
        let run = value["run"].as_str().expect("run").to_string();
        let step = value["step"].as_str().expect("step").to_string();
        keys.entry((run, step)).or_default().insert(key.clone());
    }
    assert_eq!(keys.len(), runs.len() * 3, "(seed {seed})");
    for ((run, step), sent) in &keys {
        assert_eq!(
            sent.len(),
            1,
            "run {run} step {step} was sent under several keys: {sent:?} (seed {seed})"
        );
        assert_eq!(sent.iter().next().map(String::as_str), Some(format!("{run}/{step}").as_str()));
    }
    eprintln!(
        "R1: {} requests for {} keyed effects (ratio {:.2}: the rest are resends under the same key)",
        seen.len(),
        keys.len(),
        seen.len() as f64 / keys.len() as f64
    );
    // Every journal replays.
    let replay =
        Command::new(&weir).current_dir(dir.path()).args(["replay", "--all"]).output().expect("replay");
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stdout));
    assert!(kills >= MIN_KILLS, "only {kills} kills (seed {seed})");
}
