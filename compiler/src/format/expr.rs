//! Expressions, templates and types.

use super::printer::Printer;
use weir_diagnostics::Span;
use weir_grammar::ast::*;

pub(super) fn expr(p: &mut Printer<'_>, e: &Expr) {
    match &e.kind {
        ExprKind::Int { .. } | ExprKind::Float { .. } | ExprKind::Duration { .. } | ExprKind::Error => {
            let text = p.source(e.span);
            p.write(text);
        }
        ExprKind::Bool { value } => p.write(if *value { "true" } else { "false" }),
        ExprKind::None => p.write("none"),
        ExprKind::String(t) => template(p, t),
        ExprKind::Name { name } => p.write(name),
        ExprKind::Secret { name } => {
            p.write("secret ");
            p.write(&name.name);
        }
        ExprKind::List { items } => {
            if items.is_empty() {
                p.write("[]");
            } else if p.is_multiline(e.span) {
                p.write("[");
                p.open_block(e.span.start);
                for item in items {
                    p.begin_item(item.span.start);
                    expr(p, item);
                    p.write(",");
                    p.end_item(item.span.end);
                }
                p.close_block(e.span.end - 1, "]");
            } else {
                p.write("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        p.write(", ");
                    }
                    expr(p, item);
                }
                p.write("]");
            }
        }
        ExprKind::Record { fields } => {
            if fields.is_empty() {
                p.write("{}");
            } else if p.is_multiline(e.span) {
                p.write("{");
                p.open_block(e.span.start);
                for field in fields {
                    p.begin_item(field.span.start);
                    key(p, &field.key);
                    p.write(": ");
                    expr(p, &field.value);
                    p.end_item(field.span.end);
                }
                p.close_block(e.span.end - 1, "}");
            } else {
                p.write("{ ");
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        p.write(", ");
                    }
                    key(p, &field.key);
                    p.write(": ");
                    expr(p, &field.value);
                }
                p.write(" }");
            }
        }
        ExprKind::Field { base, name, optional } => {
            expr(p, base);
            p.write(if *optional { "?." } else { "." });
            p.write(&name.name);
        }
        ExprKind::Index { base, index } => {
            expr(p, base);
            p.write("[");
            expr(p, index);
            p.write("]");
        }
        ExprKind::Call { callee, args } => {
            expr(p, callee);
            p.write("(");
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    p.write(", ");
                }
                expr(p, arg);
            }
            p.write(")");
        }
        ExprKind::Unary { op, operand } => {
            p.write(match op {
                UnaryOp::Neg => "-",
                UnaryOp::Not => "!",
            });
            expr(p, operand);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            expr(p, lhs);
            p.write(" ");
            p.write(op.as_str());
            p.write(" ");
            expr(p, rhs);
        }
        ExprKind::Paren { inner } => {
            p.write("(");
            expr(p, inner);
            p.write(")");
        }
    }
}

fn key(p: &mut Printer<'_>, key: &Key) {
    let text = p.source(key.span);
    p.write(text);
}

/// Strings are kept as written; only the expressions in holes are formatted.
pub(super) fn template(p: &mut Printer<'_>, t: &Template) {
    let (open, close) = match t.style {
        StringStyle::Plain => ("\"", "\""),
        StringStyle::Multi => ("\"\"\"", "\"\"\""),
        StringStyle::Raw | StringStyle::RawMulti => {
            let text = p.source(t.span);
            p.write(text);
            return;
        }
    };
    p.write(open);
    // The text between holes is copied from the source, so escapes and the layout of
    // multi-line strings stay exactly as written.
    let mut at = t.span.start as usize + open.len();
    for part in &t.parts {
        if let TemplatePart::Hole { expr: e, span } = part {
            let text = p.source(Span::new(at, span.start as usize));
            p.write(text);
            p.write("{");
            expr(p, e);
            p.write("}");
            at = span.end as usize;
        }
    }
    let text = p.source(Span::new(at, t.span.end as usize - close.len()));
    p.write(text);
    p.write(close);
}

pub(super) fn type_expr(p: &mut Printer<'_>, t: &TypeExpr) {
    match &t.kind {
        TypeKind::Name { name } => p.write(&name.name),
        TypeKind::Range { base, .. } => {
            // Bounds as written (underscores kept), without inner spaces.
            let text = p.source(t.span);
            let bounds: String =
                text.rsplit_once(" in").map_or(text, |(_, b)| b).split_whitespace().collect();
            p.write(&base.name);
            p.write(" in ");
            p.write(&bounds);
        }
        TypeKind::List { item } => {
            p.write("list<");
            type_expr(p, item);
            p.write(">");
        }
        TypeKind::Res { .. } | TypeKind::Literal { .. } => {
            let text = p.source(t.span);
            let compact: String = if matches!(t.kind, TypeKind::Res { .. }) {
                text.split_whitespace().collect()
            } else {
                text.to_string()
            };
            p.write(&compact);
        }
        TypeKind::Record(record) => type_record(p, record),
        TypeKind::Union { options } => {
            for (i, option) in options.iter().enumerate() {
                if i > 0 {
                    p.write(" | ");
                }
                type_expr(p, option);
            }
        }
        TypeKind::Optional { inner } => {
            type_expr(p, inner);
            p.write("?");
        }
        TypeKind::Paren { inner } => {
            p.write("(");
            type_expr(p, inner);
            p.write(")");
        }
    }
}

pub(super) fn type_record(p: &mut Printer<'_>, record: &TypeRecord) {
    if record.fields.is_empty() {
        p.write("{}");
        return;
    }
    let multiline = p.is_multiline(record.span);
    if multiline {
        p.write("{");
        p.open_block(record.span.start);
    } else {
        p.write("{ ");
    }
    for (i, field) in record.fields.iter().enumerate() {
        if multiline {
            p.begin_item(field.span.start);
        } else if i > 0 {
            p.write(", ");
        }
        key(p, &field.key);
        if field.optional {
            p.write("?");
        }
        p.write(": ");
        type_expr(p, &field.ty);
        if let Some(default) = &field.default {
            p.write(" = ");
            expr(p, default);
        }
        if multiline {
            p.end_item(field.span.end);
        }
    }
    if multiline {
        p.close_block(record.span.end - 1, "}");
    } else {
        p.write(" }");
    }
}
