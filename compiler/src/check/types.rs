//! Types of expressions (language.md, "Values and types"): field access, optional values and
//! their narrowing, operators, conditions, iteration, secrets in strings, and the types of
//! step config fields. Names that do not resolve are `unknown` here (the name pass reports
//! them), so one mistake gives one diagnostic.

use crate::builtins::{self, Returns};
use crate::families::{self, FieldKind};
use crate::interface::Library;
use crate::types::{Aliases, Field, Type};
use rustc_hash::FxHashMap as HashMap;
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;
use weir_grammar::closest;

/// Fields every resource has.
fn res_field(name: &str) -> Option<Type> {
    match name {
        "size" => Some(Type::int()),
        "media_type" | "digest" => Some(Type::String),
        _ => None,
    }
}

struct Typer<'a> {
    diagnostics: Vec<Diagnostic>,
    aliases: Aliases<'a>,
    inputs: Type,
    /// Steps, approvals, callbacks and consts defined so far, with their types here.
    values: HashMap<&'a str, Type>,
    /// Loop variables, `catch` and `on failure` variables, innermost last.
    locals: Vec<(&'a str, Type)>,
    /// Declared outputs of callbacks, for `wait NAME`.
    callbacks: HashMap<&'a str, Type>,
    /// Names narrowed to non-none by an enclosing `if NAME != none`.
    narrowed: Vec<String>,
    /// Every expression's type, when asked for (`weir graph --format json`).
    recorded: Option<Vec<(Span, Type)>>,
    /// Whether each expression's type is narrow, when asked for (the guard checks).
    narrow: Option<Vec<(Span, bool)>>,
    /// Types of loop-body steps from a silent first pass, for `prev(NAME)`.
    prev_types: HashMap<&'a str, Type>,
    /// Flows a `call` may name.
    library: Option<&'a Library<'a>>,
    /// Names of `values` in the order they came into scope.
    order: Vec<&'a str>,
    /// The type of the flow's `output`, once seen.
    output: Option<Type>,
}

/// Which expressions have a narrow type ([`Type::is_narrow`]), by span: what the guard
/// checks ask of the types, gathered in the same pass as the type diagnostics.
#[derive(Debug, Default)]
pub struct Narrowness {
    /// Sorted by span, one entry per span.
    spans: Vec<(Span, bool)>,
}

impl Narrowness {
    /// Whether the expression at `span` has a narrow type (`None`: never typed).
    pub fn get(&self, span: Span) -> Option<bool> {
        self.spans.binary_search_by_key(&span, |(s, _)| *s).ok().map(|i| self.spans[i].1)
    }
}

/// Type-check one flow, and say which expressions have a narrow type.
pub(super) fn check_flow_with_narrowness<'a>(
    flow: &'a Flow,
    library: Option<&'a Library<'a>>,
) -> (Vec<Diagnostic>, Narrowness) {
    let typer = run_with(flow, false, true, library);
    let mut spans = typer.narrow.unwrap_or_default();
    // A span typed twice (a silent first pass over a loop body is discarded) has one
    // type; if it ever had two, "not narrow" sorts first and is kept, which errs towards
    // reporting.
    spans.sort_unstable();
    spans.dedup_by_key(|(s, _)| *s);
    (typer.diagnostics, Narrowness { spans })
}

/// The type of every expression of a flow, in the order they are typed (`call`s resolved
/// against `library`).
pub fn expression_types<'a>(flow: &'a Flow, library: Option<&'a Library<'a>>) -> Vec<(Span, Type)> {
    run(flow, true, library).recorded.unwrap_or_default()
}

/// The type of a flow's `output` (nothing when it has none): what a `call` of it returns.
pub fn output_type(flow: &Flow) -> Type {
    run(flow, false, None).output.unwrap_or(Type::Unit)
}

/// The record of a flow's inputs.
pub fn input_type(flow: &Flow) -> Type {
    run(flow, false, None).inputs
}

fn run<'a>(flow: &'a Flow, record: bool, library: Option<&'a Library<'a>>) -> Typer<'a> {
    run_with(flow, record, false, library)
}

fn run_with<'a>(flow: &'a Flow, record: bool, narrow: bool, library: Option<&'a Library<'a>>) -> Typer<'a> {
    let mut typer = Typer {
        diagnostics: Vec::new(),
        aliases: Aliases::of(flow),
        inputs: Type::record(&[]),
        values: HashMap::default(),
        locals: Vec::new(),
        callbacks: HashMap::default(),
        narrowed: Vec::new(),
        recorded: record.then(Vec::new),
        narrow: narrow.then(Vec::new),
        prev_types: HashMap::default(),
        library,
        output: None,
        order: Vec::new(),
    };
    for stmt in &flow.body {
        if let StmtKind::Input { fields } = &stmt.kind {
            typer.inputs = typer.record_type(fields);
        }
    }
    typer.stmts(&flow.body);
    typer
}

impl<'a> Typer<'a> {
    // ------------------------------------------------------------ types from syntax

    fn resolve(&mut self, ty: &'a TypeExpr) -> Type {
        self.aliases.resolve(ty)
    }

    fn record_type(&mut self, record: &'a TypeRecord) -> Type {
        self.aliases.record(record)
    }

    // ------------------------------------------------------------ statements

