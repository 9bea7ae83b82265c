//! Structural checks of failure paths and concurrency policy (design.md §3; the guards
//! themselves come with the dominance analysis): every approval and callback has a timeout,
//! every approval a default, every loop a bound, fan-out is bounded, sagas compensate,
//! retried writes carry idempotency keys where the protocol has them, nothing follows a
//! `fail` or `return`, and a flow says its concurrency. Triggers are checked in `triggers.rs`,
//! concurrency keys and parallel kv writes in `concurrency.rs`.

use crate::families;
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// Check one flow.
pub(super) fn check_flow(flow: &Flow) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut callbacks = Vec::new();
    callback_names(&flow.body, &mut callbacks);
    human_facing(&flow.body, &callbacks, &mut out);
    let ranged_inputs = ranged_inputs(flow);
    if !flow.body.iter().any(|s| matches!(s.kind, StmtKind::Concurrency(_))) {
        out.push(
            Diagnostic::new(Code::MissingConcurrency, flow.name.span, format!("flow `{}` says nothing about concurrency", flow.name.name))
                .with_primary_label("no `concurrency` statement")
                .with_help("add `concurrency max N [per input.KEY] queue|skip|cancel-previous`, or `concurrency unlimited because \"…\"`"),
        );
    }
    block(&flow.body, &ranged_inputs, &mut out);
    out
}

/// Names of every callback of the flow.
fn callback_names<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a str>) {
    for stmt in stmts {
        if let StmtKind::Callback { name, .. } = &stmt.kind {
            out.push(&name.name);
        }
        for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
            callback_names(&block.stmts, out);
        }
    }
}

