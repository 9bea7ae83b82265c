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
