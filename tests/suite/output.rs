//! Machine output of `weir check` for CI: the SARIF log (validated against the official
//! schema vendored in tests/sarif/), GitHub annotations, and the GitHub Action's script
//! (ci/action.sh) run locally with the weir just built.

use super::root;
use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn weir() -> Command {
    Command::cargo_bin("weir").expect("the weir binary is built")
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
    dir
}

/// A flow with errors (no concurrency; an unknown input on a line of non-ASCII text) and a
/// warning (a schedule without a time zone).
const BAD: &str = "flow nightly-cleanup {\n  version \"1.0.0\"\n  trigger schedule \"0 3 * * *\"\n\
                   \x20 log \"ünïcödé 😀 {input.wibble}\"\n}\n";

/// A weir.toml with an error (an unknown key) and a warning (plain http to a public host).
const BAD_TOML: &str = "[connections.wibble]\ntype = \"http\"\n\
                        base_url = \"http://api.wibble.example.com\"\nirreversable = true\n";

/// Only a warning.
const WARNS: &str = "flow wobble {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\
                     \x20 step a = function { value 1 }\n}\n";

/// The vendored SARIF 2.1.0 schema, compiled, with format assertions (`uri`, …) on.
fn sarif_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let text = fs::read_to_string(root().join("tests/sarif/sarif-schema-2.1.0.json")).expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let location = schema["$id"].as_str().expect("$id").to_string();
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V7);
    compiler.enable_format_assertions();
    compiler.add_resource(&location, schema).expect("add schema");
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile(&location, &mut schemas).expect("compile schema");
    (schemas, index)
}

fn assert_valid_sarif(log: &Value) {
    let (schemas, index) = sarif_schema();
    if let Err(error) = schemas.validate(log, index) {
        panic!("the SARIF log does not follow the schema:\n{error:#}\n{log:#}");
    }
}

fn sarif_of(dir: &Path, args: &[&str]) -> (Value, i32) {
    let out = weir().current_dir(dir).args(["check", "--format", "sarif"]).args(args).output().expect("run");
    let log = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    (log, out.status.code().unwrap_or(-1))
}

#[test]
fn sarif_follows_the_official_schema() {
    let dir = dir_with(&[("weir.toml", BAD_TOML), ("flows/bad.flow", BAD), ("flows/warns.flow", WARNS)]);
    let (log, code) = sarif_of(dir.path(), &["."]);
    assert_eq!(code, 1);
    assert_valid_sarif(&log);
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "weir");
    assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run["columnKind"], "utf16CodeUnits");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), weir_diagnostics::ALL_CODES.len());
    for (rule, info) in rules.iter().zip(weir_diagnostics::ALL_CODES) {
        assert_eq!(rule["id"], info.short);
        assert_eq!(rule["name"], info.name);
        assert_eq!(rule["helpUri"], info.code.docs_url());
    }
    let results = run["results"].as_array().expect("results");
    let seen: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap_or(""),
                r["ruleId"].as_str().unwrap_or(""),
                r["level"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // weir.toml first (reported before the first flow that uses it), then flows in path order.
    assert_eq!(
        seen,
        vec![
            ("weir.toml", "W0101", "warning"),
            ("weir.toml", "E0102", "error"),
            ("flows/bad.flow", "E0301", "error"),
            ("flows/bad.flow", "W0304", "warning"),
            ("flows/bad.flow", "E0211", "error"),
            ("flows/warns.flow", "W0202", "warning"),
        ]
    );
    for result in results {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
    // Byte-for-byte the same on a second run.
    assert_eq!(sarif_of(dir.path(), &["."]).0, log);
}

#[test]
fn the_schema_rejects_a_broken_log() {
    // The validator is not a rubber stamp: a line 0 and a missing message are refused.
    let dir = dir_with(&[("bad.flow", BAD)]);
    let (mut log, _) = sarif_of(dir.path(), &["bad.flow"]);
    assert_valid_sarif(&log);
    let (schemas, index) = sarif_schema();
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0.into();
    assert!(schemas.validate(&broken, index).is_err());
    log["runs"][0]["results"][0].as_object_mut().expect("result").remove("message");
    assert!(schemas.validate(&log, index).is_err());
}

#[test]
fn sarif_columns_count_utf16_code_units() {
    let dir = dir_with(&[("bad.flow", BAD)]);
    let (log, _) = sarif_of(dir.path(), &["bad.flow"]);
    let result = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "E0211")
        .expect("the unknown input is reported");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    // `  log "ünïcödé 😀 {input.wibble}"`: `wibble` starts after 24 characters, which are
    // 25 UTF-16 code units (the emoji is two) and 31 bytes.
    let line = BAD.lines().nth(3).expect("line 4");
    let before = &line[..line.find("wibble").expect("found")];
    assert_eq!((before.chars().count(), before.encode_utf16().count(), before.len()), (24, 25, 31));
    assert_eq!(region["startLine"], 4);
    assert_eq!(region["startColumn"], 26);
    assert_eq!(region["endLine"], 4);
    assert_eq!(region["endColumn"], 26 + "wibble".len());
    assert_eq!(
        result["message"]["text"],
        "the flow has no input `wibble`\nhelp: declare it: `input { NAME: TYPE }`"
    );
}

