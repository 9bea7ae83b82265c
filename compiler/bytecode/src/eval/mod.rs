//! The pure expression evaluator (docs/bytecode.md, "Expressions"). It reads names and the
//! few non-pure builtins (`now()`, `uuid()`, `prev`, resources) from an [`Env`] the
//! interpreter implements; everything else is computed here, the same way on every run and
//! every replay. Errors are coded values ([`EvalCode`]), never panics.

mod builtins;
mod json;
mod ops;

use std::borrow::Cow;
use std::collections::BTreeMap;

use thiserror::Error;

use crate::program::{BinaryOp, ExprIx, ExprNode, NameScope, Program, TemplatePart};
use crate::value::{ResRef, Value};
use crate::verify::MAX_EXPR_DEPTH;

pub use json::{parse_json, to_json};
pub use ops::{render, values_equal};

/// The stable code of an evaluation error: it becomes the `code` of the run's `error`
/// record, so `catch` and `retry … on` can name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvalCode {
    /// An operator or builtin got a value of the wrong kind.
    TypeError,
    /// Integer (or duration, time, float) arithmetic overflowed.
    Overflow,
    /// Division or remainder by zero.
    DivisionByZero,
    /// A field or index of `none` outside an optional chain.
    NoneValue,
    /// A list index out of range.
    IndexOutOfRange,
    /// A name the environment does not know.
    UnknownName,
    /// A builtin's argument is out of its domain (empty separator, bad pattern, bad zone).
    InvalidArgument,
    /// `parse_json` got text that is not JSON.
    InvalidJson,
    /// A secret was about to become text.
    SecretInText,
    /// The environment cannot provide this (`now()` where nothing journals it).
    Unavailable,
    /// The program is malformed (a bytecode the verifier did not pass).
    InvalidProgram,
}

impl EvalCode {
    /// The code as a run's `error.code` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalCode::TypeError => "type_error",
            EvalCode::Overflow => "overflow",
            EvalCode::DivisionByZero => "division_by_zero",
            EvalCode::NoneValue => "none_value",
            EvalCode::IndexOutOfRange => "index_out_of_range",
            EvalCode::UnknownName => "unknown_name",
            EvalCode::InvalidArgument => "invalid_argument",
            EvalCode::InvalidJson => "invalid_json",
            EvalCode::SecretInText => "secret_in_text",
            EvalCode::Unavailable => "unavailable",
            EvalCode::InvalidProgram => "invalid_program",
        }
    }
}

/// An expression that could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{message} ({})", code.as_str())]
pub struct EvalError {
    /// Which rule failed.
    pub code: EvalCode,
    /// What went wrong, in the user's words (never a secret's value: there is none).
    pub message: String,
}

impl EvalError {
    /// An error with a code and a message.
    pub fn new(code: EvalCode, message: impl Into<String>) -> EvalError {
        EvalError { code, message: message.into() }
    }
}

/// What the interpreter provides to the evaluator: names, and the builtins whose values are
/// not a function of their arguments. Methods take `&self` so values can be borrowed while
/// an expression is evaluated; an implementation that journals `now()`/`uuid()` (keyed by
/// the evaluation site and the call's ordinal) does so through interior mutability.
pub trait Env {
    /// The value of a name, or `None` when it is not bound.
    fn lookup(&self, scope: NameScope, name: &str) -> Option<Cow<'_, Value>>;

    /// `now()`: milliseconds since the Unix epoch, journaled by the runtime.
    fn now(&self) -> Result<i64, EvalError> {
        Err(EvalError::new(EvalCode::Unavailable, "`now()` is not available here"))
    }

    /// `uuid()`: journaled by the runtime.
    fn uuid(&self) -> Result<String, EvalError> {
        Err(EvalError::new(EvalCode::Unavailable, "`uuid()` is not available here"))
    }

    /// `prev(step)`: the step's output in the previous iteration, `none` in the first.
    fn prev(&self, step: &str) -> Result<Value, EvalError> {
        let _ = step;
        Err(EvalError::new(EvalCode::Unavailable, "`prev` is not available here"))
    }

    /// `read_text(res, max)`: at most `max` bytes of a resource, as text.
    fn read_text(&self, res: &ResRef, max: u64) -> Result<String, EvalError> {
        let _ = (res, max);
        Err(EvalError::new(EvalCode::Unavailable, "`read_text` is not available here"))
    }

    /// `signed_url(res, ttl)`: a signed URL valid for `ttl_ms`.
    fn signed_url(&self, res: &ResRef, ttl_ms: i64) -> Result<String, EvalError> {
        let _ = (res, ttl_ms);
        Err(EvalError::new(EvalCode::Unavailable, "`signed_url` is not available here"))
    }

