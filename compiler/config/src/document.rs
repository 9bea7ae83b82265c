//! Walking the TOML document: the top-level tables, `[project]`, `[secrets]`, `[people]`,
//! `[groups]` and `[checks]`, and the credential scan over every value. Connections have
//! their own module.

use crate::checks::CheckLevel;
use crate::connection;
use crate::model::{Config, Group, Person, Secret, SecretRef};
use crate::secret::{self, Reading};
use crate::similar::did_you_mean;
use std::borrow::Cow;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use weir_diagnostics::{ALL_CODES, Code, Diagnostic, Severity, Span};

/// A key of a TOML table, with its span.
pub type Key<'i> = Spanned<Cow<'i, str>>;
/// A value of a TOML table, with its span.
pub type Value<'i> = Spanned<DeValue<'i>>;

/// The top-level tables weir.toml may have.
const TOP_LEVEL: [&str; 7] = ["project", "secrets", "connections", "people", "groups", "checks", "server"];
const PROJECT_KEYS: [&str; 1] = ["name"];
const SERVER_KEYS: [&str; 1] = ["url"];
const PERSON_KEYS: [&str; 2] = ["email", "slack"];
const GROUP_KEYS: [&str; 1] = ["members"];

/// Shared state of one parse: the text (for spans) and the diagnostics so far.
pub struct Ctx<'t> {
    text: &'t str,
    /// Every diagnostic found, in no particular order.
    pub diagnostics: Vec<Diagnostic>,
    syntax_errors: Vec<Span>,
    /// Byte offsets where a `[table]` header line starts, to tell which table a syntax
    /// error is in.
    headers: Vec<usize>,
}

impl<'t> Ctx<'t> {
    fn new(text: &'t str) -> Ctx<'t> {
        let mut headers = Vec::new();
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            if line.trim_start().starts_with('[') {
                headers.push(at);
            }
            at += line.len();
        }
        Ctx { text, diagnostics: Vec::new(), syntax_errors: Vec::new(), headers }
    }

    /// The span of something the parser spanned, clamped to the text and to char
    /// boundaries (the parser's spans are byte offsets of the same text, but a recovered
    /// document may hold spans past its end).
    pub fn span<T>(&self, spanned: &Spanned<T>) -> Span {
        self.clamp(spanned.span())
    }

    fn clamp(&self, range: std::ops::Range<usize>) -> Span {
        let len = self.text.len();
        let mut start = range.start.min(len);
        let mut end = range.end.clamp(start, len);
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        Span::new(start, end)
    }

