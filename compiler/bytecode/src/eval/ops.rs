//! Operators, field access, indexing and the text form of values, with the language's
//! semantics: checked integer arithmetic, errors for division by zero and overflow, numbers
//! compared across `int` and `float`, durations and times as milliseconds.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::json::to_json;
use super::{EvalCode, EvalError};
use crate::header::hex;
use crate::program::{BinaryOp, UnaryOp};
use crate::value::{Value, format_duration, format_float, format_time_rfc3339};

/// A type error naming the kind of value found.
pub(crate) fn type_error(what: &str, found: &Value) -> EvalError {
    EvalError::new(EvalCode::TypeError, format!("{what}, found {}", found.kind()))
}

fn overflow(what: &str) -> EvalError {
    EvalError::new(EvalCode::Overflow, format!("{what} overflows"))
}

fn finite(f: f64, what: &str) -> Result<Value, EvalError> {
    if f.is_finite() { Ok(Value::Float(f)) } else { Err(overflow(what)) }
}

/// `v.name`: a record's field (`none` when absent: optional fields may be missing), or a
/// resource's `size`, `media_type` or `digest`.
pub(crate) fn field<'v>(v: &'v Value, name: &str) -> Result<Cow<'v, Value>, EvalError> {
    match v {
        Value::Record(fields) => Ok(match fields.iter().find(|(k, _)| k == name) {
            Some((_, item)) => Cow::Borrowed(item),
            None => Cow::Owned(Value::None),
        }),
        Value::Res(r) => match name {
            "size" => Ok(Cow::Owned(Value::Int(i64::try_from(r.size).unwrap_or(i64::MAX)))),
            "media_type" => Ok(Cow::Owned(Value::String(r.media_type.clone()))),
            "digest" => Ok(Cow::Owned(Value::String(format!("sha256:{}", hex(&r.digest))))),
            _ => Err(EvalError::new(EvalCode::TypeError, format!("a resource has no field `{name}`"))),
        },
        other => Err(type_error(&format!("`.{name}` needs a record"), other)),
    }
}

/// `v[i]`: a list item by position (from 0), or a record field by key.
pub(crate) fn index<'v>(v: &'v Value, i: &Value) -> Result<Cow<'v, Value>, EvalError> {
    match (v, i) {
        (Value::List(items), Value::Int(n)) => {
            usize::try_from(*n).ok().and_then(|n| items.get(n)).map(Cow::Borrowed).ok_or_else(|| {
                EvalError::new(
                    EvalCode::IndexOutOfRange,
                    format!("index {n} is outside a list of {} items", items.len()),
                )
            })
        }
        (Value::Record(_), Value::String(key)) => field(v, key),
        (Value::List(_), other) => Err(type_error("a list is indexed by an int", other)),
        (Value::Record(_), other) => Err(type_error("a record is indexed by a string", other)),
        (other, _) => Err(type_error("`[…]` needs a list or a record", other)),
    }
}

/// `-x`, `!x`.
pub(crate) fn unary(op: UnaryOp, v: &Value) -> Result<Value, EvalError> {
    match (op, v) {
        (UnaryOp::Neg, Value::Int(i)) => i.checked_neg().map(Value::Int).ok_or_else(|| overflow("`-`")),
        (UnaryOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
        (UnaryOp::Neg, Value::Duration(d)) => {
            d.checked_neg().map(Value::Duration).ok_or_else(|| overflow("`-`"))
        }
        (UnaryOp::Neg, other) => Err(type_error("`-` takes a number or a duration", other)),
        (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnaryOp::Not, other) => Err(type_error("`!` takes a bool", other)),
    }
}

/// Structural equality: ints and floats compare as numbers, records ignore field order,
/// values of different kinds are never equal.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => (*i as f64) == *f,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Record(x), Value::Record(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().find(|(k2, _)| k2 == k).is_some_and(|(_, w)| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn order(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, EvalError> {
    let ord = match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Duration(a), Value::Duration(b)) | (Value::Time(a), Value::Time(b)) => Some(a.cmp(b)),
        _ => {
            return Err(EvalError::new(
                EvalCode::TypeError,
                format!(
                    "`{}` orders two numbers, durations or times, found {} and {}",
                    op.as_str(),
                    l.kind(),
                    r.kind()
                ),
            ));
        }
    };
    let Some(ord) = ord else { return Ok(Value::Bool(false)) };
    Ok(Value::Bool(match op {
        BinaryOp::Lt => ord == Ordering::Less,
        BinaryOp::Le => ord != Ordering::Greater,
        BinaryOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    }))
}

