//! Callbacks at run time: the token is journaled only as its hash, an early post is kept,
//! the declared body type is checked, a worker's error fails the wait (catchably), a passed
//! timeout fails it with `timeout`, each loop iteration gets its own callback, and a store
//! failing at any operation loses no post and completes nothing twice.

use super::run::{TestClock, compile_text as compile};
use weir_bytecode::Value;
use weir_runtime::interp::{Decide, InterpError, Interpreter, Outcome};
use weir_runtime::store::{
    EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, PostOutcome, RunId, StepId, Store, TokenHash,
};

const CONFIG: &str =
    "[server]\nurl = \"https://weir.example.com\"\n[people.ada]\nemail = \"ada@example.com\"\n";

fn config() -> weir_config::Config {
    let (config, diagnostics) = weir_config::parse_bytes(CONFIG.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    config
}

/// A build handed to a worker: `between` runs after the callback is created, before the wait.
fn flow(between: &str, wait: &str) -> String {
    format!(
        "flow build {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  callback done {{\n    output {{ status: \"ok\" | \"broken\", artifacts: list<string> }}\n    timeout 1h\n  }}\n  step handoff = function {{ value done.url }}\n{between}{wait}}}\n"
    )
}

const WAIT: &str = "  step result = wait done\n  output { status: result.status, artifacts: len(result.artifacts), url: handoff.value }\n";

fn post(store: &dyn Store, interp: &Interpreter<'_>, run: RunId, path: &str, body: &str) -> PostOutcome {
    let token = interp.callback_token(run, &StepId::new(path, 0, 0)).expect("token");
    store.post_callback(&TokenHash::of(token.as_bytes()), body.as_bytes(), 1).expect("post")
}

#[test]
fn a_wait_pauses_until_a_post_of_the_declared_type_and_the_token_is_never_journaled() {
    let config = config();
    let bytecode = compile(&flow("", WAIT), &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, outcome) =
        interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    let Outcome::Paused(waiting) = outcome else { panic!("{outcome:?}") };
    let token = interp.callback_token(run, &StepId::new("done", 0, 0)).expect("token");
    let url = format!("https://weir.example.com/callbacks/{token}");
    assert_eq!((waiting.kind.as_str(), waiting.name.as_str()), ("callback", "done"));
    assert_eq!(waiting.url.as_deref(), Some(url.as_str()));
    assert_eq!(token.len(), 64, "256 bits, in hex");
    // Nothing posted yet: driving again changes nothing.
    assert!(matches!(interp.resume(run, &bytecode, &mut |_| {}).expect("resume"), Outcome::Paused(_)));
    assert_eq!(
        post(&store, &interp, run, "done", r#"{"status":"ok","artifacts":["a","b"]}"#),
        PostOutcome::Accepted
    );
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let expected = Value::record([
        ("status", Value::string("ok")),
        ("artifacts", Value::Int(2)),
        ("url", Value::String(url)),
    ]);
    assert_eq!(outcome, Outcome::Succeeded(expected));
    // A second post is refused. weir journals the token's hash, never the token: only the
    // steps this flow gave the URL to (and its output) hold it.
    assert_eq!(
        post(&store, &interp, run, "done", r#"{"status":"ok","artifacts":[]}"#),
        PostOutcome::RunFinished
    );
    let journal = store.journal(run, 0).expect("journal");
    let created = journal.iter().find(|e| e.step.path == "done").expect("created");
    let hash = TokenHash::of(token.as_bytes());
    assert!(matches!(created.kind, EventKind::CallbackCreated { token, .. } if token == hash));
    let holding: Vec<&str> = journal
        .iter()
        .filter(|e| {
            String::from_utf8_lossy(&e.payload).contains(&token) || format!("{:?}", e.kind).contains(&token)
        })
        .map(|e| e.step.path.as_str())
        .collect();
    assert_eq!(holding, ["handoff", "@end"]);
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn an_early_post_is_kept_until_the_run_waits() {
    let config = config();
    let approval = "  approval go {\n    summary \"build?\"\n    timeout 1h\n    default reject\n  }\n";
    let bytecode = compile(&flow(approval, WAIT), &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, outcome) =
        interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    assert!(matches!(outcome, Outcome::Paused(ref w) if w.kind == "approval"), "{outcome:?}");
    // The worker answers while the run still waits for a person.
    assert_eq!(
        post(&store, &interp, run, "done", r#"{"status":"broken","artifacts":[]}"#),
        PostOutcome::Accepted
    );
    let decide = Decide {
        approval: "go",
        person: "ada",
        approve: true,
        reason: None,
        input: Value::record::<&str>([]),
    };
    interp.decide(run, &bytecode, &decide).expect("approve");
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let Outcome::Succeeded(output) = outcome else { panic!("{outcome:?}") };
    assert_eq!(output.field("status"), Some(&Value::string("broken")));
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn a_worker_error_and_a_timeout_fail_the_wait_and_try_catches_them() {
    let config = config();
    let caught = "  try {\n    step result = wait done\n  } catch e {\n    log \"wait failed: {e.code}\"\n    return { code: e.code, message: e.message }\n  }\n  output { code: \"none\", message: result.status }\n";
    let bytecode = compile(&flow("", caught), &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, _) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    let error = r#"{"error":{"code":"build_failed","message":"exit status 2"}}"#;
    assert_eq!(post(&store, &interp, run, "done", error), PostOutcome::Accepted);
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let expected =
        Value::record([("code", Value::string("build_failed")), ("message", Value::string("exit status 2"))]);
    assert_eq!(outcome, Outcome::Succeeded(expected));

    let (run, _) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    *clock.now.lock().expect("clock") += 3_600_001;
    // The wait's durable timer is due once the callback expired: `weir resume` finds it.
    assert!(
        store.due_timers(*clock.now.lock().expect("clock"), 0).expect("timers").iter().any(|t| t.run == run)
    );
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let Outcome::Succeeded(output) = outcome else { panic!("{outcome:?}") };
    assert_eq!(output.field("code"), Some(&Value::string("timeout")));
    assert_eq!(
        post(&store, &interp, run, "done", r#"{"status":"ok","artifacts":[]}"#),
        PostOutcome::RunFinished
    );
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn each_loop_iteration_gets_its_own_callback() {
    let config = config();
    let text = "flow shards {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  for shard in [\"a\", \"b\"] {\n    callback done {\n      output { rows: int }\n      timeout 1h\n    }\n    step handoff = function { value done.url }\n    step rows = wait done\n  }\n  output { total: len(rows) }\n}\n";
    let bytecode = compile(text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, first) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    let Outcome::Paused(first) = first else { panic!("{first:?}") };
    let token = |iteration| interp.callback_token(run, &StepId::new("done", iteration, 0)).expect("token");
    assert_ne!(token(0), token(1));
    let hash = |iteration: u32| TokenHash::of(token(iteration).as_bytes());
    assert_eq!(store.post_callback(&hash(0), br#"{"rows": 3}"#, 1).expect("post"), PostOutcome::Accepted);
    let second = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let Outcome::Paused(second) = second else { panic!("{second:?}") };
    assert_ne!(first.url, second.url);
    assert_eq!(store.post_callback(&hash(1), br#"{"rows": 4}"#, 1).expect("post"), PostOutcome::Accepted);
    let done = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    assert_eq!(done, Outcome::Succeeded(Value::record([("total", Value::Int(2))])));
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn a_store_failing_at_any_operation_loses_no_post_and_completes_nothing_twice() {
    let config = config();
    let bytecode = compile(&flow("", WAIT), &config);
    let root = std::path::Path::new(".");
    let mut stopped = 0;
    for n in 1..40u64 {
        let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("fault store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock).with_project(&config, root);
        let id = RunId::from_u128(9);
        let mut failures = 0;
        let mut again = |what: &mut dyn FnMut() -> Result<Outcome, InterpError>| loop {
            match what() {
                Ok(outcome) => return outcome,
                Err(InterpError::Store(_)) => {
                    failures += 1;
                    store.reopen().expect("reopen");
                }
                Err(e) => panic!("fault at {n}: {e}"),
            }
        };
        let paused = again(&mut || match store.run(id)?.map(|_| interp.resume(id, &bytecode, &mut |_| {})) {
            Some(Err(InterpError::Journal(_))) | None => {
                interp.start(&bytecode, Value::record::<&str>([]), Some(id), &mut |_| {}).map(|(_, o)| o)
            }
            Some(resumed) => resumed,
        });
        assert!(matches!(paused, Outcome::Paused(_)), "fault at {n}: {paused:?}");
        again(&mut || {
            let token = interp.callback_token(id, &StepId::new("done", 0, 0))?;
            let body = br#"{"status":"ok","artifacts":["x"]}"#;
            match store.post_callback(&TokenHash::of(token.as_bytes()), body, 1)? {
                PostOutcome::Accepted | PostOutcome::AlreadyPosted { same: true } => {
                    Ok(Outcome::Succeeded(Value::None))
                }
                other => panic!("fault at {n}: post: {other:?}"),
            }
        });
        let outcome = again(&mut || interp.resume(id, &bytecode, &mut |_| {}));
        let Outcome::Succeeded(output) = &outcome else { panic!("fault at {n}: {outcome:?}") };
        assert_eq!(output.field("artifacts"), Some(&Value::Int(1)), "fault at {n}");
        let journal = store.journal(id, 0).or_else(|_| store.journal(id, 0)).expect("journal");
        for step in ["handoff", "result", "@end"] {
            let count =
                journal.iter().filter(|e| e.step.path == step && e.kind == EventKind::StepCompleted).count();
            assert_eq!(count, 1, "fault at {n}: {step}");
        }
        store.reopen().expect("reopen");
        super::replay::assert_replays(&store, &config, id);
        if failures > 0 {
            stopped += 1;
        }
    }
    assert!(stopped >= 15, "only {stopped} faults hit the run");
}
