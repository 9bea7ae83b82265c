//! Checking a value that comes from outside (a run's input, an approval's input fields, a
//! callback's body) against a type descriptor, at run time, without the compiler. JSON
//! gives only strings and numbers, so a few values are converted on the way in: an int
//! where a float is expected, an RFC 3339 string or Unix milliseconds where a time is, a
//! duration as milliseconds or `30s`-style text.

use crate::program::Program;
use crate::types::{TypeDesc, TypeIx};
use crate::value::Value;

/// The longest `string`, in bytes (language.md: 64 KiB by default).
pub const MAX_STRING: usize = 64 * 1024;
/// The longest `text`, in bytes (language.md: 1 MiB by default).
pub const MAX_TEXT: usize = 1024 * 1024;

/// Checks `value` against the type `ty` of `program`, returning it converted (ints widened
/// to floats, times and durations parsed). The error names the path of the part that does
/// not fit (`body.items[2].id`), in the user's words.
pub fn conform(program: &Program, ty: TypeIx, value: Value) -> Result<Value, String> {
    conform_at(program, ty, value, &mut String::new())
}

/// [`conform`] for a named value (an input field): errors name it (`risk must be …`).
pub fn conform_named(program: &Program, ty: TypeIx, value: Value, name: &str) -> Result<Value, String> {
    conform_at(program, ty, value, &mut name.to_string())
}

fn describe(path: &str) -> String {
    if path.is_empty() { "the value".to_string() } else { format!("`{path}`") }
}

fn conform_at(program: &Program, ty: TypeIx, value: Value, path: &mut String) -> Result<Value, String> {
    let Some(desc) = program.ty(ty) else { return Ok(value) };
    let wrong = |want: &str, got: &Value| format!("{} must be {want}, got {}", describe(path), got.kind());
    match (desc, value) {
        (TypeDesc::Unknown | TypeDesc::Json | TypeDesc::Unit, v) => Ok(v),
        (TypeDesc::Optional { .. } | TypeDesc::None, Value::None) => Ok(Value::None),
        (TypeDesc::Optional { inner }, v) => conform_at(program, *inner, v, path),
        (TypeDesc::String, Value::String(s)) if s.len() > MAX_STRING => {
            Err(format!("{} is longer than a `string` may be ({} bytes)", describe(path), MAX_STRING))
        }
        (TypeDesc::Text, Value::String(s)) if s.len() > MAX_TEXT => {
            Err(format!("{} is longer than a `text` may be ({} bytes)", describe(path), MAX_TEXT))
        }
        (TypeDesc::String | TypeDesc::Text, Value::String(s)) => Ok(Value::String(s)),
        (TypeDesc::Int { range }, Value::Int(n)) => match range {
            Some((low, high)) if n < *low || n > *high => {
                Err(format!("{} must be in {low}..{high}, got {n}", describe(path)))
            }
            _ => Ok(Value::Int(n)),
        },
        (TypeDesc::Float, Value::Int(n)) => Ok(Value::Float(n as f64)),
        (TypeDesc::Float, Value::Float(f)) => Ok(Value::Float(f)),
        (TypeDesc::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (TypeDesc::Duration, Value::Duration(ms) | Value::Int(ms)) => Ok(Value::Duration(ms)),
        (TypeDesc::Duration, Value::String(s)) => crate::value::parse_duration(&s)
            .map(Value::Duration)
            .ok_or_else(|| format!("{} must be a duration such as `30s` or `2h`, got `{s}`", describe(path))),
        (TypeDesc::Time, Value::Time(ms) | Value::Int(ms)) => Ok(Value::Time(ms)),
        (TypeDesc::Time, Value::String(s)) => s
            .parse::<jiff::Timestamp>()
            .map(|t| Value::Time(t.as_millisecond()))
            .map_err(|_| format!("{} must be an RFC 3339 time, got `{s}`", describe(path))),
        (TypeDesc::Literals { values }, Value::String(s)) => {
            if values.contains(&s) {
                Ok(Value::String(s))
            } else {
                let allowed: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
                Err(format!("{} must be one of {}, got \"{s}\"", describe(path), allowed.join(" | ")))
            }
        }
        (TypeDesc::List { item }, Value::List(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.into_iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                out.push(conform_at(program, *item, v, path)?);
                path.truncate(len);
            }
            Ok(Value::List(out))
        }
        (TypeDesc::Record { fields: declared }, Value::Record(mut fields)) => {
            let mut out = Vec::with_capacity(declared.len());
            for field in declared {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&field.name);
                match fields.iter().position(|(n, _)| n == &field.name) {
                    Some(at) => {
                        let (name, v) = fields.swap_remove(at);
                        out.push((name, conform_at(program, field.ty, v, path)?));
                    }
                    None if field.optional || is_optional(program, field.ty) => {
                        out.push((field.name.clone(), Value::None));
                    }
                    None => return Err(format!("{} is missing", describe(path))),
                }
                path.truncate(len);
            }
            if let Some((extra, _)) = fields.first() {
                let at = if path.is_empty() { String::new() } else { format!(" in `{path}`") };
                return Err(format!("unknown field `{extra}`{at}"));
            }
            Ok(Value::Record(out))
        }
        (TypeDesc::String, v) => Err(wrong("a string", &v)),
        (TypeDesc::Text, v) => Err(wrong("text", &v)),
        (TypeDesc::Int { .. }, v) => Err(wrong("an int", &v)),
        (TypeDesc::Float, v) => Err(wrong("a number", &v)),
        (TypeDesc::Bool, v) => Err(wrong("true or false", &v)),
        (TypeDesc::Duration, v) => Err(wrong("a duration", &v)),
        (TypeDesc::Time, v) => Err(wrong("a time", &v)),
        (TypeDesc::Literals { .. }, v) => Err(wrong("one of the listed strings", &v)),
        (TypeDesc::List { .. }, v) => Err(wrong("a list", &v)),
        (TypeDesc::Record { .. }, v) => Err(wrong("a record", &v)),
        (TypeDesc::None, v) => Err(wrong("none", &v)),
        (TypeDesc::Secret, v) => Err(format!(
            "{} is a secret: it comes from weir.toml, never from a value ({} given)",
            describe(path),
            v.kind()
        )),
        (TypeDesc::Res { .. }, v) => Err(wrong("a resource", &v)),
    }
}

