//! A builder for [`Program`]s: the lowering in weir-compiler (and the tests) add constants,
//! types, expressions, steps and blocks, and get indices back. Constants and types are
//! stored once each. Building top-down (a block before the blocks inside it, an operand
//! before the expression using it) gives the order the verifier asks for.

use std::collections::HashMap;

use crate::program::{Block, BlockIx, ConstIx, ExprIx, ExprNode, FlowDef, Instr, Program, StepDef, StepIx};
use crate::types::{TypeDesc, TypeIx};
use crate::value::Value;

/// Builds a [`Program`]. Block 0, the entry, exists from the start.
#[derive(Debug)]
pub struct ProgramBuilder {
    constants: Vec<Value>,
    const_index: HashMap<Vec<u8>, ConstIx>,
    types: Vec<TypeDesc>,
    type_index: HashMap<TypeDesc, TypeIx>,
    exprs: Vec<ExprNode>,
    steps: Vec<StepDef>,
    blocks: Vec<Block>,
}

impl Default for ProgramBuilder {
    fn default() -> Self {
        ProgramBuilder::new()
    }
}

impl ProgramBuilder {
    /// An empty program with its entry block.
    pub fn new() -> ProgramBuilder {
        ProgramBuilder {
            constants: Vec::new(),
            const_index: HashMap::new(),
            types: Vec::new(),
            type_index: HashMap::new(),
            exprs: Vec::new(),
            steps: Vec::new(),
            blocks: vec![Block::default()],
        }
    }

    /// The entry block.
    pub fn entry(&self) -> BlockIx {
        BlockIx(0)
    }

    /// A constant of the pool (equal values share one entry).
    pub fn constant(&mut self, value: Value) -> ConstIx {
        let key = postcard::to_stdvec(&value).unwrap_or_default();
        if let Some(ix) = self.const_index.get(&key) {
            return *ix;
        }
        let ix = ConstIx(self.constants.len() as u32);
        self.constants.push(value);
        self.const_index.insert(key, ix);
        ix
    }

    /// A type descriptor (equal types share one entry).
    pub fn ty(&mut self, ty: TypeDesc) -> TypeIx {
        if let Some(ix) = self.type_index.get(&ty) {
            return *ix;
        }
        let ix = TypeIx(self.types.len() as u32);
        self.types.push(ty.clone());
        self.type_index.insert(ty, ix);
        ix
    }

    /// An expression node (its operands must have been added already).
    pub fn expr(&mut self, node: ExprNode) -> ExprIx {
        self.exprs.push(node);
        ExprIx(self.exprs.len() as u32 - 1)
    }

    /// A literal: a constant and the node that reads it.
    pub fn literal(&mut self, value: Value) -> ExprIx {
        let c = self.constant(value);
        self.expr(ExprNode::Const(c))
    }

    /// An entry of the step table.
    pub fn step(&mut self, step: StepDef) -> StepIx {
        self.steps.push(step);
        StepIx(self.steps.len() as u32 - 1)
    }

    /// A new, empty block (after every block so far).
    pub fn block(&mut self) -> BlockIx {
        self.blocks.push(Block::default());
        BlockIx(self.blocks.len() as u32 - 1)
    }

    /// Appends an instruction to a block. An out-of-range block is ignored here and the
    /// instruction lost, which the verifier then reports as a missing use.
    pub fn push(&mut self, block: BlockIx, instr: Instr) {
        if let Some(b) = self.blocks.get_mut(block.0 as usize) {
            b.instrs.push(instr);
        }
    }

    /// The program, with the flow's declarations (`encode` verifies it).
    pub fn finish(self, flow: FlowDef) -> Program {
        Program {
            constants: self.constants,
            types: self.types,
            exprs: self.exprs,
            steps: self.steps,
            blocks: self.blocks,
            flow,
        }
    }
}
