//! The project a run-time command works in: the directory holding weir.toml (looked for
//! upwards from `--project`, default `.`), its configuration (people and groups decide
//! approvals; connections and secrets reach the outside), and its embedded store in
//! `.weir/`.

use std::path::{Path, PathBuf};
use weir_runtime::store::SledStore;

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
    let store = SledStore::open_dir(dir.join(".weir")).map_err(|e| e.to_string())?;
    Ok(Project { dir, config, store })
}
