//! The semantic checks of a parsed flow. Pure: a tree in, diagnostics out.
//!
//! Today: name resolution (unknown names with "did you mean", duplicates, use before
//! definition, unknown inputs, unused inputs and value-only steps), the step-family schema
//! (unknown families, methods, config fields, missing required fields), type names and
//! builtin calls. Types, effects and the typed DAG build on this walk.

pub(crate) mod guards;
mod names;
mod structure;
mod types;

pub use types::{expression_types, input_type, output_type};

use crate::interface::Library;

use weir_config::Config;
use weir_diagnostics::Diagnostic;
use weir_grammar::Parsed;
use weir_grammar::ast::Item;

/// Check every flow of a parsed file against the project's weir.toml (`None` when the
/// project has none: connections, secrets, people and groups are then not checked). Files
/// with syntax errors are not checked: names declared in the broken statements are unknown,
/// so every later diagnostic could be noise.
pub fn check(parsed: &Parsed, config: Option<&Config>) -> Vec<Diagnostic> {
    check_with(parsed, config, None)
}

/// [`check`], resolving `call`s against `library` (the project's and the library's flows).
pub fn check_with<'a>(
    parsed: &'a Parsed,
    config: Option<&Config>,
    library: Option<&'a Library<'a>>,
) -> Vec<Diagnostic> {
    if parsed.has_errors() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in &parsed.file.items {
        if let Item::Flow(flow) = item {
            out.extend(names::check_flow(flow, config, library));
            out.extend(types::check_flow(flow, library));
            out.extend(structure::check_flow(flow));
            out.extend(guards::check_flow(flow, config, library));
        }
    }
    out
}

/// Parse bytes and check them (calls resolve among the file's own flows): every diagnostic
/// of a file, in source order.
pub fn diagnose(bytes: &[u8], config: Option<&Config>) -> (Parsed, Vec<Diagnostic>) {
    let parsed = weir_grammar::parse_bytes(bytes);
    let mut diagnostics = parsed.diagnostics.clone();
    // Flows in one file may call each other.
    let library = Library::new(parsed.file.items.iter().filter_map(|item| match item {
        Item::Flow(flow) => Some(flow),
        Item::Error(_) => None,
    }));
    diagnostics.extend(check_with(&parsed, config, Some(&library)));
    diagnostics.sort_by_key(|d| (d.span().start, d.span().end, d.code));
    (parsed, diagnostics)
}
