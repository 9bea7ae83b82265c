//! Concurrency checks (design.md §3, concurrency; language.md "Flows, triggers, concurrency"):
//! a `concurrency … per KEY` key reads only the flow's `input`, and no two branches of a
//! `parallel` (or iterations of a `for … parallel N`) may write one kv key at the same time.
//!
//! A key groups runs before they start, so it can read only what a run starts with: `input`,
//! literals, consts (whose own values follow the same rule) and pure builtins over them. Steps,
//! `run.*`, `now()`, `uuid()` and secrets are refused: they are unknown when the run is queued,
//! or differ for every run, which makes the limit a no-op.
//!
//! Two kv keys are provably distinct when they differ in their literal text before their first
//! hole or after their last one (`"a/{x}"` and `"b/{x}"`); in a parallel `for`, a key that
//! mentions the loop variable counts as one key per iteration.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// What a key expression's names may refer to.
struct KeyScope<'a> {
    /// The flow's consts and their values.
    consts: HashMap<&'a str, &'a Expr>,
    /// Steps, approvals and callbacks, at any depth: values that exist only during the run.
    produced: HashSet<&'a str>,
}

/// A `kv set` or `kv delete` step and its key.
struct KvWrite<'a> {
    step: &'a Step,
    key: &'a Template,
}

/// Check one flow.
pub(super) fn check_flow(flow: &Flow) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let consts = flow
        .body
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Const { name, value } => Some((name.name.as_str(), value)),
            _ => None,
        })
        .collect();
    let mut produced = HashSet::default();
    produced_names(&flow.body, &mut produced);
    let scope = KeyScope { consts, produced };
    for stmt in &flow.body {
        if let StmtKind::Concurrency(Concurrency::Max { per: Some(key), .. }) = &stmt.kind {
            let mut reads = Vec::new();
            key_reads(key, &scope, &mut Vec::new(), &mut reads);
            if let Some(((span, what, why), rest)) = reads.split_first() {
                let mut diagnostic = Diagnostic::new(
                    Code::ConcurrencyKeyNotInput,
                    *span,
                    format!("the concurrency key reads {what}, not the flow's input"),
                )
                .with_primary_label(why.clone());
                for (span, _, why) in rest {
                    diagnostic = diagnostic.with_label(*span, why.clone());
                }
                out.push(diagnostic.with_help(
                    "a key groups runs before they start, so it may read only `input` (`per input.repo`)",
                ));
            }
        }
    }
    parallel_writes(&flow.body, &mut out);
    out
}

/// What in a key expression is not the input: `(span, what, why)`.
fn key_reads<'a>(
    e: &'a Expr,
    scope: &KeyScope<'a>,
    visiting: &mut Vec<&'a str>,
    out: &mut Vec<(Span, String, String)>,
) {
    match &e.kind {
        ExprKind::Name { name } if name == "input" => {}
        ExprKind::Name { name } if name == "run" => {
            out.push((e.span, "`run`".into(), "different for every run".into()));
        }
        ExprKind::Field { base, name, .. } if matches!(&base.kind, ExprKind::Name { name } if name == "run") =>
        {
            out.push((e.span, format!("`run.{}`", name.name), "different for every run".into()));
        }
        ExprKind::Name { name } => match scope.consts.get(name.as_str()) {
            Some(value) if !visiting.contains(&name.as_str()) => {
                visiting.push(name);
                let before = out.len();
                key_reads(value, scope, visiting, out);
                visiting.pop();
                // Point at the const's use, saying what its value reads.
                let first = out.drain(before..).next();
                if let Some((_, what, why)) = first {
                    out.push((e.span, format!("const `{name}`"), format!("`{name}` reads {what}: {why}")));
                }
            }
            Some(_) => {}
            None if scope.produced.contains(name.as_str()) => {
                out.push((e.span, format!("`{name}`"), "known only once the run has started".into()))
            }
            // Anything else is an unknown name, which names.rs reports.
            None => {}
        },
        ExprKind::Secret { .. } => {
            out.push((e.span, "a secret".into(), "a key is shown with the run".into()))
        }
        ExprKind::Call { callee, args } => {
            match &callee.kind {
                ExprKind::Name { name } if name == "now" || name == "uuid" => {
                    out.push((e.span, format!("`{name}()`"), "different for every run".into()));
                }
                ExprKind::Name { .. } => {}
                _ => key_reads(callee, scope, visiting, out),
            }
            for arg in args {
                key_reads(arg, scope, visiting, out);
            }
        }
        ExprKind::String(template) => {
            for part in &template.parts {
                if let TemplatePart::Hole { expr, .. } = part {
                    key_reads(expr, scope, visiting, out);
                }
            }
        }
        ExprKind::Field { base, .. } => key_reads(base, scope, visiting, out),
        ExprKind::Index { base, index } => {
            key_reads(base, scope, visiting, out);
            key_reads(index, scope, visiting, out);
        }
        ExprKind::Unary { operand: inner, .. } | ExprKind::Paren { inner } => {
            key_reads(inner, scope, visiting, out)
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            key_reads(lhs, scope, visiting, out);
            key_reads(rhs, scope, visiting, out);
        }
        ExprKind::List { items } => items.iter().for_each(|i| key_reads(i, scope, visiting, out)),
        ExprKind::Record { fields } => fields.iter().for_each(|f| key_reads(&f.value, scope, visiting, out)),
        ExprKind::Int { .. }
        | ExprKind::Float { .. }
        | ExprKind::Duration { .. }
        | ExprKind::Bool { .. }
        | ExprKind::None
        | ExprKind::Error => {}
    }
}

