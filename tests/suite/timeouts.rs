//! A run's own `timeout`: a durable timer from its start; the run fails with code `timeout`
//! once it passes (at a step, a timer, a paused approval), `try` does not catch it, and the
//! moment is journaled so that a replay stops at the same place.

use super::run::TestClock;
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Interpreter, Outcome};
use weir_runtime::store::{MemoryStore, Store};

fn compile(text: &str) -> Bytecode {
    super::run::compile_text(text, &weir_config::Config::default())
}

fn flow(body: &str) -> String {
    format!(
        "flow slow {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  timeout 1h\n\n{body}  on failure e {{\n    step cleanup = function {{ value e.code }}\n    log \"gave up: {{cleanup.value}}\"\n  }}\n}}\n"
    )
}

#[test]
fn a_timer_past_the_deadline_fails_the_run_at_the_deadline_and_try_does_not_catch_it() {
    let text = flow(
        "  step before = function { value 1 }\n  try {\n    sleep 2h\n  } catch e {\n    log \"caught {e.code}\"\n  }\n  step after = function { value 2 }\n",
    );
    let bytecode = compile(&text);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let start = *clock.now.lock().expect("clock");
    let mut lines = Vec::new();
    let (run, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::record::<&str>([]), None, &mut |l| lines.push(l.to_string()))
        .expect("run");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!((error.code.as_str(), error.step.as_str()), ("timeout", "@run"));
    assert_eq!(*clock.now.lock().expect("clock"), start + 3_600_000, "slept until the deadline, not 2 h");
    assert!(!lines.iter().any(|l| l.contains("caught")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("gave up: timeout")), "{lines:?}");
    let journal = store.journal(run, 0).expect("journal");
    assert!(!journal.iter().any(|e| e.step.path == "after"));
    super::replay::assert_replays(&store, &weir_config::Config::default(), run);
}

#[test]
fn a_paused_run_past_its_deadline_fails_when_resumed() {
    let text = flow(
        "  approval go {\n    summary \"go?\"\n    timeout 1d\n    default reject\n  }\n  step after = function { value 2 }\n",
    );
    let bytecode = compile(&text);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock);
    let (run, outcome) = interp.start(&bytecode, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    assert!(matches!(outcome, Outcome::Paused(_)), "{outcome:?}");
    // The deadline is a durable timer: `weir resume` finds the run when it is due.
    *clock.now.lock().expect("clock") += 3_600_000;
    let due = store.due_timers(*clock.now.lock().expect("clock"), 0).expect("timers");
    assert!(due.iter().any(|t| t.run == run && t.step.path == "@run/timeout"), "{due:?}");
    let outcome = interp.resume(run, &bytecode, &mut |_| {}).expect("resume");
    let Outcome::Failed(error) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error.code, "timeout");
    assert!(store.due_timers(u64::MAX, 0).expect("timers").is_empty(), "a finished run keeps no timer");
    super::replay::assert_replays(&store, &weir_config::Config::default(), run);
}
