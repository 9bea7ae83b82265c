//! `[connections.NAME]`: one table per connection a flow names, validated against what its
//! `type` needs.

use crate::document::{Ctx, Key, Value, list};
use crate::model::{Config, Connection, ConnectionKind, RateLimit};
use crate::similar::did_you_mean;
use std::collections::BTreeMap;
use weir_diagnostics::{Code, Diagnostic, Span};

/// Keys every connection type but sqlite accepts.
const COMMON: [&str; 6] =
    ["type", "irreversible", "unattended", "rate_limit", "allow_private_network", "auth"];
/// Every key any connection type accepts, for "did you mean" and for "not for this type".
const ALL_KEYS: [&str; 14] = [
    "type",
    "irreversible",
    "unattended",
    "rate_limit",
    "allow_private_network",
    "auth",
    "base_url",
    "host",
    "port",
    "user",
    "database",
    "path",
    "known_hosts",
    "from",
];

/// The keys of one type besides `COMMON`, and which of them are required.
fn own_keys(kind: ConnectionKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        k if k.is_http_like() => (&["base_url"], &["base_url"]),
        ConnectionKind::Postgres => (&["host", "port", "database", "user"], &["host"]),
        ConnectionKind::Smtp => (&["host", "port", "user", "from"], &["host"]),
        ConnectionKind::Ssh => (&["host", "port", "user", "known_hosts"], &["host", "known_hosts"]),
        _ => (&["path"], &["path"]),
    }
}

/// True when a connection of `kind` takes `key`.
pub fn accepts(kind: ConnectionKind, key: &str) -> bool {
    if kind == ConnectionKind::Sqlite && matches!(key, "auth" | "allow_private_network") {
        return false;
    }
    COMMON.contains(&key) || own_keys(kind).0.contains(&key)
}

/// The types that take `key`, as a sentence part: "`postgres`, `smtp` and `ssh`".
fn types_taking(key: &str) -> String {
    let kinds: Vec<&str> =
        ConnectionKind::ALL.into_iter().filter(|k| accepts(*k, key)).map(ConnectionKind::as_str).collect();
    list(&kinds)
}

/// Validate `[connections]` into `config.connections`.
pub fn connections(ctx: &mut Ctx<'_>, config: &mut Config, _key: &Key<'_>, value: &Value<'_>) {
    let Some(table) = ctx.table("connections", value) else { return };
    for (name_key, value) in table.iter() {
        let name = name_key.get_ref().to_string();
        ctx.name(name_key, "connection");
        let name_span = ctx.span(name_key);
        let Some(fields) = ctx.table(&format!("connections.{name}"), value) else {
            config.unusable_connections.insert(name, name_span);
            continue;
        };
        let kind =
            kind(ctx, &name, name_span, fields.iter().find(|(k, _)| k.get_ref() == "type").map(|(_, v)| v));
        let Some(kind) = kind else {
            // Still look at the keys no type takes, so a typo is not hidden behind the type.
            for (key, value) in fields.iter() {
                if !ALL_KEYS.contains(&key.get_ref().as_ref()) {
                    ctx.unknown_key(key, value, &format!("`[connections.{name}]`"), &ALL_KEYS);
                }
            }
            config.unusable_connections.insert(name, name_span);
            continue;
        };
        let connection = fields_of(ctx, config, &name, name_span, kind, fields);
        config.connections.insert(name, connection);
    }
}

/// The connection's `type`, reported when missing or unknown.
fn kind(ctx: &mut Ctx<'_>, name: &str, name_span: Span, value: Option<&Value<'_>>) -> Option<ConnectionKind> {
    let kinds: Vec<&str> = ConnectionKind::ALL.into_iter().map(ConnectionKind::as_str).collect();
    let Some(value) = value else {
        ctx.missing(
            name_span,
            &format!("connection `{name}`"),
            "type",
            format!("say what it connects to: `type = \"http\"`; the types are {}", list(&kinds)),
        );
        return None;
    };
    let word = ctx.string("type", value)?;
    if let Some(kind) = ConnectionKind::from_word(&word) {
        return Some(kind);
    }
    let help = match did_you_mean(&word, kinds.iter().copied()) {
        Some(mean) => mean,
        None => format!("the types are {}", list(&kinds)),
    };
    ctx.push(
        Diagnostic::new(
            Code::InvalidConnectionType,
            ctx.span(value),
            format!("connection `{name}` has the unknown type `{word}`"),
        )
        .with_primary_label("weir has no executor for this type")
        .with_help(help),
    );
    None
}

