//! The interpreter: runs a compiled flow (weir-bytecode) over a run's journal (design.md §5).
//!
//! A run is a fold of bytecode and journal. Every time the interpreter drives a run it
//! starts from the program's entry block; each step has a stable identity (the step
//! table's id, the iterations of enclosing loops, the attempt), and a step whose outcome is
//! journaled is not run again: its recorded output is used (memoized re-execution, as
//! Temporal and Restate replay). `now()` and `uuid()` are journaled the first time they are
//! evaluated at a site, so a resumed or replayed run sees the same values.
//!
//! This slice runs the control flow (sequence, `let`, `if`, `for`, `loop`, `repeat` (its
//! waits are durable timers), `try/catch`, `fail`, `return`, `log`), `parallel` and `for …
//! parallel N` with branches at once (`parallel.rs`), sagas and undos (`saga.rs`), approvals
//! (`approval.rs`: the run pauses, decisions are journaled votes), callbacks and their waits
//! (`callback.rs`), and the steps `function`, `kv`, `http`, `sleep` and `wait for`/`wait
//! until` (durable timers; a foreground run sleeps through them). A program that uses
//! anything else is refused before a run is created ([`unsupported`]), so no run is ever
//! left half-done by a missing feature. `replay.rs` re-executes a run against its journal.
//!
//! A run pins its program: `start` stores the bytecode as a content-addressed resource and
//! journals its hash (`@run/program`), so `weir approve`, `weir resume` and replay continue
//! a run with exactly the program it started with ([`Interpreter::program`]).

mod approval;
mod call;
mod callback;
mod concurrency;
mod crash;
mod parallel;
mod replay;
mod resolve;
mod retry;
mod saga;

pub use approval::{ApprovalRequest, Decide, Vote, Waiting, find_person};
pub use callback::{DEFAULT_SERVER_URL, check_post, token_of};
pub use crash::{InterpHook, InterpPoint, hooks_from_env};
pub use replay::{Divergence, ReplayReport};
pub use resolve::Resolution;

use crate::store::{Append, Event, EventKind, NewEvent, NewRun, RunId, RunStatus, StepId, Store, StoreError};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use weir_bytecode::{
    ActionStep, BlockIx, Bytecode, Env, EvalError, ExprIx, Instr, NameScope, Program, StepIx, StepKind,
    Value, eval,
};

/// Where time and fresh ids come from (a test pins them). Shared by the branches of a
/// `parallel`, which run on threads of their own.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> u64;
    /// A fresh UUID.
    fn uuid(&self) -> String;
    /// Wait until `due_ms` (a foreground run sleeps through timers).
    fn sleep_until(&self, due_ms: u64);
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn uuid(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    fn sleep_until(&self, due_ms: u64) {
        let now = self.now_ms();
        if due_ms > now {
            std::thread::sleep(std::time::Duration::from_millis(due_ms - now));
        }
    }
}

/// How a run ended (or stopped) this time.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Finished; its output (`none` when the flow has no `output`).
    Succeeded(Value),
    /// Finished with an error that nothing caught.
    Failed(RunError),
    /// A write or irreversible step without an idempotency key was started and its outcome
    /// is unknown (the drive stopped after `started` was journaled): a person must decide
    /// whether to retry it or mark it done. It is never retried silently.
    NeedsDecision {
        /// The step's journal identity.
        step: String,
    },
    /// Waiting for a person (an approval) or the outside world: the run is journaled as
    /// paused and continues when a decision arrives (`weir approve`, `weir resume`).
    Paused(Waiting),
    /// An approval was rejected (or timed out with `default reject`) and its `on reject`
    /// did not decide otherwise.
    Rejected {
        /// The approval's name.
        approval: String,
        /// Who rejected it (`@timeout` when its timeout passed).
        by: String,
        /// Their reason, if they gave one.
        reason: Option<String>,
    },
    /// The flow's concurrency key is full and its policy is `queue`: the run waits, `queued`,
    /// until `weir resume` finds a free slot.
    Queued {
        /// The concurrency key.
        key: String,
        /// Runs holding it.
        held: u32,
    },
    /// The flow's concurrency key was full and its policy is `skip`: the run ended
    /// `cancelled` without running anything.
    Skipped {
        /// The concurrency key.
        key: String,
    },
}

/// A run's error, as `catch e` and `on failure e` see it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunError {
    /// Stable code (`agent_failed`, `exhausted`, `eval`, …).
    pub code: String,
    /// What happened.
    pub message: String,
    /// The step identity it happened at.
    pub step: String,
}

impl RunError {
    fn value(&self) -> Value {
        Value::record([
            ("code", Value::String(self.code.clone())),
            ("message", Value::String(self.message.clone())),
            ("step", Value::String(self.step.clone())),
            ("attempts", Value::Int(1)),
        ])
    }
}

/// Why the interpreter could not drive a run (as opposed to the run failing).
#[derive(Debug, thiserror::Error)]
pub enum InterpError {
    /// The store refused or failed a write; the run can be resumed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The program uses something this interpreter does not run yet (nothing was started).
    #[error("RUN-UNSUPPORTED: this weir cannot run {0} yet")]
    Unsupported(String),
    /// The run does not exist, or its journal does not fit the program.
    #[error("RUN-JOURNAL: {0}")]
    Journal(String),
    /// The input does not fit the flow's `input`.
    #[error("RUN-INPUT: {0}")]
    Input(String),
    /// A decision was refused: no such pending approval, a person who may not decide, a
    /// missing or ill-typed input field. Nothing was journaled.
    #[error("RUN-DECISION: {0}")]
    Decision(String),
    /// The run's pinned program cannot be loaded from the store.
    #[error("RUN-PROGRAM: {0}")]
    Program(String),
}

impl InterpError {
    /// The stable code of the error (docs/runtime.md).
    pub fn code(&self) -> &'static str {
        match self {
            InterpError::Store(e) => e.code(),
            InterpError::Unsupported(_) => "RUN-UNSUPPORTED",
            InterpError::Journal(_) => "RUN-JOURNAL",
            InterpError::Input(_) => "RUN-INPUT",
            InterpError::Decision(_) => "RUN-DECISION",
            InterpError::Program(_) => "RUN-PROGRAM",
        }
    }
}

/// The identity of a child run's link to the run and step that called it.
const PARENT: &str = "@run/parent";

/// The identity of a run's deadline timer (flow-level `timeout D`).
const RUN_TIMEOUT: &str = "@run/timeout";

/// The media type a run's pinned bytecode is stored under.
pub const PROGRAM_MEDIA_TYPE: &str = "application/vnd.weir.bytecode";

/// What a program needs that this interpreter does not run yet, if anything.
pub fn unsupported(program: &Program) -> Option<String> {
    for step in &program.steps {
        let what = match &step.kind {
            StepKind::Action(action) if !matches!(action.family.as_str(), "function" | "kv" | "http") => {
                format!("`{}` steps (`{}`)", action.family, step.id)
            }
            _ => continue,
        };
        return Some(what);
    }
    None
}

/// Runs programs against a store.
pub struct Interpreter<'a> {
    store: &'a dyn Store,
    clock: &'a dyn Clock,
    /// The project's weir.toml and its directory (connections, secrets).
    project: Option<(&'a weir_config::Config, &'a std::path::Path)>,
    /// The http executor and the runtime it runs on, made on first use.
    http: std::sync::OnceLock<Result<(crate::exec::http::HttpExecutor, tokio::runtime::Runtime), String>>,
    /// When replaying: the journal that answers for the outside world (`replay.rs`).
    replay: Option<&'a replay::Oracle>,
    /// Called at named crash points (kill -9 tests).
    crash: Option<InterpHook>,
    /// The project's compiled flows, which `call` steps resolve against.
    library: &'a [Bytecode],
    /// Where `http` requests go instead of the network (a simulation's world).
    transport: Option<&'a dyn Transport>,
    /// Pause at a timer that is not due instead of sleeping through it (a scheduler wakes
    /// the run; the foreground `weir run` sleeps).
    pause_at_timers: bool,
}