/// Milliseconds times a float, rounded, or an overflow.
fn scale(ms: i64, by: f64, what: &str) -> Result<i64, EvalError> {
    let out = (ms as f64 * by).round();
    if out.is_finite() && out >= i64::MIN as f64 && out < i64::MAX as f64 {
        Ok(out as i64)
    } else {
        Err(overflow(what))
    }
}

/// Every binary operator except the short-circuiting `&&`, `||` and `??`.
pub(crate) fn binary(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, EvalError> {
    use BinaryOp::*;
    use Value::{Duration as D, Float as F, Int as I, Time as T};
    let sym = op.as_str();
    let what = format!("`{sym}`");
    let zero = || EvalError::new(EvalCode::DivisionByZero, format!("`{sym}` by zero"));
    match op {
        Eq => return Ok(Value::Bool(values_equal(l, r))),
        Ne => return Ok(Value::Bool(!values_equal(l, r))),
        Lt | Le | Gt | Ge => return order(op, l, r),
        Or | And | Coalesce => {
            return Err(EvalError::new(EvalCode::InvalidProgram, format!("`{sym}` is evaluated lazily")));
        }
        _ => {}
    }
    let checked = |v: Option<i64>| v.ok_or_else(|| overflow(&what));
    match (op, l, r) {
        (Add, I(a), I(b)) => checked(a.checked_add(*b)).map(I),
        (Sub, I(a), I(b)) => checked(a.checked_sub(*b)).map(I),
        (Mul, I(a), I(b)) => checked(a.checked_mul(*b)).map(I),
        (Div | Rem, I(_), I(0)) => Err(zero()),
        (Div, I(a), I(b)) => checked(a.checked_div(*b)).map(I),
        (Rem, I(a), I(b)) => checked(a.checked_rem(*b)).map(I),
        (Add | Sub | Mul | Div | Rem, I(_) | F(_), I(_) | F(_)) => {
            let (a, b) = (as_f64(l), as_f64(r));
            match op {
                Add => finite(a + b, &what),
                Sub => finite(a - b, &what),
                Mul => finite(a * b, &what),
                _ if b == 0.0 => Err(zero()),
                Div => finite(a / b, &what),
                _ => finite(a % b, &what),
            }
        }
        (Add, D(a), D(b)) => checked(a.checked_add(*b)).map(D),
        (Sub, D(a), D(b)) => checked(a.checked_sub(*b)).map(D),
        (Mul, D(a), I(b)) | (Mul, I(b), D(a)) => checked(a.checked_mul(*b)).map(D),
        (Mul, D(a), F(b)) | (Mul, F(b), D(a)) => scale(*a, *b, &what).map(D),
        (Div, D(_), I(0)) => Err(zero()),
        (Div, D(a), I(b)) => checked(a.checked_div(*b)).map(D),
        (Div, D(_), F(b)) if *b == 0.0 => Err(zero()),
        (Div, D(a), F(b)) => scale(*a, 1.0 / b, &what).map(D),
        (Add, T(a), D(b)) | (Add, D(b), T(a)) => checked(a.checked_add(*b)).map(T),
        (Sub, T(a), D(b)) => checked(a.checked_sub(*b)).map(T),
        (Sub, T(a), T(b)) => checked(a.checked_sub(*b)).map(D),
        _ => Err(EvalError::new(
            EvalCode::TypeError,
            format!("`{sym}` does not apply to {} and {}", l.kind(), r.kind()),
        )),
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

/// The text a value becomes in a template hole (and in `join`): strings as they are,
/// numbers, bools, `none`, durations as written (`1h30m`), times as RFC 3339 in UTC, lists
/// and records as JSON. A secret never becomes text; a resource neither (read it with
/// `read_text` or link it with `signed_url`).
pub fn render(v: &Value) -> Result<String, EvalError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(format_float(*f)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::None => Ok("none".to_string()),
        Value::Duration(d) => Ok(format_duration(*d)),
        Value::Time(t) => format_time_rfc3339(*t).ok_or_else(|| {
            EvalError::new(EvalCode::InvalidArgument, "the time is outside the years -9999..9999")
        }),
        Value::List(_) | Value::Record(_) => to_json(v),
        Value::Res(_) => Err(EvalError::new(
            EvalCode::TypeError,
            "a resource cannot go into text: read it with `read_text(res, max)` or link it with `signed_url(res, ttl)`",
        )),
        Value::Secret(s) => Err(EvalError::new(
            EvalCode::SecretInText,
            format!(
                "the secret `{}` cannot become text; pass it only where a field is typed `secret`",
                s.name
            ),
        )),
    }
}
