//! `weir resume [RUN] [--json]`: continue runs with the program each started with. With a
//! run id, that run is driven (a finished run just reports its outcome). Without one, every
//! run that should be moving is: runs left `queued` or `running` by a crash or by
//! `--detach`, and paused runs whose timer (a `sleep`, a `wait`, an approval's timeout) is
//! due. Paused runs still waiting for a person stay paused; `needs_decision` runs wait for
//! one.

use super::outcome::{EXIT_STORE, describe, exit_codes, progress, report};
use super::project;
use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_runtime::interp::{Clock, InterpError};
use weir_runtime::store::{RunId, RunQuery, RunStatus, Store};

/// Continue unfinished runs.
#[derive(Args)]
#[command(
    after_help = concat!(
        "Examples:\n  weir resume\n  weir resume 01900000-0000-7000-8000-000000000001 --json",
        "\n\n",
        exit_codes!()
    )
)]
pub struct ResumeArgs {
    /// One run to drive (default: every run that should be moving).
    id: Option<String>,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Print JSON (one document for a run id, a list otherwise).
    #[arg(long)]
    json: bool,
    /// Keep going as a scheduler: a run pauses at a timer that is not due, and is woken when
    /// it is; exits when no run is left for a timer to wake (or on Ctrl-C).
    #[arg(long, conflicts_with_all = ["id", "json"])]
    watch: bool,
}

pub fn run(args: ResumeArgs) -> u8 {
    let one = match args.id.as_deref().map(str::parse::<uuid::Uuid>) {
        None => None,
        Some(Ok(uuid)) => Some(RunId(uuid)),
        Some(Err(_)) => return usage_error("a run id is a UUID"),
    };
    let session = match project::Session::open(&args.project) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let interp = session.interpreter();
    if let Some(id) = one {
        let mut progress = progress(args.json);
        return match interp.program(id).and_then(|bytecode| interp.resume(id, &bytecode, &mut progress)) {
            Ok(outcome) => report(id, &outcome, args.json),
            Err(InterpError::Store(e)) => {
                eprintln!("error: {e}");
                EXIT_STORE
            }
            Err(InterpError::Journal(_)) => {
                eprintln!("error: no run {} in this store", id.0);
                EXIT_FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_FAILURE
            }
        };
    }
    if args.watch {
        return watch(&session);
    }
    let ids = match moving(&session.project.store, session.clock.now_ms()) {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
    };
    let mut documents = Vec::new();
    let mut code = EXIT_OK;
    let driven = ids.len();
    for id in ids {
        let mut progress = progress(args.json);
        if !args.json {
            print(&format!("run {}\n", id.0));
        }
        match interp.program(id).and_then(|bytecode| interp.resume(id, &bytecode, &mut progress)) {
            Ok(outcome) => {
                let (_, document, text) = describe(id, &outcome);
                if args.json {
                    documents.push(document);
                } else {
                    print(&text);
                }
            }
            Err(InterpError::Store(e)) => {
                eprintln!("error: {e}");
                return EXIT_STORE;
            }
            Err(e) => {
                // One run that cannot be driven does not keep the others from moving.
                eprintln!("error: run {}: {e}", id.0);
                code = EXIT_FAILURE;
            }
        }
    }
    if args.json {
        print(&format!("{}\n", serde_json::to_string_pretty(&documents).unwrap_or_default()));
    } else if driven == 0 {
        print("nothing to resume\n");
    }
    code
}

/// Runs `--watch` drives at once.
const WATCH_THREADS: usize = 16;

/// `--watch`: drive what should move, pausing runs at timers that are not due, then sleep
/// until the next timer is due (at most a second, to notice decisions and new runs), again.
fn watch(session: &project::Session) -> u8 {
    let interp = session.interpreter().pausing_at_timers();
    let store = &session.project.store;
    loop {
        let ids = match moving(store, session.clock.now_ms()) {
            Ok(ids) => ids,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_STORE;
            }
        };
        // Due runs are driven on several threads at once, so that their writes share syncs
        // (group commit) and a backlog after a restart clears quickly.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..WATCH_THREADS.min(ids.len()) {
                scope.spawn(|| {
                    while let Some(&id) = ids.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) {
                        match interp
                            .program(id)
                            .and_then(|bytecode| interp.resume(id, &bytecode, &mut |_| {}))
                        {
                            Ok(outcome) => {
                                let (_, document, _) = describe(id, &outcome);
                                print(&format!(
                                    "run {} {}\n",
                                    id.0,
                                    document["status"].as_str().unwrap_or("")
                                ));
                            }
                            Err(InterpError::Store(e)) => {
                                eprintln!("error: {e}");
                                failed.store(true, std::sync::atomic::Ordering::SeqCst);
                                return;
                            }
                            Err(e) => eprintln!("error: run {}: {e}", id.0),
                        }
                    }
                });
            }
        });
        if failed.load(std::sync::atomic::Ordering::SeqCst) {
            return EXIT_STORE;
        }
        let next = match store.due_timers(u64::MAX, 1) {
            Ok(timers) => timers.first().map(|t| t.due_at_ms),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_STORE;
            }
        };
        let Some(next) = next else {
            print("nothing left to wake\n");
            return EXIT_OK;
        };
        let now = session.clock.now_ms();
        let pause = next.saturating_sub(now).min(1_000);
        std::thread::sleep(std::time::Duration::from_millis(pause));
    }
}

/// Runs that should be moving: queued or running (a crash, `--detach`), and paused runs
/// with a due timer; oldest first, each once.
fn moving(store: &dyn Store, now_ms: u64) -> Result<Vec<RunId>, weir_runtime::store::StoreError> {
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for status in [RunStatus::Queued, RunStatus::Running] {
        let query = RunQuery { status: Some(status), ..RunQuery::default() };
        ids.extend(store.find_runs(&query)?.into_iter().map(|r| r.id).filter(|id| seen.insert(*id)));
    }
    ids.extend(store.due_timers(now_ms, 0)?.into_iter().map(|t| t.run).filter(|id| seen.insert(*id)));
    Ok(ids)
}
