//! The run-time values of `.flow` (language.md, "Values and types"): what the constant pool
//! holds, what the evaluator computes and what the runtime journals.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// How deeply lists and records may nest in a value that is decoded. A decoded value comes
/// from a file or a journal; the limit keeps a hostile one from overflowing the stack.
pub const MAX_VALUE_DEPTH: usize = 128;

/// A value. Records keep their fields in the order written; durations and times are
/// milliseconds so that arithmetic on them is exact.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Value {
    /// `none`, the absent value of a `T?` (and JSON `null`).
    None,
    /// `true` or `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float (always finite when computed by the evaluator).
    Float(f64),
    /// `string` and `text`.
    String(String),
    /// A duration in milliseconds (negative only as the result of `time - time`).
    Duration(i64),
    /// An instant: milliseconds since 1970-01-01T00:00:00Z.
    Time(i64),
    /// `list<T>`.
    List(Vec<Value>),
    /// A record, fields in order (keys are unique).
    Record(Vec<(String, Value)>),
    /// A resource held by the store, by reference.
    Res(ResRef),
    /// A secret, by name only: the value never enters the bytecode, the journal or a string.
    Secret(SecretRef),
}

/// A reference to a resource (`res<…>`): content in the store, passed by reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResRef {
    /// SHA-256 of the content.
    pub digest: [u8; 32],
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`text/plain`, `application/json`, `image/png`, …).
    pub media_type: String,
}

/// A reference to a secret of `weir.toml`: its name, never its value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretRef {
    /// The secret's name in `weir.toml`.
    pub name: String,
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A record from `(key, value)` pairs.
    pub fn record<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Record(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The kind of value, as a message names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "none",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Duration(_) => "duration",
            Value::Time(_) => "time",
            Value::List(_) => "list",
            Value::Record(_) => "record",
            Value::Res(_) => "resource",
            Value::Secret(_) => "secret",
        }
    }

    /// A record's field (`None` when this is not a record or has no such field).
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Record(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// How deeply lists and records nest (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            Value::List(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Value::Record(fields) => 1 + fields.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// True when this value is or holds a secret.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(items) => items.iter().any(Value::contains_secret),
            Value::Record(fields) => fields.iter().any(|(_, v)| v.contains_secret()),
            _ => false,
        }
    }
}

/// A duration as the language writes it: `1h30m`, `250ms`, `0s`, `-5m`.
pub fn format_duration(millis: i64) -> String {
    if millis == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if millis < 0 {
        out.push('-');
    }
    let mut rest = millis.unsigned_abs();
    for (unit, size) in [("d", 86_400_000u64), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// The inverse of [`format_duration`]: `1h30m`, `250ms`, `30s`, `2d` (or a plain number of
/// milliseconds) → milliseconds. `None` for anything else or on overflow. (Run-time text:
/// an approval's input, a callback body, `weir gc --older-than`.)
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (size, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.as_bytes().first()? {
                b's' => (1_000, 1),
                b'm' => (60_000, 1),
                b'h' => (3_600_000, 1),
                b'd' => (86_400_000, 1),
                _ => return None,
            }
        };
        total = total.checked_add(number.checked_mul(size)?)?;
        rest = &rest[len..];
    }
    (!text.is_empty()).then_some(total)
}

/// A time as RFC 3339 in UTC (`2024-07-15T16:24:59Z`, with milliseconds when not zero).
pub fn format_time_rfc3339(millis: i64) -> Option<String> {
    let ts = jiff::Timestamp::from_millisecond(millis).ok()?;
    let pattern = if millis.rem_euclid(1000) == 0 { "%Y-%m-%dT%H:%M:%SZ" } else { "%Y-%m-%dT%H:%M:%S%.3fZ" };
    jiff::fmt::strtime::format(pattern, ts).ok()
}

/// A float as text: like JSON, always with a fraction or an exponent (`1.0`, `0.5`).
pub fn format_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 { format!("{f:.1}") } else { format!("{f}") }
}

impl fmt::Display for ResRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "res({}, {} bytes, sha256:", self.media_type, self.size)?;
        for b in &self.digest[..6] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

/// How a value reads in `weir disasm` and in messages (a secret shows only its name).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("none"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float(*x)),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Duration(ms) => f.write_str(&format_duration(*ms)),
            Value::Time(ms) => match format_time_rfc3339(*ms) {
                Some(text) => write!(f, "time({text})"),
                None => write!(f, "time({ms}ms)"),
            },
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Record(fields) => {
                if fields.is_empty() {
                    return f.write_str("{}");
                }
                f.write_str("{ ")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str(" }")
            }
            Value::Res(r) => write!(f, "{r}"),
            Value::Secret(s) => write!(f, "secret {}", s.name),
        }
    }
}