/// The names of every step, approval and callback, at any depth.
fn produced_names<'a>(stmts: &'a [Stmt], out: &mut HashSet<&'a str>) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Step(step) => {
                out.insert(&step.name.name);
            }
            StmtKind::Approval { name, .. } | StmtKind::Callback { name, .. } => {
                out.insert(&name.name);
            }
            _ => {}
        }
        for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
            produced_names(&block.stmts, out);
        }
    }
}

/// Every `parallel` and `for … parallel N` of a block, at any depth.
fn parallel_writes(stmts: &[Stmt], out: &mut Vec<Diagnostic>) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Parallel { body } => {
                let branches: Vec<Vec<KvWrite>> = body
                    .stmts
                    .iter()
                    .map(|branch| {
                        let mut writes = Vec::new();
                        kv_writes(std::slice::from_ref(branch), &mut writes);
                        writes
                    })
                    .collect();
                for (i, branch) in branches.iter().enumerate() {
                    for write in branch {
                        let earlier = branches[..i].iter().flatten().find(|w| !distinct(w.key, write.key));
                        if let Some(earlier) = earlier {
                            out.push(
                                Diagnostic::new(
                                    Code::ParallelKvWrite,
                                    write.key.span,
                                    format!(
                                        "steps `{}` and `{}` may write the same kv key at the same time",
                                        earlier.step.name.name, write.step.name.name
                                    ),
                                )
                                .with_primary_label("written here")
                                .with_label(earlier.key.span, "and here, in another branch of the same `parallel`")
                                .with_help("make the keys differ in their literal text (`\"a/{…}\"`, `\"b/{…}\"`), or write after the `parallel`"),
                            );
                        }
                    }
                }
            }
            StmtKind::For { var, parallel: Some(_), body, .. } => {
                let mut writes = Vec::new();
                kv_writes(&body.stmts, &mut writes);
                for write in writes.iter().filter(|w| !mentions(w.key, &var.name)) {
                    out.push(
                        Diagnostic::new(
                            Code::ParallelKvWrite,
                            write.key.span,
                            format!(
                                "step `{}` writes the same kv key from iterations that run at the same time",
                                write.step.name.name
                            ),
                        )
                        .with_primary_label(format!("does not mention `{}`", var.name))
                        .with_label(var.span, "iterations of this parallel `for` run at once")
                        .with_help(format!(
                            "put the loop variable in the key (`\"…/{{{}}}\"`), or drop `parallel`",
                            var.name
                        )),
                    );
                }
            }
            _ => {}
        }
        for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
            parallel_writes(&block.stmts, out);
        }
    }
}

/// Every kv write in these statements, at any depth (handlers included).
fn kv_writes<'a>(stmts: &'a [Stmt], out: &mut Vec<KvWrite<'a>>) {
    for stmt in stmts {
        if let StmtKind::Step(step) = &stmt.kind
            && let StepCall::Family { family, method: Some(method), target: Some(key), .. } = &step.call
            && family.name == "kv"
            && (method.name == "set" || method.name == "delete")
        {
            out.push(KvWrite { step, key });
        }
        for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
            kv_writes(&block.stmts, out);
        }
    }
}