/// Sends an `http` step's request: the network (reqwest, the default), or a stand-in a
/// deterministic simulation controls.
pub trait Transport: Send + Sync {
    /// One attempt of a request over a connection.
    fn send(
        &self,
        connection: &crate::exec::http::HttpConnection,
        request: crate::exec::http::HttpRequest,
    ) -> Result<crate::exec::http::HttpResponse, crate::exec::ExecError>;
}

/// What control does after an instruction.
enum Flow {
    Next,
    Break,
    Continue,
    Return(Value),
}

impl<'a> Interpreter<'a> {
    /// An interpreter over a store and a clock.
    pub fn new(store: &'a dyn Store, clock: &'a dyn Clock) -> Interpreter<'a> {
        Interpreter {
            store,
            clock,
            project: None,
            http: std::sync::OnceLock::new(),
            replay: None,
            crash: None,
            library: &[],
            transport: None,
            pause_at_timers: false,
        }
    }

    /// Steps reach the outside world through the connections and secrets of this weir.toml
    /// (`root`: its directory, where relative `file:` secrets start).
    pub fn with_project(
        mut self,
        config: &'a weir_config::Config,
        root: &'a std::path::Path,
    ) -> Interpreter<'a> {
        self.project = Some((config, root));
        self
    }

    /// `call` steps resolve against these compiled flows (the project's).
    pub fn with_library(mut self, library: &'a [Bytecode]) -> Interpreter<'a> {
        self.library = library;
        self
    }

    /// A timer that is not due pauses the run instead of sleeping through it: whoever drives
    /// runs wakes it when `due_timers` lists it (a server, a scheduler, a test).
    pub fn pausing_at_timers(mut self) -> Interpreter<'a> {
        self.pause_at_timers = true;
        self
    }

    /// `http` requests go to `transport` instead of the network (deterministic simulation).
    pub fn with_transport(mut self, transport: &'a dyn Transport) -> Interpreter<'a> {
        self.transport = Some(transport);
        self
    }

    /// Calls `hook` at the interpreter's named crash points (kill -9 tests).
    pub fn with_crash_hook(mut self, hook: Option<InterpHook>) -> Interpreter<'a> {
        self.crash = hook;
        self
    }

    /// Reached a named crash point.
    fn crash_point(&self, point: InterpPoint) {
        if let Some(hook) = &self.crash {
            hook(point);
        }
    }

    /// Create a run of `bytecode` with `input` (a record; defaults are applied) and drive it.
    /// `report` hears a line per step as it ends.
    pub fn start(
        &self,
        bytecode: &Bytecode,
        input: Value,
        id: Option<RunId>,
        report: &mut dyn FnMut(&str),
    ) -> Result<(RunId, Outcome), InterpError> {
        self.start_as(bytecode, input, id, None, report)
    }

    /// [`Interpreter::start`], recording who started the run (`--as`: what `not initiator`
    /// checks). The program is stored and its hash journaled with the start, atomically.
    pub fn start_as(
        &self,
        bytecode: &Bytecode,
        input: Value,
        id: Option<RunId>,
        initiator: Option<&str>,
        report: &mut dyn FnMut(&str),
    ) -> Result<(RunId, Outcome), InterpError> {
        let id = self.create(bytecode, input, id, initiator, None, RunStatus::Running)?;
        let outcome = self.drive(id, bytecode, report)?;
        Ok((id, outcome))
    }

    /// Journals a run's start without driving it (`weir run --detach`): it waits `queued`
    /// until `weir resume` drives it.
    pub fn start_detached(
        &self,
        bytecode: &Bytecode,
        input: Value,
        id: Option<RunId>,
        initiator: Option<&str>,
    ) -> Result<RunId, InterpError> {
        self.create(bytecode, input, id, initiator, None, RunStatus::Queued)
    }

    /// Creates a run and journals its start (input, pinned program, initiator, deadline).
    fn create(
        &self,
        bytecode: &Bytecode,
        input: Value,
        id: Option<RunId>,
        initiator: Option<&str>,
        parent: Option<(RunId, &StepId)>,
        status: RunStatus,
    ) -> Result<RunId, InterpError> {
        if let Some(what) = unsupported(&bytecode.program) {
            return Err(InterpError::Unsupported(what));
        }
        let input = complete_input(&bytecode.program, input)?;
        let encoded = weir_bytecode::encode(bytecode).map_err(|e| InterpError::Program(e.to_string()))?;
        let now = self.clock.now_ms();
        let program = self.store.put_resource(PROGRAM_MEDIA_TYPE, &encoded, now)?;
        let id = id.unwrap_or_else(|| RunId::generate(now));
        // A run created by an earlier process that stopped before journaling its start (a
        // store whose creation and start are two writes) is started now, under its id.
        let orphan =
            self.store.run(id)?.is_some_and(|r| r.flow == bytecode.header.slug && r.journal_len == 0);
        let payload = serde_json::to_vec(&input).unwrap_or_default();
        let mut events = vec![
            NewEvent { step: StepId::new("@run", 0, 0), kind: EventKind::RunStarted, payload },
            NewEvent {
                step: StepId::new("@run/program", 0, 0),
                kind: EventKind::ValueRecorded,
                payload: serde_json::to_vec(&program.hash.to_hex()).unwrap_or_default(),
            },
        ];
        if let Some(timeout) = bytecode.program.flow.run_timeout {
            // The run's deadline, a durable timer from its start: `weir resume` wakes a paused
            // run when it passes.
            let env = weir_bytecode::MapEnv::default();
            if let Ok(Value::Duration(ms)) = eval(&bytecode.program, &env, timeout) {
                let due_at_ms = now.saturating_add(u64::try_from(ms).unwrap_or(0));
                events.push(NewEvent {
                    step: StepId::new(RUN_TIMEOUT, 0, 0),
                    kind: EventKind::TimerScheduled { due_at_ms },
                    payload: Vec::new(),
                });
            }
        }
        if let Some((run, step)) = parent {
            let link = serde_json::json!({ "run": run.0.to_string(), "step": step.path, "iteration": step.iteration });
            events.push(NewEvent {
                step: StepId::new(PARENT, 0, 0),
                kind: EventKind::ValueRecorded,
                payload: serde_json::to_vec(&link).unwrap_or_default(),
            });
        }
        if let Some(person) = initiator {
            events.push(NewEvent {
                step: StepId::new("@run/initiator", 0, 0),
                kind: EventKind::ValueRecorded,
                payload: serde_json::to_vec(person).unwrap_or_default(),
            });
        }
        let start = Append { at_ms: now, events, status: Some(status) };
        if orphan {
            self.store.append(id, &start)?;
        } else {
            // Created and started in one write: a crash leaves no run without its start.
            let run = NewRun { id, flow: bytecode.header.slug.clone(), created_at_ms: now };
            self.store.create_run_with(&run, &start)?;
        }
        Ok(id)
    }

    /// The program a run started with (stored by [`Interpreter::start_as`]), verified.
    pub fn program(&self, id: RunId) -> Result<Bytecode, InterpError> {
        let journal = self.store.journal(id, 0)?;
        if journal.is_empty() && self.store.run(id)?.is_none() {
            return Err(InterpError::Journal(format!("no run {}", id.0)));
        }
        let hash = journal
            .iter()
            .find(|e| e.step.path == "@run/program")
            .and_then(|e| serde_json::from_slice::<String>(&e.payload).ok())
            .and_then(|hex| crate::store::ResourceHash::from_hex(&hex))
            .ok_or_else(|| {
                InterpError::Program(format!(
                    "run {} has no pinned program (it was started by an older weir): continue it with `weir run FILE --id {}`",
                    id.0, id.0
                ))
            })?;
        let resource = self.store.get_resource(&hash)?.ok_or_else(|| {
            InterpError::Program(format!("the program {hash} of run {} is missing from the store", id.0))
        })?;
        weir_bytecode::decode(&resource.bytes).map_err(|e| InterpError::Program(e.to_string()))
    }

    /// Drive an existing run from its journal: journaled outcomes are reused, the rest runs.
    pub fn resume(
        &self,
        id: RunId,
        bytecode: &Bytecode,
        report: &mut dyn FnMut(&str),
    ) -> Result<Outcome, InterpError> {
        if let Some(what) = unsupported(&bytecode.program) {
            return Err(InterpError::Unsupported(what));
        }
        self.drive(id, bytecode, report)
    }

    /// End a run that has not finished as cancelled: its journal is closed with an `@end`
    /// event holding the reason (what a later drive reports). Returns the status it had;
    /// `None` when it had already finished (nothing is written).
    pub fn cancel(&self, id: RunId, reason: &str) -> Result<Option<RunStatus>, InterpError> {
        let record = self.store.run(id)?.ok_or_else(|| InterpError::Journal(format!("no run {}", id.0)))?;
        if record.status.is_terminal() {
            return Ok(None);
        }
        let error = RunError { code: "cancelled".into(), message: reason.to_string(), step: "@end".into() };
        let payload = serde_json::to_vec(&error).unwrap_or_default();
        let events = vec![NewEvent { step: StepId::new("@end", 0, 0), kind: EventKind::StepFailed, payload }];
        self.store
            .append(id, &Append { at_ms: self.clock.now_ms(), events, status: Some(RunStatus::Cancelled) })?;
        Ok(Some(record.status))
    }

    /// One drive of a run whose program is known to be runnable.
    fn drive(
        &self,
        id: RunId,
        bytecode: &Bytecode,
        report: &mut dyn FnMut(&str),
    ) -> Result<Outcome, InterpError> {
        let journal = match self.store.journal(id, 0) {
            Err(crate::store::StoreError::RunUnknown(_)) => {
                return Err(InterpError::Journal(format!("no run {}", id.0)));
            }
            other => other?,
        };
        // A finished run is not driven again: its recorded outcome stands.
        if let Some(end) = journal.iter().find(|e| e.step.path == "@end") {
            return Ok(match end.kind {
                EventKind::StepCompleted => {
                    Outcome::Succeeded(serde_json::from_slice(&end.payload).unwrap_or(Value::None))
                }
                _ => {
                    let error = serde_json::from_slice(&end.payload).unwrap_or_else(|_| RunError {
                        code: "failed".into(),
                        message: "the run failed".into(),
                        step: "@end".into(),
                    });
                    let rejection = approval::Rejection::from_payload(&end.payload);
                    match (self.store.run(id)?.map(|r| r.status), rejection) {
                        (Some(RunStatus::Rejected), Some(rejection)) => rejection.outcome(),
                        _ => Outcome::Failed(error),
                    }
                }
            });
        }
        let input = journal
            .iter()
            .find(|e| e.kind == EventKind::RunStarted)
            .and_then(|e| serde_json::from_slice::<Value>(&e.payload).ok())
            .ok_or_else(|| InterpError::Journal(format!("run {id:?} has no start event")))?;
        let parent = call::parent_in(&journal);
        // A run takes its concurrency slot before it first runs (or waits, queued).
        if let Some(outcome) = self.admit(id, bytecode, &journal, &input)? {
            if matches!(outcome, Outcome::Skipped { .. }) {
                self.wake_parent(parent)?;
            }
            return Ok(outcome);
        }
        // A paused (or queued) run becomes `running` with the first thing it journals: a drive
        // that finds nothing new to do writes nothing.
        let running = self.store.run(id)?.is_some_and(|r| r.status == RunStatus::Running);
        let mut run = Run {
            running: std::cell::Cell::new(running),
            interp: self,
            id,
            program: &bytecode.program,
            flow: bytecode.header.slug.clone(),
            votes: journal.iter().filter(|e| e.kind == EventKind::ApprovalDecided).cloned().collect(),
            initiator: journal
                .iter()
                .find(|e| e.step.path == "@run/initiator")
                .and_then(|e| serde_json::from_slice(&e.payload).ok()),
            deadline: journal.iter().find_map(|e| match e.kind {
                EventKind::TimerScheduled { due_at_ms } if e.step.path == RUN_TIMEOUT => Some(due_at_ms),
                _ => None,
            }),
            journal: journal.into_iter().map(|e| ((e.step.clone(), e.kind.tag()), e)).collect(),
            input,
            steps: HashMap::new(),
            prev: HashMap::new(),
            sagas: Vec::new(),
            cancelled: None,
            locals: Vec::new(),
            loops: Vec::new(),
            site: RefCell::new(String::new()),
            draws: RefCell::new(HashMap::new()),
            store_error: RefCell::new(None),
            report,
        };
        let result = run.block(bytecode.program.flow.entry);
        let outcome = match result {
            Ok(Flow::Return(value)) => Outcome::Succeeded(value),
            Ok(_) => match bytecode.program.flow.output {
                Some(sited) => {
                    run.set_site(sited.site);
                    match run.eval(sited.value) {
                        Ok(value) => Outcome::Succeeded(value),
                        Err(e) => Outcome::Failed(run.error_from(e)),
                    }
                }
                None => Outcome::Succeeded(Value::None),
            },
            Err(Stop::Store(e)) => return Err(InterpError::Store(e)),
            Err(Stop::Paused(waiting)) => return self.pause(id, *waiting, run.running.get()),
            Err(Stop::Rejected(rejection)) => rejection.outcome(),
            Err(Stop::Failed(error)) => {
                // `on failure e { … }` runs once when the run fails; the run stays failed.
                if let Some(handler) = &bytecode.program.flow.on_failure {
                    if let Some(var) = &handler.var {
                        run.locals.push((var.clone(), error.value()));
                    }
                    // Clean-up runs even when the run's deadline is what failed it.
                    run.deadline = None;
                    match run.block(handler.body) {
                        Err(Stop::Store(e)) => return Err(InterpError::Store(e)),
                        Err(Stop::Paused(waiting)) => return self.pause(id, *waiting, run.running.get()),
                        Err(Stop::NeedsDecision(step)) => {
                            let status = Some(RunStatus::NeedsDecision);
                            self.store.append(
                                id,
                                &Append { at_ms: self.clock.now_ms(), events: Vec::new(), status },
                            )?;
                            return Ok(Outcome::NeedsDecision { step });
                        }
                        _ => {}
                    }
                }
                Outcome::Failed(error)
            }
            Err(Stop::NeedsDecision(step)) => {
                self.store.append(
                    id,
                    &Append {
                        at_ms: self.clock.now_ms(),
                        events: Vec::new(),
                        status: Some(RunStatus::NeedsDecision),
                    },
                )?;
                return Ok(Outcome::NeedsDecision { step });
            }
        };
        if let Err(Stop::Store(e)) = run.pending() {
            return Err(InterpError::Store(e));
        }
        let (status, payload) = match &outcome {
            Outcome::Succeeded(value) => {
                (RunStatus::Succeeded, serde_json::to_vec(value).unwrap_or_default())
            }
            Outcome::Failed(error) => (RunStatus::Failed, serde_json::to_vec(error).unwrap_or_default()),
            Outcome::Rejected { approval, by, reason } => {
                (RunStatus::Rejected, approval::Rejection::payload(approval, by, reason.as_deref()))
            }
            Outcome::NeedsDecision { .. }
            | Outcome::Paused(_)
            | Outcome::Queued { .. }
            | Outcome::Skipped { .. } => return Ok(outcome),
        };
        let kind =
            if status == RunStatus::Succeeded { EventKind::StepCompleted } else { EventKind::StepFailed };
        self.store.append(
            id,
            &Append {
                at_ms: self.clock.now_ms(),
                events: vec![NewEvent { step: StepId::new("@end", 0, 0), kind, payload }],
                status: Some(status),
            },
        )?;
        // A run called by another: the caller can go on.
        self.wake_parent(parent)?;
        Ok(outcome)
    }

    /// Journal that the run waits, and say for what.
    fn pause(&self, id: RunId, waiting: Waiting, running: bool) -> Result<Outcome, InterpError> {
        // Still `paused` when this drive journaled nothing: nothing to write.
        if running {
            let at_ms = self.clock.now_ms();
            self.store.append(id, &Append { at_ms, events: Vec::new(), status: Some(RunStatus::Paused) })?;
        }
        Ok(Outcome::Paused(waiting))
    }
}

