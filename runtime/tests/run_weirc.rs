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
