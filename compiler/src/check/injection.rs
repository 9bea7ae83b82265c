//! Untrusted text reaching a place that interprets it (design.md §3, injection):
//! `injection-risk` when text from outside the project reaches an ssh command, SQL text, an
//! http step's URL or a header without the quoting builtin for that place, and
//! `sql-template-hole` for any `{…}` hole in SQL text (values go in `params`).
//!
//! Untrusted ("tainted") are the values of type string, text or json that come from:
//! - the flow's `input` when the flow has a webhook trigger (anyone who can reach the hook
//!   chooses it; a manual run is started by someone allowed to run the flow, and schedule
//!   inputs are written in the flow, so those inputs are trusted);
//! - an llm step's output (the model repeats what it read), a callback's payload (`wait
//!   NAME`: the worker posts it), a search step's results (third-party pages);
//! - a caught error (`catch e`, `on failure e`: its message may quote a worker or a server);
//! - anything computed from those: consts, function steps, loop variables, templates,
//!   builtins (except the quoting ones).
//!
//! Responses of http and db steps, values read from kv and a `call`'s output are trusted:
//! they come from systems the project configured, or from a flow that is checked itself.
//! (A flow that is only `call`ed trusts its inputs as its own triggers say; what a caller
//! passes in is not followed across the call.)
//!
//! A value is safe in a place when its type is narrow (a literal union, a number, a bool, a
//! duration, a time, or lists and records of those), or when it went through the builtin
//! that quotes for that place: `quote_shell` for an ssh command, `url_encode` for a URL and
//! for a header (percent-encoding leaves no line break in a header). SQL text has no quoting
//! builtin: it takes parameters only.

use super::types::expression_types;
use crate::interface::Library;
use crate::types::Type;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// A place that interprets text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// An ssh step's `command`: a POSIX shell command line.
    Shell,
    /// An http step's target: a URL path and query.
    Url,
    /// An http header value (also `idempotency_key`, sent as `Idempotency-Key`).
    Header,
    /// A db step's `query`.
    Sql,
}

impl Sink {
    /// The bit of [`Taint::safe_for`] that quoting for this place sets.
    fn bit(self) -> u8 {
        match self {
            Sink::Shell => 1,
            Sink::Url => 2,
            Sink::Header => 4,
            Sink::Sql => 8,
        }
    }
}

/// Where untrusted text comes from, for the message.
#[derive(Clone, Debug)]
struct Source {
    /// "webhook input `input.repo`", "the output of llm step `plan`".
    what: String,
    /// Where it enters the flow (a webhook trigger, a step's name).
    span: Span,
    /// What it enters as, for the label there.
    label: &'static str,
    /// The named value it went through (a const, a function step, a loop variable).
    via: Option<String>,
}

/// Untrusted text, and the places it has been quoted for.
#[derive(Clone, Debug)]
struct Taint {
    source: Source,
    /// [`Sink::bit`]s of the places it is quoted for.
    safe_for: u8,
}

/// The taint of two values combined: untrusted in a place if either is.
fn join(a: Option<Taint>, b: Option<Taint>) -> Option<Taint> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Taint { safe_for: a.safe_for & b.safe_for, source: a.source }),
        (a, b) => a.or(b),
    }
}

/// Check one flow.
pub(super) fn check_flow<'a>(flow: &'a Flow, library: Option<&'a Library<'a>>) -> Vec<Diagnostic> {
    let webhook = flow.body.iter().find_map(|s| match &s.kind {
        StmtKind::Trigger(Trigger::Webhook { .. }) => Some(s.span),
        _ => None,
    });
    let mut checker = Checker {
        webhook,
        names: HashMap::default(),
        locals: Vec::new(),
        found: Vec::new(),
        out: Vec::new(),
    };
    checker.stmts(&flow.body);
    if checker.found.is_empty() {
        return checker.out;
    }
    // Typing the flow costs about as much as every other check here: only when untrusted
    // text reaches a place unquoted is its type asked for.
    let wanted: HashSet<Span> = checker.found.iter().map(|f| f.expr.span).collect();
    let types: HashMap<Span, Type> =
        expression_types(flow, library).into_iter().filter(|(span, _)| wanted.contains(span)).collect();
    for found in std::mem::take(&mut checker.found) {
        if let Some(ty) = types.get(&found.expr.span)
            && !ty.is_narrow()
        {
            checker.out.push(found.diagnostic(ty));
        }
    }
    checker.out.sort_by_key(|d| d.span().start);
    checker.out
}

