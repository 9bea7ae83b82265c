//! R8, deterministic simulation (reliability-tests.md): one process, a seeded scheduler,
//! and everything outside the interpreter behind its traits: the clock (jumps), the network
//! (`Transport`: ok, transient and permanent errors, decided per request from the seed),
//! the store (`FaultStore` over `MemoryStore`: random failed operations, and crashes that
//! rebuild everything from the synced writes). The scheduler starts runs, drives them,
//! posts to callbacks (valid, duplicate, failing, ill-typed, late), decides approvals
//! (approve, reject, twice), jumps the clock and crashes, and checks the invariants after
//! every event. At the end every run is brought to an end and replayed. A failure prints its
//! seed; `WEIR_SIM_SEED=<seed>` replays that one schedule, `WEIR_SIM_SEEDS=<n>` sets how many
//! seeds run (default 1,000).

use super::run::TestClock;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use weir_bytecode::{Bytecode, Value};
use weir_runtime::exec::ExecError;
use weir_runtime::exec::http::{HttpConnection, HttpRequest, HttpResponse};
use weir_runtime::interp::{Decide, InterpError, Interpreter, Transport};
use weir_runtime::store::rng::SeededRng;
use weir_runtime::store::{
    Event, EventKind, FaultPlan, FaultStore, MemoryStore, RunId, RunStatus, StepId, Store, StoreResult,
    TokenHash,
};

const CONFIG: &str = "[connections.api]\ntype = \"http\"\nbase_url = \"https://api.example.com\"\n\n[people.ada]\nemail = \"ada@example.com\"\n[people.grace]\nemail = \"grace@example.com\"\n";

const ORDER: &str = r#"flow order {
  version "1.0.0"
  concurrency max 2 per input.shop queue
  trigger manual
  timeout 6h
  input { shop: string = "north", qty: int = 1 }

  step price = function { value input.qty * 7 }
  step reserve = http POST "/reserve" {
    connection api
    body { qty: input.qty }
    idempotency_key "{run.id}/reserve"
    retry 2 on transient backoff exponential(1m, max 10m) jitter
    max_body 1000
  }
  parallel {
    step stock = http GET "/stock" {
      connection api
      max_body 1000
    }
    step audit = function { value "order of {input.qty}" }
  }
  saga {
    step hold = kv set "hold/{run.id}" {
      value price.value
      undo {
        step release = kv delete "hold/{run.id}"
      }
    }
    approval ship {
      summary "ship {input.qty} for {price.value}?"
      binds price.value
      deciders ada, grace
      timeout 2h
      default reject
      on reject {
        fail "not approved" code "not_approved"
      }
    }
  }
  callback packed {
    output { boxes: int }
    timeout 1h
  }
  step label = function { value packed.url }
  try {
    step packing = wait packed
  } catch e {
    return { ok: false, why: e.code }
  }
  sleep 10m
  output { ok: true, why: "none" }
}
"#;

fn compile() -> (weir_config::Config, Bytecode) {
    let config = weir_config::parse_bytes(CONFIG.as_bytes()).0;
    let (_, diagnostics) = weir_compiler::check::diagnose(ORDER.as_bytes(), Some(&config));
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let parsed = weir_grammar::parse(ORDER);
    let flow = parsed.file.flows().next().expect("a flow");
    (config.clone(), weir_compiler::lower::lower_flow(flow, ORDER, Some(&config), None).expect("lowers"))
}

/// The network: each request's fate is a function of the seed, the request and how many
/// times the same request was sent before (so parallel branches cannot reorder fates).
struct SimNet {
    seed: u64,
    sent: Mutex<HashMap<String, u32>>,
    /// Keys of keyed writes, per (request) target: a keyed write must always use one key.
    keys: Mutex<HashMap<String, HashSet<String>>>,
}

