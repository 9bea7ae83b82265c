//! `to_json` and `parse_json`: values to JSON text and back, keeping the order of object
//! keys (records are ordered), with serde_json's nesting limit guarding the parser.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{EvalCode, EvalError};
use crate::header::hex;
use crate::value::{Value, format_duration, format_time_rfc3339};

/// A value as compact JSON: durations as their literal text (`"1h30m"`), times as RFC 3339
/// strings, resources as `{ digest, size, media_type }`. A secret is an error.
pub fn to_json(v: &Value) -> Result<String, EvalError> {
    let mut out = String::new();
    write_json(v, &mut out)?;
    Ok(out)
}

fn write_str(s: &str, out: &mut String) {
    // Serialising a `&str` cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn write_json(v: &Value, out: &mut String) -> Result<(), EvalError> {
    match v {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(EvalError::new(EvalCode::InvalidArgument, "JSON has no infinite or NaN numbers"));
            }
            out.push_str(&serde_json::to_string(f).unwrap_or_default());
        }
        Value::String(s) => write_str(s, out),
        Value::Duration(d) => write_str(&format_duration(*d), out),
        Value::Time(t) => match format_time_rfc3339(*t) {
            Some(text) => write_str(&text, out),
            None => {
                return Err(EvalError::new(
                    EvalCode::InvalidArgument,
                    "the time is outside the years -9999..9999",
                ));
            }
        },
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out)?;
            }
            out.push(']');
        }
        Value::Record(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write_json(item, out)?;
            }
            out.push('}');
        }
        Value::Res(r) => {
            out.push_str("{\"digest\":");
            write_str(&format!("sha256:{}", hex(&r.digest)), out);
            out.push_str(&format!(",\"size\":{},\"media_type\":", r.size));
            write_str(&r.media_type, out);
            out.push('}');
        }
        Value::Secret(s) => {
            return Err(EvalError::new(
                EvalCode::SecretInText,
                format!("the secret `{}` cannot become JSON text", s.name),
            ));
        }
    }
    Ok(())
}

/// JSON text as a value: objects become records (keys in document order; a repeated key
/// keeps its first place and its last value), integers that fit become `int`, other numbers
/// `float`, `null` becomes `none`.
pub fn parse_json(text: &str) -> Result<Value, EvalError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = de.deserialize_any(JsonVisitor).map_err(invalid)?;
    de.end().map_err(invalid)?;
    Ok(v)
}

fn invalid(e: serde_json::Error) -> EvalError {
    EvalError::new(EvalCode::InvalidJson, format!("the text is not JSON: {e}"))
}

struct JsonVisitor;

impl<'de> de::DeserializeSeed<'de> for JsonVisitor {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(JsonVisitor)? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields: Vec<(String, Value)> = Vec::new();
        // Where each key sits (only for finding repeats: the order comes from `fields`).
        let mut at: HashMap<String, usize> = HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(JsonVisitor)?;
            match at.get(&key) {
                Some(i) => fields[*i].1 = v,
                None => {
                    at.insert(key.clone(), fields.len());
                    fields.push((key, v));
                }
            }
        }
        Ok(Value::Record(fields))
    }
}