    /// Record a diagnostic, unless it points at or next to a syntax error: what the parser
    /// recovered there (an empty value, a key pushed out of its table) is not what the
    /// author wrote, so only the syntax error is reported.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        let span = diagnostic.span();
        let echo = self.syntax_errors.iter().any(|e| e.start <= span.end && span.start <= e.end);
        if !echo {
            self.diagnostics.push(diagnostic);
        }
    }

    /// True when a syntax error lies in the table whose name is at `name`: its content may
    /// have been lost, so "missing key" would only echo the syntax error.
    pub fn damaged(&self, name: Span) -> bool {
        let at = name.start as usize;
        let start = self.headers.iter().rev().find(|h| **h <= at).copied().unwrap_or(0);
        let end = self.headers.iter().find(|h| **h > at).copied().unwrap_or(usize::MAX);
        self.syntax_errors.iter().any(|e| (start..end).contains(&(e.start as usize)))
    }

    /// Report `key` as unknown in `place`, suggesting one of `known`. A credential-named key
    /// holding a literal is left to the credential scan, which reports it better.
    pub fn unknown_key(&mut self, key: &Key<'_>, value: &Value<'_>, place: &str, known: &[&str]) {
        if secret::is_credential_key(key.get_ref())
            && value.get_ref().as_str().is_some_and(|s| !secret::is_reference_form(s))
        {
            return;
        }
        let name = key.get_ref();
        if place == "weir.toml" && self.damaged(self.span(key)) {
            // A key outside any table after a broken `[header]` belongs to that header.
            return;
        }
        let mut diagnostic = Diagnostic::new(
            Code::UnknownConfigKey,
            self.span(key),
            format!("unknown key `{name}` in {place}"),
        )
        .with_primary_label("weir does not know this key");
        let help = match did_you_mean(name, known.iter().copied()) {
            Some(mean) => mean,
            None if secret::is_credential_key(name) && known.contains(&"auth") => {
                "a connection's credential is `auth`, a reference such as `auth = \"env:NAME\"`".to_string()
            }
            None => format!("the keys of {place} are {}", list(known)),
        };
        diagnostic = diagnostic.with_help(help);
        self.push(diagnostic);
    }

    /// Report `value` as not of the `expected` type; returns `None` for `?` chaining.
    pub fn wrong_type<T>(&mut self, key: &str, value: &Value<'_>, expected: &str) -> Option<T> {
        let found = value.get_ref().type_str();
        self.push(
            Diagnostic::new(
                Code::InvalidConfigValue,
                self.span(value),
                format!("`{key}` must be {expected}, not {}", article(found)),
            )
            .with_primary_label(format!("this is {}", article(found))),
        );
        None
    }

    /// The value as a table, or a diagnostic.
    pub fn table<'v, 'i>(&mut self, key: &str, value: &'v Value<'i>) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            _ => self.wrong_type(key, value, "a table"),
        }
    }

    /// The value as a boolean, or a diagnostic.
    pub fn boolean(&mut self, key: &str, value: &Value<'_>) -> Option<bool> {
        match value.get_ref().as_bool() {
            Some(b) => Some(b),
            None => self.wrong_type(key, value, "`true` or `false`"),
        }
    }

    /// The value as a string, or a diagnostic.
    pub fn string(&mut self, key: &str, value: &Value<'_>) -> Option<String> {
        match value.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => self.wrong_type(key, value, "a string"),
        }
    }

    /// The value as a string with something other than spaces in it, or a diagnostic.
    pub fn non_empty(&mut self, key: &str, value: &Value<'_>) -> Option<String> {
        let text = self.string(key, value)?;
        if text.trim().is_empty() {
            self.push(
                Diagnostic::new(Code::InvalidConfigValue, self.span(value), format!("`{key}` is empty"))
                    .with_primary_label("write a value or remove the key"),
            );
            return None;
        }
        Some(text)
    }

    /// Report that `table` (named at `name`) lacks `key`, unless a syntax error explains it.
    pub fn missing(&mut self, name: Span, what: &str, key: &str, help: impl Into<String>) {
        if self.damaged(name) {
            return;
        }
        self.push(
            Diagnostic::new(Code::MissingConfigField, name, format!("{what} has no `{key}`"))
                .with_primary_label(format!("`{key}` is missing here"))
                .with_help(help),
        );
    }

    /// Check that a table name can be written in a flow.
    pub fn name(&mut self, key: &Key<'_>, what: &str) {
        let name = key.get_ref();
        if !secret::is_identifier(name) {
            self.push(
                Diagnostic::new(
                    Code::InvalidConfigName,
                    self.span(key),
                    format!("`{name}` cannot be used as the name of a {what}"),
                )
                .with_primary_label("not a name a flow can write")
                .with_help("use letters, digits and `_`, starting with a letter or `_` (`deploy_api`)"),
            );
        }
    }

    /// Read a secret reference at `key`; `allow_named` says whether `secret:NAME` may be
    /// used here (not inside `[secrets]` itself). Reports what is wrong with it.
    pub fn reference(
        &mut self,
        key: &str,
        value: &Value<'_>,
        config: &Config,
        allow_named: bool,
    ) -> Option<SecretRef> {
        let text = self.string(key, value)?;
        let span = self.span(value);
        match secret::read_reference(&text, config.secrets.keys().map(String::as_str)) {
            Reading::Reference(SecretRef::Named(name)) if !allow_named => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidSecretReference,
                        span,
                        "an entry of `[secrets]` cannot point at another entry",
                    )
                    .with_primary_label("`secret:` is not a source here")
                    .with_help(format!(
                        "say where the value of `{key}` comes from: `env:NAME` or `file:PATH`"
                    ))
                    .with_note(format!("`{name}` is another secret name")),
                );
                None
            }
            Reading::Reference(SecretRef::Named(name)) => {
                if !config.secrets.contains_key(&name) {
                    let mut d = Diagnostic::new(
                        Code::UnknownSecret,
                        span,
                        format!("no secret named `{name}` in `[secrets]`"),
                    )
                    .with_primary_label("unknown secret");
                    d = match did_you_mean(&name, config.secrets.keys().map(String::as_str)) {
                        Some(mean) => d.with_help(mean),
                        None => d.with_help(format!("add `{name} = \"env:VARIABLE\"` to `[secrets]`")),
                    };
                    self.push(d);
                }
                Some(SecretRef::Named(name))
            }
            Reading::Reference(reference) => Some(reference),
            Reading::Invalid { message, help } => {
                self.push(
                    Diagnostic::new(Code::InvalidSecretReference, span, message)
                        .with_primary_label("not a secret reference")
                        .with_help(help),
                );
                None
            }
            Reading::Credential(finding) => {
                self.credential(key, value, &text, &finding, true);
                None
            }
        }
    }

    /// Report a credential found in `value` (a string at `key`) without ever quoting it.
    fn credential(
        &mut self,
        key: &str,
        value: &Value<'_>,
        text: &str,
        finding: &secret::Finding,
        reference_key: bool,
    ) {
        let whole = self.span(value);
        let span = match &finding.within {
            Some(range) => self.sub_span(whole, text, range.clone()).unwrap_or(whole),
            None => whole,
        };
        let help = if reference_key {
            "put the value in the environment (or a file) of the process that runs weir, and refer to it: `env:NAME`, `file:PATH` or `secret:NAME`"
        } else {
            "remove it; keep credentials in the environment (or a file) and refer to them from `auth` or `[secrets]` as `env:NAME`, `file:PATH` or `secret:NAME`"
        };
        self.push(
            Diagnostic::new(
                Code::CredentialInConfig,
                span,
                format!("`{key}` holds {} instead of a secret reference", finding.what),
            )
            .with_primary_label("a credential must not be written in weir.toml")
            .with_help(help)
            .with_note("weir never prints the value; revoke it if this file was ever shared"),
        );
    }

    /// The span of `range` (byte offsets into the decoded `text`) inside the written string
    /// at `whole`, when the written form has no escapes (so offsets line up).
    fn sub_span(&self, whole: Span, text: &str, range: std::ops::Range<usize>) -> Option<Span> {
        let written = self.text.get(whole.range())?;
        let quote = ["\"\"\"", "'''", "\"", "'"]
            .into_iter()
            .find(|q| written.starts_with(q) && written.ends_with(q))?;
        let inner = written.get(quote.len()..written.len().checked_sub(quote.len())?)?;
        (inner == text).then(|| {
            Span::new(
                whole.start as usize + quote.len() + range.start,
                whole.start as usize + quote.len() + range.end,
            )
        })
    }
}

