//! Statements into blocks of instructions. Each statement that journals or evaluates gets a
//! step-table entry named by [`BlockIds`]; a statement with blocks inside allocates them
//! after its own block, so every block refers only to blocks after it.

use super::error::LowerError;
use super::span::LineIndex;
use crate::effects::StepEffect;
use crate::interface::Library;
use crate::types::Aliases;
use std::collections::{HashMap, HashSet};
use weir_bytecode::identity::BlockIds;
use weir_bytecode::{BlockIx, Handler, IfArm, Instr, ProgramBuilder, StepDef, StepIx, StepKind};
use weir_grammar::ast::{Block, Flow, Stmt, StmtKind, WaitTarget};

/// The state of lowering one flow.
pub(crate) struct Lowerer<'a> {
    /// The program being built.
    pub(crate) b: ProgramBuilder,
    /// Lines of the source, for spans.
    pub(crate) lines: LineIndex<'a>,
    /// The flow's type aliases.
    pub(crate) aliases: Aliases<'a>,
    /// Every step's effect (effects.rs), by step name.
    pub(crate) effects: HashMap<String, StepEffect>,
    /// Loop and error variables in scope, innermost last.
    pub(crate) locals: Vec<String>,
    /// Names of consts anywhere in the flow.
    pub(crate) consts: HashSet<String>,
    /// Names of steps, callbacks and approvals anywhere in the flow.
    pub(crate) values: HashSet<String>,
    /// Callbacks lowered so far, for `wait NAME`.
    pub(crate) callbacks: HashMap<String, StepIx>,
    /// True inside a webhook's `with { … }`, where `payload` is the request body.
    pub(crate) in_payload: bool,
}

