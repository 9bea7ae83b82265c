//! The effect class of every step (language.md, "Effects and who must look first"), with the
//! reason for it, every `effect … because` override and every `unattended` step. Guards are
//! proved on top of this (issue 6); `weir check --explain` prints it.

use crate::families::{self, Effect, sql_effect};
use crate::interface::Library;
use serde::Serialize;
use weir_config::Config as Project;
use weir_diagnostics::Span;
use weir_grammar::ast::*;

/// One step's effect and why.
#[derive(Clone, Debug, Serialize)]
pub struct StepEffect {
    /// The step's name.
    pub step: String,
    /// Where the step's name is.
    pub span: Span,
    /// The effect that counts (after any override).
    pub effect: Effect,
    /// Why, in words (`http DELETE`, `connection deployer is irreversible`, …).
    pub reason: String,
    /// The class before an `effect … because` override, when there is one.
    pub overridden_from: Option<Effect>,
    /// The override's reason.
    pub override_because: Option<String>,
    /// Why the step needs no guard, from `unattended because` or its connection.
    pub unattended: Option<String>,
    /// True for producers: where outside data enters (reads, writes, irreversible steps,
    /// callback waits and calls).
    pub producer: bool,
    /// True for a `call` of another flow.
    pub calls: bool,
}

/// The effects of every step of a flow, in source order (steps in undo and on-reject
/// blocks included).
pub fn flow_effects(flow: &Flow, config: Option<&Project>) -> Vec<StepEffect> {
    flow_effects_with(flow, config, None)
}

/// [`flow_effects`], with `call`s taking the strongest class among the called flow's steps
/// that no approval of its own guards.
pub fn flow_effects_with(
    flow: &Flow,
    config: Option<&Project>,
    library: Option<&Library<'_>>,
) -> Vec<StepEffect> {
    let mut out = Vec::new();
    collect(&flow.body, &Ctx { config, library, depth: 0 }, &mut out);
    out
}

/// What effect computation needs besides the tree.
struct Ctx<'c, 'l> {
    config: Option<&'c Project>,
    library: Option<&'c Library<'l>>,
    /// Nesting of calls followed, against call cycles.
    depth: usize,
}

fn collect(stmts: &[Stmt], ctx: &Ctx<'_, '_>, out: &mut Vec<StepEffect>) {
    for stmt in stmts {
        if let StmtKind::Step(step) = &stmt.kind {
            out.push(step_effect(step, ctx));
        }
        for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
            collect(&block.stmts, ctx, out);
        }
    }
}

fn step_effect(step: &Step, ctx: &Ctx<'_, '_>) -> StepEffect {
    let config = ctx.config;
    let entries: &[ConfigEntry] = step.config.as_ref().map_or(&[], |c| &c.entries);
    let plain = |key: &str| {
        entries.iter().find_map(|e| match &e.kind {
            EntryKind::Plain { key: k, value } if k.name == key => Some(value),
            _ => None,
        })
    };
    let connection_name = plain("connection").and_then(|v| match &v.kind {
        ExprKind::Name { name } => Some(name.clone()),
        _ => None,
    });
    let connection = connection_name.as_deref().and_then(|n| config.and_then(|c| c.connections.get(n)));
    let (mut effect, mut reason, producer) = match &step.call {
        StepCall::Family { family, method, .. } => match families::family(&family.name) {
            Some(schema) if schema.name == "db" => {
                let sql = plain("query").and_then(|q| match &q.kind {
                    ExprKind::String(t) => t.parts.iter().find_map(|p| match p {
                        TemplatePart::Text { value, .. } => Some(value.clone()),
                        TemplatePart::Hole { .. } => None,
                    }),
                    _ => None,
                });
                match sql {
                    Some(sql) => {
                        let verb = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                        (sql_effect(&sql), format!("db {verb}"), true)
                    }
                    None => (Effect::Irreversible, "db with a query weir cannot read".to_string(), true),
                }
            }
            Some(schema) => {
                let method_name = method.as_ref().map(|m| m.name.as_str());
                let effect = schema.effect_of(method_name);
                let reason = match method_name {
                    Some(m) => format!("{} {m}", schema.name),
                    None => schema.name.to_string(),
                };
                (effect, reason, effect != Effect::Pure)
            }
            None => (Effect::Write, format!("unknown family `{}`", family.name), true),
        },
        StepCall::Sleep { .. } => (Effect::Pure, "sleep".to_string(), false),
        StepCall::Wait { target: WaitTarget::Callback { name }, .. } => {
            (Effect::Pure, format!("waits for callback `{}`", name.name), true)
        }
        StepCall::Wait { .. } => (Effect::Pure, "durable timer".to_string(), false),
        StepCall::Call { flow, version, .. } => {
            let callee = ctx
                .library
                .filter(|_| ctx.depth < 8)
                .and_then(|l| l.resolve(&flow.name, version.as_ref().map(|v| v.name.as_str())).ok());
            match callee {
                Some(callee) => {
                    let inner = Ctx { config: ctx.config, library: ctx.library, depth: ctx.depth + 1 };
                    let mut steps = Vec::new();
                    collect(&callee.flow().body, &inner, &mut steps);
                    // Steps the callee guards with its own approval do not count.
                    let approved = crate::check::guards::approved_steps(callee.flow());
                    steps.retain(|s| !approved.contains(&s.step));
                    match steps.iter().max_by_key(|s| s.effect) {
                        Some(strongest) => (
                            strongest.effect,
                            format!(
                                "calls `{}`, whose strongest unguarded step `{}` is {}",
                                flow.name,
                                strongest.step,
                                strongest.effect.as_str()
                            ),
                            true,
                        ),
                        None => (
                            Effect::Pure,
                            format!("calls `{}`, which has no unguarded steps", flow.name),
                            true,
                        ),
                    }
                }
                None => {
                    (Effect::Write, format!("calls `{}` (not resolved: counted as write)", flow.name), true)
                }
            }
        }
    };
    if let Some(connection) = connection
        && connection.irreversible
        && effect != Effect::Irreversible
    {
        effect = Effect::Irreversible;
        reason = format!("{reason} through connection `{}`, declared irreversible", connection.name);
    }
    let mut overridden_from = None;
    let mut override_because = None;
    let mut unattended =
        connection.and_then(|c| c.unattended.clone().map(|r| format!("connection `{}`: {r}", c.name)));
    for entry in entries {
        match &entry.kind {
            EntryKind::Effect { class, because } => {
                if let Some(declared) = parse_effect(&class.name) {
                    overridden_from = Some(effect);
                    override_because = because.as_plain();
                    effect = declared;
                }
            }
            EntryKind::Unattended { because } => unattended = because.as_plain().or(Some(String::new())),
            _ => {}
        }
    }
    StepEffect {
        step: step.name.name.clone(),
        span: step.name.span,
        effect,
        reason,
        overridden_from,
        override_because,
        unattended,
        producer,
        calls: matches!(step.call, StepCall::Call { .. }),
    }
}

fn parse_effect(word: &str) -> Option<Effect> {
    Some(match word {
        "pure" => Effect::Pure,
        "read" => Effect::Read,
        "write" => Effect::Write,
        "irreversible" => Effect::Irreversible,
        _ => return None,
    })
}
