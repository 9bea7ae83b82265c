//! `weir check`: parse (and, as they land, check) flows and report diagnostics.
//!
//! Each flow is checked against the `weir.toml` found from its directory upwards (or an
//! empty config when there is none). Every distinct weir.toml is read and validated once;
//! its own diagnostics are reported once, under its path, just before the first flow that
//! uses it, and its `[checks]` levels apply to the flows' diagnostics.

use super::files::{discover, display, parallel_map};
use super::{EXIT_FAILURE, EXIT_OK, usage_error};
use clap::{Args, ValueEnum};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use weir_compiler::check::{CheckOptions, WebhookRoutes};
use weir_compiler::effects::{StepEffect, flow_effects_with};
use weir_compiler::interface::Library;
use weir_compiler::render::{
    FileReport, HumanOptions, json_report, render_github, render_human, sarif_report,
};
use weir_config::Config;
use weir_diagnostics::{Diagnostic, Severity};

/// Output formats of `weir check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Annotated source excerpts for people.
    Human,
    /// One JSON document with every diagnostic (documented in docs/cli.md).
    Json,
    /// One SARIF 2.1.0 log for code-scanning services (docs/ci.md).
    Sarif,
    /// GitHub Actions annotations, one `::error …` line per diagnostic (docs/ci.md).
    Github,
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
    /// Also list every step's effect class and why, every `effect … because` override and
    /// every `unattended` step.
    #[arg(long)]
    explain: bool,
    /// Compare each flow's interface (`input`, `output`) with the flow of the same slug in
    /// this older file, and ask for the version bump semver wants.
    #[arg(long, value_name = "OLD.flow")]
    against: Option<PathBuf>,
}

/// One file after checking.
pub struct Checked {
    pub path: String,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
    /// Each flow's step effects (flow slug, effects), for `--explain`.
    pub effects: Vec<(String, Vec<StepEffect>)>,
}

/// A flow file, read and parsed.
pub struct Source {
    pub(super) path: PathBuf,
    pub(super) bytes: Vec<u8>,
    pub(super) parsed: weir_grammar::Parsed,
}

/// Read and parse one file.
pub(super) fn read_source(path: &Path) -> Result<Source, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let parsed = weir_grammar::parse_bytes(&bytes);
    Ok(Source { path: path.to_path_buf(), bytes, parsed })
}

pub(super) fn flows(source: &Source) -> impl Iterator<Item = &weir_grammar::ast::Flow> {
    source.parsed.file.flows()
}

/// Check one parsed file against its project's config (whose `[checks]` levels apply) and
/// the flows its `call`s may name.
pub(super) fn check_source(
    source: &Source,
    config: Option<&Config>,
    library: &Library<'_>,
    explain: bool,
    options: &CheckOptions<'_>,
) -> Checked {
    let parsed = &source.parsed;
    let mut diagnostics = parsed.diagnostics.clone();
    diagnostics.extend(weir_compiler::check::check_with_options(parsed, config, Some(library), options));
    let text = std::str::from_utf8(&source.bytes).unwrap_or_default();
    diagnostics.extend(weir_compiler::check::credentials_in_text(text, parsed));
    diagnostics.sort_by_key(|d| (d.span().start, d.span().end, d.code));
    // A credential written in the flow is masked in the text that is rendered, even when
    // its diagnostic is then suppressed or turned off.
    let shown = weir_config::redact(&String::from_utf8_lossy(&source.bytes), &diagnostics);
    let diagnostics = weir_compiler::suppress::apply(text, parsed, diagnostics);
    let diagnostics = match config {
        Some(config) => config.checks.apply(diagnostics),
        None => diagnostics,
    };
    let effects = if !explain || parsed.has_errors() {
        Vec::new()
    } else {
        flows(source)
            .map(|flow| (flow.name.name.clone(), flow_effects_with(flow, config, Some(library))))
            .collect()
    };
    Checked { path: display(&source.path), text: shown, diagnostics, effects }
}

/// One weir.toml, read and validated.
pub struct LoadedConfig {
    /// The file, reported like a flow: its path, its text with any credential in it masked
    /// (never the original), and its diagnostics.
    pub report: Checked,
    /// What it says.
    pub config: Config,
    /// The directory it governs (flows there may `call` each other).
    pub dir: PathBuf,
}

/// Finds the weir.toml of each flow (from the flow's directory upwards, up to the
/// filesystem root) and reads each distinct one once.
#[derive(Default)]
pub struct ConfigFinder {
    /// Every weir.toml read so far, in the order first needed.
    pub configs: Vec<LoadedConfig>,
    by_dir: HashMap<PathBuf, Option<usize>>,
}

