//! The typed result of reading weir.toml: what the compiler checks flows against and what
//! the runtime connects with.

use crate::checks::Checks;
use std::collections::BTreeMap;
use std::fmt;
use weir_diagnostics::Span;

/// A project's configuration: everything a flow may name that is not in the flow.
///
/// Every map is keyed by the name a flow uses. Spans point into the weir.toml text the config
/// was parsed from, so later passes (an unknown connection, a wrong connection type) can point
/// at the declaration too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `[project] name`, if given.
    pub project: Option<String>,
    /// `[connections.NAME]` whose `type` is valid.
    pub connections: BTreeMap<String, Connection>,
    /// Connections declared with a missing or unknown `type`: a flow naming one is not
    /// reported again as naming an unknown connection (the TOML diagnostic already covers it).
    pub unusable_connections: BTreeMap<String, Span>,
    /// `[secrets]`: where the value of each named secret comes from.
    pub secrets: BTreeMap<String, Secret>,
    /// `[people.NAME]`: who may decide approvals.
    pub people: BTreeMap<String, Person>,
    /// `[groups.NAME]`: named sets of people, for `deciders group "NAME"`.
    pub groups: BTreeMap<String, Group>,
    /// `[checks]`: severity per diagnostic code.
    pub checks: Checks,
    /// `[server] url`: the address workers reach weir at; callback URLs (`NAME.url`) are
    /// built on it.
    pub server_url: Option<String>,
}

impl Config {
    /// The configuration of a project without weir.toml: no connections, secrets, people or
    /// groups, default severities. A flow with no weir.toml checks against this.
    pub fn empty() -> Config {
        Config::default()
    }

    /// True when `name` is declared as a connection, usable or not.
    pub fn declares_connection(&self, name: &str) -> bool {
        self.connections.contains_key(name) || self.unusable_connections.contains_key(name)
    }
}

/// The kinds of connection weir has executors for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionKind {
    /// A generic HTTP API (`http` steps).
    Http,
    /// An OpenAI-compatible model API (`llm` steps).
    Openai,
    /// The Anthropic API (`llm` steps).
    Anthropic,
    /// A search API (`search` steps).
    Search,
    /// An embedded SQLite database file (`db` steps).
    Sqlite,
    /// A PostgreSQL server (`db` steps).
    Postgres,
    /// Slack's Web API (`notify` steps, approval `ask`).
    Slack,
    /// A generic outgoing webhook (`notify` steps).
    Webhook,
    /// An SMTP server (`notify` steps by email).
    Smtp,
    /// An SSH host with pinned host keys (`ssh` steps).
    Ssh,
}

impl ConnectionKind {
    /// Every kind, in documentation order.
    pub const ALL: [ConnectionKind; 10] = [
        ConnectionKind::Http,
        ConnectionKind::Openai,
        ConnectionKind::Anthropic,
        ConnectionKind::Search,
        ConnectionKind::Sqlite,
        ConnectionKind::Postgres,
        ConnectionKind::Slack,
        ConnectionKind::Webhook,
        ConnectionKind::Smtp,
        ConnectionKind::Ssh,
    ];

    /// The word written after `type =`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Http => "http",
            ConnectionKind::Openai => "openai",
            ConnectionKind::Anthropic => "anthropic",
            ConnectionKind::Search => "search",
            ConnectionKind::Sqlite => "sqlite",
            ConnectionKind::Postgres => "postgres",
            ConnectionKind::Slack => "slack",
            ConnectionKind::Webhook => "webhook",
            ConnectionKind::Smtp => "smtp",
            ConnectionKind::Ssh => "ssh",
        }
    }

    /// The kind written `word`, if any.
    pub fn from_word(word: &str) -> Option<ConnectionKind> {
        ConnectionKind::ALL.into_iter().find(|kind| kind.as_str() == word)
    }

    /// True for kinds addressed by `base_url` over HTTP(S).
    pub fn is_http_like(self) -> bool {
        matches!(
            self,
            ConnectionKind::Http
                | ConnectionKind::Openai
                | ConnectionKind::Anthropic
                | ConnectionKind::Search
                | ConnectionKind::Slack
                | ConnectionKind::Webhook
        )
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[connections.NAME]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The name flows use (`connection NAME`).
    pub name: String,
    /// What it connects to.
    pub kind: ConnectionKind,
    /// `base_url` of an HTTP-like connection.
    pub base_url: Option<String>,
    /// `host` of a postgres, smtp or ssh connection.
    pub host: Option<String>,
    /// `port`, when not the protocol's default.
    pub port: Option<u16>,
    /// `user` to log in as (postgres, smtp, ssh).
    pub user: Option<String>,
    /// `database` of a postgres connection.
    pub database: Option<String>,
    /// `path` of a sqlite database file, relative to weir.toml.
    pub path: Option<String>,
    /// `known_hosts`: the ssh host keys weir accepts, relative to weir.toml.
    pub known_hosts: Option<String>,
    /// `from`: the sender of an smtp connection.
    pub from: Option<String>,
    /// Every step through this connection is irreversible, so it must sit behind an approval.
    pub irreversible: bool,
    /// Why steps through this connection need no approval even when fed by model or agent
    /// output (listed by `weir check --explain`).
    pub unattended: Option<String>,
    /// How often all runs together may use the connection.
    pub rate_limit: Option<RateLimit>,
    /// The target may be a loopback, private or link-local address.
    pub allow_private_network: bool,
    /// The credential, as a reference the runtime resolves; never a value.
    pub auth: Option<SecretRef>,
    /// Where the connection's name is written (its table header key).
    pub name_span: Span,
    /// Where each key's value is written, by key, for diagnostics that point at one.
    pub spans: BTreeMap<String, Span>,
}

