//! Retries at run time: each failed attempt that is retried is journaled with its error,
//! the wait before the next is a durable timer (with `jitter`, between half and all of the
//! backoff), `retry N` without `on` retries only transient errors, a run stopped between
//! attempts goes on with the next attempt, and every journal replays.

use super::run::TestClock;
use std::sync::{Arc, Mutex};
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Interpreter, Outcome};
use weir_runtime::store::{Event, EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, RunId, Store};

/// A server on 127.0.0.1 answering each request with the next status of `script` (then
/// 200), `{"n": COUNT}` as body; it counts requests.
pub(super) fn flaky_server(script: Vec<u16>) -> (u16, Arc<Mutex<usize>>) {
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    let port = super::http::serve(move |_| {
        let n = {
            let mut count = seen.lock().expect("count");
            *count += 1;
            *count
        };
        (script.get(n - 1).copied().unwrap_or(200), format!("{{\"n\": {n}}}"))
    });
    (port, count)
}

fn setup(port: u16, retry: &str) -> (weir_config::Config, Bytecode) {
    let toml = format!(
        "[connections.local]\ntype = \"http\"\nbase_url = \"http://127.0.0.1:{port}\"\nallow_private_network = true\n"
    );
    let (config, diagnostics) = weir_config::parse_bytes(toml.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let text = format!(
        "flow poll {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  step fetch = http GET \"/status\" {{\n    connection local\n    max_body 1000\n    {retry}\n  }}\n  output {{ n: fetch.body.n }}\n}}\n"
    );
    let (_, diagnostics) = weir_compiler::check::diagnose(text.as_bytes(), Some(&config));
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let parsed = weir_grammar::parse(&text);
    let flow = parsed.file.flows().next().expect("a flow");
    let bytecode = weir_compiler::lower::lower_flow(flow, &text, Some(&config), None).expect("lowers");
    (config, bytecode)
}

fn events(store: &dyn Store, run: RunId, path: &str) -> Vec<Event> {
    let journal = store.journal(run, 0).or_else(|_| store.journal(run, 0)).expect("journal");
    journal.into_iter().filter(|e| e.step.path == path).collect()
}

#[test]
fn failed_attempts_are_journaled_and_the_backoff_is_a_durable_jittered_timer() {
    let (port, count) = flaky_server(vec![503, 503]);
    let (config, bytecode) = setup(port, "retry 3 backoff exponential(1s, max 10s) jitter");
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let mut lines = Vec::new();
    let (run, outcome) = interp
        .start(&bytecode, Value::record::<&str>([]), None, &mut |l| lines.push(l.to_string()))
        .expect("run");
    assert_eq!(outcome, Outcome::Succeeded(Value::record([("n", Value::Int(3))])));
    assert_eq!(*count.lock().expect("count"), 3);
    let failed = events(&store, run, "fetch/attempt");
    assert_eq!(failed.iter().map(|e| e.step.attempt).collect::<Vec<_>>(), [0, 1]);
    assert!(String::from_utf8_lossy(&failed[0].payload).contains("503"), "{:?}", failed[0]);
    // Backoff 1 s then 2 s, each jittered into [half, all], journaled as timers.
    let timers = events(&store, run, "fetch/retry");
    let delays: Vec<u64> = timers
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::TimerScheduled { due_at_ms } => Some(due_at_ms - e.at_ms),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 2, "{timers:?}");
    assert!((500..=1000).contains(&delays[0]) && (1000..=2000).contains(&delays[1]), "{delays:?}");
    assert!(lines.iter().any(|l| l.contains("attempt 1 failed")), "{lines:?}");
    super::replay::assert_replays(&store, &config, run);
    assert_eq!(*count.lock().expect("count"), 3, "replay sends nothing");
}

