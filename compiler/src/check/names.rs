//! Name resolution and the step-family schema, in one walk over a flow.

use crate::builtins;
use crate::families::{self, FieldKind};
use crate::interface::{Library, Unresolved};
use crate::types::Type;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use weir_config::Config as Project;
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;
use weir_grammar::closest;

/// Fields of `run`.
const RUN_FIELDS: &[&str] = &["id", "flow", "version", "started_at", "initiator", "trigger", "attempt"];

/// Plain keys an approval takes (besides its special clauses).
const APPROVAL_KEYS: &[&str] = &["summary", "timeout", "description"];

/// Plain keys a callback takes.
const CALLBACK_KEYS: &[&str] = &["timeout"];

/// Plain keys of an `ask CONNECTION { … }` message.
const ASK_KEYS: &[&str] = &["channel", "to", "subject", "text"];

/// What a flow-level name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeclKind {
    Step { value_only: bool },
    Approval,
    Callback,
    Const,
}

impl DeclKind {
    fn noun(self) -> &'static str {
        match self {
            DeclKind::Step { .. } => "step",
            DeclKind::Approval => "approval",
            DeclKind::Callback => "callback",
            DeclKind::Const => "const",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Decl {
    kind: DeclKind,
    span: Span,
    /// Position of the declaring statement: uses before it are too early.
    order: u32,
}

struct Names<'a> {
    diagnostics: Vec<Diagnostic>,
    decls: HashMap<&'a str, Decl>,
    inputs: Vec<(&'a str, Span)>,
    /// Inputs with no default that are not optional.
    required_inputs: Vec<(&'a str, Span)>,
    aliases: HashMap<&'a str, Span>,
    used: HashSet<&'a str>,
    used_inputs: HashSet<&'a str>,
    /// Names bound by enclosing `for`, `catch`, `on failure`.
    locals: Vec<&'a str>,
    /// Inside a webhook trigger's `with`: `payload` is bound.
    payload: bool,
    /// Inside `repeat … until COND`: names defined in this body may be read (the condition
    /// is checked after each iteration).
    until_body: Option<Span>,
    /// Inside `prev(…)`: the previous iteration's value, so order does not matter.
    in_prev: bool,
    /// The project's weir.toml, when it has one.
    config: Option<&'a Project>,
    /// The step whose config is being read: it cannot read its own output (except in its
    /// `undo`, which runs after it).
    defining: Option<&'a str>,
    /// Inside `on failure`: it runs after the run failed, so every step is "earlier".
    after_run: bool,
    /// Flows a `call` may name (`None`: calls are not resolved).
    library: Option<&'a Library<'a>>,
    /// Names computed by sibling branches of enclosing `parallel`s.
    siblings: Vec<Vec<&'a str>>,
    /// How many loops (`for`, `loop`, `repeat`) enclose the current statement.
    loop_depth: usize,
}

/// Check one flow.
pub(super) fn check_flow<'a>(
    flow: &'a Flow,
    config: Option<&'a Project>,
    library: Option<&'a Library<'a>>,
) -> Vec<Diagnostic> {
    let mut names = Names {
        diagnostics: Vec::new(),
        decls: HashMap::default(),
        inputs: Vec::new(),
        required_inputs: Vec::new(),
        aliases: HashMap::default(),
        used: HashSet::default(),
        used_inputs: HashSet::default(),
        locals: Vec::new(),
        payload: false,
        until_body: None,
        in_prev: false,
        config,
        defining: None,
        after_run: false,
        library,
        siblings: Vec::new(),
        loop_depth: 0,
    };
    names.declare_all(&flow.body);
    for stmt in &flow.body {
        names.stmt(stmt);
    }
    names.report_unused();
    names.diagnostics
}

impl<'a> Names<'a> {
    // ------------------------------------------------------------ declarations

    fn declare(&mut self, name: &'a Ident, kind: DeclKind, order: u32) {
        if let Some(previous) = self.decls.get(name.name.as_str()) {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    name.span,
                    format!("`{}` is already the name of a {}", name.name, previous.kind.noun()),
                )
                .with_primary_label(format!("second {} named `{}`", kind.noun(), name.name))
                .with_label(previous.span, "first defined here")
                .with_help("a step's name denotes its output, so names are unique in a flow: rename one"),
            );
            return;
        }
        self.decls.insert(&name.name, Decl { kind, span: name.span, order });
    }

