//! R9 at PR scale (reliability-tests.md): 1,000 runs each sleeping on a durable timer due
//! somewhere in the next 60 s, driven the way a scheduler drives them (a run pauses at a
//! timer that is not due; whatever is due is woken), with the store failing at random and
//! ten crashes that rebuild it from its synced writes. Every timer fires exactly once and
//! never early; the lateness is reported (simulated time).

use super::run::TestClock;
use weir_bytecode::Value;
use weir_runtime::interp::{InterpError, Interpreter, Outcome};
use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{EventKind, FaultPlan, FaultStore, MemoryStore, RunId, RunQuery, RunStatus, Store};

const RUNS: u64 = 1_000;

/// A run's one durable timer (its deadline and other `@run` timers aside): when it was due
/// and when it fired, checked to have fired exactly once and never early.
pub(super) fn the_timer(journal: &[weir_runtime::store::Event], context: &str) -> (u64, u64) {
    let due: Vec<u64> = journal
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::TimerScheduled { due_at_ms } if !e.step.path.starts_with('@') => Some(due_at_ms),
            _ => None,
        })
        .collect();
    let fired: Vec<u64> = journal
        .iter()
        .filter(|e| e.kind == EventKind::TimerFired && !e.step.path.starts_with('@'))
        .map(|e| e.at_ms)
        .collect();
    assert_eq!((due.len(), fired.len()), (1, 1), "{context}: one timer, fired once");
    assert!(fired[0] >= due[0], "{context}: fired {} ms early", due[0] - fired[0]);
    (due[0], fired[0])
}

/// Reads retried through the store's random faults (reads change nothing).
fn read<T>(mut what: impl FnMut() -> weir_runtime::store::StoreResult<T>) -> T {
    (0..50).find_map(|_| what().ok()).unwrap_or_else(|| what().expect("a read kept failing"))
}

#[test]
fn every_durable_timer_fires_exactly_once_and_never_early_across_crashes() {
    let text = "flow nap {\n  version \"1.0.0\"\n  concurrency unlimited because \"many sleepers\"\n  trigger manual\n  input { wait: duration = 1s }\n\n  sleep input.wait\n  output { slept: input.wait }\n}\n";
    let parsed = weir_grammar::parse(text);
    let flow = parsed.file.flows().next().expect("a flow");
    let bytecode = weir_compiler::lower::lower_flow(flow, text, None, None).expect("lowers");
    let seed = 9;
    let mut rng = SeededRng::new(seed);
    let store = FaultStore::new(FaultPlan::new(seed).random(5_000), Box::new(|| Ok(MemoryStore::new())))
        .expect("store");
    let clock = TestClock::new();
    let start = *clock.now.lock().expect("clock");
    let interp = Interpreter::new(&store, &clock).pausing_at_timers();
    let retry = |what: &mut dyn FnMut() -> Result<(), InterpError>| {
        for _ in 0..20 {
            match what() {
                Ok(()) => return,
                Err(InterpError::Store(_)) => store.reopen().expect("reopen"),
                Err(e) => panic!("{e}"),
            }
        }
        panic!("the store kept failing");
    };
    let ids: Vec<RunId> = (0..RUNS)
        .map(|i| RunId::from_u128(0x0190_0000_0000_7000_c000_0000_0000_0000 + u128::from(i)))
        .collect();
    for id in &ids {
        let wait = Value::Duration(i64::try_from(1_000 + rng.below(59_000)).expect("ms"));
        // A run created whose start a fault lost is started again under its id.
        retry(&mut || match store.run(*id)? {
            Some(record) if record.journal_len > 0 => Ok(()),
            _ => interp
                .start_detached(&bytecode, Value::record([("wait", wait.clone())]), Some(*id), None)
                .map(drop),
        });
    }
    let mut crashes = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 10_000, "the timers never all fired");
        // Drive what should move: queued (never driven, or woken) and due.
        let now = *clock.now.lock().expect("clock");
        let mut moving: Vec<RunId> = Vec::new();
        retry(&mut || {
            moving = store
                .find_runs(&RunQuery { status: Some(RunStatus::Queued), ..RunQuery::default() })?
                .into_iter()
                .chain(
                    store.find_runs(&RunQuery { status: Some(RunStatus::Running), ..RunQuery::default() })?,
                )
                .map(|r| r.id)
                .chain(store.due_timers(now, 0)?.into_iter().map(|t| t.run))
                .collect();
            Ok(())
        });
        for id in moving {
            retry(&mut || interp.resume(id, &bytecode, &mut |_| {}).map(drop));
        }
        if crashes < 10 && rng.below(5) == 0 {
            store.reopen().expect("crash");
            crashes += 1;
        }
        let mut next = None;
        retry(&mut || {
            next = store.due_timers(u64::MAX, 1)?.first().map(|t| t.due_at_ms);
            Ok(())
        });
        let mut open = 0;
        retry(&mut || {
            open = store.find_runs(&RunQuery::default())?.iter().filter(|r| !r.status.is_terminal()).count();
            Ok(())
        });
        match next {
            Some(due) => {
                let mut now = clock.now.lock().expect("clock");
                *now = (*now).max(due);
            }
            None if open == 0 => break,
            None => {}
        }
    }
    store.reopen().expect("reopen");
    let mut lateness = Vec::new();
    for id in &ids {
        let journal = read(|| store.journal(*id, 0));
        let (scheduled, fired) = the_timer(&journal, &format!("run {id}"));
        assert!(scheduled <= start + 60_000 + 60_000, "run {id}: due within the minute of its start");
        lateness.push(fired - scheduled);
        let record = read(|| store.run(*id)).expect("exists");
        assert_eq!(record.status, RunStatus::Succeeded, "run {id}");
        let outcome = (0..50).find_map(|_| interp.resume(*id, &bytecode, &mut |_| {}).ok());
        assert!(matches!(outcome, Some(Outcome::Succeeded(_))), "run {id}: {outcome:?}");
    }
    lateness.sort_unstable();
    let p99 = lateness[lateness.len() * 99 / 100];
    eprintln!(
        "R9: {RUNS} timers, {crashes} crashes, {rounds} rounds, lateness p99 {p99} ms, max {} ms (simulated time)",
        lateness.last().copied().unwrap_or(0)
    );
    assert!(p99 <= 1_000, "lateness p99 {p99} ms");
}
