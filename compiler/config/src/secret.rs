//! Secret references (`env:NAME`, `file:PATH`, `secret:NAME`). A credential value written
//! where a reference belongs is recognised by [`crate::credential`] and never quoted back.

pub(crate) use crate::credential::{Finding, credential, is_credential_key};
use crate::model::SecretRef;
use crate::similar::did_you_mean;

/// The sources a secret reference may name.
pub const SOURCES: [&str; 3] = ["env", "file", "secret"];

/// How a string written where a secret reference belongs reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// A well-formed reference.
    Reference(SecretRef),
    /// Not a reference, but not a credential either: safe to quote back.
    Invalid {
        /// What is wrong.
        message: String,
        /// How to write it.
        help: String,
    },
    /// A value that must not be in weir.toml; never quote it back.
    Credential(Finding),
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`: a name a flow can write, an environment variable.
pub fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True when `text` is written as a reference (`env:…`, `file:…`, `secret:…`), well formed
/// or not.
pub fn is_reference_form(text: &str) -> bool {
    text.split_once(':').is_some_and(|(source, _)| SOURCES.contains(&source))
}

/// Read a string written where a secret reference belongs. `secrets` are the names of
/// `[secrets]`, for suggestions.
pub fn read_reference<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str> + Clone) -> Reading {
    let invalid = |message: String, help: String| Reading::Invalid { message, help };
    if let Some((source, rest)) = text.split_once(':')
        && !source.is_empty()
        && source.len() <= 12
        && source.bytes().all(|b| b.is_ascii_lowercase())
        && !rest.starts_with("//")
    {
        if let Some(finding) = credential(rest) {
            return Reading::Credential(finding);
        }
        return match source {
            "env" if is_identifier(rest) => Reading::Reference(SecretRef::Env(rest.to_string())),
            "env" => invalid(
                format!("`{rest}` is not an environment variable name"),
                "an environment variable name has letters, digits and `_`, and does not start with a digit"
                    .into(),
            ),
            "file" if !rest.trim().is_empty() => Reading::Reference(SecretRef::File(rest.to_string())),
            "file" => invalid(
                "`file:` names no file".into(),
                "write the path after the colon: `file:/run/secrets/NAME`".into(),
            ),
            "secret" if is_identifier(rest) => Reading::Reference(SecretRef::Named(rest.to_string())),
            "secret" => invalid(
                format!("`{rest}` is not a secret name"),
                "write the name of an entry of `[secrets]`: `secret:NAME`".into(),
            ),
            other => invalid(
                format!("`{other}:` is not a source of secrets"),
                match did_you_mean(other, SOURCES) {
                    Some(mean) => {
                        format!("{mean} weir reads secrets from `env:NAME`, `file:PATH` or `secret:NAME`")
                    }
                    None => "weir reads secrets from `env:NAME`, `file:PATH` or `secret:NAME`".into(),
                },
            ),
        };
    }
    if let Some(finding) = credential(text) {
        return Reading::Credential(finding);
    }
    if !text.is_empty() && is_identifier(text) && !text.bytes().any(|b| b.is_ascii_lowercase()) {
        return invalid(
            format!("`{text}` is not a secret reference"),
            format!("to read the environment variable, write `env:{text}`"),
        );
    }
    if secrets.clone().into_iter().any(|name| name == text) {
        return invalid(
            format!("`{text}` is not a secret reference"),
            format!("to use the entry of `[secrets]`, write `secret:{text}`"),
        );
    }
    if text.trim().is_empty() {
        return invalid(
            "the secret reference is empty".into(),
            "write `env:NAME`, `file:PATH` or `secret:NAME`".into(),
        );
    }
    Reading::Credential(Finding { what: "a literal value", within: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SECRETS: [&str; 0] = [];

    #[test]
    fn references() {
        assert_eq!(
            read_reference("env:OPENAI_API_KEY", NO_SECRETS),
            Reading::Reference(SecretRef::Env("OPENAI_API_KEY".into()))
        );
        assert_eq!(
            read_reference("file:/run/secrets/x", NO_SECRETS),
            Reading::Reference(SecretRef::File("/run/secrets/x".into()))
        );
        assert_eq!(
            read_reference("secret:github_token", NO_SECRETS),
            Reading::Reference(SecretRef::Named("github_token".into()))
        );
        for bad in ["env:1X", "env:", "file:", "secret:a-b", "vault:kv/x", "envv:X", "OPENAI_API_KEY", ""] {
            assert!(matches!(read_reference(bad, NO_SECRETS), Reading::Invalid { .. }), "{bad}");
        }
        assert!(matches!(read_reference("github_token", ["github_token"]), Reading::Invalid { .. }));
        let Reading::Invalid { help, .. } = read_reference("vualt:x", NO_SECRETS) else { panic!("invalid") };
        assert!(help.is_empty() || help.contains("weir reads"));
    }

    #[test]
    fn literals_in_reference_positions_are_credentials() {
        for value in [
            "hunter2",
            "sk-proj-abcdefghijklmnopqrstuvwx",
            "env:ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "Bearer abcdefgh1234",
        ] {
            assert!(matches!(read_reference(value, NO_SECRETS), Reading::Credential(_)), "{value}");
        }
    }
}
