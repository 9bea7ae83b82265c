//! The types of `.flow` values (language.md, "Values and types").

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::fmt;
use weir_grammar::ast::{Flow, StmtKind, TypeExpr, TypeKind, TypeRecord};

/// What a `res<…>` holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "media", rename_all = "snake_case")]
pub enum ResKind {
    /// `res<text>`.
    Text,
    /// `res<json>`.
    Json,
    /// `res<bytes>`.
    Bytes,
    /// `res<"image/png">`: a media type.
    Media(String),
}

/// A field of a record type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// `name?: T`: the field may be absent.
    pub optional: bool,
}

/// A type.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Type {
    /// Bounded short text (64 KiB by default).
    String,
    /// Bounded long text (1 MiB by default).
    Text,
    /// A 64-bit integer, optionally with an inclusive range.
    Int { range: Option<(i64, i64)> },
    /// A 64-bit float.
    Float,
    /// `true` or `false`.
    Bool,
    /// `30s`, `2h`.
    Duration,
    /// An instant.
    Time,
    /// Untyped JSON.
    Json,
    /// `list<T>`.
    List { item: Box<Type> },
    /// `{ a: T, b?: U }`.
    Record { fields: Vec<Field> },
    /// A union of string literals, `"low" | "high"` (one literal is a union of one).
    Literals { values: Vec<String> },
    /// `T?`.
    Optional { inner: Box<Type> },
    /// A secret reference: accepted only where a field is typed `secret`.
    Secret,
    /// `res<kind>`: content in the store, read only through bounded builtins.
    Res { kind: ResKind },
    /// The type of `none`.
    None,
    /// A step or statement whose output has nothing to read.
    Unit,
    /// Not known (after an error); compatible with everything so one mistake is reported once.
    Unknown,
}

impl Type {
    /// True for a type whose values cannot carry free-form text: literal unions, bools,
    /// numbers, durations, times, secrets and resources (never text in place), and lists,
    /// records and optionals of those. `unknown` (after an error, reported once elsewhere)
    /// counts as narrow so one mistake gives one diagnostic.
    pub fn is_narrow(&self) -> bool {
        match self {
            Type::String | Type::Text | Type::Json => false,
            Type::Optional { inner } => inner.is_narrow(),
            Type::List { item } => item.is_narrow(),
            Type::Record { fields } => fields.iter().all(|f| f.ty.is_narrow()),
            Type::Int { .. }
            | Type::Float
            | Type::Bool
            | Type::Duration
            | Type::Time
            | Type::Literals { .. }
            | Type::Secret
            | Type::Res { .. }
            | Type::None
            | Type::Unit
            | Type::Unknown => true,
        }
    }

    /// `int` without a range.
    pub fn int() -> Type {
        Type::Int { range: None }
    }

    /// `list<item>`.
    pub fn list(item: Type) -> Type {
        Type::List { item: Box::new(item) }
    }

    /// `inner?` (never doubly optional).
    pub fn optional(inner: Type) -> Type {
        match inner {
            Type::Optional { .. } | Type::Unknown | Type::None => inner,
            other => Type::Optional { inner: Box::new(other) },
        }
    }

    /// A record from `(name, type)` pairs, all required.
    pub fn record(fields: &[(&str, Type)]) -> Type {
        Type::Record {
            fields: fields
                .iter()
                .map(|(n, t)| Field { name: n.to_string(), ty: t.clone(), optional: false })
                .collect(),
        }
    }

    /// The built-in type named `name`, if it is one.
    pub fn builtin(name: &str) -> Option<Type> {
        Some(match name {
            "string" => Type::String,
            "text" => Type::Text,
            "int" => Type::int(),
            "float" => Type::Float,
            "bool" => Type::Bool,
            "duration" => Type::Duration,
            "time" => Type::Time,
            "json" => Type::Json,
            "secret" => Type::Secret,
            "error" => Type::error_record(),
            _ => return None,
        })
    }