    /// Every name defined anywhere in the flow, so a use can tell "later" from "nowhere".
    fn declare_all(&mut self, stmts: &'a [Stmt]) {
        for stmt in stmts {
            let order = stmt.span.start;
            match &stmt.kind {
                StmtKind::Step(step) => {
                    self.declare(&step.name, DeclKind::Step { value_only: is_value_only(step) }, order);
                    if let Some(config) = &step.config {
                        self.declare_in_config(config);
                    }
                }
                StmtKind::Approval { name, config } => {
                    self.declare(name, DeclKind::Approval, order);
                    self.declare_in_config(config);
                }
                StmtKind::Callback { name, .. } => self.declare(name, DeclKind::Callback, order),
                StmtKind::Const { name, .. } => self.declare(name, DeclKind::Const, order),
                StmtKind::TypeAlias { name, .. } => {
                    if let Some(first) = self.aliases.get(name.name.as_str()) {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                name.span,
                                format!("type `{}` is declared twice", name.name),
                            )
                            .with_primary_label("second declaration")
                            .with_label(*first, "first declared here")
                            .with_help("rename or remove one of them"),
                        );
                    } else {
                        self.aliases.insert(&name.name, name.span);
                    }
                }
                StmtKind::Input { fields } => {
                    for field in &fields.fields {
                        if let Some((_, first)) = self.inputs.iter().find(|(n, _)| *n == field.key.name) {
                            self.diagnostics.push(
                                Diagnostic::new(
                                    Code::DuplicateName,
                                    field.key.span,
                                    format!("input `{}` is declared twice", field.key.name),
                                )
                                .with_primary_label("second declaration")
                                .with_label(*first, "first declared here")
                                .with_help("rename or remove one of them"),
                            );
                        } else {
                            self.inputs.push((&field.key.name, field.key.span));
                            let optional =
                                field.optional || matches!(field.ty.kind, TypeKind::Optional { .. });
                            if field.default.is_none() && !optional {
                                self.required_inputs.push((&field.key.name, field.key.span));
                            }
                        }
                    }
                }
                _ => {}
            }
            for block in stmt.kind.blocks() {
                self.declare_all(&block.stmts);
            }
        }
    }

    fn declare_in_config(&mut self, config: &'a Config) {
        for entry in &config.entries {
            match &entry.kind {
                EntryKind::Undo { body, .. } | EntryKind::OnReject { body } => self.declare_all(&body.stmts),
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------ statements

    fn stmt(&mut self, stmt: &'a Stmt) {
        match &stmt.kind {
            StmtKind::Version { value } | StmtKind::Description { value } => self.template(value),
            StmtKind::Concurrency(Concurrency::Max { max, per, .. }) => {
                self.expr(max);
                if let Some(per) = per {
                    self.expr(per);
                }
            }
            StmtKind::Concurrency(Concurrency::Unlimited { because }) => self.template(because),
            StmtKind::Trigger(trigger) => self.trigger(trigger),
            StmtKind::Input { fields } => self.type_record(fields),
            StmtKind::Output { value } | StmtKind::Timeout { value } | StmtKind::Log { value } => {
                self.expr(value)
            }
            StmtKind::TypeAlias { ty, .. } => self.type_expr(ty),
            StmtKind::Const { value, .. } => self.expr(value),
            StmtKind::OnFailure { var, body } => {
                let outer = std::mem::replace(&mut self.after_run, true);
                self.scoped(var.as_ref(), body);
                self.after_run = outer;
            }
            StmtKind::Step(step) => self.step(step),
            StmtKind::Callback { config, .. } => self.plain_config(config, CALLBACK_KEYS, "a callback"),
            StmtKind::Approval { config, .. } => self.plain_config(config, APPROVAL_KEYS, "an approval"),
            StmtKind::Parallel { body } => {
                // Branches run at the same time: none may read what a sibling computes.
                let per_branch: Vec<Vec<&'a str>> = body.stmts.iter().map(declared_in).collect();
                for (i, branch) in body.stmts.iter().enumerate() {
                    let siblings: Vec<&'a str> = per_branch
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .flat_map(|(_, names)| names.iter().copied())
                        .collect();
                    self.siblings.push(siblings);
                    self.stmt(branch);
                    self.siblings.pop();
                }
            }
            StmtKind::Branch { body } | StmtKind::Saga { body } => self.block(body),
            StmtKind::For { var, iter, parallel, body } => {
                self.expr(iter);
                if let Some(n) = parallel {
                    self.expr(n);
                }
                self.loop_depth += 1;
                self.scoped(Some(var), body);
                self.loop_depth -= 1;
            }
            StmtKind::If { arms, else_body } => {
                for arm in arms {
                    self.expr(&arm.cond);
                    self.block(&arm.body);
                }
                if let Some(body) = else_body {
                    self.block(body);
                }
            }
            StmtKind::Loop { max, body } => {
                if let Some(max) = max {
                    self.expr(max);
                }
                self.loop_depth += 1;
                self.block(body);
                self.loop_depth -= 1;
            }
            StmtKind::Repeat { every, until, max, body } => {
                self.expr(every);
                if let Some(max) = max {
                    self.expr(max);
                }
                self.loop_depth += 1;
                self.block(body);
                self.loop_depth -= 1;
                // The condition is checked after the body, so it may read the body's steps.
                let outer = self.until_body.replace(body.span);
                self.expr(until);
                self.until_body = outer;
            }
            StmtKind::Try { body, var, catch } => {
                self.block(body);
                self.scoped(var.as_ref(), catch);
            }
            StmtKind::Fail { message, code } => {
                self.expr(message);
                if let Some(code) = code {
                    self.expr(code);
                }
            }
            StmtKind::Return { value } => {
                if let Some(value) = value {
                    self.expr(value);
                }
            }
            StmtKind::Sleep { duration } => self.expr(duration),
            StmtKind::Wait { target } => self.wait_target(target, stmt.span),
            StmtKind::Break | StmtKind::Continue | StmtKind::Error(_) => {}
        }
    }

    fn block(&mut self, block: &'a Block) {
        for stmt in &block.stmts {
            self.stmt(stmt);
        }
    }

    fn scoped(&mut self, var: Option<&'a Ident>, block: &'a Block) {
        let pushed = var.is_some();
        if let Some(var) = var {
            self.locals.push(&var.name);
        }
        self.block(block);
        if pushed {
            self.locals.pop();
        }
    }

    fn trigger(&mut self, trigger: &'a Trigger) {
        match trigger {
            Trigger::Manual => {}
            Trigger::Schedule { cron, tz, with } => {
                self.template(cron);
                if let Some(tz) = tz {
                    self.template(tz);
                }
                if let Some(with) = with {
                    self.expr(with);
                }
                self.trigger_inputs(with.as_ref(), "a schedule", trigger_span(cron));
            }
            Trigger::Webhook { path, verify, with, .. } => {
                self.template(path);
                match verify {
                    Some(Verify::Hmac { key, .. }) => self.expr(key),
                    Some(Verify::None { because, .. }) => self.template(because),
                    None => {}
                }
                if let Some(with) = with {
                    self.payload = true;
                    self.expr(with);
                    self.payload = false;
                    // Without `with`, the body is checked against `input` when the hook is called.
                    self.trigger_inputs(Some(with), "this webhook's `with`", trigger_span(path));
                }
            }
        }
    }

    /// A trigger's `with { … }` must name inputs, and together with the inputs' defaults
    /// supply every required input.
    fn trigger_inputs(&mut self, with: Option<&'a Expr>, what: &str, at: Span) {
        let given: Vec<&RecordField> = match with.map(|w| &w.kind) {
            Some(ExprKind::Record { fields }) => fields.iter().collect(),
            _ => Vec::new(),
        };
        for field in &given {
            if !self.inputs.iter().any(|(n, _)| *n == field.key.name) {
                let names: Vec<&str> = self.inputs.iter().map(|(n, _)| *n).collect();
                let mut diagnostic = Diagnostic::new(
                    Code::UnknownInput,
                    field.key.span,
                    format!("the flow has no input `{}` for {what} to set", field.key.name),
                )
                .with_primary_label("unknown input");
                diagnostic = suggest(
                    diagnostic,
                    &field.key.name,
                    &names,
                    "`with { … }` maps values to the flow's inputs",
                );
                self.diagnostics.push(diagnostic);
            }
        }
        for (name, span) in self.required_inputs.clone() {
            if !given.iter().any(|f| f.key.name == name) {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::TriggerMissingInput,
                        at,
                        format!("{what} cannot supply the required input `{name}`"),
                    )
                    .with_primary_label("this trigger starts runs without it")
                    .with_label(span, "required: no default, not optional")
                    .with_help(format!(
                        "give it in `with {{ {name}: … }}`, or a default in `input {{ {name}: TYPE = … }}`"
                    )),
                );
            }
        }
    }

    fn wait_target(&mut self, target: &'a WaitTarget, at: Span) {
        match target {
            WaitTarget::Callback { name } => match self.decls.get(name.name.as_str()).copied() {
                Some(decl) if decl.kind == DeclKind::Callback => {
                    self.used.insert(&name.name);
                    if decl.order > at.start {
                        self.too_early(&name.name, name.span, decl);
                    }
                }
                Some(decl) => self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownName,
                        name.span,
                        format!("`{}` is a {}, not a callback", name.name, decl.kind.noun()),
                    )
                    .with_primary_label("`wait NAME` waits for a callback")
                    .with_label(decl.span, format!("`{}` is defined here", name.name))
                    .with_help("declare a `callback` and wait for it, or use `wait for D` / `wait until T`"),
                ),
                None => {
                    let callbacks: Vec<&str> = self
                        .decls
                        .iter()
                        .filter(|(_, d)| d.kind == DeclKind::Callback)
                        .map(|(n, _)| *n)
                        .collect();
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownName,
                        name.span,
                        format!("no callback is named `{}`", name.name),
                    )
                    .with_primary_label("unknown callback");
                    diagnostic = suggest(
                        diagnostic,
                        &name.name,
                        &callbacks,
                        "declare it first: `callback NAME { output { … } timeout 1h }`",
                    );
                    self.diagnostics.push(diagnostic);
                }
            },
            WaitTarget::For { duration } => self.expr(duration),
            WaitTarget::Until { time } => self.expr(time),
        }
    }

    // ------------------------------------------------------------ steps and configs

    fn step(&mut self, step: &'a Step) {
        let config_entries: &[ConfigEntry] = step.config.as_ref().map_or(&[], |c| &c.entries);
        match &step.call {
            StepCall::Sleep { duration, .. } => self.expr(duration),
            StepCall::Wait { target, span } => self.wait_target(target, *span),
            StepCall::Call { flow, version, span } => {
                self.call_flow(flow, version.as_ref(), *span, config_entries)
            }
            StepCall::Family { family, method, target, span } => {
                if let Some(target) = target {
                    self.template(target);
                }
                match families::family(&family.name) {
                    Some(schema) => {
                        self.family_shape(schema, family, method.as_ref(), target.as_ref(), *span, step)
                    }
                    None => {
                        let names: Vec<&str> = families::FAMILIES.iter().map(|f| f.name).collect();
                        let mut diagnostic = Diagnostic::new(
                            Code::UnknownStepFamily,
                            family.span,
                            format!("`{}` is not a step family", family.name),
                        )
                        .with_primary_label("unknown family");
                        diagnostic = suggest(
                            diagnostic,
                            &family.name,
                            &names,
                            format!("the families are {}", backticked(&names)),
                        );
                        self.diagnostics.push(diagnostic);
                    }
                }
            }
        }
        let schema = match &step.call {
            StepCall::Family { family, .. } => families::family(&family.name),
            StepCall::Call { .. } => families::family("call"),
            StepCall::Sleep { .. } => families::family("sleep"),
            StepCall::Wait { .. } => families::family("wait"),
        };
        let outer = self.defining.replace(&step.name.name);
        for entry in config_entries {
            // The undo runs after the step completed: it may read the step's output.
            self.defining =
                if matches!(entry.kind, EntryKind::Undo { .. }) { None } else { Some(&step.name.name) };
            match &entry.kind {
                EntryKind::Plain { key, value } => {
                    let field = schema.and_then(|s| s.field(&key.name));
                    if let Some(schema) = schema
                        && field.is_none()
                    {
                        let mut keys: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
                        keys.extend(families::COMMON_FIELDS.iter().map(|f| f.name));
                        self.unknown_key(
                            key,
                            &keys,
                            &format!("{} `{}` step", article(schema.name), schema.name),
                        );
                    }
                    let is_connection =
                        field.map_or(key.name == "connection", |f| f.kind == FieldKind::Connection);
                    if is_connection && let ExprKind::Name { name } = &value.kind {
                        // A connection name, resolved against weir.toml, not a value.
                        let accepted = schema.map_or(&[][..], |s| s.connection_types);
                        let what = schema
                            .map_or(String::new(), |s| format!("{} `{}` step", article(s.name), s.name));
                        self.connection(name, value.span, accepted, &what);
                        continue;
                    }
                    self.expr(value);
                }
                other => self.common_entry(other),
            }
        }
        self.defining = outer;
        if let Some(schema) = schema {
            for required in schema.fields.iter().filter(|f| f.required) {
                let present = config_entries.iter().any(|e| entry_key(&e.kind) == Some(required.name));
                if !present {
                    let at = step.config.as_ref().map_or(step.name.span, |c| {
                        Span::new(c.span.start as usize, c.span.start as usize + 1)
                    });
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::MissingStepField,
                            at,
                            format!(
                                "{} `{}` step needs `{}`",
                                article(schema.name),
                                schema.name,
                                required.name
                            ),
                        )
                        .with_primary_label(format!("`{}` is missing here", required.name))
                        .with_label(step.name.span, format!("in step `{}`", step.name.name))
                        .with_help(format!("add `{} …` ({})", required.name, required.doc)),
                    );
                }
            }
        }
    }

    /// Method and target of a family step.
    fn family_shape(
        &mut self,
        schema: &families::FamilySchema,
        family: &Ident,
        method: Option<&Ident>,
        target: Option<&Template>,
        span: Span,
        step: &Step,
    ) {
        let methods: Vec<&str> = schema.methods.iter().map(|m| m.name).collect();
        match method {
            Some(m) if methods.is_empty() => self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidMethod,
                    m.span,
                    format!("{} `{}` step takes no method", article(schema.name), schema.name),
                )
                .with_primary_label("not expected here")
                .with_help(format!("remove `{}`", m.name)),
            ),
            Some(m) if !methods.contains(&m.name.as_str()) => self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidMethod,
                    m.span,
                    format!("`{}` is not a method of `{}`", m.name, schema.name),
                )
                .with_primary_label("unknown method")
                .with_help(match methods.iter().find(|x| x.eq_ignore_ascii_case(&m.name)) {
                    Some(x) => format!("did you mean `{x}`?"),
                    None => format!("`{}` takes {}", schema.name, one_of(&methods)),
                }),
            ),
            None if !methods.is_empty() => self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidMethod,
                    family.span,
                    format!("{} `{}` step needs a method", article(schema.name), schema.name),
                )
                .with_primary_label("method missing after this")
                .with_help(format!("write {} after `{}`", one_of(&methods), schema.name)),
            ),
            _ => {}
        }
        match (schema.target, target) {
            (Some(what), None) => self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidMethod,
                    span,
                    format!("{} `{}` step needs a target string: {what}", article(schema.name), schema.name),
                )
                .with_primary_label("target missing")
                .with_label(step.name.span, format!("in step `{}`", step.name.name))
                .with_help(format!(
                    "write it after the method, e.g. `{} {} \"…\"`",
                    schema.name,
                    method.map_or(methods.first().copied().unwrap_or(""), |m| m.name.as_str())
                )),
            ),
            (None, Some(t)) => self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidMethod,
                    t.span,
                    format!("{} `{}` step takes no target string", article(schema.name), schema.name),
                )
                .with_primary_label("not expected here")
                .with_help("put what it means in the step's config block"),
            ),
            _ => {}
        }
    }

    fn common_entry(&mut self, entry: &'a EntryKind) {
        match entry {
            EntryKind::Plain { value, .. } => self.expr(value),
            EntryKind::List { values, .. } => values.iter().for_each(|v| self.expr(v)),
            EntryKind::Output { ty } => self.type_expr(ty),
            EntryKind::Input { fields } | EntryKind::Files { fields } => self.type_record(fields),
            EntryKind::Retry(retry) => {
                self.expr(&retry.count);
                if let Some(backoff) = &retry.backoff {
                    self.expr(&backoff.base);
                    if let Some(max) = &backoff.max {
                        self.expr(max);
                    }
                }
            }
            EntryKind::Effect { because, .. } | EntryKind::Unattended { because } => self.template(because),
            EntryKind::Undo { body, .. } | EntryKind::OnReject { body } => self.block(body),
            EntryKind::Deciders(deciders) => {
                for decider in &deciders.who {
                    self.decider(decider);
                }
                for rule in &deciders.rules {
                    match rule {
                        DeciderRule::Exclude { who, .. } => self.expr(who),
                        DeciderRule::Min { count, .. } => self.expr(count),
                        DeciderRule::NotInitiator { .. } => {}
                    }
                }
            }
            EntryKind::Ask { connection, config } => {
                self.connection(
                    &connection.name,
                    connection.span,
                    &["slack", "webhook", "smtp"],
                    "an approval's `ask`",
                );
                if let Some(config) = config {
                    self.plain_config(config, ASK_KEYS, "an `ask` message");
                }
            }
            EntryKind::Default { .. } => {}
        }
    }

    /// An approval's, callback's or ask's config: plain keys from a fixed list.
    fn plain_config(&mut self, config: &'a Config, keys: &[&str], what: &str) {
        for entry in &config.entries {
            if let EntryKind::Plain { key, .. } = &entry.kind
                && !keys.contains(&key.name.as_str())
            {
                self.unknown_key(key, keys, what);
            }
            self.common_entry(&entry.kind);
        }
    }

    fn unknown_key(&mut self, key: &Ident, keys: &[&str], what: &str) {
        let mut diagnostic = Diagnostic::new(
            Code::UnknownConfigField,
            key.span,
            format!("{what} has no config field `{}`", key.name),
        )
        .with_primary_label("unknown field");
        diagnostic = suggest(diagnostic, &key.name, keys, format!("its fields are {}", backticked(keys)));
        self.diagnostics.push(diagnostic);
    }

    // ------------------------------------------------------------ types

    fn type_record(&mut self, record: &'a TypeRecord) {
        for field in &record.fields {
            self.type_expr(&field.ty);
            if let Some(default) = &field.default {
                self.expr(default);
            }
        }
    }

    fn type_expr(&mut self, ty: &'a TypeExpr) {
        match &ty.kind {
            TypeKind::Name { name } => {
                if Type::builtin(&name.name).is_none() && !self.aliases.contains_key(name.name.as_str()) {
                    let mut candidates: Vec<&str> = Type::BUILTIN_NAMES.to_vec();
                    candidates.extend(self.aliases.keys().copied());
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownType,
                        name.span,
                        format!("`{}` is not a type", name.name),
                    )
                    .with_primary_label("unknown type");
                    diagnostic = suggest(
                        diagnostic,
                        &name.name,
                        &candidates,
                        format!(
                            "declare it with `type NAME = …`, or use a built-in type: {}",
                            backticked(Type::BUILTIN_NAMES)
                        ),
                    );
                    self.diagnostics.push(diagnostic);
                }
            }
            TypeKind::Range { base, .. } => {
                if base.name != "int" {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::UnknownType,
                            base.span,
                            format!("`{} in …` is not a type", base.name),
                        )
                        .with_primary_label("only `int` takes a range")
                        .with_help("write `int in LOW..HIGH`"),
                    );
                }
            }
            TypeKind::List { item } => self.type_expr(item),
            TypeKind::Record(record) => self.type_record(record),
            TypeKind::Union { options } => options.iter().for_each(|o| self.type_expr(o)),
            TypeKind::Optional { inner } | TypeKind::Paren { inner } => self.type_expr(inner),
            TypeKind::Res { .. } | TypeKind::Literal { .. } => {}
        }
    }

    // ------------------------------------------------------------ expressions

    fn template(&mut self, template: &'a Template) {
        for part in &template.parts {
            if let TemplatePart::Hole { expr, .. } = part {
                self.expr(expr);
            }
        }
    }

    fn expr(&mut self, expr: &'a Expr) {
        match &expr.kind {
            ExprKind::Name { name } => self.name(name, expr.span),
            ExprKind::Field { base, name, .. } => {
                if let ExprKind::Name { name: root } = &base.kind
                    && !self.locals.contains(&root.as_str())
                    && !self.decls.contains_key(root.as_str())
                {
                    match root.as_str() {
                        "input" => return self.input_field(name),
                        "run" => return self.run_field(name),
                        _ => {}
                    }
                }
                self.expr(base);
            }
            ExprKind::Index { base, index } => {
                self.expr(base);
                self.expr(index);
            }
            ExprKind::Call { callee, args } => {
                let is_prev = matches!(&callee.kind, ExprKind::Name { name } if name == "prev");
                if is_prev {
                    self.prev_call(args, expr.span);
                }
                let outer = self.in_prev;
                self.in_prev |= is_prev;
                for arg in args {
                    self.expr(arg);
                }
                self.in_prev = outer;
                match &callee.kind {
                    ExprKind::Name { name } => self.call(name, callee.span, args.len(), expr.span),
                    ExprKind::Field { base, name, .. } => {
                        self.expr(base);
                        let hint = if builtins::builtin(&name.name).is_some() {
                            format!("builtins take the value as an argument: write `{}(…)`", name.name)
                        } else {
                            "values have no methods; call a builtin with the value as an argument".to_string()
                        };
                        self.diagnostics.push(
                            Diagnostic::new(
                                Code::UnknownFunction,
                                name.span,
                                format!("`.{}(…)` is not a function", name.name),
                            )
                            .with_primary_label("method call")
                            .with_help(hint),
                        );
                    }
                    _ => self.expr(callee),
                }
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Paren { inner } => self.expr(inner),
            ExprKind::List { items } => items.iter().for_each(|i| self.expr(i)),
            ExprKind::Record { fields } => fields.iter().for_each(|f| self.expr(&f.value)),
            ExprKind::String(template) => self.template(template),
            ExprKind::Int { .. }
            | ExprKind::Float { .. }
            | ExprKind::Duration { .. }
            | ExprKind::Bool { .. }
            | ExprKind::None
            | ExprKind::Error => {}
            ExprKind::Secret { name } => self.secret(name),
        }
    }

    fn name(&mut self, name: &'a str, span: Span) {
        if self.locals.contains(&name) {
            return;
        }
        if let Some(decl) = self.decls.get(name).copied() {
            self.used.insert(name);
            let in_until_body = self.until_body.is_some_and(|b| b.contains(decl.span));
            if self.defining == Some(name) && !self.in_prev {
                self.diagnostics.push(
                    Diagnostic::new(Code::UsedBeforeDefined, span, format!("step `{name}` reads its own output"))
                        .with_primary_label("not computed yet")
                        .with_label(decl.span, "while this step runs")
                        .with_help("a step's output exists once it completes; in a loop, `prev(NAME)` reads the previous iteration's"),
                );
            } else if self.siblings.iter().any(|s| s.contains(&name)) && !self.in_prev {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UsedBeforeDefined,
                        span,
                        format!("`{name}` is computed by another branch of the same `parallel`"),
                    )
                    .with_primary_label("not available in this branch")
                    .with_label(decl.span, "computed in a sibling branch, at the same time")
                    .with_help(
                        "read it after the `parallel`, or put both steps in one `branch { … }` in order",
                    ),
                );
            } else if decl.order > span.start && !in_until_body && !self.in_prev && !self.after_run {
                self.too_early(name, span, decl);
            }
            return;
        }
        match name {
            "input" => {
                // `input` as a whole record: every input counts as read.
                let all: Vec<&'a str> = self.inputs.iter().map(|(n, _)| *n).collect();
                self.used_inputs.extend(all);
                return;
            }
            "run" => return,
            "payload" if self.payload => return,
            _ => {}
        }
        let mut candidates: Vec<&str> = self.decls.keys().copied().collect();
        candidates.extend(self.locals.iter().copied());
        candidates.extend(["input", "run"]);
        let mut diagnostic = Diagnostic::new(Code::UnknownName, span, format!("`{name}` is not defined"))
            .with_primary_label("unknown name");
        diagnostic = if name == "payload" {
            diagnostic.with_help("`payload` exists only in a webhook trigger's `with { … }`")
        } else if builtins::builtin(name).is_some() {
            diagnostic.with_help(format!("`{name}` is a function: call it as `{name}(…)`"))
        } else {
            match closest(name, &candidates) {
                Some(c) => diagnostic.with_help(format!("did you mean `{c}`?")),
                None => diagnostic.with_help(
                    "names are steps, approvals, callbacks, consts, loop variables, `input` and `run`",
                ),
            }
        };
        self.diagnostics.push(diagnostic);
    }

    /// `prev(STEP)`: only in a loop, and only of a step.
    fn prev_call(&mut self, args: &[Expr], span: Span) {
        if self.loop_depth == 0 {
            self.diagnostics.push(
                Diagnostic::new(Code::PrevOutsideLoop, span, "`prev(…)` is used outside a loop")
                    .with_primary_label("no previous iteration here")
                    .with_help("`prev(STEP)` reads a step's output from the previous iteration of the enclosing `for`, `loop` or `repeat`"),
            );
            return;
        }
        let names_a_step = matches!(args, [Expr { kind: ExprKind::Name { name }, .. }]
            if self.decls.get(name.as_str()).is_some_and(|d| matches!(d.kind, DeclKind::Step { .. } | DeclKind::Approval)));
        if !names_a_step && args.len() == 1 {
            self.diagnostics.push(
                Diagnostic::new(Code::PrevOutsideLoop, args[0].span, "`prev(…)` takes the name of a step")
                    .with_primary_label("not a step")
                    .with_help("write `prev(STEP)`, then read its fields: `prev(draft)?.text`"),
            );
        }
    }

    fn too_early(&mut self, name: &str, span: Span, decl: Decl) {
        self.diagnostics.push(
            Diagnostic::new(
                Code::UsedBeforeDefined,
                span,
                format!("`{name}` is used before the {} that defines it", decl.kind.noun()),
            )
            .with_primary_label("used here")
            .with_label(decl.span, "defined later, here")
            .with_help(format!("move the {} above this use", decl.kind.noun())),
        );
    }

    fn input_field(&mut self, field: &'a Ident) {
        if self.inputs.iter().any(|(n, _)| *n == field.name) {
            self.used_inputs.insert(&field.name);
            return;
        }
        let names: Vec<&str> = self.inputs.iter().map(|(n, _)| *n).collect();
        let mut diagnostic = Diagnostic::new(
            Code::UnknownInput,
            field.span,
            format!("the flow has no input `{}`", field.name),
        )
        .with_primary_label("unknown input");
        diagnostic = match closest(&field.name, &names) {
            Some(c) => diagnostic.with_help(format!("did you mean `input.{c}`?")),
            None if names.is_empty() => diagnostic.with_help("declare it: `input { NAME: TYPE }`"),
            None => diagnostic.with_help(format!("the inputs are {}", backticked(&names))),
        };
        self.diagnostics.push(diagnostic);
    }

    fn run_field(&mut self, field: &Ident) {
        if RUN_FIELDS.contains(&field.name.as_str()) {
            return;
        }
        let mut diagnostic =
            Diagnostic::new(Code::UnknownName, field.span, format!("`run` has no field `{}`", field.name))
                .with_primary_label("unknown field of `run`");
        diagnostic = match closest(&field.name, RUN_FIELDS) {
            Some(c) => diagnostic.with_help(format!("did you mean `run.{c}`?")),
            None => diagnostic.with_help(format!("`run` has {}", backticked(RUN_FIELDS))),
        };
        self.diagnostics.push(diagnostic);
    }

    fn call(&mut self, name: &str, span: Span, args: usize, whole: Span) {
        let Some(builtin) = builtins::builtin(name) else {
            let names = builtins::names();
            let mut diagnostic =
                Diagnostic::new(Code::UnknownFunction, span, format!("`{name}` is not a builtin function"))
                    .with_primary_label("unknown function");
            let prefix =
                names.iter().find(|b| name.starts_with(&b[..b.len().min(3)]) && b.len() >= 3).copied();
            diagnostic = match closest(name, &names).or(prefix) {
                Some(c) => diagnostic.with_help(format!("did you mean `{c}`?")),
                None => diagnostic.with_help("run `weir explain unknown-function` for the list of builtins"),
            };
            self.diagnostics.push(diagnostic);
            return;
        };
        if args < builtin.min_args || args > builtin.max_args {
            let wanted = if builtin.min_args == builtin.max_args {
                format!("{}", builtin.min_args)
            } else {
                format!("{} to {}", builtin.min_args, builtin.max_args)
            };
            self.diagnostics.push(
                Diagnostic::new(
                    Code::WrongArgumentCount,
                    whole,
                    format!(
                        "`{name}` takes {wanted} argument{}, but this call gives {args}",
                        if wanted == "1" { "" } else { "s" }
                    ),
                )
                .with_primary_label("wrong number of arguments")
                .with_help(format!("`{name}`: {}", builtin.doc)),
            );
        }
    }

    // ------------------------------------------------------------ calls

    /// `call SLUG@RANGE { input { … } }` against the library.
    fn call_flow(&mut self, slug: &Ident, range: Option<&Ident>, span: Span, entries: &[ConfigEntry]) {
        let Some(library) = self.library else { return };
        let iface = match library.resolve(&slug.name, range.map(|r| r.name.as_str())) {
            Ok(iface) => iface,
            Err(Unresolved::UnknownFlow) => {
                let slugs = library.slugs();
                let mut diagnostic = Diagnostic::new(
                    Code::UnknownFlow,
                    slug.span,
                    format!("no flow is named `{}`", slug.name),
                )
                .with_primary_label("unknown flow");
                diagnostic = suggest(
                    diagnostic,
                    &slug.name,
                    &slugs,
                    "a called flow must be checked with this one: in the same directory tree as its weir.toml, or among the paths given",
                );
                self.diagnostics.push(diagnostic);
                return;
            }
            Err(Unresolved::BadRange) => {
                let at = range.map_or(span, |r| r.span);
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::NoMatchingVersion,
                        at,
                        format!("`{}` is not a version range", range.map_or("", |r| r.name.as_str())),
                    )
                    .with_primary_label("not semver")
                    .with_help("write a semver range such as `^1`, `~1.4` or `>=1.2, <2`"),
                );
                return;
            }
            Err(Unresolved::NoMatchingVersion(versions)) => {
                let at = range.map_or(span, |r| r.span);
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::NoMatchingVersion,
                        at,
                        format!(
                            "no version of `{}` matches `{}`",
                            slug.name,
                            range.map_or("", |r| r.name.as_str())
                        ),
                    )
                    .with_primary_label("no matching version")
                    .with_help(if versions.is_empty() {
                        "the flow declares no valid `version \"SEMVER\"`".to_string()
                    } else {
                        format!("versions found: {}", versions.join(", "))
                    }),
                );
                return;
            }
        };
        let input = entries.iter().find_map(|e| match &e.kind {
            EntryKind::Plain { key, value } if key.name == "input" => Some(value),
            _ => None,
        });
        let given: Vec<&RecordField> = match input.map(|v| &v.kind) {
            Some(ExprKind::Record { fields }) => fields.iter().collect(),
            // A record built elsewhere (`input args`): its fields are the type pass's business.
            Some(_) => return,
            None => Vec::new(),
        };
        let inputs = iface.inputs();
        for field in &given {
            if !inputs.iter().any(|(n, _, _)| *n == field.key.name) {
                let names: Vec<&str> = inputs.iter().map(|(n, _, _)| n.as_str()).collect();
                let mut diagnostic = Diagnostic::new(
                    Code::UnknownInput,
                    field.key.span,
                    format!("`{}` has no input `{}`", slug.name, field.key.name),
                )
                .with_primary_label("unknown input of the called flow");
                diagnostic = suggest(
                    diagnostic,
                    &field.key.name,
                    &names,
                    format!("its inputs are {}", backticked(&names)),
                );
                self.diagnostics.push(diagnostic);
            }
        }
        for (name, ty, required) in inputs {
            if *required && !given.iter().any(|f| f.key.name == *name) {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::CallMissingInput,
                        slug.span,
                        format!("the call of `{}` does not give its required input `{name}`", slug.name),
                    )
                    .with_primary_label(format!("`{name}: {ty}` missing"))
                    .with_help(format!("add it: `input {{ {name}: … }}`")),
                );
            }
        }
    }

    // ------------------------------------------------------------ weir.toml

    /// A connection name against weir.toml: declared, and of a type the step can use.
    fn connection(&mut self, name: &str, span: Span, accepted: &[&str], what: &str) {
        let Some(config) = self.config else { return };
        match config.connections.get(name) {
            Some(connection) => {
                let kind = connection.kind.as_str();
                if !accepted.is_empty() && !accepted.contains(&kind) {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::WrongConnectionType,
                            span,
                            format!("connection `{name}` is of type `{kind}`, which {what} cannot use"),
                        )
                        .with_primary_label(format!("a `{kind}` connection"))
                        .with_help(format!("use a connection of type {}", one_of(accepted))),
                    );
                }
            }
            None if config.declares_connection(name) => {}
            None => {
                let names: Vec<&str> = config.connections.keys().map(String::as_str).collect();
                let mut diagnostic = Diagnostic::new(
                    Code::UnknownConnection,
                    span,
                    format!("weir.toml declares no connection `{name}`"),
                )
                .with_primary_label("unknown connection");
                diagnostic = suggest(
                    diagnostic,
                    name,
                    &names,
                    format!("declare it in weir.toml: `[connections.{name}]` with a `type`"),
                );
                self.diagnostics.push(diagnostic);
            }
        }
    }

    fn secret(&mut self, name: &Ident) {
        let Some(config) = self.config else { return };
        if config.secrets.contains_key(&name.name) {
            return;
        }
        let names: Vec<&str> = config.secrets.keys().map(String::as_str).collect();
        let mut diagnostic = Diagnostic::new(
            Code::UndeclaredSecret,
            name.span,
            format!("weir.toml's `[secrets]` has no `{}`", name.name),
        )
        .with_primary_label("undeclared secret");
        diagnostic = suggest(
            diagnostic,
            &name.name,
            &names,
            format!("declare where it comes from: `[secrets] {} = \"env:NAME\"`", name.name),
        );
        self.diagnostics.push(diagnostic);
    }

    fn decider(&mut self, decider: &Decider) {
        let Some(config) = self.config else { return };
        let name = match &decider.name.kind {
            ExprKind::Name { name } => name.clone(),
            ExprKind::String(template) => match template.as_plain() {
                Some(name) => name,
                None => return,
            },
            _ => return,
        };
        let kind = decider.kind.as_ref().map(|k| k.name.as_str());
        let is_group = config.groups.contains_key(&name);
        let is_person = config.people.contains_key(&name);
        let (found, noun, pool): (bool, &str, Vec<&str>) = match kind {
            Some("group") => (is_group, "group", config.groups.keys().map(String::as_str).collect()),
            Some("person") => (is_person, "person", config.people.keys().map(String::as_str).collect()),
            _ => (
                is_group || is_person,
                "person or group",
                config.groups.keys().chain(config.people.keys()).map(String::as_str).collect(),
            ),
        };
        if found {
            return;
        }
        let mut diagnostic = Diagnostic::new(
            Code::UnknownDecider,
            decider.name.span,
            format!("weir.toml declares no {noun} `{name}`"),
        )
        .with_primary_label(format!("unknown {noun}"));
        diagnostic = suggest(
            diagnostic,
            &name,
            &pool,
            "declare deciders in weir.toml under `[people.NAME]` or `[groups.NAME]`",
        );
        self.diagnostics.push(diagnostic);
    }

    // ------------------------------------------------------------ unused

    fn report_unused(&mut self) {
        for (name, span) in &self.inputs {
            if !self.used_inputs.contains(name) {
                self.diagnostics.push(
                    Diagnostic::new(Code::UnusedInput, *span, format!("input `{name}` is never read"))
                        .with_primary_label("declared here")
                        .with_help("remove it, or read it as `input.NAME`"),
                );
            }
        }
        let mut unused: Vec<(&&str, &Decl)> = self
            .decls
            .iter()
            .filter(|(name, decl)| {
                matches!(decl.kind, DeclKind::Step { value_only: true }) && !self.used.contains(*name)
            })
            .collect();
        unused.sort_by_key(|(_, d)| d.span.start);
        for (name, decl) in unused {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UnusedStep,
                    decl.span,
                    format!("the value of step `{name}` is never used"),
                )
                .with_primary_label("computed, then ignored")
                .with_help("its only purpose is its value: use it, or remove the step"),
            );
        }
    }
}

