//! The human listing of a `.weirc` (`weir disasm`): the header, the flow's declarations,
//! the tree of blocks with each instruction's step identity and source position, and every
//! expression written back in source-like form. Deterministic: the same file gives the same
//! text. Indices (`#3`) refer to the tables of docs/bytecode.md, so the listing and the
//! JSON form (`weir disasm --json`) can be read side by side.

use crate::codec::Bytecode;
use crate::header::hex;
use crate::program::*;
use std::fmt::Write;

/// The listing of a decoded file.
pub fn disassemble(bytecode: &Bytecode) -> String {
    let h = &bytecode.header;
    let p = &bytecode.program;
    let mut out = String::new();
    let _ = writeln!(out, "weirc format {} · built by weir {}", h.format_version, h.compiler_version);
    let _ = writeln!(out, "flow {} {}", h.slug, h.flow_version);
    let _ = writeln!(out, "source sha256    {}", hex(&h.source_sha256));
    let _ = writeln!(out, "interface sha256 {}", hex(&h.interface_sha256));
    let _ = writeln!(
        out,
        "tables: {} constants, {} types, {} expressions, {} steps, {} blocks",
        p.constants.len(),
        p.types.len(),
        p.exprs.len(),
        p.steps.len(),
        p.blocks.len()
    );
    let d = Disasm { p };
    let flow = &p.flow;
    out.push('\n');
    if let Some(description) = &flow.description {
        let _ = writeln!(out, "description {description:?}");
    }
    for input in &flow.inputs {
        let default = input.default.map(|e| format!(" = {}", d.expr(e))).unwrap_or_default();
        let _ = writeln!(
            out,
            "input {}{}: type#{}{default}",
            input.name,
            if input.optional { "?" } else { "" },
            input.ty.0
        );
    }
    match &flow.concurrency {
        Concurrency::Max { max, per, policy } => {
            let per = per.map(|e| format!(" per {}", d.expr(e))).unwrap_or_default();
            let _ = writeln!(out, "concurrency max {}{per} {policy:?}", d.expr(*max));
        }
        Concurrency::Unlimited { because } => {
            let _ = writeln!(out, "concurrency unlimited because {because:?}");
        }
    }
    for trigger in &flow.triggers {
        let line = match trigger {
            Trigger::Manual => "trigger manual".to_string(),
            Trigger::Schedule { cron, tz, with } => format!(
                "trigger schedule {cron:?}{}{}",
                tz.as_ref().map(|t| format!(" tz {t:?}")).unwrap_or_default(),
                with.map(|w| format!(" with {}", d.expr(w))).unwrap_or_default()
            ),
            Trigger::Webhook { path, verify, scheme, with } => format!(
                "trigger webhook {path:?} {} scheme {scheme:?}{}",
                match verify {
                    Verify::Hmac { secret } => format!("verify hmac(secret {secret})"),
                    Verify::None { because } => format!("verify none because {because:?}"),
                },
                with.map(|w| format!(" with {}", d.expr(w))).unwrap_or_default()
            ),
        };
        let _ = writeln!(out, "{line}");
    }
    if let Some(timeout) = flow.run_timeout {
        let _ = writeln!(out, "timeout {}", d.expr(timeout));
    }
    if let Some(ty) = flow.output_type {
        let _ = writeln!(out, "output type#{}", ty.0);
    }
    out.push('\n');
    let _ = writeln!(out, "entry block#{}", flow.entry.0);
    d.block(flow.entry, 1, &mut out);
    if let Some(sited) = &flow.output {
        let _ = writeln!(out, "output {}  [{}]", d.expr(sited.value), d.site(sited.site));
    }
    if let Some(handler) = &flow.on_failure {
        let var = handler.var.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        let _ = writeln!(out, "on failure{var} block#{}", handler.body.0);
        d.block(handler.body, 1, &mut out);
    }
    out
}

struct Disasm<'p> {
    p: &'p Program,
}