/// `a string`, `an integer`.
fn article(word: &str) -> String {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { format!("an {word}") } else { format!("a {word}") }
}

/// "`a`, `b` and `c`".
pub fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Parse and validate weir.toml. Never fails: a broken file gives the best partial config
/// and the diagnostics that say what is wrong, sorted by position.
pub fn parse(text: &str) -> (Config, Vec<Diagnostic>) {
    let mut ctx = Ctx::new(text);
    let (root, errors) = DeTable::parse_recoverable(text);
    for error in &errors {
        let span = ctx.clamp(error.span().unwrap_or(0..0));
        let message = error.message().lines().next().unwrap_or("invalid TOML").trim().to_string();
        ctx.diagnostics.push(
            Diagnostic::new(Code::ConfigSyntaxError, span, "weir.toml is not valid TOML")
                .with_primary_label(message)
                .with_help("see https://toml.io for the syntax; docs/config.md for what weir.toml holds"),
        );
        ctx.syntax_errors.push(span);
    }
    let root = root.get_ref();
    let mut config = Config::empty();
    let section = |name: &str| root.iter().find(|(k, _)| k.get_ref() == name);
    // Secrets and people first: connections and groups refer to them.
    if let Some((key, value)) = section("secrets") {
        secrets(&mut ctx, &mut config, key, value);
    }
    if let Some((key, value)) = section("people") {
        people(&mut ctx, &mut config, key, value);
    }
    if let Some((key, value)) = section("groups") {
        groups(&mut ctx, &mut config, key, value);
    }
    if let Some((key, value)) = section("connections") {
        connection::connections(&mut ctx, &mut config, key, value);
    }
    if let Some((key, value)) = section("project") {
        project(&mut ctx, &mut config, key, value);
    }
    if let Some((key, value)) = section("checks") {
        checks(&mut ctx, &mut config, key, value);
    }
    if let Some((_, value)) = section("server") {
        server(&mut ctx, &mut config, value);
    }
    for (key, value) in root.iter() {
        if !TOP_LEVEL.contains(&key.get_ref().as_ref()) {
            ctx.unknown_key(key, value, "weir.toml", &TOP_LEVEL);
        }
    }
    scan_credentials(&mut ctx, root, &mut Vec::new());
    let mut diagnostics = config.checks.apply(std::mem::take(&mut ctx.diagnostics));
    diagnostics.sort_by_key(|d| (d.span().start, d.span().end, d.code));
    diagnostics.dedup();
    (config, diagnostics)
}

