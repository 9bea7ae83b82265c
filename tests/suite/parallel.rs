//! `parallel` and `for … parallel N` at run time: branches are really in flight at once (a
//! real server on 127.0.0.1 holds every request until N have arrived), at most N iterations
//! run at once, outputs come back in input order, the first failure in branch order
//! propagates, a store failing at any operation loses nothing, and every journal replays.

use super::run::{TestClock, compile_text as compile};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use weir_bytecode::Value;
use weir_runtime::interp::{Interpreter, Outcome};
use weir_runtime::store::{EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, RunId, Store};

/// What the server saw.
#[derive(Default)]
struct Held {
    /// Requests received.
    arrived: usize,
    /// Requests answered.
    served: usize,
    /// Groups released so far.
    released: usize,
    /// Most requests in flight at once (received, not yet answered).
    most: usize,
}

/// A server on 127.0.0.1 that holds each request until `group` requests of its group have
/// arrived (or 5 s pass), then answers `{"together": true|false}` to each.
fn holding_server(group: usize) -> (u16, Arc<(Mutex<Held>, Condvar)>) {
    let state = Arc::new((Mutex::new(Held::default()), Condvar::new()));
    let shared = state.clone();
    let port = super::http::serve(move |_| {
        let (lock, changed) = &*shared;
        let mut held = lock.lock().expect("held");
        let mine = held.arrived / group;
        held.arrived += 1;
        held.most = held.most.max(held.arrived - held.served);
        if held.arrived % group == 0 {
            held.released = mine + 1;
            changed.notify_all();
        }
        let (mut held, timeout) =
            changed.wait_timeout_while(held, Duration::from_secs(5), |h| h.released <= mine).expect("wait");
        held.served += 1;
        (200, format!("{{\"together\": {}}}", !timeout.timed_out()))
    });
    (port, state)
}

fn config(port: u16) -> weir_config::Config {
    let toml = format!(
        "[connections.local]\ntype = \"http\"\nbase_url = \"http://127.0.0.1:{port}\"\nallow_private_network = true\n"
    );
    let (config, diagnostics) = weir_config::parse_bytes(toml.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    config
}

#[test]
fn the_branches_of_parallel_are_in_flight_at_once() {
    let (port, state) = holding_server(3);
    let config = config(port);
    let get = |name: &str| {
        format!(
            "    step {name} = http GET \"/hold/{name}\" {{\n      connection local\n      max_body 1000\n    }}\n"
        )
    };
    let text = format!(
        "flow fanout {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  parallel {{\n{}{}{}  }}\n  output {{ a: a.body.together, b: b.body.together, c: c.body.together }}\n}}\n",
        get("a"),
        get("b"),
        get("c")
    );
    let bytecode = compile(&text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, outcome) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    let yes = Value::Bool(true);
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([("a", yes.clone()), ("b", yes.clone()), ("c", yes)]))
    );
    assert_eq!(state.0.lock().expect("held").most, 3);
    super::replay::assert_replays(&store, &config, run);
    // Replay sends nothing.
    assert_eq!(state.0.lock().expect("held").served, 3);
}

