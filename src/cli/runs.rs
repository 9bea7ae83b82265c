//! `weir runs [--status S] [--flow SLUG] [--json]` lists the runs of the project's embedded
//! store; `weir runs show ID [--json]` prints one run's timeline: every journaled event with
//! its time from the run's start, its step identity and what it holds. (`weir run show` would
//! be ambiguous with a flow file named `show`, so history lives under `weir runs`.)

use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use weir_runtime::store::{Event, RunId, RunQuery, RunRecord, RunStatus, SledStore, Store};

/// List runs, or show one.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir runs\n  weir runs --status failed --json\n  weir runs show 01900000-0000-7000-8000-000000000001\n\nExit codes: 0 listed, 1 the store cannot be opened or the run does not exist, 2 usage."
)]
pub struct RunsArgs {
    #[command(subcommand)]
    show: Option<Show>,
    /// Only runs with this status.
    #[arg(long, value_parser = parse_status)]
    status: Option<RunStatus>,
    /// Only runs of this flow.
    #[arg(long)]
    flow: Option<String>,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`
    /// next to it).
    #[arg(long, default_value = ".", global = true)]
    project: PathBuf,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Show {
    /// One run's timeline.
    Show {
        /// The run's id.
        id: String,
    },
}

/// `--status NAME`: one of [`RunStatus::name`]'s words.
fn parse_status(text: &str) -> Result<RunStatus, String> {
    RunStatus::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.name()).collect();
        format!("`{text}` is not a run status; one of: {}", names.join(", "))
    })
}

/// The store directory of the project around `dir`.
pub(super) fn store_dir(dir: &Path) -> PathBuf {
    super::project::project_dir(dir).join(".weir")
}

pub fn run(args: RunsArgs) -> u8 {
    let dir = store_dir(&args.project);
    if !dir.join("store").is_dir() {
        if args.json && args.show.is_none() {
            print("[]\n");
        } else if args.show.is_none() {
            print(&format!("no runs yet (no store in {})\n", dir.display()));
        } else {
            eprintln!("error: no store in {}", dir.display());
            return EXIT_FAILURE;
        }
        return EXIT_OK;
    }
    let store = match SledStore::open_dir(&dir) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    match args.show {
        Some(Show::Show { id }) => show(&store, &id, args.json),
        None => list(&store, args.status, args.flow, args.json),
    }
}

fn list(store: &SledStore, status: Option<RunStatus>, flow: Option<String>, json: bool) -> u8 {
    let query = RunQuery { status, flow, ..Default::default() };
    let runs = match store.find_runs(&query) {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    if json {
        let rows: Vec<serde_json::Value> = runs.iter().map(record_json).collect();
        print(&format!("{}\n", serde_json::to_string_pretty(&rows).unwrap_or_default()));
        return EXIT_OK;
    }
    if runs.is_empty() {
        print("no runs\n");
        return EXIT_OK;
    }
    print(&format!("{:<36}  {:<20}  {:<14}  {:<24}  {:>6}\n", "ID", "FLOW", "STATUS", "CREATED", "EVENTS"));
    for run in &runs {
        print(&format!(
            "{:<36}  {:<20}  {:<14}  {:<24}  {:>6}\n",
            run.id.0,
            run.flow,
            run.status.name(),
            time(run.created_at_ms),
            run.journal_len
        ));
    }
    EXIT_OK
}

fn show(store: &SledStore, id: &str, json: bool) -> u8 {
    let Ok(uuid) = id.parse::<uuid::Uuid>() else { return usage_error("a run id is a UUID") };
    let id = RunId(uuid);
    let (record, journal) = match (store.run(id), store.journal(id, 0)) {
        (Ok(Some(record)), Ok(journal)) => (record, journal),
        (Ok(None), _) => {
            eprintln!("error: no run {uuid} in this store");
            return EXIT_FAILURE;
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    if json {
        let events: Vec<serde_json::Value> = journal.iter().map(|e| event_json(&record, e)).collect();
        let mut document = record_json(&record);
        document["events"] = serde_json::Value::Array(events);
        print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
        return EXIT_OK;
    }
    print(&format!(
        "run {} · flow {} · {} · created {} · {} events\n",
        record.id.0,
        record.flow,
        record.status.name(),
        time(record.created_at_ms),
        record.journal_len
    ));
    for event in &journal {
        let payload = payload_text(&event.payload);
        let offset = event.at_ms.saturating_sub(record.created_at_ms);
        let step = if event.step.iteration > 0 {
            format!("{}[{}]", event.step.path, event.step.iteration)
        } else {
            event.step.path.clone()
        };
        print(&format!(
            "  {:>4}  +{:>7} ms  {:<32}  {:<16}  {payload}\n",
            event.index,
            offset,
            step,
            event.kind.name()
        ));
    }
    EXIT_OK
}

/// Unix milliseconds as RFC 3339 UTC.
fn time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| format!("{ms} ms"), |t| t.to_string())
}

fn record_json(run: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "id": run.id.0.to_string(),
        "flow": run.flow,
        "status": run.status.name(),
        "created_at": time(run.created_at_ms),
        "updated_at": time(run.updated_at_ms),
        "events": run.journal_len,
    })
}

fn event_json(run: &RunRecord, event: &Event) -> serde_json::Value {
    serde_json::json!({
        "index": event.index,
        "offset_ms": event.at_ms.saturating_sub(run.created_at_ms),
        "step": event.step.path,
        "iteration": event.step.iteration,
        "attempt": event.step.attempt,
        "kind": event.kind.name(),
        "payload": payload_json(&event.payload),
    })
}

/// A payload for a one-line timeline: its JSON, cut at 100 characters. Journals hold
/// outputs, never secret values (secrets are journaled as references).
fn payload_text(payload: &[u8]) -> String {
    if payload.is_empty() {
        return String::new();
    }
    let text = match payload_json(payload) {
        Some(value) => value.to_string(),
        None => format!("{} bytes", payload.len()),
    };
    if text.chars().count() > 100 {
        format!("{}…", text.chars().take(100).collect::<String>())
    } else {
        text
    }
}

/// A journal payload as plain JSON: a value as the flow sees it (records as objects), or
/// whatever JSON the event holds (an error record).
fn payload_json(payload: &[u8]) -> Option<serde_json::Value> {
    if let Ok(value) = serde_json::from_slice::<weir_bytecode::Value>(payload)
        && let Ok(text) = weir_bytecode::eval::to_json(&value)
        && let Ok(json) = serde_json::from_str(&text)
    {
        return Some(json);
    }
    serde_json::from_slice(payload).ok()
}
