//! The verifier: every rule a loaded program must satisfy before the runtime or the
//! evaluator touches it (docs/bytecode.md, "Verification"). `encode` runs it too, so a file
//! that fails it is never written. After it passes, every index is in range, the tables
//! have no cycles, nesting is bounded, and each instruction's operands are of the right kind.

use std::collections::BTreeSet;

use crate::error::{LoadCode, LoadError};
use crate::program::{
    ApprovalDef, BlockIx, Builtin, Concurrency, ConstIx, ExprIx, ExprNode, InputField, Instr, NameScope,
    Program, StepIx, StepKind, StepPolicy, TemplatePart, Trigger,
};
use crate::types::{TypeDesc, TypeIx};
use crate::value::{MAX_VALUE_DEPTH, Value};

/// How deeply expressions may nest (the grammar allows 64 brackets and 256 operators).
pub const MAX_EXPR_DEPTH: usize = 512;

/// How deeply type descriptors may nest.
pub const MAX_TYPE_DEPTH: usize = 128;

/// How deeply blocks may nest.
pub const MAX_BLOCK_DEPTH: usize = 256;

/// The longest step identity, in bytes.
pub const MAX_IDENTITY_LEN: usize = 1024;

/// Checks every rule of docs/bytecode.md, "Verification".
pub fn verify(p: &Program) -> Result<(), LoadError> {
    let v = Verifier { p };
    v.constants()?;
    v.types()?;
    v.exprs()?;
    v.steps()?;
    v.flow()?;
    v.blocks()
}

struct Verifier<'p> {
    p: &'p Program,
}

fn err(code: LoadCode, message: impl Into<String>) -> LoadError {
    LoadError::new(code, message)
}

