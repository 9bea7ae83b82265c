//! `weir fmt`: rewrite flows in canonical form.

use clap::Args;
use std::path::PathBuf;

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

pub fn run(_args: FmtArgs) -> u8 {
    super::usage_error("weir fmt is not available yet")
}