/// A callback's URL is a single-use capability for a worker: it must not reach a message
/// people read (an approval's summary, an `ask` message, a notification, run history).
fn human_facing(stmts: &[Stmt], callbacks: &[&str], out: &mut Vec<Diagnostic>) {
    for stmt in stmts {
        let mut check = |value: &Expr, place: &str| {
            if let Some(span) = callback_url(value, callbacks) {
                out.push(
                    Diagnostic::new(Code::CallbackUrlInMessage, span, format!("a callback URL is put into {place}"))
                        .with_primary_label("single-use URL for a worker")
                        .with_help("hand the URL only to the worker (an ssh command, an http body); whoever holds it can complete the wait"),
                );
            }
        };
        match &stmt.kind {
            StmtKind::Log { value } => check(value, "run history"),
            StmtKind::Approval { config, .. } => {
                for entry in &config.entries {
                    match &entry.kind {
                        EntryKind::Plain { key, value }
                            if key.name == "summary" || key.name == "description" =>
                        {
                            check(value, "an approval's summary")
                        }
                        EntryKind::Ask { config: Some(ask), .. } => {
                            for e in &ask.entries {
                                if let EntryKind::Plain { value, .. } = &e.kind {
                                    check(value, "an approval's message to deciders");
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            StmtKind::Step(step) => {
                if let StepCall::Family { family, .. } = &step.call
                    && family.name == "notify"
                {
                    for entry in step.config.iter().flat_map(|c| &c.entries) {
                        if let EntryKind::Plain { key, value } = &entry.kind
                            && matches!(key.name.as_str(), "text" | "subject")
                        {
                            check(value, "a notification");
                        }
                    }
                }
            }
            _ => {}
        }
        for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
            human_facing(&block.stmts, callbacks, out);
        }
    }
}

/// The span of the first `CALLBACK.url` in an expression (template holes included).
fn callback_url(e: &Expr, callbacks: &[&str]) -> Option<Span> {
    match &e.kind {
        ExprKind::Field { base, name, .. } => match &base.kind {
            ExprKind::Name { name: root } if name.name == "url" && callbacks.contains(&root.as_str()) => {
                Some(e.span)
            }
            _ => callback_url(base, callbacks),
        },
        ExprKind::String(t) => t.parts.iter().find_map(|p| match p {
            TemplatePart::Hole { expr, .. } => callback_url(expr, callbacks),
            TemplatePart::Text { .. } => None,
        }),
        ExprKind::Record { fields } => fields.iter().find_map(|f| callback_url(&f.value, callbacks)),
        ExprKind::List { items } => items.iter().find_map(|i| callback_url(i, callbacks)),
        ExprKind::Binary { lhs, rhs, .. } => {
            callback_url(lhs, callbacks).or_else(|| callback_url(rhs, callbacks))
        }
        ExprKind::Call { args, .. } => args.iter().find_map(|a| callback_url(a, callbacks)),
        ExprKind::Paren { inner } | ExprKind::Unary { operand: inner, .. } => callback_url(inner, callbacks),
        _ => None,
    }
}

/// Inputs declared `int in LOW..HIGH`: the only inputs a fan-out bound may come from.
fn ranged_inputs(flow: &Flow) -> Vec<&str> {
    flow.body
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Input { fields } => Some(fields.fields.iter()),
            _ => None,
        })
        .flatten()
        .filter(|f| matches!(f.ty.kind, TypeKind::Range { .. }))
        .map(|f| f.key.name.as_str())
        .collect()
}

fn block(stmts: &[Stmt], ranged: &[&str], out: &mut Vec<Diagnostic>) {
    let mut ended: Option<&Stmt> = None;
    for stmt in stmts {
        if let Some(end) = ended {
            out.push(
                Diagnostic::new(Code::UnreachableCode, stmt.span, "this statement can never run")
                    .with_primary_label("unreachable")
                    .with_label(end.span, "control never gets past this")
                    .with_help("remove it, or move it above"),
            );
            break;
        }
        statement(stmt, ranged, out);
        if matches!(
            stmt.kind,
            StmtKind::Fail { .. } | StmtKind::Return { .. } | StmtKind::Break | StmtKind::Continue
        ) {
            ended = Some(stmt);
        }
    }
}

fn statement(stmt: &Stmt, ranged: &[&str], out: &mut Vec<Diagnostic>) {
    match &stmt.kind {
        StmtKind::Step(step) => step_checks(step, out),
        StmtKind::Approval { name, config } => {
            if !has_plain(config, "timeout") {
                out.push(missing_timeout(
                    name,
                    "approval",
                    "an approval waits for people: say how long, then its `default` decides",
                ));
            }
            if !config.entries.iter().any(|e| matches!(e.kind, EntryKind::Default { .. })) {
                out.push(
                    Diagnostic::new(
                        Code::MissingDefault,
                        name.span,
                        format!("approval `{}` has no `default`", name.name),
                    )
                    .with_primary_label("no `default approve|reject`")
                    .with_help("add `default reject` (what happens when nobody decides in time)"),
                );
            }
        }
        StmtKind::Callback { name, config } if !has_plain(config, "timeout") => {
            out.push(missing_timeout(name, "callback", "a worker may never call back: say how long to wait"));
        }
        StmtKind::Loop { max: None, .. } => out.push(unbounded_loop(stmt.span, "loop")),
        StmtKind::Repeat { max: None, .. } => out.push(unbounded_loop(stmt.span, "repeat")),
        StmtKind::For { parallel: Some(n), .. } if !bounded(n, ranged) => out.push(
            Diagnostic::new(Code::UnboundedFanOut, n.span, "this fan-out has no bound weir can see")
                .with_primary_label("not a literal or a range-typed input")
                .with_help(
                    "write a literal (`parallel 4`) or an input declared with a range (`n: int in 1..20`)",
                ),
        ),
        StmtKind::Saga { body } => saga(body, out),
        _ => {}
    }
    for inner in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
        block(&inner.stmts, ranged, out);
    }
}

fn step_checks(step: &Step, out: &mut Vec<Diagnostic>) {
    let entries: &[ConfigEntry] = step.config.as_ref().map_or(&[], |c| &c.entries);
    let StepCall::Family { family, method, .. } = &step.call else { return };
    let Some(schema) = families::family(&family.name) else { return };
    let key = entries.iter().find_map(|e| match &e.kind {
        EntryKind::Plain { key, .. } if key.name == "idempotency_key" => Some(key),
        _ => None,
    });
    if let Some(key) = key
        && !schema.idempotency_key
    {
        out.push(
            Diagnostic::new(
                Code::IdempotencyKeyUnsupported,
                key.span,
                format!(
                    "the `{}` protocol has no idempotency key, so this one would be ignored",
                    schema.name
                ),
            )
            .with_primary_label("never sent")
            .with_help("remove it; weir retries such a step only after a failure known to precede delivery"),
        );
    }
    let retried = entries.iter().any(|e| matches!(e.kind, EntryKind::Retry(_)));
    // `effect read because "…"` (a search that is a POST) is what counts.
    let declared = entries.iter().find_map(|e| match &e.kind {
        EntryKind::Effect { class, .. } => match class.name.as_str() {
            "pure" => Some(families::Effect::Pure),
            "read" => Some(families::Effect::Read),
            "write" => Some(families::Effect::Write),
            _ => Some(families::Effect::Irreversible),
        },
        _ => None,
    });
    let effect = declared.unwrap_or_else(|| schema.effect_of(method.as_ref().map(|m| m.name.as_str())));
    if retried && key.is_none() && schema.idempotency_key && effect >= families::Effect::Write {
        out.push(
            Diagnostic::new(
                Code::RetryWithoutIdempotencyKey,
                step.name.span,
                format!("step `{}` retries a {} without an idempotency key", step.name.name, effect.as_str()),
            )
            .with_primary_label("a retry may apply it twice")
            .with_help("add `idempotency_key \"{run.id}-NAME\"` so the server applies it once"),
        );
    }
}

/// In a saga, every write or irreversible step but the last has an `undo`.
fn saga(body: &Block, out: &mut Vec<Diagnostic>) {
    let steps: Vec<&Step> = body
        .stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Step(step) => Some(step),
            _ => None,
        })
        .collect();
    let Some((_, rest)) = steps.split_last() else { return };
    for step in rest {
        let StepCall::Family { family, method, .. } = &step.call else { continue };
        let Some(schema) = families::family(&family.name) else { continue };
        let effect = schema.effect_of(method.as_ref().map(|m| m.name.as_str()));
        let has_undo =
            step.config.iter().flat_map(|c| &c.entries).any(|e| matches!(e.kind, EntryKind::Undo { .. }));
        if effect >= families::Effect::Write && !has_undo {
            out.push(
                Diagnostic::new(
                    Code::SagaStepWithoutUndo,
                    step.name.span,
                    format!("step `{}` in this saga changes the world but has no `undo`", step.name.name),
                )
                .with_primary_label("nothing to compensate with")
                .with_help("add `undo { … }` (or `undo always { … }` when the outcome may be unknown)"),
            );
        }
    }
}

fn bounded(n: &Expr, ranged: &[&str]) -> bool {
    match &n.kind {
        ExprKind::Int { .. } => true,
        ExprKind::Field { base, name, .. } => {
            matches!(&base.kind, ExprKind::Name { name: root } if root == "input")
                && ranged.contains(&name.name.as_str())
        }
        _ => false,
    }
}

fn has_plain(config: &Config, key: &str) -> bool {
    config.entries.iter().any(|e| matches!(&e.kind, EntryKind::Plain { key: k, .. } if k.name == key))
}

fn missing_timeout(name: &Ident, what: &str, why: &str) -> Diagnostic {
    Diagnostic::new(Code::MissingTimeout, name.span, format!("{what} `{}` has no `timeout`", name.name))
        .with_primary_label("waits forever")
        .with_help(format!("add `timeout 24h` (or another bound): {why}"))
}

fn unbounded_loop(span: Span, what: &str) -> Diagnostic {
    let head = Span::new(span.start as usize, span.start as usize + what.len());
    Diagnostic::new(Code::UnboundedLoop, head, format!("this `{what}` has no `max`"))
        .with_primary_label("may run forever")
        .with_help(format!("bound it: `{what} … max 10`; running out of iterations fails with `exhausted`"))
}