/// Why a step's action did not produce an output.
enum ActionError {
    /// The step failed (the run sees the error).
    Eval(EvalError),
    /// The store failed: the drive stops, the run is resumed later.
    Store(StoreError),
}

impl From<EvalError> for ActionError {
    fn from(e: EvalError) -> ActionError {
        ActionError::Eval(e)
    }
}

/// Why a block stopped early.
enum Stop {
    Store(StoreError),
    Failed(RunError),
    NeedsDecision(String),
    /// Waiting for a decision or the outside world: the drive ends, the run is paused.
    Paused(Box<Waiting>),
    /// An approval's rejection ends the run (`try` does not catch it).
    Rejected(Box<approval::Rejection>),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Store(e)
    }
}

/// One drive of one run.
struct Run<'i, 'a, 'r> {
    interp: &'i Interpreter<'a>,
    id: RunId,
    program: &'i Program,
    flow: String,
    journal: HashMap<(StepId, u8), Event>,
    /// Every journaled approval vote, in journal order (`approval.rs`).
    votes: Vec<Event>,
    /// The run's status is `running` (set with the first append of a drive that changes
    /// anything).
    running: std::cell::Cell<bool>,
    /// Who started the run (`--as`), if recorded.
    initiator: Option<String>,
    /// When the run's `timeout` passes (Unix ms), if the flow has one.
    deadline: Option<u64>,
    input: Value,
    /// Step outputs by name (inside a loop, this iteration's; after a `for`, the list of
    /// every iteration's, in input order).
    steps: HashMap<String, Value>,
    /// `prev(step)`: the step's output in the previous iteration of its innermost loop.
    prev: HashMap<String, Value>,
    /// The compensations registered with each enclosing `saga`, innermost last.
    sagas: Vec<Vec<saga::Registered>>,
    /// Set when a sibling branch of the enclosing `parallel` failed: this branch stops at its
    /// next step (`parallel.rs`).
    cancelled: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Loop variables, `catch` variables and consts, innermost last.
    locals: Vec<(String, Value)>,
    /// Iterations of the enclosing loops, outermost first.
    loops: Vec<u32>,
    /// The identity expressions are evaluated at (for `now()`/`uuid()`).
    site: RefCell<String>,
    /// How many `now()`/`uuid()` values each site has drawn in this evaluation.
    draws: RefCell<HashMap<String, u32>>,
    /// A store error met while journaling a `now()`/`uuid()` draw (inside the evaluator,
    /// which cannot stop the drive itself): the next append or instruction stops with it, so
    /// no drawn value is used beyond what the journal holds.
    store_error: RefCell<Option<StoreError>>,
    report: &'r mut dyn FnMut(&str),
}

