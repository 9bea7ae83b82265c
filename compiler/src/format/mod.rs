//! The formatter: syntax tree + trivia → canonical text.
//!
//! Layout rules (docs/language.md, "Formatting"): 2-space indentation; one statement or
//! config entry per line; blocks always multi-line; a record, list or record type stays on
//! one line when it was written on one line and is one-field-per-line otherwise; a config
//! block with one entry written on one line stays inline; strings are kept as written; every
//! comment is kept, own-line comments at the indentation of what follows and trailing
//! comments after one space; at most one blank line between items and none after `{` or
//! before `}`.

mod expr;
mod printer;
mod stmt;

use printer::Printer;
use weir_grammar::Parsed;
use weir_grammar::ast::Item;

/// Why a file was not formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The file has this many syntax errors; formatting it could lose text.
    SyntaxErrors(usize),
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::SyntaxErrors(n) => {
                write!(f, "the file has {n} syntax error{}; fix them first", if *n == 1 { "" } else { "s" })
            }
        }
    }
}

impl std::error::Error for FormatError {}

/// Format a parsed file. Refuses files with syntax errors.
pub fn format(text: &str, parsed: &Parsed) -> Result<String, FormatError> {
    let errors = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(FormatError::SyntaxErrors(errors));
    }
    let mut printer = Printer::new(text, &parsed.trivia);
    for item in &parsed.file.items {
        if let Item::Flow(flow) = item {
            stmt::flow(&mut printer, flow);
        }
    }
    Ok(printer.finish())
}

/// Parse and format a text.
pub fn format_text(text: &str) -> Result<String, FormatError> {
    format(text, &weir_grammar::parse(text))
}
