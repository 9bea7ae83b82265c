//! Resolving secret references (`env:NAME`, `file:PATH`, `secret:NAME`) to values at the
//! moment a step needs them. Values live in [`secrecy::SecretString`]: no `Debug` or
//! `Display` leaks them, and they are zeroed when dropped. They are never journaled.

use super::error::ExecError;
use secrecy::SecretString;
use std::path::Path;
use weir_config::{Config, SecretRef};

/// Resolve a reference against the project's config and the process environment. `root`
/// is the directory of weir.toml (relative `file:` paths start there).
pub fn resolve(reference: &SecretRef, config: &Config, root: &Path) -> Result<SecretString, ExecError> {
    resolve_depth(reference, config, root, 0)
}

fn resolve_depth(
    reference: &SecretRef,
    config: &Config,
    root: &Path,
    depth: usize,
) -> Result<SecretString, ExecError> {
    match reference {
        SecretRef::Env(name) => std::env::var(name).map(SecretString::from).map_err(|_| {
            ExecError::permanent(
                "SECRET-UNAVAILABLE",
                format!(
                    "the environment variable `{name}` is not set; set it for the process that runs weir"
                ),
            )
        }),
        SecretRef::File(path) => {
            let full = root.join(path);
            let text = std::fs::read_to_string(&full).map_err(|e| {
                ExecError::permanent(
                    "SECRET-UNAVAILABLE",
                    format!("cannot read the secret file `{}`: {e}", full.display()),
                )
            })?;
            Ok(SecretString::from(text.strip_suffix('\n').unwrap_or(&text).to_string()))
        }
        SecretRef::Named(name) => {
            let entry = config.secrets.get(name).filter(|_| depth < 4).ok_or_else(|| {
                ExecError::permanent(
                    "SECRET-UNAVAILABLE",
                    format!("`secret:{name}` names no entry of weir.toml's [secrets]"),
                )
            })?;
            resolve_depth(&entry.source, config, root, depth + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config(text: &str) -> Config {
        let (config, diagnostics) = weir_config::parse_bytes(text.as_bytes());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        config
    }

    #[test]
    fn env_file_and_named_references_resolve() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("token"), "file-value\n").expect("write");
        let config = config("[secrets]\nfrom_file = \"file:token\"\n");
        let file = resolve(&SecretRef::File("token".into()), &config, dir.path()).expect("file");
        assert_eq!(file.expose_secret(), "file-value");
        let named = resolve(&SecretRef::Named("from_file".into()), &config, dir.path()).expect("named");
        assert_eq!(named.expose_secret(), "file-value");
        let path = resolve(&SecretRef::Env("PATH".into()), &config, dir.path()).expect("env");
        assert!(!path.expose_secret().is_empty());
    }

    #[test]
    fn a_missing_value_is_a_coded_error_that_names_the_reference_only() {
        let config = config("");
        let error = resolve(&SecretRef::Env("WEIR_TEST_SURELY_UNSET".into()), &config, Path::new("."))
            .expect_err("unset");
        assert_eq!(error.code, "SECRET-UNAVAILABLE");
        assert!(error.message.contains("WEIR_TEST_SURELY_UNSET"));
        let error = resolve(&SecretRef::Named("nope".into()), &config, Path::new(".")).expect_err("unknown");
        assert_eq!(error.code, "SECRET-UNAVAILABLE");
    }
}