#[test]
fn retry_without_on_retries_only_transient_errors() {
    let (port, count) = flaky_server(vec![404]);
    let (config, bytecode) = setup(port, "retry 3 backoff exponential(1s, max 10s)");
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (_, outcome) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    assert_eq!(*count.lock().expect("count"), 1, "a 404 is not transient");

    let (port, count) = flaky_server(vec![404]);
    let (config, bytecode) = setup(port, "retry 1 on any backoff exponential(1s, max 10s)");
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (_, outcome) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    assert_eq!(outcome, Outcome::Succeeded(Value::record([("n", Value::Int(2))])));
    assert_eq!(*count.lock().expect("count"), 2);
}

#[test]
fn a_run_stopped_between_attempts_goes_on_with_the_next_attempt() {
    let mut resumed = 0;
    for n in 1..25u64 {
        let (port, count) = flaky_server(vec![503, 503]);
        let (config, bytecode) = setup(port, "retry 3 backoff exponential(1s, max 10s)");
        let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("fault store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
        let id = RunId::from_u128(17);
        let (outcome, failures) = super::faults::drive_through(
            &store,
            &interp,
            id,
            &bytecode,
            &Value::record::<&str>([]),
            &format!("fault at {n}"),
        );
        let Outcome::Succeeded(output) = &outcome else { panic!("fault at {n}: {outcome:?}") };
        // A GET whose answer was lost to the fault is sent again; the retry budget is kept.
        let sent = *count.lock().expect("count");
        assert!((3..=4).contains(&sent), "fault at {n}: {sent} requests");
        assert_eq!(output.field("n"), Some(&Value::Int(i64::try_from(sent).expect("n"))), "fault at {n}");
        store.reopen().expect("reopen");
        let failed = events(&store, id, "fetch/attempt");
        assert!(failed.len() <= 3, "fault at {n}: {failed:?}");
        super::replay::assert_replays(&store, &config, id);
        if failures > 0 {
            resumed += 1;
        }
    }
    assert!(resumed >= 10, "only {resumed} faults hit the run");
}

#[test]
fn retry_runs_a_failed_run_again_from_its_failed_step_as_a_linked_run() {
    // `first` succeeds; `fetch` fails once with a 400 (not retried), then works.
    let (port, count) = flaky_server(vec![200, 400]);
    let toml = format!(
        "[connections.local]\ntype = \"http\"\nbase_url = \"http://127.0.0.1:{port}\"\nallow_private_network = true\n"
    );
    let (config, _) = weir_config::parse_bytes(toml.as_bytes());
    let text = "flow twice {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  timeout 1h\n\n  step first = http POST \"/first\" {\n    connection local\n    idempotency_key \"{run.id}/first\"\n    max_body 1000\n  }\n  step fetch = http GET \"/status\" {\n    connection local\n    max_body 1000\n    retry 2 backoff exponential(1s, max 10s)\n  }\n  output { first: first.body.n, fetch: fetch.body.n }\n}\n";
    let parsed = weir_grammar::parse(text);
    let flow = parsed.file.flows().next().expect("a flow");
    let bytecode = weir_compiler::lower::lower_flow(flow, text, Some(&config), None).expect("lowers");
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (failed, outcome) =
        interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error.step, "fetch");
    // Only the failed run can be retried, and only once it failed.
    let (retried, outcome) = interp.retry(failed, None, &mut |_| {}).expect("retry");
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([("first", Value::Int(1)), ("fetch", Value::Int(3))]))
    );
    assert_eq!(*count.lock().expect("count"), 3, "`first` was not sent again");
    let journal = store.journal(retried, 0).expect("journal");
    let link = journal.iter().find(|e| e.step.path == "@run/retry_of").expect("linked");
    assert_eq!(serde_json::from_slice::<String>(&link.payload).expect("id"), failed.0.to_string());
    assert_eq!(
        store.run(failed).expect("run").expect("exists").status,
        weir_runtime::store::RunStatus::Failed
    );
    let refused = interp.retry(retried, None, &mut |_| {}).expect_err("a succeeded run");
    assert_eq!(refused.code(), "RUN-DECISION");
    super::replay::assert_replays(&store, &config, retried);
}