fn is_optional(program: &Program, ty: TypeIx) -> bool {
    matches!(
        program.ty(ty),
        Some(TypeDesc::Optional { .. } | TypeDesc::None | TypeDesc::Unknown | TypeDesc::Json)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FieldDesc;

    fn program(types: Vec<TypeDesc>) -> Program {
        let flow = crate::program::FlowDef {
            description: None,
            inputs: Vec::new(),
            output_type: None,
            output: None,
            run_timeout: None,
            concurrency: crate::program::Concurrency::Unlimited { because: "test".into() },
            triggers: Vec::new(),
            entry: crate::program::BlockIx(0),
            on_failure: None,
        };
        let mut program = crate::builder::ProgramBuilder::new().finish(flow);
        program.types = types;
        program
    }

    #[test]
    fn records_are_checked_field_by_field_with_paths() {
        let p = program(vec![
            TypeDesc::String,
            TypeDesc::Int { range: Some((1, 10)) },
            TypeDesc::Optional { inner: TypeIx(0) },
            TypeDesc::Record {
                fields: vec![
                    FieldDesc { name: "name".into(), ty: TypeIx(0), optional: false },
                    FieldDesc { name: "n".into(), ty: TypeIx(1), optional: false },
                    FieldDesc { name: "note".into(), ty: TypeIx(2), optional: false },
                ],
            },
        ]);
        let ok = conform(&p, TypeIx(3), Value::record([("n", Value::Int(3)), ("name", Value::string("a"))]));
        assert_eq!(
            ok,
            Ok(Value::record([("name", Value::string("a")), ("n", Value::Int(3)), ("note", Value::None)]))
        );
        let range =
            conform(&p, TypeIx(3), Value::record([("name", Value::string("a")), ("n", Value::Int(11))]));
        assert_eq!(range, Err("`n` must be in 1..10, got 11".to_string()));
        let missing = conform(&p, TypeIx(3), Value::record([("n", Value::Int(1))]));
        assert_eq!(missing, Err("`name` is missing".to_string()));
        let extra = conform(
            &p,
            TypeIx(3),
            Value::record([("name", Value::string("a")), ("n", Value::Int(1)), ("x", Value::Bool(true))]),
        );
        assert_eq!(extra, Err("unknown field `x`".to_string()));
    }

    #[test]
    fn json_shapes_become_times_durations_and_floats() {
        let p = program(vec![TypeDesc::Time, TypeDesc::Duration, TypeDesc::Float]);
        assert_eq!(
            conform(&p, TypeIx(0), Value::string("2026-01-01T00:00:00Z")),
            Ok(Value::Time(1_767_225_600_000))
        );
        assert_eq!(conform(&p, TypeIx(1), Value::string("2h")), Ok(Value::Duration(7_200_000)));
        assert_eq!(conform(&p, TypeIx(2), Value::Int(2)), Ok(Value::Float(2.0)));
        assert!(conform(&p, TypeIx(1), Value::string("soon")).is_err());
    }

    #[test]
    fn literal_unions_name_the_allowed_values() {
        let p = program(vec![TypeDesc::Literals { values: vec!["low".into(), "high".into()] }]);
        assert_eq!(
            conform(&p, TypeIx(0), Value::string("mid")),
            Err("the value must be one of \"low\" | \"high\", got \"mid\"".to_string())
        );
    }
}
