//! The builtins (compiler/src/builtins.rs): the pure ones are computed here; `now`,
//! `uuid`, `prev`, `read_text`, `signed_url` and `to_res` come from the environment.

use std::borrow::Cow;

use super::json::{parse_json, to_json};
use super::ops::{render, type_error, values_equal};
use super::{EvalCode, EvalError, Evaluator};
use crate::program::{Builtin, ExprIx, ExprNode};
use crate::value::Value;

/// The longest string a builtin builds (16 MiB, above the 1 MiB `text` default), so one
/// `replace` cannot exhaust memory.
pub const MAX_BUILT_TEXT: usize = 16 << 20;

/// The longest `signed_url` lifetime: 7 days.
const MAX_SIGNED_URL_TTL_MS: i64 = 7 * 86_400_000;

fn bad(message: impl Into<String>) -> EvalError {
    EvalError::new(EvalCode::InvalidArgument, message)
}

fn text(b: Builtin, v: &Value) -> Result<&str, EvalError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(type_error(&format!("`{}` takes a string", b.name()), other)),
    }
}

fn too_long(len: usize) -> Result<(), EvalError> {
    if len > MAX_BUILT_TEXT {
        return Err(bad(format!("the result would be longer than {MAX_BUILT_TEXT} bytes")));
    }
    Ok(())
}

