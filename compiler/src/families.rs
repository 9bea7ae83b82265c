//! The step families, defined once: config fields with their types, which are required,
//! the output each family gives, its effect class by method, the connection types it accepts
//! and whether its protocol honours an idempotency key. The checker, `weir families --json`
//! and the family table in `docs/language.md` are all generated from [`FAMILIES`].

use crate::types::Type;
use serde::Serialize;

/// Effect classes, weakest first (language.md, "Effects and who must look first").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// No effect outside weir: function, sleep, wait, log, kv.
    Pure,
    /// Reads the world: http GET/HEAD, db select, search, llm.
    Read,
    /// Changes the world: http POST/PUT/PATCH, db insert/update, notify, ssh.
    Write,
    /// Cannot be undone: http DELETE, db delete/drop/truncate/alter, irreversible connections.
    Irreversible,
}

impl Effect {
    /// The class as written in `effect CLASS because "…"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Pure => "pure",
            Effect::Read => "read",
            Effect::Write => "write",
            Effect::Irreversible => "irreversible",
        }
    }
}

/// What a config field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// The name of a connection in weir.toml.
    Connection,
    /// A string or template.
    String,
    /// Long text (a prompt, a message body).
    Text,
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// A duration.
    Duration,
    /// A secret (`secret NAME`).
    Secret,
    /// A record whose values are strings or secrets (headers, env).
    StringOrSecretRecord,
    /// A record of values (query parameters, call inputs).
    Record,
    /// A list of values (SQL parameters).
    List,
    /// Any value (request bodies, function values, kv values).
    Any,
    /// A type declaration (`output { … }`).
    Type,
    /// A record type of resources with their remote paths (`files { … }`).
    Files,
}

impl FieldKind {
    /// How the kind reads in docs and messages.
    pub fn describe(self) -> &'static str {
        match self {
            FieldKind::Connection => "connection",
            FieldKind::String => "string",
            FieldKind::Text => "text",
            FieldKind::Int => "int",
            FieldKind::Float => "float",
            FieldKind::Duration => "duration",
            FieldKind::Secret => "secret",
            FieldKind::StringOrSecretRecord => "record of string or secret",
            FieldKind::Record => "record",
            FieldKind::List => "list",
            FieldKind::Any => "any value",
            FieldKind::Type => "type",
            FieldKind::Files => "record of res<…> = \"remote path\"",
        }
    }
}

/// One config field of a family.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FieldSchema {
    /// The key as written.
    pub name: &'static str,
    /// What it accepts.
    pub kind: FieldKind,
    /// Must be present.
    pub required: bool,
    /// One line for docs.
    pub doc: &'static str,
}

/// A method (`http POST`, `kv get`) and the effect it has.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MethodSchema {
    /// As written.
    pub name: &'static str,
    /// Its effect class.
    pub effect: Effect,
}

/// How a family's output is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputShape {
    /// `{ status: int, headers: json, body: T }`, `T` from `output` (`json` without it).
    Http,
    /// The declared `output`, or `{ text: text }` without it.
    Llm,
    /// `{ value: T }`, `T` the type of the `value` field.
    Value,
    /// `kv get`: `{ value: T? }`, `T` from `output` (`json` without it); set/delete: nothing.
    Kv,
    /// `{ exit_code: int, stdout: text, stderr: text }` plus each declared file.
    Ssh,
    /// `{ rows: list<T>, affected: int }`, `T` from `output` (one row; `json` without it).
    Db,
    /// `{ results: list<T> }`, `T` from `output` (one result; `json` without it).
    Search,
    /// The called flow's `output`.
    Call,
    /// Nothing to read.
    Unit,
}