#[test]
fn for_parallel_n_runs_at_most_n_iterations_at_once_and_keeps_input_order() {
    let (port, state) = holding_server(3);
    let config = config(port);
    let text = "flow shards {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  for shard in [1, 2, 3, 4, 5, 6] parallel 3 {\n    step fetch = http GET \"/hold/{shard}\" {\n      connection local\n      max_body 1000\n    }\n    step label = function { value \"shard {shard}: {fetch.body.together}\" }\n  }\n  output { labels: label }\n}\n";
    let bytecode = compile(text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, outcome) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    let labels: Vec<Value> =
        (1..=6).map(|i| Value::record([("value", Value::String(format!("shard {i}: true")))])).collect();
    assert_eq!(outcome, Outcome::Succeeded(Value::record([("labels", Value::List(labels))])));
    let held = state.0.lock().expect("held");
    assert_eq!((held.most, held.served), (3, 6), "never more than 3 at once");
    drop(held);
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn the_first_failure_in_branch_order_propagates_and_cancels_the_rest() {
    let config = weir_config::Config::default();
    let failing = "flow branches {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  parallel {\n    step one = function { value 1 }\n    fail \"the second branch gave up\" code \"second\"\n    step three = function { value 3 }\n  }\n  output { sum: one.value }\n}\n";
    let bytecode = compile(failing, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let (run, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::record::<&str>([]), None, &mut |_| {})
        .expect("run");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error.code, "second");
    let journal = store.journal(run, 0).expect("journal");
    // The siblings ran or were cancelled at a step, whichever came first.
    for step in ["one", "three"] {
        let ran = journal.iter().any(|e| e.step.path == step && e.kind == EventKind::StepCompleted);
        let cancelled = journal.iter().any(|e| e.step.path == format!("{step}/cancelled"));
        assert!(ran != cancelled, "{step}: ran {ran}, cancelled {cancelled}");
    }
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn a_store_failing_at_any_operation_inside_parallel_loses_nothing() {
    let config = weir_config::Config::default();
    let text = "flow branches {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  parallel {\n    step one = function { value 1 }\n    step two = function { value 2 }\n    step three = function { value uuid() }\n  }\n  for x in [1, 2, 3, 4] parallel 2 {\n    step square = function { value x * x }\n  }\n  output { sum: one.value + two.value, three: three.value, squares: len(square) }\n}\n";
    let bytecode = compile(text, &config);
    let mut stopped = 0;
    for n in 1..40u64 {
        let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("fault store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock);
        let id = RunId::from_u128(13);
        let (outcome, failures) = super::faults::drive_through(
            &store,
            &interp,
            id,
            &bytecode,
            &Value::record::<&str>([]),
            &format!("fault at {n}"),
        );
        let Outcome::Succeeded(output) = &outcome else { panic!("fault at {n}: {outcome:?}") };
        assert_eq!(output.field("sum"), Some(&Value::Int(3)), "fault at {n}");
        assert_eq!(output.field("squares"), Some(&Value::Int(4)), "fault at {n}");
        // The `uuid()` the output holds is the one journaled.
        let journal = store.journal(id, 0).or_else(|_| store.journal(id, 0)).expect("journal");
        let drawn: Vec<Value> = journal
            .iter()
            .filter(|e| e.kind == EventKind::ValueRecorded && e.step.path.contains("uuid"))
            .filter_map(|e| serde_json::from_slice(&e.payload).ok())
            .collect();
        assert_eq!(
            drawn.iter().collect::<Vec<_>>(),
            vec![output.field("three").expect("three")],
            "fault at {n}"
        );
        store.reopen().expect("reopen");
        super::replay::assert_replays(&store, &config, id);
        if failures > 0 {
            stopped += 1;
        }
    }
    assert!(stopped >= 15, "only {stopped} faults hit the run");
}

/// A server on 127.0.0.1 that answers `GET /slow/MS` with `{"ok": true}` after MS ms.
fn slow_server() -> u16 {
    super::http::serve(|request| {
        let ms = request.path().rsplit('/').next().and_then(|m| m.parse().ok()).unwrap_or(0);
        std::thread::sleep(Duration::from_millis(ms));
        (200, r#"{"ok": true}"#.to_string())
    })
}

#[test]
fn a_failing_branch_cancels_its_siblings_whose_sagas_unwind() {
    let config = config(slow_server());
    let text = "flow cancel {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  parallel {\n    branch {\n      step looked = http GET \"/slow/200\" {\n        connection local\n        max_body 1000\n      }\n      fail \"the first branch gave up after {looked.status}\" code \"first\"\n    }\n    saga {\n      step booked = kv set \"booked\" {\n        value true\n        undo {\n          step unbooked = kv delete \"booked\"\n        }\n      }\n      step slow = http GET \"/slow/800\" {\n        connection local\n        max_body 1000\n      }\n      step after = function { value slow.status }\n    }\n  }\n}\n";
    let bytecode = compile(text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, outcome) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error.code, "first", "the branch's own failure, not the cancellation");
    let journal = store.journal(run, 0).expect("journal");
    let has = |path: &str, kind: EventKind| journal.iter().any(|e| e.step.path == path && e.kind == kind);
    assert!(has("after/cancelled", EventKind::ValueRecorded), "the sibling stopped at its next step");
    assert!(!has("after", EventKind::StepCompleted));
    assert!(has("booked/undo", EventKind::UndoRun), "the sibling's saga unwound");
    assert_eq!(store.kv_get("cancel", b"booked").expect("kv"), None);
    super::replay::assert_replays(&store, &config, run);
}
