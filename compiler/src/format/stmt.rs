//! Statements, blocks and config entries.

use super::expr::{expr, template, type_expr, type_record};
use super::printer::Printer;
use weir_grammar::ast::*;

/// `flow slug { … }`.
pub(super) fn flow(p: &mut Printer<'_>, flow: &Flow) {
    p.begin_item(flow.span.start);
    p.write("flow ");
    p.write(&flow.name.name);
    p.write(" {");
    p.open_block(flow.name.span.end);
    for stmt in &flow.body {
        statement(p, stmt);
    }
    p.close_block(flow.span.end - 1, "}");
    p.end_item(flow.span.end);
}

fn block(p: &mut Printer<'_>, block: &Block) {
    p.write("{");
    p.open_block(block.span.start);
    for stmt in &block.stmts {
        statement(p, stmt);
    }
    p.close_block(block.span.end - 1, "}");
}

fn statement(p: &mut Printer<'_>, stmt: &Stmt) {
    p.begin_item(stmt.span.start);
    match &stmt.kind {
        StmtKind::Version { value } => {
            p.write("version ");
            template(p, value);
        }
        StmtKind::Description { value } => {
            p.write("description ");
            template(p, value);
        }
        StmtKind::Concurrency(Concurrency::Max { max, per, policy }) => {
            p.write("concurrency max ");
            expr(p, max);
            if let Some(per) = per {
                p.write(" per ");
                expr(p, per);
            }
            p.write(" ");
            p.write(&policy.name);
        }
        StmtKind::Concurrency(Concurrency::Unlimited { because }) => {
            p.write("concurrency unlimited because ");
            template(p, because);
        }
        StmtKind::Trigger(trigger) => {
            p.write("trigger ");
            match trigger {
                Trigger::Manual => p.write("manual"),
                Trigger::Schedule { cron, tz, with } => {
                    p.write("schedule ");
                    template(p, cron);
                    if let Some(tz) = tz {
                        p.write(" tz ");
                        template(p, tz);
                    }
                    with_clause(p, stmt.span.start, with);
                }
                Trigger::Webhook { path, verify, scheme, with } => {
                    p.write("webhook ");
                    template(p, path);
                    match verify {
                        Some(Verify::Hmac { key, .. }) => {
                            p.write(" verify hmac(");
                            expr(p, key);
                            p.write(")");
                        }
                        Some(Verify::None { because, .. }) => {
                            p.write(" verify none because ");
                            template(p, because);
                        }
                        None => {}
                    }
                    if let Some(scheme) = scheme {
                        p.write(" scheme ");
                        p.write(&scheme.name);
                    }
                    with_clause(p, stmt.span.start, with);
                }
            }
        }
        StmtKind::Input { fields } => {
            p.write("input ");
            type_record(p, fields);
        }
        StmtKind::Output { value } => {
            p.write("output ");
            expr(p, value);
        }
        StmtKind::TypeAlias { name, ty } => {
            p.write("type ");
            p.write(&name.name);
            p.write(" = ");
            type_expr(p, ty);
        }
        StmtKind::Const { name, value } => {
            p.write("const ");
            p.write(&name.name);
            p.write(" = ");
            expr(p, value);
        }
        StmtKind::Timeout { value } => {
            p.write("timeout ");
            expr(p, value);
        }
        StmtKind::OnFailure { var, body } => {
            p.write("on failure ");
            if let Some(var) = var {
                p.write(&var.name);
                p.write(" ");
            }
            block(p, body);
        }
        StmtKind::Step(step) => {
            p.write("step ");
            p.write(&step.name.name);
            p.write(" = ");
            step_call(p, &step.call);
            if let Some(config) = &step.config {
                p.write(" ");
                config_block(p, config);
            }
        }
        StmtKind::Callback { name, config } => {
            p.write("callback ");
            p.write(&name.name);
            p.write(" ");
            config_block(p, config);
        }
        StmtKind::Approval { name, config } => {
            p.write("approval ");
            p.write(&name.name);
            p.write(" ");
            config_block(p, config);
        }
        StmtKind::Parallel { body } => {
            p.write("parallel ");
            block(p, body);
        }
        StmtKind::Branch { body } => {
            p.write("branch ");
            block(p, body);
        }
        StmtKind::For { var, iter, parallel, body } => {
            p.write("for ");
            p.write(&var.name);
            p.write(" in ");
            expr(p, iter);
            if let Some(n) = parallel {
                p.write(" parallel ");
                expr(p, n);
            }
            p.write(" ");
            block(p, body);
        }
        StmtKind::If { arms, else_body } => {
            for (i, arm) in arms.iter().enumerate() {
                p.write(if i == 0 { "if " } else { " else if " });
                expr(p, &arm.cond);
                p.write(" ");
                block(p, &arm.body);
            }
            if let Some(body) = else_body {
                p.write(" else ");
                block(p, body);
            }
        }
        StmtKind::Loop { max, body } => {
            p.write("loop ");
            if let Some(max) = max {
                p.write("max ");
                expr(p, max);
                p.write(" ");
            }
            block(p, body);
        }
        StmtKind::Repeat { every, until, max, body } => {
            p.write("repeat every ");
            expr(p, every);
            p.write(" until ");
            expr(p, until);
            if let Some(max) = max {
                p.write(" max ");
                expr(p, max);
            }
            p.write(" ");
            block(p, body);
        }
        StmtKind::Break => p.write("break"),
        StmtKind::Continue => p.write("continue"),
        StmtKind::Try { body, var, catch } => {
            p.write("try ");
            block(p, body);
            p.write(" catch ");
            if let Some(var) = var {
                p.write(&var.name);
                p.write(" ");
            }
            block(p, catch);
        }
        StmtKind::Saga { body } => {
            p.write("saga ");
            block(p, body);
        }
        StmtKind::Fail { message, code } => {
            p.write("fail ");
            expr(p, message);
            if let Some(code) = code {
                p.write(" code ");
                expr(p, code);
            }
        }
        StmtKind::Return { value } => {
            p.write("return");
            if let Some(value) = value {
                p.write(" ");
                expr(p, value);
            }
        }
        StmtKind::Log { value } => {
            p.write("log ");
            expr(p, value);
        }
        StmtKind::Sleep { duration } => {
            p.write("sleep ");
            expr(p, duration);
        }
        StmtKind::Wait { target } => {
            p.write("wait ");
            wait_target(p, target);
        }
        StmtKind::Error(node) => {
            let text = p.source(node.span);
            p.write(text);
        }
    }
    p.end_item(stmt.span.end);
}