/// Untrusted text that reaches a place unquoted: an injection risk unless its type is
/// narrow, which is settled once the flow is typed.
struct Found<'a> {
    expr: &'a Expr,
    sink: Sink,
    /// "the command of ssh step `build`".
    place: String,
    /// The value is a template's hole (for the help's spelling).
    hole: bool,
    taint: Taint,
}

impl Found<'_> {
    fn diagnostic(&self, ty: &Type) -> Diagnostic {
        let (expr, place, hole) = (self.expr, &self.place, self.hole);
        let source = &self.taint.source;
        let from = match &source.via {
            Some(via) => format!("{} (through `{via}`)", source.what),
            None => source.what.clone(),
        };
        let shown = expr.as_written().unwrap_or_else(|| "…".to_string());
        let quoted = |f: &str| if hole { format!("`{{{f}({shown})}}`") } else { format!("`{f}({shown})`") };
        let (message, help) = match self.sink {
            Sink::Shell => (
                format!("{from} reaches {place} unquoted"),
                format!("quote it: {}; or narrow its type to a literal union, a number or a bool", quoted("quote_shell")),
            ),
            Sink::Url => (
                format!("{from} reaches {place} unencoded"),
                format!("encode it: {}; or narrow its type to a literal union, a number or a bool", quoted("url_encode")),
            ),
            Sink::Header => (
                format!("{from} reaches {place} unencoded"),
                format!("narrow its type to a literal union, a number or a bool, or encode it: {}; a line break in a header value starts a new header", quoted("url_encode")),
            ),
            Sink::Sql => (
                format!("{from} is used as {place}"),
                "write the SQL as a fixed raw string with placeholders (`$1` for postgres, `?1` for sqlite) and pass values in `params [ … ]`".to_string(),
            ),
        };
        let mut diagnostic = Diagnostic::new(Code::InjectionRisk, expr.span, message)
            .with_primary_label(format!("untrusted `{ty}`"))
            .with_help(help);
        if source.span != expr.span {
            diagnostic = diagnostic.with_label(source.span, source.label);
        }
        diagnostic
    }
}