    fn stmts(&mut self, stmts: &'a [Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    /// Bring a value into scope, remembering the order so a block can tell what it added.
    fn define(&mut self, name: &'a str, ty: Type) {
        if self.values.insert(name, ty).is_none() {
            self.order.push(name);
        }
    }

    /// Type a block and return the values it defined, removed from scope.
    fn block_values(&mut self, block: &'a Block) -> Vec<(&'a str, Type)> {
        let mark = self.order.len();
        self.stmts(&block.stmts);
        let new: Vec<&'a str> = self.order.drain(mark..).collect();
        new.into_iter().filter_map(|k| self.values.remove(k).map(|t| (k, t))).collect()
    }

    fn define_all(&mut self, values: Vec<(&'a str, Type)>, wrap: impl Fn(Type) -> Type) {
        for (name, ty) in values {
            self.define(name, wrap(ty));
        }
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        match &stmt.kind {
            StmtKind::Const { name, value } => {
                let ty = self.expr(value);
                self.define(&name.name, ty);
            }
            StmtKind::Output { value } => {
                let ty = self.expr(value);
                self.no_secret(&ty, value.span, "a flow's output");
                self.output = Some(ty);
            }
            StmtKind::Log { value } => {
                let ty = self.expr(value);
                self.no_secret(&ty, value.span, "run history");
            }
            StmtKind::Timeout { value } => self.expect(value, &Type::Duration, "a run's `timeout`"),
            StmtKind::Concurrency(Concurrency::Max { max, per, .. }) => {
                self.expr(max);
                if let Some(per) = per {
                    self.expr(per);
                }
            }
            StmtKind::Trigger(Trigger::Schedule { with: Some(with), .. }) => {
                self.expr(with);
            }
            StmtKind::Trigger(Trigger::Webhook { with: Some(with), .. }) => {
                self.locals.push(("payload", Type::Json));
                self.expr(with);
                self.locals.pop();
            }
            StmtKind::OnFailure { var, body } => {
                if let Some(var) = var {
                    self.locals.push((&var.name, Type::error_record()));
                }
                let values = self.block_values(body);
                drop(values);
                if var.is_some() {
                    self.locals.pop();
                }
            }
            StmtKind::Step(step) => {
                let ty = self.step(step);
                self.define(&step.name.name, ty);
                // The undo runs after the step completed: it may read the step's output.
                for entry in step.config.iter().flat_map(|c| &c.entries) {
                    if let EntryKind::Undo { body, .. } = &entry.kind {
                        let values = self.block_values(body);
                        self.define_all(values, Type::optional);
                    }
                }
            }
            StmtKind::Callback { name, config } => {
                let mut output = Type::record(&[]);
                for entry in &config.entries {
                    match &entry.kind {
                        EntryKind::Output { ty } => output = self.resolve(ty),
                        other => self.entry(other, None),
                    }
                }
                self.callbacks.insert(&name.name, output);
                self.define(&name.name, Type::record(&[("url", Type::String)]));
            }
            StmtKind::Approval { name, config } => {
                let mut fields = vec![
                    Field {
                        name: "outcome".into(),
                        ty: Type::Literals {
                            values: vec!["approved".into(), "rejected".into(), "timed_out".into()],
                        },
                        optional: false,
                    },
                    Field { name: "by".into(), ty: Type::String, optional: false },
                    Field { name: "at".into(), ty: Type::Time, optional: false },
                    Field { name: "reason".into(), ty: Type::optional(Type::Text), optional: false },
                ];
                for entry in &config.entries {
                    match &entry.kind {
                        EntryKind::Input { fields: input } => {
                            if let Type::Record { fields: declared } = self.record_type(input) {
                                fields.extend(declared);
                            }
                        }
                        EntryKind::OnReject { .. } => {}
                        other => self.entry(other, None),
                    }
                }
                self.define(&name.name, Type::Record { fields });
                // `on reject` runs after the decision: it may read the approval.
                for entry in &config.entries {
                    if let EntryKind::OnReject { body } = &entry.kind {
                        // Values made on reject exist only on that path.
                        let values = self.block_values(body);
                        self.define_all(values, Type::optional);
                    }
                }
            }
            StmtKind::Parallel { body } | StmtKind::Branch { body } | StmtKind::Saga { body } => {
                let values = self.block_values(body);
                self.define_all(values, |t| t);
            }
            StmtKind::For { var, iter, parallel, body } => {
                let iter_ty = self.expr(iter);
                let item = self.item_type(&iter_ty, iter.span);
                if let Some(n) = parallel {
                    self.expr(n);
                }
                self.locals.push((&var.name, item));
                self.prepass(body);
                let values = self.block_values(body);
                self.locals.pop();
                self.define_all(values, Type::list);
            }
            StmtKind::If { arms, else_body } => {
                // `x == none` in an arm narrows x in every later arm and the else.
                let outer = self.narrowed.len();
                for arm in arms {
                    self.expect(&arm.cond, &Type::Bool, "a condition");
                    let narrowed = narrowed_path(&arm.cond, BinaryOp::Ne);
                    if let Some(path) = &narrowed {
                        self.narrowed.push(path.clone());
                    }
                    let values = self.block_values(&arm.body);
                    if narrowed.is_some() {
                        self.narrowed.pop();
                    }
                    self.define_all(values, Type::optional);
                    if let Some(path) = narrowed_path(&arm.cond, BinaryOp::Eq) {
                        self.narrowed.push(path);
                    }
                }
                if let Some(body) = else_body {
                    let values = self.block_values(body);
                    self.define_all(values, Type::optional);
                }
                self.narrowed.truncate(outer);
            }
            StmtKind::Loop { max, body } => {
                if let Some(max) = max {
                    self.expect(max, &Type::int(), "`loop max`");
                }
                self.loop_body(body);
            }
            StmtKind::Repeat { every, until, max, body } => {
                self.expect(every, &Type::Duration, "`repeat every`");
                if let Some(max) = max {
                    self.expect(max, &Type::int(), "`repeat … max`");
                }
                // The body runs before the condition is checked, at least once.
                self.prepass(body);
                let values = self.block_values(body);
                self.define_all(values, |t| t);
                self.expect(until, &Type::Bool, "an `until` condition");
            }
            StmtKind::Try { body, var, catch } => {
                let values = self.block_values(body);
                if let Some(var) = var {
                    self.locals.push((&var.name, Type::error_record()));
                }
                let caught = self.block_values(catch);
                if var.is_some() {
                    self.locals.pop();
                }
                // A catch that ends the run or the iteration leaves the try's values certain.
                let certain = catch.stmts.last().is_some_and(|s| {
                    matches!(
                        s.kind,
                        StmtKind::Fail { .. }
                            | StmtKind::Return { .. }
                            | StmtKind::Break
                            | StmtKind::Continue
                    )
                });
                self.define_all(values, |t| if certain { t } else { Type::optional(t) });
                self.define_all(caught, Type::optional);
            }
            StmtKind::Fail { message, code } => {
                self.expr(message);
                if let Some(code) = code {
                    self.expr(code);
                }
            }
            StmtKind::Return { value: Some(value) } => {
                let ty = self.expr(value);
                self.no_secret(&ty, value.span, "a flow's output");
            }
            StmtKind::Sleep { duration } => self.expect(duration, &Type::Duration, "`sleep`"),
            StmtKind::Wait { target } => {
                self.wait_type(target);
            }
            _ => {}
        }
    }

    /// Values made before the first statement that can leave the loop are certain after it
    /// (the loop is left only by `break`, or fails as exhausted); later ones are optional.
    /// `prev(NAME)` may read a step defined later in the loop body: type the body once
    /// silently first, so those steps' types are known, when the body uses `prev`.
    fn prepass(&mut self, body: &'a Block) {
        if !uses_prev(&body.stmts) {
            return;
        }
        let diagnostics = self.diagnostics.len();
        let recorded = self.recorded.take();
        let narrow = self.narrow.take();
        let values = self.block_values(body);
        self.diagnostics.truncate(diagnostics);
        self.recorded = recorded;
        self.narrow = narrow;
        for (name, ty) in values {
            self.prev_types.insert(name, ty);
        }
    }

    fn loop_body(&mut self, body: &'a Block) {
        self.prepass(body);
        let mark = self.order.len();
        let mut certain: Vec<&'a str> = Vec::new();
        let mut left = false;
        for stmt in &body.stmts {
            left |= can_leave(stmt);
            self.stmt(stmt);
            if !left && let StmtKind::Step(step) = &stmt.kind {
                certain.push(&step.name.name);
            }
        }
        let new: Vec<&'a str> = self.order[mark..].to_vec();
        for name in new {
            if !certain.contains(&name)
                && let Some(ty) = self.values.remove(name)
            {
                self.values.insert(name, Type::optional(ty));
            }
        }
    }

    fn wait_type(&mut self, target: &'a WaitTarget) -> Type {
        match target {
            WaitTarget::Callback { name } => {
                self.callbacks.get(name.name.as_str()).cloned().unwrap_or(Type::Unknown)
            }
            WaitTarget::For { duration } => {
                self.expect(duration, &Type::Duration, "`wait for`");
                Type::Unit
            }
            WaitTarget::Until { time } => {
                self.expect(time, &Type::Time, "`wait until`");
                Type::Unit
            }
        }
    }

    // ------------------------------------------------------------ steps

    fn step(&mut self, step: &'a Step) -> Type {
        let entries: &'a [ConfigEntry] = step.config.as_ref().map_or(&[], |c| &c.entries);
        let mut declared = None;
        for entry in entries {
            if let EntryKind::Output { ty } = &entry.kind {
                declared = Some(self.resolve(ty));
            }
        }
        let (schema, method) = match &step.call {
            StepCall::Family { family, method, target, .. } => {
                if let Some(target) = target {
                    self.template(target);
                }
                (families::family(&family.name), method.as_ref().map(|m| m.name.as_str()))
            }
            StepCall::Sleep { duration, .. } => {
                self.expect(duration, &Type::Duration, "`sleep`");
                (families::family("sleep"), None)
            }
            StepCall::Wait { target, .. } => {
                let ty = self.wait_type(target);
                for entry in entries {
                    self.entry(&entry.kind, None);
                }
                return ty;
            }
            StepCall::Call { flow, version, .. } => {
                let callee = self
                    .library
                    .and_then(|l| l.resolve(&flow.name, version.as_ref().map(|v| v.name.as_str())).ok());
                for entry in entries {
                    match (&entry.kind, callee) {
                        // Each input given must fit the called flow's declared type.
                        (EntryKind::Plain { key, value }, Some(callee)) if key.name == "input" => {
                            let ExprKind::Record { fields } = &value.kind else {
                                self.expr(value);
                                continue;
                            };
                            for field in fields {
                                let found = self.expr(&field.value);
                                let wanted = callee.inputs().iter().find(|(n, _, _)| *n == field.key.name);
                                if let Some((name, want, _)) = wanted
                                    && !compatible(want, &found)
                                    && !(is_textual(want) && is_textual(&found))
                                {
                                    self.mismatch(
                                        field.value.span,
                                        &format!("input `{name}` of `{}` takes `{want}`", flow.name),
                                        &found,
                                    );
                                }
                            }
                        }
                        (kind, _) => self.entry(kind, families::family("call")),
                    }
                }
                return callee.map_or(Type::Unknown, |i| i.output().clone());
            }
        };
        let mut value_type = None;
        for entry in entries {
            if let (EntryKind::Plain { key, value }, Some(schema)) = (&entry.kind, schema)
                && key.name == "value"
                && schema.name == "function"
            {
                value_type = Some(self.expr(value));
                continue;
            }
            self.entry(&entry.kind, schema);
        }
        let Some(schema) = schema else { return Type::Unknown };
        if schema.name == "ssh" {
            // Declared remote files are fetched as resources, fields of the output.
            let mut output = schema.output.output_type(None);
            for entry in entries {
                if let (EntryKind::Files { fields }, Type::Record { fields: out }) =
                    (&entry.kind, &mut output)
                    && let Type::Record { fields: files } = self.record_type(fields)
                {
                    out.extend(files);
                }
            }
            return output;
        }
        if schema.name == "function" {
            return Type::record(&[("value", value_type.unwrap_or(Type::Unknown))]);
        }
        if schema.name == "kv" && method != Some("get") {
            return Type::Unit;
        }
        schema.output.output_type(declared.as_ref())
    }

    fn entry(&mut self, entry: &'a EntryKind, schema: Option<&'static families::FamilySchema>) {
        match entry {
            EntryKind::Plain { key, value } => {
                let kind =
                    schema.and_then(|s| s.field(&key.name)).map(|f| f.kind).or(match key.name.as_str() {
                        "timeout" => Some(FieldKind::Duration),
                        "summary" => Some(FieldKind::Text),
                        _ => None,
                    });
                if kind == Some(FieldKind::Connection) || key.name == "connection" {
                    return;
                }
                let found = self.expr(value);
                if let Some(kind) = kind {
                    self.field_kind(kind, &found, value, &key.name);
                    if matches!(
                        kind,
                        FieldKind::Any
                            | FieldKind::Record
                            | FieldKind::List
                            | FieldKind::String
                            | FieldKind::Text
                    ) {
                        self.no_secret(&found, value.span, &format!("`{}`", key.name));
                    }
                }
            }
            EntryKind::List { values, .. } => {
                for v in values {
                    self.expr(v);
                }
            }
            EntryKind::Retry(retry) => {
                self.expect(&retry.count, &Type::int(), "`retry`");
                if let Some(backoff) = &retry.backoff {
                    self.expect(&backoff.base, &Type::Duration, "a backoff");
                    if let Some(max) = &backoff.max {
                        self.expect(max, &Type::Duration, "a backoff's `max`");
                    }
                }
            }
            // Walked after the step's own type is known (see `stmt`).
            EntryKind::Undo { .. } => {}
            EntryKind::Deciders(deciders) => {
                for rule in &deciders.rules {
                    match rule {
                        DeciderRule::Exclude { who, .. } => {
                            self.expr(who);
                        }
                        DeciderRule::Min { count, .. } => self.expect(count, &Type::int(), "`min`"),
                        DeciderRule::NotInitiator { .. } => {}
                    }
                }
            }
            EntryKind::Ask { config: Some(config), .. } => {
                for e in &config.entries {
                    self.entry(&e.kind, None);
                }
            }
            _ => {}
        }
    }

    /// A config field's value against the kind the family table gives it.
    fn field_kind(&mut self, kind: FieldKind, found: &Type, value: &Expr, key: &str) {
        let ok = match kind {
            FieldKind::Duration => compatible(&Type::Duration, found),
            FieldKind::Int => compatible(&Type::int(), found),
            FieldKind::Float => compatible(&Type::Float, found) || compatible(&Type::int(), found),
            FieldKind::String | FieldKind::Text => is_textual(found),
            FieldKind::Secret => matches!(found, Type::Secret | Type::Unknown),
            FieldKind::List => matches!(found, Type::List { .. } | Type::Json | Type::Unknown),
            FieldKind::Record | FieldKind::StringOrSecretRecord => {
                matches!(found, Type::Record { .. } | Type::Json | Type::Unknown)
            }
            _ => true,
        };
        if !ok {
            let wanted = match kind {
                FieldKind::Duration => "a duration",
                FieldKind::Int => "an int",
                FieldKind::Float => "a number",
                FieldKind::String => "a string",
                FieldKind::Text => "text",
                FieldKind::Secret => "a secret (`secret NAME`)",
                FieldKind::List => "a list",
                _ => "a record",
            };
            self.mismatch(value.span, &format!("`{key}` takes {wanted}"), found);
        }
    }

    // ------------------------------------------------------------ expressions

    fn expect(&mut self, expr: &'a Expr, want: &Type, what: &str) {
        let found = self.expr(expr);
        if !compatible(want, &found) {
            let wanted = match want {
                Type::Int { .. } => "an int".to_string(),
                Type::Bool => "a bool".to_string(),
                Type::Duration => "a duration".to_string(),
                Type::Time => "a time".to_string(),
                other => format!("{other}"),
            };
            self.mismatch(expr.span, &format!("{what} takes {wanted}"), &found);
        }
    }

    fn mismatch(&mut self, span: Span, what: &str, found: &Type) {
        let mut diagnostic = Diagnostic::new(Code::TypeMismatch, span, format!("{what}, found `{found}`"))
            .with_primary_label(format!("this is `{found}`"));
        if what.contains("duration") && matches!(found, Type::Int { .. }) {
            diagnostic = diagnostic.with_help("a duration has a unit: write `30s`, `5m` or `2h`");
        }
        if let Type::Optional { inner } = found {
            diagnostic = diagnostic.with_help(format!(
                "the value may be `none`: give a default with `?? …`, or narrow it with `if x != none` (then it is `{inner}`)"
            ));
        }
        self.diagnostics.push(diagnostic);
    }

    /// A secret inside a value headed for a log, an output or a body.
    fn no_secret(&mut self, ty: &Type, span: Span, place: &str) {
        if contains_secret(ty) {
            self.diagnostics.push(
                Diagnostic::new(Code::SecretAsString, span, format!("a secret would reach {place}"))
                    .with_primary_label("holds a secret")
                    .with_help("a secret goes only to a field typed `secret` (auth, a header, ssh env, webhook verification)"),
            );
        }
    }

    fn template(&mut self, template: &'a Template) {
        for part in &template.parts {
            if let TemplatePart::Hole { expr, span } = part {
                let ty = self.expr(expr);
                if let Type::Res { .. } = strip_ref(&ty) {
                    self.diagnostics.push(
                        Diagnostic::new(Code::TypeMismatch, expr.span, format!("a resource (`{ty}`) cannot be put into a string"))
                            .with_primary_label("resource here")
                            .with_help("read a bounded part with `read_text(res, max_bytes)`, or link it with `signed_url(res, ttl)`"),
                    );
                }
                if ty == Type::Secret {
                    self.diagnostics.push(
                        Diagnostic::new(Code::SecretAsString, *span, "a secret cannot be put into a string")
                            .with_primary_label("secret here")
                            .with_help("pass it only to a field typed `secret` (auth, a header, ssh env, webhook verification); it never reaches a log, a prompt or an output"),
                    );
                }
            }
        }
    }

    fn lookup(&self, name: &str) -> Type {
        if let Some((_, ty)) = self.locals.iter().rev().find(|(n, _)| *n == name) {
            return ty.clone();
        }
        if let Some(ty) = self.values.get(name) {
            return match ty {
                Type::Optional { inner } if self.narrowed.iter().any(|n| n == name) => (**inner).clone(),
                other => other.clone(),
            };
        }
        match name {
            "input" => self.inputs.clone(),
            "run" => Type::record(&[
                ("id", Type::String),
                ("flow", Type::String),
                ("version", Type::String),
                ("started_at", Type::Time),
                ("initiator", Type::String),
                ("trigger", Type::String),
                ("attempt", Type::int()),
            ]),
            _ => Type::Unknown,
        }
    }

    fn expr(&mut self, expr: &'a Expr) -> Type {
        let ty = self.expr_type(expr);
        if let Some(recorded) = &mut self.recorded {
            recorded.push((expr.span, ty.clone()));
        }
        if let Some(narrow) = &mut self.narrow {
            narrow.push((expr.span, ty.is_narrow()));
        }
        ty
    }

    fn expr_type(&mut self, expr: &'a Expr) -> Type {
        match &expr.kind {
            ExprKind::Int { .. } => Type::int(),
            ExprKind::Float { .. } => Type::Float,
            ExprKind::Duration { .. } => Type::Duration,
            ExprKind::Bool { .. } => Type::Bool,
            ExprKind::None => Type::None,
            ExprKind::String(template) => {
                self.template(template);
                match (template.style, template.as_plain()) {
                    (StringStyle::Plain, Some(text)) => Type::Literals { values: vec![text] },
                    (StringStyle::Multi | StringStyle::RawMulti, _) => Type::Text,
                    _ => Type::String,
                }
            }
            ExprKind::Name { name } => self.lookup(name),
            ExprKind::Secret { .. } => Type::Secret,
            ExprKind::List { items } => {
                let mut item = None;
                for i in items {
                    let t = self.expr(i);
                    item.get_or_insert(t);
                }
                Type::list(widen(item.unwrap_or(Type::Unknown)))
            }
            ExprKind::Record { fields } => Type::Record {
                fields: fields
                    .iter()
                    .map(|f| Field {
                        name: f.key.name.clone(),
                        ty: widen(self.expr(&f.value)),
                        optional: false,
                    })
                    .collect(),
            },
            ExprKind::Field { base, name, optional } => {
                let base_ty = self.expr(base);
                // `input.x` and `run.x` are the name pass's to report.
                if let ExprKind::Name { name: root } = &base.kind
                    && (root == "input" || root == "run")
                    && !self.values.contains_key(root.as_str())
                    && base_ty.field(&name.name).is_none()
                {
                    return Type::Unknown;
                }
                self.field(&base_ty, base, name, *optional)
            }
            ExprKind::Index { base, index } => {
                let base_ty = self.expr(base);
                self.expr(index);
                match base_ty {
                    Type::List { item } => *item,
                    Type::Json => Type::Json,
                    Type::Record { .. } => Type::Unknown,
                    Type::Unknown => Type::Unknown,
                    other => {
                        self.mismatch(base.span, "indexing takes a list", &other);
                        Type::Unknown
                    }
                }
            }
            ExprKind::Call { callee, args } => {
                let is_prev = matches!(&callee.kind, ExprKind::Name { name } if name == "prev");
                let arg_types: Vec<Type> = args
                    .iter()
                    .map(|a| match &a.kind {
                        ExprKind::Name { name } if is_prev && !self.values.contains_key(name.as_str()) => {
                            let ty = self.prev_types.get(name.as_str()).cloned().unwrap_or(Type::Unknown);
                            if let Some(recorded) = &mut self.recorded {
                                recorded.push((a.span, ty.clone()));
                            }
                            if let Some(narrow) = &mut self.narrow {
                                narrow.push((a.span, ty.is_narrow()));
                            }
                            ty
                        }
                        _ => self.expr(a),
                    })
                    .collect();
                let ExprKind::Name { name } = &callee.kind else { return Type::Unknown };
                for (i, (arg, ty)) in args.iter().zip(&arg_types).enumerate() {
                    let Some(param) = builtins::params(name).get(i).copied() else { break };
                    if !fits(param, ty) {
                        self.mismatch(
                            arg.span,
                            &format!("argument {} of `{name}` takes {}", i + 1, param.describe()),
                            ty,
                        );
                    }
                }
                match builtins::builtin(name).map(|b| &b.returns) {
                    Some(Returns::Fixed(ty)) => ty.clone(),
                    Some(Returns::FirstArgOptional) => {
                        arg_types.first().cloned().map(Type::optional).unwrap_or(Type::Unknown)
                    }
                    None => Type::Unknown,
                }
            }
            ExprKind::Unary { op, operand } => {
                let ty = self.expr(operand);
                match op {
                    UnaryOp::Not => {
                        if !compatible(&Type::Bool, &ty) {
                            self.mismatch(operand.span, "`!` takes a bool", &ty);
                        }
                        Type::Bool
                    }
                    UnaryOp::Neg => {
                        if !matches!(
                            ty,
                            Type::Int { .. } | Type::Float | Type::Duration | Type::Unknown | Type::Json
                        ) {
                            self.mismatch(operand.span, "`-` takes a number or a duration", &ty);
                        }
                        match ty {
                            Type::Int { .. } => Type::int(),
                            other => other,
                        }
                    }
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.expr(lhs);
                let narrowed = if *op == BinaryOp::And { narrowed_path(lhs, BinaryOp::Ne) } else { None };
                if let Some(path) = &narrowed {
                    self.narrowed.push(path.clone());
                }
                let r = self.expr(rhs);
                if narrowed.is_some() {
                    self.narrowed.pop();
                }
                self.binary(*op, l, r, expr.span)
            }
            ExprKind::Paren { inner } => self.expr(inner),
            ExprKind::Error => Type::Unknown,
        }
    }

    fn field(&mut self, base_ty: &Type, base: &'a Expr, name: &'a Ident, optional: bool) -> Type {
        match base_ty {
            Type::Unknown | Type::Json => base_ty.clone(),
            // Narrowed by an enclosing `if PATH != none`.
            Type::Optional { inner }
                if self.narrowed.contains(&base.as_written().unwrap_or_else(|| "this value".to_string())) =>
            {
                let inner = (**inner).clone();
                self.field(&inner, base, name, optional)
            }
            // `a?.b.c`: a `?.` short-circuits the rest of its chain.
            Type::Optional { inner } if optional || in_optional_chain(base) => {
                let inner = (**inner).clone();
                Type::optional(self.field(&inner, base, name, false))
            }
            Type::Optional { .. } => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::ValueMayBeNone,
                        name.span,
                        format!("`{}` may be `none` here, so `.{}` cannot be read", base.as_written().unwrap_or_else(|| "this value".to_string()), name.name),
                    )
                    .with_primary_label("may be none")
                    .with_help(format!(
                        "write `{0}?.{1}…` (none if it is none) with `?? default` at the end, or narrow with `if {0} != none {{ … }}`",
                        base.as_written().unwrap_or_else(|| "this value".to_string()),
                        name.name
                    )),
                );
                Type::Unknown
            }
            Type::None => Type::None,
            Type::Record { fields } => match fields.iter().find(|f| f.name == name.name) {
                Some(field) if field.optional => Type::optional(field.ty.clone()),
                Some(field) => field.ty.clone(),
                None => {
                    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownField,
                        name.span,
                        format!(
                            "`{}` has no field `{}`",
                            base.as_written().unwrap_or_else(|| "this value".to_string()),
                            name.name
                        ),
                    )
                    .with_primary_label(format!("not a field of `{}`", short(base_ty)));
                    diagnostic = match closest(&name.name, &names) {
                        Some(c) => diagnostic.with_help(format!("did you mean `{c}`?")),
                        None if names.is_empty() => diagnostic.with_help("it declares no output: add `output { … }` to type it"),
                        None if names == ["text"] => diagnostic.with_help(
                            "an llm step without `output` gives only `text`: declare `output { … }` for structured fields",
                        ),
                        None => diagnostic.with_help(format!("its fields are {}", names.join(", "))),
                    };
                    self.diagnostics.push(diagnostic);
                    Type::Unknown
                }
            },
            Type::Res { .. } => match res_field(&name.name) {
                Some(ty) => ty,
                None => {
                    self.diagnostics.push(
                        Diagnostic::new(Code::UnknownField, name.span, format!("a resource has no field `{}`", name.name))
                            .with_primary_label("not a field of a resource")
                            .with_help("a resource has `size`, `media_type` and `digest`; read its content with `read_text(res, max)`"),
                    );
                    Type::Unknown
                }
            },
            other => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownField,
                        name.span,
                        format!(
                            "`{}` is `{other}`, which has no fields",
                            base.as_written().unwrap_or_else(|| "this value".to_string())
                        ),
                    )
                    .with_primary_label("no fields here")
                    .with_help("only records, approvals, callbacks, steps and json values have fields"),
                );
                Type::Unknown
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: Type, r: Type, span: Span) -> Type {
        use BinaryOp::*;
        let loose = |t: &Type| matches!(t, Type::Unknown | Type::Json);
        if loose(&l) || loose(&r) {
            return match op {
                Eq | Ne | Lt | Le | Gt | Ge | And | Or => Type::Bool,
                Coalesce => strip_optional(&l),
                _ => Type::Unknown,
            };
        }
        match op {
            And | Or => {
                if !compatible(&Type::Bool, &l) || !compatible(&Type::Bool, &r) {
                    let bad = if compatible(&Type::Bool, &l) { &r } else { &l };
                    self.mismatch(span, &format!("`{}` takes two bools", op.as_str()), bad);
                }
                Type::Bool
            }
            Eq | Ne => {
                if !comparable(&l, &r) {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            span,
                            format!("`{l}` and `{r}` cannot be compared"),
                        )
                        .with_primary_label("never equal")
                        .with_help("compare values of the same type"),
                    );
                }
                Type::Bool
            }
            Lt | Le | Gt | Ge => {
                let ordered = matches!(
                    (strip_optional(&l), strip_optional(&r)),
                    (Type::Int { .. } | Type::Float, Type::Int { .. } | Type::Float)
                        | (Type::Duration, Type::Duration)
                        | (Type::Time, Type::Time)
                );
                if !ordered {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            span,
                            format!("`{l}` and `{r}` cannot be ordered"),
                        )
                        .with_primary_label(format!(
                            "`{}` needs two numbers, durations or times",
                            op.as_str()
                        ))
                        .with_help("order numbers with numbers, durations with durations, times with times"),
                    );
                }
                Type::Bool
            }
            Coalesce => strip_optional(&l),
            Add | Sub | Mul | Div | Rem => match arithmetic(op, &l, &r) {
                Some(t) => t,
                None => {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            span,
                            format!("`{}` does not apply to `{l}` and `{r}`", op.as_str()),
                        )
                        .with_primary_label("no such operation")
                        .with_help(
                            if matches!(l, Type::String | Type::Text | Type::Literals { .. }) {
                                "strings are joined with a template: \"{a}{b}\""
                            } else {
                                "arithmetic works on numbers, and on durations and times"
                            },
                        ),
                    );
                    Type::Unknown
                }
            },
        }
    }

    fn item_type(&mut self, iter: &Type, span: Span) -> Type {
        match iter {
            Type::List { item } => (**item).clone(),
            Type::Unknown => Type::Unknown,
            Type::Json => {
                self.diagnostics.push(
                    Diagnostic::new(Code::NotIterable, span, "iterating over untyped `json`")
                        .with_primary_label("the items' type is unknown")
                        .with_help("declare the producer's `output { … }` (e.g. `list<Ticket>`), so each item is typed"),
                );
                Type::Unknown
            }
            other => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::NotIterable,
                        span,
                        format!("`for` iterates over a list, found `{other}`"),
                    )
                    .with_primary_label("not a list")
                    .with_help("iterate over a `list<T>`"),
                );
                Type::Unknown
            }
        }
    }
}

