//! The builtin functions: a fixed, documented, pure set (language.md, "Values and types").
//! `now()` and `uuid()` are journaled by the runtime, so replay sees the same value.

use crate::types::{ResKind, Type};
use serde::Serialize;

/// What a builtin returns.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Returns {
    /// Always this type.
    Fixed(Type),
    /// The type of the first argument (`prev(step)` gives that step's output, optional).
    FirstArgOptional,
}

/// One builtin.
#[derive(Clone, Debug, Serialize)]
pub struct Builtin {
    /// Its name.
    pub name: &'static str,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments.
    pub max_args: usize,
    /// Its result.
    pub returns: Returns,
    /// One line for docs.
    pub doc: &'static str,
}

fn fixed(name: &'static str, min_args: usize, max_args: usize, returns: Type, doc: &'static str) -> Builtin {
    Builtin { name, min_args, max_args, returns: Returns::Fixed(returns), doc }
}

/// Every builtin, in the order of the docs (built once).
pub fn builtins() -> &'static [Builtin] {
    static ALL: std::sync::LazyLock<Vec<Builtin>> = std::sync::LazyLock::new(all);
    &ALL
}

fn all() -> Vec<Builtin> {
    vec![
        fixed("len", 1, 1, Type::int(), "length of a string (characters) or a list"),
        fixed("lower", 1, 1, Type::String, "lower-case a string"),
        fixed("upper", 1, 1, Type::String, "upper-case a string"),
        fixed("trim", 1, 1, Type::String, "remove surrounding whitespace"),
        fixed("contains", 2, 2, Type::Bool, "a string contains a substring, or a list an item"),
        fixed("starts_with", 2, 2, Type::Bool, "a string starts with a prefix"),
        fixed("ends_with", 2, 2, Type::Bool, "a string ends with a suffix"),
        fixed("replace", 3, 3, Type::String, "replace every occurrence of a substring"),
        fixed("split", 2, 2, Type::list(Type::String), "split a string on a separator"),
        fixed("join", 2, 2, Type::String, "join a list of strings with a separator"),
        fixed("url_encode", 1, 1, Type::String, "percent-encode for a URL path or query"),
        fixed("quote_shell", 1, 1, Type::String, "quote a value for a POSIX shell command line"),
        fixed("to_json", 1, 1, Type::Text, "serialise a value as JSON text"),
        fixed("parse_json", 1, 1, Type::Json, "parse JSON text"),
        fixed("read_text", 2, 2, Type::Text, "read a resource's content as text, at most N bytes"),
        fixed("signed_url", 2, 2, Type::String, "a signed, expiring URL for a resource (at most 7 days)"),
        fixed("now", 0, 0, Type::Time, "the current time (journaled: replay sees the same value)"),
        fixed("uuid", 0, 0, Type::String, "a random UUID (journaled: replay sees the same value)"),
        fixed("format_time", 2, 3, Type::String, "format a time with a pattern, optionally in a time zone"),
        fixed("parse_time", 1, 2, Type::Time, "parse an RFC 3339 time, or with a pattern"),
        fixed("min", 2, 2, Type::Unknown, "the smaller of two numbers or durations"),
        fixed("max", 2, 2, Type::Unknown, "the larger of two numbers or durations"),
        fixed("round", 1, 1, Type::int(), "round a float to the nearest integer"),
        fixed("keys", 1, 1, Type::list(Type::String), "the keys of a record or JSON object"),
        fixed("to_res", 1, 1, Type::Res { kind: ResKind::Text }, "store text as a resource"),
        Builtin {
            name: "prev",
            min_args: 1,
            max_args: 1,
            returns: Returns::FirstArgOptional,
            doc: "a step's output in the previous loop iteration (none in the first)",
        },
    ]
}

/// The builtin named `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    builtins().iter().find(|b| b.name == name)
}

/// Every builtin name, for "did you mean".
pub fn names() -> Vec<&'static str> {
    builtins().iter().map(|b| b.name).collect()
}

/// What a builtin's argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Param {
    /// `string`, `text` or a string literal type.
    Text,
    /// An `int`.
    Int,
    /// A number or a duration.
    Number,
    /// A `duration`.
    Duration,
    /// A `time`.
    Time,
    /// A resource (`res<…>`).
    Res,
    /// A list.
    List,
    /// Anything.
    Any,
}

impl Param {
    /// How the kind reads in a message.
    pub fn describe(self) -> &'static str {
        match self {
            Param::Text => "a string",
            Param::Int => "an int",
            Param::Number => "a number or a duration",
            Param::Duration => "a duration",
            Param::Time => "a time",
            Param::Res => "a resource (`res<…>`)",
            Param::List => "a list",
            Param::Any => "any value",
        }
    }
}

/// The kinds of a builtin's arguments, in order (the last repeats for optional ones).
pub fn params(name: &str) -> &'static [Param] {
    use Param::*;
    match name {
        "lower" | "upper" | "trim" | "url_encode" | "quote_shell" => &[Text],
        "starts_with" | "ends_with" | "split" => &[Text, Text],
        "replace" => &[Text, Text, Text],
        "join" => &[List, Text],
        "parse_json" | "to_res" => &[Text],
        "read_text" => &[Res, Int],
        "signed_url" => &[Res, Duration],
        "format_time" => &[Time, Text, Text],
        "parse_time" => &[Text, Text],
        "min" | "max" => &[Number, Number],
        "round" => &[Number],
        _ => &[],
    }
}