    /// `to_res(text)`: stores text as a resource.
    fn to_res(&self, text: &str) -> Result<ResRef, EvalError> {
        let _ = text;
        Err(EvalError::new(EvalCode::Unavailable, "`to_res` is not available here"))
    }
}

/// A simple environment: names in a map, and optional fixed `now()`/`uuid()` values (for
/// tests and tools such as `weir disasm --eval`).
#[derive(Clone, Debug, Default)]
pub struct MapEnv {
    /// Bound names (the scope is not distinguished).
    pub names: BTreeMap<String, Value>,
    /// What `now()` returns.
    pub now: Option<i64>,
    /// What `uuid()` returns.
    pub uuid: Option<String>,
}

impl MapEnv {
    /// Binds a name.
    pub fn with(mut self, name: &str, value: Value) -> MapEnv {
        self.names.insert(name.to_string(), value);
        self
    }
}

impl Env for MapEnv {
    fn lookup(&self, _scope: NameScope, name: &str) -> Option<Cow<'_, Value>> {
        self.names.get(name).map(Cow::Borrowed)
    }

    fn now(&self) -> Result<i64, EvalError> {
        self.now.ok_or_else(|| EvalError::new(EvalCode::Unavailable, "`now()` is not available here"))
    }

    fn uuid(&self) -> Result<String, EvalError> {
        self.uuid
            .clone()
            .ok_or_else(|| EvalError::new(EvalCode::Unavailable, "`uuid()` is not available here"))
    }

    fn prev(&self, _step: &str) -> Result<Value, EvalError> {
        Ok(Value::None)
    }
}

/// Evaluates an expression of a (verified) program.
pub fn eval(program: &Program, env: &dyn Env, expr: ExprIx) -> Result<Value, EvalError> {
    Evaluator { program, env }.value(expr, 0).map(Cow::into_owned)
}

/// The result of a step of a field/index chain: a value, or the chain was cut short by `?.`
/// on `none` (the whole chain is then `none`).
enum Chain<'a> {
    Val(Cow<'a, Value>),
    Short,
}

pub(crate) struct Evaluator<'a> {
    program: &'a Program,
    env: &'a dyn Env,
}

