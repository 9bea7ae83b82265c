//! How a drive of a run ended, told to the user: one line (or a JSON document) and the
//! exit code. Shared by `weir run`, `approve`, `reject` and `resume`, so a run reads the
//! same whichever command moved it last.

use super::{EXIT_FAILURE, EXIT_OK, print};
use weir_bytecode::Value;
use weir_runtime::interp::{Outcome, Waiting};
use weir_runtime::store::RunId;

/// Exit code: the store failed; the run can be continued.
pub(super) const EXIT_STORE: u8 = 3;
/// Exit code: a started write's outcome is unknown; a person must decide.
pub(super) const EXIT_NEEDS_DECISION: u8 = 4;
/// Exit code: the run is paused at an approval (or a callback wait).
pub(super) const EXIT_PAUSED: u8 = 5;
/// Exit code: an approval was rejected and the run ended `rejected`.
pub(super) const EXIT_REJECTED: u8 = 6;
/// Exit code: the run did not start: queued behind its flow's concurrency limit, or skipped.
pub(super) const EXIT_NOT_STARTED: u8 = 7;

/// The exit codes of the commands that drive runs, for their `--help` (a macro, so that
/// `concat!` can put it after each command's examples).
macro_rules! exit_codes {
    () => {
        "Exit codes: 0 the run succeeded, 1 it failed (or the flow has errors), 2 usage (bad input, a flow this weir cannot run yet, a refused decision), 3 the store failed (continue with `weir resume`), 4 a started write's outcome is unknown (a person must decide), 5 the run is paused at an approval (decide with `weir approve`/`weir reject`) or a callback, 6 an approval rejected the run, 7 the run did not start (queued behind its concurrency limit: `weir resume` starts it; or skipped)."
    };
}
pub(super) use exit_codes;

/// ` --project DIR` when the command's project is not the one around the current
/// directory, so that the commands printed for the user (approve, resolve, resume…) work
/// where they are typed. Set once by the command that opened the project.
static PROJECT_FLAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records the project the command works in (see `PROJECT_FLAG`).
pub(super) fn set_project(dir: &std::path::Path) {
    let here = super::project::project_dir(std::path::Path::new("."));
    let dir = super::project::project_dir(dir);
    let flag = if dir == here {
        String::new()
    } else {
        let cwd = std::env::current_dir().ok().and_then(|d| std::fs::canonicalize(d).ok());
        let shown = cwd.as_deref().and_then(|cwd| dir.strip_prefix(cwd).ok()).unwrap_or(&dir);
        format!(" --project {}", shown.display())
    };
    let _ = PROJECT_FLAG.set(flag);
}

fn project_flag() -> &'static str {
    PROJECT_FLAG.get().map_or("", String::as_str)
}

/// A progress reporter: lines on stdout, or on stderr under `--json`.
pub(super) fn progress(json: bool) -> impl FnMut(&str) {
    move |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            print(&format!("  {line}\n"));
        }
    }
}

/// Print how the run ended this time and return the exit code.
pub(super) fn report(id: RunId, outcome: &Outcome, json: bool) -> u8 {
    let (code, document, text) = describe(id, outcome);
    if json {
        print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
    } else {
        print(&text);
    }
    code
}

/// The exit code, the `--json` document and the text of a drive's outcome.
pub(super) fn describe(id: RunId, outcome: &Outcome) -> (u8, serde_json::Value, String) {
    let run = id.0.to_string();
    let (code, document) = match outcome {
        Outcome::Succeeded(output) => {
            (EXIT_OK, serde_json::json!({ "run": run, "status": "succeeded", "output": as_json(output) }))
        }
        Outcome::Failed(error) => (
            EXIT_FAILURE,
            serde_json::json!({ "run": run, "status": "failed", "error": { "code": error.code, "message": error.message, "step": error.step } }),
        ),
        Outcome::NeedsDecision { step } => {
            (EXIT_NEEDS_DECISION, serde_json::json!({ "run": run, "status": "needs_decision", "step": step }))
        }
        Outcome::Paused(waiting) => {
            (EXIT_PAUSED, serde_json::json!({ "run": run, "status": "paused", "waiting": waiting }))
        }
        Outcome::Queued { key, held } => (
            EXIT_NOT_STARTED,
            serde_json::json!({ "run": run, "status": "queued", "key": key, "held": held }),
        ),
        Outcome::Skipped { key } => {
            (EXIT_NOT_STARTED, serde_json::json!({ "run": run, "status": "skipped", "key": key }))
        }
        Outcome::Rejected { approval, by, reason } => (
            EXIT_REJECTED,
            serde_json::json!({ "run": run, "status": "rejected", "approval": approval, "by": by, "reason": reason }),
        ),
    };
    let text = match outcome {
        Outcome::Succeeded(output) => format!("run {run} succeeded: {output}\n"),
        Outcome::Failed(error) => {
            format!("run {run} failed at {}: {} ({})\n", error.step, error.message, error.code)
        }
        Outcome::NeedsDecision { step } => format!(
            "run {run} needs a decision: step {step} was started but its outcome is unknown and it has no idempotency_key, so weir will not send it again by itself\n  decide:  weir resolve{} {run} --retry | --done [--output JSON]\n",
            project_flag()
        ),
        Outcome::Paused(waiting) => paused(&run, waiting),
        Outcome::Queued { key, held } => format!(
            "run {run} queued: {held} run(s) hold the concurrency key `{key}`; `weir resume{}` starts it when one ends\n",
            project_flag()
        ),
        Outcome::Skipped { key } => {
            format!("run {run} skipped: the concurrency key `{key}` is full and the flow's policy is skip\n")
        }
        Outcome::Rejected { approval, by, reason } => {
            let why = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            if by == "@timeout" {
                format!("run {run} rejected: `{approval}` timed out and its default is reject\n")
            } else {
                format!("run {run} rejected: `{approval}` was rejected by {by}{why}\n")
            }
        }
    };
    (code, document, text)
}