impl Transport for SimNet {
    fn send(&self, _connection: &HttpConnection, request: HttpRequest) -> Result<HttpResponse, ExecError> {
        let body = request.body.as_ref().map(ToString::to_string).unwrap_or_default();
        let who = request.idempotency_key.clone().unwrap_or_else(|| format!("{} {body}", request.target));
        let nth = {
            let mut sent = self.sent.lock().expect("sent");
            let n = sent.entry(who.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if let Some(key) = &request.idempotency_key {
            let run = key.split('/').next().unwrap_or_default().to_string();
            self.keys
                .lock()
                .expect("keys")
                .entry(format!("{run}{}", request.target))
                .or_default()
                .insert(key.clone());
        }
        let digest = weir_bytecode::sha256(format!("{}:{who}:{nth}", self.seed).as_bytes());
        match digest[0] % 10 {
            7 => Err(ExecError {
                status: Some(503),
                ..ExecError::transient("HTTP-STATUS", "503 from the simulation")
            }),
            8 if nth > 2 => Err(ExecError::permanent("HTTP-STATUS", "400 from the simulation")),
            9 => Err(ExecError::transient("HTTP-TIMEOUT", "the simulation timed out")),
            _ => Ok(HttpResponse { status: 200, headers: Vec::new(), body: br#"{"n": 1}"#.to_vec() }),
        }
    }
}

/// Reads retried through random store faults (reads change nothing).
fn read<T>(mut what: impl FnMut() -> StoreResult<T>) -> T {
    for _ in 0..50 {
        if let Ok(value) = what() {
            return value;
        }
    }
    what().expect("a read kept failing")
}

struct World<'w> {
    seed: u64,
    rng: SeededRng,
    store: &'w FaultStore<MemoryStore>,
    clock: &'w TestClock,
    net: &'w SimNet,
    config: &'w weir_config::Config,
    bytecode: &'w Bytecode,
    runs: Vec<RunId>,
    snapshots: HashMap<RunId, Vec<Event>>,
}

impl World<'_> {
    fn interp(&self) -> Interpreter<'_> {
        Interpreter::new(self.store, self.clock)
            .with_project(self.config, std::path::Path::new("."))
            .with_transport(self.net)
    }

    /// A store error is a crash: everything not synced is gone, the next drive recovers.
    fn survive<T>(&self, result: Result<T, InterpError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(InterpError::Store(_)) => {
                self.store.reopen().expect("reopen");
                None
            }
            Err(InterpError::Decision(_)) => None,
            Err(e) => panic!("seed {}: {e}", self.seed),
        }
    }

    fn drive(&mut self, run: RunId) {
        let result = self.interp().resume(run, self.bytecode, &mut |_| {});
        let result = match result {
            Err(InterpError::Journal(_)) => {
                let input = Value::record([(
                    "shop",
                    Value::string(if run.0.as_u128().is_multiple_of(2) { "north" } else { "south" }),
                )]);
                self.interp().start(self.bytecode, input, Some(run), &mut |_| {}).map(|(_, o)| o)
            }
            other => other,
        };
        self.survive(result);
    }

    fn status(&self, run: RunId) -> Option<RunStatus> {
        read(|| self.store.run(run)).map(|r| r.status)
    }

    fn event(&mut self) {
        let pick = self.rng.below(100);
        let open: Vec<RunId> =
            self.runs.iter().copied().filter(|r| self.status(*r).is_none_or(|s| !s.is_terminal())).collect();
        let any = |rng: &mut SeededRng, runs: &[RunId]| {
            runs.get(rng.below(runs.len().max(1) as u64) as usize).copied()
        };
        match pick {
            0..=14 if self.runs.len() < 8 => {
                let run =
                    RunId::from_u128(0x0190_0000_0000_7000_b000_0000_0000_0000 + self.runs.len() as u128);
                self.runs.push(run);
                self.drive(run);
            }
            0..=39 => {
                if let Some(run) = any(&mut self.rng, &open) {
                    self.drive(run);
                }
            }
            40..=54 => {
                // Decide: approve or reject, sometimes the same twice.
                let Some(run) = any(&mut self.rng, &open) else { return };
                let approve = self.rng.below(4) != 0;
                let person = if self.rng.below(2) == 0 { "ada" } else { "grace" };
                let decision = Decide {
                    approval: "ship",
                    person,
                    approve,
                    reason: None,
                    input: Value::record::<&str>([]),
                };
                let times = 1 + self.rng.below(2);
                for _ in 0..times {
                    // A run not created yet (a crash took it) has nothing to decide.
                    let result = match self.interp().decide(run, self.bytecode, &decision) {
                        Err(InterpError::Journal(_)) => Ok(()),
                        other => other.map(|_| ()),
                    };
                    self.survive(result);
                }
            }
            55..=69 => {
                // Post to the callback: a body, a worker's error, a wrong type; maybe twice.
                let Some(run) = any(&mut self.rng, &open) else { return };
                let Some(token) = self.survive(
                    self.interp()
                        .callback_token(run, &StepId::new("packed", 0, 0))
                        .map_err(InterpError::Store),
                ) else {
                    return;
                };
                let body: &[u8] = match self.rng.below(4) {
                    0 => br#"{"error": {"code": "jammed", "message": "the belt stopped"}}"#,
                    1 => br#"{"boxes": "many"}"#,
                    _ => br#"{"boxes": 3}"#,
                };
                let times = 1 + self.rng.below(2);
                for _ in 0..times {
                    let at = *self.clock.now.lock().expect("clock");
                    let _ = self.store.post_callback(&TokenHash::of(token.as_bytes()), body, at);
                }
            }
            70..=84 => {
                let jump = self.rng.below(3 * 3_600_000);
                *self.clock.now.lock().expect("clock") += jump;
            }
            85..=92 => {
                // Wake what is due, as `weir resume` does.
                let now = *self.clock.now.lock().expect("clock");
                let due: Vec<RunId> =
                    read(|| self.store.due_timers(now, 0)).into_iter().map(|t| t.run).collect();
                for run in due {
                    self.drive(run);
                }
            }
            _ => self.store.reopen().expect("crash"),
        }
    }