struct Checker<'a> {
    /// The webhook trigger, when the flow has one: its inputs are untrusted.
    webhook: Option<Span>,
    /// Steps and consts defined so far, with their taint.
    names: HashMap<&'a str, Option<Taint>>,
    /// Loop and error variables in scope, innermost last.
    locals: Vec<(&'a str, Option<Taint>)>,
    /// Untrusted text reaching a place unquoted, for its type to decide.
    found: Vec<Found<'a>>,
    out: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    fn stmts(&mut self, stmts: &'a [Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        match &stmt.kind {
            StmtKind::Const { name, value } => {
                let taint = self.taint(value).map(|t| through(t, &name.name));
                self.names.insert(&name.name, taint);
            }
            StmtKind::Step(step) => {
                self.step(step);
                for block in stmt.kind.handler_blocks() {
                    self.stmts(&block.stmts);
                }
            }
            StmtKind::Approval { .. } => {
                for block in stmt.kind.handler_blocks() {
                    self.stmts(&block.stmts);
                }
            }
            StmtKind::For { var, iter, body, .. } => {
                let taint = self.taint(iter).map(|t| through(t, &var.name));
                self.locals.push((&var.name, taint));
                self.stmts(&body.stmts);
                self.locals.pop();
            }
            StmtKind::Try { body, var, catch } => {
                self.stmts(&body.stmts);
                self.scoped_error(var.as_ref(), &catch.stmts);
            }
            StmtKind::OnFailure { var, body } => self.scoped_error(var.as_ref(), &body.stmts),
            other => {
                for block in other.blocks() {
                    self.stmts(&block.stmts);
                }
            }
        }
    }

    /// A `catch e` or `on failure e` block: `e` may quote a worker's or a server's words.
    fn scoped_error(&mut self, var: Option<&'a Ident>, stmts: &'a [Stmt]) {
        if let Some(var) = var {
            let source = Source {
                what: format!("the error `{}`", var.name),
                span: var.span,
                label: "its message may quote a worker or a server",
                via: None,
            };
            self.locals.push((&var.name, Some(Taint { source, safe_for: 0 })));
        }
        self.stmts(stmts);
        if var.is_some() {
            self.locals.pop();
        }
    }

    fn step(&mut self, step: &'a Step) {
        let entries: &'a [ConfigEntry] = step.config.as_ref().map_or(&[], |c| &c.entries);
        let plain = |name: &str| {
            entries.iter().find_map(|e| match &e.kind {
                EntryKind::Plain { key, value } if key.name == name => Some(value),
                _ => None,
            })
        };
        let step_name = &step.name.name;
        let taint = match &step.call {
            StepCall::Family { family, target, .. } => match family.name.as_str() {
                "http" => {
                    if let Some(target) = target {
                        for (expr, _) in holes(target) {
                            self.sink(expr, Sink::Url, &format!("the URL of http step `{step_name}`"), true);
                        }
                    }
                    if let Some(headers) = plain("headers") {
                        match &headers.kind {
                            ExprKind::Record { fields } => {
                                for field in fields {
                                    let place =
                                        format!("the header `{}` of http step `{step_name}`", field.key.name);
                                    self.sink_value(&field.value, Sink::Header, &place);
                                }
                            }
                            _ => self.sink_value(
                                headers,
                                Sink::Header,
                                &format!("the headers of http step `{step_name}`"),
                            ),
                        }
                    }
                    if let Some(key) = plain("idempotency_key") {
                        let place = format!("the `Idempotency-Key` header of http step `{step_name}`");
                        self.sink_value(key, Sink::Header, &place);
                    }
                    None
                }
                "ssh" => {
                    if let Some(command) = plain("command") {
                        self.sink_value(
                            command,
                            Sink::Shell,
                            &format!("the command of ssh step `{step_name}`"),
                        );
                    }
                    None
                }
                "db" => {
                    if let Some(query) = plain("query") {
                        self.sql(query, step_name);
                    }
                    None
                }
                "llm" => Some(self.source(step, "the output of llm step", "model output")),
                "search" => Some(self.source(step, "the results of search step", "third-party text")),
                "function" => plain("value").and_then(|v| self.taint(v)).map(|t| through(t, step_name)),
                _ => None,
            },
            StepCall::Wait { target: WaitTarget::Callback { .. }, .. } => {
                Some(self.source(step, "the callback payload of", "a worker posts this"))
            }
            StepCall::Wait { .. } | StepCall::Sleep { .. } | StepCall::Call { .. } => None,
        };
        self.names.insert(step_name, taint);
    }

    fn source(&self, step: &Step, what: &str, label: &'static str) -> Taint {
        let source =
            Source { what: format!("{what} `{}`", step.name.name), span: step.name.span, label, via: None };
        Taint { source, safe_for: 0 }
    }

    /// A value given to `sink`: each hole of a template, or the whole value.
    fn sink_value(&mut self, value: &'a Expr, sink: Sink, place: &str) {
        match &value.kind {
            ExprKind::String(template) => {
                for (expr, _) in holes(template) {
                    self.sink(expr, sink, place, true);
                }
            }
            _ => self.sink(value, sink, place, false),
        }
    }

    /// SQL text: holes are `sql-template-hole`; SQL text computed from untrusted values is
    /// `injection-risk`.
    fn sql(&mut self, query: &'a Expr, step: &str) {
        let ExprKind::String(template) = &query.kind else {
            self.sink(query, Sink::Sql, &format!("the SQL text of db step `{step}`"), false);
            return;
        };
        for (expr, span) in holes(template) {
            self.out.push(
                Diagnostic::new(
                    Code::SqlTemplateHole,
                    span,
                    format!("the SQL text of db step `{step}` has a template hole"),
                )
                .with_primary_label("a value put into SQL text")
                .with_help(format!(
                    "write a placeholder in its place (`$1` for postgres, `?1` for sqlite) and pass the value in `params [{}]`",
                    expr.as_written().unwrap_or_else(|| "…".to_string())
                ))
                .with_note("SQL text takes no holes, even for trusted values: parameters never change what the statement does"),
            );
        }
    }

    /// An untrusted value reaching `sink` unquoted is an injection risk (unless its type is
    /// narrow); `hole` says whether it is a template's hole (for the help's spelling).
    fn sink(&mut self, expr: &'a Expr, sink: Sink, place: &str, hole: bool) {
        let Some(taint) = self.taint(expr) else { return };
        if taint.safe_for & sink.bit() == 0 {
            self.found.push(Found { expr, sink, place: place.to_string(), hole, taint });
        }
    }

    /// The taint of a value: where untrusted text in it comes from, if any.
    fn taint(&self, expr: &Expr) -> Option<Taint> {
        match &expr.kind {
            ExprKind::Name { name } => self.lookup(name),
            ExprKind::Field { base, name, .. } => match &base.kind {
                ExprKind::Name { name: root } if root == "input" && self.lookup_local(root).is_none() => {
                    let span = self.webhook?;
                    let source = Source {
                        what: format!("webhook input `input.{}`", name.name),
                        span,
                        label: "inputs arrive from this webhook",
                        via: None,
                    };
                    Some(Taint { source, safe_for: 0 })
                }
                _ => self.taint(base),
            },
            ExprKind::Index { base, .. } => self.taint(base),
            ExprKind::Call { callee, args } => {
                let ExprKind::Name { name } = &callee.kind else { return None };
                let joined = args.iter().fold(None, |acc, a| join(acc, self.taint(a)));
                match name.as_str() {
                    "quote_shell" => joined.map(|t| Taint { safe_for: t.safe_for | Sink::Shell.bit(), ..t }),
                    "url_encode" => joined
                        .map(|t| Taint { safe_for: t.safe_for | Sink::Url.bit() | Sink::Header.bit(), ..t }),
                    // Made by weir from trusted parts: a signed link, a fresh id, the clock.
                    "signed_url" | "uuid" | "now" => None,
                    _ => joined,
                }
            }
            ExprKind::String(template) => {
                holes(template).into_iter().fold(None, |acc, (e, _)| join(acc, self.taint(e)))
            }
            ExprKind::Record { fields } => fields.iter().fold(None, |acc, f| join(acc, self.taint(&f.value))),
            ExprKind::List { items } => items.iter().fold(None, |acc, i| join(acc, self.taint(i))),
            ExprKind::Binary { lhs, rhs, .. } => join(self.taint(lhs), self.taint(rhs)),
            ExprKind::Unary { operand, .. } => self.taint(operand),
            ExprKind::Paren { inner } => self.taint(inner),
            ExprKind::Int { .. }
            | ExprKind::Float { .. }
            | ExprKind::Duration { .. }
            | ExprKind::Bool { .. }
            | ExprKind::None
            | ExprKind::Secret { .. }
            | ExprKind::Error => None,
        }
    }

    fn lookup_local(&self, name: &str) -> Option<&Option<Taint>> {
        self.locals.iter().rev().find(|(n, _)| *n == name).map(|(_, t)| t)
    }

    fn lookup(&self, name: &str) -> Option<Taint> {
        if let Some(taint) = self.lookup_local(name) {
            return taint.clone();
        }
        if name == "input" {
            let span = self.webhook?;
            let source = Source {
                what: "webhook input `input`".into(),
                span,
                label: "inputs arrive from this webhook",
                via: None,
            };
            return Some(Taint { source, safe_for: 0 });
        }
        self.names.get(name).cloned().flatten()
    }
}