impl OutputShape {
    /// The output in words, for docs.
    pub fn describe(self) -> &'static str {
        match self {
            OutputShape::Http => {
                "`{ status: int, headers: json, body: T }`; `output` types `body` (`json` without it)"
            }
            OutputShape::Llm => "the declared `output`; without it `{ text: text }`",
            OutputShape::Value => "`{ value: T }`, `T` the type of `value`",
            OutputShape::Kv => "`get`: `{ value: T? }` (`output` types `T`); `set`, `delete`: nothing",
            OutputShape::Ssh => "`{ exit_code: int, stdout: text, stderr: text }` plus each file of `files`",
            OutputShape::Db => "`{ rows: list<T>, affected: int }`; `output` types one row",
            OutputShape::Search => "`{ results: list<T> }`; `output` types one result",
            OutputShape::Call => "the called flow's `output`",
            OutputShape::Unit => "nothing to read",
        }
    }

    /// The output type given the declared `output` type (if any).
    pub fn output_type(self, declared: Option<&Type>) -> Type {
        let or_json = || declared.cloned().unwrap_or(Type::Json);
        match self {
            OutputShape::Http => {
                Type::record(&[("status", Type::int()), ("headers", Type::Json), ("body", or_json())])
            }
            OutputShape::Llm => declared.cloned().unwrap_or_else(|| Type::record(&[("text", Type::Text)])),
            OutputShape::Value => Type::record(&[("value", or_json())]),
            OutputShape::Kv => Type::record(&[("value", Type::optional(or_json()))]),
            OutputShape::Ssh => {
                Type::record(&[("exit_code", Type::int()), ("stdout", Type::Text), ("stderr", Type::Text)])
            }
            OutputShape::Db => Type::record(&[("rows", Type::list(or_json())), ("affected", Type::int())]),
            OutputShape::Search => Type::record(&[("results", Type::list(or_json()))]),
            OutputShape::Call => declared.cloned().unwrap_or(Type::Unknown),
            OutputShape::Unit => Type::Unit,
        }
    }
}

/// One step family.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FamilySchema {
    /// The family as written after `=`.
    pub name: &'static str,
    /// One line for docs.
    pub doc: &'static str,
    /// Methods it takes (empty: none).
    pub methods: &'static [MethodSchema],
    /// Whether a `"target"` string follows (http path, kv key) and what it is.
    pub target: Option<&'static str>,
    /// Effect when the family has no methods (or for SQL, the weakest).
    pub effect: Effect,
    /// Config fields besides the common ones.
    pub fields: &'static [FieldSchema],
    /// Connection types (weir.toml `type`) it accepts; empty: no connection.
    pub connection_types: &'static [&'static str],
    /// Its protocol honours an idempotency key.
    pub idempotency_key: bool,
    /// How its output is typed.
    pub output: OutputShape,
}

/// Fields every step may carry, whatever its family.
pub const COMMON_FIELDS: &[FieldSchema] = &[
    FieldSchema { name: "timeout", kind: FieldKind::Duration, required: false, doc: "per attempt" },
    FieldSchema {
        name: "retry",
        kind: FieldKind::Int,
        required: false,
        doc: "retries after the first attempt",
    },
    FieldSchema {
        name: "effect",
        kind: FieldKind::String,
        required: false,
        doc: "override the effect class",
    },
    FieldSchema { name: "unattended", kind: FieldKind::String, required: false, doc: "run without a guard" },
    FieldSchema { name: "undo", kind: FieldKind::Any, required: false, doc: "compensation" },
    FieldSchema {
        name: "idempotency_key",
        kind: FieldKind::String,
        required: false,
        doc: "only for protocols that honour one (see each family)",
    },
];

const fn field(name: &'static str, kind: FieldKind, required: bool, doc: &'static str) -> FieldSchema {
    FieldSchema { name, kind, required, doc }
}

const HTTP_METHODS: &[MethodSchema] = &[
    MethodSchema { name: "GET", effect: Effect::Read },
    MethodSchema { name: "HEAD", effect: Effect::Read },
    MethodSchema { name: "POST", effect: Effect::Write },
    MethodSchema { name: "PUT", effect: Effect::Write },
    MethodSchema { name: "PATCH", effect: Effect::Write },
    MethodSchema { name: "DELETE", effect: Effect::Irreversible },
];

const KV_METHODS: &[MethodSchema] = &[
    MethodSchema { name: "get", effect: Effect::Pure },
    MethodSchema { name: "set", effect: Effect::Pure },
    MethodSchema { name: "delete", effect: Effect::Pure },
];