/// `with { … }`, on a continuation line when the author put it on one.
fn with_clause(p: &mut Printer<'_>, stmt_start: u32, with: &Option<Expr>) {
    if let Some(with) = with {
        let before = p.source(weir_diagnostics::Span::new(stmt_start as usize, with.span.start as usize));
        let keyword_line_start = before.trim_end().trim_end_matches("with").trim_end();
        if keyword_line_start.len() < before.len() && before[keyword_line_start.len()..].contains('\n') {
            p.continuation();
            p.write("with ");
        } else {
            p.write(" with ");
        }
        expr(p, with);
    }
}

fn step_call(p: &mut Printer<'_>, call: &StepCall) {
    match call {
        StepCall::Family { family, method, target, .. } => {
            p.write(&family.name);
            if let Some(method) = method {
                p.write(" ");
                p.write(&method.name);
            }
            if let Some(target) = target {
                p.write(" ");
                template(p, target);
            }
        }
        StepCall::Sleep { duration, .. } => {
            p.write("sleep ");
            expr(p, duration);
        }
        StepCall::Wait { target, .. } => {
            p.write("wait ");
            wait_target(p, target);
        }
        StepCall::Call { flow, version, .. } => {
            p.write("call ");
            p.write(&flow.name);
            if let Some(version) = version {
                p.write("@");
                p.write(&version.name);
            }
        }
    }
}

