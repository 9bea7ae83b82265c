//! Renderers: one diagnostic model, several outputs. Each reads [`Diagnostic`] and the file
//! it belongs to and nothing else.

mod github;
mod human;
mod json;
mod sarif;

pub use github::{escape_data, escape_property, github_annotation, render_github, repository_path};
pub use human::{HumanOptions, render_human};
pub use json::{JSON_SCHEMA_VERSION, json_diagnostic, json_report};
pub use sarif::{INFORMATION_URI, SARIF_SCHEMA, path_uri, sarif_report};

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