/// Where to point for a trigger: its first string (cron or path).
fn trigger_span(template: &Template) -> Span {
    template.span
}

/// Names of the steps, approvals and callbacks a statement defines, nested ones included.
fn declared_in(stmt: &Stmt) -> Vec<&str> {
    let mut out = Vec::new();
    match &stmt.kind {
        StmtKind::Step(step) => out.push(step.name.name.as_str()),
        StmtKind::Approval { name, .. } | StmtKind::Callback { name, .. } => out.push(name.name.as_str()),
        _ => {}
    }
    for block in stmt.kind.blocks() {
        for inner in &block.stmts {
            out.extend(declared_in(inner));
        }
    }
    out
}

/// The key of an entry, for "is this required field present".
fn entry_key(kind: &EntryKind) -> Option<&str> {
    match kind {
        EntryKind::Plain { key, .. } | EntryKind::List { key, .. } => Some(key.name.as_str()),
        EntryKind::Output { .. } => Some("output"),
        EntryKind::Files { .. } => Some("files"),
        EntryKind::Input { .. } => Some("input"),
        _ => None,
    }
}

/// Steps whose only purpose is their value: function, kv get, and reads.
fn is_value_only(step: &Step) -> bool {
    match &step.call {
        StepCall::Family { family, method, .. } => match families::family(&family.name) {
            Some(schema) if schema.name == "kv" => method.as_ref().is_some_and(|m| m.name == "get"),
            Some(schema) if matches!(schema.name, "function" | "search" | "llm") => true,
            Some(schema) if schema.name == "http" => {
                schema.effect_of(method.as_ref().map(|m| m.name.as_str())) == families::Effect::Read
            }
            _ => false,
        },
        _ => false,
    }
}

/// "an `http` step", "a `kv` step": the article as the family name is read aloud.
fn article(family: &str) -> &'static str {
    if matches!(family, "http" | "llm" | "ssh") { "an" } else { "a" }
}

/// "did you mean `X`?" when a candidate is close to `word`, else the `otherwise` help.
fn suggest(
    diagnostic: Diagnostic,
    word: &str,
    candidates: &[&str],
    otherwise: impl Into<String>,
) -> Diagnostic {
    match closest(word, candidates) {
        Some(c) => diagnostic.with_help(format!("did you mean `{c}`?")),
        None => diagnostic.with_help(otherwise),
    }
}

/// "`a`, `b` or `c`".
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}