/// After a drive that finished a run another run called, drive the caller on, and say how
/// that went (its exit code), up the chain of callers.
pub(super) fn continue_callers(
    interp: &weir_runtime::interp::Interpreter<'_>,
    mut id: RunId,
    mut code: u8,
    outcome: &Outcome,
    json: bool,
) -> u8 {
    let mut finished =
        !matches!(outcome, Outcome::Paused(_) | Outcome::Queued { .. } | Outcome::NeedsDecision { .. });
    while finished {
        let Ok(Some(parent)) = interp.parent_of(id) else { break };
        let mut progress = progress(json);
        let driven =
            interp.program(parent).and_then(|bytecode| interp.resume(parent, &bytecode, &mut progress));
        match driven {
            Ok(outcome) => {
                code = report(parent, &outcome, json);
                finished = !matches!(
                    outcome,
                    Outcome::Paused(_) | Outcome::Queued { .. } | Outcome::NeedsDecision { .. }
                );
                id = parent;
            }
            Err(e) => {
                eprintln!("error: the calling run {}: {e} (continue it with `weir resume`)", parent.0);
                break;
            }
        }
    }
    code
}

/// What a paused run waits for, and the commands that continue it.
fn paused(run: &str, waiting: &Waiting) -> String {
    // The run that waits may be one this run called: decisions go to that one.
    let (decide, within) = match &waiting.run {
        Some(child) if child != run => (child.as_str(), format!(" in the called run {child}")),
        _ => (run, String::new()),
    };
    let due = i64::try_from(waiting.due_at_ms)
        .ok()
        .and_then(weir_bytecode::value::format_time_rfc3339)
        .unwrap_or_else(|| waiting.due_at_ms.to_string());
    if waiting.kind == "timer" {
        return format!(
            "run {run} paused: timer `{}` is due at {due}; `weir resume` wakes it then\n",
            waiting.step
        );
    }
    if waiting.kind == "call" {
        return format!(
            "run {run} paused: step `{}` called run {decide}, which waits for a concurrency slot; `weir resume` starts it\n",
            waiting.step
        );
    }
    if let Some(url) = &waiting.url {
        return format!(
            "run {run} paused: step `{}`{within} waits for a post to callback `{}` (times out at {due})\n  post:    weir callback{} {url} --json-body '{{…}}'\n",
            waiting.step,
            waiting.name,
            project_flag()
        );
    }
    let who = if waiting.deciders.is_empty() {
        "any person of the project".to_string()
    } else {
        waiting.deciders.join(", ")
    };
    let not = if waiting.excluded.is_empty() {
        String::new()
    } else {
        format!("; not {}", waiting.excluded.join(", "))
    };
    let mut text = format!(
        "run {run} paused: approval `{}`{within} waits for {who} ({} of {} approvals{not}; times out at {due})\n",
        waiting.name, waiting.approvals, waiting.min
    );
    if let Some(summary) = &waiting.summary {
        text.push_str(&format!("  summary: {summary}\n"));
    }
    let person = match waiting.deciders.as_slice() {
        [one] => one.as_str(),
        _ => "PERSON",
    };
    let inputs: String = waiting.inputs.iter().map(|name| format!(" --input {name}=VALUE")).collect();
    let flag = project_flag();
    text.push_str(&format!(
        "  approve: weir approve{flag} {decide} {} --as {person}{inputs}\n",
        waiting.name
    ));
    text.push_str(&format!(
        "  reject:  weir reject{flag} {decide} {} --as {person} --reason \"…\"\n",
        waiting.name
    ));
    text
}

/// A value as JSON for `--json` (records as objects, durations and times as numbers of
/// milliseconds).
pub(super) fn as_json(value: &Value) -> serde_json::Value {
    weir_bytecode::eval::to_json(value)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| serde_json::Value::String(value.to_string()))
}