// ---- Deserialize with a depth limit -------------------------------------------------------
//
// Derived `Deserialize` recurses once per nesting level with no bound, so a few kilobytes of
// `[[[[…` would overflow the stack. This hand-written one carries the depth and refuses more
// than `MAX_VALUE_DEPTH`. Variant names and order match the derived `Serialize` above.

const VARIANTS: &[&str] =
    &["None", "Bool", "Int", "Float", "String", "Duration", "Time", "List", "Record", "Res", "Secret"];

#[derive(Deserialize)]
#[serde(variant_identifier)]
enum Tag {
    None,
    Bool,
    Int,
    Float,
    String,
    Duration,
    Time,
    List,
    Record,
    Res,
    Secret,
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        ValueSeed { depth: 0 }.deserialize(deserializer)
    }
}

/// Deserializes one value at a known nesting depth.
#[derive(Clone, Copy)]
struct ValueSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_VALUE_DEPTH {
            return Err(de::Error::custom(format!("a value nests deeper than {MAX_VALUE_DEPTH} levels")));
        }
        deserializer.deserialize_enum("Value", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a weir value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant) = data.variant::<Tag>()?;
        let inner = ValueSeed { depth: self.depth + 1 };
        Ok(match tag {
            Tag::None => {
                variant.unit_variant()?;
                Value::None
            }
            Tag::Bool => Value::Bool(variant.newtype_variant()?),
            Tag::Int => Value::Int(variant.newtype_variant()?),
            Tag::Float => Value::Float(variant.newtype_variant()?),
            Tag::String => Value::String(variant.newtype_variant()?),
            Tag::Duration => Value::Duration(variant.newtype_variant()?),
            Tag::Time => Value::Time(variant.newtype_variant()?),
            Tag::List => Value::List(variant.newtype_variant_seed(ListSeed(inner))?),
            Tag::Record => Value::Record(variant.newtype_variant_seed(RecordSeed(inner))?),
            Tag::Res => Value::Res(variant.newtype_variant()?),
            Tag::Secret => Value::Secret(variant.newtype_variant()?),
        })
    }
}

/// The items of a list, one level deeper.
struct ListSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element_seed(self.0)? {
            out.push(v);
        }
        Ok(out)
    }
}

/// The fields of a record, one level deeper.
struct RecordSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for RecordSeed {
    type Value = Vec<(String, Value)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the fields of a record")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(entry) = seq.next_element_seed(EntrySeed(self.0))? {
            out.push(entry);
        }
        Ok(out)
    }
}

/// One `(key, value)` field.
struct EntrySeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = (String, Value);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = (String, Value);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record field")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let key: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value = seq.next_element_seed(self.0)?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_literals() {
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(250), "250ms");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(-60_000), "-1m");
        assert_eq!(format_duration(86_400_000 + 1), "1d1ms");
        assert_eq!(format_duration(i64::MIN).chars().next(), Some('-'));
    }

    #[test]
    fn durations_parse_back() {
        for ms in [0, 250, 1_000, 5_400_000, 86_400_001, 3 * 86_400_000 + 7] {
            assert_eq!(parse_duration(&format_duration(ms)), Some(ms));
        }
        assert_eq!(parse_duration("1500"), Some(1_500));
        for bad in ["", "soon", "5x", "h", "1h30", "9999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(format_time_rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(format_time_rfc3339(1_500).as_deref(), Some("1970-01-01T00:00:01.500Z"));
        assert_eq!(format_time_rfc3339(i64::MAX), None);
    }

    #[test]
    fn deep_values_are_refused_not_overflowed() {
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            bytes.extend_from_slice(&[7, 1]); // List of one item
        }
        bytes.push(0);
        assert!(postcard::from_bytes::<Value>(&bytes).is_err());
        let mut v = Value::Int(1);
        for _ in 0..MAX_VALUE_DEPTH {
            v = Value::List(vec![v]);
        }
        let bytes = postcard::to_stdvec(&v).unwrap();
        assert_eq!(postcard::from_bytes::<Value>(&bytes).unwrap(), v);
    }

    #[test]
    fn json_form_round_trips() {
        let v =
            Value::record([("a", Value::List(vec![Value::Int(1), Value::None])), ("b", Value::Float(0.5))]);
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }
}
