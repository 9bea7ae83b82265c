//! Lowering: a flow that checked without errors, turned into the program of a `.weirc`
//! (docs/bytecode.md, "Lowering"). Each block of the tree becomes a block of instructions
//! (blocks are allocated before the blocks inside them, so the verifier's "a block refers
//! only to blocks after it" holds by construction); every statement that journals or
//! evaluates gets a step-table entry whose identity comes from [`BlockIds`], so identities
//! follow the rules of docs/bytecode.md, "Step identities". Effect classes come from
//! [`crate::effects`], so the checker and the runtime agree on them.
//!
//! Lowering is pure and never panics: what the checker cannot have rejected (a duration
//! that does not fit in an `i64`, a retry count over `u32`) is a [`LowerError`].

mod error;
mod expr;
mod flow;
mod span;
mod step;
mod stmt;
mod types;

#[cfg(test)]
mod tests;

pub use error::{LowerCode, LowerError};

use crate::interface::Library;
use weir_bytecode::identity::BlockIds;
use weir_bytecode::{Bytecode, FORMAT_VERSION, Header, sha256};
use weir_grammar::ast::Flow;

/// Lower one flow that checked without errors into bytecode. `source` is the whole file's
/// text (its SHA-256 goes into the header), `config` the project's weir.toml if any
/// (connections' effect overrides), `library` resolves `call`s (their effect class).
pub fn lower_flow(
    flow: &Flow,
    source: &str,
    config: Option<&weir_config::Config>,
    library: Option<&Library<'_>>,
) -> Result<Bytecode, LowerError> {
    let mut cx = stmt::Lowerer::new(flow, source, config, library);
    let entry = cx.b.entry();
    let mut ids = BlockIds::root();
    cx.block(&flow.body, entry, &mut ids, true)?;
    let program_flow = flow::finish(&mut cx, flow, entry)?;
    let builder = std::mem::take(&mut cx.b);
    let program = builder.finish(program_flow);
    weir_bytecode::verify::verify(&program).map_err(|e| {
        LowerError::new(LowerCode::InvalidProgram, format!("the lowered program does not verify: {e}"))
    })?;
    let header = Header {
        format_version: FORMAT_VERSION,
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        slug: flow.name.name.clone(),
        flow_version: flow::version(flow)?,
        source_sha256: sha256(source.as_bytes()),
        interface_sha256: sha256(interface_text(flow).as_bytes()),
    };
    Ok(Bytecode { header, program })
}

/// The canonical text of a flow's interface, whose SHA-256 is the header's interface digest:
/// `input { NAME: TYPE, … } output TYPE`, each type as weir prints it (record fields in
/// declared order, `nothing` for a flow without `output`). An input the caller need not give
/// (optional, or with a default) is written `NAME?`.
pub fn interface_text(flow: &Flow) -> String {
    use crate::types::{Field, Type};
    let interface = crate::interface::Interface::new(flow);
    let fields: Vec<Field> = interface
        .inputs()
        .iter()
        .map(|(name, ty, required)| Field { name: name.clone(), ty: ty.clone(), optional: !required })
        .collect();
    format!("input {} output {}", Type::Record { fields }, interface.output())
}
