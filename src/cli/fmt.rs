//! `weir fmt`: rewrite flows in canonical form.

use super::files::{discover, display, parallel_map};
use super::{EXIT_FAILURE, EXIT_OK, usage_error};
use clap::Args;
use std::path::{Path, PathBuf};

/// Format .flow files in place.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir fmt stdlib-flows\n  weir fmt --check .   # list unformatted files, exit 1 if any\n\nA file with syntax errors is never touched.\nExit codes: 0 ok, 1 unformatted files (with --check) or files with syntax errors, 2 usage."
)]
pub struct FmtArgs {
    /// Files or directories (searched recursively for *.flow); defaults to the current directory.
    paths: Vec<PathBuf>,
    /// Do not write; list the files that are not formatted and exit 1 if any.
    #[arg(long)]
    check: bool,
}

/// What happened to one file.
enum Outcome {
    Unchanged,
    Changed(String),
    SyntaxErrors(String),
    Unreadable(String),
}

fn format_one(path: &Path) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return Outcome::Unreadable(format!("cannot read `{}`: {e}", path.display())),
    };
    let parsed = weir_grammar::parse_bytes(&bytes);
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Outcome::SyntaxErrors("the file is not valid UTF-8".into());
    };
    match weir_compiler::format::format(text, &parsed) {
        Ok(formatted) if formatted == text => Outcome::Unchanged,
        Ok(formatted) => Outcome::Changed(formatted),
        Err(error) => Outcome::SyntaxErrors(error.to_string()),
    }
}

pub fn run(args: FmtArgs) -> u8 {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    let files = match discover(&paths) {
        Ok(files) => files,
        Err(message) => return usage_error(&message),
    };
    let outcomes = parallel_map(&files, |path| format_one(path));
    let mut failed = false;
    let (mut changed, mut skipped) = (0usize, 0usize);
    for (path, outcome) in files.iter().zip(outcomes) {
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Changed(formatted) => {
                changed += 1;
                if args.check {
                    super::print(&format!("{}\n", display(path)));
                    failed = true;
                } else if let Err(e) = std::fs::write(path, formatted) {
                    eprintln!("error: cannot write `{}`: {e}", display(path));
                    failed = true;
                }
            }
            Outcome::SyntaxErrors(why) => {
                skipped += 1;
                eprintln!("skipped {}: {why} (run `weir check` to see them)", display(path));
                failed = true;
            }
            Outcome::Unreadable(message) => return usage_error(&message),
        }
    }
    let verb = if args.check { "need formatting" } else { "formatted" };
    let noun = if files.len() == 1 { "file" } else { "files" };
    eprintln!("{} {noun} checked, {changed} {verb}, {skipped} skipped", files.len());
    if failed { EXIT_FAILURE } else { EXIT_OK }
}