/// `taint` carried through the named value `name` (kept from the first name it went through).
fn through(mut taint: Taint, name: &str) -> Taint {
    taint.source.via.get_or_insert_with(|| name.to_string());
    taint
}

/// The holes of a template: each expression and the span of its `{…}`.
fn holes(template: &Template) -> Vec<(&Expr, Span)> {
    template
        .parts
        .iter()
        .filter_map(|p| match p {
            TemplatePart::Hole { expr, span } => Some((expr, *span)),
            TemplatePart::Text { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use weir_diagnostics::Code;

    /// The `injection-risk` messages of a flow made of `trigger` and `body`.
    fn risks(trigger: &str, body: &str) -> Vec<String> {
        let text = format!(
            "flow wibble {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  {trigger}\n  input {{ x: string, n: int }}\n{body}\n}}\n"
        );
        let (_, diagnostics) = crate::check::diagnose(text.as_bytes(), None);
        diagnostics.iter().filter(|d| d.code == Code::InjectionRisk).map(|d| d.message.clone()).collect()
    }

    const WEBHOOK: &str = "trigger webhook \"/w\" verify hmac(secret hook)";

    fn ssh(command: &str) -> String {
        format!("  step s = ssh {{\n    connection vm\n    command \"{command}\"\n    max_output 100\n  }}")
    }

    #[test]
    fn inputs_are_untrusted_only_behind_a_webhook() {
        assert_eq!(risks(WEBHOOK, &ssh("run {input.x} {input.n}")).len(), 1);
        assert!(risks("trigger manual", &ssh("run {input.x}")).is_empty());
        assert!(
            risks("trigger schedule \"0 7 * * *\" tz \"UTC\" with { x: \"a\", n: 1 }", &ssh("run {input.x}"))
                .is_empty()
        );
    }

    #[test]
    fn each_place_has_its_own_quoting() {
        assert!(risks(WEBHOOK, &ssh("run {quote_shell(input.x)}")).is_empty());
        assert_eq!(risks(WEBHOOK, &ssh("run {url_encode(input.x)}")).len(), 1);
        let http = |target: &str| {
            format!("  step h = http GET \"{target}\" {{\n    connection api\n    max_body 100\n  }}")
        };
        assert!(risks(WEBHOOK, &http("/a/{url_encode(input.x)}")).is_empty());
        assert_eq!(risks(WEBHOOK, &http("/a/{quote_shell(input.x)}")).len(), 1);
    }

    #[test]
    fn taint_flows_through_consts_functions_loops_and_errors() {
        let through_const = format!("  const C = \"a {{input.x}}\"\n{}", ssh("run {C}"));
        assert!(
            risks(WEBHOOK, &through_const)[0].contains("through `C`"),
            "{:?}",
            risks(WEBHOOK, &through_const)
        );
        let through_function =
            format!("  step f = function {{ value trim(input.x) }}\n{}", ssh("run {f.value}"));
        assert_eq!(risks(WEBHOOK, &through_function).len(), 1);
        let narrowed = format!("  step f = function {{ value len(input.x) }}\n{}", ssh("run {f.value}"));
        assert!(risks(WEBHOOK, &narrowed).is_empty());
        let caught = format!(
            "  try {{\n    step g = http GET \"/g\" {{\n      connection api\n      max_body 100\n    }}\n  }} catch e {{\n  {}\n  }}",
            ssh("report {e.message} {e.attempts}")
        );
        assert!(
            risks("trigger manual", &caught)[0].starts_with("the error `e`"),
            "{:?}",
            risks("trigger manual", &caught)
        );
    }
}
