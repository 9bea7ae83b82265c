//! Replay (R6): every journal the run tests produce replays clean; a tampered event and a
//! changed program are reported at their journal index with the step's source position.

use super::run::{TestClock, compile};
use weir_bytecode::Value;
use weir_runtime::interp::{Interpreter, Outcome};
use weir_runtime::store::{Append, MemoryStore, NewEvent, NewRun, RunId, Store};

/// Replays `run` of `store` and fails the test on any divergence.
pub(super) fn assert_replays(store: &dyn Store, config: &weir_config::Config, run: RunId) {
    let clock = TestClock::new();
    let interp = Interpreter::new(store, &clock).with_project(config, std::path::Path::new("."));
    // A fault plan may fail one of the replay's reads: read again.
    let report = interp.replay(run, None).or_else(|_| interp.replay(run, None)).expect("replay");
    assert!(report.divergence.is_none(), "replay of {run} diverged: {:?}", report.divergence);
    assert!(report.compared > 0, "{report:?}");
}

fn input() -> Value {
    Value::record([("names", Value::List(vec![Value::string("ada"), Value::string("grace")]))])
}

/// A copy of `run` in a new store, with `change` applied to each event as it is copied.
fn copy(store: &dyn Store, run: RunId, change: impl Fn(u32, &mut NewEvent)) -> MemoryStore {
    let copy = MemoryStore::new();
    let record = store.run(run).expect("run").expect("exists");
    copy.create_run(&NewRun { id: run, flow: record.flow, created_at_ms: record.created_at_ms })
        .expect("create");
    for event in store.journal(run, 0).expect("journal") {
        let mut new = NewEvent { step: event.step, kind: event.kind, payload: event.payload };
        change(event.index, &mut new);
        copy.append(run, &Append { at_ms: event.at_ms, events: vec![new], status: None }).expect("append");
    }
    let program = weir_runtime::interp::PROGRAM_MEDIA_TYPE;
    for event in copy.journal(run, 0).expect("journal").iter().filter(|e| e.step.path == "@run/program") {
        let hex: String = serde_json::from_slice(&event.payload).expect("hash");
        let hash = weir_runtime::store::ResourceHash::from_hex(&hex).expect("hex");
        let resource = store.get_resource(&hash).expect("get").expect("program");
        copy.put_resource(program, &resource.bytes, 0).expect("put");
    }
    copy
}

#[test]
fn a_run_replays_clean_and_a_tampered_event_is_reported_at_its_index_and_line() {
    let bytecode = compile("tests/run/counter.flow");
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let config = weir_config::Config::default();
    let (run, outcome) =
        Interpreter::new(&store, &clock).start(&bytecode, input(), None, &mut |_| {}).expect("run");
    assert!(matches!(outcome, Outcome::Succeeded(_)), "{outcome:?}");
    assert_replays(&store, &config, run);

    // The second greeting's journaled output is changed: the replay computes it again.
    let journal = store.journal(run, 0).expect("journal");
    let target = journal.iter().find(|e| e.step.path == "greet" && e.step.iteration == 1).expect("greet#1");
    let tampered = copy(&store, run, |index, event| {
        if index == target.index {
            event.payload = br#"{"Record":[["value",{"String":"hello, mallory"}]]}"#.to_vec();
        }
    });
    let interp = Interpreter::new(&tampered, &clock);
    let report = interp.replay(run, None).expect("replay");
    let divergence = report.divergence.expect("a divergence");
    assert_eq!(divergence.index, target.index);
    assert_eq!(divergence.step, "greet");
    let span = divergence.span.expect("span");
    assert_eq!((span.line, span.column), (10, 5), "the `step greet` line of counter.flow");
    assert!(divergence.message.contains("different content"), "{}", divergence.message);
}

#[test]
fn a_changed_program_is_reported_where_it_first_differs() {
    let config = weir_config::Config::default();
    let before = compile("tests/run/counter.flow");
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let interp = Interpreter::new(&store, &clock);
    let (run, _) = interp.start(&before, input(), None, &mut |_| {}).expect("run");
    assert_replays(&store, &config, run);
    let text = std::fs::read_to_string(super::root().join("tests/run/counter.flow")).expect("flow");
    let changed = text.replace("step probe = function { value 3 }", "step probe = function { value 4 }");
    let parsed = weir_grammar::parse(&changed);
    let flow = parsed.file.flows().next().expect("a flow");
    let after = weir_compiler::lower::lower_flow(flow, &changed, None, None).expect("lowers");
    let report = interp.replay(run, Some(&after)).expect("replay");
    let divergence = report.divergence.expect("a divergence");
    let journal = store.journal(run, 0).expect("journal");
    let probe = journal.iter().find(|e| e.step.path == "probe").expect("probe");
    assert_eq!((divergence.index, divergence.step.as_str()), (probe.index, "probe"));
    assert_eq!(divergence.span.map(|s| s.line), Some(16));
    // A journal cut short (a run interrupted) replays clean up to where it ends.
    let cut = copy(&store, run, |_, _| {});
    let short = MemoryStore::new();
    let record = cut.run(run).expect("run").expect("exists");
    short
        .create_run(&NewRun { id: run, flow: record.flow, created_at_ms: record.created_at_ms })
        .expect("create");
    let events = cut.journal(run, 0).expect("journal");
    for event in events.iter().take(events.len() / 2) {
        let new =
            NewEvent { step: event.step.clone(), kind: event.kind.clone(), payload: event.payload.clone() };
        short.append(run, &Append { at_ms: event.at_ms, events: vec![new], status: None }).expect("append");
    }
    for resource in events.iter().filter(|e| e.step.path == "@run/program") {
        let hex: String = serde_json::from_slice(&resource.payload).expect("hash");
        let hash = weir_runtime::store::ResourceHash::from_hex(&hex).expect("hex");
        let bytes = store.get_resource(&hash).expect("get").expect("program").bytes;
        short.put_resource(weir_runtime::interp::PROGRAM_MEDIA_TYPE, &bytes, 0).expect("put");
    }
    let report = Interpreter::new(&short, &clock).replay(run, None).expect("replay");
    assert!(report.divergence.is_none(), "{report:?}");
}
