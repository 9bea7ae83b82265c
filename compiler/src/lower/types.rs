//! Types into the type table: weir-compiler's [`Type`] as [`TypeDesc`]s (parts before the
//! types built from them). Declared types are resolved from the syntax by
//! [`crate::types::Aliases`], the checker's own resolution.

use crate::types::{ResKind, Type};
use weir_bytecode::{FieldDesc, ProgramBuilder, TypeDesc, TypeIx};

/// Adds `ty` (and its parts, first) to the type table.
pub(crate) fn lower_type(b: &mut ProgramBuilder, ty: &Type) -> TypeIx {
    let desc = match ty {
        Type::String => TypeDesc::String,
        Type::Text => TypeDesc::Text,
        Type::Int { range } => TypeDesc::Int { range: *range },
        Type::Float => TypeDesc::Float,
        Type::Bool => TypeDesc::Bool,
        Type::Duration => TypeDesc::Duration,
        Type::Time => TypeDesc::Time,
        Type::Json => TypeDesc::Json,
        Type::List { item } => TypeDesc::List { item: lower_type(b, item) },
        Type::Record { fields } => {
            // A record whose field repeats (refused by the checker) keeps the first.
            let mut out: Vec<FieldDesc> = Vec::with_capacity(fields.len());
            for f in fields {
                if out.iter().any(|o| o.name == f.name) {
                    continue;
                }
                let ty = lower_type(b, &f.ty);
                out.push(FieldDesc { name: f.name.clone(), ty, optional: f.optional });
            }
            TypeDesc::Record { fields: out }
        }
        Type::Literals { values } => TypeDesc::Literals { values: values.clone() },
        Type::Optional { inner } => TypeDesc::Optional { inner: lower_type(b, inner) },
        Type::Secret => TypeDesc::Secret,
        Type::Res { kind } => TypeDesc::Res {
            kind: match kind {
                ResKind::Text => weir_bytecode::ResKind::Text,
                ResKind::Json => weir_bytecode::ResKind::Json,
                ResKind::Bytes => weir_bytecode::ResKind::Bytes,
                ResKind::Media(m) => weir_bytecode::ResKind::Media(m.clone()),
            },
        },
        Type::None => TypeDesc::None,
        Type::Unit => TypeDesc::Unit,
        Type::Unknown => TypeDesc::Unknown,
    };
    b.ty(desc)
}
