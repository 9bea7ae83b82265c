//! `weir retry ID`: run a failed run again from its failed step, as a new run linked to it
//! (journals are never rewritten). Everything before the failing step is taken from the
//! failed run's journal; the rest runs, in the foreground.

use super::outcome::{EXIT_STORE, exit_codes, progress, report};
use super::{EXIT_FAILURE, project, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_runtime::interp::InterpError;
use weir_runtime::store::RunId;

/// Retry a failed run from its failed step.
#[derive(Args)]
#[command(after_help = concat!(
    "Examples:\n  weir retry 01900000-0000-7000-8000-000000000001\n  weir retry 01900000-0000-7000-8000-000000000001 --id 01900000-0000-7000-8000-000000000002 --json\n\n",
    exit_codes!()
))]
pub struct RetryArgs {
    /// The failed run's id.
    id: String,
    /// The new run's id (a UUID; retrying again with the same one continues it).
    #[arg(long = "id", value_name = "NEW_ID")]
    new_id: Option<String>,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RetryArgs) -> u8 {
    let Ok(uuid) = args.id.parse::<uuid::Uuid>() else { return usage_error("a run id is a UUID") };
    let new_id = match args.new_id.as_deref().map(str::parse::<uuid::Uuid>) {
        None => None,
        Some(Ok(uuid)) => Some(RunId(uuid)),
        Some(Err(_)) => return usage_error("--id takes a UUID"),
    };
    let session = match project::Session::open(&args.project) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let interp = session.interpreter();
    let mut progress = progress(args.json);
    match interp.retry(RunId(uuid), new_id, &mut progress) {
        Ok((id, outcome)) => report(id, &outcome, args.json),
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e}");
            EXIT_STORE
        }
        Err(InterpError::Journal(_)) => {
            eprintln!("error: no run {uuid} in this store");
            EXIT_FAILURE
        }
        Err(e @ InterpError::Decision(_)) => usage_error(&e.to_string()),
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}
