//! The credential corpus (`tests/secrets/`): every fake credential of `credentials.txt` is
//! reported wherever it is written (a header value, a body field, a URL, a const), no
//! look-alike of `lookalikes.txt` is, `keyed.txt` holds literals that are credentials only
//! by the name they are given to, and no rendering ever prints a credential in full.

use super::root;
use weir_compiler::render::{FileReport, HumanOptions, json_report, render_human};
use weir_diagnostics::{Code, Diagnostic};

/// The places a literal is embedded in: a name and the flow around it.
const PLACES: &[(&str, &str)] = &[
    (
        "header",
        "step send = http POST \"/wibble\" {\n    connection api\n    headers { \"X-Wibble\": \"VALUE\" }\n  }",
    ),
    (
        "body field",
        "step send = http POST \"/wibble\" {\n    connection api\n    body { wibble: \"VALUE\" }\n  }",
    ),
    ("URL", "step send = http POST \"/wibble/VALUE/wobble\" {\n    connection api\n  }"),
    (
        "const",
        "const WIBBLE = \"VALUE\"\n  log \"{WIBBLE}\"\n  step send = http POST \"/wibble\" {\n    connection api\n  }",
    ),
];

/// A clean flow around `body`.
fn flow(body: &str) -> String {
    format!(
        "flow wibble {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n\n  {body}\n  output {{ status: send.status }}\n}}\n"
    )
}

/// The non-comment lines of a corpus file.
fn corpus(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/secrets").join(name)).expect("corpus file");
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

fn credential_diagnostics(text: &str) -> Vec<Diagnostic> {
    let (_, diagnostics) = weir_compiler::check::diagnose(text.as_bytes(), None);
    diagnostics.into_iter().filter(|d| d.code == Code::CredentialInFlow).collect()
}

/// Everything `weir check` would print for `text`: human and JSON renderings of the
/// redacted text.
fn renderings(text: &str, diagnostics: &[Diagnostic]) -> String {
    let shown = weir_config::redact(text, diagnostics);
    let human = render_human("wibble.flow", &shown, diagnostics, HumanOptions::default());
    let json = json_report(&[FileReport { path: "wibble.flow", text: &shown, diagnostics }]);
    format!("{human}\n{json}")
}

/// The text a credential diagnostic points at must never be printed, nor a corpus value.
fn leaks(text: &str, value: &str, diagnostics: &[Diagnostic]) -> Option<String> {
    let rendered = renderings(text, diagnostics);
    if rendered.contains(value) {
        return Some(format!("the whole value is printed:\n{rendered}"));
    }
    for d in diagnostics {
        let secret = &text[d.span().range()];
        if rendered.contains(secret) {
            return Some(format!("`{secret}` is printed:\n{rendered}"));
        }
    }
    None
}

#[test]
fn every_fake_credential_is_found_and_never_printed() {
    let credentials = corpus("credentials.txt");
    assert!(credentials.len() >= 50, "at least 50 credentials, found {}", credentials.len());
    let mut misses = Vec::new();
    for value in &credentials {
        assert!(!value.contains('"') && !value.contains('{'), "write corpus lines as in a string: {value}");
        for (place, shape) in PLACES {
            let text = flow(&shape.replace("VALUE", value));
            let diagnostics = credential_diagnostics(&text);
            if diagnostics.is_empty() {
                misses.push(format!("{place}: {value}"));
            } else if let Some(leak) = leaks(&text, value, &diagnostics) {
                misses.push(format!("{place}: {value}: {leak}"));
            }
        }
    }
    assert!(misses.is_empty(), "{} misses or leaks:\n{}", misses.len(), misses.join("\n"));
}

#[test]
fn no_lookalike_is_taken_for_a_credential() {
    let lookalikes = corpus("lookalikes.txt");
    assert!(lookalikes.len() >= 50, "at least 50 look-alikes, found {}", lookalikes.len());
    let mut alarms = Vec::new();
    for value in &lookalikes {
        assert!(!value.contains('"') && !value.contains('{'), "write corpus lines as in a string: {value}");
        for (place, shape) in PLACES {
            let text = flow(&shape.replace("VALUE", value));
            for d in credential_diagnostics(&text) {
                alarms.push(format!("{place}: {value}: {}", d.message));
            }
        }
    }
    assert!(alarms.is_empty(), "{} false alarms:\n{}", alarms.len(), alarms.join("\n"));
}

#[test]
fn names_make_literals_credentials() {
    let mut wrong = Vec::new();
    let lines = corpus("keyed.txt");
    assert!(lines.iter().any(|l| l.starts_with("flag")) && lines.iter().any(|l| l.starts_with("pass")));
    for line in &lines {
        let mut words = line.splitn(4, ' ');
        let (Some(verdict), Some(place), Some(name), Some(value)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            panic!("`VERDICT PLACE NAME VALUE`: {line}");
        };
        let body = match place {
            "header" => format!(
                "step send = http POST \"/wibble\" {{\n    connection api\n    headers {{ \"{name}\": \"{value}\" }}\n  }}"
            ),
            "env" => format!(
                "step run = ssh {{\n    connection vm\n    command \"true\"\n    env {{ {name}: \"{value}\" }}\n  }}\n  step send = http POST \"/wibble\" {{\n    connection api\n    body {{ exit: run.exit_code }}\n  }}"
            ),
            "field" => format!(
                "step send = http POST \"/wibble\" {{\n    connection api\n    body {{ {name}: \"{value}\" }}\n  }}"
            ),
            "const" => format!(
                "const {name} = \"{value}\"\n  log \"{{{name}}}\"\n  step send = http POST \"/wibble\" {{\n    connection api\n  }}"
            ),
            other => panic!("unknown place `{other}`: {line}"),
        };
        let text = flow(&body);
        let diagnostics = credential_diagnostics(&text);
        match (verdict, diagnostics.is_empty()) {
            ("flag", true) => wrong.push(format!("missed: {line}")),
            ("pass", false) => wrong.push(format!("false alarm: {line}: {}", diagnostics[0].message)),
            ("flag", false) => {
                if let Some(leak) = leaks(&text, value, &diagnostics) {
                    wrong.push(format!("{line}: {leak}"));
                }
            }
            ("pass", true) => {}
            (other, _) => panic!("unknown verdict `{other}`: {line}"),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn weir_check_never_prints_a_credential_in_a_flow() {
    let token = "ghp_WibbleWobble0123456789WibbleWobble01";
    let password = "Wobble-Wibble-77";
    let text = flow(&format!(
        "step send = http POST \"/wibble\" {{\n    connection api\n    headers {{ Authorization: \"Bearer {token}\" }}\n    body {{ url: \"postgres://weir:{password}@db.internal/orders\" }}\n  }}"
    ));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("wibble.flow");
    std::fs::write(&path, &text).expect("write flow");
    for format in ["human", "json"] {
        let output = assert_cmd::Command::cargo_bin("weir")
            .expect("weir binary")
            .args(["check", "--format", format])
            .arg(&path)
            .output()
            .expect("run weir");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stdout.contains("credential-in-flow"), "{stdout}");
        for secret in [&token[4..], password] {
            assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} printed:\n{stdout}");
        }
    }
}
