//! Sagas at run time: a failure inside `saga` runs the registered undos newest first, in the
//! context their steps ran in; a failed undo does not stop the others and turns the error
//! into `compensation_failed`; `undo always` compensates a step that failed; and a store
//! failing at any operation (a crash in the middle of an unwind included) resumes the unwind
//! without running any compensation twice.

use super::run::TestClock;
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Interpreter, Outcome};
use weir_runtime::store::{EventKind, FaultMode, FaultPlan, FaultStore, MemoryStore, RunId, Store};

fn compile(text: &str) -> Bytecode {
    super::run::compile_text(text, &weir_config::Config::default())
}

/// A trip of three bookings, each undone into the flow's kv store; `after` runs last in
/// the saga (a `fail` to unwind it).
fn trip(hotel_undo: &str, after: &str) -> String {
    format!(
        "flow trip {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  saga {{\n    step flight = function {{\n      value \"F1\"\n      undo {{\n        step unflight = kv set \"undone/flight\" {{ value flight.value }}\n      }}\n    }}\n    step hotel = function {{\n      value \"H1\"\n      undo {{\n{hotel_undo}      }}\n    }}\n    for night in [1, 2] {{\n      step room = function {{\n        value night * 100\n        undo {{\n          step unroom = kv set \"undone/room/{{night}}\" {{ value room.value }}\n        }}\n      }}\n    }}\n{after}  }}\n  output {{ flight: flight.value }}\n}}\n"
    )
}

const UNHOTEL: &str = "        step unhotel = kv set \"undone/hotel\" { value hotel.value }\n";
const FAIL: &str = "    fail \"no car left\" code \"no_car\"\n";

fn kv(store: &dyn Store, key: &str) -> Option<Value> {
    store.kv_get("trip", key.as_bytes()).expect("kv").map(|b| serde_json::from_slice(&b).expect("value"))
}

fn undo_order(store: &dyn Store, run: RunId) -> Vec<String> {
    let journal = store.journal(run, 0).or_else(|_| store.journal(run, 0)).expect("journal");
    journal
        .iter()
        .filter(|e| e.kind == EventKind::UndoRun)
        .map(|e| format!("{}#{}", e.step.path, e.step.iteration))
        .collect()
}

#[test]
fn a_failure_in_a_saga_runs_its_undos_newest_first_then_propagates() {
    let bytecode = compile(&trip(UNHOTEL, FAIL));
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock);
    let (run, outcome) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!((error.code.as_str(), error.message.as_str()), ("no_car", "no car left"));
    assert_eq!(undo_order(&store, run), ["room/undo#1", "room/undo#0", "hotel/undo#0", "flight/undo#0"]);
    // Each undo saw its own step's output, in its own iteration.
    assert_eq!(kv(&store, "undone/room/2"), Some(Value::Int(200)));
    assert_eq!(kv(&store, "undone/room/1"), Some(Value::Int(100)));
    assert_eq!(kv(&store, "undone/hotel"), Some(Value::string("H1")));
    assert_eq!(kv(&store, "undone/flight"), Some(Value::string("F1")));
    super::replay::assert_replays(&store, &weir_config::Config::default(), run);

    // Without a failure nothing is undone.
    let bytecode = compile(&trip(UNHOTEL, ""));
    let store = MemoryStore::new();
    let (run, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::record::<&str>([]), None, &mut |_| {})
        .expect("run");
    assert_eq!(outcome, Outcome::Succeeded(Value::record([("flight", Value::string("F1"))])));
    assert!(undo_order(&store, run).is_empty());
}

#[test]
fn a_failed_undo_does_not_stop_the_others_and_is_named_in_compensation_failed() {
    let broken = "        step unhotel = kv set \"undone/hotel\" { value hotel.value }\n        fail \"the hotel line is busy\" code \"busy\"\n";
    let bytecode = compile(&trip(broken, FAIL));
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let (run, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::record::<&str>([]), None, &mut |_| {})
        .expect("run");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error.code, "compensation_failed");
    assert!(error.message.contains("hotel (busy: the hotel line is busy)"), "{}", error.message);
    // The flight was still undone after the hotel's undo failed.
    assert_eq!(kv(&store, "undone/flight"), Some(Value::string("F1")));
    assert_eq!(undo_order(&store, run).len(), 4);
}

#[test]
fn undo_always_compensates_a_step_that_failed() {
    let text = "flow charge {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  input { amount: int = 10, parts: int = 0 }\n\n  saga {\n    step split = function {\n      value input.amount / input.parts\n      undo always {\n        step refund = kv set \"refunded\" { value input.amount }\n      }\n    }\n  }\n  output { each: split.value }\n}\n";
    let bytecode = compile(text);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let (_, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::record::<&str>([]), None, &mut |_| {})
        .expect("run");
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    let refunded =
        store.kv_get("charge", b"refunded").expect("kv").map(|b| serde_json::from_slice::<Value>(&b));
    assert_eq!(refunded.map(|v| v.expect("value")), Some(Value::Int(10)));
}

#[test]
fn a_crash_in_the_middle_of_an_unwind_resumes_it_without_undoing_anything_twice() {
    let bytecode = compile(&trip(UNHOTEL, FAIL));
    let mut stopped = 0;
    for n in 1..60u64 {
        let plan = FaultPlan::new(n).fail_at(n, FaultMode::Transient);
        let store = FaultStore::new(plan, Box::new(|| Ok(MemoryStore::new()))).expect("fault store");
        let clock = TestClock::new();
        let interp = Interpreter::new(&store, &clock);
        let id = RunId::from_u128(11);
        let (outcome, failures) = super::faults::drive_through(
            &store,
            &interp,
            id,
            &bytecode,
            &Value::record::<&str>([]),
            &format!("fault at {n}"),
        );
        let Outcome::Failed(error) = &outcome else { panic!("fault at {n}: {outcome:?}") };
        assert_eq!(error.code, "no_car", "fault at {n}");
        store.reopen().expect("reopen");
        let order = undo_order(&store, id);
        assert_eq!(order, ["room/undo#1", "room/undo#0", "hotel/undo#0", "flight/undo#0"], "fault at {n}");
        let journal = store.journal(id, 0).or_else(|_| store.journal(id, 0)).expect("journal");
        for step in ["unroom", "unhotel", "unflight"] {
            let done = journal
                .iter()
                .filter(|e| e.step.path.starts_with(step) && e.kind == EventKind::StepCompleted);
            assert!(done.count() >= 1, "fault at {n}: {step} never ran");
        }
        let mut seen = std::collections::HashSet::new();
        for event in journal.iter().filter(|e| e.kind == EventKind::StepCompleted) {
            assert!(
                seen.insert((&event.step.path, event.step.iteration)),
                "fault at {n}: {:?} twice",
                event.step
            );
        }
        super::replay::assert_replays(&store, &weir_config::Config::default(), id);
        if failures > 0 {
            stopped += 1;
        }
    }
    assert!(stopped >= 20, "only {stopped} faults hit the run");
}
