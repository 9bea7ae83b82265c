//! Type descriptors: the value types of weir-compiler's `Type` as stable, serialisable data,
//! so the runtime can check inputs, callback bodies and step outputs without the compiler.
//! They live in one flat table; a composite type names its parts by index, and every part
//! comes before the type that uses it (so the table has no cycles).

use serde::{Deserialize, Serialize};

/// An index into the type table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TypeIx(pub u32);

/// What a `res<…>` holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldDesc {
    /// The field name.
    pub name: String,
    /// Its type.
    pub ty: TypeIx,
    /// `name?: T`: the field may be absent.
    pub optional: bool,
}

/// A type. The variants follow weir-compiler's `Type` one for one; new variants are only
/// ever added at the end (the encoding is the variant's position).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TypeDesc {
    /// Bounded short text (64 KiB by default).
    String,
    /// Bounded long text (1 MiB by default).
    Text,
    /// A 64-bit integer, optionally with an inclusive range.
    Int {
        /// `int in low..high`.
        range: Option<(i64, i64)>,
    },
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
    List {
        /// The item type.
        item: TypeIx,
    },
    /// `{ a: T, b?: U }`.
    Record {
        /// The fields in order.
        fields: Vec<FieldDesc>,
    },
    /// A union of string literals, `"low" | "high"`.
    Literals {
        /// The strings.
        values: Vec<String>,
    },
    /// `T?`.
    Optional {
        /// The type when present.
        inner: TypeIx,
    },
    /// A secret reference.
    Secret,
    /// `res<kind>`.
    Res {
        /// What it holds.
        kind: ResKind,
    },
    /// The type of `none`.
    None,
    /// Nothing to read (a step without an output).
    Unit,
    /// Not known at compile time: accepts anything.
    Unknown,
}

impl TypeDesc {
    /// The types this one is built from (checked to come earlier in the table).
    pub fn children(&self) -> Vec<TypeIx> {
        match self {
            TypeDesc::List { item } => vec![*item],
            TypeDesc::Optional { inner } => vec![*inner],
            TypeDesc::Record { fields } => fields.iter().map(|f| f.ty).collect(),
            _ => Vec::new(),
        }
    }
}