/// One `[secrets]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// Where the value comes from (`env:` or `file:`, never another `secret:`).
    pub source: SecretRef,
    /// Where the name is written.
    pub name_span: Span,
}

/// A reference to a secret value, resolved by the runtime when a step runs. weir.toml never
/// holds the value itself, and the journal stores only the reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretRef {
    /// `env:NAME`: the environment variable `NAME` of the process running the step.
    Env(String),
    /// `file:PATH`: the contents of a file (a mounted secret such as `/run/secrets/x`),
    /// trailing newline removed; a relative path is relative to weir.toml.
    File(String),
    /// `secret:NAME`: the entry `NAME` of `[secrets]`.
    Named(String),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{path}"),
            SecretRef::Named(name) => write!(f, "secret:{name}"),
        }
    }
}

/// One `[people.NAME]` table: someone who may decide approvals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Their email address: the identity the server and `--as` check.
    pub email: Option<String>,
    /// Their Slack member id, for `ask` messages that mention them.
    pub slack: Option<String>,
    /// Where the name is written.
    pub name_span: Span,
}

/// One `[groups.NAME]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Known people in the group, in the order written, without repeats.
    pub members: Vec<String>,
    /// Where the name is written.
    pub name_span: Span,
}

/// The unit of a rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RatePeriod {
    /// `/s`
    Second,
    /// `/m`
    Minute,
    /// `/h`
    Hour,
}

impl RatePeriod {
    /// Length of the period in seconds.
    pub fn seconds(self) -> u32 {
        match self {
            RatePeriod::Second => 1,
            RatePeriod::Minute => 60,
            RatePeriod::Hour => 3600,
        }
    }
}

/// `rate_limit = "N/s"`: at most `count` uses per `period`, shared by every run of every flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// How many uses (at least 1).
    pub count: u32,
    /// Per what.
    pub period: RatePeriod,
}

impl RateLimit {
    /// Parse `N/s`, `N/m` or `N/h` (N a positive integer; spaces around `/` allowed).
    pub fn parse(text: &str) -> Option<RateLimit> {
        let (count, unit) = text.trim().split_once('/')?;
        let count = count.trim();
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let count: u32 = count.parse().ok().filter(|n| *n > 0)?;
        let period = match unit.trim() {
            "s" => RatePeriod::Second,
            "m" => RatePeriod::Minute,
            "h" => RatePeriod::Hour,
            _ => return None,
        };
        Some(RateLimit { count, period })
    }

    /// Uses per second, for token buckets.
    pub fn per_second(self) -> f64 {
        f64::from(self.count) / f64::from(self.period.seconds())
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period {
            RatePeriod::Second => "s",
            RatePeriod::Minute => "m",
            RatePeriod::Hour => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits() {
        assert_eq!(RateLimit::parse("10/s"), Some(RateLimit { count: 10, period: RatePeriod::Second }));
        assert_eq!(RateLimit::parse(" 600 / m "), Some(RateLimit { count: 600, period: RatePeriod::Minute }));
        assert_eq!(RateLimit::parse("1/h").map(|r| r.to_string()), Some("1/h".to_string()));
        for bad in ["", "10", "0/s", "-1/s", "+1/s", "1.5/s", "10/sec", "10/d", "/s", "99999999999/s"] {
            assert_eq!(RateLimit::parse(bad), None, "{bad}");
        }
        assert!((RateLimit::parse("60/m").map_or(0.0, RateLimit::per_second) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in ConnectionKind::ALL {
            assert_eq!(ConnectionKind::from_word(kind.as_str()), Some(kind));
        }
        assert_eq!(ConnectionKind::from_word("HTTP"), None);
    }

    #[test]
    fn empty_config_declares_nothing() {
        let config = Config::empty();
        assert!(config.connections.is_empty() && config.people.is_empty());
        assert!(!config.declares_connection("openai"));
    }
}