fn fields_of(
    ctx: &mut Ctx<'_>,
    config: &Config,
    name: &str,
    name_span: Span,
    kind: ConnectionKind,
    fields: &toml::de::DeTable<'_>,
) -> Connection {
    let mut c = Connection {
        name: name.to_string(),
        kind,
        base_url: None,
        host: None,
        port: None,
        user: None,
        database: None,
        path: None,
        known_hosts: None,
        from: None,
        irreversible: false,
        unattended: None,
        rate_limit: None,
        allow_private_network: false,
        auth: None,
        name_span,
        spans: BTreeMap::new(),
    };
    let place = format!("`[connections.{name}]`");
    for (key, value) in fields.iter() {
        let field = key.get_ref().as_ref();
        if !ALL_KEYS.contains(&field) {
            let known: Vec<&str> = ALL_KEYS.into_iter().filter(|k| accepts(kind, k)).collect();
            ctx.unknown_key(key, value, &place, &known);
            continue;
        }
        if !accepts(kind, field) {
            ctx.push(
                Diagnostic::new(
                    Code::FieldNotForConnectionType,
                    ctx.span(key),
                    format!("`{field}` is not used by connections of type `{kind}`"),
                )
                .with_primary_label(format!("`{name}` has type `{kind}`"))
                .with_help(format!("`{field}` is for {} connections", types_taking(field))),
            );
            continue;
        }
        c.spans.insert(field.to_string(), ctx.span(value));
        match field {
            "type" => {}
            "irreversible" => c.irreversible = ctx.boolean(field, value).unwrap_or(false),
            "allow_private_network" => c.allow_private_network = ctx.boolean(field, value).unwrap_or(false),
            "unattended" => {
                let reason = ctx.string(field, value);
                match reason {
                    Some(reason) if !reason.trim().is_empty() => c.unattended = Some(reason),
                    Some(_) => ctx.push(
                        Diagnostic::new(Code::InvalidConfigValue, ctx.span(value), "`unattended` gives no reason")
                            .with_primary_label("empty reason")
                            .with_help("say why steps through this connection need no approval: `unattended = \"internal channel, read by the team\"`"),
                    ),
                    None => {}
                }
            }
            "rate_limit" => c.rate_limit = rate_limit(ctx, value),
            "auth" => c.auth = ctx.reference(field, value, config, true),
            "base_url" => c.base_url = base_url(ctx, "base_url", value),
            "host" => c.host = host(ctx, value),
            "port" => c.port = port(ctx, value),
            "user" => c.user = ctx.non_empty(field, value),
            "database" => c.database = ctx.non_empty(field, value),
            "path" => c.path = ctx.non_empty(field, value),
            "known_hosts" => c.known_hosts = ctx.non_empty(field, value),
            _ => c.from = ctx.non_empty(field, value),
        }
    }
    for required in own_keys(kind).1 {
        if !fields.iter().any(|(k, _)| k.get_ref() == *required) {
            let help = match *required {
                "base_url" => "add the API's address: `base_url = \"https://api.example.com\"`",
                "host" => "add the server's host name: `host = \"db.example.com\"`",
                "known_hosts" => {
                    "weir only talks to ssh hosts whose keys are pinned: `known_hosts = \"ssh/known_hosts\"`"
                }
                _ => "add the database file: `path = \"data/app.db\"` (relative to weir.toml)",
            };
            ctx.missing(name_span, &format!("`{kind}` connection `{name}`"), required, help);
        }
    }
    if let (Some(url), false) = (&c.base_url, c.allow_private_network)
        && url.starts_with("http://")
        && let Some(span) = c.spans.get("base_url").copied()
    {
        ctx.push(
            Diagnostic::new(Code::InsecureConnectionUrl, span, format!("connection `{name}` sends its traffic unencrypted"))
                .with_primary_label("`http://` to a public address")
                .with_help("use `https://`; for a service on a private network, say so with `allow_private_network = true`")
                .with_note(if c.auth.is_some() { "its `auth` credential would cross the network in clear text" } else { "anyone on the path can read and change requests and responses" }),
        );
    }
    c
}

