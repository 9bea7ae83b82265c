//! Checks that look past one file, end to end through `weir check`: two flows of a project
//! on one webhook path, and `--against OLD.flow` (semver of a flow's interface).

use assert_cmd::Command;
use std::fs;

fn weir() -> Command {
    Command::cargo_bin("weir").expect("the weir binary is built")
}

fn hook(slug: &str, path: &str) -> String {
    format!(
        "flow {slug} {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger webhook \"{path}\" verify hmac(secret hook)\n  log \"called\"\n}}\n"
    )
}

const CONFIG: &str = "[secrets]\nhook = \"env:HOOK_SECRET\"\n";

fn stdout(command: &mut Command, code: i32) -> String {
    let output = command.assert().code(code).get_output().stdout.clone();
    String::from_utf8(output).expect("utf8")
}

#[test]
fn two_files_of_a_project_on_one_webhook_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("weir.toml"), CONFIG).expect("write");
    fs::write(dir.path().join("a.flow"), hook("wibble", "/hooks/deploy")).expect("write");
    fs::write(dir.path().join("b.flow"), hook("wobble", "hooks/deploy/")).expect("write");
    fs::write(dir.path().join("c.flow"), hook("wubble", "/hooks/other")).expect("write");
    // Both files checked: the second in path order is reported, naming the first.
    let text = stdout(weir().arg("check").arg(dir.path()).args(["--color", "never"]), 1);
    assert!(text.contains("webhook path `/hooks/deploy` is taken twice"), "{text}");
    assert!(text.contains("flow `wibble` already listens on `/hooks/deploy` in"), "{text}");
    assert!(text.contains("a.flow`"), "{text}");
    assert!(text.contains("1 error"), "{text}");
    // Only the first file checked: the project's other files still take their paths.
    let text = stdout(weir().arg("check").arg(dir.path().join("a.flow")).args(["--color", "never"]), 1);
    assert!(text.contains("flow `wobble` already listens on `/hooks/deploy` in"), "{text}");
    // A file outside the project (no weir.toml above it) is another server.
    let other = tempfile::tempdir().expect("temp dir");
    fs::write(other.path().join("d.flow"), hook("wibble", "/hooks/deploy")).expect("write");
    let text = stdout(
        weir().arg("check").arg(dir.path().join("c.flow")).arg(other.path()).args(["--color", "never"]),
        0,
    );
    assert!(text.contains("0 errors"), "{text}");
}

const OLD: &str = "flow wibble {\n  version \"1.4.2\"\n  concurrency max 1 queue\n  trigger manual\n  input { repo: string, pr: int }\n  log \"{input.repo}#{input.pr}\"\n}\n";

fn new_flow(version: &str, input: &str) -> String {
    format!(
        "flow wibble {{\n  version \"{version}\"\n  concurrency max 1 queue\n  trigger manual\n  input {{ {input} }}\n  log \"{{input.repo}}\"\n}}\n"
    )
}

#[test]
fn against_an_older_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = dir.path().join("old.flow");
    fs::write(&old, OLD).expect("write");
    let new = dir.path().join("new/wibble.flow");
    fs::create_dir_all(new.parent().expect("parent")).expect("mkdir");
    let check = |version: &str, input: &str, code: i32| {
        fs::write(&new, new_flow(version, input)).expect("write");
        stdout(weir().arg("check").arg(&new).arg("--against").arg(&old).args(["--format", "json"]), code)
    };
    let breaking = check("1.5.0", "repo: string", 1);
    let json: serde_json::Value = serde_json::from_str(&breaking).expect("json");
    let text = json.to_string();
    assert!(text.contains("E0504") && text.contains("input `pr` removed"), "{text}");
    let major: serde_json::Value = serde_json::from_str(&check("2.0.0", "repo: string", 0)).expect("json");
    assert_eq!(major["diagnostics"], serde_json::json!([]), "{major}");
    let added = check("1.4.3", "repo: string, pr: int, draft: bool = false", 0);
    assert!(added.contains("W0502") && added.contains("optional input `draft` added"), "{added}");
    weir().arg("check").arg(&new).arg("--against").arg(&old).args(["--deny", "warnings"]).assert().code(1);
    let clean = check("1.5.0", "repo: string, pr: int, draft: bool = false", 0);
    assert!(!clean.contains("W0502") && !clean.contains("E0504"), "{clean}");
}

#[test]
fn against_needs_a_readable_old_flow_with_the_same_slug() {
    let dir = tempfile::tempdir().expect("temp dir");
    let new = dir.path().join("wibble.flow");
    fs::write(&new, new_flow("1.0.0", "repo: string")).expect("write");
    let missing = dir.path().join("missing.flow");
    weir().arg("check").arg(&new).arg("--against").arg(&missing).assert().code(2);
    let other = dir.path().join("other.flow");
    fs::write(&other, OLD.replace("wibble", "wobble")).expect("write");
    let out = weir()
        .arg("check")
        .arg(&new)
        .arg("--against")
        .arg(&other)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("`wobble`"), "{}", String::from_utf8_lossy(&out));
    let broken = dir.path().join("broken.flow");
    fs::write(&broken, "flow wibble {\n  stpe a = sleep 1s\n}\n").expect("write");
    weir().arg("check").arg(&new).arg("--against").arg(&broken).assert().code(2);
}