    fn check(&mut self) {
        for run in self.runs.clone() {
            let Some(record) = read(|| self.store.run(run)) else { continue };
            let journal = read(|| self.store.journal(run, 0));
            let seed = self.seed;
            // Append-only and prefix-consistent.
            if let Some(before) = self.snapshots.get(&run) {
                let same =
                    |a: &Event, b: &Event| a.step == b.step && a.kind == b.kind && a.payload == b.payload;
                assert!(
                    journal.len() >= before.len() && before.iter().zip(&journal).all(|(a, b)| same(a, b)),
                    "seed {seed}: run {run}'s journal lost or changed events"
                );
            }
            let mut done = HashSet::new();
            let mut due: HashMap<&StepId, u64> = HashMap::new();
            for event in &journal {
                match &event.kind {
                    EventKind::StepCompleted | EventKind::StepFailed => {
                        assert!(
                            done.insert((&event.step, 0)),
                            "seed {seed}: {} has two outcomes",
                            event.step
                        );
                    }
                    EventKind::TimerScheduled { due_at_ms } => {
                        due.insert(&event.step, *due_at_ms);
                    }
                    // A durable wait (`sleep`, a retry's backoff) never ends early. (An approval's
                    // or a wait's timeout timer is closed early when a decision or a post wins;
                    // what must not come early is the timeout's outcome, checked below.)
                    EventKind::TimerFired if !event.step.path.ends_with("/timeout") => {
                        let due = due.get(&event.step).copied().unwrap_or(0);
                        assert!(event.at_ms >= due, "seed {seed}: {} fired early", event.step);
                    }
                    EventKind::CallbackReceived { .. } => {
                        assert!(done.insert((&event.step, 1)), "seed {seed}: {} consumed twice", event.step);
                    }
                    _ => {}
                }
            }
            // A timeout's outcome never comes before its due time: an approval decided by its
            // timeout, a wait failed by it.
            for event in &journal {
                let timed_out = match event.kind {
                    EventKind::StepCompleted => String::from_utf8_lossy(&event.payload).contains("timed_out"),
                    EventKind::StepFailed => serde_json::from_slice::<serde_json::Value>(&event.payload)
                        .is_ok_and(|e| e["code"] == "timeout"),
                    _ => false,
                };
                let timer = StepId::new(format!("{}/timeout", event.step.path), event.step.iteration, 0);
                if timed_out && let Some(due) = due.get(&timer) {
                    assert!(event.at_ms >= *due, "seed {seed}: {} timed out early", event.step);
                }
            }
            assert_eq!(
                record.status.is_terminal(),
                journal.iter().any(|e| e.step.path == "@end"),
                "seed {seed}: run {run} is {} but its journal says otherwise",
                record.status.name()
            );
            self.snapshots.insert(run, journal);
        }
        for shop in ["north", "south"] {
            let held = read(|| self.store.slot_holders(&format!("order=\"{shop}\""))).len();
            assert!(held <= 2, "seed {}: {held} runs hold a slot of {shop} (max 2)", self.seed);
        }
    }