fn project(ctx: &mut Ctx<'_>, config: &mut Config, _key: &Key<'_>, value: &Value<'_>) {
    let Some(table) = ctx.table("project", value) else { return };
    for (key, value) in table.iter() {
        match key.get_ref().as_ref() {
            "name" => config.project = ctx.non_empty("name", value),
            _ => ctx.unknown_key(key, value, "`[project]`", &PROJECT_KEYS),
        }
    }
}

fn server(ctx: &mut Ctx<'_>, config: &mut Config, value: &Value<'_>) {
    let Some(table) = ctx.table("server", value) else { return };
    for (key, value) in table.iter() {
        match key.get_ref().as_ref() {
            "url" => config.server_url = connection::base_url(ctx, "url", value),
            _ => ctx.unknown_key(key, value, "`[server]`", &SERVER_KEYS),
        }
    }
}

fn secrets(ctx: &mut Ctx<'_>, config: &mut Config, _key: &Key<'_>, value: &Value<'_>) {
    let Some(table) = ctx.table("secrets", value) else { return };
    // Names first, so that a misuse of `secret:` below can name them.
    for (key, _) in table.iter() {
        ctx.name(key, "secret");
    }
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        if let Some(source) = ctx.reference(&name, value, config, false) {
            config.secrets.insert(name, Secret { source, name_span: ctx.span(key) });
        }
    }
}

