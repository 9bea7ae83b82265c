//! Values weir cannot bound in size, passed whole into a step (design.md §3, payloads;
//! language.md "Bounded and unbounded values"; `unbounded-payload`).
//!
//! Unbounded are an ssh step's `stdout` and `stderr` without `max_output`, an http step's
//! `body` without `max_body` (unless its `output` is a `res<…>`: then the body is stored as a
//! resource), and a db step's `rows` without `limit`; and the whole output of such a step.
//! `bytes` exist only as `res<bytes>`, which is already the resource form.
//!
//! Such a value may reach another step's config (a body, a prompt, a command, a value, a
//! call's input, …) only as a resource or through a bounded read: a field or an element of
//! it (`page.body.next`, `found.rows[0]`), a number or a bool computed from it (`len(…)`),
//! or `to_res(…)`. Passing it whole, in a template, in a record or list, or through a
//! builtin that keeps its size (`lower`, `to_json`, …) is reported, naming the producer.

use rustc_hash::FxHashMap as HashMap;
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// Which bound a producer lacks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// ssh without `max_output`.
    MaxOutput,
    /// http without `max_body` (and a body that is not a resource).
    MaxBody,
    /// db without `limit`.
    Limit,
}

/// A step whose output has an unbounded part.
#[derive(Clone, Copy)]
struct Producer<'a> {
    /// The step's name.
    name: &'a Ident,
    /// The bound it lacks.
    missing: Missing,
}

impl Producer<'_> {
    /// The unbounded fields of its output.
    fn fields(&self) -> &'static [&'static str] {
        match self.missing {
            Missing::MaxOutput => &["stdout", "stderr"],
            Missing::MaxBody => &["body"],
            Missing::Limit => &["rows"],
        }
    }

    fn family(&self) -> &'static str {
        match self.missing {
            Missing::MaxOutput => "ssh",
            Missing::MaxBody => "http",
            Missing::Limit => "db",
        }
    }

    fn bound(&self) -> &'static str {
        match self.missing {
            Missing::MaxOutput => "max_output",
            Missing::MaxBody => "max_body",
            Missing::Limit => "limit",
        }
    }

    /// How to bound it, or pass it as a resource.
    fn help(&self) -> String {
        let name = &self.name.name;
        match self.missing {
            Missing::MaxOutput => format!(
                "bound it with `max_output N` on `{name}`; or have the command write a file, fetch it as a resource (`files {{ out: res<text> = \"/path\" }}`) and pass `{name}.out`, or a bounded read `read_text({name}.out, N)`"
            ),
            Missing::MaxBody => format!(
                "bound it with `max_body N` on `{name}`; or declare `output res<json>` (or `res<text>`) so the body is stored as a resource, and pass `{name}.body`, or a bounded read `read_text({name}.body, N)`"
            ),
            Missing::Limit => format!("bound it with `limit N` on `{name}`"),
        }
    }
}

/// Builtins whose result is as large as their argument.
const SIZE_KEEPING: &[&str] =
    &["lower", "upper", "trim", "replace", "split", "join", "to_json", "parse_json", "prev"];

/// Check one flow.
pub(super) fn check_flow(flow: &Flow) -> Vec<Diagnostic> {
    let mut checker = Checker { producers: HashMap::default(), out: Vec::new() };
    checker.stmts(&flow.body);
    checker.out
}