/// True when no value of the holes can make the two keys equal.
fn distinct(a: &Template, b: &Template) -> bool {
    if let (Some(a), Some(b)) = (a.as_plain(), b.as_plain()) {
        return a != b;
    }
    let (head_a, head_b) = (literal_end(a, false), literal_end(b, false));
    let (tail_a, tail_b) = (literal_end(a, true), literal_end(b, true));
    head_a.chars().zip(head_b.chars()).any(|(x, y)| x != y)
        || tail_a.chars().rev().zip(tail_b.chars().rev()).any(|(x, y)| x != y)
}

/// The literal text before a template's first hole (or after its last one, `tail`).
fn literal_end(t: &Template, tail: bool) -> String {
    let mut parts: Vec<&TemplatePart> = t.parts.iter().collect();
    if tail {
        parts.reverse();
    }
    let mut text: Vec<&str> = Vec::new();
    for part in parts {
        match part {
            TemplatePart::Text { value, .. } => text.push(value),
            TemplatePart::Hole { .. } => break,
        }
    }
    if tail {
        text.reverse();
    }
    text.concat()
}

/// True when a hole of the key reads the name.
fn mentions(key: &Template, name: &str) -> bool {
    key.parts.iter().any(|p| matches!(p, TemplatePart::Hole { expr, .. } if reads(expr, name)))
}

fn reads(e: &Expr, name: &str) -> bool {
    match &e.kind {
        ExprKind::Name { name: n } => n == name,
        ExprKind::String(t) => mentions(t, name),
        ExprKind::Field { base, .. } => reads(base, name),
        ExprKind::Index { base, index } => reads(base, name) || reads(index, name),
        ExprKind::Call { callee, args } => reads(callee, name) || args.iter().any(|a| reads(a, name)),
        ExprKind::Unary { operand: inner, .. } | ExprKind::Paren { inner } => reads(inner, name),
        ExprKind::Binary { lhs, rhs, .. } => reads(lhs, name) || reads(rhs, name),
        ExprKind::List { items } => items.iter().any(|i| reads(i, name)),
        ExprKind::Record { fields } => fields.iter().any(|f| reads(&f.value, name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(src: &str) -> Vec<(Code, String)> {
        let parsed = weir_grammar::parse(src);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let Item::Flow(flow) = &parsed.file.items[0] else { panic!("no flow") };
        check_flow(flow).into_iter().map(|d| (d.code, d.message)).collect()
    }

    fn flow(concurrency: &str, body: &str) -> String {
        format!(
            "flow wibble {{\n  version \"1.0.0\"\n  {concurrency}\n  trigger manual\n  input {{ a: string, xs: list<string> }}\n  const wobble = \"w-{{input.a}}\"\n  const late = \"{{run.id}}\"\n  step first = function {{ value 1 }}\n{body}\n}}\n"
        )
    }

    #[test]
    fn keys_read_only_the_input() {
        for ok in ["input.a", "\"{input.a}/{len(input.xs)}\"", "wobble", "lower(input.a)"] {
            let src = flow(&format!("concurrency max 1 per {ok} queue"), "");
            assert_eq!(codes(&src), vec![], "{ok}");
        }
        for bad in ["run.id", "now()", "uuid()", "late", "\"{input.a}-{run.id}\"", "first.value"] {
            let src = flow(&format!("concurrency max 1 per {bad} queue"), "");
            let found = codes(&src);
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert_eq!(found[0].0, Code::ConcurrencyKeyNotInput, "{bad}");
        }
    }

    #[test]
    fn distinct_keys() {
        let key = |text: &str| {
            let parsed = weir_grammar::parse(&format!("flow w {{ const k = {text} }}"));
            let Item::Flow(flow) = &parsed.file.items[0] else { panic!() };
            let StmtKind::Const { value, .. } = &flow.body[0].kind else { panic!() };
            let ExprKind::String(t) = &value.kind else { panic!() };
            t.clone()
        };
        assert!(distinct(&key("\"a\""), &key("\"b\"")));
        assert!(!distinct(&key("\"a\""), &key("\"a\"")));
        assert!(distinct(&key("\"a/{x}\""), &key("\"b/{x}\"")));
        assert!(distinct(&key("\"{x}/one\""), &key("\"{x}/two\"")));
        assert!(!distinct(&key("\"a/{x}\""), &key("\"a/{y}\"")));
        assert!(!distinct(&key("\"a/{x}\""), &key("\"a/b\"")));
        assert!(distinct(&key("\"a/{x}\""), &key("\"b/c\"")));
    }
}
