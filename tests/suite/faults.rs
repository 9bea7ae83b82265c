//! Driving a run through a store that fails: what every fault-injection test of the
//! interpreter does, in one place.

use weir_bytecode::{Bytecode, Value};
use weir_runtime::interp::{InterpError, Interpreter, Outcome};
use weir_runtime::store::{FaultStore, MemoryStore, RunId, Store};

/// Drives run `id` (starting it with `input` if it has not started) until it reaches an
/// outcome, the way a restarted process would: after each store error the store is reopened
/// (rebuilt from its synced writes) and the run driven again. Returns the outcome and how
/// many times the store failed; `context` names the case in panics.
pub(super) fn drive_through(
    store: &FaultStore<MemoryStore>,
    interp: &Interpreter<'_>,
    id: RunId,
    bytecode: &Bytecode,
    input: &Value,
    context: &str,
) -> (Outcome, u32) {
    let start = || interp.start(bytecode, input.clone(), Some(id), &mut |_| {}).map(|(_, o)| o);
    let mut failures = 0;
    loop {
        let attempt = match store.run(id) {
            // A run whose start was lost is started again under its id.
            Ok(Some(_)) => match interp.resume(id, bytecode, &mut |_| {}) {
                Err(InterpError::Journal(_)) => start(),
                other => other,
            },
            Ok(None) => start(),
            Err(e) => Err(InterpError::Store(e)),
        };
        match attempt {
            Ok(outcome) => return (outcome, failures),
            Err(InterpError::Store(_)) => {
                failures += 1;
                assert!(failures < 20, "{context}: the run never got past the store's failures");
                store.reopen().expect("reopen");
            }
            Err(e) => panic!("{context}: {e}"),
        }
    }
}