/// May a value of type `t` be passed where a builtin takes `param`?
fn fits(param: builtins::Param, t: &Type) -> bool {
    use builtins::Param;
    let t = match t {
        Type::Unknown | Type::Json => return true,
        other => other,
    };
    match param {
        Param::Text => is_textual(t),
        Param::Int => matches!(t, Type::Int { .. }),
        Param::Number => matches!(t, Type::Int { .. } | Type::Float | Type::Duration),
        Param::Duration => matches!(t, Type::Duration),
        Param::Time => matches!(t, Type::Time),
        Param::Res => matches!(t, Type::Res { .. }),
        Param::List => matches!(t, Type::List { .. }),
        Param::Any => true,
    }
}

/// True when a value of this type is or holds a secret.
fn contains_secret(t: &Type) -> bool {
    match t {
        Type::Secret => true,
        Type::Record { fields } => fields.iter().any(|f| contains_secret(&f.ty)),
        Type::List { item } | Type::Optional { inner: item } => contains_secret(item),
        _ => false,
    }
}

/// `a + b` and friends, or `None` when the operation does not exist.
fn arithmetic(op: BinaryOp, l: &Type, r: &Type) -> Option<Type> {
    use BinaryOp::*;
    match (op, l, r) {
        (_, Type::Int { .. }, Type::Int { .. }) => Some(Type::int()),
        (_, Type::Int { .. } | Type::Float, Type::Int { .. } | Type::Float) => Some(Type::Float),
        (Add | Sub, Type::Duration, Type::Duration) => Some(Type::Duration),
        (Mul | Div, Type::Duration, Type::Int { .. } | Type::Float) => Some(Type::Duration),
        (Mul, Type::Int { .. } | Type::Float, Type::Duration) => Some(Type::Duration),
        (Add | Sub, Type::Time, Type::Duration) => Some(Type::Time),
        (Sub, Type::Time, Type::Time) => Some(Type::Duration),
        _ => None,
    }
}

