//! Formatter corpus and invariants.
//!
//! - `tests/fmt/<case>.flow` formats to `tests/fmt/<case>.expected.flow`, and the input is not
//!   already canonical (each case must show the formatter doing something);
//! - on every `.flow` in the repository that parses without errors: formatting is
//!   idempotent, leaves the tree unchanged (ignoring spans), and keeps every comment.

use super::{bless, flows_under, root, without_spans};
use weir_compiler::format::format_text;

#[test]
fn fmt_corpus() {
    let dir = root().join("tests/fmt");
    let inputs: Vec<_> =
        flows_under(&dir).into_iter().filter(|p| !p.to_string_lossy().ends_with(".expected.flow")).collect();
    assert!(inputs.len() >= 20, "expected at least 20 formatter cases, found {}", inputs.len());
    let mut failures = Vec::new();
    for input in &inputs {
        let text = std::fs::read_to_string(input).expect("read case");
        let expected_path = input.with_extension("expected.flow");
        let formatted = match format_text(&text) {
            Ok(formatted) => formatted,
            Err(e) => {
                failures.push(format!("{}: {e}", input.display()));
                continue;
            }
        };
        if formatted == text {
            failures.push(format!("{}: already canonical; a case must change", input.display()));
        }
        if bless() {
            std::fs::write(&expected_path, &formatted).expect("write expected");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == formatted => {}
            Ok(expected) => failures.push(format!(
                "{}: formatted output differs from {}\n--- got\n{formatted}--- want\n{expected}",
                input.display(),
                expected_path.display()
            )),
            Err(_) => failures.push(format!(
                "{}: missing {} (WEIR_BLESS=1)",
                input.display(),
                expected_path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The formatter's three invariants on one text; `Err` describes the first broken one.
pub fn check_invariants(text: &str) -> Result<(), String> {
    let parsed = weir_grammar::parse(text);
    if parsed.has_errors() {
        return Ok(());
    }
    let once = format_text(text).map_err(|e| e.to_string())?;
    let twice = format_text(&once).map_err(|e| format!("formatted output does not parse: {e}"))?;
    if once != twice {
        return Err(format!("not idempotent:\n--- once\n{once}--- twice\n{twice}"));
    }
    let reparsed = weir_grammar::parse(&once);
    let before = without_spans(serde_json::to_value(&parsed.file).expect("ast to json"));
    let after = without_spans(serde_json::to_value(&reparsed.file).expect("ast to json"));
    if before != after {
        return Err(format!("the tree changed:\n--- formatted\n{once}"));
    }
    let comments = |t: &str, p: &weir_grammar::Parsed| -> Vec<String> {
        p.trivia.comments.iter().map(|c| t[c.span.range()].to_string()).collect()
    };
    if comments(text, &parsed) != comments(&once, &reparsed) {
        return Err("a comment was lost or changed".into());
    }
    Ok(())
}

#[test]
fn fmt_invariants_on_every_flow_in_the_repository() {
    let root = root();
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in ["stdlib-flows", "tests", "docs", "benches"] {
        for path in flows_under(&root.join(dir)) {
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            checked += 1;
            if let Err(why) = check_invariants(&text) {
                failures.push(format!("{}: {why}", path.display()));
            }
        }
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
