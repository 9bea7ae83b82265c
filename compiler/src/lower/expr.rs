//! Expressions into the expression table: literals into the constant pool, names resolved
//! to their scope (a loop or error variable, a const, a step, callback or approval, `input`,
//! `run`, `payload`), operators and builtin calls one for one. Operands are added before the
//! node that uses them, as the verifier asks.

use super::error::LowerError;
use super::stmt::Lowerer;
use weir_bytecode::{
    BinaryOp, Builtin, ExprIx, ExprNode, NameScope, SecretRef, TemplatePart, UnaryOp, Value,
};
use weir_grammar::ast;
use weir_grammar::ast::{Expr, ExprKind, Template};

/// A duration in milliseconds as the format stores it.
pub(crate) fn millis(ms: u64) -> Result<i64, LowerError> {
    i64::try_from(ms)
        .map_err(|_| LowerError::out_of_range(format!("the duration of {ms} ms does not fit in 64 bits")))
}

impl Lowerer<'_> {
    /// Adds an expression (and its operands, first) to the table.
    pub(crate) fn expr(&mut self, e: &Expr) -> Result<ExprIx, LowerError> {
        Ok(match &e.kind {
            ExprKind::Int { value } => self.b.literal(Value::Int(*value)),
            ExprKind::Float { value } => self.b.literal(Value::Float(*value)),
            ExprKind::Duration { millis: ms } => self.b.literal(Value::Duration(millis(*ms)?)),
            ExprKind::Bool { value } => self.b.literal(Value::Bool(*value)),
            ExprKind::None => self.b.literal(Value::None),
            ExprKind::String(t) => self.template(t)?,
            ExprKind::Name { name } => {
                let scope = self.scope_of(name)?;
                self.b.expr(ExprNode::Name { scope, name: name.clone() })
            }
            ExprKind::Secret { name } => self.b.literal(Value::Secret(SecretRef { name: name.name.clone() })),
            ExprKind::List { items } => {
                let items = items.iter().map(|i| self.expr(i)).collect::<Result<Vec<_>, _>>()?;
                self.b.expr(ExprNode::List(items))
            }
            ExprKind::Record { fields } => {
                let mut out: Vec<(String, ExprIx)> = Vec::with_capacity(fields.len());
                for f in fields {
                    if out.iter().any(|(k, _)| *k == f.key.name) {
                        return Err(LowerError::unchecked(format!(
                            "the record repeats the key `{}`",
                            f.key.name
                        )));
                    }
                    let value = self.expr(&f.value)?;
                    out.push((f.key.name.clone(), value));
                }
                self.b.expr(ExprNode::Record(out))
            }
            ExprKind::Field { base, name, optional } => {
                let base = self.expr(base)?;
                self.b.expr(ExprNode::Field { base, name: name.name.clone(), optional: *optional })
            }
            ExprKind::Index { base, index } => {
                let base = self.expr(base)?;
                let index = self.expr(index)?;
                self.b.expr(ExprNode::Index { base, index })
            }
            ExprKind::Call { callee, args } => self.call(callee, args)?,
            ExprKind::Unary { op, operand } => {
                let operand = self.expr(operand)?;
                let op = match op {
                    ast::UnaryOp::Neg => UnaryOp::Neg,
                    ast::UnaryOp::Not => UnaryOp::Not,
                };
                self.b.expr(ExprNode::Unary { op, operand })
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let lhs = self.expr(lhs)?;
                let rhs = self.expr(rhs)?;
                self.b.expr(ExprNode::Binary { op: binary(*op), lhs, rhs })
            }
            ExprKind::Paren { inner } => self.expr(inner)?,
            ExprKind::Error => {
                return Err(LowerError::unchecked("the flow has an expression that did not parse"));
            }
        })
    }

    /// An optional expression.
    pub(crate) fn opt_expr(&mut self, e: Option<&Expr>) -> Result<Option<ExprIx>, LowerError> {
        e.map(|e| self.expr(e)).transpose()
    }

    /// A string: a constant when it has no holes, a template node otherwise.
    pub(crate) fn template(&mut self, t: &Template) -> Result<ExprIx, LowerError> {
        if let Some(plain) = t.as_plain() {
            return Ok(self.b.literal(Value::String(plain)));
        }
        let mut parts = Vec::with_capacity(t.parts.len());
        for part in &t.parts {
            parts.push(match part {
                ast::TemplatePart::Text { value, .. } => TemplatePart::Text(value.clone()),
                ast::TemplatePart::Hole { expr, .. } => TemplatePart::Hole(self.expr(expr)?),
            });
        }
        Ok(self.b.expr(ExprNode::Template(parts)))
    }

    fn call(&mut self, callee: &Expr, args: &[Expr]) -> Result<ExprIx, LowerError> {
        let ExprKind::Name { name } = &callee.kind else {
            return Err(LowerError::unchecked("only builtins can be called"));
        };
        let builtin = Builtin::from_name(name)
            .ok_or_else(|| LowerError::unchecked(format!("`{name}` is not a builtin")))?;
        let (min, max) = builtin.arity();
        if args.len() < min || args.len() > max {
            return Err(LowerError::unchecked(format!("`{name}` takes {min} to {max} arguments")));
        }
        let args = if builtin == Builtin::Prev {
            // `prev(STEP)` names a step (the runtime reads its previous iteration).
            let [arg] = args else { return Err(LowerError::unchecked("`prev` takes one argument")) };
            let step = match &arg.kind {
                ExprKind::Name { name } => name.clone(),
                ExprKind::Paren { inner } => match &inner.kind {
                    ExprKind::Name { name } => name.clone(),
                    _ => return Err(LowerError::unchecked("`prev` takes a step name")),
                },
                _ => return Err(LowerError::unchecked("`prev` takes a step name")),
            };
            vec![self.b.expr(ExprNode::Name { scope: NameScope::Step, name: step })]
        } else {
            args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?
        };
        Ok(self.b.expr(ExprNode::Call { builtin, args }))
    }

    /// What a name refers to: the innermost loop or error variable, then a const, then a
    /// step, callback or approval, then `input`, `run` and `payload` (the checker's order).
    pub(crate) fn scope_of(&self, name: &str) -> Result<NameScope, LowerError> {
        if self.locals.iter().any(|l| l == name) {
            return Ok(NameScope::Local);
        }
        if self.consts.contains(name) {
            return Ok(NameScope::Const);
        }
        if self.values.contains(name) {
            return Ok(NameScope::Step);
        }
        match name {
            "input" => Ok(NameScope::Input),
            "run" => Ok(NameScope::Run),
            "payload" if self.in_payload => Ok(NameScope::Payload),
            _ => Err(LowerError::unchecked(format!("`{name}` is not defined"))),
        }
    }
}

fn binary(op: ast::BinaryOp) -> BinaryOp {
    match op {
        ast::BinaryOp::Or => BinaryOp::Or,
        ast::BinaryOp::And => BinaryOp::And,
        ast::BinaryOp::Eq => BinaryOp::Eq,
        ast::BinaryOp::Ne => BinaryOp::Ne,
        ast::BinaryOp::Lt => BinaryOp::Lt,
        ast::BinaryOp::Le => BinaryOp::Le,
        ast::BinaryOp::Gt => BinaryOp::Gt,
        ast::BinaryOp::Ge => BinaryOp::Ge,
        ast::BinaryOp::Coalesce => BinaryOp::Coalesce,
        ast::BinaryOp::Add => BinaryOp::Add,
        ast::BinaryOp::Sub => BinaryOp::Sub,
        ast::BinaryOp::Mul => BinaryOp::Mul,
        ast::BinaryOp::Div => BinaryOp::Div,
        ast::BinaryOp::Rem => BinaryOp::Rem,
    }
}
