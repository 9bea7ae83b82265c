//! `weir parse --json FILE`: the syntax tree, trivia and syntax diagnostics as JSON.

use super::usage_error;
use super::{EXIT_FAILURE, EXIT_OK};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use weir_compiler::render::{JSON_SCHEMA_VERSION, json_diagnostic};
use weir_diagnostics::LineIndex;

/// Print the syntax tree of a .flow file as JSON.
#[derive(Args)]
#[command(
    after_help = "Example:\n  weir parse --json stdlib-flows/scheduled-report.flow | jq '.ast.items[0].name'\n\nExit codes: 0 parsed without errors, 1 syntax errors (the tree is still printed), 2 usage."
)]
pub struct ParseArgs {
    /// The file to parse.
    file: PathBuf,
    /// Print JSON (the only format; accepted for explicitness).
    #[arg(long)]
    json: bool,
}

pub fn run(args: ParseArgs) -> u8 {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => return usage_error(&format!("cannot read `{}`: {e}", args.file.display())),
    };
    let parsed = weir_grammar::parse_bytes(&bytes);
    let text = String::from_utf8_lossy(&bytes);
    let path = args.file.display().to_string();
    let index = LineIndex::new(&text);
    let diagnostics: Vec<_> =
        parsed.diagnostics.iter().map(|d| json_diagnostic(&path, &text, &index, d)).collect();
    let document = json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "file": path,
        "ast": parsed.file,
        "trivia": parsed.trivia,
        "diagnostics": diagnostics,
    });
    super::print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
    if parsed.has_errors() { EXIT_FAILURE } else { EXIT_OK }
}