impl Verifier<'_> {
    fn constants(&self) -> Result<(), LoadError> {
        for (i, c) in self.p.constants.iter().enumerate() {
            if c.depth() > MAX_VALUE_DEPTH {
                return Err(err(
                    LoadCode::TooDeep,
                    format!("constant {i} nests deeper than {MAX_VALUE_DEPTH}"),
                ));
            }
            if let Some(key) = duplicate_key(c) {
                return Err(err(
                    LoadCode::InvalidOperand,
                    format!("constant {i} repeats the record key `{key}`"),
                ));
            }
        }
        Ok(())
    }

    fn types(&self) -> Result<(), LoadError> {
        let mut depth = vec![0usize; self.p.types.len()];
        for (i, t) in self.p.types.iter().enumerate() {
            let mut d = 1;
            for child in t.children() {
                let c = child.0 as usize;
                if c >= self.p.types.len() {
                    return Err(err(
                        LoadCode::InvalidIndex,
                        format!("type {i} refers to type {c}, out of range"),
                    ));
                }
                if c >= i {
                    return Err(err(
                        LoadCode::Cycle,
                        format!("type {i} refers to type {c}, which is not before it"),
                    ));
                }
                d = d.max(depth[c] + 1);
            }
            if d > MAX_TYPE_DEPTH {
                return Err(err(LoadCode::TooDeep, format!("type {i} nests deeper than {MAX_TYPE_DEPTH}")));
            }
            depth[i] = d;
            match t {
                TypeDesc::Record { fields } => {
                    let mut seen = BTreeSet::new();
                    if let Some(f) = fields.iter().find(|f| !seen.insert(f.name.as_str())) {
                        return Err(err(
                            LoadCode::InvalidOperand,
                            format!("type {i} repeats the field `{}`", f.name),
                        ));
                    }
                }
                TypeDesc::Int { range: Some((low, high)) } if low > high => {
                    return Err(err(
                        LoadCode::InvalidOperand,
                        format!("type {i} has the empty range {low}..{high}"),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn exprs(&self) -> Result<(), LoadError> {
        let mut depth = vec![0usize; self.p.exprs.len()];
        for (i, node) in self.p.exprs.iter().enumerate() {
            let mut d = 1;
            for child in children(node) {
                let c = child.0 as usize;
                if c >= self.p.exprs.len() {
                    return Err(err(
                        LoadCode::InvalidIndex,
                        format!("expression {i} refers to expression {c}, out of range"),
                    ));
                }
                if c >= i {
                    return Err(err(
                        LoadCode::Cycle,
                        format!("expression {i} refers to expression {c}, which is not before it"),
                    ));
                }
                d = d.max(depth[c] + 1);
            }
            if d > MAX_EXPR_DEPTH {
                return Err(err(
                    LoadCode::TooDeep,
                    format!("expression {i} nests deeper than {MAX_EXPR_DEPTH}"),
                ));
            }
            depth[i] = d;
            match node {
                ExprNode::Const(c) => self.constant(*c, &format!("expression {i}"))?,
                ExprNode::Name { name, .. } if name.is_empty() => {
                    return Err(err(LoadCode::InvalidOperand, format!("expression {i} is an empty name")));
                }
                ExprNode::Record(fields) => {
                    let mut seen = BTreeSet::new();
                    if let Some((k, _)) = fields.iter().find(|(k, _)| !seen.insert(k.as_str())) {
                        return Err(err(
                            LoadCode::InvalidOperand,
                            format!("expression {i} repeats the key `{k}`"),
                        ));
                    }
                }
                ExprNode::Call { builtin, args } => {
                    let (min, max) = builtin.arity();
                    if args.len() < min || args.len() > max {
                        return Err(err(
                            LoadCode::InvalidOperand,
                            format!(
                                "expression {i} calls `{}` with {} arguments",
                                builtin.name(),
                                args.len()
                            ),
                        ));
                    }
                    if *builtin == Builtin::Prev
                        && !matches!(
                            self.p.exprs.get(args[0].0 as usize),
                            Some(ExprNode::Name { scope: NameScope::Step, .. })
                        )
                    {
                        return Err(err(
                            LoadCode::InvalidOperand,
                            format!("expression {i}: `prev` takes a step name"),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn constant(&self, c: ConstIx, what: &str) -> Result<(), LoadError> {
        if (c.0 as usize) < self.p.constants.len() {
            Ok(())
        } else {
            Err(err(LoadCode::InvalidIndex, format!("{what} refers to constant {}, out of range", c.0)))
        }
    }

    fn expr(&self, e: ExprIx, what: &str) -> Result<(), LoadError> {
        if (e.0 as usize) < self.p.exprs.len() {
            Ok(())
        } else {
            Err(err(LoadCode::InvalidIndex, format!("{what} refers to expression {}, out of range", e.0)))
        }
    }

    fn opt_expr(&self, e: Option<ExprIx>, what: &str) -> Result<(), LoadError> {
        e.map_or(Ok(()), |e| self.expr(e, what))
    }

    fn ty(&self, t: TypeIx, what: &str) -> Result<(), LoadError> {
        if (t.0 as usize) < self.p.types.len() {
            Ok(())
        } else {
            Err(err(LoadCode::InvalidIndex, format!("{what} refers to type {}, out of range", t.0)))
        }
    }

    fn step_ix(&self, s: StepIx, what: &str) -> Result<&StepKind, LoadError> {
        match self.p.steps.get(s.0 as usize) {
            Some(step) => Ok(&step.kind),
            None => Err(err(LoadCode::InvalidIndex, format!("{what} refers to step {}, out of range", s.0))),
        }
    }

    fn inputs(&self, fields: &[InputField], what: &str) -> Result<(), LoadError> {
        let mut seen = BTreeSet::new();
        for f in fields {
            if !seen.insert(f.name.as_str()) {
                return Err(err(LoadCode::InvalidOperand, format!("{what} repeats the input `{}`", f.name)));
            }
            self.ty(f.ty, what)?;
            self.opt_expr(f.default, what)?;
        }
        Ok(())
    }

    fn policy(&self, policy: &StepPolicy, what: &str) -> Result<(), LoadError> {
        self.opt_expr(policy.timeout, what)?;
        self.opt_expr(policy.idempotency_key, what)
    }

    fn steps(&self) -> Result<(), LoadError> {
        let mut ids = BTreeSet::new();
        for (i, step) in self.p.steps.iter().enumerate() {
            let what = format!("step {i} (`{}`)", printable(&step.id));
            if step.id.is_empty() || step.id.len() > MAX_IDENTITY_LEN || step.id.chars().any(char::is_control)
            {
                return Err(err(LoadCode::InvalidOperand, format!("step {i} has an invalid identity")));
            }
            if !ids.insert(step.id.as_str()) {
                return Err(err(LoadCode::DuplicateIdentity, format!("{what}: the identity is used twice")));
            }
            match &step.kind {
                StepKind::Action(a) => {
                    self.opt_expr(a.target, &what)?;
                    for c in &a.config {
                        self.expr(c.value, &what)?;
                    }
                    if let Some(t) = a.output {
                        self.ty(t, &what)?;
                    }
                    for f in &a.files {
                        self.ty(f.ty, &what)?;
                        self.expr(f.path, &what)?;
                    }
                    self.policy(&a.policy, &what)?;
                }
                StepKind::Call(c) => {
                    self.opt_expr(c.input, &what)?;
                    self.policy(&c.policy, &what)?;
                }
                StepKind::Sleep { duration } | StepKind::WaitFor { duration } => {
                    self.expr(*duration, &what)?
                }
                StepKind::WaitUntil { time } => self.expr(*time, &what)?,
                StepKind::WaitCallback { callback } => {
                    if !matches!(self.step_ix(*callback, &what)?, StepKind::Callback(_)) {
                        return Err(err(
                            LoadCode::InvalidOperand,
                            format!("{what} waits for a step that is not a callback"),
                        ));
                    }
                }
                StepKind::Callback(c) => {
                    self.expr(c.timeout, &what)?;
                    if let Some(t) = c.output {
                        self.ty(t, &what)?;
                    }
                }
                StepKind::Approval(a) => self.approval(a, &what)?,
                StepKind::Log { value } => self.expr(*value, &what)?,
                StepKind::Control => {}
            }
        }
        Ok(())
    }

    fn approval(&self, a: &ApprovalDef, what: &str) -> Result<(), LoadError> {
        self.opt_expr(a.summary, what)?;
        for e in a.attach.iter().chain(&a.binds).chain(&a.exclude) {
            self.expr(*e, what)?;
        }
        self.inputs(&a.input, what)?;
        self.opt_expr(a.min, what)?;
        if let Some(ask) = &a.ask {
            for c in &ask.config {
                self.expr(c.value, what)?;
            }
        }
        self.expr(a.timeout, what)
    }

    fn flow(&self) -> Result<(), LoadError> {
        let f = &self.p.flow;
        self.inputs(&f.inputs, "the flow's input")?;
        if let Some(t) = f.output_type {
            self.ty(t, "the flow's output type")?;
        }
        self.opt_expr(f.run_timeout, "the run timeout")?;
        match &f.concurrency {
            Concurrency::Max { max, per, .. } => {
                self.expr(*max, "the concurrency limit")?;
                self.opt_expr(*per, "the concurrency key")?;
            }
            Concurrency::Unlimited { .. } => {}
        }
        for t in &f.triggers {
            match t {
                Trigger::Manual => {}
                Trigger::Schedule { with, .. } | Trigger::Webhook { with, .. } => {
                    self.opt_expr(*with, "a trigger")?
                }
            }
        }
        Ok(())
    }

    /// Walks the tree of blocks from its roots (the entry and `on failure`) without
    /// recursion: each block is reached exactly once, from a block before it.
    fn blocks(&self) -> Result<(), LoadError> {
        let n = self.p.blocks.len();
        let mut reached = vec![false; n];
        let mut uses = vec![0u32; self.p.steps.len()];
        let mut stack: Vec<(BlockIx, usize, bool)> = Vec::new();
        let mut roots = vec![self.p.flow.entry];
        if let Some(h) = &self.p.flow.on_failure {
            roots.push(h.body);
        }
        for root in roots {
            let r = root.0 as usize;
            if r >= n {
                return Err(err(
                    LoadCode::InvalidIndex,
                    format!("the flow refers to block {r}, out of range"),
                ));
            }
            if reached[r] {
                return Err(err(LoadCode::InvalidOperand, format!("block {r} is used twice")));
            }
            reached[r] = true;
            stack.push((root, 1, false));
        }
        if let Some(out) = &self.p.flow.output {
            self.site(out.site, &mut uses, "the flow's output")?;
            self.expr(out.value, "the flow's output")?;
        }
        while let Some((b, depth, in_loop)) = stack.pop() {
            if depth > MAX_BLOCK_DEPTH {
                return Err(err(LoadCode::TooDeep, format!("blocks nest deeper than {MAX_BLOCK_DEPTH}")));
            }
            let block = &self.p.blocks[b.0 as usize];
            for (k, instr) in block.instrs.iter().enumerate() {
                let what = format!("instruction {k} of block {}", b.0);
                let mut child = |c: BlockIx, child_in_loop: bool| -> Result<(), LoadError> {
                    let ci = c.0 as usize;
                    if ci >= n {
                        return Err(err(
                            LoadCode::InvalidIndex,
                            format!("{what} refers to block {ci}, out of range"),
                        ));
                    }
                    if ci <= b.0 as usize {
                        return Err(err(
                            LoadCode::Cycle,
                            format!("{what} refers to block {ci}, which is not after it"),
                        ));
                    }
                    if reached[ci] {
                        return Err(err(
                            LoadCode::InvalidOperand,
                            format!("{what}: block {ci} is used twice"),
                        ));
                    }
                    reached[ci] = true;
                    stack.push((c, depth + 1, child_in_loop));
                    Ok(())
                };
                match instr {
                    Instr::Step { step, undo } => {
                        let kind = self.step_ix(*step, &what)?;
                        if !matches!(
                            kind,
                            StepKind::Action(_)
                                | StepKind::Call(_)
                                | StepKind::Sleep { .. }
                                | StepKind::WaitFor { .. }
                                | StepKind::WaitUntil { .. }
                                | StepKind::WaitCallback { .. }
                        ) {
                            return Err(err(
                                LoadCode::InvalidOperand,
                                format!("{what} runs a step that cannot run"),
                            ));
                        }
                        count_use(&mut uses, *step, &what)?;
                        if let Some(u) = undo {
                            child(u.body, false)?;
                        }
                    }
                    Instr::Callback { step } => {
                        self.kind(*step, &what, |k| matches!(k, StepKind::Callback(_)), "a callback")?;
                        count_use(&mut uses, *step, &what)?;
                    }
                    Instr::Approval { step, on_reject } => {
                        self.kind(*step, &what, |k| matches!(k, StepKind::Approval(_)), "an approval")?;
                        count_use(&mut uses, *step, &what)?;
                        if let Some(r) = on_reject {
                            child(*r, in_loop)?;
                        }
                    }
                    Instr::Log { step } => {
                        self.kind(*step, &what, |k| matches!(k, StepKind::Log { .. }), "a log")?;
                        count_use(&mut uses, *step, &what)?;
                    }
                    Instr::Let { site, value, name } => {
                        if name.is_empty() {
                            return Err(err(LoadCode::InvalidOperand, format!("{what} binds an empty name")));
                        }
                        self.site(*site, &mut uses, &what)?;
                        self.expr(*value, &what)?;
                    }
                    Instr::If { site, arms, otherwise } => {
                        self.site(*site, &mut uses, &what)?;
                        if arms.is_empty() {
                            return Err(err(
                                LoadCode::InvalidOperand,
                                format!("{what} is an `if` without arms"),
                            ));
                        }
                        for arm in arms {
                            self.expr(arm.cond, &what)?;
                            child(arm.body, in_loop)?;
                        }
                        if let Some(o) = otherwise {
                            child(*o, in_loop)?;
                        }
                    }
                    Instr::For { site, var, items, parallel, body } => {
                        self.site(*site, &mut uses, &what)?;
                        if var.is_empty() {
                            return Err(err(LoadCode::InvalidOperand, format!("{what} binds an empty name")));
                        }
                        self.expr(*items, &what)?;
                        self.opt_expr(*parallel, &what)?;
                        child(*body, true)?;
                    }
                    Instr::Loop { site, max, body } => {
                        self.site(*site, &mut uses, &what)?;
                        self.expr(*max, &what)?;
                        child(*body, true)?;
                    }
                    Instr::Repeat { site, every, until, max, body } => {
                        self.site(*site, &mut uses, &what)?;
                        self.expr(*every, &what)?;
                        self.expr(*until, &what)?;
                        self.expr(*max, &what)?;
                        child(*body, true)?;
                    }
                    Instr::Parallel { branches } => {
                        if branches.is_empty() {
                            return Err(err(
                                LoadCode::InvalidOperand,
                                format!("{what} is a `parallel` without branches"),
                            ));
                        }
                        for br in branches {
                            child(*br, false)?;
                        }
                    }
                    Instr::Try { body, catch } => {
                        child(*body, in_loop)?;
                        child(catch.body, in_loop)?;
                    }
                    Instr::Saga { body } => child(*body, in_loop)?,
                    Instr::Break | Instr::Continue => {
                        if !in_loop {
                            return Err(err(
                                LoadCode::InvalidOperand,
                                format!("{what} leaves a loop it is not in"),
                            ));
                        }
                    }
                    Instr::Fail { site, message, code } => {
                        self.site(*site, &mut uses, &what)?;
                        self.expr(*message, &what)?;
                        self.opt_expr(*code, &what)?;
                    }
                    Instr::Return { site, value } => {
                        self.site(*site, &mut uses, &what)?;
                        self.opt_expr(*value, &what)?;
                    }
                }
            }
        }
        if let Some(unreached) = reached.iter().position(|r| !r) {
            return Err(err(LoadCode::InvalidOperand, format!("block {unreached} is never used")));
        }
        if let Some(unused) = uses.iter().position(|u| *u == 0) {
            return Err(err(LoadCode::InvalidOperand, format!("step {unused} is never used")));
        }
        Ok(())
    }

    fn kind(
        &self,
        s: StepIx,
        what: &str,
        ok: impl Fn(&StepKind) -> bool,
        expected: &str,
    ) -> Result<(), LoadError> {
        if ok(self.step_ix(s, what)?) {
            Ok(())
        } else {
            Err(err(LoadCode::InvalidOperand, format!("{what} needs {expected}, step {} is not one", s.0)))
        }
    }

    fn site(&self, s: StepIx, uses: &mut [u32], what: &str) -> Result<(), LoadError> {
        self.kind(s, what, |k| matches!(k, StepKind::Control), "a control site")?;
        count_use(uses, s, what)
    }
}

fn count_use(uses: &mut [u32], s: StepIx, what: &str) -> Result<(), LoadError> {
    let u = &mut uses[s.0 as usize];
    *u += 1;
    if *u > 1 {
        return Err(err(LoadCode::InvalidOperand, format!("{what}: step {} is used twice", s.0)));
    }
    Ok(())
}

/// The operands of an expression node.
pub fn children(node: &ExprNode) -> Vec<ExprIx> {
    match node {
        ExprNode::Const(_) | ExprNode::Name { .. } => Vec::new(),
        ExprNode::List(items) => items.clone(),
        ExprNode::Record(fields) => fields.iter().map(|(_, e)| *e).collect(),
        ExprNode::Field { base, .. } => vec![*base],
        ExprNode::Index { base, index } => vec![*base, *index],
        ExprNode::Call { args, .. } => args.clone(),
        ExprNode::Unary { operand, .. } => vec![*operand],
        ExprNode::Binary { lhs, rhs, .. } => vec![*lhs, *rhs],
        ExprNode::Template(parts) => parts
            .iter()
            .filter_map(|p| match p {
                TemplatePart::Hole(e) => Some(*e),
                TemplatePart::Text(_) => None,
            })
            .collect(),
    }
}

/// A record key that appears twice anywhere in the value.
fn duplicate_key(v: &Value) -> Option<String> {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::List(items) => stack.extend(items),
            Value::Record(fields) => {
                let mut seen = BTreeSet::new();
                for (k, item) in fields {
                    if !seen.insert(k.as_str()) {
                        return Some(k.clone());
                    }
                    stack.push(item);
                }
            }
            _ => {}
        }
    }
    None
}

/// An identity safe to put in a message (control characters escaped, shortened).
fn printable(s: &str) -> String {
    let escaped: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().count() > 80 { format!("{escaped}…") } else { escaped }
}