    /// The names of the built-in types, for "did you mean".
    pub const BUILTIN_NAMES: &'static [&'static str] =
        &["string", "text", "int", "float", "bool", "duration", "time", "json", "secret", "error"];

    /// `error`: what `catch e` and `on failure e` bind.
    pub fn error_record() -> Type {
        Type::record(&[
            ("code", Type::String),
            ("message", Type::Text),
            ("step", Type::String),
            ("attempts", Type::int()),
        ])
    }

    /// A field of a record type (looking through `?` is the caller's business).
    pub fn field(&self, name: &str) -> Option<&Field> {
        match self {
            Type::Record { fields } => fields.iter().find(|f| f.name == name),
            _ => None,
        }
    }

    /// True for values weir cannot bound in size (design.md §3, payloads).
    pub fn is_unbounded(&self) -> bool {
        matches!(self, Type::Res { kind: ResKind::Bytes })
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Text => f.write_str("text"),
            Type::Int { range: None } => f.write_str("int"),
            Type::Int { range: Some((low, high)) } => write!(f, "int in {low}..{high}"),
            Type::Float => f.write_str("float"),
            Type::Bool => f.write_str("bool"),
            Type::Duration => f.write_str("duration"),
            Type::Time => f.write_str("time"),
            Type::Json => f.write_str("json"),
            Type::List { item } => write!(f, "list<{item}>"),
            Type::Record { fields } => {
                if fields.is_empty() {
                    return f.write_str("{}");
                }
                f.write_str("{ ")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}{}: {}", field.name, if field.optional { "?" } else { "" }, field.ty)?;
                }
                f.write_str(" }")
            }
            Type::Literals { values } => {
                let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
                f.write_str(&quoted.join(" | "))
            }
            Type::Optional { inner } => match inner.as_ref() {
                Type::Literals { values } if values.len() > 1 => write!(f, "({inner})?"),
                _ => write!(f, "{inner}?"),
            },
            Type::Secret => f.write_str("secret"),
            Type::Res { kind: ResKind::Text } => f.write_str("res<text>"),
            Type::Res { kind: ResKind::Json } => f.write_str("res<json>"),
            Type::Res { kind: ResKind::Bytes } => f.write_str("res<bytes>"),
            Type::Res { kind: ResKind::Media(media) } => write!(f, "res<{media:?}>"),
            Type::None => f.write_str("none"),
            Type::Unit => f.write_str("nothing"),
            Type::Unknown => f.write_str("unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_source() {
        let t = Type::record(&[
            ("risk", Type::Literals { values: vec!["low".into(), "high".into()] }),
            ("steps", Type::list(Type::String)),
            ("log", Type::Res { kind: ResKind::Text }),
        ]);
        assert_eq!(t.to_string(), r#"{ risk: "low" | "high", steps: list<string>, log: res<text> }"#);
        assert_eq!(Type::optional(Type::optional(Type::int())).to_string(), "int?");
        assert_eq!(Type::Int { range: Some((1, 10)) }.to_string(), "int in 1..10");
    }
}

/// How deeply aliases may expand (against `type A = B` / `type B = A`).
const MAX_ALIAS_DEPTH: usize = 32;

/// A flow's `type NAME = …` aliases, and the one resolution of type syntax into [`Type`]
/// (the checker and the lowering both use it).
#[derive(Debug, Default)]
pub struct Aliases<'a> {
    aliases: HashMap<&'a str, &'a TypeExpr>,
}

impl<'a> Aliases<'a> {
    /// The aliases declared at flow level.
    pub fn of(flow: &'a Flow) -> Aliases<'a> {
        let aliases = flow
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::TypeAlias { name, ty } => Some((name.name.as_str(), ty)),
                _ => None,
            })
            .collect();
        Aliases { aliases }
    }

    /// The type a type expression denotes (`unknown` for what does not resolve).
    pub fn resolve(&self, ty: &TypeExpr) -> Type {
        self.resolve_at(ty, 0)
    }

    fn resolve_at(&self, ty: &TypeExpr, depth: usize) -> Type {
        match &ty.kind {
            TypeKind::Name { name } => {
                if let Some(builtin) = Type::builtin(&name.name) {
                    return builtin;
                }
                match self.aliases.get(name.name.as_str()) {
                    Some(alias) if depth < MAX_ALIAS_DEPTH => self.resolve_at(alias, depth + 1),
                    _ => Type::Unknown,
                }
            }
            TypeKind::Range { low, high, .. } => Type::Int { range: Some((*low, *high)) },
            TypeKind::List { item } => Type::list(self.resolve_at(item, depth)),
            TypeKind::Res { kind } => Type::Res {
                kind: match kind.as_str() {
                    "text" => ResKind::Text,
                    "json" => ResKind::Json,
                    "bytes" => ResKind::Bytes,
                    other => ResKind::Media(other.to_string()),
                },
            },
            TypeKind::Record(record) => self.record_at(record, depth),
            TypeKind::Literal { value } => Type::Literals { values: vec![value.clone()] },
            TypeKind::Union { options } => {
                let mut literals = Vec::new();
                for option in options {
                    match self.resolve_at(option, depth) {
                        Type::Literals { values } => literals.extend(values),
                        _ => return Type::Unknown,
                    }
                }
                Type::Literals { values: literals }
            }
            TypeKind::Optional { inner } => Type::optional(self.resolve_at(inner, depth)),
            TypeKind::Paren { inner } => self.resolve_at(inner, depth),
        }
    }

    /// A record type from `{ name: T [= default], … }` (a field with `?`, or of an optional
    /// type without a default, may be absent).
    pub fn record(&self, record: &TypeRecord) -> Type {
        self.record_at(record, 0)
    }

    fn record_at(&self, record: &TypeRecord, depth: usize) -> Type {
        let fields = record
            .fields
            .iter()
            .map(|f| Field {
                name: f.key.name.clone(),
                ty: self.resolve_at(&f.ty, depth),
                optional: f.optional
                    || (f.default.is_none() && matches!(f.ty.kind, TypeKind::Optional { .. })),
            })
            .collect();
        Type::Record { fields }
    }
}
