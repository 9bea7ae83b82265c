//! The interpreter end to end: flows compiled by the real lowering, run over the real sled
//! store; a run stopped by a failing write resumes from its journal without doing any step
//! twice; a finished run is not driven again.

use std::cell::RefCell;
use std::collections::BTreeMap;
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Clock, Interpreter, Outcome};
use weir_runtime::store::{EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, SledStore, Store};

/// A pinned clock whose sleeps move time instead of waiting.
struct TestClock {
    now: RefCell<u64>,
    ids: RefCell<u32>,
}

impl TestClock {
    fn new() -> TestClock {
        TestClock { now: RefCell::new(1_767_225_600_000), ids: RefCell::new(0) }
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        *self.now.borrow()
    }
    fn uuid(&self) -> String {
        *self.ids.borrow_mut() += 1;
        format!("00000000-0000-7000-8000-{:012}", self.ids.borrow())
    }
    fn sleep_until(&self, due_ms: u64) {
        let mut now = self.now.borrow_mut();
        *now = (*now).max(due_ms);
    }
}

fn compile(path: &str) -> Bytecode {
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
                assert_eq!(outcome, reference, "fault at {n} hit nothing that mattered");
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
        assert_eq!(outcome, reference, "fault at operation {n}");
        resumed += 1;
        let counts = completed_per_step(&store, run);
        assert!(counts.values().all(|&c| c == 1), "fault at {n}: a step completed twice: {counts:?}");
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