fn rate_limit(ctx: &mut Ctx<'_>, value: &Value<'_>) -> Option<RateLimit> {
    let parsed = value.get_ref().as_str().and_then(RateLimit::parse);
    if parsed.is_none() {
        let shown = match value.get_ref().as_str() {
            Some(text) => format!("`{text}` is not a rate limit"),
            None => {
                format!("`rate_limit` must be a string such as \"10/s\", not {}", value.get_ref().type_str())
            }
        };
        ctx.push(
            Diagnostic::new(Code::InvalidRateLimit, ctx.span(value), shown)
                .with_primary_label("expected `N/s`, `N/m` or `N/h`")
                .with_help("write how many uses per second, minute or hour, N at least 1: `rate_limit = \"10/s\"`, `\"600/m\"`"),
        );
    }
    parsed
}

/// An `http(s)://host[:port][/path]` address without query or fragment (a connection's
/// `base_url`, the server's `url`), or a diagnostic.
pub(crate) fn base_url(ctx: &mut Ctx<'_>, key: &str, value: &Value<'_>) -> Option<String> {
    let url = ctx.string(key, value)?;
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let problem = match host {
        None => Some("it must start with `https://` or `http://`"),
        Some("") => Some("it names no host"),
        Some(_) if url.chars().any(char::is_whitespace) => Some("it contains spaces"),
        Some(_) if url.contains(['?', '#']) => Some("it has a query or fragment; steps add their own"),
        Some(_) => None,
    };
    if let Some(problem) = problem {
        let shown =
            if crate::secret::credential(&url).is_some() { format!("`{key}`") } else { format!("`{url}`") };
        ctx.push(
            Diagnostic::new(
                Code::InvalidConfigValue,
                ctx.span(value),
                format!("{shown} is not a base URL: {problem}"),
            )
            .with_primary_label("expected `https://host[:port][/path]`")
            .with_help(if key == "base_url" {
                "write the address steps are relative to: `base_url = \"https://api.example.com/v1\"`"
            } else {
                "write the address workers reach weir at: `url = \"https://weir.example.com\"`"
            }),
        );
        return None;
    }
    Some(url)
}

fn host(ctx: &mut Ctx<'_>, value: &Value<'_>) -> Option<String> {
    let host = ctx.non_empty("host", value)?;
    if host.contains("://") || host.contains('/') || host.chars().any(char::is_whitespace) {
        ctx.push(
            Diagnostic::new(
                Code::InvalidConfigValue,
                ctx.span(value),
                format!("`{host}` is not a host name"),
            )
            .with_primary_label("expected a host name or address, without scheme or path")
            .with_help("write only the host (`db.example.com`) and put the port in `port`"),
        );
        return None;
    }
    Some(host)
}

fn port(ctx: &mut Ctx<'_>, value: &Value<'_>) -> Option<u16> {
    let Some(integer) = value.get_ref().as_integer() else {
        return ctx.wrong_type("port", value, "an integer");
    };
    let parsed = i64::from_str_radix(&integer.as_str().replace('_', ""), integer.radix()).ok();
    match parsed.and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0) {
        Some(port) => Some(port),
        None => {
            ctx.push(
                Diagnostic::new(Code::InvalidConfigValue, ctx.span(value), "`port` is out of range")
                    .with_primary_label("expected a port from 1 to 65535"),
            );
            None
        }
    }
}