impl ConfigFinder {
    /// The index in `configs` of the weir.toml that applies to `flow`, if there is one.
    pub fn find(&mut self, flow: &Path) -> Result<Option<usize>, String> {
        let absolute = std::fs::canonicalize(flow)
            .or_else(|_| std::path::absolute(flow))
            .map_err(|e| format!("cannot resolve `{}`: {e}", flow.display()))?;
        let mut visited = Vec::new();
        let mut found = None;
        for dir in absolute.ancestors().skip(1) {
            if let Some(known) = self.by_dir.get(dir) {
                found = *known;
                break;
            }
            visited.push(dir.to_path_buf());
            let candidate = dir.join(weir_config::FILE_NAME);
            if candidate.is_file() {
                found = Some(self.load(&candidate, flow.is_relative())?);
                break;
            }
        }
        for dir in visited {
            self.by_dir.insert(dir, found);
        }
        Ok(found)
    }

    fn load(&mut self, path: &Path, relative: bool) -> Result<usize, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let (config, diagnostics) = weir_config::parse_bytes(&bytes);
        let text = weir_config::redact(&String::from_utf8_lossy(&bytes), &diagnostics);
        let cwd = std::env::current_dir().ok().and_then(|d| std::fs::canonicalize(d).ok());
        let shown = match cwd.as_deref().and_then(|cwd| path.strip_prefix(cwd).ok()) {
            Some(inside) if relative => inside,
            _ => path,
        };
        self.configs.push(LoadedConfig {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            report: Checked { path: display(shown), text, diagnostics, effects: Vec::new() },
            config,
        });
        Ok(self.configs.len() - 1)
    }
}

pub fn run(args: CheckArgs) -> u8 {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    let files = match discover(&paths) {
        Ok(files) => files,
        Err(message) => return usage_error(&message),
    };
    let mut finder = ConfigFinder::default();
    let mut jobs = Vec::with_capacity(files.len());
    for file in files {
        match finder.find(&file) {
            Ok(config) => jobs.push((file, config)),
            Err(message) => return usage_error(&message),
        }
    }
    let mut sources = Vec::with_capacity(jobs.len());
    for source in parallel_map(&jobs, |(path, _)| read_source(path)) {
        match source {
            Ok(source) => sources.push(source),
            Err(message) => return usage_error(&message),
        }
    }
    let old = match args.against.as_deref().map(|old| read_against(old, &sources)).transpose() {
        Ok(old) => old,
        Err(message) => return usage_error(&message),
    };
    let against: Vec<&weir_grammar::ast::Flow> = old.iter().flat_map(flows).collect();
    // `call`s resolve against the flows checked together and, when there are calls, the
    // other flows of each project (the directory of its weir.toml); so do webhook paths.
    let calls = sources.iter().flat_map(flows).any(weir_compiler::interface::has_calls);
    let mut extra = Vec::new();
    if calls || sources.iter().flat_map(flows).any(has_webhook) {
        let checked: std::collections::HashSet<PathBuf> =
            jobs.iter().filter_map(|(p, _)| std::fs::canonicalize(p).ok()).collect();
        let dirs: Vec<PathBuf> = finder.configs.iter().map(|c| c.dir.clone()).collect();
        let others: Vec<PathBuf> = discover(&dirs)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| std::fs::canonicalize(p).is_ok_and(|p| !checked.contains(&p)))
            .collect();
        extra = parallel_map(&others, |p| read_source(p)).into_iter().flatten().collect();
    }
    let library = Library::new(sources.iter().chain(&extra).flat_map(flows));
    // Each project's webhook paths, the files not checked first: a clash is then reported
    // at a checked file.
    let shown: Vec<String> = sources.iter().chain(&extra).map(|s| display(&s.path)).collect();
    let mut routes: HashMap<Option<usize>, WebhookRoutes<'_>> = HashMap::new();
    for (i, source) in extra.iter().enumerate() {
        let project = finder.find(&source.path).ok().flatten();
        routes.entry(project).or_default().add_file(&shown[sources.len() + i], flows(source));
    }
    for (i, source) in sources.iter().enumerate() {
        routes.entry(jobs[i].1).or_default().add_file(&shown[i], flows(source));
    }
    let now = std::time::SystemTime::now();
    let indices: Vec<usize> = (0..sources.len()).collect();
    let results = parallel_map(&indices, |&i| {
        Ok::<Checked, String>(check_source(
            &sources[i],
            jobs[i].1.map(|c| &finder.configs[c].config),
            &library,
            args.explain,
            &CheckOptions { now: Some(now), webhooks: routes.get(&jobs[i].1), against: &against },
        ))
    });
    let mut configs: Vec<Option<Checked>> = finder.configs.into_iter().map(|c| Some(c.report)).collect();
    let mut checked = Vec::with_capacity(results.len() + configs.len());
    for ((_, config), result) in jobs.iter().zip(results) {
        // A weir.toml is reported once, just before the first flow that uses it.
        if let Some(report) = config.and_then(|i| configs.get_mut(i)).and_then(Option::take) {
            checked.push(report);
        }
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
            let mut document = json_report(&reports);
            if args.explain {
                document["effects"] = serde_json::json!(
                    checked
                        .iter()
                        .flat_map(|c| c.effects.iter().map(move |(flow, steps)| {
                            serde_json::json!({ "file": c.path, "flow": flow, "steps": steps })
                        }))
                        .collect::<Vec<_>>()
                );
            }
            let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&document).unwrap_or_default());
        }
        Format::Sarif => {
            let reports: Vec<FileReport<'_>> = checked
                .iter()
                .map(|c| FileReport { path: &c.path, text: &c.text, diagnostics: &c.diagnostics })
                .collect();
            let log = sarif_report(&reports, env!("CARGO_PKG_VERSION"));
            let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&log).unwrap_or_default());
        }
        Format::Github => {
            let reports: Vec<FileReport<'_>> = checked
                .iter()
                .map(|c| FileReport { path: &c.path, text: &c.text, diagnostics: &c.diagnostics })
                .collect();
            let _ = write!(stdout, "{}", render_github(&reports));
            let _ = writeln!(stdout, "{}", summary(checked.len(), errors, warnings));
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
            if args.explain {
                for file in &checked {
                    for (flow, steps) in &file.effects {
                        let _ = write!(stdout, "{}", explain(&file.path, flow, steps));
                    }
                }
            }
            let _ = writeln!(stdout, "{}", summary(checked.len(), errors, warnings));
        }
    }
    let failed = errors > 0 || (args.deny == Some(Deny::Warnings) && warnings > 0);
    if failed { EXIT_FAILURE } else { EXIT_OK }
}