/// May a value of type `found` go where `want` is expected?
fn compatible(want: &Type, found: &Type) -> bool {
    match (want, found) {
        (_, Type::Unknown | Type::Json) | (Type::Unknown | Type::Json, _) => true,
        (Type::Int { .. }, Type::Int { .. }) => true,
        (Type::Float, Type::Int { .. } | Type::Float) => true,
        (Type::Optional { inner }, other) => {
            matches!(other, Type::None) || compatible(inner, strip_ref(other))
        }
        (w, f) => std::mem::discriminant(w) == std::mem::discriminant(f),
    }
}

fn strip_ref(t: &Type) -> &Type {
    match t {
        Type::Optional { inner } => inner,
        other => other,
    }
}

fn strip_optional(t: &Type) -> Type {
    strip_ref(t).clone()
}

fn is_textual(t: &Type) -> bool {
    matches!(t, Type::String | Type::Text | Type::Literals { .. } | Type::Unknown | Type::Json)
}

/// Can `==` ever be true between these?
fn comparable(l: &Type, r: &Type) -> bool {
    let (l, r) = (strip_ref(l), strip_ref(r));
    if matches!(l, Type::None) || matches!(r, Type::None) {
        return true;
    }
    match (l, r) {
        (Type::Literals { values: a }, Type::Literals { values: b }) => a.iter().any(|v| b.contains(v)),
        (a, b) if is_textual(a) && is_textual(b) => true,
        (Type::Int { .. } | Type::Float, Type::Int { .. } | Type::Float) => true,
        (a, b) => compatible(a, b),
    }
}

