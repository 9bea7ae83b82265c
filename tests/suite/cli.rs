//! The `weir` binary end to end: every command, its exit codes and its output shapes.

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;

fn weir() -> Command {
    Command::cargo_bin("weir").expect("the weir binary is built")
}

const CLEAN: &str = "flow wibble {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  step a = function { value 1 + 2 }\n  output { a: a.value }\n}\n";
const BROKEN: &str = "flow wibble {\n  version \"1.0.0\"\n  stpe a = sleep 1s\n}\n";
const UGLY: &str = "flow wibble {\nversion    \"1.0.0\"\n\n\n  step a = function {   value 1+2 }\n}";
const WARNING: &str =
    "# allow(no-such-code): because\nflow wibble {\n  version \"1.0.0\"\n  concurrency max 1 queue\n}\n";

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn version_and_help() {
    weir().arg("--version").assert().success().stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
    for command in [
        "check", "fmt", "parse", "explain", "init", "disasm", "build", "run", "runs", "cancel", "approve",
        "reject", "resume", "callback", "replay", "resolve", "retry", "gc",
    ] {
        weir().args([command, "--help"]).assert().success().stdout(predicate::str::contains("Example"));
    }
    weir().arg("--no-such-flag").assert().code(2);
}

#[test]
fn check_clean_directory_recursively() {
    let dir = dir_with(&[("a.flow", CLEAN), ("nested/b.flow", CLEAN), ("notes.txt", "not a flow")]);
    weir()
        .arg("check")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("2 files, 0 errors, 0 warnings"));
}

#[test]
fn check_reports_errors_with_exit_1_in_order() {
    let dir = dir_with(&[("b.flow", BROKEN), ("a.flow", BROKEN)]);
    let output = weir().arg("check").arg(dir.path()).assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(output).expect("utf8");
    assert!(text.contains("did you mean `step`?"), "{text}");
    assert!(text.contains("2 files, 2 errors, 0 warnings"), "{text}");
    let a = text.find("a.flow").expect("a.flow reported");
    let b = text.find("b.flow").expect("b.flow reported");
    assert!(a < b, "deterministic order");
}

#[test]
fn check_json_shape() {
    let dir = dir_with(&[("a.flow", BROKEN)]);
    let output = weir()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&output).expect("json");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["errors"], 1);
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "E0008");
    assert_eq!(d["name"], "unknown-keyword");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["span"]["line_start"], 3);
    assert_eq!(d["span"]["column_start"], 3);
    assert!(d["help"].as_str().expect("help").contains("step"));
}

#[test]
fn deny_warnings() {
    let dir = dir_with(&[("a.flow", WARNING)]);
    weir().arg("check").arg(dir.path()).assert().success().stdout(predicate::str::contains("1 warning"));
    weir().args(["check", "--deny", "warnings"]).arg(dir.path()).assert().code(1);
}