/// True when the flow has a webhook trigger.
fn has_webhook(flow: &weir_grammar::ast::Flow) -> bool {
    use weir_grammar::ast::{StmtKind, Trigger};
    flow.body.iter().any(|s| matches!(s.kind, StmtKind::Trigger(Trigger::Webhook { .. })))
}

/// Read the `--against` file: it must parse, and share a flow slug with the files checked.
fn read_against(path: &Path, sources: &[Source]) -> Result<Source, String> {
    let old = read_source(path)?;
    if old.parsed.has_errors() {
        return Err(format!("`{}` has syntax errors; `weir check` it first", path.display()));
    }
    let slugs: Vec<&str> = flows(&old).map(|f| f.name.name.as_str()).collect();
    if !sources.iter().flat_map(flows).any(|f| slugs.contains(&f.name.name.as_str())) {
        return Err(format!(
            "no flow checked has the slug of a flow in `{}` ({}); --against compares flows of the same slug",
            path.display(),
            slugs.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(old)
}

/// The `--explain` listing of one flow.
fn explain(path: &str, flow: &str, steps: &[StepEffect]) -> String {
    let mut out = format!("effects of {flow} ({path})\n");
    let width = steps.iter().map(|s| s.step.len()).max().unwrap_or(4).max(4);
    for step in steps {
        out.push_str(&format!("  {:<width$}  {:<12}  {}\n", step.step, step.effect.as_str(), step.reason));
    }
    for step in steps {
        if let Some(from) = step.overridden_from {
            out.push_str(&format!(
                "  override: {} is {} (was {}) because {:?}\n",
                step.step,
                step.effect.as_str(),
                from.as_str(),
                step.override_because.as_deref().unwrap_or("")
            ));
        }
        if let Some(why) = &step.unattended {
            out.push_str(&format!("  unattended: {} because {:?}\n", step.step, why));
        }
    }
    out.push('\n');
    out
}

fn count(files: &[Checked], severity: Severity) -> usize {
    files.iter().flat_map(|f| &f.diagnostics).filter(|d| d.severity == severity).count()
}

/// "3 files, 1 error, 0 warnings".
pub fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
    format!("{}, {}, {}", plural(files, "file"), plural(errors, "error"), plural(warnings, "warning"))
}
