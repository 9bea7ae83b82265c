//! The interpreter end to end: flows compiled by the real lowering, run over the real sled
//! store; a run stopped by a failing write resumes from its journal without doing any step
//! twice; a finished run is not driven again.

use std::collections::BTreeMap;
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Clock, Interpreter, Outcome};
use weir_runtime::store::{EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, SledStore, Store};

/// A pinned clock whose sleeps move time instead of waiting.
pub(super) struct TestClock {
    pub(super) now: std::sync::Mutex<u64>,
    ids: std::sync::Mutex<u32>,
}

impl TestClock {
    pub(super) fn new() -> TestClock {
        TestClock { now: std::sync::Mutex::new(1_767_225_600_000), ids: std::sync::Mutex::new(0) }
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        *self.now.lock().expect("clock")
    }
    fn uuid(&self) -> String {
        let mut ids = self.ids.lock().expect("clock");
        *ids += 1;
        format!("00000000-0000-7000-8000-{:012}", *ids)
    }
    fn sleep_until(&self, due_ms: u64) {
        let mut now = self.now.lock().expect("clock");
        *now = (*now).max(due_ms);
    }
}

/// A flow file of the repository, lowered (it must parse cleanly).
pub(super) fn compile(path: &str) -> Bytecode {
    let text = std::fs::read_to_string(super::root().join(path)).expect("flow");
    let parsed = weir_grammar::parse(&text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let flow = parsed.file.flows().next().expect("a flow");
    weir_compiler::lower::lower_flow(flow, &text, None, None).expect("lowers")
}

fn input() -> Value {
    Value::record([("names", Value::List(vec![Value::String("ada".into()), Value::String("grace".into())]))])
}

fn completed_per_step(store: &dyn Store, run: weir_runtime::store::RunId) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for event in store.journal(run, 0).expect("journal") {
        if event.kind == EventKind::StepCompleted {
            *out.entry(format!("{}#{}", event.step.path, event.step.iteration)).or_default() += 1;
        }
    }
    out
}

#[test]
fn a_flow_runs_to_its_output_and_journals_every_step_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open_dir(dir.path().join(".weir")).expect("store");
    let clock = TestClock::new();
    let bytecode = compile("tests/run/counter.flow");
    let mut lines = Vec::new();
    let (run, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, input(), None, &mut |l| lines.push(l.to_string()))
        .expect("run");
    let Outcome::Succeeded(output) = outcome else { panic!("{outcome:?}") };
    assert_eq!(output.field("greeted"), Some(&Value::Int(2)));
    assert_eq!(output.field("first"), Some(&Value::String("hello, ada".into())));
    assert_eq!(output.field("id"), Some(&Value::String("00000000-0000-7000-8000-000000000001".into())));
    assert!(
        lines.iter().any(|l| l == "log \"hello, grace\"")
            && lines.iter().any(|l| l == "log \"caught planned\""),
        "{lines:?}"
    );
    // Loop iterations are separate identities; each step completed once.
    let counts = completed_per_step(&store, run);
    assert_eq!(counts.get("greet#0"), Some(&1));
    assert_eq!(counts.get("greet#1"), Some(&1));
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    // The sleep is a durable timer: scheduled, then fired.
    let journal = store.journal(run, 0).expect("journal");
    assert!(journal.iter().any(|e| matches!(e.kind, EventKind::TimerScheduled { .. })));
    assert!(journal.iter().any(|e| e.kind == EventKind::TimerFired));
    // A finished run is not driven again: the same outcome, nothing appended.
    let before = journal.len();
    let again = Interpreter::new(&store, &clock).resume(run, &bytecode, &mut |_| {}).expect("resume");
    assert_eq!(again, Outcome::Succeeded(output));
    assert_eq!(store.journal(run, 0).expect("journal").len(), before);
}

