//! The semantic checks of a parsed flow. Pure: a tree in, diagnostics out.
//!
//! Today: name resolution (unknown names with "did you mean", duplicates, use before
//! definition, unknown inputs, unused inputs and value-only steps), the step-family schema
//! (unknown families, methods, config fields, missing required fields), type names and
//! builtin calls. Types, effects and the typed DAG build on this walk.

mod concurrency;
pub(crate) mod guards;
mod injection;
mod names;
mod payloads;
mod secrets;
mod structure;
mod triggers;
mod types;

pub use secrets::check_text as credentials_in_text;
pub use triggers::{WebhookRoutes, normalize_path};
pub use types::{Narrowness, expression_types, input_type, output_type};

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

/// What a check needs besides the file, the config and the library.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions<'a> {
    /// The instant schedules are counted from: `weir check` passes the clock, tests pin one.
    /// Without it, a suspicious schedule's help lists no fire times and daylight-saving gaps
    /// are not looked for, so the result never depends on when it ran.
    pub now: Option<std::time::SystemTime>,
    /// Every webhook path of the project (the CLI's view across files); without it, only the
    /// file's own flows are compared.
    pub webhooks: Option<&'a WebhookRoutes<'a>>,
    /// The flows of an older version (`weir check --against OLD.flow`): each flow of the file
    /// is diffed with the one of the same slug, and must bump its version as semver wants.
    pub against: &'a [&'a weir_grammar::ast::Flow],
}

/// [`check`], resolving `call`s against `library` (the project's and the library's flows).
pub fn check_with<'a>(
    parsed: &'a Parsed,
    config: Option<&Config>,
    library: Option<&'a Library<'a>>,
) -> Vec<Diagnostic> {
    check_with_options(parsed, config, library, &CheckOptions::default())
}

/// [`check_with`], with the clock and the project's webhook paths.
pub fn check_with_options<'a>(
    parsed: &'a Parsed,
    config: Option<&Config>,
    library: Option<&'a Library<'a>>,
    options: &CheckOptions<'_>,
) -> Vec<Diagnostic> {
    if parsed.has_errors() {
        return Vec::new();
    }
    let file: Vec<&weir_grammar::ast::Flow> = parsed.file.flows().collect();
    let mut own = WebhookRoutes::default();
    let webhooks = match options.webhooks {
        Some(webhooks) => webhooks,
        None => {
            own.add_file("", file.iter().copied());
            &own
        }
    };
    let now = options.now.and_then(|t| jiff::Timestamp::try_from(t).ok());
    let mut out = Vec::new();
    for item in &parsed.file.items {
        if let Item::Flow(flow) = item {
            out.extend(names::check_flow(flow, config, library));
            let (type_diagnostics, narrowness) = types::check_flow_with_narrowness(flow, library);
            out.extend(type_diagnostics);
            out.extend(structure::check_flow(flow));
            out.extend(concurrency::check_flow(flow));
            out.extend(triggers::check_flow(flow, &file, webhooks, now));
            out.extend(guards::check_flow(flow, config, library, &narrowness));
            out.extend(secrets::check_flow(flow));
            out.extend(injection::check_flow(flow, library));
            out.extend(payloads::check_flow(flow));
        }
    }
    out.extend(crate::semver_diff::diff_files(options.against, &file));
    out
}

/// Parse bytes and check them (calls resolve among the file's own flows): every diagnostic
/// of a file, in source order, after its `# allow(…)` suppressions (not the project's
/// `[checks]` levels, which the caller applies).
pub fn diagnose(bytes: &[u8], config: Option<&Config>) -> (Parsed, Vec<Diagnostic>) {
    diagnose_with(bytes, config, &CheckOptions::default())
}

/// [`diagnose`] with options (tests pin the clock here).
pub fn diagnose_with(
    bytes: &[u8],
    config: Option<&Config>,
    options: &CheckOptions<'_>,
) -> (Parsed, Vec<Diagnostic>) {
    let parsed = weir_grammar::parse_bytes(bytes);
    let mut diagnostics = parsed.diagnostics.clone();
    // Flows in one file may call each other.
    let library = Library::new(parsed.file.flows());
    diagnostics.extend(check_with_options(&parsed, config, Some(&library), options));
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    diagnostics.extend(credentials_in_text(text, &parsed));
    diagnostics.sort_by_key(|d| (d.span().start, d.span().end, d.code));
    let diagnostics = crate::suppress::apply(text, &parsed, diagnostics);
    (parsed, diagnostics)
}
