//! `weir explain CODE`: the documentation page of a diagnostic code.

use super::{EXIT_OK, usage_error};
use clap::Args;
use weir_diagnostics::{ALL_CODES, Code};

include!(concat!(env!("OUT_DIR"), "/docs_pages.rs"));

/// Show what a diagnostic code means and how to fix it.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir explain E0001\n  weir explain unclosed-block\n  weir explain            # list every code"
)]
pub struct ExplainArgs {
    /// A short code (E0001) or a kebab name (syntax-error); omit to list every code.
    code: Option<String>,
}

pub fn run(args: ExplainArgs) -> u8 {
    let Some(query) = args.code else {
        for info in ALL_CODES {
            super::print(&format!("{}  {:<28} {}\n", info.short, info.name, info.summary));
        }
        return EXIT_OK;
    };
    let Some(code) = Code::lookup(&query) else {
        let names: Vec<&str> = ALL_CODES.iter().map(|c| c.name).collect();
        let hint =
            weir_grammar::closest(&query, &names).map_or(String::new(), |n| format!("; did you mean `{n}`?"));
        return usage_error(&format!(
            "`{query}` is not a diagnostic code{hint} (run `weir explain` for the list)"
        ));
    };
    match PAGES.iter().find(|(name, _)| *name == code.name()) {
        Some((_, page)) => super::print(page),
        None => super::print(&format!("{} [{}]: {}\n", code.short(), code.name(), code.info().summary)),
    }
    EXIT_OK
}