    /// Everything to an end: approve, post, let time pass, drive.
    fn finish(&mut self) {
        for _ in 0..40 {
            let open: Vec<RunId> = self
                .runs
                .iter()
                .copied()
                .filter(|r| self.status(*r).is_none_or(|s| !s.is_terminal()))
                .collect();
            if open.is_empty() {
                return;
            }
            for run in open {
                let decision = Decide {
                    approval: "ship",
                    person: "grace",
                    approve: true,
                    reason: None,
                    input: Value::record::<&str>([]),
                };
                let result = match self.interp().decide(run, self.bytecode, &decision) {
                    Err(InterpError::Journal(_)) => Ok(()),
                    other => other.map(|_| ()),
                };
                self.survive(result);
                if let Some(token) = self.survive(
                    self.interp()
                        .callback_token(run, &StepId::new("packed", 0, 0))
                        .map_err(InterpError::Store),
                ) {
                    let at = *self.clock.now.lock().expect("clock");
                    let _ =
                        self.store.post_callback(&TokenHash::of(token.as_bytes()), br#"{"boxes": 1}"#, at);
                }
                self.drive(run);
            }
            *self.clock.now.lock().expect("clock") += 3_600_000;
            self.check();
        }
        let stuck: Vec<String> = self
            .runs
            .iter()
            .filter_map(|r| {
                self.status(*r).filter(|s| !s.is_terminal()).map(|s| format!("{r}: {}", s.name()))
            })
            .collect();
        assert!(stuck.is_empty(), "seed {}: runs never ended: {stuck:?}", self.seed);
    }
}

fn simulate(seed: u64, config: &weir_config::Config, bytecode: &Bytecode) -> usize {
    let store = FaultStore::new(FaultPlan::new(seed).random(20_000), Box::new(|| Ok(MemoryStore::new())))
        .expect("store");
    let clock = TestClock::new();
    let net = SimNet { seed, sent: Mutex::new(HashMap::new()), keys: Mutex::new(HashMap::new()) };
    let mut world = World {
        seed,
        rng: SeededRng::new(seed),
        store: &store,
        clock: &clock,
        net: &net,
        config,
        bytecode,
        runs: Vec::new(),
        snapshots: HashMap::new(),
    };
    for _ in 0..40 {
        world.event();
        world.check();
    }
    world.finish();
    store.reopen().expect("reopen");
    for run in world.runs.clone() {
        if std::env::var("WEIR_SIM_DEBUG").is_ok() {
            eprintln!("{run}: {:?}", read(|| store.run(run)).map(|r| r.status));
        }
        let interp = Interpreter::new(&store, &clock).with_project(config, std::path::Path::new("."));
        let report = read(|| match interp.replay(run, None) {
            Ok(report) => Ok(report),
            Err(InterpError::Store(e)) => Err(e),
            Err(e) => panic!("seed {seed}: replay of {run}: {e}"),
        });
        if report.divergence.is_some() && std::env::var("WEIR_SIM_DEBUG").is_ok() {
            for e in read(|| store.journal(run, 0)) {
                let payload = String::from_utf8_lossy(&e.payload).chars().take(80).collect::<String>();
                eprintln!("{:>3} {:>14} {} {:?} {payload}", e.index, e.at_ms, e.step, e.kind);
            }
        }
        assert!(
            report.divergence.is_none(),
            "seed {seed}: replay of {run} diverged: {:?}",
            report.divergence
        );
    }
    for (target, keys) in net.keys.lock().expect("keys").iter() {
        assert_eq!(keys.len(), 1, "seed {seed}: {target} was sent under several keys: {keys:?}");
    }
    world.runs.len()
}

#[test]
fn deterministic_simulation_keeps_every_invariant() {
    let (config, bytecode) = compile();
    let seeds: Vec<u64> = match std::env::var("WEIR_SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => {
            let count = std::env::var("WEIR_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000);
            (1..=count).collect()
        }
    };
    let started = std::time::Instant::now();
    let mut runs = 0;
    for seed in &seeds {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| simulate(*seed, &config, &bytecode)));
        match result {
            Ok(n) => runs += n,
            Err(panic) => {
                eprintln!("R8: seed {seed} failed; reproduce with WEIR_SIM_SEED={seed}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    eprintln!(
        "R8: {} seeds, {runs} runs, 0 violations, {:.1} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
}
