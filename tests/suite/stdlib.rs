//! Every flow in stdlib-flows/ checks clean, is formatted, and is restored byte for byte
//! from a copy with its indentation stripped (outside multi-line strings).

use super::{flows_under, root};
use weir_compiler::format::format_text;

#[test]
fn stdlib_flows_are_clean_and_formatted() {
    let flows = flows_under(&root().join("stdlib-flows"));
    assert!(flows.len() >= 12, "stdlib-flows/ should hold at least 12 flows, found {}", flows.len());
    let mut failures = Vec::new();
    for path in &flows {
        let text = std::fs::read_to_string(path).expect("read flow");
        let parsed = weir_grammar::parse(&text);
        if !parsed.diagnostics.is_empty() {
            failures.push(format!("{}: {:?}", path.display(), parsed.diagnostics));
            continue;
        }
        match format_text(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                failures.push(format!("{}: not formatted; `weir fmt` gives\n{formatted}", path.display()))
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
        let stripped = strip_indentation(&text);
        match format_text(&stripped) {
            Ok(restored) if restored == text => {}
            Ok(restored) => {
                failures.push(format!("{}: stripped copy formats to\n{restored}", path.display()))
            }
            Err(e) => failures.push(format!("{}: stripped copy: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Remove leading whitespace from every line that does not lie inside a `"""` string.
fn strip_indentation(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_multi = false;
    for line in text.split_inclusive('\n') {
        if in_multi {
            out.push_str(line);
        } else {
            out.push_str(line.trim_start_matches([' ', '\t']));
        }
        if line.matches("\"\"\"").count() % 2 == 1 {
            in_multi = !in_multi;
        }
    }
    out
}