impl Disasm<'_> {
    /// `[identity @line:col]` of a step-table entry.
    fn site(&self, ix: StepIx) -> String {
        match self.p.step(ix) {
            Some(step) => format!("{} @{}:{}", step.id, step.span.line, step.span.column),
            None => format!("step#{}?", ix.0),
        }
    }

    fn block(&self, ix: BlockIx, depth: usize, out: &mut String) {
        let Some(block) = self.p.block(ix) else {
            let _ = writeln!(out, "{}block#{}?", "  ".repeat(depth), ix.0);
            return;
        };
        for instr in &block.instrs {
            self.instr(instr, depth, out);
        }
    }

    fn nested(&self, label: &str, ix: BlockIx, depth: usize, out: &mut String) {
        let _ = writeln!(out, "{}{label} block#{}", "  ".repeat(depth), ix.0);
        self.block(ix, depth + 1, out);
    }

    fn instr(&self, instr: &Instr, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        match instr {
            Instr::Step { step, undo } => {
                let _ = writeln!(out, "{pad}{}  [{}]", self.step_line(*step), self.site(*step));
                if let Some(undo) = undo {
                    let label = if undo.always { "undo always" } else { "undo" };
                    self.nested(label, undo.body, depth + 1, out);
                }
            }
            Instr::Callback { step } => {
                let _ = writeln!(out, "{pad}{}  [{}]", self.step_line(*step), self.site(*step));
            }
            Instr::Approval { step, on_reject } => {
                let _ = writeln!(out, "{pad}{}  [{}]", self.step_line(*step), self.site(*step));
                if let Some(body) = on_reject {
                    self.nested("on reject", *body, depth + 1, out);
                }
            }
            Instr::Log { step } => {
                let _ = writeln!(out, "{pad}{}  [{}]", self.step_line(*step), self.site(*step));
            }
            Instr::Let { site, name, value } => {
                let _ = writeln!(out, "{pad}let {name} = {}  [{}]", self.expr(*value), self.site(*site));
            }
            Instr::If { site, arms, otherwise } => {
                let _ = writeln!(out, "{pad}if  [{}]", self.site(*site));
                for arm in arms {
                    self.nested(&format!("when {}", self.expr(arm.cond)), arm.body, depth + 1, out);
                }
                if let Some(body) = otherwise {
                    self.nested("else", *body, depth + 1, out);
                }
            }
            Instr::For { site, var, items, parallel, body } => {
                let parallel = parallel.map(|n| format!(" parallel {}", self.expr(n))).unwrap_or_default();
                let label = format!("for {var} in {}{parallel}", self.expr(*items));
                let _ = writeln!(out, "{pad}{label}  [{}] block#{}", self.site(*site), body.0);
                self.block(*body, depth + 1, out);
            }
            Instr::Loop { site, max, body } => {
                let _ = writeln!(
                    out,
                    "{pad}loop max {}  [{}] block#{}",
                    self.expr(*max),
                    self.site(*site),
                    body.0
                );
                self.block(*body, depth + 1, out);
            }
            Instr::Repeat { site, every, until, max, body } => {
                let _ = writeln!(
                    out,
                    "{pad}repeat every {} until {} max {}  [{}] block#{}",
                    self.expr(*every),
                    self.expr(*until),
                    self.expr(*max),
                    self.site(*site),
                    body.0
                );
                self.block(*body, depth + 1, out);
            }
            Instr::Parallel { branches } => {
                let _ = writeln!(out, "{pad}parallel");
                for branch in branches {
                    self.nested("branch", *branch, depth + 1, out);
                }
            }
            Instr::Try { body, catch } => {
                self.nested("try", *body, depth, out);
                let var = catch.var.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
                self.nested(&format!("catch{var}"), catch.body, depth, out);
            }
            Instr::Saga { body } => self.nested("saga", *body, depth, out),
            Instr::Break => {
                let _ = writeln!(out, "{pad}break");
            }
            Instr::Continue => {
                let _ = writeln!(out, "{pad}continue");
            }
            Instr::Fail { site, message, code } => {
                let code = code.map(|c| format!(" code {}", self.expr(c))).unwrap_or_default();
                let _ = writeln!(out, "{pad}fail {}{code}  [{}]", self.expr(*message), self.site(*site));
            }
            Instr::Return { site, value } => {
                let value = value.map(|v| format!(" {}", self.expr(v))).unwrap_or_default();
                let _ = writeln!(out, "{pad}return{value}  [{}]", self.site(*site));
            }
        }
    }

    /// One line for a step-table entry: what it does, with its policy.
    fn step_line(&self, ix: StepIx) -> String {
        let Some(step) = self.p.step(ix) else { return format!("step#{}?", ix.0) };
        let name = step.name.as_deref().unwrap_or("_");
        match &step.kind {
            StepKind::Action(action) => {
                let mut line = format!("step {name} = {}", action.family);
                if let Some(method) = &action.method {
                    let _ = write!(line, " {method}");
                }
                if let Some(target) = action.target {
                    let _ = write!(line, " {}", self.expr(target));
                }
                if let Some(connection) = &action.connection {
                    let _ = write!(line, " via {connection}");
                }
                for entry in &action.config {
                    let _ = write!(line, "; {} {}", entry.key, self.expr(entry.value));
                }
                line.push_str(&self.policy(&action.policy));
                line
            }
            StepKind::Call(call) => {
                let range = call.range.as_ref().map(|r| format!("@{r}")).unwrap_or_default();
                let input = call.input.map(|i| format!(" input {}", self.expr(i))).unwrap_or_default();
                format!("step {name} = call {}{range}{input}{}", call.flow, self.policy(&call.policy))
            }
            StepKind::Sleep { duration } => format!("step {name} = sleep {}", self.expr(*duration)),
            StepKind::WaitFor { duration } => format!("step {name} = wait for {}", self.expr(*duration)),
            StepKind::WaitUntil { time } => format!("step {name} = wait until {}", self.expr(*time)),
            StepKind::WaitCallback { callback } => {
                let callback = self.p.step(*callback).and_then(|s| s.name.clone()).unwrap_or_default();
                format!("step {name} = wait {callback}")
            }
            StepKind::Callback(callback) => {
                format!("callback {name} timeout {}", self.expr(callback.timeout))
            }
            StepKind::Approval(approval) => {
                let deciders: Vec<String> = approval
                    .deciders
                    .iter()
                    .map(|d| format!("{:?} {}", d.kind, d.name).to_lowercase())
                    .collect();
                format!(
                    "approval {name} deciders [{}]{} timeout {} default {:?}",
                    deciders.join(", "),
                    if approval.not_initiator { " not initiator" } else { "" },
                    self.expr(approval.timeout),
                    approval.default
                )
            }
            StepKind::Log { value } => format!("log {}", self.expr(*value)),
            StepKind::Control => format!("control {name}"),
        }
    }

    fn policy(&self, policy: &StepPolicy) -> String {
        let mut out = format!(" · {:?}", policy.effect).to_lowercase();
        if policy.unattended.is_some() {
            out.push_str(" unattended");
        }
        if let Some(timeout) = policy.timeout {
            let _ = write!(out, " timeout {}", self.expr(timeout));
        }
        for retry in &policy.retries {
            let _ = write!(out, " retry {}", retry.count);
        }
        if let Some(key) = policy.idempotency_key {
            let _ = write!(out, " idempotency_key {}", self.expr(key));
        }
        out
    }

    /// An expression in source-like form.
    fn expr(&self, ix: ExprIx) -> String {
        self.expr_depth(ix, 0)
    }

    fn expr_depth(&self, ix: ExprIx, depth: usize) -> String {
        if depth > 600 {
            return "…".to_string();
        }
        let e = |i: ExprIx| self.expr_depth(i, depth + 1);
        let Some(node) = self.p.expr(ix) else { return format!("expr#{}?", ix.0) };
        match node {
            ExprNode::Const(c) => {
                self.p.constant(*c).map_or_else(|| format!("const#{}?", c.0), |v| v.to_string())
            }
            ExprNode::Name { name, .. } => name.clone(),
            ExprNode::List(items) => {
                format!("[{}]", items.iter().map(|i| e(*i)).collect::<Vec<_>>().join(", "))
            }
            ExprNode::Record(fields) => {
                let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {}", e(*v))).collect();
                if fields.is_empty() { "{}".to_string() } else { format!("{{ {} }}", fields.join(", ")) }
            }
            ExprNode::Field { base, name, optional } => {
                format!("{}{}{name}", e(*base), if *optional { "?." } else { "." })
            }
            ExprNode::Index { base, index } => format!("{}[{}]", e(*base), e(*index)),
            ExprNode::Call { builtin, args } => {
                format!("{}({})", builtin.name(), args.iter().map(|a| e(*a)).collect::<Vec<_>>().join(", "))
            }
            ExprNode::Unary { op, operand } => {
                format!("{}{}", if *op == UnaryOp::Neg { "-" } else { "!" }, e(*operand))
            }
            ExprNode::Binary { op, lhs, rhs } => format!("({} {} {})", e(*lhs), op.as_str(), e(*rhs)),
            ExprNode::Template(parts) => {
                let mut text = String::from("\"");
                for part in parts {
                    match part {
                        TemplatePart::Text(t) => {
                            let escaped = format!("{t:?}");
                            text.push_str(&escaped[1..escaped.len() - 1]);
                        }
                        TemplatePart::Hole(h) => {
                            let _ = write!(text, "{{{}}}", e(*h));
                        }
                    }
                }
                text.push('"');
                text
            }
        }
    }
}