fn people(ctx: &mut Ctx<'_>, config: &mut Config, _key: &Key<'_>, value: &Value<'_>) {
    let Some(table) = ctx.table("people", value) else { return };
    for (name_key, value) in table.iter() {
        let name = name_key.get_ref().to_string();
        ctx.name(name_key, "person");
        let Some(fields) = ctx.table(&format!("people.{name}"), value) else { continue };
        let mut person = Person { email: None, slack: None, name_span: ctx.span(name_key) };
        for (key, value) in fields.iter() {
            match key.get_ref().as_ref() {
                "email" => {
                    let Some(email) = ctx.non_empty("email", value) else { continue };
                    if valid_email(&email) {
                        person.email = Some(email);
                    } else {
                        ctx.push(
                            Diagnostic::new(
                                Code::InvalidConfigValue,
                                ctx.span(value),
                                format!("`{email}` is not an email address"),
                            )
                            .with_primary_label("expected `name@domain`"),
                        );
                    }
                }
                "slack" => person.slack = ctx.non_empty("slack", value),
                _ => ctx.unknown_key(key, value, &format!("`[people.{name}]`"), &PERSON_KEYS),
            }
        }
        if !fields.iter().any(|(k, _)| k.get_ref() == "email") {
            ctx.missing(
                person.name_span,
                &format!("person `{name}`"),
                "email",
                "a decider is identified by email: add `email = \"name@example.com\"`",
            );
        }
        config.people.insert(name, person);
    }
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

fn groups(ctx: &mut Ctx<'_>, config: &mut Config, _key: &Key<'_>, value: &Value<'_>) {
    let Some(table) = ctx.table("groups", value) else { return };
    for (name_key, value) in table.iter() {
        let name = name_key.get_ref().to_string();
        ctx.name(name_key, "group");
        let Some(fields) = ctx.table(&format!("groups.{name}"), value) else { continue };
        let mut group = Group { members: Vec::new(), name_span: ctx.span(name_key) };
        let mut listed = false;
        for (key, value) in fields.iter() {
            if key.get_ref() != "members" {
                ctx.unknown_key(key, value, &format!("`[groups.{name}]`"), &GROUP_KEYS);
                continue;
            }
            listed = true;
            let Some(array) = value.get_ref().as_array() else {
                ctx.wrong_type::<()>("members", value, "a list of people's names");
                continue;
            };
            if array.is_empty() {
                ctx.push(
                    Diagnostic::new(
                        Code::EmptyGroup,
                        ctx.span(value),
                        format!("group `{name}` has no members"),
                    )
                    .with_primary_label("nobody can decide for this group")
                    .with_help("add people from `[people]`, or remove the group"),
                );
            }
            for item in array.iter() {
                let Some(member) = item.get_ref().as_str() else {
                    ctx.wrong_type::<()>("members", item, "a list of people's names");
                    continue;
                };
                if config.people.contains_key(member) {
                    if !group.members.iter().any(|m| m == member) {
                        group.members.push(member.to_string());
                    }
                    continue;
                }
                let mut d = Diagnostic::new(
                    Code::UnknownGroupMember,
                    ctx.span(item),
                    format!("group `{name}` lists `{member}`, who is not in `[people]`"),
                )
                .with_primary_label("unknown person");
                d = match did_you_mean(member, config.people.keys().map(String::as_str)) {
                    Some(mean) => d.with_help(mean),
                    None => d.with_help(format!("add a `[people.{member}]` table with their `email`")),
                };
                ctx.push(d);
            }
        }
        if !listed {
            ctx.missing(
                group.name_span,
                &format!("group `{name}`"),
                "members",
                "list its people: `members = [\"ana\", \"ben\"]`",
            );
        }
        config.groups.insert(name, group);
    }
}

fn checks(ctx: &mut Ctx<'_>, config: &mut Config, _key: &Key<'_>, value: &Value<'_>) {
    let Some(table) = ctx.table("checks", value) else { return };
    for (key, value) in table.iter() {
        let written = key.get_ref();
        let Some(code) = Code::lookup(written) else {
            let names = ALL_CODES.iter().map(|info| info.name);
            let mut d = Diagnostic::new(
                Code::UnknownCheckCode,
                ctx.span(key),
                format!("`{written}` is not a diagnostic code"),
            )
            .with_primary_label("unknown code");
            d = match did_you_mean(written, names) {
                Some(mean) => d.with_help(mean),
                None => d.with_help("`weir explain` lists every code, by short code and by name"),
            };
            ctx.push(d);
            continue;
        };
        let Some(word) = ctx.string(written, value) else { continue };
        let Some(level) = CheckLevel::from_word(&word) else {
            let mut d = Diagnostic::new(
                Code::InvalidCheckLevel,
                ctx.span(value),
                format!("`{word}` is not a check level"),
            )
            .with_primary_label("expected `error`, `warning` or `off`");
            if let Some(mean) = did_you_mean(&word, CheckLevel::WORDS) {
                d = d.with_help(mean);
            }
            ctx.push(d);
            continue;
        };
        if code.severity() == Severity::Error && level != CheckLevel::Error {
            ctx.push(
                Diagnostic::new(
                    Code::InvalidCheckLevel,
                    ctx.span(value),
                    format!("`{}` is an error and weir.toml cannot lower it", code.name()),
                )
                .with_primary_label(format!("cannot be `{}`", level.as_str()))
                .with_help(
                    "fix what it reports, or silence one occurrence with `# allow(name): reason` above it",
                )
                .with_note("only warnings can be turned off or raised to errors project-wide"),
            );
            continue;
        }
        config.checks.set(code, level, ctx.span(value));
    }
}

/// Look at every string in the document for credentials, except where a secret reference
/// belongs (those are read, and reported, as references). A credential-named key holding a
/// literal counts even when the literal itself looks harmless (`password = "hunter2"`).
fn scan_credentials(ctx: &mut Ctx<'_>, table: &DeTable<'_>, path: &mut Vec<String>) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        scan_value(ctx, key.get_ref(), value, path);
        path.pop();
    }
}

fn scan_value(ctx: &mut Ctx<'_>, key: &str, value: &Value<'_>, path: &mut Vec<String>) {
    let reference_position = matches!(path.as_slice(), [s, _] if s == "secrets")
        || matches!(path.as_slice(), [c, _, a] if c == "connections" && a == "auth");
    match value.get_ref() {
        DeValue::Table(table) => scan_credentials(ctx, table, path),
        DeValue::Array(array) => {
            for item in array.iter() {
                scan_value(ctx, key, item, path);
            }
        }
        DeValue::String(text) if !reference_position => {
            let finding = secret::credential(text).or_else(|| {
                (secret::is_credential_key(key)
                    && !text.trim().is_empty()
                    && !secret::is_reference_form(text))
                .then_some(secret::Finding { what: "a literal value", within: None })
            });
            if let Some(finding) = finding {
                let text = text.to_string();
                ctx.credential(key, value, &text, &finding, false);
            }
        }
        _ => {}
    }
}
