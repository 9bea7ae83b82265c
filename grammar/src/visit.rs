//! Walking the tree: every expression of a statement, every subexpression of an
//! expression. Checks that only look for something among expressions use these instead of
//! matching every node kind themselves.

use crate::ast::*;

impl File {
    /// The flows of the file (items that did not parse are skipped).
    pub fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.items.iter().filter_map(|item| match item {
            Item::Flow(flow) => Some(flow),
            Item::Error(_) => None,
        })
    }
}

impl Expr {
    /// The expression as its author wrote it, for messages (`plan.body`, `input.items[…]`,
    /// `f(…)`); `None` for anything but names, fields, indexes, calls and parentheses
    /// around those.
    pub fn as_written(&self) -> Option<String> {
        Some(match &self.kind {
            ExprKind::Name { name } => name.clone(),
            ExprKind::Field { base, name, optional } => {
                format!("{}{}{}", base.as_written()?, if *optional { "?." } else { "." }, name.name)
            }
            ExprKind::Call { callee, .. } => format!("{}(…)", callee.as_written()?),
            ExprKind::Index { base, .. } => format!("{}[…]", base.as_written()?),
            ExprKind::Paren { inner } => inner.as_written()?,
            _ => return None,
        })
    }

    /// The direct subexpressions, in source order (template holes included; a call's
    /// callee is not: it names a builtin).
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Field { base, .. } => vec![base],
            ExprKind::Index { base, index } => vec![base, index],
            ExprKind::Call { args, .. } => args.iter().collect(),
            ExprKind::Unary { operand, .. } => vec![operand],
            ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            ExprKind::Paren { inner } => vec![inner],
            ExprKind::List { items } => items.iter().collect(),
            ExprKind::Record { fields } => fields.iter().map(|f| &f.value).collect(),
            ExprKind::String(template) => template.holes().collect(),
            ExprKind::Int { .. }
            | ExprKind::Float { .. }
            | ExprKind::Duration { .. }
            | ExprKind::Bool { .. }
            | ExprKind::None
            | ExprKind::Name { .. }
            | ExprKind::Secret { .. }
            | ExprKind::Error => Vec::new(),
        }
    }

    /// True when this expression or any below it satisfies `test`.
    pub fn any(&self, test: &mut dyn FnMut(&Expr) -> bool) -> bool {
        test(self) || self.children().into_iter().any(|c| c.any(test))
    }
}

impl Template {
    /// The expressions of the `{…}` holes, in order.
    pub fn holes(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Hole { expr, .. } => Some(expr),
            TemplatePart::Text { .. } => None,
        })
    }
}

