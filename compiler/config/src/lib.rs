//! `weir.toml`, the project configuration, parsed and validated as data.
//!
//! Flows name connections, secrets, people and groups; weir.toml says what they are, and
//! which diagnostics the project raises or turns off. The compiler checks flows against a
//! [`Config`] and the runtime connects with one, so this crate depends on neither: it takes
//! text and returns data, does no IO, and never fails. Every problem is a coded
//! [`Diagnostic`](weir_diagnostics::Diagnostic) whose span points into the TOML.
//!
//! ```
//! let (config, diagnostics) = weir_config::parse("[connections.api]\ntype = \"http\"\nbase_url = \"https://api.example.com\"\n");
//! assert!(diagnostics.is_empty());
//! assert_eq!(config.connections["api"].kind, weir_config::ConnectionKind::Http);
//! ```
//!
//! The file format is documented in `docs/config.md`.

#![warn(missing_docs)]

mod checks;
mod connection;
pub mod credential;
mod document;
mod model;
mod secret;
mod similar;

pub use checks::{CheckLevel, Checks};
pub use credential::redact;
pub use model::{
    Config, Connection, ConnectionKind, Group, Person, RateLimit, RatePeriod, Secret, SecretRef,
};

use weir_diagnostics::{Code, Diagnostic, Span};

/// The file name the CLI and the runtime look for, from a flow's directory upwards.
pub const FILE_NAME: &str = "weir.toml";

/// Parse and validate the text of a weir.toml. Never fails: a broken file gives the best
/// partial config (everything that could be read) with diagnostics saying what is wrong,
/// sorted by position, with the file's own `[checks]` levels applied to them.
///
/// Render diagnostics against [`redact`]`(text, &diagnostics)`, not `text`, so a credential
/// someone wrote in the file is never printed.
pub fn parse(text: &str) -> (Config, Vec<Diagnostic>) {
    document::parse(text)
}

