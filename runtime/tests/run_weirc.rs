//! The runtime runs a committed `.weirc` without compiling anything: this test's crate
//! depends on weir-bytecode and weir-config only (tests/dependencies.rs keeps it so). The
//! file is `weir build examples/hello.flow` as of format version 1; rebuild it with that
//! command when the example changes.

use std::sync::Mutex;
use weir_bytecode::Value;
use weir_runtime::interp::{Clock, Interpreter, Outcome};
use weir_runtime::store::MemoryStore;

struct Pinned(Mutex<u64>);

impl Clock for Pinned {
    fn now_ms(&self) -> u64 {
        *self.0.lock().expect("clock")
    }
    fn uuid(&self) -> String {
        "00000000-0000-7000-8000-000000000000".into()
    }
    fn sleep_until(&self, due_ms: u64) {
        let mut now = self.0.lock().expect("clock");
        *now = (*now).max(due_ms);
    }
}

#[test]
fn a_committed_weirc_runs_without_the_compiler() {
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hello-v1.weirc")).expect("weirc");
    let bytecode = weir_bytecode::decode(&bytes).expect("loads");
    assert_eq!(bytecode.header.slug, "hello");
    let store = MemoryStore::new();
    let clock = Pinned(Mutex::new(1_767_225_600_000));
    let mut lines = Vec::new();
    let (_, outcome) = Interpreter::new(&store, &clock)
        .start(&bytecode, Value::Record(Vec::new()), None, &mut |l| lines.push(l.to_string()))
        .expect("runs");
    let Outcome::Succeeded(output) = outcome else { panic!("{outcome:?}") };
    assert_eq!(output.field("greeted"), Some(&Value::Int(3)), "the input's default list has three names");
    assert_eq!(output.field("first"), Some(&Value::String("hello, ada".into())));
    assert!(lines.iter().any(|l| l == "log \"hello, linus\""), "{lines:?}");
}

/// R7: the journal of a run of each committed format version replays on this runtime. The
/// journal was written by the runtime of its time (`WEIR_BLESS=1` writes it again, for a new
/// format version only: an old one must keep replaying as it is).
#[test]
fn golden_journals_of_each_format_version_replay() {
    use weir_runtime::store::{Append, Event, NewEvent, NewRun, RunId, Store};
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    for (weirc, journal) in [("hello-v1.weirc", "hello-v1.journal.json")] {
        let bytes = std::fs::read(format!("{data}/{weirc}")).expect("weirc");
        let bytecode = weir_bytecode::decode(&bytes).expect("loads");
        let path = format!("{data}/{journal}");
        if std::env::var("WEIR_BLESS").is_ok() {
            let store = MemoryStore::new();
            let clock = Pinned(Mutex::new(1_767_225_600_000));
            let (run, _) = Interpreter::new(&store, &clock)
                .start(&bytecode, Value::Record(Vec::new()), Some(RunId::from_u128(1)), &mut |_| {})
                .expect("runs");
            let events = store.journal(run, 0).expect("journal");
            std::fs::write(&path, serde_json::to_string_pretty(&events).expect("json")).expect("write");
        }
        let events: Vec<Event> =
            serde_json::from_slice(&std::fs::read(&path).expect("golden journal")).expect("a journal");
        let first = events.first().expect("events");
        let store = MemoryStore::new();
        store
            .create_run(&NewRun {
                id: first.run,
                flow: bytecode.header.slug.clone(),
                created_at_ms: first.at_ms,
            })
            .expect("create");
        store.put_resource(weir_runtime::interp::PROGRAM_MEDIA_TYPE, &bytes, first.at_ms).expect("program");
        for event in &events {
            let new = NewEvent {
                step: event.step.clone(),
                kind: event.kind.clone(),
                payload: event.payload.clone(),
            };
            store
                .append(first.run, &Append { at_ms: event.at_ms, events: vec![new], status: None })
                .expect("append");
        }
        let clock = Pinned(Mutex::new(0));
        let report = Interpreter::new(&store, &clock).replay(first.run, Some(&bytecode)).expect("replay");
        assert!(report.divergence.is_none(), "{journal}: {:?}", report.divergence);
        assert!(report.compared >= 10, "{journal}: {report:?}");
    }
}
