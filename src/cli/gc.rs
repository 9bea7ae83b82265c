//! `weir gc --older-than D [--dry-run] [--json]`: delete finished runs (succeeded, failed,
//! cancelled, rejected) whose last event is older than D, with their journals, indexes and
//! callbacks. Runs that have not finished are never touched; the flows' kv values and the
//! content-addressed resources stay.

use super::outcome::EXIT_STORE;
use super::{EXIT_OK, print, project, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_runtime::interp::Clock;
use weir_runtime::store::{RunQuery, Store};

/// Delete old finished runs.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir gc --older-than 30d\n  weir gc --older-than 12h --dry-run --json\n\nExit codes: 0 done, 2 usage, 3 the store failed."
)]
pub struct GcArgs {
    /// Delete finished runs whose last event is older than this (`30d`, `12h`, `90m`).
    #[arg(long, value_name = "DURATION")]
    older_than: String,
    /// List what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: GcArgs) -> u8 {
    let Some(age) = weir_bytecode::value::parse_duration(&args.older_than).filter(|ms| *ms >= 0) else {
        return usage_error(&format!(
            "--older-than takes a duration such as `30d` or `12h`, got `{}`",
            args.older_than
        ));
    };
    let session = match project::Session::open(&args.project) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let store = &session.project.store;
    let cutoff = session.clock.now_ms().saturating_sub(u64::try_from(age).unwrap_or(0));
    let old: Vec<_> = match store.find_runs(&RunQuery::default()) {
        Ok(runs) => runs.into_iter().filter(|r| r.status.is_terminal() && r.updated_at_ms < cutoff).collect(),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
    };
    let mut deleted = Vec::new();
    for run in &old {
        if !args.dry_run {
            match store.delete_run(run.id) {
                Ok(_) => {}
                Err(e) => {
                    eprintln!("error: deleting run {}: {e} ({} deleted before it)", run.id.0, deleted.len());
                    return EXIT_STORE;
                }
            }
        }
        deleted.push(
            serde_json::json!({ "run": run.id.0.to_string(), "flow": run.flow, "status": run.status.name() }),
        );
    }
    if args.json {
        let document = serde_json::json!({ "dry_run": args.dry_run, "runs": deleted });
        print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
    } else {
        for run in &deleted {
            let verb = if args.dry_run { "would delete" } else { "deleted" };
            print(&format!(
                "{verb} run {} ({}, {})\n",
                run["run"].as_str().unwrap_or(""),
                run["flow"].as_str().unwrap_or(""),
                run["status"].as_str().unwrap_or("")
            ));
        }
        let verb = if args.dry_run { "would be deleted" } else { "deleted" };
        print(&format!("{} finished runs older than {} {verb}\n", deleted.len(), args.older_than));
    }
    EXIT_OK
}
