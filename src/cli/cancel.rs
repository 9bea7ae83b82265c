//! `weir cancel ID [--project DIR] [--json]`: end a run that is not finished (queued,
//! paused, waiting for a decision) as `cancelled`. Its journal is closed with a final
//! `@end` event holding the reason; nothing of it runs again.

use super::runs::store_dir;
use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_runtime::interp::{InterpError, Interpreter, SystemClock};
use weir_runtime::store::{RunId, SledStore};

/// Cancel a run.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir cancel 01900000-0000-7000-8000-000000000001\n\nExit codes: 0 cancelled, 1 no such run, it already finished, or the store failed, 2 usage."
)]
pub struct CancelArgs {
    /// The run's id.
    id: String,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Why (kept in the journal).
    #[arg(long, default_value = "cancelled from the command line")]
    reason: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CancelArgs) -> u8 {
    let Ok(uuid) = args.id.parse::<uuid::Uuid>() else { return usage_error("a run id is a UUID") };
    let id = RunId(uuid);
    let store = match SledStore::open_dir(store_dir(&args.project)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    let clock = SystemClock;
    let was = match Interpreter::new(&store, &clock).cancel(id, &args.reason) {
        Ok(Some(was)) => was,
        Ok(None) => {
            eprintln!("error: run {uuid} already finished; nothing to cancel");
            return EXIT_FAILURE;
        }
        Err(InterpError::Journal(_)) => {
            eprintln!("error: no run {uuid} in this store");
            return EXIT_FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    if args.json {
        print(&format!(
            "{}\n",
            serde_json::json!({ "run": uuid.to_string(), "status": "cancelled", "was": was.name() })
        ));
    } else {
        print(&format!("run {uuid} cancelled (it was {})\n", was.name()));
    }
    EXIT_OK
}
