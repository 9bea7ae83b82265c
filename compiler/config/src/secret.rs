//! Secret references (`env:NAME`, `file:PATH`, `secret:NAME`), and recognising credential
//! values that must never be written in weir.toml.
//!
//! Nothing here ever copies a credential into a message: callers get a description of what
//! was found ("a GitHub token") and, at most, where it is.

use crate::model::SecretRef;
use crate::similar::did_you_mean;
use std::ops::Range;
use weir_diagnostics::{Code, Diagnostic};

/// The sources a secret reference may name.
pub const SOURCES: [&str; 3] = ["env", "file", "secret"];

/// What a credential-looking string was taken for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// In words, for the message: "a GitHub token".
    pub what: &'static str,
    /// Byte range of the sensitive part inside the string, when it is only part of it (the
    /// password of a URL); `None` means the whole string.
    pub within: Option<Range<usize>>,
}

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

/// Known token prefixes and what they are.
const PREFIXES: &[(&str, &str)] = &[
    ("sk-ant-", "an Anthropic API key"),
    ("sk-", "an OpenAI-style API key"),
    ("sk_live_", "a Stripe secret key"),
    ("sk_test_", "a Stripe secret key"),
    ("rk_live_", "a Stripe restricted key"),
    ("github_pat_", "a GitHub token"),
    ("ghp_", "a GitHub token"),
    ("gho_", "a GitHub token"),
    ("ghu_", "a GitHub token"),
    ("ghs_", "a GitHub token"),
    ("ghr_", "a GitHub token"),
    ("glpat-", "a GitLab token"),
    ("xoxb-", "a Slack token"),
    ("xoxp-", "a Slack token"),
    ("xoxa-", "a Slack token"),
    ("xoxs-", "a Slack token"),
    ("xapp-", "a Slack app token"),
    ("AKIA", "an AWS access key id"),
    ("ASIA", "an AWS access key id"),
    ("AIza", "a Google API key"),
    ("ya29.", "a Google OAuth token"),
    ("SG.", "a SendGrid key"),
    ("hf_", "a Hugging Face token"),
    ("npm_", "an npm token"),
    ("pypi-", "a PyPI token"),
    ("dop_v1_", "a DigitalOcean token"),
    ("shpat_", "a Shopify token"),
];

/// Key names that say "this is a credential" wherever they appear.
const CREDENTIAL_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "token",
    "secret",
    "api_key",
    "apikey",
    "access_key",
    "secret_key",
    "private_key",
    "client_secret",
    "credentials",
    "credential",
    "bearer",
    "authorization",
];