struct Checker<'a> {
    /// Steps whose output has an unbounded part, by name.
    producers: HashMap<&'a str, Producer<'a>>,
    out: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    fn stmts(&mut self, stmts: &'a [Stmt]) {
        for stmt in stmts {
            if let StmtKind::Step(step) = &stmt.kind {
                self.step(step);
            }
            for block in stmt.kind.handler_blocks().into_iter().chain(stmt.kind.blocks()) {
                self.stmts(&block.stmts);
            }
        }
    }

    fn step(&mut self, step: &'a Step) {
        let entries: &'a [ConfigEntry] = step.config.as_ref().map_or(&[], |c| &c.entries);
        let (kind, target) = match &step.call {
            StepCall::Family { family, target, .. } => (Some(family.name.as_str()), target.as_ref()),
            StepCall::Call { .. } => (Some("call"), None),
            StepCall::Sleep { .. } | StepCall::Wait { .. } => (None, None),
        };
        let Some(kind) = kind else { return };
        let place = |what: &str| format!("{what} of {kind} step `{}`", step.name.name);
        if !self.producers.is_empty() {
            if let Some(target) = target {
                for part in &target.parts {
                    if let TemplatePart::Hole { expr, .. } = part {
                        self.sink(expr, || place("the target"));
                    }
                }
            }
            for entry in entries {
                if let EntryKind::Plain { key, value } = &entry.kind
                    && key.name != "connection"
                {
                    self.sink(value, || place(&format!("`{}`", key.name)));
                }
            }
        }
        let has = |name: &str| {
            entries.iter().any(|e| matches!(&e.kind, EntryKind::Plain { key, .. } if key.name == name))
        };
        let res_output = entries
            .iter()
            .any(|e| matches!(&e.kind, EntryKind::Output { ty } if matches!(ty.kind, TypeKind::Res { .. })));
        let missing = match kind {
            "ssh" if !has("max_output") => Some(Missing::MaxOutput),
            "http" if !has("max_body") && !res_output => Some(Missing::MaxBody),
            "db" if !has("limit") => Some(Missing::Limit),
            _ => None,
        };
        if let Some(missing) = missing {
            self.producers.insert(&step.name.name, Producer { name: &step.name, missing });
        }
    }

    /// A value given to a step (at the place `place` names): report every unbounded part
    /// passed whole.
    fn sink(&mut self, value: &Expr, place: impl Fn() -> String) {
        let mut parts = Vec::new();
        self.unbounded(value, &mut parts);
        for (span, producer, path) in parts {
            let place = place();
            self.out.push(
                Diagnostic::new(
                    Code::UnboundedPayload,
                    span,
                    format!("`{path}` has no size bound and goes whole into {place}"),
                )
                .with_primary_label(format!(
                    "unbounded: {} without `{}`",
                    producer.family(),
                    producer.bound()
                ))
                .with_label(producer.name.span, format!("sets no `{}`", producer.bound()))
                .with_help(producer.help()),
            );
        }
    }

    /// The parts of `e` that are unbounded values passed whole: their spans, producers and
    /// how they read (`logs.stdout`).
    fn unbounded(&self, e: &Expr, out: &mut Vec<(Span, Producer<'a>, String)>) {
        match &e.kind {
            ExprKind::Name { name } => {
                if let Some(producer) = self.producers.get(name.as_str()) {
                    out.push((e.span, *producer, name.clone()));
                }
            }
            ExprKind::Field { base, name, .. } => {
                if let ExprKind::Name { name: step } = &base.kind
                    && let Some(producer) = self.producers.get(step.as_str())
                    && producer.fields().contains(&name.name.as_str())
                {
                    out.push((e.span, *producer, format!("{step}.{}", name.name)));
                }
            }
            ExprKind::Call { callee, args } => {
                if let ExprKind::Name { name } = &callee.kind
                    && SIZE_KEEPING.contains(&name.as_str())
                {
                    for arg in args {
                        self.unbounded(arg, out);
                    }
                }
            }
            ExprKind::String(template) => {
                for part in &template.parts {
                    if let TemplatePart::Hole { expr, .. } = part {
                        self.unbounded(expr, out);
                    }
                }
            }
            ExprKind::Record { fields } => {
                for field in fields {
                    self.unbounded(&field.value, out);
                }
            }
            ExprKind::List { items } => {
                for item in items {
                    self.unbounded(item, out);
                }
            }
            ExprKind::Binary { op: BinaryOp::Coalesce, lhs, rhs } => {
                self.unbounded(lhs, out);
                self.unbounded(rhs, out);
            }
            ExprKind::Paren { inner } => self.unbounded(inner, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use weir_diagnostics::Code;

    /// The `unbounded-payload` messages of a flow made of `body`.
    fn payloads(body: &str) -> Vec<String> {
        let text = format!(
            "flow wibble {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n{body}\n}}\n"
        );
        let (_, diagnostics) = crate::check::diagnose(text.as_bytes(), None);
        diagnostics.iter().filter(|d| d.code == Code::UnboundedPayload).map(|d| d.message.clone()).collect()
    }

    const LOGS: &str = "  step logs = ssh {\n    connection vm\n    command \"journalctl\"\n  }\n";

    #[test]
    fn whole_values_are_reported_and_parts_are_not() {
        let into = |value: &str| payloads(&format!("{LOGS}  step f = function {{ value {value} }}"));
        for whole in
            ["logs.stdout", "logs", "lower(logs.stderr)", "\"{logs.stdout}\"", "{ a: [logs.stdout] }"]
        {
            assert_eq!(into(whole).len(), 1, "{whole}");
        }
        for part in
            ["len(logs.stdout)", "logs.exit_code", "to_res(logs.stdout)", "contains(logs.stdout, \"x\")"]
        {
            assert!(into(part).is_empty(), "{part}");
        }
    }

    #[test]
    fn a_bound_or_a_resource_body_makes_it_bounded() {
        let call = |config: &str| {
            payloads(&format!(
                "  step page = http GET \"/p\" {{\n    connection api\n{config}  }}\n  step f = function {{ value page.body }}"
            ))
        };
        assert_eq!(call("").len(), 1);
        assert!(call("    max_body 100\n").is_empty());
        assert!(call("    output res<json>\n").is_empty());
    }
}