/// Every step family.
pub const FAMILIES: &[FamilySchema] = &[
    FamilySchema {
        name: "http",
        doc: "an HTTP request through a connection",
        methods: HTTP_METHODS,
        target: Some("path, appended to the connection's base URL"),
        effect: Effect::Write,
        fields: &[
            field("connection", FieldKind::Connection, true, "an `http` or `webhook` connection"),
            field("headers", FieldKind::StringOrSecretRecord, false, "request headers"),
            field("query", FieldKind::Record, false, "query parameters"),
            field("body", FieldKind::Any, false, "request body, sent as JSON"),
            field("output", FieldKind::Type, false, "the type of the response body"),
            field("max_body", FieldKind::Int, false, "largest response body read, in bytes"),
            field("auth", FieldKind::Secret, false, "overrides the connection's auth"),
            field("idempotency_key", FieldKind::String, false, "sent as `Idempotency-Key`"),
        ],
        connection_types: &["http", "webhook"],
        idempotency_key: true,
        output: OutputShape::Http,
    },
    FamilySchema {
        name: "llm",
        doc: "a call to a language model",
        methods: &[],
        target: None,
        effect: Effect::Read,
        fields: &[
            field("connection", FieldKind::Connection, true, "an `openai` or `anthropic` connection"),
            field("model", FieldKind::String, true, "the model name"),
            field("system", FieldKind::Text, false, "the system prompt"),
            field("prompt", FieldKind::Text, true, "the prompt"),
            field("output", FieldKind::Type, false, "structured output; without it `{ text }`"),
            field("max_tokens", FieldKind::Int, false, "bounds the output"),
            field("temperature", FieldKind::Float, false, "sampling temperature"),
        ],
        connection_types: &["openai", "anthropic"],
        idempotency_key: false,
        output: OutputShape::Llm,
    },
    FamilySchema {
        name: "function",
        doc: "a pure computation of a value",
        methods: &[],
        target: None,
        effect: Effect::Pure,
        fields: &[field("value", FieldKind::Any, true, "the value computed")],
        connection_types: &[],
        idempotency_key: false,
        output: OutputShape::Value,
    },
    FamilySchema {
        name: "kv",
        doc: "the flow's own key-value store inside weir (journaled)",
        methods: KV_METHODS,
        target: Some("the key"),
        effect: Effect::Pure,
        fields: &[
            field("value", FieldKind::Any, false, "the value to `set`"),
            field("output", FieldKind::Type, false, "the type of the value `get` reads"),
        ],
        connection_types: &[],
        idempotency_key: false,
        output: OutputShape::Kv,
    },
    FamilySchema {
        name: "ssh",
        doc: "a command on a remote host (pinned host key)",
        methods: &[],
        target: None,
        effect: Effect::Write,
        fields: &[
            field("connection", FieldKind::Connection, true, "an `ssh` connection"),
            field(
                "command",
                FieldKind::String,
                true,
                "the command line; quote untrusted parts with `quote_shell`",
            ),
            field("env", FieldKind::StringOrSecretRecord, false, "environment variables"),
            field("files", FieldKind::Files, false, "remote files fetched as resources after the command"),
            field("max_output", FieldKind::Int, false, "bounds stdout and stderr, in bytes"),
        ],
        connection_types: &["ssh"],
        idempotency_key: false,
        output: OutputShape::Ssh,
    },
    FamilySchema {
        name: "db",
        doc: "one SQL statement; its kind decides the effect",
        methods: &[],
        target: None,
        effect: Effect::Read,
        fields: &[
            field("connection", FieldKind::Connection, true, "a `sqlite` or `postgres` connection"),
            field("query", FieldKind::String, true, "SQL text (a raw string; parameters, never holes)"),
            field("params", FieldKind::List, false, "the statement's parameters"),
            field("limit", FieldKind::Int, false, "bounds the rows read"),
            field("output", FieldKind::Type, false, "the type of one row"),
        ],
        connection_types: &["sqlite", "postgres"],
        idempotency_key: false,
        output: OutputShape::Db,
    },
    FamilySchema {
        name: "search",
        doc: "a web or document search",
        methods: &[],
        target: None,
        effect: Effect::Read,
        fields: &[
            field("connection", FieldKind::Connection, true, "a `search` connection"),
            field("query", FieldKind::String, true, "the query"),
            field("limit", FieldKind::Int, false, "most results"),
            field("output", FieldKind::Type, false, "the type of one result"),
        ],
        connection_types: &["search"],
        idempotency_key: false,
        output: OutputShape::Search,
    },
    FamilySchema {
        name: "notify",
        doc: "a message to people (chat, webhook, mail)",
        methods: &[],
        target: None,
        effect: Effect::Write,
        fields: &[
            field("connection", FieldKind::Connection, true, "a `slack`, `webhook` or `smtp` connection"),
            field("channel", FieldKind::String, false, "chat channel"),
            field("to", FieldKind::String, false, "mail recipient"),
            field("subject", FieldKind::String, false, "mail subject"),
            field("text", FieldKind::Text, true, "the message"),
        ],
        connection_types: &["slack", "webhook", "smtp"],
        idempotency_key: false,
        output: OutputShape::Unit,
    },
    FamilySchema {
        name: "call",
        doc: "another flow, run as a linked child run",
        methods: &[],
        target: None,
        effect: Effect::Pure,
        fields: &[field("input", FieldKind::Record, false, "the called flow's input")],
        connection_types: &[],
        idempotency_key: false,
        output: OutputShape::Call,
    },
    FamilySchema {
        name: "sleep",
        doc: "a durable timer",
        methods: &[],
        target: None,
        effect: Effect::Pure,
        fields: &[],
        connection_types: &[],
        idempotency_key: false,
        output: OutputShape::Unit,
    },
    FamilySchema {
        name: "wait",
        doc: "waits for a callback (its output) or a durable timer",
        methods: &[],
        target: None,
        effect: Effect::Pure,
        fields: &[],
        connection_types: &[],
        idempotency_key: false,
        output: OutputShape::Unit,
    },
];

