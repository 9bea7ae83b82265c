//! Renderers: one diagnostic model, several outputs. Each reads [`Diagnostic`] and the file
//! it belongs to and nothing else.

mod human;
mod json;

pub use human::{HumanOptions, render_human};
pub use json::{JSON_SCHEMA_VERSION, json_diagnostic, json_report};

use weir_diagnostics::Diagnostic;

/// One checked file and its diagnostics, as renderers take it.
#[derive(Clone, Copy, Debug)]
pub struct FileReport<'a> {
    /// The path as the user gave it (or a fixed name in tests).
    pub path: &'a str,
    /// The file's text.
    pub text: &'a str,
    /// Its diagnostics, in source order.
    pub diagnostics: &'a [Diagnostic],
}
