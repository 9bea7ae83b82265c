//! `weir check`: parse (and, as they land, check) flows and report diagnostics.

use super::files::{discover, display, parallel_map};
use super::{EXIT_FAILURE, EXIT_OK, usage_error};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use weir_compiler::render::{FileReport, HumanOptions, json_report, render_human};
use weir_diagnostics::{Diagnostic, Severity};

/// Output formats of `weir check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Annotated source excerpts for people.
    Human,
    /// One JSON document with every diagnostic (documented in docs/cli.md).
    Json,
}

/// What `--deny` can turn into errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Fail when there is any warning.
    Warnings,
}

/// Check .flow files and report every problem found.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir check stdlib-flows\n  weir check deploy.flow --format json\n  weir check . --deny warnings\n\nExit codes: 0 clean, 1 errors (or warnings with --deny warnings), 2 usage."
)]
pub struct CheckArgs {
    /// Files or directories (searched recursively for *.flow); defaults to the current directory.
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors.
    #[arg(long, value_enum)]
    deny: Option<Deny>,
    /// Colour in human output: auto (when stdout is a terminal), always or never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
}

/// One file after checking.
pub struct Checked {
    pub path: String,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Read and check one file.
pub fn check_file(path: &std::path::Path) -> Result<Checked, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let parsed = weir_grammar::parse_bytes(&bytes);
    Ok(Checked {
        path: display(path),
        text: String::from_utf8_lossy(&bytes).into_owned(),
        diagnostics: parsed.diagnostics,
    })
}

pub fn run(args: CheckArgs) -> u8 {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    let files = match discover(&paths) {
        Ok(files) => files,
        Err(message) => return usage_error(&message),
    };
    let results = parallel_map(&files, |path| check_file(path));
    let mut checked = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(file) => checked.push(file),
            Err(message) => return usage_error(&message),
        }
    }
    let errors = count(&checked, Severity::Error);
    let warnings = count(&checked, Severity::Warning);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let reports: Vec<FileReport<'_>> = checked
                .iter()
                .map(|c| FileReport { path: &c.path, text: &c.text, diagnostics: &c.diagnostics })
                .collect();
            let document = json_report(&reports);
            let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&document).unwrap_or_default());
        }
        Format::Human => {
            let color = match args.color.as_str() {
                "always" => true,
                "never" => false,
                _ => std::io::stdout().is_terminal(),
            };
            let options = HumanOptions { color, ..HumanOptions::default() };
            for file in &checked {
                if !file.diagnostics.is_empty() {
                    let _ = write!(
                        stdout,
                        "{}",
                        render_human(&file.path, &file.text, &file.diagnostics, options)
                    );
                }
            }
            let _ = writeln!(stdout, "{}", summary(checked.len(), errors, warnings));
        }
    }
    let failed = errors > 0 || (args.deny == Some(Deny::Warnings) && warnings > 0);
    if failed { EXIT_FAILURE } else { EXIT_OK }
}

fn count(files: &[Checked], severity: Severity) -> usize {
    files.iter().flat_map(|f| &f.diagnostics).filter(|d| d.severity == severity).count()
}

/// "3 files, 1 error, 0 warnings".
pub fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
    format!("{}, {}, {}", plural(files, "file"), plural(errors, "error"), plural(warnings, "warning"))
}
