//! sled's latched I/O error: a child process (this test binary, re-executed) lowers its
//! file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) so that sled's writes start failing
//! with EFBIG, and appends until they do. Every failure must be a coded error, never a
//! panic; the parent then reopens the store without the limit and finds every acknowledged
//! event, and the store accepts writes again.

use std::path::Path;
use std::process::Command;

use weir_runtime::store::{Append, EventKind, NewEvent, NewRun, RunId, SledStore, StepId, Store};

const TEST_NAME: &str = "a_latched_io_error_is_coded_and_the_store_reopens";
const CHILD_ENV: &str = "WEIR_LATCHED_CHILD";

fn run() -> RunId {
    RunId::from_u128(42)
}

fn append(i: u32) -> Append {
    Append {
        at_ms: u64::from(i),
        events: vec![NewEvent {
            step: StepId::new(format!("main/s{i}"), 0, 0),
            kind: EventKind::StepCompleted,
            payload: vec![b'w'; 2000],
        }],
        status: None,
    }
}

fn file_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

fn child(dir: &Path) {
    let store = SledStore::open_dir(dir).expect("child open");
    store.create_run(&NewRun { id: run(), flow: "wibble".to_owned(), created_at_ms: 1 }).expect("create");
    let limit = file_bytes(&dir.join("store")) + 256 * 1024;
    // SAFETY: plain libc calls on this process: ignore SIGXFSZ so that exceeding the limit
    // is an EFBIG error instead of a signal, and lower the soft file size limit.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: libc::RLIM_INFINITY };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit), 0);
    }
    let mut failures = 0;
    for i in 0..2000 {
        match store.append(run(), &append(i)) {
            Ok(_) => println!("ACK {i}"),
            Err(e) => {
                println!("ERR {}", e.code());
                failures += 1;
                if failures >= 5 {
                    break;
                }
            }
        }
    }
    println!("DONE");
}

#[test]
fn a_latched_io_error_is_coded_and_the_store_reopens() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join(".weir");
    let output = Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, &store_dir)
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("DONE"),
        "child failed ({:?}): {stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let acked: Vec<u32> =
        stdout.lines().filter_map(|l| l.strip_prefix("ACK ")).map(|n| n.parse().expect("index")).collect();
    let codes: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("ERR ")).collect();
    assert!(!acked.is_empty(), "some appends succeed before the limit");
    assert!(!codes.is_empty(), "the file size limit must make sled fail");
    for code in &codes {
        assert!(
            ["STORE-IO", "STORE-FULL", "STORE-SYNC", "STORE-POISONED"].contains(code),
            "unexpected code {code}"
        );
    }
    println!("acknowledged {} appends, then {:?}", acked.len(), codes);

    let store = SledStore::open_dir(&store_dir).expect("reopen without the limit");
    let journal = store.journal(run(), 0).expect("journal");
    for i in &acked {
        let event = journal.iter().find(|e| e.step.path == format!("main/s{i}"));
        assert!(event.is_some(), "acknowledged event {i} lost");
    }
    let next = journal.len() as u32 + 10_000;
    store.append(run(), &append(next)).expect("the reopened store accepts writes");
}