fn wait_target(p: &mut Printer<'_>, target: &WaitTarget) {
    match target {
        WaitTarget::Callback { name } => p.write(&name.name),
        WaitTarget::For { duration } => {
            p.write("for ");
            expr(p, duration);
        }
        WaitTarget::Until { time } => {
            p.write("until ");
            expr(p, time);
        }
    }
}

/// A config block: inline when it has one simple entry written on one line.
fn config_block(p: &mut Printer<'_>, config: &Config) {
    if config.entries.is_empty() && !p.is_multiline(config.span) {
        p.write("{}");
        return;
    }
    let inline = config.entries.len() == 1
        && !p.is_multiline(config.span)
        && !matches!(config.entries[0].kind, EntryKind::Undo { .. } | EntryKind::OnReject { .. });
    if inline {
        p.write("{ ");
        entry(p, &config.entries[0]);
        p.write(" }");
        return;
    }
    p.write("{");
    p.open_block(config.span.start);
    for e in &config.entries {
        p.begin_item(e.span.start);
        entry(p, e);
        p.end_item(e.span.end);
    }
    p.close_block(config.span.end - 1, "}");
}

fn entry(p: &mut Printer<'_>, entry: &ConfigEntry) {
    match &entry.kind {
        EntryKind::Plain { key, value } => {
            p.write(&key.name);
            p.write(" ");
            expr(p, value);
        }
        EntryKind::List { key, values } => {
            p.write(&key.name);
            p.write(" ");
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    p.write(", ");
                }
                expr(p, value);
            }
        }
        EntryKind::Output { ty } => {
            p.write("output ");
            type_expr(p, ty);
        }
        EntryKind::Input { fields } => {
            p.write("input ");
            type_record(p, fields);
        }
        EntryKind::Files { fields } => {
            p.write("files ");
            type_record(p, fields);
        }
        EntryKind::Retry(retry) => {
            p.write("retry ");
            expr(p, &retry.count);
            for (i, class) in retry.on.iter().enumerate() {
                p.write(if i == 0 { " on " } else { ", " });
                match class {
                    RetryClass::Word(word) => p.write(&word.name),
                    RetryClass::Quoted(quoted) => template(p, quoted),
                }
            }
            if let Some(backoff) = &retry.backoff {
                p.write(" backoff ");
                p.write(&backoff.kind.name);
                p.write("(");
                expr(p, &backoff.base);
                if let Some(max) = &backoff.max {
                    p.write(", max ");
                    expr(p, max);
                }
                p.write(")");
                if backoff.jitter {
                    p.write(" jitter");
                }
            }
        }
        EntryKind::Effect { class, because } => {
            p.write("effect ");
            p.write(&class.name);
            p.write(" because ");
            template(p, because);
        }
        EntryKind::Unattended { because } => {
            p.write("unattended because ");
            template(p, because);
        }
        EntryKind::Undo { always, body } => {
            p.write(if *always { "undo always " } else { "undo " });
            block(p, body);
        }
        EntryKind::Deciders(deciders) => {
            p.write("deciders ");
            for (i, decider) in deciders.who.iter().enumerate() {
                if i > 0 {
                    p.write(", ");
                }
                if let Some(kind) = &decider.kind {
                    p.write(&kind.name);
                    p.write(" ");
                }
                expr(p, &decider.name);
            }
            for rule in &deciders.rules {
                match rule {
                    DeciderRule::NotInitiator { .. } => p.write(" not initiator"),
                    DeciderRule::Exclude { who, .. } => {
                        p.write(" exclude ");
                        expr(p, who);
                    }
                    DeciderRule::Min { count, .. } => {
                        p.write(" min ");
                        expr(p, count);
                    }
                }
            }
        }
        EntryKind::Ask { connection, config } => {
            p.write("ask ");
            p.write(&connection.name);
            if let Some(config) = config {
                p.write(" ");
                config_block(p, config);
            }
        }
        EntryKind::Default { value } => {
            p.write("default ");
            p.write(&value.name);
        }
        EntryKind::OnReject { body } => {
            p.write("on reject ");
            block(p, body);
        }
    }
}