impl<'a> Lowerer<'a> {
    /// A lowerer for `flow`.
    pub(crate) fn new(
        flow: &'a Flow,
        source: &'a str,
        config: Option<&weir_config::Config>,
        library: Option<&Library<'_>>,
    ) -> Lowerer<'a> {
        let effects = crate::effects::flow_effects_with(flow, config, library)
            .into_iter()
            .map(|e| (e.step.clone(), e))
            .collect();
        let mut consts = HashSet::new();
        let mut values = HashSet::new();
        collect_names(&flow.body, &mut consts, &mut values);
        Lowerer {
            b: ProgramBuilder::new(),
            lines: LineIndex::new(source),
            aliases: Aliases::of(flow),
            effects,
            locals: Vec::new(),
            consts,
            values,
            callbacks: HashMap::new(),
            in_payload: false,
        }
    }

    /// An entry of the step table.
    pub(crate) fn step_entry(
        &mut self,
        id: String,
        name: Option<&str>,
        span: weir_diagnostics::Span,
        kind: StepKind,
    ) -> StepIx {
        let span = self.lines.span(span);
        self.b.step(StepDef { id, name: name.map(str::to_string), span, kind })
    }

    /// A control site (`if`, `for`, `const`, …): the identity that keys its `now()`/`uuid()`.
    pub(crate) fn site(&mut self, id: String, name: Option<&str>, span: weir_diagnostics::Span) -> StepIx {
        self.step_entry(id, name, span, StepKind::Control)
    }

    /// Lowers `stmts` into `block`. `top` is true for the flow's own body, whose declarations
    /// (`version`, `input`, `trigger`, …) are not instructions.
    pub(crate) fn block(
        &mut self,
        stmts: &[Stmt],
        block: BlockIx,
        ids: &mut BlockIds,
        top: bool,
    ) -> Result<(), LowerError> {
        for stmt in stmts {
            self.stmt(stmt, block, ids, top)?;
        }
        Ok(())
    }

    /// A new block at `path`, holding `stmts`.
    pub(crate) fn nested(&mut self, stmts: &[Stmt], path: BlockIds) -> Result<BlockIx, LowerError> {
        let block = self.b.block();
        let mut ids = path;
        self.block(stmts, block, &mut ids, false)?;
        Ok(block)
    }

    /// A new block at `path` with the local `var` in scope.
    fn nested_with(
        &mut self,
        stmts: &[Stmt],
        path: BlockIds,
        var: Option<&str>,
    ) -> Result<BlockIx, LowerError> {
        if let Some(var) = var {
            self.locals.push(var.to_string());
        }
        let block = self.nested(stmts, path);
        if var.is_some() {
            self.locals.pop();
        }
        block
    }

    fn stmt(&mut self, stmt: &Stmt, block: BlockIx, ids: &mut BlockIds, top: bool) -> Result<(), LowerError> {
        let span = stmt.span;
        let instr = match &stmt.kind {
            StmtKind::Version { .. }
            | StmtKind::Description { .. }
            | StmtKind::Concurrency(_)
            | StmtKind::Trigger(_)
            | StmtKind::Input { .. }
            | StmtKind::Output { .. }
            | StmtKind::TypeAlias { .. }
            | StmtKind::Timeout { .. }
            | StmtKind::OnFailure { .. } => {
                if top {
                    return Ok(());
                }
                return Err(LowerError::unchecked("a flow-level declaration appears inside a block"));
            }
            StmtKind::Const { name, value } => {
                let value = self.expr(value)?;
                let id = ids.named(&name.name);
                let site = self.site(id, Some(&name.name), span);
                Instr::Let { site, name: name.name.clone(), value }
            }
            StmtKind::Step(step) => self.step(step, span, ids)?,
            StmtKind::Callback { name, config } => self.callback(name, config, span, ids)?,
            StmtKind::Approval { name, config } => self.approval(name, config, span, ids)?,
            StmtKind::Parallel { body } => {
                if body.stmts.is_empty() {
                    return Err(LowerError::unchecked("a `parallel` has no branches"));
                }
                let owner = ids.anonymous("parallel");
                let mut branches = Vec::with_capacity(body.stmts.len());
                for (i, branch) in body.stmts.iter().enumerate() {
                    let path = BlockIds::nested(&owner, &format!("branch#{}", i + 1));
                    let stmts = match &branch.kind {
                        StmtKind::Branch { body } => &body.stmts[..],
                        _ => std::slice::from_ref(branch),
                    };
                    branches.push(self.nested(stmts, path)?);
                }
                Instr::Parallel { branches }
            }
            StmtKind::Branch { .. } => {
                return Err(LowerError::unchecked("a `branch` appears outside a `parallel`"));
            }
            StmtKind::For { var, iter, parallel, body } => {
                let items = self.expr(iter)?;
                let parallel = self.opt_expr(parallel.as_ref())?;
                let id = ids.anonymous("for");
                let site = self.site(id.clone(), None, span);
                let body = self.nested_with(&body.stmts, BlockIds::nested(&id, "body"), Some(&var.name))?;
                Instr::For { site, var: var.name.clone(), items, parallel, body }
            }
            StmtKind::If { arms, else_body } => {
                let id = ids.anonymous("if");
                let site = self.site(id.clone(), None, span);
                let mut out = Vec::with_capacity(arms.len());
                for (i, arm) in arms.iter().enumerate() {
                    let cond = self.expr(&arm.cond)?;
                    let body =
                        self.nested(&arm.body.stmts, BlockIds::nested(&id, &format!("arm#{}", i + 1)))?;
                    out.push(IfArm { cond, body });
                }
                let otherwise = match else_body {
                    Some(b) => Some(self.nested(&b.stmts, BlockIds::nested(&id, "else"))?),
                    None => None,
                };
                if out.is_empty() {
                    return Err(LowerError::unchecked("an `if` has no condition"));
                }
                Instr::If { site, arms: out, otherwise }
            }
            StmtKind::Loop { max, body } => {
                let max = max.as_ref().ok_or_else(|| LowerError::unchecked("a `loop` has no `max`"))?;
                let max = self.expr(max)?;
                let id = ids.anonymous("loop");
                let site = self.site(id.clone(), None, span);
                let body = self.nested(&body.stmts, BlockIds::nested(&id, "body"))?;
                Instr::Loop { site, max, body }
            }
            StmtKind::Repeat { every, until, max, body } => {
                let max = max.as_ref().ok_or_else(|| LowerError::unchecked("a `repeat` has no `max`"))?;
                let every = self.expr(every)?;
                let until = self.expr(until)?;
                let max = self.expr(max)?;
                let id = ids.anonymous("repeat");
                let site = self.site(id.clone(), None, span);
                let body = self.nested(&body.stmts, BlockIds::nested(&id, "body"))?;
                Instr::Repeat { site, every, until, max, body }
            }
            StmtKind::Break => Instr::Break,
            StmtKind::Continue => Instr::Continue,
            StmtKind::Try { body, var, catch } => {
                let id = ids.anonymous("try");
                let body = self.nested(&body.stmts, BlockIds::nested(&id, "body"))?;
                let var_name = var.as_ref().map(|v| v.name.clone());
                let catch =
                    self.nested_with(&catch.stmts, BlockIds::nested(&id, "catch"), var_name.as_deref())?;
                Instr::Try { body, catch: Handler { var: var_name, body: catch } }
            }
            StmtKind::Saga { body } => {
                let id = ids.anonymous("saga");
                let body = self.nested(&body.stmts, BlockIds::nested(&id, "body"))?;
                Instr::Saga { body }
            }
            StmtKind::Fail { message, code } => {
                let message = self.expr(message)?;
                let code = self.opt_expr(code.as_ref())?;
                let site = self.site(ids.anonymous("fail"), None, span);
                Instr::Fail { site, message, code }
            }
            StmtKind::Return { value } => {
                let value = self.opt_expr(value.as_ref())?;
                let site = self.site(ids.anonymous("return"), None, span);
                Instr::Return { site, value }
            }
            StmtKind::Log { value } => {
                let value = self.expr(value)?;
                let step = self.step_entry(ids.anonymous("log"), None, span, StepKind::Log { value });
                Instr::Log { step }
            }
            StmtKind::Sleep { duration } => {
                let duration = self.expr(duration)?;
                let step = self.step_entry(ids.anonymous("sleep"), None, span, StepKind::Sleep { duration });
                Instr::Step { step, undo: None }
            }
            StmtKind::Wait { target } => {
                let kind = self.wait(target)?;
                let step = self.step_entry(ids.anonymous("wait"), None, span, kind);
                Instr::Step { step, undo: None }
            }
            StmtKind::Error(_) => {
                return Err(LowerError::unchecked("the flow has a statement that did not parse"));
            }
        };
        self.b.push(block, instr);
        Ok(())
    }

    /// `wait NAME`, `wait for D`, `wait until T`.
    pub(crate) fn wait(&mut self, target: &WaitTarget) -> Result<StepKind, LowerError> {
        Ok(match target {
            WaitTarget::Callback { name } => {
                let callback = *self.callbacks.get(&name.name).ok_or_else(|| {
                    LowerError::unchecked(format!("`wait {}` comes before its callback", name.name))
                })?;
                StepKind::WaitCallback { callback }
            }
            WaitTarget::For { duration } => StepKind::WaitFor { duration: self.expr(duration)? },
            WaitTarget::Until { time } => StepKind::WaitUntil { time: self.expr(time)? },
        })
    }

    /// The root block of `on failure [e] { … }`.
    pub(crate) fn on_failure(&mut self, var: Option<&str>, body: &Block) -> Result<Handler, LowerError> {
        let block = self.nested_with(&body.stmts, BlockIds::at("on_failure"), var)?;
        Ok(Handler { var: var.map(str::to_string), body: block })
    }
}

/// Every const and every step, callback and approval name, in every block.
fn collect_names(stmts: &[Stmt], consts: &mut HashSet<String>, values: &mut HashSet<String>) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Const { name, .. } => {
                consts.insert(name.name.clone());
            }
            StmtKind::Step(step) => {
                values.insert(step.name.name.clone());
            }
            StmtKind::Callback { name, .. } | StmtKind::Approval { name, .. } => {
                values.insert(name.name.clone());
            }
            _ => {}
        }
        for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
            collect_names(&block.stmts, consts, values);
        }
    }
}