impl<'a> Evaluator<'a> {
    fn node(&self, ix: ExprIx, parent: Option<ExprIx>, depth: usize) -> Result<&'a ExprNode, EvalError> {
        let bad = |m: &str| EvalError::new(EvalCode::InvalidProgram, m.to_string());
        if depth > MAX_EXPR_DEPTH {
            return Err(bad("the expression nests too deeply"));
        }
        if parent.is_some_and(|p| ix >= p) {
            return Err(bad("an expression refers to itself"));
        }
        self.program.exprs.get(ix.0 as usize).ok_or_else(|| bad("an expression index is out of range"))
    }

    pub(crate) fn value(&self, ix: ExprIx, depth: usize) -> Result<Cow<'a, Value>, EvalError> {
        self.value_in(ix, None, depth)
    }

    fn value_in(
        &self,
        ix: ExprIx,
        parent: Option<ExprIx>,
        depth: usize,
    ) -> Result<Cow<'a, Value>, EvalError> {
        Ok(match self.chain(ix, parent, depth)? {
            Chain::Val(v) => v,
            Chain::Short => Cow::Owned(Value::None),
        })
    }

    // Each kind of node is evaluated by its own small function: recursion goes through
    // `chain` for every level of nesting, and a small frame per level keeps the deepest
    // expression the verifier allows well inside a 2 MiB thread stack, even unoptimised.
    fn chain(&self, ix: ExprIx, parent: Option<ExprIx>, depth: usize) -> Result<Chain<'a>, EvalError> {
        let node = self.node(ix, parent, depth)?;
        let d = depth + 1;
        match node {
            ExprNode::Const(c) => {
                Ok(Chain::Val(Cow::Borrowed(self.program.constants.get(c.0 as usize).ok_or_else(|| {
                    EvalError::new(EvalCode::InvalidProgram, "a constant index is out of range")
                })?)))
            }
            ExprNode::Name { scope, name } => match self.env.lookup(*scope, name) {
                Some(v) => Ok(Chain::Val(v)),
                None => Err(EvalError::new(EvalCode::UnknownName, format!("`{name}` has no value here"))),
            },
            ExprNode::Field { base, name, optional } => self.field(ix, *base, name, *optional, d),
            ExprNode::Index { base, index } => self.index(ix, *base, *index, d),
            ExprNode::List(items) => self.list(ix, items, d),
            ExprNode::Record(fields) => self.record(ix, fields, d),
            ExprNode::Call { builtin, args } => {
                Ok(Chain::Val(Cow::Owned(builtins::call(self, *builtin, args, ix, d)?)))
            }
            ExprNode::Unary { op, operand } => {
                let v = self.value_in(*operand, Some(ix), d)?;
                Ok(Chain::Val(Cow::Owned(ops::unary(*op, &v)?)))
            }
            ExprNode::Binary { op, lhs, rhs } => self.binary(ix, *op, *lhs, *rhs, d),
            ExprNode::Template(parts) => self.template(ix, parts, d),
        }
    }

    #[inline(never)]
    fn field(
        &self,
        ix: ExprIx,
        base: ExprIx,
        name: &str,
        optional: bool,
        d: usize,
    ) -> Result<Chain<'a>, EvalError> {
        let base = match self.chain(base, Some(ix), d)? {
            Chain::Short => return Ok(Chain::Short),
            Chain::Val(v) => v,
        };
        if matches!(*base, Value::None) {
            if optional {
                return Ok(Chain::Short);
            }
            return Err(EvalError::new(
                EvalCode::NoneValue,
                format!("`.{name}` of a value that is none (use `?.` or `??`)"),
            ));
        }
        Ok(Chain::Val(match base {
            Cow::Borrowed(v) => ops::field(v, name)?,
            Cow::Owned(v) => Cow::Owned(ops::field(&v, name)?.into_owned()),
        }))
    }

    #[inline(never)]
    fn index(&self, ix: ExprIx, base: ExprIx, index: ExprIx, d: usize) -> Result<Chain<'a>, EvalError> {
        let base = match self.chain(base, Some(ix), d)? {
            Chain::Short => return Ok(Chain::Short),
            Chain::Val(v) => v,
        };
        if matches!(*base, Value::None) {
            return Err(EvalError::new(EvalCode::NoneValue, "indexing a value that is none (use `??`)"));
        }
        let index = self.value_in(index, Some(ix), d)?;
        Ok(Chain::Val(match base {
            Cow::Borrowed(v) => ops::index(v, &index)?,
            Cow::Owned(v) => Cow::Owned(ops::index(&v, &index)?.into_owned()),
        }))
    }

    #[inline(never)]
    fn list(&self, ix: ExprIx, items: &[ExprIx], d: usize) -> Result<Chain<'a>, EvalError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.value_in(*item, Some(ix), d)?.into_owned());
        }
        Ok(Chain::Val(Cow::Owned(Value::List(out))))
    }

    #[inline(never)]
    fn record(&self, ix: ExprIx, fields: &[(String, ExprIx)], d: usize) -> Result<Chain<'a>, EvalError> {
        let mut out = Vec::with_capacity(fields.len());
        for (k, e) in fields {
            out.push((k.clone(), self.value_in(*e, Some(ix), d)?.into_owned()));
        }
        Ok(Chain::Val(Cow::Owned(Value::Record(out))))
    }

    #[inline(never)]
    fn binary(
        &self,
        ix: ExprIx,
        op: BinaryOp,
        lhs: ExprIx,
        rhs: ExprIx,
        d: usize,
    ) -> Result<Chain<'a>, EvalError> {
        let me = Some(ix);
        let l = self.value_in(lhs, me, d)?;
        let out = match op {
            BinaryOp::And | BinaryOp::Or => {
                let Value::Bool(a) = *l else {
                    return Err(ops::type_error(&format!("`{}` takes two bools", op.as_str()), &l));
                };
                if a == (op == BinaryOp::Or) {
                    Value::Bool(a)
                } else {
                    let r = self.value_in(rhs, me, d)?;
                    match *r {
                        Value::Bool(b) => Value::Bool(b),
                        _ => return Err(ops::type_error(&format!("`{}` takes two bools", op.as_str()), &r)),
                    }
                }
            }
            BinaryOp::Coalesce => {
                if matches!(*l, Value::None) {
                    return Ok(Chain::Val(self.value_in(rhs, me, d)?));
                }
                return Ok(Chain::Val(l));
            }
            _ => {
                let r = self.value_in(rhs, me, d)?;
                ops::binary(op, &l, &r)?
            }
        };
        Ok(Chain::Val(Cow::Owned(out)))
    }

    #[inline(never)]
    fn template(&self, ix: ExprIx, parts: &[TemplatePart], d: usize) -> Result<Chain<'a>, EvalError> {
        let mut out = String::new();
        for part in parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Hole(e) => out.push_str(&render(&*self.value_in(*e, Some(ix), d)?)?),
            }
        }
        Ok(Chain::Val(Cow::Owned(Value::String(out))))
    }

    pub(crate) fn env(&self) -> &'a dyn Env {
        self.env
    }

    pub(crate) fn program(&self) -> &'a Program {
        self.program
    }

    pub(crate) fn arg(&self, ix: ExprIx, parent: ExprIx, depth: usize) -> Result<Cow<'a, Value>, EvalError> {
        self.value_in(ix, Some(parent), depth)
    }
}