#[test]
fn check_missing_path_is_usage() {
    weir()
        .args(["check", "/no/such/path.flow"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn fmt_check_and_rewrite() {
    let dir = dir_with(&[("ugly.flow", UGLY), ("clean.flow", CLEAN), ("broken.flow", BROKEN)]);
    weir()
        .args(["fmt", "--check"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ugly.flow"))
        .stdout(predicate::str::contains("clean.flow").not());
    assert_eq!(fs::read_to_string(dir.path().join("ugly.flow")).expect("read"), UGLY, "--check never writes");
    weir().arg("fmt").arg(dir.path()).assert().code(1).stderr(predicate::str::contains("skipped"));
    let formatted = fs::read_to_string(dir.path().join("ugly.flow")).expect("read");
    assert_eq!(formatted, "flow wibble {\n  version \"1.0.0\"\n\n  step a = function { value 1 + 2 }\n}\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("broken.flow")).expect("read"),
        BROKEN,
        "syntax errors: untouched"
    );
    fs::remove_file(dir.path().join("broken.flow")).expect("rm");
    weir().args(["fmt", "--check"]).arg(dir.path()).assert().success();
}

#[test]
fn parse_json() {
    let dir = dir_with(&[("a.flow", CLEAN)]);
    let output = weir()
        .args(["parse", "--json"])
        .arg(dir.path().join("a.flow"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&output).expect("json");
    assert_eq!(json["ast"]["items"][0]["name"]["name"], "wibble");
    assert_eq!(json["diagnostics"].as_array().map(Vec::len), Some(0));
    let dir = dir_with(&[("b.flow", BROKEN)]);
    weir().args(["parse", "--json"]).arg(dir.path().join("b.flow")).assert().code(1);
}

#[test]
fn explain_by_code_and_name() {
    weir().args(["explain", "E0002"]).assert().success().stdout(predicate::str::contains("unclosed-block"));
    weir().args(["explain", "unclosed-block"]).assert().success().stdout(predicate::str::contains("E0002"));
    weir().arg("explain").assert().success().stdout(predicate::str::contains("syntax-error"));
    weir()
        .args(["explain", "unclosed-blok"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean"));
}

#[test]
fn check_finds_weir_toml_upwards_and_reports_it_once() {
    let config = "[connections.wibble]\ntype = \"htp\"\nbase_url = \"https://wibble.example.com\"\n";
    let dir = dir_with(&[("weir.toml", config), ("flows/a.flow", CLEAN), ("flows/nested/b.flow", CLEAN)]);
    let output = weir().arg("check").arg(dir.path()).assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(output).expect("utf8");
    assert_eq!(text.matches("E0105[invalid-connection-type]").count(), 1, "{text}");
    assert!(text.contains("weir.toml:2:8"), "reported under the TOML's path: {text}");
    assert!(text.contains("did you mean `http`?"), "{text}");
    assert!(text.contains("3 files, 1 error, 0 warnings"), "{text}");
    let output = weir()
        .args(["check", "--format", "json"])
        .arg(dir.path().join("flows/nested/b.flow"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&output).expect("json");
    assert_eq!(json["errors"], 1);
    let d = &json["diagnostics"][0];
    assert_eq!(d["name"], "invalid-connection-type");
    assert!(d["file"].as_str().expect("file").ends_with("weir.toml"), "{d}");
    assert_eq!(d["span"]["line_start"], 2);
}

#[test]
fn weir_toml_checks_set_the_level_of_flow_diagnostics() {
    let off = dir_with(&[("weir.toml", "[checks]\ninvalid-suppression = \"off\"\n"), ("a.flow", WARNING)]);
    weir()
        .args(["check", "--deny", "warnings"])
        .arg(off.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("2 files, 0 errors, 0 warnings"));
    let raised = dir_with(&[("weir.toml", "[checks]\nW0001 = \"error\"\n"), ("a.flow", WARNING)]);
    weir()
        .arg("check")
        .arg(raised.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1 error, 0 warnings"));
}

#[test]
fn a_credential_in_weir_toml_is_never_printed() {
    let token = "ghp_wibblewobblewibblewobblewibblewobble12";
    let config = format!(
        "[connections.wibble]\ntype = \"http\"\nbase_url = \"https://wibble.example.com\"\nauth = \"{token}\"\n"
    );
    let dir = dir_with(&[("weir.toml", &config), ("a.flow", CLEAN)]);
    for format in ["human", "json"] {
        let output =
            weir().args(["check", "--format", format]).arg(dir.path()).assert().code(1).get_output().clone();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("credential-in-config"), "{text}");
        assert!(
            !text.contains(&token[4..]) && !String::from_utf8_lossy(&output.stderr).contains(&token[4..]),
            "{text}"
        );
    }
}

#[test]
fn check_explain_lists_effects_overrides_and_unattended() {
    let flow = super::root().join("stdlib-flows/incident-responder.flow");
    weir()
        .args(["check", "--explain"])
        .arg(&flow)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "rollback      irreversible  http POST through connection `deployer`",
        ))
        .stdout(predicate::str::contains("override: logs is read (was write) because"))
        .stdout(predicate::str::contains("unattended: tell_owner because"))
        .stdout(predicate::str::contains(
            "calls `service-owner`, whose strongest unguarded step `found` is read",
        ));
    let output = weir().args(["check", "--explain", "--format", "json"]).arg(&flow).output().expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let steps = json["effects"][0]["steps"].as_array().expect("steps");
    let rollback = steps.iter().find(|s| s["step"] == "rollback").expect("rollback");
    assert_eq!(rollback["effect"], "irreversible");
    assert_eq!(rollback["producer"], true);
}

#[test]
fn init_creates_a_project_once_and_keeps_what_exists() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join("p");
    let output = weir().arg("init").arg(&project).arg("--json").output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["created"], serde_json::json!(["weir.toml", ".weir/", ".gitignore entry"]));
    assert!(project.join(".weir/store").is_dir(), "the embedded store exists");
    // The template is a valid weir.toml with nothing to report.
    let text = fs::read_to_string(project.join("weir.toml")).expect("weir.toml");
    let (_, diagnostics) = weir_config::parse_bytes(text.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    // Again: nothing is overwritten, nothing duplicated.
    fs::write(project.join("weir.toml"), "# mine\n").expect("write");
    let output = weir().arg("init").arg(&project).arg("--json").output().expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["created"], serde_json::json!([]));
    assert_eq!(fs::read_to_string(project.join("weir.toml")).expect("read"), "# mine\n");
    let ignore = fs::read_to_string(project.join(".gitignore")).expect(".gitignore");
    assert_eq!(ignore.matches(".weir/").count(), 1, "{ignore}");
    weir()
        .arg("init")
        .arg(&project)
        .assert()
        .success()
        .stdout(predicate::str::contains("kept    weir.toml (already there)"));
}

#[test]
fn disasm_lists_a_compiled_flow_and_refuses_a_damaged_one() {
    let golden = super::root().join("compiler/bytecode/tests/golden/v1-example.weirc");
    weir()
        .arg("disasm")
        .arg(&golden)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("weirc format 1 · built by weir"))
        .stdout(predicate::str::contains("entry block#0"));
    let output = weir().arg("disasm").arg(&golden).arg("--json").output().expect("run");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["header"]["format_version"], 1);
    assert!(json["program"]["steps"].as_array().is_some_and(|s| !s.is_empty()));
    // A cut file is refused with its code; a missing one is a usage error.
    let bytes = fs::read(&golden).expect("golden");
    let dir = tempfile::tempdir().expect("temp dir");
    let cut = dir.path().join("cut.weirc");
    fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    weir().arg("disasm").arg(&cut).assert().code(1).stderr(predicate::str::contains("B0001 (truncated)"));
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    fs::write(&cut, &flipped).expect("write");
    weir().arg("disasm").arg(&cut).assert().code(1).stderr(predicate::str::contains("B0004"));
    weir().arg("disasm").arg(dir.path().join("nope.weirc")).assert().code(2);
}

#[test]
fn build_writes_identical_bytecode_twice_and_nothing_for_a_flow_with_errors() {
    let stdlib = super::root().join("stdlib-flows");
    let dir = dir_with(&[
        ("weir.toml", &fs::read_to_string(stdlib.join("weir.toml")).expect("weir.toml")),
        ("deploy-preview.flow", &fs::read_to_string(stdlib.join("deploy-preview.flow")).expect("flow")),
        ("broken.flow", BROKEN),
        ("two.flow", &format!("{CLEAN}\n{}", CLEAN.replace("wibble", "wobble"))),
    ]);
    let flow = dir.path().join("deploy-preview.flow");
    let first = dir.path().join("a.weirc");
    let second = dir.path().join("b.weirc");
    weir()
        .arg("build")
        .arg(&flow)
        .arg("-o")
        .arg(&first)
        .assert()
        .success()
        .stdout(predicate::str::contains("built deploy-preview 1.5.0"));
    let output = weir().arg("build").arg(&flow).arg("-o").arg(&second).arg("--json").output().expect("run");
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["built"][0]["flow"], "deploy-preview");
    assert_eq!(fs::read(&first).expect("a"), fs::read(&second).expect("b"), "same source, same bytes");
    weir()
        .arg("disasm")
        .arg(&first)
        .assert()
        .success()
        .stdout(predicate::str::contains("flow deploy-preview 1.5.0"));
    // Errors: reported like `weir check`, exit 1, nothing written.
    weir()
        .arg("build")
        .arg(dir.path().join("broken.flow"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("E0008").and(predicate::str::contains("nothing was built")));
    assert!(!dir.path().join("broken.weirc").exists());
    // Several flows in one file: one .weirc each, named by slug, in the -o directory.
    let out = dir.path().join("out");
    weir().arg("build").arg(dir.path().join("two.flow")).arg("-o").arg(&out).assert().success();
    assert!(out.join("wibble.weirc").is_file() && out.join("wobble.weirc").is_file());
    weir().arg("build").arg(dir.path().join("missing.flow")).assert().code(2);
}

#[test]
fn run_runs_the_example_flow_on_the_embedded_store_and_an_id_continues_it() {
    let example = fs::read_to_string(super::root().join("examples/hello.flow")).expect("example");
    let dir = dir_with(&[("hello.flow", &example)]);
    let flow = dir.path().join("hello.flow");
    weir()
        .arg("run")
        .arg(&flow)
        .args(["--input", "names=[\"ada\", \"grace\"]"])
        .assert()
        .success()
        .stdout(predicate::str::contains("log \"hello, grace\"").and(predicate::str::contains("succeeded")));
    assert!(dir.path().join(".weir/store").is_dir(), "the store lives next to the flow");
    let id = "01900000-0000-7000-8000-000000000001";
    let output = weir()
        .arg("run")
        .arg(&flow)
        .args(["--id", id, "--json", "--input", "greeting=hi"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["output"]["first"], "hi, ada");
    assert_eq!(json["output"]["greeted"], 3);
    // The same id again continues (here: finds finished) that run; nothing runs twice.
    let again = weir().arg("run").arg(&flow).args(["--id", id, "--json"]).output().expect("run");
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(again["output"], json["output"]);
    assert!(
        !String::from_utf8_lossy(
            &weir().arg("run").arg(&flow).args(["--id", id]).output().expect("run").stdout
        )
        .contains("step greet")
    );
    // A flow this weir cannot run yet is refused before any run starts.
    let stdlib = super::root().join("stdlib-flows");
    let refused = dir_with(&[
        ("weir.toml", &fs::read_to_string(stdlib.join("weir.toml")).expect("toml")),
        ("d.flow", &fs::read_to_string(stdlib.join("deploy-preview.flow")).expect("flow")),
    ]);
    weir()
        .arg("run")
        .arg(refused.path().join("d.flow"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("RUN-UNSUPPORTED"));
    weir().arg("run").arg(&flow).args(["--input", "oops"]).assert().code(2);
}

#[test]
fn runs_lists_the_store_and_shows_a_timeline() {
    let example = fs::read_to_string(super::root().join("examples/hello.flow")).expect("example");
    let dir = dir_with(&[("hello.flow", &example)]);
    weir()
        .arg("runs")
        .arg("--project")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("no runs yet"));
    let id = "01900000-0000-7000-8000-000000000002";
    weir().arg("run").arg(dir.path().join("hello.flow")).args(["--id", id]).assert().success();
    let output = weir().arg("runs").arg("--project").arg(dir.path()).arg("--json").output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(runs[0]["id"], id);
    assert_eq!(runs[0]["status"], "succeeded");
    let output =
        weir().args(["runs", "show", id, "--json", "--project"]).arg(dir.path()).output().expect("show");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let events = run["events"].as_array().expect("events");
    assert_eq!(events.first().map(|e| &e["step"]), Some(&serde_json::json!("@run")));
    assert_eq!(events.last().map(|e| &e["payload"]["greeted"]), Some(&serde_json::json!(3)));
    weir()
        .args(["runs", "show", id, "--project"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("step-completed").and(predicate::str::contains("\"hello, ada\"")));
    weir()
        .args(["runs", "--status", "failed", "--project"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("no runs"));
    weir()
        .args(["runs", "show", "01900000-0000-7000-8000-00000000dead", "--project"])
        .arg(dir.path())
        .assert()
        .code(1);
    weir().args(["runs", "show", "nope", "--project"]).arg(dir.path()).assert().code(2);
}

#[test]
fn cancel_ends_an_unfinished_run_once() {
    use weir_runtime::store::{
        Append, EventKind, NewEvent, NewRun, RunId, RunStatus, SledStore, StepId, Store,
    };
    let dir = tempfile::tempdir().expect("dir");
    let id = RunId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0003);
    {
        // A run left paused (as at an approval) by an earlier process.
        let store = SledStore::open_dir(dir.path().join(".weir")).expect("store");
        store.create_run(&NewRun { id, flow: "hello".into(), created_at_ms: 1 }).expect("create");
        let start = NewEvent {
            step: StepId::new("@run", 0, 0),
            kind: EventKind::RunStarted,
            payload: b"{}".to_vec(),
        };
        store
            .append(id, &Append { at_ms: 2, events: vec![start], status: Some(RunStatus::Paused) })
            .expect("append");
    }
    let id_text = id.0.to_string();
    weir()
        .args(["cancel", &id_text, "--project"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("cancelled (it was paused)"));
    let output = weir().args(["runs", "--json", "--project"]).arg(dir.path()).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(runs[0]["status"], "cancelled");
    weir()
        .args(["cancel", &id_text, "--project"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already finished"));
    weir().args(["cancel", "not-a-uuid"]).assert().code(2);
}

const PEOPLE: &str = "[people.ada]\nemail = \"ada@example.com\"\n[people.grace]\nemail = \"grace@example.com\"\n[groups.ops]\nmembers = [\"ada\", \"grace\"]\n";
const SHIP: &str = "flow ship {\n  version \"1.0.0\"\n  concurrency max 5 queue\n  trigger manual\n  input { release: string = \"v1\" }\n\n  step plan = function { value \"deploy {input.release}\" }\n  approval go {\n    summary \"Ship {input.release}?\"\n    binds plan.value\n    deciders group ops not initiator\n    input { risk: \"low\" | \"high\" }\n    timeout 1h\n    default reject\n  }\n  step done = function { value \"shipped at {go.risk} risk by {go.by}\" }\n  output { result: done.value }\n}\n";

/// Start `ship.flow` as ada in `dir`: it pauses at its approval (exit 5); returns the run id.
fn start_paused(dir: &std::path::Path) -> String {
    let output = weir()
        .current_dir(dir)
        .args(["run", "ship.flow", "--as", "ada@example.com", "--json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(5), "{}", String::from_utf8_lossy(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(document["status"], "paused");
    assert_eq!(document["waiting"]["name"], "go");
    assert_eq!(document["waiting"]["deciders"], serde_json::json!(["grace"]));
    assert_eq!(document["waiting"]["excluded"], serde_json::json!(["ada"]));
    document["run"].as_str().expect("run id").to_string()
}

#[test]
fn run_pauses_at_an_approval_and_approve_continues_it() {
    let dir = dir_with(&[("weir.toml", PEOPLE), ("ship.flow", SHIP)]);
    let text = weir().current_dir(dir.path()).args(["run", "ship.flow", "--as", "ada"]).assert().code(5);
    let stdout = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    assert!(stdout.contains("paused: approval `go` waits for grace (0 of 1 approvals; not ada;"), "{stdout}");
    assert!(stdout.contains(" go --as grace --input risk=VALUE\n"), "{stdout}");
    let id = start_paused(dir.path());
    // The initiator may not approve; a person outside weir.toml is refused; so is a bad input.
    weir()
        .current_dir(dir.path())
        .args(["approve", &id, "go", "--as", "ada", "--input", "risk=low"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("they started the run (`not initiator`)"));
    weir()
        .current_dir(dir.path())
        .args(["approve", &id, "go", "--as", "mallory", "--input", "risk=low"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`mallory` is not one of the project's people"));
    weir()
        .current_dir(dir.path())
        .args(["approve", &id, "go", "--as", "grace", "--input", "risk=medium"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`risk` must be one of \"low\" | \"high\""));
    weir()
        .current_dir(dir.path())
        .args(["approve", &id, "go", "--as", "grace", "--input", "risk=low", "--reason", "read the plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("grace approved `go`"))
        .stdout(predicate::str::contains("succeeded: { result: \"shipped at low risk by grace\" }"));
    weir()
        .current_dir(dir.path())
        .args(["approve", &id, "go", "--as", "grace", "--input", "risk=low"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already finished (succeeded)"));
    let output = weir().current_dir(dir.path()).args(["runs", "show", &id]).output().expect("show");
    let timeline = String::from_utf8_lossy(&output.stdout);
    assert!(timeline.contains("go/vote/grace"), "{timeline}");
    // Both runs (the finished one, the one still paused) replay clean from their journals.
    weir()
        .current_dir(dir.path())
        .args(["replay", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("run {id}: replay matches its journal")));
    let output = weir().current_dir(dir.path()).args(["replay", "--all", "--json"]).output().expect("replay");
    assert_eq!(output.status.code(), Some(0));
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(reports.as_array().map(Vec::len), Some(2));
    assert!(reports.as_array().into_iter().flatten().all(|r| r["divergence"].is_null()), "{reports}");
    weir().current_dir(dir.path()).arg("replay").assert().code(2);
}

#[test]
fn reject_ends_the_run_rejected_and_resume_moves_only_what_should_move() {
    let dir = dir_with(&[("weir.toml", PEOPLE), ("ship.flow", SHIP)]);
    let id = start_paused(dir.path());
    // Nothing is due: a paused run waiting for a person stays paused.
    weir().current_dir(dir.path()).arg("resume").assert().success().stdout("nothing to resume\n");
    weir()
        .current_dir(dir.path())
        .args(["resume", &id, "--json"])
        .assert()
        .code(5)
        .stdout(predicate::str::contains("\"status\": \"paused\""));
    let output = weir()
        .current_dir(dir.path())
        .args(["reject", &id, "go", "--as", "grace", "--reason", "not before the freeze ends", "--json"])
        .output()
        .expect("reject");
    assert_eq!(output.status.code(), Some(6), "{}", String::from_utf8_lossy(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(document["status"], "rejected");
    assert_eq!(document["by"], "grace");
    assert_eq!(document["reason"], "not before the freeze ends");
    let output = weir().current_dir(dir.path()).args(["runs", "--status", "rejected", "--json"]).output();
    let runs: serde_json::Value = serde_json::from_slice(&output.expect("runs").stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
    weir()
        .current_dir(dir.path())
        .args(["reject", &id, "go", "--as", "grace"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already finished (rejected)"));
    weir().args(["resume", "not-a-uuid"]).assert().code(2);
    weir().args(["approve", "not-a-uuid", "go", "--as", "ada"]).assert().code(2);
}

#[test]
fn the_release_example_pauses_and_an_approval_from_its_group_finishes_it() {
    let read = |name: &str| fs::read_to_string(super::root().join("examples").join(name)).expect("example");
    let (toml, flow) = (read("weir.toml"), read("release.flow"));
    let dir = dir_with(&[("weir.toml", &toml), ("release.flow", &flow)]);
    let output =
        weir().current_dir(dir.path()).args(["run", "release.flow", "--as", "ada"]).output().expect("run");
    assert_eq!(output.status.code(), Some(5));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    // The printed command is the one to run (the initiator is not among the deciders).
    let command = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("approve: weir "))
        .expect("an approve line")
        .replace("VALUE", "low");
    assert!(command.contains("--as grace --input risk=low"), "{stdout}");
    weir()
        .current_dir(dir.path())
        .args(command.split(' '))
        .assert()
        .success()
        .stdout(predicate::str::contains("succeeded: { shipped: true, by: \"grace\" }"));
}

const BUILD: &str = "flow build {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  callback done {\n    output { status: \"ok\" | \"broken\", artifacts: list<string> }\n    timeout 1h\n  }\n  step handoff = function { value done.url }\n  step result = wait done\n  output { status: result.status, artifacts: len(result.artifacts), url: handoff.value }\n}\n";

#[test]
fn callback_posts_a_workers_answer_and_continues_the_run() {
    let toml = "[server]\nurl = \"https://weir.example.com\"\n";
    let dir = dir_with(&[("weir.toml", toml), ("build.flow", BUILD)]);
    let output = weir().current_dir(dir.path()).args(["run", "build.flow", "--json"]).output().expect("run");
    assert_eq!(output.status.code(), Some(5), "{}", String::from_utf8_lossy(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(document["waiting"]["kind"], "callback");
    let url = document["waiting"]["url"].as_str().expect("url").to_string();
    assert!(url.starts_with("https://weir.example.com/callbacks/"), "{url}");
    // A body of the wrong type is refused before it is stored; so is an unknown token.
    weir()
        .current_dir(dir.path())
        .args(["callback", &url, "--json-body", r#"{"status": "fine", "artifacts": []}"#])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`body.status` must be one of \"ok\" | \"broken\", got \"fine\""));
    weir()
        .current_dir(dir.path())
        .args(["callback", "0000", "--json-body", "{}"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no callback with this token"));
    weir().current_dir(dir.path()).args(["callback", &url, "--json-body", "{not json"]).assert().code(2);
    // The token alone works as well as the URL.
    let token = url.rsplit('/').next().expect("token");
    weir()
        .current_dir(dir.path())
        .args(["callback", token, "--json-body", r#"{"status": "ok", "artifacts": ["a.tar", "b.tar"]}"#])
        .assert()
        .success()
        .stdout(predicate::str::contains("posted to callback `done`"))
        .stdout(predicate::str::contains("succeeded: { status: \"ok\", artifacts: 2"));
    weir()
        .current_dir(dir.path())
        .args(["callback", &url, "--json-body", r#"{"status": "ok", "artifacts": []}"#])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has finished"));
}

#[test]
fn a_run_over_the_concurrency_limit_queues_and_resume_starts_it() {
    let single = SHIP.replace("concurrency max 5 queue", "concurrency max 1 queue");
    let dir = dir_with(&[("weir.toml", PEOPLE), ("ship.flow", &single)]);
    let first = start_paused(dir.path());
    let output = weir().current_dir(dir.path()).args(["run", "ship.flow", "--json"]).output().expect("run");
    assert_eq!(output.status.code(), Some(7), "{}", String::from_utf8_lossy(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!((document["status"].as_str(), document["key"].as_str()), (Some("queued"), Some("ship")));
    weir()
        .current_dir(dir.path())
        .args(["approve", &first, "go", "--as", "grace", "--input", "risk=low"])
        .assert()
        .success();
    // The slot is free: resume starts the queued run, which pauses at its own approval.
    weir()
        .current_dir(dir.path())
        .arg("resume")
        .assert()
        .success()
        .stdout(predicate::str::contains("paused: approval `go`"));
}

/// A server on 127.0.0.1 answering `{"id": 7}` to everything; counts requests.
fn counting_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let port = super::http::serve(move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (200, r#"{"id": 7}"#.to_string())
    });
    (port, count)
}

#[test]
fn resolve_decides_a_write_whose_outcome_is_unknown() {
    let (port, count) = counting_server();
    let toml = format!(
        "[connections.local]\ntype = \"http\"\nbase_url = \"http://127.0.0.1:{port}\"\nallow_private_network = true\n"
    );
    let flow = "flow poster {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  step send = http POST \"/notes\" {\n    connection local\n    body { note: \"hi\" }\n    output { id: int }\n  }\n  output { id: send.body.id }\n}\n";
    let dir = dir_with(&[("weir.toml", &toml), ("poster.flow", flow)]);
    let id = "01900000-0000-7000-8000-00000000000a";
    // The process dies right after the response arrived, before its outcome is journaled.
    let output = weir()
        .current_dir(dir.path())
        .env("WEIR_CRASH_AT", "after-effect:1")
        .args(["run", "poster.flow", "--id", id])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), None, "killed by its crash point");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    weir()
        .current_dir(dir.path())
        .args(["resume", id])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("needs a decision: step send was started"));
    weir().current_dir(dir.path()).args(["resolve", id, "--retry"]).assert().success().stdout(
        predicate::str::contains("step send will be sent again")
            .and(predicate::str::contains("succeeded: { id: 7 }")),
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2, "sent again only when a person said so");
    weir()
        .current_dir(dir.path())
        .args(["resolve", id, "--done"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not waiting for a decision"));
}

#[test]
fn run_detach_journals_the_start_and_resume_drives_it() {
    let dir = dir_with(&[("clean.flow", CLEAN)]);
    let output = weir()
        .current_dir(dir.path())
        .args(["run", "clean.flow", "--detach", "--json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(document["status"], "queued");
    let id = document["run"].as_str().expect("id").to_string();
    weir()
        .current_dir(dir.path())
        .arg("resume")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("run {id} succeeded: {{ a: 3 }}")));
    weir().current_dir(dir.path()).arg("resume").assert().success().stdout("nothing to resume\n");
}

#[test]
fn retry_starts_a_linked_run_from_the_failed_step() {
    let flow = "flow doomed {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  step a = function { value 1 }\n  fail \"always\" code \"always\"\n}\n";
    let dir = dir_with(&[("doomed.flow", flow)]);
    let output = weir().current_dir(dir.path()).args(["run", "doomed.flow", "--json"]).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let id = document["run"].as_str().expect("id").to_string();
    // A deterministic failure fails again, in a new run linked to the first.
    let output = weir().current_dir(dir.path()).args(["retry", &id, "--json"]).output().expect("retry");
    assert_eq!(output.status.code(), Some(1));
    let again: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_ne!(again["run"], document["run"]);
    assert_eq!(again["error"]["code"], "always");
    let runs = weir().current_dir(dir.path()).args(["runs", "--json"]).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(2));
    weir()
        .current_dir(dir.path())
        .args(["retry", "01900000-0000-7000-8000-0000000000ff"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no run"));
}

#[test]
fn run_resolves_a_call_against_the_projects_flows() {
    let child = "flow double {\n  version \"1.1.0\"\n  concurrency unlimited because \"called by others\"\n  trigger manual\n  input { n: int }\n\n  output { twice: input.n * 2 }\n}\n";
    let parent = "flow parent {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  step doubled = call double@^1 {\n    input { n: 21 }\n  }\n  output { result: doubled.twice }\n}\n";
    let dir = dir_with(&[
        ("weir.toml", "[project]\nname = \"calls\"\n"),
        ("double.flow", child),
        ("parent.flow", parent),
    ]);
    weir()
        .current_dir(dir.path())
        .args(["run", "parent.flow"])
        .assert()
        .success()
        .stdout(predicate::str::contains("call doubled starts double 1.1.0 as run"))
        .stdout(predicate::str::contains("succeeded: { result: 42 }"));
    let output = weir().current_dir(dir.path()).args(["runs", "--json"]).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(2), "the parent and its child");
    weir().current_dir(dir.path()).args(["replay", "--all"]).assert().success();
}

#[test]
fn run_takes_a_flow_slug_of_the_project() {
    let dir = dir_with(&[("weir.toml", "[project]\nname = \"slugs\"\n"), ("flows/clean.flow", CLEAN)]);
    weir()
        .current_dir(dir.path())
        .args(["run", "wibble"])
        .assert()
        .success()
        .stdout(predicate::str::contains("succeeded: { a: 3 }"));
    weir()
        .current_dir(dir.path())
        .args(["run", "no-such-flow"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn gc_deletes_old_finished_runs_and_keeps_the_rest() {
    let dir = dir_with(&[("weir.toml", PEOPLE), ("ship.flow", SHIP), ("clean.flow", CLEAN)]);
    weir().current_dir(dir.path()).args(["run", "clean.flow"]).assert().success();
    weir().current_dir(dir.path()).args(["run", "clean.flow"]).assert().success();
    let paused = start_paused(dir.path());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let output =
        weir().current_dir(dir.path()).args(["gc", "--older-than", "0s", "--dry-run", "--json"]).output();
    let document: serde_json::Value = serde_json::from_slice(&output.expect("gc").stdout).expect("json");
    assert_eq!(document["runs"].as_array().map(Vec::len), Some(2), "{document}");
    weir()
        .current_dir(dir.path())
        .args(["gc", "--older-than", "0s"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2 finished runs older than 0s deleted"));
    let runs = weir().current_dir(dir.path()).args(["runs", "--json"]).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("json");
    let ids: Vec<&str> = runs.as_array().into_iter().flatten().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, [paused.as_str()], "only the paused run is left");
    weir().current_dir(dir.path()).args(["gc", "--older-than", "soon"]).assert().code(2);
}
