//! `weir run FILE [--input k=v …] [--input-json JSON] [--id ID] [--json]`: check and compile
//! a flow, then run it in the foreground on the project's embedded store (`.weir/` next to
//! weir.toml): each step is journaled as it ends, timers are slept through, and the exit
//! code says how the run ended. The journal survives the process: a run stopped by a crash
//! is continued by running it again with the same `--id` (docs/runtime.md).

use super::build::compile_file;
use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_bytecode::Value;
use weir_runtime::interp::{InterpError, Interpreter, Outcome, SystemClock};
use weir_runtime::store::{RunId, SledStore, Store};

/// Run a flow now, in the foreground.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir run examples/hello.flow --input names='[\"ada\", \"grace\"]'\n  weir run deploy.flow --input-json '{\"repo\": \"a/b\", \"pr\": 7}' --json\n\nExit codes: 0 the run succeeded, 1 it failed (or the flow has errors), 2 usage (bad input, a flow this weir cannot run yet), 3 the store failed (run it again with the same --id to continue), 4 a started write's outcome is unknown (a person must decide)."
)]
pub struct RunArgs {
    /// The .flow file.
    file: PathBuf,
    /// Which flow of the file (needed when it holds several).
    #[arg(long)]
    flow: Option<String>,
    /// An input as NAME=VALUE; VALUE is read as JSON when it is JSON, else as a string.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// All inputs as one JSON object (merged under --input).
    #[arg(long, value_name = "JSON")]
    input_json: Option<String>,
    /// The run's id (a UUID): starting a run with an id that exists continues it instead.
    #[arg(long)]
    id: Option<String>,
    /// Print the outcome as JSON (`{ "run", "status", "output" | "error" }`); progress goes
    /// to stderr.
    #[arg(long)]
    json: bool,
}

/// Exit code: the store failed; the run can be continued.
const EXIT_STORE: u8 = 3;
/// Exit code: a started write's outcome is unknown; a person must decide.
const EXIT_NEEDS_DECISION: u8 = 4;

pub fn run(args: RunArgs) -> u8 {
    let compiled = match compile_file(&args.file) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let bytecode = match (&args.flow, compiled.bytecodes.len()) {
        (None, 1) => &compiled.bytecodes[0],
        (None, _) => return usage_error("the file holds several flows: say which with --flow SLUG"),
        (Some(slug), _) => match compiled.bytecodes.iter().find(|b| &b.header.slug == slug) {
            Some(bytecode) => bytecode,
            None => return usage_error(&format!("the file holds no flow `{slug}`")),
        },
    };
    let input = match input(&args) {
        Ok(input) => input,
        Err(message) => return usage_error(&message),
    };
    let id = match args.id.as_deref().map(|text| text.parse::<uuid::Uuid>()) {
        None => None,
        Some(Ok(uuid)) => Some(RunId(uuid)),
        Some(Err(_)) => return usage_error("--id takes a UUID"),
    };
    let store = match SledStore::open_dir(compiled.project.join(".weir")) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
    };
    let clock = SystemClock;
    let empty = weir_config::Config::default();
    let config = compiled.config.as_ref().unwrap_or(&empty);
    let interp = Interpreter::new(&store, &clock).with_project(config, &compiled.project);
    let json = args.json;
    let mut report = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            print(&format!("  {line}\n"));
        }
    };
    let existing = id.filter(|id| store.run(*id).ok().flatten().is_some());
    let result = match existing {
        Some(id) => interp.resume(id, bytecode, &mut report).map(|o| (id, o)),
        None => interp.start(bytecode, input, id, &mut report),
    };
    let (id, outcome) = match result {
        Ok(done) => done,
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
        Err(e) => return usage_error(&e.to_string()),
    };
    let (code, document) = match &outcome {
        Outcome::Succeeded(output) => (
            EXIT_OK,
            serde_json::json!({ "run": id.0.to_string(), "status": "succeeded", "output": as_json(output) }),
        ),
        Outcome::Failed(error) => (
            EXIT_FAILURE,
            serde_json::json!({ "run": id.0.to_string(), "status": "failed", "error": { "code": error.code, "message": error.message, "step": error.step } }),
        ),
        Outcome::NeedsDecision { step } => (
            EXIT_NEEDS_DECISION,
            serde_json::json!({ "run": id.0.to_string(), "status": "needs_decision", "step": step }),
        ),
    };
    if json {
        print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
    } else {
        match &outcome {
            Outcome::Succeeded(output) => print(&format!("run {} succeeded: {output}\n", id.0)),
            Outcome::Failed(error) => {
                print(&format!("run {} failed at {}: {} ({})\n", id.0, error.step, error.message, error.code))
            }
            Outcome::NeedsDecision { step } => print(&format!(
                "run {} needs a decision: step {step} was started but its outcome is unknown and it has no idempotency_key, so weir will not send it again by itself\n",
                id.0
            )),
        }
    }
    code
}

/// The input record from --input-json and --input.
fn input(args: &RunArgs) -> Result<Value, String> {
    let mut fields: Vec<(String, Value)> = match &args.input_json {
        Some(text) => {
            match weir_bytecode::eval::parse_json(text).map_err(|e| format!("--input-json: {}", e.message))? {
                Value::Record(fields) => fields,
                _ => return Err("--input-json takes a JSON object".into()),
            }
        }
        None => Vec::new(),
    };
    for pair in &args.inputs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("--input takes NAME=VALUE, got `{pair}`"));
        };
        let value =
            weir_bytecode::eval::parse_json(value).unwrap_or_else(|_| Value::String(value.to_string()));
        fields.retain(|(n, _)| n != name);
        fields.push((name.to_string(), value));
    }
    Ok(Value::Record(fields))
}

/// A value as JSON for `--json` (records as objects, durations and times as numbers of
/// milliseconds).
fn as_json(value: &Value) -> serde_json::Value {
    weir_bytecode::eval::to_json(value)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| serde_json::Value::String(value.to_string()))
}
