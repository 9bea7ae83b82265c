//! `weir build FILE [-o OUT]`: check a flow file exactly as `weir check` does and, when it
//! has no errors, compile each of its flows to a `.weirc` (docs/bytecode.md). The same
//! source with the same weir gives byte-identical files.

use super::check::{ConfigFinder, check_source, flows, read_source};
use super::files::discover;
use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::Args;
use std::path::{Path, PathBuf};
use weir_compiler::check::CheckOptions;
use weir_compiler::interface::Library;
use weir_compiler::render::{HumanOptions, render_human};
use weir_diagnostics::Diagnostic;

/// Compile a .flow file to bytecode.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir build deploy.flow\n  weir build deploy.flow -o build/deploy.weirc\n  weir build flows/all.flow -o build/ --json\n\nExit codes: 0 built, 1 the flow has errors (nothing is written), 2 usage."
)]
pub struct BuildArgs {
    /// The .flow file.
    file: PathBuf,
    /// Where to write: a file for a one-flow source (default: FILE with `.weirc`), a
    /// directory for several flows (default: FILE's directory), each as `SLUG.weirc`.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

/// A file's flows, checked and compiled, with the project directory they belong to (where
/// weir.toml is, else the file's directory: the embedded store lives in its `.weir/`).
pub(super) struct Compiled {
    /// One bytecode per flow, in source order.
    pub bytecodes: Vec<weir_bytecode::Bytecode>,
    /// The project directory.
    pub project: PathBuf,
    /// The project's weir.toml, if it has one (connections and secrets for a run).
    pub config: Option<weir_config::Config>,
}

/// The project's flows under `dir` that check without errors, compiled: what `call` steps
/// resolve against at run time. Empty when no flow of the project calls another (the text
/// is searched first, so projects without calls pay nothing).
pub(super) fn compile_library(
    dir: &Path,
    config: Option<&weir_config::Config>,
) -> Vec<weir_bytecode::Bytecode> {
    let files = discover(&[dir.to_path_buf()]).unwrap_or_default();
    let sources: Vec<_> = files.iter().filter_map(|p| read_source(p).ok()).collect();
    if !sources.iter().any(|s| String::from_utf8_lossy(&s.bytes).contains("call ")) {
        return Vec::new();
    }
    let library = Library::new(sources.iter().flat_map(flows));
    let options = CheckOptions::default();
    let mut out = Vec::new();
    for source in &sources {
        let checked = check_source(source, config, &library, false, &options);
        if checked.diagnostics.iter().any(Diagnostic::is_error) {
            continue;
        }
        let text = String::from_utf8_lossy(&source.bytes);
        for flow in flows(source) {
            if let Ok(bytecode) = weir_compiler::lower::lower_flow(flow, &text, config, Some(&library)) {
                out.push(bytecode);
            }
        }
    }
    out
}

/// Check `file` exactly as `weir check` does (diagnostics go to stderr) and compile its
/// flows; `Err` holds the exit code when there were errors or the file cannot be read.
pub(super) fn compile_file(file: &Path) -> Result<Compiled, u8> {
    let mut finder = ConfigFinder::default();
    let config_index = finder.find(file).map_err(|m| usage_error(&m))?;
    let source = read_source(file).map_err(|m| usage_error(&m))?;
    // `call`s resolve against the other flows of the project, as in `weir check`.
    let project: Vec<_> = config_index
        .map(|i| finder.configs[i].dir.clone())
        .into_iter()
        .flat_map(|dir| discover(&[dir]).unwrap_or_default())
        .filter(|p| std::fs::canonicalize(p).ok() != std::fs::canonicalize(file).ok())
        .filter_map(|p| read_source(&p).ok())
        .collect();
    let library = Library::new(flows(&source).chain(project.iter().flat_map(flows)));
    let config = config_index.map(|i| &finder.configs[i].config);
    let options = CheckOptions { now: Some(std::time::SystemTime::now()), ..Default::default() };
    let checked = check_source(&source, config, &library, false, &options);
    let config_report = config_index.map(|i| &finder.configs[i].report);
    let mut failed = false;
    for report in config_report.into_iter().chain(std::iter::once(&checked)) {
        if report.diagnostics.is_empty() {
            continue;
        }
        failed |= report.diagnostics.iter().any(Diagnostic::is_error);
        eprint!("{}", render_human(&report.path, &report.text, &report.diagnostics, HumanOptions::default()));
    }
    if failed {
        eprintln!("error: `{}` has errors; nothing was built", file.display());
        return Err(EXIT_FAILURE);
    }
    let text = String::from_utf8_lossy(&source.bytes);
    let all: Vec<_> = flows(&source).collect();
    if all.is_empty() {
        return Err(usage_error(&format!("`{}` holds no flow", file.display())));
    }
    let mut bytecodes = Vec::with_capacity(all.len());
    for flow in &all {
        match weir_compiler::lower::lower_flow(flow, &text, config, Some(&library)) {
            Ok(bytecode) => bytecodes.push(bytecode),
            Err(e) => {
                eprintln!("error: flow `{}` cannot be compiled: {e}", flow.name.name);
                return Err(EXIT_FAILURE);
            }
        }
    }
    let project = match config_index {
        Some(i) => finder.configs[i].dir.clone(),
        None => file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
    };
    let config = config.cloned();
    Ok(Compiled { bytecodes, project, config })
}

pub fn run(args: BuildArgs) -> u8 {
    let compiled = match compile_file(&args.file) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let several = compiled.bytecodes.len() > 1;
    let mut written = Vec::new();
    for bytecode in &compiled.bytecodes {
        let slug = &bytecode.header.slug;
        let bytes = match weir_bytecode::encode(bytecode) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("error: flow `{slug}` compiled to bytecode that does not verify (a weir bug): {e}");
                return EXIT_FAILURE;
            }
        };
        let path = out_path(&args.file, args.output.as_deref(), slug, several);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(parent)
        {
            return usage_error(&format!("cannot create `{}`: {e}", parent.display()));
        }
        if let Err(e) = std::fs::write(&path, &bytes) {
            return usage_error(&format!("cannot write `{}`: {e}", path.display()));
        }
        written.push(serde_json::json!({
            "flow": slug,
            "version": bytecode.header.flow_version.to_string(),
            "path": path.display().to_string(),
            "bytes": bytes.len(),
            "sha256": weir_bytecode::header::hex(&weir_bytecode::sha256(&bytes)),
        }));
    }
    if args.json {
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({ "built": written })).unwrap_or_default()
        ));
    } else {
        for w in &written {
            print(&format!(
                "built {} {} → {} ({} bytes)\n",
                w["flow"].as_str().unwrap_or(""),
                w["version"].as_str().unwrap_or(""),
                w["path"].as_str().unwrap_or(""),
                w["bytes"]
            ));
        }
    }
    EXIT_OK
}

/// Where one flow's bytecode goes.
fn out_path(file: &Path, output: Option<&Path>, slug: &str, several: bool) -> PathBuf {
    match (output, several) {
        (Some(out), false) => out.to_path_buf(),
        (Some(dir), true) => dir.join(format!("{slug}.weirc")),
        (None, false) => file.with_extension("weirc"),
        (None, true) => file.parent().unwrap_or(Path::new(".")).join(format!("{slug}.weirc")),
    }
}
