//! SARIF 2.1.0: one log for all files checked, for code-scanning services (GitHub code
//! scanning reads it). Every registered code is a rule, so a result's `ruleIndex` is its
//! code's place in the registry. Columns are in UTF-16 code units, SARIF's default
//! `columnKind`, which the run states explicitly.

use serde_json::{Value, json};
use weir_diagnostics::{ALL_CODES, Diagnostic, LineIndex, Severity, Span};

/// The schema the log declares (the `$id` of the OASIS schema vendored in `tests/sarif/`).
pub const SARIF_SCHEMA: &str =
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

/// Where people learn about the tool.
pub const INFORMATION_URI: &str = "https://github.com/weir-flow/weir";

/// SARIF's word for a severity.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "note",
    }
}

/// The rule of every registered code, in registry order.
fn rules() -> Vec<Value> {
    ALL_CODES
        .iter()
        .map(|info| {
            json!({
                "id": info.short,
                "name": info.name,
                "shortDescription": { "text": info.summary },
                "helpUri": info.code.docs_url(),
                "defaultConfiguration": { "level": level(info.severity) },
            })
        })
        .collect()
}

/// A path as a relative URI reference: forward slashes, no leading `./`, and every byte
/// outside the URI's unreserved and path characters percent-encoded (a `:` too, so that
/// `a:b.flow` is not read as a scheme). An absolute path becomes a `file://` URI.
pub fn path_uri(path: &str) -> String {
    let path = super::github::repository_path(path);
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    let (prefix, rest) = if drive {
        (format!("file:///{}", &path[..2]), &path[2..])
    } else if path.starts_with('/') {
        ("file://".to_string(), path.as_str())
    } else {
        (String::new(), path.as_str())
    };
    let mut out = prefix;
    for byte in rest.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The 1-based line and UTF-16 column of byte `offset`.
fn position(text: &str, index: &LineIndex, offset: u32) -> (u32, u32) {
    let line = index.line_col(text, offset).line;
    let start = index.line_start(line).unwrap_or(0) as usize;
    let mut end = (offset as usize).min(text.len()).max(start);
    while end > start && !text.is_char_boundary(end) {
        end -= 1;
    }
    let column = text[start..end].encode_utf16().count() as u32 + 1;
    (line, column)
}

/// A SARIF region: lines and columns of the span, the end column being the one after it.
fn region(text: &str, index: &LineIndex, span: Span) -> Value {
    let (start_line, start_column) = position(text, index, span.start);
    let (end_line, end_column) = position(text, index, span.end.max(span.start));
    json!({
        "startLine": start_line,
        "startColumn": start_column,
        "endLine": end_line,
        "endColumn": end_column,
    })
}

fn location(uri: &str, text: &str, index: &LineIndex, span: Span) -> Value {
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri },
            "region": region(text, index, span),
        }
    })
}

/// The message of a result: the diagnostic's message, then its help and note.
fn message_text(diagnostic: &Diagnostic) -> String {
    let mut text = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        text.push_str(&format!("\nhelp: {help}"));
    }
    if let Some(note) = &diagnostic.note {
        text.push_str(&format!("\nnote: {note}"));
    }
    text
}

/// One result.
fn result(uri: &str, text: &str, index: &LineIndex, diagnostic: &Diagnostic) -> Value {
    let mut primary = location(uri, text, index, diagnostic.span());
    if let Some(label) = diagnostic.labels.first().filter(|l| !l.message.is_empty()) {
        primary["message"] = json!({ "text": label.message });
    }
    let mut result = json!({
        "ruleId": diagnostic.code.short(),
        "ruleIndex": diagnostic.code as usize,
        "level": level(diagnostic.severity),
        "message": { "text": message_text(diagnostic) },
        "locations": [primary],
    });
    let related: Vec<Value> = diagnostic
        .labels
        .iter()
        .skip(1)
        .enumerate()
        .map(|(i, label)| {
            let mut related = location(uri, text, index, label.span);
            related["id"] = json!(i + 1);
            if !label.message.is_empty() {
                related["message"] = json!({ "text": label.message });
            }
            related
        })
        .collect();
    if !related.is_empty() {
        result["relatedLocations"] = json!(related);
    }
    result
}

/// The whole `weir check --format sarif` log: one run of weir version `version` over
/// `files`, results in the order given (files in path order, diagnostics in source order).
pub fn sarif_report(files: &[super::FileReport<'_>], version: &str) -> Value {
    let mut results = Vec::new();
    for file in files {
        let index = LineIndex::new(file.text);
        let uri = path_uri(file.path);
        results.extend(file.diagnostics.iter().map(|d| result(&uri, file.text, &index, d)));
    }
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "weir",
                    "version": version,
                    "semanticVersion": version,
                    "informationUri": INFORMATION_URI,
                    "rules": rules(),
                }
            },
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::FileReport;
    use weir_diagnostics::Code;

    #[test]
    fn columns_count_utf16_code_units() {
        // `é` is one UTF-16 unit, `😀` two; bytes would say 2 and 4.
        let text = "é😀 wibble\n";
        let index = LineIndex::new(text);
        let at = text.find("wibble").expect("found") as u32;
        assert_eq!(position(text, &index, at), (1, 5));
        assert_eq!(position(text, &index, at + 6), (1, 11));
        assert_eq!(position(text, &index, text.len() as u32), (2, 1));
    }

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(path_uri("flows/deploy.flow"), "flows/deploy.flow");
        assert_eq!(path_uri("./flows/deploy.flow"), "flows/deploy.flow");
        assert_eq!(path_uri("flows\\my deploy.flow"), "flows/my%20deploy.flow");
        assert_eq!(path_uri("a:b.flow"), "a%3Ab.flow");
        assert_eq!(path_uri("/tmp/ø.flow"), "file:///tmp/%C3%B8.flow");
        assert_eq!(path_uri("C:\\flows\\a.flow"), "file:///C:/flows/a.flow");
    }

    #[test]
    fn rules_index_the_registry_and_results_point_at_them() {
        let text = "flow wibble {\n}\n";
        let diagnostic = Diagnostic::new(Code::MissingConcurrency, Span::new(5, 11), "no concurrency")
            .with_primary_label("here")
            .with_label(Span::new(0, 4), "and here")
            .with_help("add one");
        let log = sarif_report(&[FileReport { path: "a.flow", text, diagnostics: &[diagnostic] }], "0.1.0");
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), ALL_CODES.len());
        let result = &run["results"][0];
        let index = result["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(rules[index]["name"], "missing-concurrency");
        assert_eq!(result["message"]["text"], "no concurrency\nhelp: add one");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["region"],
            json!({ "startLine": 1, "startColumn": 6, "endLine": 1, "endColumn": 12 })
        );
        assert_eq!(result["relatedLocations"][0]["message"]["text"], "and here");
    }
}