/// Calls a builtin on the arguments of expression `me`.
pub(crate) fn call(
    ev: &Evaluator<'_>,
    b: Builtin,
    args: &[ExprIx],
    me: ExprIx,
    depth: usize,
) -> Result<Value, EvalError> {
    let (min, max) = b.arity();
    if args.len() < min || args.len() > max {
        return Err(EvalError::new(
            EvalCode::InvalidProgram,
            format!("`{}` called with {} arguments", b.name(), args.len()),
        ));
    }
    if b == Builtin::Prev {
        return match ev.program().exprs.get(args[0].0 as usize) {
            Some(ExprNode::Name { name, .. }) => ev.env().prev(name),
            _ => Err(EvalError::new(EvalCode::InvalidProgram, "`prev` takes a step name")),
        };
    }
    let mut vals: Vec<Cow<'_, Value>> = Vec::with_capacity(args.len());
    for a in args {
        vals.push(ev.arg(*a, me, depth)?);
    }
    let arg = |i: usize| -> &Value { &vals[i] };
    let env = ev.env();
    Ok(match b {
        Builtin::Len => match arg(0) {
            Value::String(s) => Value::Int(s.chars().count() as i64),
            Value::List(items) => Value::Int(items.len() as i64),
            Value::Record(fields) => Value::Int(fields.len() as i64),
            other => return Err(type_error("`len` takes a string or a list", other)),
        },
        Builtin::Lower => Value::String(text(b, arg(0))?.to_lowercase()),
        Builtin::Upper => Value::String(text(b, arg(0))?.to_uppercase()),
        Builtin::Trim => Value::String(text(b, arg(0))?.trim().to_string()),
        Builtin::Contains => match (arg(0), arg(1)) {
            (Value::String(s), Value::String(sub)) => Value::Bool(s.contains(sub.as_str())),
            (Value::List(items), needle) => Value::Bool(items.iter().any(|i| values_equal(i, needle))),
            (other, _) => return Err(type_error("`contains` takes a string or a list", other)),
        },
        Builtin::StartsWith => Value::Bool(text(b, arg(0))?.starts_with(text(b, arg(1))?)),
        Builtin::EndsWith => Value::Bool(text(b, arg(0))?.ends_with(text(b, arg(1))?)),
        Builtin::Replace => {
            let (s, from, to) = (text(b, arg(0))?, text(b, arg(1))?, text(b, arg(2))?);
            if from.is_empty() {
                return Err(bad("`replace` needs a non-empty string to replace"));
            }
            let n = s.matches(from).count();
            too_long((s.len() - n * from.len()).saturating_add(n.saturating_mul(to.len())))?;
            Value::String(s.replace(from, to))
        }
        Builtin::Split => {
            let (s, sep) = (text(b, arg(0))?, text(b, arg(1))?);
            if sep.is_empty() {
                return Err(bad("`split` needs a non-empty separator"));
            }
            Value::List(s.split(sep).map(|p| Value::String(p.to_string())).collect())
        }
        Builtin::Join => {
            let Value::List(items) = arg(0) else {
                return Err(type_error("`join` takes a list", arg(0)));
            };
            let sep = text(b, arg(1))?;
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                out.push_str(&render(item)?);
                too_long(out.len())?;
            }
            Value::String(out)
        }
        Builtin::UrlEncode => Value::String(url_encode(text(b, arg(0))?)),
        Builtin::QuoteShell => Value::String(quote_shell(text(b, arg(0))?)?),
        Builtin::ToJson => Value::String(to_json(arg(0))?),
        Builtin::ParseJson => parse_json(text(b, arg(0))?)?,
        Builtin::ReadText => match (arg(0), arg(1)) {
            (Value::Res(r), Value::Int(n)) => {
                let max = u64::try_from(*n).map_err(|_| bad("`read_text` needs a maximum of at least 0"))?;
                Value::String(env.read_text(r, max)?)
            }
            (Value::Res(_), other) => return Err(type_error("`read_text` takes a maximum in bytes", other)),
            (other, _) => return Err(type_error("`read_text` takes a resource", other)),
        },
        Builtin::SignedUrl => match (arg(0), arg(1)) {
            (Value::Res(r), Value::Duration(ttl)) => {
                if *ttl <= 0 || *ttl > MAX_SIGNED_URL_TTL_MS {
                    return Err(bad("a signed URL lives more than 0s and at most 7d"));
                }
                Value::String(env.signed_url(r, *ttl)?)
            }
            (Value::Res(_), other) => return Err(type_error("`signed_url` takes a duration", other)),
            (other, _) => return Err(type_error("`signed_url` takes a resource", other)),
        },
        Builtin::Now => Value::Time(env.now()?),
        Builtin::Uuid => Value::String(env.uuid()?),
        Builtin::FormatTime => {
            let Value::Time(t) = arg(0) else {
                return Err(type_error("`format_time` takes a time", arg(0)));
            };
            let pattern = text(b, arg(1))?;
            let zone = match vals.get(2) {
                Some(z) => jiff::tz::TimeZone::get(text(b, z)?).map_err(|_| {
                    bad("`format_time`: unknown time zone (use an IANA name such as Europe/Paris)")
                })?,
                None => jiff::tz::TimeZone::UTC,
            };
            let ts = jiff::Timestamp::from_millisecond(*t).map_err(|_| bad("the time is out of range"))?;
            let formatted = jiff::fmt::strtime::format(pattern, &ts.to_zoned(zone))
                .map_err(|e| bad(format!("`format_time`: the pattern cannot be used: {e}")))?;
            Value::String(formatted)
        }
        Builtin::ParseTime => {
            let s = text(b, arg(0))?;
            let ts = match vals.get(1) {
                None => {
                    s.parse::<jiff::Timestamp>().map_err(|_| bad("`parse_time`: not an RFC 3339 time"))?
                }
                Some(p) => {
                    let parsed = jiff::fmt::strtime::parse(text(b, p)?, s)
                        .map_err(|_| bad("`parse_time`: the text does not match the pattern"))?;
                    match parsed.to_timestamp() {
                        Ok(ts) => ts,
                        Err(_) => parsed
                            .to_datetime()
                            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
                            .map(|z| z.timestamp())
                            .map_err(|_| bad("`parse_time`: the pattern does not give a complete time"))?,
                    }
                }
            };
            Value::Time(ts.as_millisecond())
        }
        Builtin::Min | Builtin::Max => {
            let (l, r) = (arg(0), arg(1));
            let less = match (l, r) {
                (Value::Int(a), Value::Int(c)) => a <= c,
                (Value::Duration(a), Value::Duration(c)) | (Value::Time(a), Value::Time(c)) => a <= c,
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    let (a, c) = (num(l), num(r));
                    let pick = if (a <= c) == (b == Builtin::Min) { a } else { c };
                    return Ok(Value::Float(pick));
                }
                _ => {
                    return Err(EvalError::new(
                        EvalCode::TypeError,
                        format!(
                            "`{}` takes two numbers or two durations, found {} and {}",
                            b.name(),
                            l.kind(),
                            r.kind()
                        ),
                    ));
                }
            };
            if less == (b == Builtin::Min) { l.clone() } else { r.clone() }
        }
        Builtin::Round => match arg(0) {
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => {
                let r = f.round();
                if !(r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64) {
                    return Err(EvalError::new(EvalCode::Overflow, "`round` overflows an int"));
                }
                Value::Int(r as i64)
            }
            other => return Err(type_error("`round` takes a number", other)),
        },
        Builtin::Keys => match arg(0) {
            Value::Record(fields) => {
                Value::List(fields.iter().map(|(k, _)| Value::String(k.clone())).collect())
            }
            other => return Err(type_error("`keys` takes a record", other)),
        },
        Builtin::ToRes => Value::Res(env.to_res(text(b, arg(0))?)?),
        Builtin::Prev => return Err(EvalError::new(EvalCode::InvalidProgram, "`prev` handled above")),
    })
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

/// Percent-encodes every byte but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - _
/// . ~`), so the result is safe in a URL path segment and in a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Quotes text as one word of a POSIX shell command line: inside single quotes, where
/// nothing is special, with each `'` written `'\''`. A NUL cannot be passed at all.
pub fn quote_shell(s: &str) -> Result<String, EvalError> {
    if s.contains('\0') {
        return Err(bad("`quote_shell`: a shell argument cannot contain a NUL character"));
    }
    Ok(format!("'{}'", s.replace('\'', r"'\''")))
}