impl Stmt {
    /// Every expression written in this statement itself, in source order: its target,
    /// config entries, conditions, bounds, trigger options, defaults (not the statements of
    /// nested blocks, `undo` and `on reject` bodies included: walk those as statements).
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        match &self.kind {
            StmtKind::Version { value } | StmtKind::Description { value } => out.extend(value.holes()),
            StmtKind::Concurrency(Concurrency::Max { max, per, .. }) => {
                out.push(max);
                out.extend(per);
            }
            StmtKind::Concurrency(Concurrency::Unlimited { because }) => out.extend(because.holes()),
            StmtKind::Trigger(trigger) => match trigger {
                Trigger::Manual => {}
                Trigger::Schedule { cron, tz, with } => {
                    out.extend(cron.holes());
                    out.extend(tz.iter().flat_map(|t| t.holes()));
                    out.extend(with);
                }
                Trigger::Webhook { path, verify, with, .. } => {
                    out.extend(path.holes());
                    match verify {
                        Some(Verify::Hmac { key, .. }) => out.push(key),
                        Some(Verify::None { because, .. }) => out.extend(because.holes()),
                        None => {}
                    }
                    out.extend(with);
                }
            },
            StmtKind::Input { fields } => out.extend(fields.fields.iter().filter_map(|f| f.default.as_ref())),
            StmtKind::Output { value }
            | StmtKind::Const { value, .. }
            | StmtKind::Timeout { value }
            | StmtKind::Log { value } => out.push(value),
            StmtKind::Step(step) => {
                match &step.call {
                    StepCall::Family { target, .. } => out.extend(target.iter().flat_map(|t| t.holes())),
                    StepCall::Sleep { duration, .. } => out.push(duration),
                    StepCall::Wait { target, .. } => wait_exprs(target, &mut out),
                    StepCall::Call { .. } => {}
                }
                if let Some(config) = &step.config {
                    config_exprs(config, &mut out);
                }
            }
            StmtKind::Callback { config, .. } | StmtKind::Approval { config, .. } => {
                config_exprs(config, &mut out)
            }
            StmtKind::For { iter, parallel, .. } => {
                out.push(iter);
                out.extend(parallel);
            }
            StmtKind::If { arms, .. } => out.extend(arms.iter().map(|a| &a.cond)),
            StmtKind::Loop { max, .. } => out.extend(max),
            StmtKind::Repeat { every, until, max, .. } => {
                out.push(every);
                out.push(until);
                out.extend(max);
            }
            StmtKind::Fail { message, code } => {
                out.push(message);
                out.extend(code);
            }
            StmtKind::Return { value } => out.extend(value),
            StmtKind::Sleep { duration } => out.push(duration),
            StmtKind::Wait { target } => wait_exprs(target, &mut out),
            StmtKind::TypeAlias { .. }
            | StmtKind::OnFailure { .. }
            | StmtKind::Parallel { .. }
            | StmtKind::Branch { .. }
            | StmtKind::Break
            | StmtKind::Continue
            | StmtKind::Try { .. }
            | StmtKind::Saga { .. }
            | StmtKind::Error(_) => {}
        }
        out
    }

    /// True when an expression of this statement, or of any statement nested in it (blocks,
    /// `undo` and `on reject` bodies), satisfies `test` somewhere inside.
    pub fn any_expr(&self, test: &mut dyn FnMut(&Expr) -> bool) -> bool {
        self.exprs().into_iter().any(|e| e.any(test))
            || self
                .kind
                .handler_blocks()
                .into_iter()
                .chain(self.kind.blocks())
                .any(|b| b.stmts.iter().any(|s| s.any_expr(test)))
    }
}

fn wait_exprs<'a>(target: &'a WaitTarget, out: &mut Vec<&'a Expr>) {
    match target {
        WaitTarget::For { duration } => out.push(duration),
        WaitTarget::Until { time } => out.push(time),
        WaitTarget::Callback { .. } => {}
    }
}

fn config_exprs<'a>(config: &'a Config, out: &mut Vec<&'a Expr>) {
    for entry in &config.entries {
        match &entry.kind {
            EntryKind::Plain { value, .. } => out.push(value),
            EntryKind::List { values, .. } => out.extend(values),
            EntryKind::Input { fields } | EntryKind::Files { fields } => {
                out.extend(fields.fields.iter().filter_map(|f| f.default.as_ref()))
            }
            EntryKind::Retry(retry) => {
                out.push(&retry.count);
                if let Some(backoff) = &retry.backoff {
                    out.push(&backoff.base);
                    out.extend(&backoff.max);
                }
            }
            EntryKind::Effect { because, .. } | EntryKind::Unattended { because } => {
                out.extend(because.holes())
            }
            EntryKind::Deciders(deciders) => {
                for rule in &deciders.rules {
                    match rule {
                        DeciderRule::Exclude { who, .. } => out.push(who),
                        DeciderRule::Min { count, .. } => out.push(count),
                        DeciderRule::NotInitiator { .. } => {}
                    }
                }
            }
            EntryKind::Ask { config: Some(ask), .. } => config_exprs(ask, out),
            EntryKind::Ask { config: None, .. }
            | EntryKind::Output { .. }
            | EntryKind::Undo { .. }
            | EntryKind::Default { .. }
            | EntryKind::OnReject { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::Item;

    #[test]
    fn finds_expressions_in_nested_statements_and_config() {
        let parsed = crate::parse(
            "flow f {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  loop max 2 {\n    step s = http POST \"/x\" {\n      connection c\n      body { a: prev(s)?.status ?? 0 }\n      undo { log \"{input.x}\" }\n    }\n  }\n}\n",
        );
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let Item::Flow(flow) = &parsed.file.items[0] else { panic!("a flow") };
        let mut names = Vec::new();
        for stmt in &flow.body {
            stmt.any_expr(&mut |e| {
                if let crate::ast::ExprKind::Name { name } = &e.kind {
                    names.push(name.clone());
                }
                false
            });
        }
        assert!(names.contains(&"prev".to_string()) || names.contains(&"s".to_string()), "{names:?}");
        assert!(names.contains(&"input".to_string()), "undo bodies are walked: {names:?}");
    }
}