/// A single literal widens to `string` once it is stored in a value.
fn widen(t: Type) -> Type {
    match t {
        Type::Literals { values } if values.len() == 1 => Type::String,
        other => other,
    }
}

/// `NAME != none` (or `none != NAME`) narrows NAME in what it guards.
fn narrowed_path(cond: &Expr, op: BinaryOp) -> Option<String> {
    let ExprKind::Binary { op: found, lhs, rhs } = &cond.kind else { return None };
    if *found != op {
        return None;
    }
    let path = match (&lhs.kind, &rhs.kind) {
        (_, ExprKind::None) => lhs,
        (ExprKind::None, _) => rhs,
        _ => return None,
    };
    matches!(path.kind, ExprKind::Name { .. } | ExprKind::Field { optional: false, .. })
        .then(|| path.as_written().unwrap_or_else(|| "this value".to_string()))
}

/// True when a statement can leave the enclosing loop (`continue` stays in it; running
/// out of iterations fails the run).
fn can_leave(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Break => true,
        StmtKind::If { arms, else_body } => {
            arms.iter().any(|a| a.body.stmts.iter().any(can_leave))
                || else_body.as_ref().is_some_and(|b| b.stmts.iter().any(can_leave))
        }
        StmtKind::Try { body, catch, .. } => body.stmts.iter().chain(&catch.stmts).any(can_leave),
        StmtKind::Approval { config, .. } => config.entries.iter().any(|e| match &e.kind {
            EntryKind::OnReject { body } => body.stmts.iter().any(can_leave),
            _ => false,
        }),
        StmtKind::Parallel { body } | StmtKind::Branch { body } | StmtKind::Saga { body } => {
            body.stmts.iter().any(can_leave)
        }
        _ => false,
    }
}

/// True when any expression under these statements calls `prev`.
fn uses_prev(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| {
        s.any_expr(&mut |e| {
            matches!(&e.kind, ExprKind::Call { callee, .. } if matches!(&callee.kind, ExprKind::Name { name } if name == "prev"))
        })
    })
}

/// True when `e` is (part of) a chain that contains `?.`.
fn in_optional_chain(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Field { optional: true, .. } => true,
        ExprKind::Field { base, .. } | ExprKind::Index { base, .. } => in_optional_chain(base),
        _ => false,
    }
}

/// A type shown in a label, shortened.
fn short(t: &Type) -> String {
    let text = t.to_string();
    if text.chars().count() > 40 { format!("{}…", text.chars().take(39).collect::<String>()) } else { text }
}
