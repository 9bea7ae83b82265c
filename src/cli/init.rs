//! `weir init`: make a directory a weir project: a commented `weir.toml`, the embedded
//! store in `.weir/`, and `.weir/` in `.gitignore`. Safe to run again: nothing that exists
//! is overwritten, and what is missing is added.

use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::Args;
use std::path::{Path, PathBuf};

/// The weir.toml a new project starts with: valid as it is (a test checks), every table
/// explained, nothing that needs a secret.
pub const TEMPLATE: &str = r#"# weir.toml: the project's connections, secrets, people and check settings.
# Flows in this directory (and below) use it. Reference: docs/config.md.

# A connection is what a step talks to. Credentials are never written here: `auth` is a
# reference (`env:NAME`, `file:PATH` or `secret:NAME`) resolved when a step runs.
#
# [connections.github]
# type = "http"
# base_url = "https://api.github.com"
# auth = "secret:github_token"
# irreversible = false        # true: every step through it needs an approval first
# unattended = "why"          # steps through it need no approval even with model output

# [secrets]
# github_token = "env:GITHUB_TOKEN"

# People and groups decide approvals (`deciders group "release"`).
# [people.ada]
# email = "ada@example.com"
#
# [groups]
# release = ["ada"]

# Raise or silence a check for the whole project (one occurrence: `# allow(name): reason`).
# [checks]
# schedule-without-tz = "error"
"#;

/// Create weir.toml, the store and the .gitignore entry in a directory.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir init\n  weir init my-project --json\n\nExit codes: 0 done (also when already initialised), 1 the store could not be created, 2 usage."
)]
pub struct InitArgs {
    /// The project directory (created if missing); defaults to the current directory.
    dir: Option<PathBuf>,
    /// Print what was created as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InitArgs) -> u8 {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return usage_error(&format!("cannot create `{}`: {e}", dir.display()));
    }
    let mut created = Vec::new();
    let mut kept = Vec::new();
    let config = dir.join(weir_config::FILE_NAME);
    if config.exists() {
        kept.push(weir_config::FILE_NAME);
    } else if let Err(e) = std::fs::write(&config, TEMPLATE) {
        return usage_error(&format!("cannot write `{}`: {e}", config.display()));
    } else {
        created.push(weir_config::FILE_NAME);
    }
    let store = dir.join(".weir");
    let existed = store.join("store").exists();
    if let Err(e) = weir_runtime::store::SledStore::open_dir(&store) {
        eprintln!("error: cannot create the store in `{}`: {e}", store.display());
        return EXIT_FAILURE;
    }
    if existed {
        kept.push(".weir/")
    } else {
        created.push(".weir/")
    }
    match ignore(&dir) {
        Ok(true) => created.push(".gitignore entry"),
        Ok(false) => kept.push(".gitignore entry"),
        Err(e) => return usage_error(&format!("cannot update `.gitignore`: {e}")),
    }
    if args.json {
        let document =
            serde_json::json!({ "dir": dir.display().to_string(), "created": created, "kept": kept });
        print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
    } else {
        for item in &created {
            print(&format!("created {item}\n"));
        }
        for item in &kept {
            print(&format!("kept    {item} (already there)\n"));
        }
        print(&format!(
            "weir project ready in {}: add connections to weir.toml, write a .flow, then `weir check`\n",
            dir.display()
        ));
    }
    EXIT_OK
}

/// Add `.weir/` to `.gitignore` unless it is there; true when it was added.
fn ignore(dir: &Path) -> std::io::Result<bool> {
    let path = dir.join(".gitignore");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    if text.lines().any(|l| matches!(l.trim(), ".weir" | ".weir/" | "/.weir" | "/.weir/")) {
        return Ok(false);
    }
    let separator = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
    std::fs::write(&path, format!("{text}{separator}# weir's embedded store (runs, journals)\n.weir/\n"))?;
    Ok(true)
}