/// True when a key's name says it holds a credential (`password`, `api_key`, `github_token`).
pub fn is_credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    CREDENTIAL_KEYS.iter().any(|k| key == *k || key.ends_with(&format!("_{k}")))
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`: a name a flow can write, an environment variable.
pub fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=')
}

/// Shannon entropy in bits per char.
fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 128];
    let mut total = 0u32;
    for b in text.bytes().filter(u8::is_ascii) {
        counts[usize::from(b)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let total = f64::from(total);
    counts.iter().filter(|c| **c > 0).map(|c| f64::from(*c) / total).map(|p| -p * p.log2()).sum()
}

/// The password of `scheme://user:password@host/…`, as a byte range of `text`.
fn url_password(text: &str) -> Option<Range<usize>> {
    let authority_start = text.find("://")? + 3;
    let rest = &text[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    (colon + 1 < at).then(|| authority_start + colon + 1..authority_start + at)
}

/// A DNS name (`orders-db-3.c9akciq32.eu-west-1.rds.amazonaws.com`): dotted labels of
/// letters, digits and inner hyphens, ending in a label of letters. Long host names have
/// the entropy of a token, but they are addresses, not credentials.
fn is_host_name(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 3
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// What, if anything, `text` looks like a credential for. Only strong signals count: known
/// token prefixes, private keys, passwords in URLs, Authorization values, and long random
/// strings; names, URLs, paths, sentences and ids are left alone.
pub fn credential(text: &str) -> Option<Finding> {
    let whole = |what| Some(Finding { what, within: None });
    let trimmed = text.trim();
    if trimmed.contains("-----BEGIN") && trimmed.contains("PRIVATE KEY") {
        return whole("a private key");
    }
    if let Some(range) = url_password(trimmed) {
        let offset = text.len() - text.trim_start().len();
        return Some(Finding {
            what: "a password in a URL",
            within: Some(range.start + offset..range.end + offset),
        });
    }
    let lower = trimmed.to_ascii_lowercase();
    for scheme in ["bearer ", "basic ", "token "] {
        if let Some(rest) = lower.strip_prefix(scheme)
            && rest.trim().len() >= 8
            && !rest.trim().contains(' ')
        {
            return whole("an Authorization header value");
        }
    }
    if trimmed.chars().any(char::is_whitespace) || !trimmed.chars().all(token_char) {
        return None;
    }
    for (prefix, what) in PREFIXES {
        if trimmed.starts_with(prefix) && trimmed.len() >= prefix.len() + 12 {
            return whole(what);
        }
    }
    let letters = trimmed.chars().any(|c| c.is_ascii_alphabetic());
    let digits = trimmed.chars().any(|c| c.is_ascii_digit());
    if !letters || !digits || trimmed.starts_with(['/', '.']) || trimmed.contains("://") {
        return None;
    }
    if trimmed.len() >= 32 && trimmed.chars().all(|c| c.is_ascii_hexdigit()) {
        return whole("a hex-encoded key");
    }
    if trimmed.len() >= 24 && entropy(trimmed) >= 4.0 && !is_host_name(trimmed) {
        return whole("a high-entropy token");
    }
    None
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

/// `text` with every credential that a `credential-in-config` diagnostic points at masked
/// by `*` (byte offsets unchanged, so spans stay valid). Render this, never the original,
/// so a credential written in weir.toml is not copied to a terminal, a CI log or a file.
/// A whole quoted value keeps its first four characters when it is long enough to make
/// that harmless, so the author can tell which one it is.
pub fn redact(text: &str, diagnostics: &[Diagnostic]) -> String {
    let mut masked: Vec<Range<usize>> = Vec::new();
    for diagnostic in diagnostics.iter().filter(|d| d.code == Code::CredentialInConfig) {
        let range = diagnostic.span().range();
        let Some(slice) = text.get(range.clone()) else { continue };
        let quotes = |c: char| c == '"' || c == '\'';
        let inner = slice.trim_start_matches(quotes);
        let start = range.start + (slice.len() - inner.len());
        let inner = inner.trim_end_matches(quotes);
        let quoted = start != range.start;
        let keep = if quoted && inner.chars().count() >= 16 {
            inner.char_indices().nth(4).map_or(inner.len(), |(i, _)| i)
        } else {
            0
        };
        masked.push(start + keep..start + inner.len());
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if masked.iter().any(|r| r.contains(&i)) && c != '\n' {
            out.extend(std::iter::repeat_n('*', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_diagnostics::Span;

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

    #[test]
    fn credentials_are_recognised() {
        let yes = [
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdefghijkl",
            "AKIAIOSFODNN7EXAMPLE",
            "sk-ant-api03-abcdefghijklmnop",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
            "Bearer eyJhbGciOiJIUzI1NiJ9",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "q8Xz2LmN4vB7kP1wR9tY3uE6sD0fG5hJ",
        ];
        for value in yes {
            assert!(credential(value).is_some(), "{value}");
        }
        let no = [
            "orders-db-prod-3.c9akciq32.eu-west-1.rds.amazonaws.com",
            "ip-10-0-12-34.eu-west-1.compute.internal",
            "https://api.openai.com/v1",
            "http://code-index.internal:8080",
            "/run/secrets/deployer_token",
            "U024BE7LH",
            "ana@example.com",
            "internal digest channels read by the team",
            "data/service-catalog.db",
            "123e4567-e89b-12d3-a456-426614174000",
            "weir-stdlib-flows",
            "Acme <hello@example.com>",
        ];
        for value in no {
            assert_eq!(credential(value), None, "{value}");
        }
    }

    #[test]
    fn url_passwords_are_located() {
        let url = "postgres://weir:s3cr3t@db.internal/orders";
        let finding = credential(url).expect("found");
        assert_eq!(finding.within.map(|r| &url[r]), Some("s3cr3t"));
        assert_eq!(credential("https://user@example.com/"), None);
    }

    #[test]
    fn credential_keys() {
        for key in ["password", "api_key", "github_token", "client-secret", "TOKEN"] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in ["auth", "base_url", "tokens_per_minute", "known_hosts"] {
            assert!(!is_credential_key(key), "{key}");
        }
    }

    #[test]
    fn redaction_keeps_offsets_and_hides_the_value() {
        let text = "auth = \"ghp_abcdefghijklmnopqrstuvwxyz0123456789\"\nx = 1\n";
        let start = text.find('"').expect("quote");
        let end = text.rfind('"').expect("quote") + 1;
        let d = Diagnostic::new(Code::CredentialInConfig, Span::new(start, end), "m");
        let redacted = redact(text, &[d]);
        assert_eq!(redacted.len(), text.len());
        assert!(redacted.contains("\"ghp_****"));
        assert!(!redacted.contains("abcdefgh"));
        assert!(redacted.ends_with("\"\nx = 1\n"));
        let other = Diagnostic::new(Code::UnknownConfigKey, Span::new(start, end), "m");
        assert_eq!(redact(text, &[other]), text);
    }
}
