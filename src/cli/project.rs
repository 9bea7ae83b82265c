//! The project a run-time command works in: the directory holding weir.toml (looked for
//! upwards from `--project`, default `.`), its configuration (people and groups decide
//! approvals; connections and secrets reach the outside), and its embedded store in
//! `.weir/`.

use super::outcome::EXIT_STORE;
use std::path::{Path, PathBuf};
use weir_runtime::interp::{InterpHook, Interpreter, SystemClock};
use weir_runtime::store::{CrashHook, SledConfig, SledStore, StoreError};

/// An opened project.
pub(super) struct Project {
    /// The directory of weir.toml (or `--project` itself when there is none).
    pub dir: PathBuf,
    /// What weir.toml says (empty without one).
    pub config: weir_config::Config,
    /// The embedded store.
    pub store: SledStore,
}

/// The directory of the weir.toml governing `dir` (or `dir` itself when there is none).
pub(super) fn project_dir(dir: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute.ancestors().find(|d| d.join(weir_config::FILE_NAME).is_file()).unwrap_or(&absolute).to_path_buf()
}

/// Opens the project around `dir`: `Err` holds a message for the user.
pub(super) fn open(dir: &Path) -> Result<Project, String> {
    let dir = project_dir(dir);
    let toml = dir.join(weir_config::FILE_NAME);
    let config = if toml.is_file() {
        let bytes = std::fs::read(&toml).map_err(|e| format!("cannot read `{}`: {e}", toml.display()))?;
        let (config, diagnostics) = weir_config::parse_bytes(&bytes);
        if diagnostics.iter().any(|d| d.severity == weir_diagnostics::Severity::Error) {
            return Err(format!(
                "`{}` has errors; `weir check {}` shows them",
                toml.display(),
                dir.display()
            ));
        }
        config
    } else {
        weir_config::Config::default()
    };
    let store = open_store(&dir.join(".weir")).map_err(|e| e.to_string())?;
    Ok(Project { dir, config, store })
}

/// Opens the embedded store in `dir` (with the kill -9 tests' crash hook, in debug builds).
pub(super) fn open_store(dir: &Path) -> Result<SledStore, StoreError> {
    let mut config = SledConfig::new(dir);
    config.crash_hook = crash_hooks().0;
    SledStore::open(config)
}

/// The crash hooks of `WEIR_CRASH_AT=<point>:<k>` (reliability-tests.md R1), read once per
/// process, and only by debug builds: a release `weir` never crashes on purpose.
pub(super) fn crash_hooks() -> (Option<CrashHook>, Option<InterpHook>) {
    #[cfg(debug_assertions)]
    {
        static HOOKS: std::sync::OnceLock<(Option<CrashHook>, Option<InterpHook>)> =
            std::sync::OnceLock::new();
        HOOKS.get_or_init(weir_runtime::interp::hooks_from_env).clone()
    }
    #[cfg(not(debug_assertions))]
    {
        (None, None)
    }
}

/// What a command that drives existing runs works with: the project, the flows its runs'
/// `call`s resolve against, and the clock.
pub(super) struct Session {
    /// The project.
    pub project: Project,
    /// The project's compiled flows (empty unless some flow calls another).
    pub library: Vec<weir_bytecode::Bytecode>,
    /// The machine's clock.
    pub clock: SystemClock,
}

impl Session {
    /// Opens the project around `dir`; `Err` holds the exit code, the error already printed.
    pub(super) fn open(dir: &Path) -> Result<Session, u8> {
        let project = open(dir).map_err(|message| {
            eprintln!("error: {message}");
            EXIT_STORE
        })?;
        super::outcome::set_project(&project.dir);
        let library = super::build::compile_library(&project.dir, Some(&project.config));
        Ok(Session { project, library, clock: SystemClock })
    }

    /// An interpreter over the project's store, connections, people and flows.
    pub(super) fn interpreter(&self) -> Interpreter<'_> {
        Interpreter::new(&self.project.store, &self.clock)
            .with_library(&self.library)
            .with_project(&self.project.config, &self.project.dir)
            .with_crash_hook(crash_hooks().1)
    }
}