/// The family named `name`.
pub fn family(name: &str) -> Option<&'static FamilySchema> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The effect of an SQL statement, by its first keyword.
pub fn sql_effect(sql: &str) -> Effect {
    let first = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase();
    match first.as_str() {
        "select" | "with" | "show" | "explain" | "values" => Effect::Read,
        "insert" | "update" | "upsert" | "merge" | "replace" | "create" | "copy" => Effect::Write,
        _ => Effect::Irreversible,
    }
}

impl FamilySchema {
    /// The effect of this family with `method` (if any).
    pub fn effect_of(&self, method: Option<&str>) -> Effect {
        method.and_then(|m| self.methods.iter().find(|s| s.name == m)).map_or(self.effect, |m| m.effect)
    }

    /// A config field of this family (or a common one).
    pub fn field(&self, name: &str) -> Option<&'static FieldSchema> {
        self.fields.iter().chain(COMMON_FIELDS).find(|f| f.name == name)
    }
}

/// The family table of `docs/language.md`, generated.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| family | effect | connection | config (required in bold) | its name denotes |\n");
    out.push_str("|---|---|---|---|---|\n");
    for family in FAMILIES {
        let effect = if family.methods.is_empty() {
            if family.name == "db" {
                "by SQL statement: select read; insert/update write; delete/drop/truncate/alter irreversible"
                    .to_string()
            } else if family.name == "call" {
                "the strongest of the callee's unguarded steps".to_string()
            } else {
                family.effect.as_str().to_string()
            }
        } else {
            family
                .methods
                .iter()
                .map(|m| format!("`{}` {}", m.name, m.effect.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let connection = if family.connection_types.is_empty() {
            "none".to_string()
        } else {
            family.connection_types.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
        };
        let mut fields: Vec<String> = family
            .fields
            .iter()
            .map(|f| if f.required { format!("**`{}`**", f.name) } else { format!("`{}`", f.name) })
            .collect();
        if let Some(target) = family.target {
            fields.insert(0, format!("target: {target}"));
        }
        let fields = if fields.is_empty() { "—".to_string() } else { fields.join(", ") };
        let idempotent = if family.idempotency_key { " (honours `idempotency_key`)" } else { "" };
        out.push_str(&format!(
            "| `{}`{idempotent} | {effect} | {connection} | {fields} | {} |\n",
            family.name,
            family.output.describe()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects() {
        let http = family("http").expect("http");
        assert_eq!(http.effect_of(Some("GET")), Effect::Read);
        assert_eq!(http.effect_of(Some("DELETE")), Effect::Irreversible);
        assert_eq!(sql_effect("SELECT * FROM t"), Effect::Read);
        assert_eq!(sql_effect("  insert into t values (1)"), Effect::Write);
        assert_eq!(sql_effect("DROP TABLE t"), Effect::Irreversible);
        assert_eq!(sql_effect("alter table t add c int"), Effect::Irreversible);
    }

    #[test]
    fn every_family_is_documented_once() {
        let mut names: Vec<_> = FAMILIES.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len());
        assert!(markdown_table().lines().count() == FAMILIES.len() + 2);
    }
}
