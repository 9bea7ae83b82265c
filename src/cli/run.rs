//! `weir run FILE [--input k=v …] [--input-json JSON] [--id ID] [--as PERSON] [--json]`:
//! check and compile a flow, then run it in the foreground on the project's embedded store
//! (`.weir/` next to weir.toml): each step is journaled as it ends, timers are slept
//! through, a run that reaches an approval exits "paused", and the exit code says how the
//! run ended; `--detach` journals the start and exits, and `weir resume` drives the run. The journal survives the process: a run stopped by a crash is continued by
//! `weir resume` (or by running it again with the same `--id`) (docs/runtime.md).

use super::build::compile_file;
use super::outcome::{EXIT_STORE, exit_codes, progress, report};
use super::{project, usage_error};
use clap::Args;
use std::path::PathBuf;
use weir_bytecode::Value;
use weir_runtime::interp::{InterpError, Interpreter, SystemClock, find_person};
use weir_runtime::store::{RunId, Store};

/// Run a flow now, in the foreground.
#[derive(Args)]
#[command(
    after_help = concat!(
        "Examples:\n  weir run examples/hello.flow --input names='[\"ada\", \"grace\"]'\n  weir run deploy.flow --input-json '{\"repo\": \"a/b\", \"pr\": 7}' --as ada --json",
        "\n\n",
        exit_codes!()
    )
)]
pub struct RunArgs {
    /// The .flow file, or the slug of a flow of the project (found among its files).
    #[arg(value_name = "FILE|SLUG")]
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
    /// Who starts the run: a person of weir.toml (by name or email), recorded as the
    /// initiator (`not initiator` keeps them from approving it).
    #[arg(long = "as", value_name = "PERSON")]
    initiator: Option<String>,
    /// Journal the run's start and exit without running it: `weir resume` drives it.
    #[arg(long)]
    detach: bool,
    /// Print the outcome as JSON (`{ "run", "status", "output" | "error" }`); progress goes
    /// to stderr.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RunArgs) -> u8 {
    // `weir run SLUG`: the project's flow of that slug (the file is found for it).
    let (file, flow) = match (args.file.exists(), slug_file(&args.file)) {
        (false, Some((file, slug))) => (file, Some(slug)),
        _ => (args.file.clone(), args.flow.clone()),
    };
    let compiled = match compile_file(&file) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let bytecode = match (&flow, compiled.bytecodes.len()) {
        (None, 1) => &compiled.bytecodes[0],
        (None, _) => return usage_error("the file holds several flows: say which with --flow SLUG"),
        (Some(slug), _) => match compiled.bytecodes.iter().find(|b| &b.header.slug == slug) {
            Some(bytecode) => bytecode,
            None => return usage_error(&format!("the file holds no flow `{slug}`")),
        },
    };
    let input = match record(&args.inputs, args.input_json.as_deref()) {
        Ok(input) => input,
        Err(message) => return usage_error(&message),
    };
    let id = match args.id.as_deref().map(|text| text.parse::<uuid::Uuid>()) {
        None => None,
        Some(Ok(uuid)) => Some(RunId(uuid)),
        Some(Err(_)) => return usage_error("--id takes a UUID"),
    };
    super::outcome::set_project(&compiled.project);
    let store = match project::open_store(&compiled.project.join(".weir")) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
    };
    let clock = SystemClock;
    let empty = weir_config::Config::default();
    let config = compiled.config.as_ref().unwrap_or(&empty);
    let initiator = match &args.initiator {
        Some(who) => match find_person(config, who) {
            Ok(name) => Some(name),
            Err(message) => return usage_error(&format!("--as: {message}")),
        },
        None => None,
    };
    let library = super::build::compile_library(&compiled.project, compiled.config.as_ref());
    let interp = Interpreter::new(&store, &clock)
        .with_library(&library)
        .with_project(config, &compiled.project)
        .with_crash_hook(project::crash_hooks().1);
    let mut progress = progress(args.json);
    let existing = id.filter(|id| store.run(*id).ok().flatten().is_some());
    if args.detach {
        let started = match existing {
            Some(id) => Ok(id),
            None => interp.start_detached(bytecode, input, id, initiator.as_deref()),
        };
        return match started {
            Ok(id) => {
                let document = serde_json::json!({ "run": id.0.to_string(), "status": "queued" });
                if args.json {
                    super::print(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&document).unwrap_or_default()
                    ));
                } else {
                    super::print(&format!("run {} started, detached: `weir resume` drives it\n", id.0));
                }
                super::EXIT_OK
            }
            Err(InterpError::Store(e)) => {
                eprintln!("error: {e}");
                EXIT_STORE
            }
            Err(e) => usage_error(&e.to_string()),
        };
    }
    let result = match existing {
        Some(id) => match interp.resume(id, bytecode, &mut progress) {
            // Created, but its start was never journaled (a crash between the two writes of a
            // store that does not create and start in one, such as an older one): start it now.
            Err(InterpError::Journal(_)) => {
                interp.start_as(bytecode, input, Some(id), initiator.as_deref(), &mut progress)
            }
            other => other.map(|o| (id, o)),
        },
        None => interp.start_as(bytecode, input, id, initiator.as_deref(), &mut progress),
    };
    let (id, outcome) = match result {
        Ok(done) => done,
        Err(InterpError::Store(e)) => {
            eprintln!("error: {e}");
            return EXIT_STORE;
        }
        Err(e) => return usage_error(&e.to_string()),
    };
    report(id, &outcome, args.json)
}

/// For `weir run SLUG`: the file of the project (around the current directory) that holds
/// the flow `SLUG`, and the slug.
fn slug_file(arg: &std::path::Path) -> Option<(PathBuf, String)> {
    let slug = arg
        .to_str()
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
    let dir = project::project_dir(std::path::Path::new("."));
    let files = super::files::discover(&[dir]).ok()?;
    files.into_iter().find_map(|path| {
        let source = super::check::read_source(&path).ok()?;
        super::check::flows(&source).any(|f| f.name.name == slug).then(|| (path, slug.to_string()))
    })
}

/// A record from `--input NAME=VALUE` pairs over an `--input-json` object.
pub(super) fn record(inputs: &[String], input_json: Option<&str>) -> Result<Value, String> {
    let mut fields: Vec<(String, Value)> = match input_json {
        Some(text) => {
            match weir_bytecode::eval::parse_json(text).map_err(|e| format!("--input-json: {}", e.message))? {
                Value::Record(fields) => fields,
                _ => return Err("--input-json takes a JSON object".into()),
            }
        }
        None => Vec::new(),
    };
    for pair in inputs {
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
