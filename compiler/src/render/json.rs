//! The stable JSON shape of diagnostics (documented in docs/cli.md).

use serde_json::{Value, json};
use weir_diagnostics::{Diagnostic, LineIndex, Span};

/// Bumped on any incompatible change to the JSON shape.
pub const JSON_SCHEMA_VERSION: u32 = 1;

fn span_json(text: &str, index: &LineIndex, span: Span) -> Value {
    let start = index.line_col(text, span.start);
    let end = index.line_col(text, span.end);
    json!({
        "byte_start": span.start,
        "byte_end": span.end,
        "line_start": start.line,
        "column_start": start.column,
        "line_end": end.line,
        "column_end": end.column,
    })
}

/// One diagnostic as JSON.
pub fn json_diagnostic(path: &str, text: &str, index: &LineIndex, diagnostic: &Diagnostic) -> Value {
    let labels: Vec<Value> = diagnostic
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            json!({
                "primary": i == 0,
                "message": label.message,
                "span": span_json(text, index, label.span),
            })
        })
        .collect();
    json!({
        "code": diagnostic.code.short(),
        "name": diagnostic.code.name(),
        "severity": diagnostic.severity.as_str(),
        "message": diagnostic.message,
        "file": path,
        "span": span_json(text, index, diagnostic.span()),
        "labels": labels,
        "help": diagnostic.help,
        "note": diagnostic.note,
        "url": diagnostic.code.docs_url(),
    })
}

/// A whole `weir check --format json` document.
pub fn json_report(files: &[super::FileReport<'_>]) -> Value {
    let mut diagnostics = Vec::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for file in files {
        let index = LineIndex::new(file.text);
        for diagnostic in file.diagnostics {
            match diagnostic.severity {
                weir_diagnostics::Severity::Error => errors += 1,
                weir_diagnostics::Severity::Warning => warnings += 1,
                weir_diagnostics::Severity::Advice => {}
            }
            diagnostics.push(json_diagnostic(file.path, file.text, &index, diagnostic));
        }
    }
    json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "files": files.len(),
        "errors": errors,
        "warnings": warnings,
        "diagnostics": diagnostics,
    })
}