/// Like [`parse`], for bytes as read from disk: TOML must be UTF-8, so invalid UTF-8 is a
/// `config-syntax-error` at the first bad byte (and the rest is read as far as it goes).
pub fn parse_bytes(bytes: &[u8]) -> (Config, Vec<Diagnostic>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(error) => {
            let valid = error.valid_up_to();
            let text = String::from_utf8_lossy(bytes);
            let (config, mut diagnostics) = parse(&String::from_utf8_lossy(&bytes[..valid]));
            diagnostics.retain(|d| d.code != Code::ConfigSyntaxError);
            let at = text.char_indices().map(|(i, _)| i).find(|i| *i >= valid).unwrap_or(text.len());
            diagnostics.insert(
                0,
                Diagnostic::new(Code::ConfigSyntaxError, Span::empty(at), "weir.toml is not valid UTF-8")
                    .with_primary_label("invalid UTF-8 starts here")
                    .with_help("save the file as UTF-8; everything after this point was ignored"),
            );
            (config, diagnostics)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codes(text: &str) -> Vec<&'static str> {
        parse(text).1.iter().map(|d| d.code.name()).collect()
    }

    fn quoted(text: &str, span: Span) -> &str {
        &text[span.range()]
    }

    #[test]
    fn empty_text_is_an_empty_config() {
        assert_eq!(parse(""), (Config::empty(), Vec::new()));
        assert_eq!(parse("# only a comment\n"), (Config::empty(), Vec::new()));
    }

    #[test]
    fn the_stdlib_config_is_clean() {
        let text = include_str!("../../../stdlib-flows/weir.toml");
        let (config, diagnostics) = parse(text);
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        let deployer = &config.connections["deployer"];
        assert!(deployer.irreversible && deployer.allow_private_network);
        assert_eq!(deployer.auth, Some(SecretRef::Named("deployer_token".into())));
        assert_eq!(
            config.secrets["deployer_token"].source,
            SecretRef::File("/run/secrets/deployer_token".into())
        );
        assert!(config.connections["team_digest"].unattended.is_some());
        assert_eq!(config.connections["openai"].rate_limit.map(|r| r.to_string()), Some("60/m".into()));
        assert_eq!(config.connections["build_vm"].port, Some(22));
        assert_eq!(config.groups["release"].members, ["ana", "ben", "chen"]);
        assert_eq!(config.project.as_deref(), Some("weir-stdlib-flows"));
    }

    #[test]
    fn the_documented_example_is_clean() {
        let docs = include_str!("../../../docs/config.md");
        let example = docs
            .split("## Example")
            .nth(1)
            .and_then(|rest| rest.split("```toml\n").nth(1))
            .and_then(|block| block.split("```").next())
            .expect("docs/config.md has an example");
        let (config, diagnostics) = parse(example);
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        assert_eq!(config.connections.len(), 5);
    }

    #[test]
    fn a_full_connection_is_typed() {
        let text = "[secrets]\nk = \"env:K\"\n[connections.api]\ntype = \"http\"\nbase_url = \"https://x.example\"\nirreversible = true\nunattended = \"internal\"\nrate_limit = \"5/s\"\nallow_private_network = false\nauth = \"secret:k\"\n";
        let (config, diagnostics) = parse(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let api = &config.connections["api"];
        assert_eq!(api.kind, ConnectionKind::Http);
        assert_eq!(api.base_url.as_deref(), Some("https://x.example"));
        assert!(api.irreversible && !api.allow_private_network);
        assert_eq!(api.unattended.as_deref(), Some("internal"));
        assert_eq!(api.rate_limit, Some(RateLimit { count: 5, period: RatePeriod::Second }));
        assert_eq!(quoted(text, api.name_span), "api");
        assert_eq!(quoted(text, api.spans["auth"]), "\"secret:k\"");
    }

    #[test]
    fn inline_tables_work_too() {
        let text = "connections.db = { type = \"sqlite\", path = \"a.db\" }\n";
        let (config, diagnostics) = parse(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(config.connections["db"].path.as_deref(), Some("a.db"));
    }

    #[test]
    fn every_type_needs_its_address() {
        for (kind, field) in [
            ("http", "base_url"),
            ("openai", "base_url"),
            ("postgres", "host"),
            ("smtp", "host"),
            ("ssh", "host"),
            ("sqlite", "path"),
        ] {
            let (config, diagnostics) = parse(&format!("[connections.c]\ntype = \"{kind}\"\n"));
            assert!(
                diagnostics.iter().any(|d| d.code == Code::MissingConfigField && d.message.contains(field)),
                "{kind}: {diagnostics:?}"
            );
            assert!(config.connections.contains_key("c"), "kept with what could be read");
        }
        assert!(
            codes("[connections.c]\ntype = \"ssh\"\nhost = \"h\"\n").contains(&"missing-config-field"),
            "known_hosts"
        );
    }

    #[test]
    fn unknown_types_keep_the_name_declared() {
        let (config, diagnostics) = parse("[connections.c]\ntype = \"ftp\"\n");
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::InvalidConnectionType);
        assert!(config.declares_connection("c") && !config.connections.contains_key("c"));
    }

    #[test]
    fn wrong_types_are_reported_with_what_was_found() {
        let text = "[connections.c]\ntype = \"http\"\nbase_url = \"https://a.example\"\nirreversible = \"yes\"\nport = 1\n";
        let diagnostics = parse(text).1;
        let names: Vec<_> = diagnostics.iter().map(|d| (d.code.name(), quoted(text, d.span()))).collect();
        assert_eq!(names, [("invalid-config-value", "\"yes\""), ("field-not-for-connection-type", "port")]);
        assert!(diagnostics[0].message.contains("not a string"), "{}", diagnostics[0].message);
        assert_eq!(codes("connections = 3\n"), ["invalid-config-value"]);
        assert_eq!(codes("[groups.g]\nmembers = \"ana\"\n"), ["invalid-config-value"]);
    }

    #[test]
    fn credentials_are_never_in_messages() {
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        let password = "pa55-w0rd-very-private";
        for text in [
            format!(
                "[connections.c]\ntype = \"http\"\nbase_url = \"https://a.example\"\nauth = \"{token}\"\n"
            ),
            format!("[secrets]\nk = \"{token}\"\n"),
            format!(
                "[connections.c]\ntype = \"http\"\nbase_url = \"https://a.example\"\ntoken = \"{password}\"\n"
            ),
            format!("[connections.c]\ntype = \"http\"\nbase_url = \"https://u:{password}@a.example\"\n"),
            format!("[project]\nname = \"{token}\"\n"),
            format!(
                "[connections.c]\ntype = \"http\"\nbase_url = \"https://a.example\"\nauth = \"env:{token}\"\n"
            ),
        ] {
            let diagnostics = parse(&text).1;
            assert!(
                diagnostics.iter().any(|d| d.code == Code::CredentialInConfig),
                "{text}: {diagnostics:?}"
            );
            let redacted = redact(&text, &diagnostics);
            for d in &diagnostics {
                let words = format!("{} {:?} {:?} {:?}", d.message, d.labels, d.help, d.note);
                assert!(!words.contains(token) && !words.contains(password), "{words}");
            }
            assert!(!redacted.contains(token) && !redacted.contains(password), "{redacted}");
            assert_eq!(redacted.len(), text.len());
        }
    }

    #[test]
    fn checks_are_exposed_and_applied_to_the_file_itself() {
        let text = "[checks]\ninvalid-suppression = \"error\"\nW0102 = \"off\"\n[groups.g]\nmembers = []\n";
        let (config, diagnostics) = parse(text);
        assert!(diagnostics.is_empty(), "empty-group is off: {diagnostics:?}");
        assert_eq!(config.checks.level(Code::InvalidSuppression), Some(CheckLevel::Error));
        assert_eq!(config.checks.level(Code::EmptyGroup), Some(CheckLevel::Off));
        assert_eq!(codes("[checks]\nsyntax-error = \"warning\"\n"), ["invalid-check-level"]);
        assert_eq!(codes("[checks]\nsyntax-error = \"error\"\n"), Vec::<&str>::new());
        assert_eq!(codes("[checks]\nE9999 = \"off\"\n"), ["unknown-check-code"]);
    }

    #[test]
    fn syntax_errors_keep_the_rest_and_do_not_cascade() {
        let text = "[connections.a]\ntype = \"http\"\nbase_url = https://a.example\n\n[connections.b]\ntype = \"sqlite\"\n";
        let (config, diagnostics) = parse(text);
        let names: Vec<_> = diagnostics.iter().map(|d| d.code.name()).collect();
        assert!(names.contains(&"config-syntax-error"), "{names:?}");
        assert!(
            !diagnostics.iter().any(|d| d.code == Code::MissingConfigField && d.message.contains("`a`")),
            "the syntax error explains the missing base_url: {diagnostics:?}"
        );
        assert!(names.contains(&"missing-config-field"), "b's missing path is still reported: {names:?}");
        assert!(config.connections.contains_key("a"));
    }

    #[test]
    fn invalid_utf8_is_a_syntax_error() {
        let (_, diagnostics) = parse_bytes(b"[project]\nname = \"a\xff\"\n");
        assert_eq!(diagnostics[0].code, Code::ConfigSyntaxError);
        assert_eq!(diagnostics[0].span(), Span::empty(19));
    }

    #[test]
    fn names_must_be_writable_in_flows() {
        assert_eq!(codes("[people.\"ana maria\"]\nemail = \"a@b.example\"\n"), ["invalid-config-name"]);
        assert_eq!(codes("[secrets]\n\"my-key\" = \"env:K\"\n"), ["invalid-config-name"]);
    }

    fn check_sound(text: &str) {
        let (_, diagnostics) = parse(text);
        for d in &diagnostics {
            for label in &d.labels {
                assert!(label.span.end as usize <= text.len(), "{d:?}");
                assert!(
                    text.is_char_boundary(label.span.start as usize)
                        && text.is_char_boundary(label.span.end as usize),
                    "{d:?}"
                );
            }
        }
        let redacted = redact(text, &diagnostics);
        assert_eq!(redacted.len(), text.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            check_sound(&text);
        }

        #[test]
        fn toml_like_text_never_panics(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("[connections.a]".to_string()),
                    Just("[people.ana]".to_string()),
                    Just("[groups.g]".to_string()),
                    Just("[checks]".to_string()),
                    Just("[secrets]".to_string()),
                    "[a-z_]{1,12} = \"[a-zA-Z0-9:/._@ -]{0,40}\"",
                    "[a-z_]{1,12} = [0-9]{1,7}",
                    "[a-z_]{1,12} = (true|false)",
                    "members = \\[(\"[a-z]{1,5}\", ){0,3}\\]",
                    "type = \"(http|ssh|sqlite|postgres|smtp|ftp)\"",
                    "[\\PC]{0,20}",
                ],
                0..30,
            )
        ) {
            check_sound(&lines.join("\n"));
        }
    }
}
