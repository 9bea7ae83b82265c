//! `weir approve RUN NAME --as PERSON [--input k=v …] [--reason R]` and `weir reject RUN
//! NAME --as PERSON [--reason R]`: a person's decision on a paused run's approval. The
//! decision is checked against the approval (its deciders, `not initiator`, `exclude`, one
//! vote per person, the input fields' types) and journaled; then the run continues in the
//! foreground with the program it started with, exactly as `weir resume` would drive it.

use super::outcome::{EXIT_STORE, exit_codes, progress, report};
use super::project;
use super::run::record;
use super::{EXIT_FAILURE, print, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_runtime::interp::{Decide, InterpError};
use weir_runtime::store::RunId;

/// Decide a paused run's approval.
#[derive(Args)]
#[command(
    after_help = concat!(
        "Examples:\n  weir approve 01900000-0000-7000-8000-000000000001 ship --as ada\n  weir approve RUN review --as ada --input risk=low --reason \"looked at the diff\"\n  weir reject RUN ship --as grace --reason \"not before the freeze ends\"",
        "\n\n",
        exit_codes!()
    )
)]
pub struct DecideArgs {
    /// The run's id.
    id: String,
    /// The approval's name.
    approval: String,
    /// Who decides: a person of weir.toml, by name or email.
    #[arg(long = "as", value_name = "PERSON")]
    person: String,
    /// Why (kept in the run's history).
    #[arg(long)]
    reason: Option<String>,
    /// An input field of the approval as NAME=VALUE (approve only).
    #[arg(long = "input", value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// The input fields as one JSON object (approve only).
    #[arg(long, value_name = "JSON")]
    input_json: Option<String>,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DecideArgs, approve: bool) -> u8 {
    let Ok(uuid) = args.id.parse::<uuid::Uuid>() else { return usage_error("a run id is a UUID") };
    let id = RunId(uuid);
    let input = match record(&args.inputs, args.input_json.as_deref()) {
        Ok(input) => input,
        Err(message) => return usage_error(&message),
    };
    let session = match project::Session::open(&args.project) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let interp = session.interpreter();
    let bytecode = match interp.program(id) {
        Ok(bytecode) => bytecode,
        Err(InterpError::Journal(_)) => {
            eprintln!("error: no run {uuid} in this store");
            return EXIT_FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    let decision = Decide {
        approval: &args.approval,
        person: &args.person,
        approve,
        reason: args.reason.as_deref(),
        input,
    };
    let vote = match interp.decide(id, &bytecode, &decision) {
        Ok(vote) => vote,
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
        Err(e) => return usage_error(&e.to_string()),
    };
    let verb = if approve { "approved" } else { "rejected" };
    if args.json {
        eprintln!("{} {verb} `{}`", vote.by, args.approval);
    } else {
        print(&format!("{} {verb} `{}`\n", vote.by, args.approval));
    }
    let mut progress = progress(args.json);
    match interp.resume(id, &bytecode, &mut progress) {
        Ok(outcome) => {
            let code = report(id, &outcome, args.json);
            super::outcome::continue_callers(&interp, id, code, &outcome, args.json)
        }
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e} (the decision is journaled; continue with `weir resume {uuid}`)");
            EXIT_STORE
        }
        Err(e) => usage_error(&e.to_string()),
    }
}