#[test]
fn a_run_stopped_by_a_failed_write_resumes_without_doing_a_step_twice() {
    let bytecode = compile("tests/run/counter.flow");
    // The output of an uninterrupted run, for comparison.
    let reference = {
        let dir = tempfile::tempdir().expect("dir");
        let store = SledStore::open_dir(dir.path()).expect("store");
        let (_, outcome) = Interpreter::new(&store, &TestClock::new())
            .start(&bytecode, input(), None, &mut |_| {})
            .expect("run");
        outcome
    };
    let Outcome::Succeeded(reference) = reference else { panic!("{reference:?}") };
    // Stop the run at each of its store operations in turn, then resume it.
    let mut resumed = 0;
    for n in 1..60u64 {
        // The wrapper rebuilds its store from the synced writes on reopen (a fresh model
        // store each time), exactly what a restarted process finds on disk.
        let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("fault store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock);
        let mut first = Vec::new();
        let started = interp.start(&bytecode, input(), None, &mut |l| first.push(l.to_string()));
        let run = match started {
            Ok((_, outcome)) => {
                let Outcome::Succeeded(output) = &outcome else { panic!("fault at {n}: {outcome:?}") };
                assert_eq!(
                    without_id(output),
                    without_id(&reference),
                    "fault at {n} hit nothing that mattered"
                );
                continue;
            }
            // Like a process that restarts: reopen the store, find the run, resume it.
            Err(_) => {
                store.reopen().expect("reopen");
                store.find_runs(&Default::default()).expect("runs").first().map(|r| r.id)
            }
        };
        let Some(run) = run else { continue }; // the fault hit the run's creation: nothing to resume
        let mut second = Vec::new();
        let outcome = match interp.resume(run, &bytecode, &mut |l| second.push(l.to_string())) {
            Ok(outcome) => outcome,
            // The fault hit the start event: starting again with the same id is the retry.
            Err(weir_runtime::interp::InterpError::Journal(_)) => {
                interp
                    .start(&bytecode, input(), Some(run), &mut |l| second.push(l.to_string()))
                    .expect("restart")
                    .1
            }
            Err(e) => panic!("fault at {n}: resume: {e}"),
        };
        // A `uuid()` whose journaling failed was never used, so the resumed run may draw a
        // new one; the value it returns is then the journaled one.
        let Outcome::Succeeded(output) = &outcome else { panic!("fault at {n}: {outcome:?}") };
        assert_eq!(without_id(output), without_id(&reference), "fault at operation {n}");
        let journaled: Vec<Value> = store
            .journal(run, 0)
            .expect("journal")
            .into_iter()
            .filter(|e| e.kind == EventKind::ValueRecorded && e.step.path.contains("uuid"))
            .filter_map(|e| serde_json::from_slice(&e.payload).ok())
            .collect();
        assert_eq!(
            journaled.iter().collect::<Vec<_>>(),
            vec![output.field("id").expect("id")],
            "fault at {n}"
        );
        resumed += 1;
        let counts = completed_per_step(&store, run);
        assert!(counts.values().all(|&c| c == 1), "fault at {n}: a step completed twice: {counts:?}");
        store.reopen().expect("reopen");
        super::replay::assert_replays(&store, &weir_config::Config::default(), run);
        // What the first drive finished, the second did not do again.
        for line in first.iter().filter(|l| l.starts_with("step ")) {
            let step = line.split(" done").next().unwrap_or_default();
            assert!(
                !second.iter().any(|l| l.starts_with(&format!("{step} done"))),
                "fault at {n}: {step} ran twice"
            );
        }
    }
    assert!(resumed >= 15, "only {resumed} faults stopped the run");
}

/// A real HTTP server on 127.0.0.1 that answers `{"id": 7}` and records each request's
/// `Idempotency-Key` (empty when there is none).
fn notes_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let port = super::http::serve(move |request| {
        log.lock().expect("log").push(request.header("idempotency-key").unwrap_or("").to_string());
        (200, r#"{"id": 7}"#.to_string())
    });
    (port, seen)
}

fn poster(key: bool) -> String {
    let key = if key { "    idempotency_key \"{run.id}-send\"\n" } else { "" };
    format!(
        "flow poster {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  input {{ note: string = \"hi\" }}\n\n  step send = http POST \"/notes\" {{\n    connection local\n    body {{ note: input.note }}\n    output {{ id: int }}\n{key}  }}\n  output {{ status: send.status, id: send.body.id }}\n}}\n"
    )
}

fn local_config(port: u16) -> weir_config::Config {
    let toml = format!(
        "[connections.local]\ntype = \"http\"\nbase_url = \"http://127.0.0.1:{port}\"\nallow_private_network = true\n"
    );
    let (config, diagnostics) = weir_config::parse_bytes(toml.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    config
}

/// Flow text checked against `config` (no errors allowed), then lowered.
pub(super) fn compile_text(text: &str, config: &weir_config::Config) -> Bytecode {
    let (_, diagnostics) = weir_compiler::check::diagnose(text.as_bytes(), Some(config));
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let parsed = weir_grammar::parse(text);
    let flow = parsed.file.flows().next().expect("a flow");
    weir_compiler::lower::lower_flow(flow, text, Some(config), None).expect("lowers")
}

#[test]
fn an_http_step_posts_once_with_its_idempotency_key() {
    let (port, seen) = notes_server();
    let config = local_config(port);
    let bytecode = compile_text(&poster(true), &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let root = std::path::PathBuf::from(".");
    let (run, outcome) = Interpreter::new(&store, &clock)
        .with_project(&config, &root)
        .start(&bytecode, Value::Record(Vec::new()), None, &mut |_| {})
        .expect("run");
    let Outcome::Succeeded(output) = outcome else { panic!("{outcome:?}") };
    assert_eq!(output.field("status"), Some(&Value::Int(200)));
    assert_eq!(output.field("id"), Some(&Value::Int(7)));
    assert_eq!(*seen.lock().expect("seen"), vec![format!("{}-send", run.0)]);
    // `started` was journaled before the request went out.
    let journal = store.journal(run, 0).expect("journal");
    let started = journal.iter().position(|e| e.kind == EventKind::StepStarted).expect("started");
    let done = journal
        .iter()
        .position(|e| e.step.path == "send" && e.kind == EventKind::StepCompleted)
        .expect("done");
    assert!(started < done);
    // Replay takes the response from the journal: nothing is sent again.
    super::replay::assert_replays(&store, &config, run);
    assert_eq!(seen.lock().expect("seen").len(), 1);
}

#[test]
fn a_write_found_started_without_an_outcome_is_retried_only_with_an_idempotency_key() {
    for with_key in [true, false] {
        let (port, seen) = notes_server();
        let config = local_config(port);
        let bytecode = compile_text(&poster(with_key), &config);
        let root = std::path::PathBuf::from(".");
        let mut decided = 0;
        for n in 1..30u64 {
            let before = seen.lock().expect("seen").len();
            let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
            let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("store");
            let clock = TestClock::new();
            let interp = Interpreter::new(&store, &clock).with_project(&config, &root);
            if interp.start(&bytecode, Value::Record(Vec::new()), None, &mut |_| {}).is_ok() {
                continue;
            }
            store.reopen().expect("reopen");
            let Some(run) = store.find_runs(&Default::default()).expect("runs").first().map(|r| r.id) else {
                continue;
            };
            let outcome = match interp.resume(run, &bytecode, &mut |_| {}) {
                Ok(outcome) => outcome,
                Err(_) => {
                    interp
                        .start(&bytecode, Value::Record(Vec::new()), Some(run), &mut |_| {})
                        .expect("restart")
                        .1
                }
            };
            let sent = seen.lock().expect("seen").len() - before;
            match outcome {
                Outcome::Succeeded(_) => {
                    if !with_key {
                        assert!(sent <= 1, "fault at {n}: a write without a key was sent {sent} times");
                    }
                }
                Outcome::NeedsDecision { step } => {
                    assert!(!with_key, "fault at {n}: a keyed write must be retried, not held");
                    assert_eq!(step, "send");
                    assert_eq!(sent, 1, "fault at {n}: sent once, then held for a person");
                    decided += 1;
                }
                other => panic!("fault at {n}: {other:?}"),
            }
            store.reopen().expect("reopen");
            super::replay::assert_replays(&store, &config, run);
        }
        if !with_key {
            assert!(decided >= 1, "some fault fell between `started` and the outcome");
        }
    }
}

#[test]
fn on_failure_runs_once_when_the_run_fails_and_the_run_stays_failed() {
    let text = "flow doomed {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  step a = function { value 1 }\n  fail \"gave up after {a.value}\" code \"gave_up\"\n  on failure e {\n    log \"cleaning up after {e.code}\"\n  }\n}\n";
    let config = weir_config::Config::default();
    let bytecode = compile_text(text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let mut lines = Vec::new();
    let (_, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::Record(Vec::new()), None, &mut |l| lines.push(l.to_string()))
        .expect("run");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!((error.code.as_str(), error.message.as_str()), ("gave_up", "gave up after 1"));
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("log \"cleaning up after gave_up\"")).count(),
        1,
        "{lines:?}"
    );
}

/// An output record without its `id` field.
fn without_id(value: &Value) -> Value {
    match value {
        Value::Record(fields) => Value::Record(fields.iter().filter(|(n, _)| n != "id").cloned().collect()),
        other => other.clone(),
    }
}

#[test]
fn after_a_for_its_steps_are_lists_and_prev_reads_the_last_iteration() {
    let text = "flow lists {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  for x in [1, 2, 3] {\n    step tenfold = function { value x * 10 }\n  }\n  loop max 5 {\n    step count = function { value (prev(count)?.value ?? 0) + 1 }\n    if count.value == 3 {\n      break\n    }\n  }\n  output { all: tenfold, count: count?.value }\n}\n";
    let config = weir_config::Config::default();
    let bytecode = compile_text(text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let (_, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::Record(Vec::new()), None, &mut |_| {})
        .expect("run");
    let tenfold = |n| Value::record([("value", Value::Int(n))]);
    let expected = Value::record([
        ("all", Value::List(vec![tenfold(10), tenfold(20), tenfold(30)])),
        ("count", Value::Int(3)),
    ]);
    assert_eq!(outcome, Outcome::Succeeded(expected));
}

/// A run of the unkeyed poster stopped right after its request went out: it resumes to
/// `needs_decision`. Returns the store, the run and the server's request log.
/// What [`needs_decision`] leaves: the store, the run, its program and config, the server's log.
type Stopped = (FaultStore<MemoryStore>, weir_runtime::store::RunId, Bytecode, weir_config::Config, Seen);

/// Requests the notes server saw (their idempotency keys).
type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

fn needs_decision() -> Stopped {
    let (port, seen) = notes_server();
    let config = local_config(port);
    let bytecode = compile_text(&poster(false), &config);
    let root = std::path::PathBuf::from(".");
    for n in 1..30u64 {
        let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock).with_project(&config, &root);
        if interp.start(&bytecode, Value::Record(Vec::new()), None, &mut |_| {}).is_ok() {
            continue;
        }
        store.reopen().expect("reopen");
        let Some(run) = store.find_runs(&Default::default()).expect("runs").first().map(|r| r.id) else {
            continue;
        };
        if let Ok(Outcome::NeedsDecision { .. }) = interp.resume(run, &bytecode, &mut |_| {}) {
            drop(interp);
            return (store, run, bytecode, config, seen);
        }
    }
    panic!("no fault stopped the run between its request and its outcome");
}

#[test]
fn a_person_resolves_an_unknown_outcome_by_retrying_or_marking_it_done() {
    use weir_runtime::interp::Resolution;
    let root = std::path::PathBuf::from(".");
    // Retry: the write is sent again as a new attempt.
    let (store, run, bytecode, config, seen) = needs_decision();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, &root);
    let before = seen.lock().expect("seen").len();
    assert_eq!(interp.resolve(run, &Resolution::Retry).expect("retry"), "send");
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    assert!(matches!(outcome, Outcome::Succeeded(_)), "{outcome:?}");
    assert_eq!(seen.lock().expect("seen").len(), before + 1);
    super::replay::assert_replays(&store, &config, run);

    // Done: nothing is sent; the step has the output the person gave.
    let (store, run, bytecode, config, seen) = needs_decision();
    let interp = Interpreter::new(&store, &clock).with_project(&config, &root);
    let before = seen.lock().expect("seen").len();
    let output = weir_bytecode::eval::parse_json(r#"{"status": 201, "headers": {}, "body": {"id": 9}}"#)
        .expect("json");
    interp.resolve(run, &Resolution::Done(output)).expect("done");
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([("status", Value::Int(201)), ("id", Value::Int(9))]))
    );
    assert_eq!(seen.lock().expect("seen").len(), before);
    super::replay::assert_replays(&store, &config, run);
    // A run that is not waiting for a decision is refused.
    let refused = interp.resolve(run, &Resolution::Retry).expect_err("finished");
    assert_eq!(refused.code(), "RUN-DECISION");
}

#[test]
fn a_power_cut_at_any_write_loses_nothing_acknowledged_and_the_run_ends_the_same() {
    let bytecode = compile("tests/run/counter.flow");
    let mut cut = 0;
    for n in 1..60u64 {
        let plan = FaultPlan::new(n).cut_power_at(n);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("fault store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock);
        let id = weir_runtime::store::RunId::from_u128(21);
        let (outcome, _) = super::faults::drive_through(
            &store,
            &interp,
            id,
            &bytecode,
            &input(),
            &format!("power cut at {n}"),
        );
        let Outcome::Succeeded(output) = &outcome else { panic!("power cut at {n}: {outcome:?}") };
        assert_eq!(output.field("greeted"), Some(&Value::Int(2)), "power cut at {n}");
        let counts = completed_per_step(&store, id);
        assert!(counts.values().all(|&c| c == 1), "power cut at {n}: {counts:?}");
        store.reopen().expect("reopen");
        super::replay::assert_replays(&store, &weir_config::Config::default(), id);
        if store.cuts() > 1 {
            cut += 1;
        }
    }
    assert!(cut >= 15, "only {cut} power cuts hit the run");
}