#[test]
fn github_annotations_exactly() {
    let dir = dir_with(&[("bad.flow", BAD)]);
    let out =
        weir().current_dir(dir.path()).args(["check", "--format", "github", "."]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).expect("utf8");
    let want = concat!(
        "::error file=bad.flow,line=1,col=6,endLine=1,endColumn=21,title=E0301 missing-concurrency::",
        "flow `nightly-cleanup` says nothing about concurrency%0Ahelp: ",
        "add `concurrency max N [per input.KEY] ",
        "queue|skip|cancel-previous`, or `concurrency unlimited because \"…\"`\n",
        "::warning file=bad.flow,line=3,col=20,endLine=3,endColumn=31,title=W0304 schedule-without-tz::",
        "this schedule has no time zone: UTC is assumed%0Ahelp: say which clock it follows: ",
        "`tz \"Europe/Oslo\"` (or `tz \"UTC\"` on purpose)\n",
        "::error file=bad.flow,line=4,col=25,endLine=4,endColumn=31,title=E0211 unknown-input::",
        "the flow has no input `wibble`%0Ahelp: declare it: `input { NAME: TYPE }`\n",
        "1 file, 2 errors, 1 warning\n",
    );
    assert_eq!(text, want);
}

#[test]
fn github_deny_warnings_and_clean() {
    let dir = dir_with(&[("warns.flow", WARNS)]);
    let run = |args: &[&str]| weir().current_dir(dir.path()).args(args).output().expect("run");
    let out = run(&["check", "--format", "github", "warns.flow"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("::warning file=warns.flow,line=5,"));
    assert_eq!(
        run(&["check", "--format", "github", "--deny", "warnings", "warns.flow"]).status.code(),
        Some(1)
    );
    let clean = dir_with(&[(
        "a.flow",
        "flow wibble {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n}\n",
    )]);
    let out = weir().current_dir(clean.path()).args(["check", "--format", "github"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 file, 0 errors, 0 warnings\n");
}

#[test]
fn suppressions_apply_in_weir_check() {
    let flow = "flow wibble {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\
                \x20 # allow(unused-step): warms the cache\n  step a = function { value 1 }\n\
                \x20 # allow(unused-step): nothing here\n  log \"x\"\n}\n";
    let dir = dir_with(&[("a.flow", flow)]);
    let out =
        weir().current_dir(dir.path()).args(["check", "--format", "github", "a.flow"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("W0202"), "{text}");
    assert!(text.starts_with("::warning file=a.flow,line=7,col=3,"), "{text}");
    assert!(text.contains("title=W0002 unused-suppression::"), "{text}");
    // Suppressions apply before weir.toml's [checks] levels: turning the warning off there
    // leaves nothing (the weir.toml counts as a file checked).
    let toml = "[checks]\nunused-suppression = \"off\"\n";
    let dir = dir_with(&[("a.flow", flow), ("weir.toml", toml)]);
    let out =
        weir().current_dir(dir.path()).args(["check", "--format", "github", "a.flow"]).output().expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 files, 0 errors, 0 warnings\n");
}

/// Run ci/action.sh in `dir` with the weir just built first on PATH.
fn action(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_weir")).parent().expect("bin dir").to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let mut command = std::process::Command::new("bash");
    command.arg(root().join("ci/action.sh")).current_dir(dir).env("PATH", path).env("WEIR_SKIP_INSTALL", "1");
    for key in ["WEIR_PATHS", "WEIR_VERSION", "WEIR_SARIF_FILE", "WEIR_DENY_WARNINGS", "GITHUB_OUTPUT"] {
        command.env_remove(key);
    }
    command.envs(env.iter().copied()).output().expect("run bash ci/action.sh")
}

#[test]
fn the_action_script_annotates_writes_sarif_and_exits_with_weirs_code() {
    let dir = dir_with(&[("flows/bad.flow", BAD), ("flows/warns.flow", WARNS), ("other/warns.flow", WARNS)]);
    let outputs = dir.path().join("github-output");
    let out = action(
        dir.path(),
        &[
            ("WEIR_PATHS", "flows"),
            ("WEIR_SARIF_FILE", "out/weir.sarif"),
            ("GITHUB_OUTPUT", outputs.to_str().expect("utf8")),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("::error file=flows/bad.flow,line=1,col=6,"), "{stdout}");
    assert!(stdout.contains("::warning file=flows/warns.flow,line=5,"), "{stdout}");
    assert!(!stdout.contains("other/"), "only the paths given: {stdout}");
    assert!(stdout.ends_with("2 files, 2 errors, 2 warnings\n"), "{stdout}");
    // The SARIF file's directory is created.
    let log: Value =
        serde_json::from_slice(&fs::read(dir.path().join("out/weir.sarif")).expect("SARIF written"))
            .expect("SARIF is JSON");
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"].as_array().map(Vec::len), Some(4));
    assert_eq!(fs::read_to_string(&outputs).expect("outputs"), "sarif-file=out/weir.sarif\n");

    // Warnings only: success, unless warnings are denied. Several paths, one per line.
    let out = action(dir.path(), &[("WEIR_PATHS", "flows/warns.flow\nother"), ("WEIR_SARIF_FILE", "")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!dir.path().join("weir.sarif").exists(), "an empty sarif-file writes none");
    let out = action(
        dir.path(),
        &[("WEIR_PATHS", "flows/warns.flow other"), ("WEIR_DENY_WARNINGS", "true"), ("WEIR_SARIF_FILE", "")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("2 files, 0 errors, 2 warnings\n"));

    // A path that does not exist is a usage error; the default SARIF file is weir.sarif.
    let out = action(dir.path(), &[("WEIR_PATHS", "nope")]);
    assert_eq!(out.status.code(), Some(2));
    let out = action(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(dir.path().join("weir.sarif").is_file());
}

#[test]
fn the_action_and_hooks_run_the_script_and_commands_they_say() {
    let action = fs::read_to_string(root().join("action.yml")).expect("action.yml");
    for needle in [
        "using: composite",
        "run: bash \"$GITHUB_ACTION_PATH/ci/action.sh\"",
        "WEIR_PATHS: ${{ inputs.paths }}",
        "WEIR_VERSION: ${{ inputs.version }}",
        "WEIR_SARIF_FILE: ${{ inputs.sarif-file }}",
        "WEIR_DENY_WARNINGS: ${{ inputs.deny-warnings }}",
        "default: weir.sarif",
    ] {
        assert!(action.contains(needle), "action.yml lacks {needle:?}");
    }
    let script = fs::read_to_string(root().join("ci/action.sh")).expect("ci/action.sh");
    assert!(
        script.contains("cargo \"${install[@]}\" weir") && script.contains("install=(install --locked --git")
    );
    let hooks = fs::read_to_string(root().join(".pre-commit-hooks.yaml")).expect(".pre-commit-hooks.yaml");
    for needle in [
        "id: weir-check",
        "entry: weir check\n",
        "id: weir-fmt",
        "entry: weir fmt --check\n",
        "files: '\\.flow$'",
    ] {
        assert!(hooks.contains(needle), ".pre-commit-hooks.yaml lacks {needle:?}");
    }
}