impl Run<'_, '_, '_> {
    /// The journal identity of a step-table entry here (enclosing loop iterations in the
    /// path, the innermost as the iteration).
    fn step_id(&self, ix: StepIx, suffix: &str) -> StepId {
        let base = self.program.step(ix).map_or("?", |s| s.id.as_str());
        let (outer, inner) = match self.loops.split_last() {
            Some((inner, outer)) => (outer, *inner),
            None => (&[][..], 0),
        };
        let mut path = base.to_string();
        for i in outer {
            path.push_str(&format!("[{i}]"));
        }
        path.push_str(suffix);
        StepId::new(path, inner, 0)
    }

    fn set_site(&self, ix: StepIx) {
        let id = self.step_id(ix, "");
        *self.site.borrow_mut() = format!("{}#{}", id.path, id.iteration);
        self.draws.borrow_mut().clear();
    }

    fn eval(&self, expr: ExprIx) -> Result<Value, EvalError> {
        eval(self.program, self, expr)
    }

    fn error_from(&self, e: EvalError) -> RunError {
        RunError { code: "eval".into(), message: e.message, step: self.site.borrow().clone() }
    }

    fn fail<T>(&self, e: EvalError) -> Result<T, Stop> {
        Err(Stop::Failed(self.error_from(e)))
    }

    fn append(&mut self, events: Vec<NewEvent>) -> Result<(), Stop> {
        let now = self.interp.clock.now_ms();
        self.append_at(now, events)
    }

    /// Append at a time the caller already read: a due time computed from `now` is then
    /// exactly `at_ms` + its delay, which replay (whose clock is the journal's) relies on.
    fn append_at(&mut self, at_ms: u64, events: Vec<NewEvent>) -> Result<(), Stop> {
        self.pending()?;
        let status = (!self.running.replace(true)).then_some(RunStatus::Running);
        // A replay: once the original journaled its deadline as passed, it journaled nothing
        // more of its own (wherever a crash had left it), so the replay stops here too.
        if let Some(oracle) = self.interp.replay
            && self.deadline.is_some()
            && oracle.deadline_passed_here(&StepId::new(RUN_TIMEOUT, 0, 0))
        {
            return Err(self.deadline_error());
        }
        let append = Append { at_ms, events, status };
        let receipt = match self.interp.store.append(self.id, &append) {
            Ok(receipt) => receipt,
            Err(e) => {
                self.running.set(status.is_none());
                return Err(Stop::Store(e));
            }
        };
        for (event, index) in append.events.into_iter().zip(receipt.indexes) {
            let key = (event.step.clone(), event.kind.tag());
            let stored = Event {
                run: self.id,
                index,
                at_ms: receipt.run.updated_at_ms,
                step: event.step,
                kind: event.kind,
                payload: event.payload,
            };
            self.journal.insert(key, stored);
        }
        Ok(())
    }

    fn recorded(&self, step: &StepId, kind: &EventKind) -> Option<&Event> {
        self.journal.get(&(step.clone(), kind.tag()))
    }

    /// Stop with a store error met inside the evaluator, if there was one.
    fn pending(&self) -> Result<(), Stop> {
        match self.store_error.borrow_mut().take() {
            Some(e) => Err(Stop::Store(e)),
            None => Ok(()),
        }
    }

    fn block(&mut self, ix: BlockIx) -> Result<Flow, Stop> {
        let Some(block) = self.program.block(ix) else { return Ok(Flow::Next) };
        for instr in &block.instrs {
            let flow = self.instr(instr);
            self.pending()?;
            match flow? {
                Flow::Next => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Next)
    }

    fn instr(&mut self, instr: &Instr) -> Result<Flow, Stop> {
        match instr {
            Instr::Step { step, undo: Some(undo) } => self.step_with_undo(*step, undo),
            Instr::Step { step, undo: None } => self.step(*step).map(|_| Flow::Next),
            Instr::Log { step } => {
                self.set_site(*step);
                let Some(StepKind::Log { value }) = self.program.step(*step).map(|s| &s.kind) else {
                    return Ok(Flow::Next);
                };
                let id = self.step_id(*step, "");
                if self.recorded(&id, &EventKind::StepCompleted).is_none() {
                    let value = match self.eval(*value) {
                        Ok(v) => v,
                        Err(e) => return self.fail(e),
                    };
                    (self.report)(&format!("log {value}"));
                    let payload = serde_json::to_vec(&value).unwrap_or_default();
                    self.append(vec![NewEvent { step: id, kind: EventKind::StepCompleted, payload }])?;
                }
                Ok(Flow::Next)
            }
            Instr::Let { site, name, value } => {
                self.set_site(*site);
                match self.eval(*value) {
                    Ok(v) => self.locals.push((name.clone(), v)),
                    Err(e) => return self.fail(e),
                }
                Ok(Flow::Next)
            }
            Instr::If { site, arms, otherwise } => {
                self.set_site(*site);
                for arm in arms {
                    match self.eval(arm.cond) {
                        Ok(Value::Bool(true)) => return self.block(arm.body),
                        Ok(_) => {}
                        Err(e) => return self.fail(e),
                    }
                }
                match otherwise {
                    Some(body) => self.block(*body),
                    None => Ok(Flow::Next),
                }
            }
            Instr::For { site, var, items, body, parallel } => {
                self.set_site(*site);
                let items = match self.eval(*items) {
                    Ok(Value::List(items)) => items,
                    Ok(Value::None) => Vec::new(),
                    Ok(other) => {
                        return self.fail(EvalError::new(
                            weir_bytecode::EvalCode::TypeError,
                            format!("`for` needs a list, got {other}"),
                        ));
                    }
                    Err(e) => return self.fail(e),
                };
                if let Some(width) = parallel {
                    let width = self.count(*width)?;
                    return self.parallel_for(var, items, *body, usize::try_from(width).unwrap_or(1));
                }
                // After the loop each of the body's steps is the list of its outputs, in
                // input order (`none` for an iteration that did not run it).
                let names = self.body_names(*body);
                let mut outputs: Vec<Vec<Value>> = vec![Vec::new(); names.len()];
                for (i, item) in items.into_iter().enumerate() {
                    self.next_iteration(&names, i == 0);
                    self.locals.push((var.clone(), item));
                    self.loops.push(i as u32);
                    let flow = self.block(*body);
                    self.loops.pop();
                    self.locals.pop();
                    let flow = flow?;
                    for (name, out) in names.iter().zip(&mut outputs) {
                        out.push(self.steps.get(name).cloned().unwrap_or(Value::None));
                    }
                    match flow {
                        Flow::Break => break,
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Next | Flow::Continue => {}
                    }
                }
                for (name, out) in names.into_iter().zip(outputs) {
                    self.steps.insert(name, Value::List(out));
                }
                Ok(Flow::Next)
            }
            Instr::Loop { site, max, body } => {
                self.set_site(*site);
                let max = self.count(*max)?;
                let names = self.body_names(*body);
                for i in 0..max {
                    self.next_iteration(&names, i == 0);
                    self.loops.push(i);
                    let flow = self.block(*body);
                    self.loops.pop();
                    match flow? {
                        Flow::Break => return Ok(Flow::Next),
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Next | Flow::Continue => {}
                    }
                }
                Err(Stop::Failed(RunError {
                    code: "exhausted".into(),
                    message: format!("the loop ran {max} times without `break`"),
                    step: self.step_id(*site, "").path,
                }))
            }
            Instr::Repeat { site, every, until, max, body } => {
                self.set_site(*site);
                let max = self.count(*max)?;
                let every_ms = match self.eval(*every) {
                    Ok(Value::Duration(ms)) => u64::try_from(ms).unwrap_or(0),
                    Ok(_) => 0,
                    Err(e) => return self.fail(e),
                };
                let names = self.body_names(*body);
                for i in 0..max {
                    self.next_iteration(&names, i == 0);
                    self.loops.push(i);
                    let flow = self.block(*body);
                    let done = match flow {
                        Ok(Flow::Break) => true,
                        Ok(Flow::Return(v)) => {
                            self.loops.pop();
                            return Ok(Flow::Return(v));
                        }
                        Ok(_) => {
                            self.set_site(*site);
                            matches!(self.eval(*until), Ok(Value::Bool(true)))
                        }
                        Err(e) => {
                            self.loops.pop();
                            return Err(e);
                        }
                    };
                    if !done && i + 1 < max {
                        let id = self.step_id(*site, "/every");
                        self.timer(id, every_ms)?;
                    }
                    self.loops.pop();
                    if done {
                        return Ok(Flow::Next);
                    }
                }
                Err(Stop::Failed(RunError {
                    code: "exhausted".into(),
                    message: format!("`repeat` ran {max} times and its condition never held"),
                    step: self.step_id(*site, "").path,
                }))
            }
            Instr::Parallel { branches } => self.parallel(branches),
            Instr::Try { body, catch } => match self.block(*body) {
                // The run's own timeout is not the body's failure: `try` does not catch it.
                Err(Stop::Failed(error)) if !is_run_timeout(&error) && !is_cancelled(&error) => {
                    if let Some(var) = &catch.var {
                        self.locals.push((var.clone(), error.value()));
                    }
                    let flow = self.block(catch.body);
                    if catch.var.is_some() {
                        self.locals.pop();
                    }
                    flow
                }
                other => other,
            },
            Instr::Break => Ok(Flow::Break),
            Instr::Continue => Ok(Flow::Continue),
            Instr::Fail { site, message, code } => {
                self.set_site(*site);
                let message = match self.eval(*message) {
                    Ok(Value::String(s)) => s,
                    Ok(other) => other.to_string(),
                    Err(e) => return self.fail(e),
                };
                let code = match code.map(|c| self.eval(c)) {
                    Some(Ok(Value::String(s))) => s,
                    Some(Ok(other)) => other.to_string(),
                    Some(Err(e)) => return self.fail(e),
                    None => "failed".to_string(),
                };
                Err(Stop::Failed(RunError { code, message, step: self.step_id(*site, "").path }))
            }
            Instr::Return { site, value } => {
                self.set_site(*site);
                match value.map(|v| self.eval(v)) {
                    Some(Ok(v)) => Ok(Flow::Return(v)),
                    Some(Err(e)) => self.fail(e),
                    None => Ok(Flow::Return(Value::None)),
                }
            }
            Instr::Approval { step, on_reject } => self.approval(*step, *on_reject),
            Instr::Callback { step } => self.callback(*step).map(|()| Flow::Next),
            // Refused by `unsupported` before the run starts.
            Instr::Saga { body } => self.saga(*body),
        }
    }

    /// Stops a branch whose sibling failed, at its next step. Where it stopped is journaled
    /// (`STEP/cancelled`), so a later drive and a replay stop it at the same step.
    fn check_cancelled(&mut self, at: &StepId) -> Result<(), Stop> {
        let marker = StepId::new(format!("{}/cancelled", at.path), at.iteration, 0);
        let journaled = match self.interp.replay {
            Some(oracle) => oracle.find(&marker, &EventKind::ValueRecorded).is_some(),
            None => self.recorded(&marker, &EventKind::ValueRecorded).is_some(),
        };
        let flagged = self.cancelled.as_ref().is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst));
        if !journaled && (self.interp.replay.is_some() || !flagged) {
            return Ok(());
        }
        if self.recorded(&marker, &EventKind::ValueRecorded).is_none() {
            let payload = serde_json::to_vec("a sibling branch failed").unwrap_or_default();
            self.append(vec![NewEvent { step: marker, kind: EventKind::ValueRecorded, payload }])?;
        }
        Err(Stop::Failed(RunError {
            code: "cancelled".into(),
            message: "a sibling branch of the `parallel` failed".into(),
            step: at.path.clone(),
        }))
    }

    /// Fails the run once its `timeout` has passed. The moment is journaled (`@run/timeout`
    /// fired), so a replay stops at the same place (its clock is the journal's).
    fn check_deadline(&mut self, at: &StepId) -> Result<(), Stop> {
        self.deadline_at(at, false)
    }

    /// [`Run::check_deadline`] at a timer (its end is `fired`, not an outcome).
    fn check_deadline_timer(&mut self, timer: &StepId) -> Result<(), Stop> {
        self.deadline_at(timer, true)
    }

    /// A replay stops at the deadline where the original did: at the step (or timer) the
    /// original never finished, once it journaled the deadline as passed.
    fn deadline_at(&mut self, at: &StepId, timer_end: bool) -> Result<(), Stop> {
        let Some(deadline) = self.deadline else { return Ok(()) };
        let timer = StepId::new(RUN_TIMEOUT, 0, 0);
        let passed = match self.interp.replay {
            Some(oracle) => {
                let finished = if timer_end {
                    oracle.find(at, &EventKind::TimerFired).is_some()
                } else {
                    oracle.outcome(at).is_some()
                };
                oracle.passed(&timer, finished)
            }
            None => {
                self.recorded(&timer, &EventKind::TimerFired).is_some()
                    || self.interp.clock.now_ms() >= deadline
            }
        };
        if !passed {
            return Ok(());
        }
        if self.interp.replay.is_none() && self.recorded(&timer, &EventKind::TimerFired).is_none() {
            self.append(vec![NewEvent { step: timer, kind: EventKind::TimerFired, payload: Vec::new() }])?;
        }
        Err(self.deadline_error())
    }

    /// The error of a run whose own timeout passed.
    fn deadline_error(&self) -> Stop {
        let deadline = self.deadline.unwrap_or_default();
        let at = i64::try_from(deadline)
            .ok()
            .and_then(weir_bytecode::value::format_time_rfc3339)
            .unwrap_or_default();
        Stop::Failed(RunError {
            code: "timeout".into(),
            message: format!("the run passed its timeout at {at}"),
            step: "@run".into(),
        })
    }

    /// The names of the steps, callbacks and approvals anywhere in a block.
    fn body_names(&self, block: BlockIx) -> Vec<String> {
        let mut names = Vec::new();
        let mut todo = vec![block];
        while let Some(ix) = todo.pop() {
            let Some(block) = self.program.block(ix) else { continue };
            for instr in &block.instrs {
                if let Some(name) =
                    instr.named_step().and_then(|s| self.program.step(s)).and_then(|s| s.name.clone())
                    && !names.contains(&name)
                {
                    names.push(name);
                }
                todo.extend(instr.blocks());
            }
        }
        names
    }

    /// Before a loop iteration: what the body's steps gave last time becomes `prev(…)`
    /// (`none` in the first iteration), and they are unset until they run again.
    fn next_iteration(&mut self, names: &[String], first: bool) {
        for name in names {
            let last = self.steps.remove(name);
            self.prev.insert(name.clone(), if first { Value::None } else { last.unwrap_or(Value::None) });
        }
    }

    /// A loop bound.
    fn count(&self, expr: ExprIx) -> Result<u32, Stop> {
        match self.eval(expr) {
            Ok(Value::Int(n)) => Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
            Ok(_) => Ok(0),
            Err(e) => self.fail(e),
        }
    }

    /// A durable timer: its due time is journaled when it starts; a foreground run sleeps
    /// until it is due, then journals that it fired.
    fn timer(&mut self, id: StepId, after_ms: u64) -> Result<(), Stop> {
        if self.recorded(&id, &EventKind::TimerFired).is_some() {
            return Ok(());
        }
        let due = match self.journal.get(&(id.clone(), EventKind::TimerScheduled { due_at_ms: 0 }.tag())) {
            Some(Event { kind: EventKind::TimerScheduled { due_at_ms }, .. }) => *due_at_ms,
            _ => {
                let now = self.interp.clock.now_ms();
                let due = now.saturating_add(after_ms);
                self.append_at(
                    now,
                    vec![NewEvent {
                        step: id.clone(),
                        kind: EventKind::TimerScheduled { due_at_ms: due },
                        payload: Vec::new(),
                    }],
                )?;
                due
            }
        };
        let wake = self.deadline.map_or(due, |d| d.min(due));
        if self.interp.pause_at_timers && self.interp.replay.is_none() && self.interp.clock.now_ms() < wake {
            // A scheduler drives the run again when the timer is due (`weir resume`).
            return Err(Stop::Paused(Box::new(Waiting {
                kind: "timer".into(),
                name: id.path.clone(),
                step: id.path.clone(),
                deciders: Vec::new(),
                excluded: Vec::new(),
                inputs: Vec::new(),
                min: 0,
                approvals: 0,
                due_at_ms: wake,
                summary: None,
                url: None,
                run: None,
            })));
        }
        self.interp.clock.sleep_until(wake);
        self.check_deadline_timer(&id)?;
        self.interp.crash_point(InterpPoint::BeforeTimerFired);
        self.append(vec![NewEvent { step: id, kind: EventKind::TimerFired, payload: Vec::new() }])
    }

    /// Run (or recall) one step and bind its output.
    fn step(&mut self, ix: StepIx) -> Result<(), Stop> {
        let Some(def) = self.program.step(ix) else { return Ok(()) };
        self.set_site(ix);
        let id = self.step_id(ix, "");
        let name = def.name.clone();
        if let Some(event) = self.recorded(&id, &EventKind::StepCompleted) {
            let value = serde_json::from_slice::<Value>(&event.payload).unwrap_or(Value::None);
            if let Some(name) = name {
                self.steps.insert(name, value);
            }
            return Ok(());
        }
        if let Some(event) = self.recorded(&id, &EventKind::StepFailed) {
            let error = serde_json::from_slice::<RunError>(&event.payload).unwrap_or_else(|_| RunError {
                code: "failed".into(),
                message: "the step failed".into(),
                step: id.path.clone(),
            });
            return Err(Stop::Failed(error));
        }
        // A branch cancelled here stays cancelled here, whatever the clock says since.
        self.check_cancelled(&id)?;
        self.check_deadline(&id)?;
        let shown =
            if self.loops.is_empty() { id.path.clone() } else { format!("{}[{}]", id.path, id.iteration) };
        (self.report)(&format!("step {shown} started"));
        let started = std::time::Instant::now();
        let output = match &def.kind {
            // Replayed: what the outside world answered comes from the journal.
            StepKind::Action(action) if action.family != "function" && self.interp.replay.is_some() => {
                self.replayed_action(&id)?
            }
            StepKind::Call(_) if self.interp.replay.is_some() => self.replayed_action(&id)?,
            StepKind::Call(call) => self.call_step(call, &id)?,
            StepKind::Action(action) if action.family == "http" => self.http_step(action, &id)?,
            StepKind::Action(action) => match self.action(action) {
                Ok(v) => v,
                Err(ActionError::Store(e)) => return Err(Stop::Store(e)),
                Err(ActionError::Eval(e)) => {
                    let error = RunError { code: "eval".into(), message: e.message, step: id.path.clone() };
                    let payload = serde_json::to_vec(&error).unwrap_or_default();
                    self.append(vec![NewEvent { step: id, kind: EventKind::StepFailed, payload }])?;
                    return Err(Stop::Failed(error));
                }
            },
            StepKind::Sleep { duration } | StepKind::WaitFor { duration } => {
                let ms = match self.eval(*duration) {
                    Ok(Value::Duration(ms)) => u64::try_from(ms).unwrap_or(0),
                    Ok(_) => 0,
                    Err(e) => return self.fail(e),
                };
                self.timer(StepId::new(format!("{}/timer", id.path), id.iteration, 0), ms)?;
                Value::None
            }
            StepKind::WaitCallback { callback } => self.wait_callback(*callback, &id)?,
            StepKind::WaitUntil { time } => {
                let at = match self.eval(*time) {
                    Ok(Value::Time(ms)) => u64::try_from(ms).unwrap_or(0),
                    Ok(_) => 0,
                    Err(e) => return self.fail(e),
                };
                let now = self.interp.clock.now_ms();
                self.timer(
                    StepId::new(format!("{}/timer", id.path), id.iteration, 0),
                    at.saturating_sub(now),
                )?;
                Value::None
            }
            _ => return Ok(()),
        };
        // A wait journals its outcome itself, atomically with the post it consumed.
        if self.recorded(&id, &EventKind::StepCompleted).is_none() {
            let payload = serde_json::to_vec(&output).unwrap_or_default();
            self.append(vec![NewEvent { step: id.clone(), kind: EventKind::StepCompleted, payload }])?;
        }
        (self.report)(&format!("step {shown} done in {} ms", started.elapsed().as_millis()));
        if let Some(name) = name {
            self.steps.insert(name, output);
        }
        Ok(())
    }

    /// An http step: `started` is journaled durably before a write or irreversible request
    /// goes out; one found started without an outcome is sent again only with its
    /// idempotency key, otherwise the run waits for a person (never a silent retry).
    /// Retries follow the step's `retry` clauses by error class.
    fn http_step(&mut self, action: &ActionStep, id: &StepId) -> Result<Value, Stop> {
        use weir_bytecode::{EffectClass, RetryOn};
        let effectful = action.policy.effect >= EffectClass::Write;
        // Attempts are journaled: attempt `a` of a write starts with `started` at identity
        // attempt `a`, a failed attempt that is retried is `failed` at `PATH/attempt` #a, and
        // the wait before the next is a durable timer at `PATH/retry` #a+1. A resumed run
        // goes on with the attempt after the last one known to have failed.
        let attempt_failed =
            |a: u32| StepId { path: format!("{}/attempt", id.path), iteration: id.iteration, attempt: a };
        let mut attempt = 0u32;
        while self.recorded(&attempt_failed(attempt), &EventKind::StepFailed).is_some() {
            attempt += 1;
        }
        let started_id = |a: u32| StepId { attempt: a, ..id.clone() };
        if effectful {
            if self.recorded(&started_id(attempt), &EventKind::StepStarted).is_some() {
                if action.policy.idempotency_key.is_none() {
                    return Err(Stop::NeedsDecision(id.path.clone()));
                }
            } else {
                self.append(vec![NewEvent {
                    step: started_id(attempt),
                    kind: EventKind::StepStarted,
                    payload: Vec::new(),
                }])?;
            }
        }
        let request = match self.http_request(action) {
            Ok(request) => request,
            Err(message) => return self.step_failed(id, "http", message),
        };
        let Some((config, root)) = self.interp.project else {
            return self.step_failed(
                id,
                "HTTP-CONNECTION",
                "an http step needs a weir.toml that declares its connection".into(),
            );
        };
        let connection = match connection(config, root, action.connection.as_deref()) {
            Ok(connection) => connection,
            Err(e) => return self.step_failed(id, e.code, e.message),
        };
        let send = |request: crate::exec::http::HttpRequest| -> Result<crate::exec::http::HttpResponse, crate::exec::ExecError> {
            if let Some(transport) = self.interp.transport {
                return transport.send(&connection, request);
            }
            let (executor, runtime) = match self.interp.http.get_or_init(|| {
            let executor = crate::exec::http::HttpExecutor::new().map_err(|e| e.message)?;
            // One worker drives the connections; the branches of a `parallel` block on their
            // requests from their own threads, all in flight at once.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            Ok((executor, runtime))
            }) {
                Ok(pair) => pair,
                Err(message) => return Err(crate::exec::ExecError::transient("HTTP-CONNECT", message.clone())),
            };
            runtime.block_on(executor.execute(&connection, request))
        };
        loop {
            if effectful {
                self.interp.crash_point(InterpPoint::AfterStarted);
            }
            match send(request.clone()) {
                Ok(response) => {
                    self.interp.crash_point(InterpPoint::AfterEffect);
                    return Ok(response_value(response));
                }
                Err(error) => {
                    let transient = error.class == crate::exec::ErrorClass::Transient;
                    // `retry N` without `on` retries transient errors.
                    let retry = action.policy.retries.iter().find(|r| {
                        (r.on.is_empty() && transient)
                            || r.on.iter().any(|on| match on {
                                RetryOn::Any => true,
                                RetryOn::Transient => transient,
                                RetryOn::Code(code) => {
                                    code == error.code || error.status.is_some_and(|s| s.to_string() == *code)
                                }
                            })
                    });
                    match retry {
                        Some(policy) if attempt < policy.count => {
                            let failure = RunError {
                                code: error.code.to_string(),
                                message: error.message.clone(),
                                step: id.path.clone(),
                            };
                            let payload = serde_json::to_vec(&failure).unwrap_or_default();
                            self.append(vec![NewEvent {
                                step: attempt_failed(attempt),
                                kind: EventKind::StepFailed,
                                payload,
                            }])?;
                            let mut delay = backoff_ms(&policy.backoff, attempt);
                            if policy.jitter {
                                delay = jittered(delay, self.id, id, attempt);
                            }
                            attempt += 1;
                            (self.report)(&format!(
                                "step {} attempt {attempt} failed ({}); retrying in {delay} ms",
                                id.path, error.code
                            ));
                            let wait = StepId {
                                path: format!("{}/retry", id.path),
                                iteration: id.iteration,
                                attempt,
                            };
                            self.timer(wait, delay)?;
                            if effectful {
                                self.append(vec![NewEvent {
                                    step: started_id(attempt),
                                    kind: EventKind::StepStarted,
                                    payload: Vec::new(),
                                }])?;
                            }
                        }
                        _ => return self.step_failed(id, error.code, error.message),
                    }
                }
            }
        }
    }

    /// A replayed effectful step: its `started` (if it had one) and its journaled outcome.
    fn replayed_action(&mut self, id: &StepId) -> Result<Value, Stop> {
        let Some(oracle) = self.interp.replay else { return Ok(Value::None) };
        // Every event of its attempts (`started`, failed attempts, retry timers), in order.
        for event in oracle.attempts(id) {
            self.append(vec![event])?;
        }
        match oracle.outcome(id) {
            Some(Ok(payload)) => Ok(serde_json::from_slice(payload).unwrap_or(Value::None)),
            Some(Err(payload)) => {
                let error = serde_json::from_slice::<RunError>(payload).unwrap_or_else(|_| RunError {
                    code: "failed".into(),
                    message: "the step failed".into(),
                    step: id.path.clone(),
                });
                self.step_failed(id, &error.code, error.message)
            }
            None => {
                // The original may have stopped inside the step at the run's deadline (during
                // a retry's backoff).
                self.check_deadline(id)?;
                Err(Stop::Store(replay::stop(oracle, id, &format!("the outcome of step {}", id.path))))
            }
        }
    }

    /// Journal a step's failure and stop with it.
    fn step_failed<T>(&mut self, id: &StepId, code: &str, message: String) -> Result<T, Stop> {
        let error = RunError { code: code.to_string(), message, step: id.path.clone() };
        let payload = serde_json::to_vec(&error).unwrap_or_default();
        self.append(vec![NewEvent { step: id.clone(), kind: EventKind::StepFailed, payload }])?;
        Err(Stop::Failed(error))
    }

    /// The request of an http step, its expressions evaluated.
    fn http_request(&self, action: &ActionStep) -> Result<crate::exec::http::HttpRequest, String> {
        use crate::exec::http::{HeaderValue, HttpRequest};
        let setting = |key: &str| action.config.iter().find(|e| e.key == key).map(|e| e.value);
        let eval = |expr| self.eval(expr).map_err(|e: EvalError| e.message);
        let method = action.method.as_deref().unwrap_or("GET");
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
        let target = match action.target.map(eval).transpose()? {
            Some(Value::String(target)) => target,
            Some(other) => other.to_string(),
            None => "/".to_string(),
        };
        let mut headers = Vec::new();
        if let Some(Value::Record(fields)) = setting("headers").map(eval).transpose()? {
            for (name, value) in fields {
                let value = match value {
                    Value::Secret(secret) => {
                        let (config, root) =
                            self.interp.project.ok_or("a secret header needs a weir.toml")?;
                        let reference = weir_config::SecretRef::Named(secret.name.clone());
                        HeaderValue::Secret(
                            crate::exec::secret::resolve(&reference, config, root).map_err(|e| e.message)?,
                        )
                    }
                    Value::String(text) => HeaderValue::Plain(text),
                    other => HeaderValue::Plain(other.to_string()),
                };
                headers.push((name, value));
            }
        }
        let body = match setting("body").map(eval).transpose()? {
            Some(value) => {
                let text = weir_bytecode::eval::to_json(&value).map_err(|e| e.message)?;
                Some(serde_json::from_str(&text).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let idempotency_key = match action.policy.idempotency_key.map(eval).transpose()? {
            Some(Value::String(key)) => Some(key),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        let max_body = match setting("max_body").map(eval).transpose()? {
            Some(Value::Int(n)) => u64::try_from(n).unwrap_or(0),
            _ => 1 << 20,
        };
        let timeout = match action.policy.timeout.map(eval).transpose()? {
            Some(Value::Duration(ms)) => std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
            _ => std::time::Duration::from_secs(30),
        };
        Ok(HttpRequest { method, target, headers, body, idempotency_key, max_body, timeout })
    }

    /// `function` and `kv` steps. A store error stops the drive (the run resumes later); it
    /// never fails the run.
    fn action(&mut self, action: &ActionStep) -> Result<Value, ActionError> {
        let setting = |key: &str| action.config.iter().find(|e| e.key == key).map(|e| e.value);
        match action.family.as_str() {
            "function" => {
                let value = match setting("value") {
                    Some(expr) => self.eval(expr)?,
                    None => Value::None,
                };
                Ok(Value::record([("value", value)]))
            }
            "kv" => {
                let key = match action.target.map(|t| self.eval(t)).transpose()? {
                    Some(Value::String(key)) => key,
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let store = self.interp.store;
                let kv_error = ActionError::Store;
                match action.method.as_deref() {
                    Some("set") => {
                        let value = match setting("value") {
                            Some(expr) => self.eval(expr)?,
                            None => Value::None,
                        };
                        let bytes = serde_json::to_vec(&value).unwrap_or_default();
                        store.kv_put(&self.flow, key.as_bytes(), &bytes).map_err(kv_error)?;
                        Ok(Value::record([("value", value)]))
                    }
                    Some("delete") => {
                        let existed = store.kv_delete(&self.flow, key.as_bytes()).map_err(kv_error)?;
                        Ok(Value::record([("deleted", Value::Bool(existed))]))
                    }
                    _ => {
                        let found = store.kv_get(&self.flow, key.as_bytes()).map_err(kv_error)?;
                        let value = found
                            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                            .unwrap_or(Value::None);
                        Ok(Value::record([("value", value)]))
                    }
                }
            }
            other => Err(ActionError::Eval(EvalError::new(
                weir_bytecode::EvalCode::Unavailable,
                format!("`{other}` steps cannot run yet"),
            ))),
        }
    }

    /// A journaled draw of `now()`/`uuid()` at the current site.
    fn draw(&self, what: &str, fresh: impl FnOnce() -> Value) -> Value {
        let site = self.site.borrow().clone();
        let n = {
            let mut draws = self.draws.borrow_mut();
            let n = draws.entry(format!("{site}/{what}")).or_insert(0);
            *n += 1;
            *n
        };
        let id = StepId::new(format!("{site}/{what}#{n}"), 0, 0);
        if let Some(event) = self.recorded(&id, &EventKind::ValueRecorded)
            && let Ok(value) = serde_json::from_slice::<Value>(&event.payload)
        {
            return value;
        }
        let value = match self.interp.replay {
            None => fresh(),
            Some(oracle) => {
                match oracle
                    .find(&id, &EventKind::ValueRecorded)
                    .and_then(|e| serde_json::from_slice(&e.payload).ok())
                {
                    Some(value) => value,
                    None => {
                        let stop = replay::stop(oracle, &id, &format!("a journaled `{what}()`"));
                        self.store_error.borrow_mut().get_or_insert(stop);
                        return Value::None;
                    }
                }
            }
        };
        let payload = serde_json::to_vec(&value).unwrap_or_default();
        // Journaled before anything can depend on it. A store error is kept and stops the
        // drive at the next append or instruction, so the value is never journaled as used.
        let appended = self.interp.store.append(
            self.id,
            &Append {
                at_ms: self.interp.clock.now_ms(),
                events: vec![NewEvent { step: id, kind: EventKind::ValueRecorded, payload }],
                status: None,
            },
        );
        if let Err(e) = appended {
            self.store_error.borrow_mut().get_or_insert(e);
        }
        value
    }
}

impl Env for Run<'_, '_, '_> {
    fn lookup(&self, scope: NameScope, name: &str) -> Option<Cow<'_, Value>> {
        match scope {
            NameScope::Input => Some(Cow::Borrowed(&self.input)).filter(|_| name == "input"),
            NameScope::Run => (name == "run").then(|| {
                Cow::Owned(Value::record([
                    ("id", Value::String(self.id.0.to_string())),
                    ("flow", Value::String(self.flow.clone())),
                ]))
            }),
            _ => self
                .locals
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| Cow::Borrowed(v))
                .or_else(|| self.steps.get(name).map(Cow::Borrowed)),
        }
    }

    fn prev(&self, step: &str) -> Result<Value, EvalError> {
        Ok(self.prev.get(step).cloned().unwrap_or(Value::None))
    }

    fn now(&self) -> Result<i64, EvalError> {
        let clock = self.interp.clock;
        match self.draw("now", || Value::Time(i64::try_from(clock.now_ms()).unwrap_or(i64::MAX))) {
            Value::Time(ms) => Ok(ms),
            _ => Err(EvalError::new(
                weir_bytecode::EvalCode::Unavailable,
                "the journaled `now()` is not a time",
            )),
        }
    }

    fn uuid(&self) -> Result<String, EvalError> {
        let clock = self.interp.clock;
        match self.draw("uuid", || Value::String(clock.uuid())) {
            Value::String(s) => Ok(s),
            _ => Err(EvalError::new(
                weir_bytecode::EvalCode::Unavailable,
                "the journaled `uuid()` is not a string",
            )),
        }
    }
}

/// The run's input: the given record with the flow's defaults for what it leaves out.
fn complete_input(program: &Program, input: Value) -> Result<Value, InterpError> {
    let mut fields = match input {
        Value::Record(fields) => fields,
        Value::None => Vec::new(),
        other => return Err(InterpError::Input(format!("the input must be a record, got {other}"))),
    };
    for field in &program.flow.inputs {
        if fields.iter().any(|(n, _)| n == &field.name) {
            continue;
        }
        match field.default {
            Some(default) => {
                let env = weir_bytecode::MapEnv::default();
                let value = eval(program, &env, default).map_err(|e| InterpError::Input(e.message))?;
                fields.push((field.name.clone(), value));
            }
            None if field.optional => fields.push((field.name.clone(), Value::None)),
            None => return Err(InterpError::Input(format!("the input `{}` is required", field.name))),
        }
    }
    Ok(Value::Record(fields))
}

/// The executor's view of a weir.toml connection.
fn connection(
    config: &weir_config::Config,
    root: &std::path::Path,
    name: Option<&str>,
) -> Result<crate::exec::http::HttpConnection, crate::exec::ExecError> {
    use crate::exec::ExecError;
    let name = name.unwrap_or_default();
    let declared = config.connections.get(name).ok_or_else(|| {
        ExecError::permanent("HTTP-CONNECTION", format!("weir.toml declares no connection `{name}`"))
    })?;
    let base = declared.base_url.as_deref().unwrap_or_default();
    let base_url = base.parse().map_err(|_| {
        ExecError::permanent("HTTP-URL", format!("connection `{name}` has no usable base_url"))
    })?;
    let auth = declared.auth.as_ref().map(|r| crate::exec::secret::resolve(r, config, root)).transpose()?;
    Ok(crate::exec::http::HttpConnection {
        name: name.to_string(),
        base_url,
        auth,
        allow_private: declared.allow_private_network,
    })
}

/// An http response as the step's output `{ status, headers, body }` (a JSON body as a
/// value, any other as text).
fn response_value(response: crate::exec::http::HttpResponse) -> Value {
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let body = weir_bytecode::eval::parse_json(&text).unwrap_or(Value::String(text));
    let headers = Value::Record(response.headers.into_iter().map(|(n, v)| (n, Value::String(v))).collect());
    Value::record([("status", Value::Int(i64::from(response.status))), ("headers", headers), ("body", body)])
}

/// True for the error of a branch stopped because a sibling failed (`try` does not catch
/// a cancellation).
fn is_cancelled(error: &RunError) -> bool {
    error.code == "cancelled"
}

/// True for the error of a run whose own `timeout` passed.
fn is_run_timeout(error: &RunError) -> bool {
    error.code == "timeout" && error.step == "@run"
}

/// `jitter`: a delay between half and all of `delay`, the same for the same run, step and
/// attempt (so a replay computes it again) and different across runs (so retries of many
/// runs do not arrive together).
fn jittered(delay: u64, run: RunId, step: &StepId, attempt: u32) -> u64 {
    let mut seed = run.to_bytes().to_vec();
    seed.extend_from_slice(&step.encode());
    seed.extend_from_slice(&attempt.to_be_bytes());
    let digest = weir_bytecode::sha256(&seed);
    let draw = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    let half = delay / 2;
    half + draw % (delay - half + 1)
}

/// The delay before retry `attempt` (0-based), in milliseconds.
fn backoff_ms(backoff: &weir_bytecode::Backoff, attempt: u32) -> u64 {
    match *backoff {
        weir_bytecode::Backoff::Immediate => 0,
        weir_bytecode::Backoff::Fixed { delay_ms } => delay_ms,
        weir_bytecode::Backoff::Exponential { first_ms, max_ms } => {
            let delay = first_ms.saturating_mul(1u64 << attempt.min(32));
            max_ms.map_or(delay, |max| delay.min(max))
        }
    }
}
