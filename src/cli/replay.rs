//! `weir replay ID [--json]` and `weir replay --all`: re-execute runs from an empty state
//! against their journals, with the program each run pinned, and report the first event
//! that does not match (its journal index, what the journal holds, what the program
//! produced, and where in the flow). `--all` checks every run of the store: the gate before
//! an engine upgrade.

use super::files::discover;
use super::outcome::EXIT_STORE;
use super::{EXIT_FAILURE, EXIT_OK, print, project, usage_error};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use weir_runtime::interp::{InterpError, Interpreter, ReplayReport, SystemClock};
use weir_runtime::store::{RunId, RunQuery, Store};

/// Replay runs against their journals.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir replay 01900000-0000-7000-8000-000000000001\n  weir replay --all --json\n\nExit codes: 0 every replay matched its journal, 1 a replay diverged (or a run cannot be replayed), 2 usage, 3 the store failed."
)]
pub struct ReplayArgs {
    /// The run to replay.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    id: Option<String>,
    /// Replay every run of the store.
    #[arg(long)]
    all: bool,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Print the reports as JSON (one for a run id, a list for --all).
    #[arg(long)]
    json: bool,
}

pub fn run(args: ReplayArgs) -> u8 {
    let one = match args.id.as_deref().map(str::parse::<uuid::Uuid>) {
        None => None,
        Some(Ok(uuid)) => Some(RunId(uuid)),
        Some(Err(_)) => return usage_error("a run id is a UUID"),
    };
    let project = match project::open(&args.project) {
        Ok(project) => project,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_STORE;
        }
    };
    let ids = match one {
        Some(id) => vec![id],
        None => match project.store.find_runs(&RunQuery::default()) {
            Ok(runs) => runs.into_iter().map(|r| r.id).collect(),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_STORE;
            }
        },
    };
    let clock = SystemClock;
    let interp = Interpreter::new(&project.store, &clock).with_project(&project.config, &project.dir);
    let sources = Sources::new(&project.dir);
    let mut reports = Vec::new();
    let mut code = EXIT_OK;
    for id in ids {
        match interp.replay(id, None) {
            Ok(report) => {
                if report.divergence.is_some() {
                    code = EXIT_FAILURE;
                }
                if !args.json {
                    print(&text(&report, &interp, id, &sources));
                }
                reports.push(report);
            }
            Err(InterpError::Store(e)) => {
                eprintln!("error: {e}");
                return EXIT_STORE;
            }
            Err(e) => {
                eprintln!("error: run {}: {e}", id.0);
                code = EXIT_FAILURE;
            }
        }
    }
    if args.json {
        let document = match (one, reports.as_slice()) {
            (Some(_), [report]) => serde_json::to_value(report),
            _ => serde_json::to_value(&reports),
        };
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&document.unwrap_or_default()).unwrap_or_default()
        ));
    } else if args.all {
        let diverged = reports.iter().filter(|r| r.divergence.is_some()).count();
        print(&format!("{} runs replayed, {diverged} diverged\n", reports.len()));
    }
    code
}

/// The project's flow files by the SHA-256 of their text, so a divergence can name the file.
struct Sources {
    by_hash: HashMap<[u8; 32], PathBuf>,
}

impl Sources {
    fn new(dir: &Path) -> Sources {
        let files = discover(&[dir.to_path_buf()]).unwrap_or_default();
        let by_hash = files
            .into_iter()
            .filter_map(|path| Some((weir_bytecode::sha256(&std::fs::read(&path).ok()?), path)))
            .collect();
        Sources { by_hash }
    }
}

fn text(report: &ReplayReport, interp: &Interpreter<'_>, id: RunId, sources: &Sources) -> String {
    let Some(divergence) = &report.divergence else {
        return format!(
            "run {}: replay matches its journal ({} events, {} replayed)\n",
            report.run, report.events, report.compared
        );
    };
    let mut out =
        format!("run {} diverges at event {}: {}\n", report.run, divergence.index, divergence.message);
    if let Some(journaled) = &divergence.journaled {
        out.push_str(&format!("  journal:  {journaled}\n"));
    }
    if let Some(replayed) = &divergence.replayed {
        out.push_str(&format!("  replayed: {replayed}\n"));
    }
    if let Some(span) = divergence.span {
        let file = interp
            .program(id)
            .ok()
            .and_then(|b| sources.by_hash.get(&b.header.source_sha256).cloned())
            .map_or_else(|| "the flow".to_string(), |p| p.display().to_string());
        out.push_str(&format!("  at {file}:{}:{} (step `{}`)\n", span.line, span.column, divergence.step));
    }
    out
}
