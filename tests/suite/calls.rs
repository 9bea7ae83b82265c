//! `call` at run time: a linked child run, its version resolved against the project's flows
//! when the call starts and pinned, its output the call's, its failure the call's (caught by
//! `try`), its pause its caller's; a finished child wakes its caller; every journal replays.

use super::run::TestClock;
use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{Decide, Interpreter, Outcome};
use weir_runtime::store::{EventKind, MemoryStore, RunStatus, Store};

const PEOPLE: &str = "[people.ada]\nemail = \"ada@example.com\"\n";

fn child(version: &str, body: &str) -> String {
    format!(
        "flow double {{\n  version \"{version}\"\n  concurrency unlimited because \"called by others\"\n  trigger manual\n  input {{ n: int }}\n\n{body}}}\n"
    )
}

const PARENT: &str = "flow parent {\n  version \"1.0.0\"\n  concurrency unlimited because \"a test\"\n  trigger manual\n\n  try {\n    step doubled = call double@^1 {\n      input { n: 21 }\n    }\n  } catch e {\n    return { result: -1, error: e.code }\n  }\n  output { result: doubled.twice, error: \"none\" }\n}\n";

/// The parent and every child version, compiled as one project.
fn project(children: &[String]) -> (weir_config::Config, Bytecode, Vec<Bytecode>) {
    let config = weir_config::parse_bytes(PEOPLE.as_bytes()).0;
    let texts: Vec<String> = std::iter::once(PARENT.to_string()).chain(children.iter().cloned()).collect();
    let parsed: Vec<_> = texts.iter().map(|t| weir_grammar::parse(t)).collect();
    let library = weir_compiler::interface::Library::new(parsed.iter().flat_map(|p| p.file.flows()));
    let mut compiled = Vec::new();
    for (text, parsed) in texts.iter().zip(&parsed) {
        let flow = parsed.file.flows().next().expect("a flow");
        compiled.push(
            weir_compiler::lower::lower_flow(flow, text, Some(&config), Some(&library)).expect("lowers"),
        );
    }
    let parent = compiled.remove(0);
    (config, parent, compiled)
}

#[test]
fn a_call_runs_the_highest_matching_version_as_a_linked_child() {
    let children = [
        child("1.0.0", "  output { twice: input.n * 100 }\n"),
        child("1.2.0", "  step twice = function { value input.n * 2 }\n  output { twice: twice.value }\n"),
        child("2.0.0", "  output { twice: 0 }\n"),
    ];
    let (config, parent, library) = project(&children);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock)
        .with_project(&config, std::path::Path::new("."))
        .with_library(&library);
    let (run, outcome) = interp.start(&parent, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([("result", Value::Int(42)), ("error", Value::string("none"))]))
    );
    let journal = store.journal(run, 0).expect("journal");
    let started = journal
        .iter()
        .find(|e| e.step.path == "doubled" && e.kind == EventKind::StepStarted)
        .expect("started");
    let started: serde_json::Value = serde_json::from_slice(&started.payload).expect("json");
    assert_eq!(started["version"], "1.2.0");
    let child: weir_runtime::store::RunId =
        weir_runtime::store::RunId(started["child"].as_str().expect("child").parse().expect("uuid"));
    assert_eq!(interp.parent_of(child).expect("parent"), Some(run));
    assert_eq!(store.run(child).expect("run").expect("child").status, RunStatus::Succeeded);
    super::replay::assert_replays(&store, &config, run);
    super::replay::assert_replays(&store, &config, child);
}

#[test]
fn a_failed_child_fails_the_call_and_try_catches_it() {
    let children = [child("1.0.0", "  fail \"no\" code \"child_said_no\"\n")];
    let (config, parent, library) = project(&children);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock)
        .with_project(&config, std::path::Path::new("."))
        .with_library(&library);
    let (_, outcome) = interp.start(&parent, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([
            ("result", Value::Int(-1)),
            ("error", Value::string("child_said_no"))
        ]))
    );
}

#[test]
fn a_paused_child_pauses_its_caller_until_it_finishes() {
    let children = [child(
        "1.0.0",
        "  approval ok {\n    summary \"double {input.n}?\"\n    timeout 1h\n    default reject\n  }\n  output { twice: input.n * 2 }\n",
    )];
    let (config, parent, library) = project(&children);
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock)
        .with_project(&config, std::path::Path::new("."))
        .with_library(&library);
    let (run, outcome) = interp.start(&parent, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    let Outcome::Paused(waiting) = outcome else { panic!("{outcome:?}") };
    let child =
        weir_runtime::store::RunId(waiting.run.as_deref().expect("the child waits").parse().expect("uuid"));
    assert_eq!(store.run(run).expect("run").expect("parent").status, RunStatus::Paused);
    let program = interp.program(child).expect("child program");
    let decide = Decide {
        approval: "ok",
        person: "ada",
        approve: true,
        reason: None,
        input: Value::record::<&str>([]),
    };
    interp.decide(child, &program, &decide).expect("approve");
    let done = interp.resume(child, &program, &mut |_| {}).expect("child");
    assert!(matches!(done, Outcome::Succeeded(_)), "{done:?}");
    // The finished child woke its caller: `weir resume` finds it among running runs.
    assert_eq!(store.run(run).expect("run").expect("parent").status, RunStatus::Running);
    let outcome = interp.resume(run, &parent, &mut |_| {}).expect("parent");
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([("result", Value::Int(42)), ("error", Value::string("none"))]))
    );
    super::replay::assert_replays(&store, &config, run);
    super::replay::assert_replays(&store, &config, child);
}

#[test]
fn a_call_past_its_timeout_cancels_the_child_and_fails_catchably() {
    let children = [child(
        "1.0.0",
        "  approval ok {\n    summary \"double {input.n}?\"\n    timeout 1h\n    default reject\n  }\n  output { twice: input.n * 2 }\n",
    )];
    let (config, _, library) = project(&children);
    let text = PARENT.replace("      input { n: 21 }\n", "      input { n: 21 }\n      timeout 1m\n");
    let parsed = weir_grammar::parse(&text);
    let flows: Vec<_> = weir_grammar::parse(&children[0]).file.flows().cloned().collect();
    let library_ast = weir_compiler::interface::Library::new(parsed.file.flows().chain(flows.iter()));
    let flow = parsed.file.flows().next().expect("a flow");
    let parent =
        weir_compiler::lower::lower_flow(flow, &text, Some(&config), Some(&library_ast)).expect("lowers");
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock)
        .with_project(&config, std::path::Path::new("."))
        .with_library(&library);
    let (run, outcome) = interp.start(&parent, Value::record::<&str>([]), None, &mut |_| {}).expect("run");
    let Outcome::Paused(waiting) = outcome else { panic!("{outcome:?}") };
    let child = weir_runtime::store::RunId(waiting.run.as_deref().expect("child").parse().expect("uuid"));
    // The call's deadline is a durable timer: the caller is woken when it passes.
    *clock.now.lock().expect("clock") += 60_000;
    let due = store.due_timers(*clock.now.lock().expect("clock"), 0).expect("timers");
    assert!(due.iter().any(|t| t.run == run && t.step.path == "doubled/timeout"), "{due:?}");
    let outcome = interp.resume(run, &parent, &mut |_| {}).expect("resume");
    assert_eq!(
        outcome,
        Outcome::Succeeded(Value::record([("result", Value::Int(-1)), ("error", Value::string("timeout"))]))
    );
    assert_eq!(store.run(child).expect("run").expect("child").status, RunStatus::Cancelled);
    super::replay::assert_replays(&store, &config, run);
}
