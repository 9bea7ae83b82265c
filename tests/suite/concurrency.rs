//! `concurrency max N [per KEY] queue|skip|cancel-previous` at run time: slots come from
//! the journal (a paused run holds its slot), a full key queues, skips or cancels the
//! oldest holder, keys are per input, N is never exceeded by runs started at once, and every
//! journal replays.

use super::run::TestClock;
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Decide, Interpreter, Outcome};
use weir_runtime::store::{MemoryStore, RunId, RunStatus, Store};

const PEOPLE: &str = "[people.ada]\nemail = \"ada@example.com\"\n";

fn config() -> weir_config::Config {
    weir_config::parse_bytes(PEOPLE.as_bytes()).0
}

fn compile(concurrency: &str) -> Bytecode {
    let text = format!(
        "flow deploy {{\n  version \"1.0.0\"\n  concurrency {concurrency}\n  trigger manual\n  input {{ env: string = \"prod\" }}\n\n  approval go {{\n    summary \"deploy {{input.env}}?\"\n    timeout 1h\n    default reject\n  }}\n  output {{ env: input.env }}\n}}\n"
    );
    let config = config();
    let (_, diagnostics) = weir_compiler::check::diagnose(text.as_bytes(), Some(&config));
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let parsed = weir_grammar::parse(&text);
    let flow = parsed.file.flows().next().expect("a flow");
    weir_compiler::lower::lower_flow(flow, &text, Some(&config), None).expect("lowers")
}

fn env(name: &str) -> Value {
    Value::record([("env", Value::string(name))])
}

fn status(store: &dyn Store, run: RunId) -> RunStatus {
    store.run(run).expect("run").expect("exists").status
}

fn approve(interp: &Interpreter<'_>, bytecode: &Bytecode, run: RunId) -> Outcome {
    let decide = Decide {
        approval: "go",
        person: "ada",
        approve: true,
        reason: None,
        input: Value::record::<&str>([]),
    };
    interp.decide(run, bytecode, &decide).expect("approve");
    interp.resume(run, bytecode, &mut |_| {}).expect("resume")
}

#[test]
fn a_full_key_queues_the_run_until_a_slot_frees_up() {
    let config = config();
    let bytecode = compile("max 1 queue");
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let (first, outcome) = interp.start(&bytecode, env("prod"), None, &mut |_| {}).expect("first");
    assert!(matches!(outcome, Outcome::Paused(_)), "a paused run holds its slot: {outcome:?}");
    let (second, outcome) = interp.start(&bytecode, env("prod"), None, &mut |_| {}).expect("second");
    assert_eq!(outcome, Outcome::Queued { key: "deploy".into(), held: 1 });
    assert_eq!(status(&store, second), RunStatus::Queued);
    // Still full: driving it again changes nothing.
    assert!(matches!(interp.resume(second, &bytecode, &mut |_| {}).expect("again"), Outcome::Queued { .. }));
    assert!(matches!(approve(&interp, &bytecode, first), Outcome::Succeeded(_)));
    let outcome = interp.resume(second, &bytecode, &mut |_| {}).expect("admitted");
    assert!(matches!(outcome, Outcome::Paused(_)), "{outcome:?}");
    let holders = store.slot_holders("deploy").expect("holders");
    assert_eq!(holders.iter().map(|h| h.run).collect::<Vec<_>>(), [second]);
    for run in [first, second] {
        super::replay::assert_replays(&store, &config, run);
    }
}

#[test]
fn skip_ends_the_new_run_and_cancel_previous_ends_the_oldest() {
    let config = config();
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let skip = compile("max 1 skip");
    let (held, _) = interp.start(&skip, env("prod"), None, &mut |_| {}).expect("first");
    let (skipped, outcome) = interp.start(&skip, env("prod"), None, &mut |_| {}).expect("second");
    assert_eq!(outcome, Outcome::Skipped { key: "deploy".into() });
    assert_eq!((status(&store, held), status(&store, skipped)), (RunStatus::Paused, RunStatus::Cancelled));
    super::replay::assert_replays(&store, &config, held);

    let store = MemoryStore::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let newest = compile("max 1 cancel-previous");
    let (old, _) = interp.start(&newest, env("prod"), None, &mut |_| {}).expect("first");
    let (new, outcome) = interp.start(&newest, env("prod"), None, &mut |_| {}).expect("second");
    assert!(matches!(outcome, Outcome::Paused(_)), "{outcome:?}");
    assert_eq!((status(&store, old), status(&store, new)), (RunStatus::Cancelled, RunStatus::Paused));
    let journal = store.journal(old, 0).expect("journal");
    let end = journal.iter().find(|e| e.step.path == "@end").expect("end");
    assert!(String::from_utf8_lossy(&end.payload).contains("cancel-previous"), "{end:?}");
    for run in [old, new] {
        super::replay::assert_replays(&store, &config, run);
    }
}

#[test]
fn keys_are_per_input_and_n_runs_started_at_once_never_exceed_n() {
    let config = config();
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock).with_project(&config, std::path::Path::new("."));
    let per = compile("max 1 per input.env queue");
    let (_, prod) = interp.start(&per, env("prod"), None, &mut |_| {}).expect("prod");
    let (_, staging) = interp.start(&per, env("staging"), None, &mut |_| {}).expect("staging");
    let (_, again) = interp.start(&per, env("prod"), None, &mut |_| {}).expect("prod again");
    assert!(matches!(prod, Outcome::Paused(_)) && matches!(staging, Outcome::Paused(_)));
    assert_eq!(again, Outcome::Queued { key: "deploy=\"prod\"".into(), held: 1 });

    // Twenty runs at once against a limit of 3: exactly 3 get a slot.
    let store = MemoryStore::new();
    let three = compile("max 3 queue");
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (store, clock, config, three) = (&store, &clock, &config, &three);
                scope.spawn(move || {
                    let interp =
                        Interpreter::new(store, clock).with_project(config, std::path::Path::new("."));
                    interp.start(three, env("prod"), None, &mut |_| {}).expect("start").1
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let paused = outcomes.iter().filter(|o| matches!(o, Outcome::Paused(_))).count();
    let queued = outcomes.iter().filter(|o| matches!(o, Outcome::Queued { .. })).count();
    assert_eq!((paused, queued), (3, 17));
    assert_eq!(store.slot_holders("deploy").expect("holders").len(), 3);
}
