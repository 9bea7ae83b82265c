//! Approvals at run time: a run pauses at an approval, decisions are checked against its
//! deciders, `not initiator`, `min` and input types, one reject vetoes, `on reject` decides
//! what happens next, a passed timeout takes the default, a changed `binds` is refused, and
//! a store that fails at any operation loses no decision and completes nothing twice.

use super::run::{TestClock, compile_text as compile};
use weir_bytecode::Value;
use weir_runtime::interp::{Decide, InterpError, Interpreter, Outcome};
use weir_runtime::store::{
    EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, RunId, RunStatus, Store,
};

const PEOPLE: &str = "[people.ada]\nemail = \"ada@example.com\"\n[people.grace]\nemail = \"grace@example.com\"\n[people.linus]\nemail = \"linus@example.com\"\n[people.margaret]\nemail = \"margaret@example.com\"\n[groups.ops]\nmembers = [\"ada\", \"grace\", \"margaret\"]\n";

fn config() -> weir_config::Config {
    let (config, diagnostics) = weir_config::parse_bytes(PEOPLE.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    config
}

/// A flow around one approval: `extra` goes into the approval's block, `after` after it.
fn flow(extra: &str, after: &str) -> String {
    format!(
        "flow ship {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  input {{ release: string = \"v1\" }}\n\n  step plan = function {{ value \"deploy {{input.release}}\" }}\n  approval go {{\n    summary \"Ship {{input.release}}?\"\n    binds plan.value\n{extra}    timeout 1h\n  }}\n{after}}}\n"
    )
}

fn decide<'d>(approval: &'d str, person: &'d str, approve: bool, input: &[(&str, &str)]) -> Decide<'d> {
    Decide {
        approval,
        person,
        approve,
        reason: (!approve).then_some("not today"),
        input: Value::record(input.iter().map(|(k, v)| (*k, Value::string(*v)))),
    }
}

fn completed(store: &dyn Store, run: RunId, path: &str) -> usize {
    // A fault plan may fail this read too (once): read again.
    let journal = store.journal(run, 0).or_else(|_| store.journal(run, 0)).expect("journal");
    journal.iter().filter(|e| e.step.path == path && e.kind == EventKind::StepCompleted).count()
}

fn refused(result: Result<impl std::fmt::Debug, InterpError>) -> String {
    match result {
        Err(InterpError::Decision(message)) => message,
        other => panic!("expected a refused decision, got {other:?}"),
    }
}

#[test]
fn an_approval_pauses_the_run_and_min_distinct_deciders_continue_it() {
    let config = config();
    let text = flow(
        "    deciders group ops\n    not initiator\n    min 2\n    input { risk: \"low\" | \"high\" }\n    default reject\n",
        "  step done = function { value \"shipped at {go.risk} risk by {go.by}\" }\n  output { result: done.value }\n",
    );
    let bytecode = compile(&text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let root = std::path::Path::new(".");
    let interp = Interpreter::new(&store, &clock).with_project(&config, root);
    let (run, outcome) =
        interp.start_as(&bytecode, Value::record::<&str>([]), None, Some("ada"), &mut |_| {}).expect("start");
    let Outcome::Paused(waiting) = outcome else { panic!("{outcome:?}") };
    assert_eq!((waiting.name.as_str(), waiting.min, waiting.approvals), ("go", 2, 0));
    assert_eq!(
        (waiting.deciders.as_slice(), waiting.excluded.as_slice()),
        (&["grace".to_string(), "margaret".to_string()][..], &["ada".to_string()][..])
    );
    assert_eq!(waiting.summary.as_deref(), Some("Ship v1?"));
    assert_eq!(store.run(run).expect("run").expect("exists").status, RunStatus::Paused);

    let low = [("risk", "low")];
    assert!(
        refused(interp.decide(run, &bytecode, &decide("go", "ada", true, &low))).contains("started the run")
    );
    assert!(
        refused(interp.decide(run, &bytecode, &decide("go", "linus", true, &low)))
            .contains("its deciders are")
    );
    assert!(
        refused(interp.decide(run, &bytecode, &decide("go", "nobody", true, &low))).contains("not one of")
    );
    assert!(
        refused(interp.decide(run, &bytecode, &decide("go", "grace", true, &[]))).contains("needs the input")
    );
    let bad = refused(interp.decide(run, &bytecode, &decide("go", "grace", true, &[("risk", "medium")])));
    assert_eq!(bad, "`risk` must be one of \"low\" | \"high\", got \"medium\"");
    assert!(
        refused(interp.decide(run, &bytecode, &decide("nope", "grace", true, &low)))
            .contains("waits for `go`")
    );

    // By email, too; one approval of two keeps the run paused.
    interp.decide(run, &bytecode, &decide("go", "grace@example.com", true, &low)).expect("grace");
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let Outcome::Paused(waiting) = outcome else { panic!("{outcome:?}") };
    assert_eq!(waiting.approvals, 1);
    // The same decision again is the decision taken; a different one is refused.
    interp.decide(run, &bytecode, &decide("go", "grace", true, &low)).expect("same vote again");
    let other = decide("go", "grace", true, &[("risk", "high")]);
    assert!(refused(interp.decide(run, &bytecode, &other)).contains("already decided"));

    interp.decide(run, &bytecode, &decide("go", "margaret", true, &[("risk", "high")])).expect("margaret");
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([("result", Value::string("shipped at high risk by margaret"))]))
    );
    assert_eq!(completed(&store, run, "go"), 1);
    assert!(store.due_timers(u64::MAX, 0).expect("timers").is_empty(), "the timeout timer is closed");
    assert!(
        refused(interp.decide(run, &bytecode, &decide("go", "ada", true, &low))).contains("already finished")
    );
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn one_reject_vetoes_and_the_run_ends_rejected_without_on_reject() {
    let config = config();
    let text = flow(
        "    deciders group ops min 2\n    default reject\n",
        "  step done = function { value 1 }\n  output { done: done.value }\n",
    );
    let bytecode = compile(&text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, _) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    interp.decide(run, &bytecode, &decide("go", "ada", true, &[])).expect("ada approves");
    interp.decide(run, &bytecode, &decide("go", "grace", false, &[])).expect("grace rejects");
    let expected =
        Outcome::Rejected { approval: "go".into(), by: "grace".into(), reason: Some("not today".into()) };
    assert_eq!(interp.resume(run, &bytecode, &mut |_| {}).expect("resume"), expected);
    assert_eq!(store.run(run).expect("run").expect("exists").status, RunStatus::Rejected);
    assert_eq!(completed(&store, run, "done"), 0);
    // A finished run keeps its outcome.
    assert_eq!(interp.resume(run, &bytecode, &mut |_| {}).expect("again"), expected);
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn on_reject_decides_the_outcome_and_continue_asks_again() {
    let config = config();
    // `return` in `on reject` ends the run successfully with its output.
    let text = flow(
        "    default reject\n    on reject {\n      return { result: \"kept ({go.outcome})\" }\n    }\n",
        "  output { result: \"shipped\" }\n",
    );
    let bytecode = compile(&text, &config);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (run, _) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    interp.decide(run, &bytecode, &decide("go", "linus", false, &[])).expect("reject");
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    assert_eq!(outcome, Outcome::Succeeded(Value::record([("result", Value::string("kept (rejected)"))])));

    // In a loop, `continue` regenerates and asks again: each iteration is its own approval.
    let text = "flow draft {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  loop max 3 {\n    step text = function { value \"draft\" }\n    approval ok {\n      summary text.value\n      timeout 1h\n      default reject\n      on reject {\n        continue\n      }\n    }\n    break\n  }\n  output { tries: 1 }\n}\n";
    let bytecode = compile(text, &config);
    let (run, first) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    assert!(matches!(first, Outcome::Paused(_)), "{first:?}");
    interp.decide(run, &bytecode, &decide("ok", "ada", false, &[])).expect("reject the first draft");
    let second = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let Outcome::Paused(waiting) = second else { panic!("{second:?}") };
    assert_eq!(waiting.step, "ok");
    interp.decide(run, &bytecode, &decide("ok", "ada", true, &[])).expect("approve the second");
    let done = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    assert!(matches!(done, Outcome::Succeeded(_)), "{done:?}");
    let journal = store.journal(run, 0).expect("journal");
    let decided: Vec<u32> = journal
        .iter()
        .filter(|e| e.step.path == "ok" && e.kind == EventKind::StepCompleted)
        .map(|e| e.step.iteration)
        .collect();
    assert_eq!(decided, [0, 1]);
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn a_passed_timeout_takes_the_default() {
    let config = config();
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let reject = compile(&flow("    default reject\n", ""), &config);
    let (run, _) = interp.start(&reject, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    // Not due yet: still paused.
    *clock.now.lock().expect("clock") += 3_599_000;
    assert!(matches!(interp.resume(run, &reject, &mut |_| {}).expect("resume"), Outcome::Paused(_)));
    *clock.now.lock().expect("clock") += 1_000;
    let outcome = interp.resume(run, &reject, &mut |_| {}).expect("resume");
    assert_eq!(outcome, Outcome::Rejected { approval: "go".into(), by: "@timeout".into(), reason: None });

    let approve = compile(&flow("    default approve\n", "  output { outcome: go.outcome }\n"), &config);
    let (run, _) = interp.start(&approve, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    *clock.now.lock().expect("clock") += 3_600_000;
    let outcome = interp.resume(run, &approve, &mut |_| {}).expect("resume");
    assert_eq!(outcome, Outcome::Succeeded(Value::record([("outcome", Value::string("timed_out"))])));
    super::replay::assert_replays(&store, &config, run);
}

#[test]
fn a_decision_on_content_that_changed_is_refused() {
    let config = config();
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let shown = compile(&flow("    default reject\n", ""), &config);
    let (run, _) = interp.start(&shown, Value::record::<&str>([]), None, &mut |_| {}).expect("start");
    interp.decide(run, &shown, &decide("go", "ada", true, &[])).expect("approve");
    // The same run driven by a program whose approval binds something else.
    let changed = compile(
        &flow("    default reject\n", "").replace("binds plan.value", "binds \"{plan.value}!\""),
        &config,
    );
    let outcome = interp.resume(run, &changed, &mut |_| {}).expect("resume");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error.code, "binds_changed");
}

#[test]
fn a_store_failing_at_any_operation_loses_no_decision_and_completes_nothing_twice() {
    let config = config();
    let text = flow(
        "    default reject\n",
        "  step done = function { value \"shipped\" }\n  output { result: done.value }\n",
    );
    let bytecode = compile(&text, &config);
    let root = std::path::Path::new(".");
    let mut stopped = 0;
    for n in 1..40u64 {
        let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("fault store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock).with_project(&config, root);
        let id = RunId::from_u128(7);
        // Every step is retried the way a person (or `weir resume`) would: after a failure,
        // reopen the store (a restarted process) and do the same thing again.
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
        // A run whose start event was lost is started again with its id (what `weir run
        // --id` does).
        let paused = again(&mut || match store.run(id)?.map(|_| interp.resume(id, &bytecode, &mut |_| {})) {
            Some(Err(InterpError::Journal(_))) | None => {
                interp.start(&bytecode, Value::record::<&str>([]), Some(id), &mut |_| {}).map(|(_, o)| o)
            }
            Some(resumed) => resumed,
        });
        assert!(matches!(paused, Outcome::Paused(_)), "fault at {n}: {paused:?}");
        again(&mut || {
            interp
                .decide(id, &bytecode, &decide("go", "ada", true, &[]))
                .map(|_| Outcome::Succeeded(Value::None))
        });
        let outcome = again(&mut || interp.resume(id, &bytecode, &mut |_| {}));
        assert_eq!(
            outcome,
            Outcome::Succeeded(Value::record([("result", Value::string("shipped"))])),
            "fault at {n}"
        );
        for step in ["plan", "go", "done", "@end"] {
            assert_eq!(completed(&store, id, step), 1, "fault at {n}: {step}");
        }
        store.reopen().expect("reopen");
        super::replay::assert_replays(&store, &config, id);
        if failures > 0 {
            stopped += 1;
        }
    }
    assert!(stopped >= 15, "only {stopped} faults hit the run");
}
