//! `weir callback TOKEN|URL --json-body JSON`: post a worker's answer to a run's callback,
//! as a worker would POST it to `NAME.url`, then continue the run in the foreground. The
//! body is checked against the callback's declared `output` type first (a worker reports
//! failure with `{ "error": { "code", "message" } }`); the store keeps one post per
//! callback, even one that arrives before the run waits.

use super::outcome::{EXIT_STORE, exit_codes, progress, report};
use super::{EXIT_FAILURE, print, project, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_runtime::interp::{Clock, InterpError, check_post, token_of};
use weir_runtime::store::{PostOutcome, Store, TokenHash};

/// Post a body to a run's callback.
#[derive(Args)]
#[command(after_help = concat!(
    "Examples:\n  weir callback http://127.0.0.1:7420/callbacks/5f0c… --json-body '{\"status\": \"done\"}'\n  weir callback 5f0c… --json-body '{\"error\": {\"code\": \"build_failed\", \"message\": \"exit 2\"}}'\n\n",
    exit_codes!(),
    " A refused post (unknown or expired token, a body of the wrong type, a second different body) exits 1."
))]
pub struct CallbackArgs {
    /// The callback's token, or its whole URL (`NAME.url`).
    token: String,
    /// The body, as JSON.
    #[arg(long, value_name = "JSON")]
    json_body: String,
    /// The project directory (its weir.toml is looked for upwards; the store is `.weir/`).
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CallbackArgs) -> u8 {
    let token = token_of(&args.token);
    if token.is_empty() {
        return usage_error("give the callback's token or its URL");
    }
    if serde_json::from_str::<serde_json::Value>(&args.json_body).is_err() {
        return usage_error("--json-body is not JSON");
    }
    let session = match project::Session::open(&args.project) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let interp = session.interpreter();
    let hash = TokenHash::of(token.as_bytes());
    // An unknown token and a guessed one get the same answer.
    let record = match session.project.store.callback(&hash) {
        Ok(Some(record)) => record,
        Ok(None) => {
            eprintln!("error: no callback with this token in this store");
            return EXIT_FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
    };
    let bytecode = match interp.program(record.run) {
        Ok(bytecode) => bytecode,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    if let Err(problem) = check_post(&bytecode.program, &record.step, args.json_body.as_bytes()) {
        eprintln!("error: the body does not fit the callback `{}`: {problem}", record.step.path);
        return EXIT_FAILURE;
    }
    let refused =
        match session.project.store.post_callback(&hash, args.json_body.as_bytes(), session.clock.now_ms()) {
            Ok(PostOutcome::Accepted | PostOutcome::AlreadyPosted { same: true }) => None,
            Ok(PostOutcome::AlreadyPosted { same: false }) => {
                Some("a different body was already posted to this callback; it takes one")
            }
            Ok(PostOutcome::Consumed) => Some("the run already took this callback's post"),
            Ok(PostOutcome::Expired) => Some("the callback expired before anything was posted"),
            Ok(PostOutcome::RunFinished) => Some("the callback's run has finished"),
            Ok(PostOutcome::Unknown) => Some("no callback with this token in this store"),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_STORE;
            }
        };
    if let Some(reason) = refused {
        eprintln!("error: {reason}");
        return EXIT_FAILURE;
    }
    let line = format!("posted to callback `{}` of run {}", record.step.path, record.run.0);
    if args.json {
        eprintln!("{line}");
    } else {
        print(&format!("{line}\n"));
    }
    let mut progress = progress(args.json);
    match interp.resume(record.run, &bytecode, &mut progress) {
        Ok(outcome) => {
            let code = report(record.run, &outcome, args.json);
            super::outcome::continue_callers(&interp, record.run, code, &outcome, args.json)
        }
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e} (the post is kept; continue with `weir resume {}`)", record.run.0);
            EXIT_STORE
        }
        Err(e) => usage_error(&e.to_string()),
    }
}
