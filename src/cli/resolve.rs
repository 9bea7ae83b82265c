//! `weir resolve ID --retry` and `weir resolve ID --done [--output JSON]`: a person's
//! decision on a run stopped at `needs_decision` (a write was started and its outcome is
//! unknown; weir never sends it again by itself). `--retry` sends it again as a new attempt;
//! `--done` records that it happened, with the output the outside world reports. Then the
//! run continues in the foreground.

use super::outcome::{EXIT_STORE, exit_codes, progress, report};
use super::{EXIT_FAILURE, print, project, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_runtime::interp::{InterpError, Resolution};
use weir_runtime::store::RunId;

/// Decide about a write whose outcome is unknown.
#[derive(Args)]
#[command(after_help = concat!(
    "Examples:\n  weir resolve 01900000-0000-7000-8000-000000000001 --retry\n  weir resolve 01900000-0000-7000-8000-000000000001 --done --output '{\"status\": 201, \"headers\": {}, \"body\": {\"id\": 7}}'\n\n",
    exit_codes!()
))]
pub struct ResolveArgs {
    /// The run's id.
    id: String,
    /// Send the write again, as a new attempt.
    #[arg(long, conflicts_with = "done", required_unless_present = "done")]
    retry: bool,
    /// The write happened: complete the step.
    #[arg(long)]
    done: bool,
    /// With --done: the step's output as JSON (an http step's is `{ status, headers, body }`).
    #[arg(long, requires = "done", value_name = "JSON")]
    output: Option<String>,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ResolveArgs) -> u8 {
    let Ok(uuid) = args.id.parse::<uuid::Uuid>() else { return usage_error("a run id is a UUID") };
    let id = RunId(uuid);
    let resolution = if args.retry {
        Resolution::Retry
    } else {
        let output = match args.output.as_deref().map(weir_bytecode::eval::parse_json) {
            None => weir_bytecode::Value::None,
            Some(Ok(value)) => value,
            Some(Err(e)) => return usage_error(&format!("--output: {}", e.message)),
        };
        Resolution::Done(output)
    };
    let session = match project::Session::open(&args.project) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let interp = session.interpreter();
    let bytecode = match interp.program(id) {
        Ok(bytecode) => bytecode,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    let step = match interp.resolve(id, &resolution) {
        Ok(step) => step,
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
        Err(e) => return usage_error(&e.to_string()),
    };
    let line = match resolution {
        Resolution::Retry => format!("step {step} will be sent again"),
        Resolution::Done(_) => format!("step {step} marked done"),
    };
    if args.json {
        eprintln!("{line}");
    } else {
        print(&format!("{line}\n"));
    }
    let mut progress = progress(args.json);
    match interp.resume(id, &bytecode, &mut progress) {
        Ok(outcome) => report(id, &outcome, args.json),
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e} (the decision is journaled; continue with `weir resume {uuid}`)");
            EXIT_STORE
        }
        Err(e) => usage_error(&e.to_string()),
    }
}
