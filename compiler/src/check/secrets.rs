//! Credentials written in a flow (design.md §3, secrets; `credential-in-flow`): every
//! string literal and every text part of a template is scanned with the detector weir.toml
//! uses too ([`weir_config::credential`]: known token prefixes, private keys, JWTs,
//! Authorization values, passwords and tokens in URLs, long random strings), and a literal
//! given to something whose name says it is a credential (a header such as `Authorization`
//! or `X-Api-Key`, an ssh `env` entry whose name has PASSWORD, SECRET, TOKEN or KEY in it, a
//! record field or const named `password` or `api_key`, a field typed `secret`) is one too.
//!
//! A diagnostic never holds the credential: the message shows at most its
//! [`visible_prefix`], and its span covers the credential so that renderers, given
//! [`weir_config::redact`]ed text, mask it in the source excerpt.
//!
//! The detector reads decoded text; when a text part was written with escapes or is part of
//! a multi-line string (so decoded offsets are not source offsets), the whole part is the
//! span, which masks more than the credential but never less.

use crate::families;
use weir_config::credential::{
    self, is_credential_env, is_credential_header, is_credential_key, is_harmless_literal, visible_prefix,
};
use weir_diagnostics::{Code, Diagnostic, Span};
use weir_grammar::ast::*;

/// What a value is given to, when its name says it holds a credential.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// Nothing in particular.
    None,
    /// The record of an http step's `headers`.
    Headers,
    /// The record of an ssh step's `env`.
    Env,
    /// A header's value.
    Header(&'a str),
    /// An environment variable's value.
    EnvVar(&'a str),
    /// A record field (a body, a query, a const record, a default).
    Field(&'a str),
    /// A flow-level const.
    Const(&'a str),
    /// A config field typed `secret` (`auth`, `verify hmac(…)`).
    SecretField(&'a str),
}

impl Place<'_> {
    /// How the place reads in a message, when a literal there is a credential.
    fn credential_place(&self) -> Option<String> {
        match *self {
            Place::Header(name) if is_credential_header(name) => Some(format!("the header `{name}`")),
            Place::EnvVar(name) if is_credential_env(name) => {
                Some(format!("the environment variable `{name}`"))
            }
            Place::Field(name) if is_credential_key(name) => Some(format!("the field `{name}`")),
            Place::Const(name) if is_credential_key(name) => Some(format!("the const `{name}`")),
            Place::SecretField(name) => Some(format!("`{name}`")),
            _ => None,
        }
    }
}

/// Check one flow for credentials written in it.
pub(super) fn check_flow(flow: &Flow) -> Vec<Diagnostic> {
    let mut scanner = Scanner { out: Vec::new() };
    scanner.stmts(&flow.body);
    scanner.out
}

struct Scanner {
    out: Vec<Diagnostic>,
}

const HELP: &str = "put the value in weir.toml `[secrets]` as `NAME = \"env:VARIABLE\"` and write `secret NAME` where a field is typed `secret` (`auth`, a header, ssh `env`, webhook verification)";
const NOTE: &str = "weir never prints the value; revoke it if this file was ever shared";

impl Scanner {
    fn stmts(&mut self, stmts: &[Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn block(&mut self, block: &Block) {
        self.stmts(&block.stmts);
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Version { value } | StmtKind::Description { value } => self.template(value),
            StmtKind::Concurrency(Concurrency::Max { max, per, .. }) => {
                self.expr(max, Place::None);
                if let Some(per) = per {
                    self.expr(per, Place::None);
                }
            }
            StmtKind::Concurrency(Concurrency::Unlimited { because }) => self.template(because),
            StmtKind::Trigger(Trigger::Manual) => {}
            StmtKind::Trigger(Trigger::Schedule { cron, tz, with }) => {
                self.template(cron);
                if let Some(tz) = tz {
                    self.template(tz);
                }
                if let Some(with) = with {
                    self.expr(with, Place::None);
                }
            }
            StmtKind::Trigger(Trigger::Webhook { path, verify, with, .. }) => {
                self.template(path);
                match verify {
                    Some(Verify::Hmac { key, .. }) => self.expr(key, Place::SecretField("verify hmac(…)")),
                    Some(Verify::None { because, .. }) => self.template(because),
                    None => {}
                }
                if let Some(with) = with {
                    self.expr(with, Place::None);
                }
            }
            StmtKind::Input { fields } => self.type_record(fields),
            StmtKind::Output { value } | StmtKind::Log { value } | StmtKind::Timeout { value } => {
                self.expr(value, Place::None)
            }
            StmtKind::TypeAlias { .. } | StmtKind::Break | StmtKind::Continue | StmtKind::Error(_) => {}
            StmtKind::Const { name, value } => self.expr(value, Place::Const(&name.name)),
            StmtKind::Step(step) => self.step(step),
            StmtKind::Callback { config, .. } | StmtKind::Approval { config, .. } => {
                self.config(config, None)
            }
            StmtKind::For { iter, parallel, .. } => {
                self.expr(iter, Place::None);
                if let Some(n) = parallel {
                    self.expr(n, Place::None);
                }
            }
            StmtKind::If { arms, .. } => {
                for arm in arms {
                    self.expr(&arm.cond, Place::None);
                }
            }
            StmtKind::Loop { max, .. } => {
                if let Some(max) = max {
                    self.expr(max, Place::None);
                }
            }
            StmtKind::Repeat { every, until, max, .. } => {
                self.expr(every, Place::None);
                self.expr(until, Place::None);
                if let Some(max) = max {
                    self.expr(max, Place::None);
                }
            }
            StmtKind::Fail { message, code } => {
                self.expr(message, Place::None);
                if let Some(code) = code {
                    self.expr(code, Place::None);
                }
            }
            StmtKind::Return { value } => {
                if let Some(value) = value {
                    self.expr(value, Place::None);
                }
            }
            StmtKind::Sleep { duration } => self.expr(duration, Place::None),
            StmtKind::Wait { target } => self.wait(target),
            StmtKind::OnFailure { .. }
            | StmtKind::Parallel { .. }
            | StmtKind::Branch { .. }
            | StmtKind::Saga { .. }
            | StmtKind::Try { .. } => {}
        }
        for block in stmt.kind.blocks() {
            self.block(block);
        }
    }

    fn wait(&mut self, target: &WaitTarget) {
        match target {
            WaitTarget::Callback { .. } => {}
            WaitTarget::For { duration } => self.expr(duration, Place::None),
            WaitTarget::Until { time } => self.expr(time, Place::None),
        }
    }

    fn step(&mut self, step: &Step) {
        let family = match &step.call {
            StepCall::Family { family, target, .. } => {
                if let Some(target) = target {
                    self.template(target);
                }
                families::family(&family.name)
            }
            StepCall::Sleep { duration, .. } => {
                self.expr(duration, Place::None);
                None
            }
            StepCall::Wait { target, .. } => {
                self.wait(target);
                None
            }
            StepCall::Call { .. } => None,
        };
        if let Some(config) = &step.config {
            self.config(config, family);
        }
    }

    fn config(&mut self, config: &Config, family: Option<&'static families::FamilySchema>) {
        for entry in &config.entries {
            match &entry.kind {
                EntryKind::Plain { key, value } => {
                    let secret_typed = family
                        .and_then(|f| f.field(&key.name))
                        .is_some_and(|f| f.kind == families::FieldKind::Secret);
                    let place = match key.name.as_str() {
                        "headers" => Place::Headers,
                        "env" => Place::Env,
                        name if secret_typed => Place::SecretField(name),
                        name => Place::Field(name),
                    };
                    self.expr(value, place);
                }
                EntryKind::List { values, .. } => {
                    for value in values {
                        self.expr(value, Place::None);
                    }
                }
                EntryKind::Input { fields } | EntryKind::Files { fields } => self.type_record(fields),
                EntryKind::Retry(retry) => {
                    self.expr(&retry.count, Place::None);
                    for class in &retry.on {
                        if let RetryClass::Quoted(t) = class {
                            self.template(t);
                        }
                    }
                    if let Some(backoff) = &retry.backoff {
                        self.expr(&backoff.base, Place::None);
                        if let Some(max) = &backoff.max {
                            self.expr(max, Place::None);
                        }
                    }
                }
                EntryKind::Effect { because, .. } | EntryKind::Unattended { because } => {
                    self.template(because)
                }
                EntryKind::Undo { body, .. } | EntryKind::OnReject { body } => self.block(body),
                EntryKind::Deciders(deciders) => {
                    for who in &deciders.who {
                        self.expr(&who.name, Place::None);
                    }
                    for rule in &deciders.rules {
                        match rule {
                            DeciderRule::Exclude { who, .. } => self.expr(who, Place::None),
                            DeciderRule::Min { count, .. } => self.expr(count, Place::None),
                            DeciderRule::NotInitiator { .. } => {}
                        }
                    }
                }
                EntryKind::Ask { config: Some(config), .. } => self.config(config, None),
                EntryKind::Ask { config: None, .. }
                | EntryKind::Output { .. }
                | EntryKind::Default { .. } => {}
            }
        }
    }

    fn type_record(&mut self, record: &TypeRecord) {
        for field in &record.fields {
            if let Some(default) = &field.default {
                self.expr(default, Place::Field(&field.key.name));
            }
        }
    }

    fn expr(&mut self, expr: &Expr, place: Place<'_>) {
        match &expr.kind {
            ExprKind::String(template) => {
                if !self.scan_template(template) {
                    self.literal(template, place);
                }
            }
            ExprKind::Record { fields } => {
                for field in fields {
                    let key = field.key.name.as_str();
                    let inner = match place {
                        Place::Headers => Place::Header(key),
                        Place::Env => Place::EnvVar(key),
                        _ => Place::Field(key),
                    };
                    self.expr(&field.value, inner);
                }
            }
            ExprKind::List { items } => {
                for item in items {
                    self.expr(item, Place::None);
                }
            }
            ExprKind::Field { base, .. } => self.expr(base, Place::None),
            ExprKind::Index { base, index } => {
                self.expr(base, Place::None);
                self.expr(index, Place::None);
            }
            ExprKind::Call { callee, args } => {
                self.expr(callee, Place::None);
                for arg in args {
                    self.expr(arg, Place::None);
                }
            }
            ExprKind::Unary { operand, .. } => self.expr(operand, Place::None),
            // `input.token ?? "…"`: the default is given to the same place.
            ExprKind::Binary { op, lhs, rhs } => {
                self.expr(lhs, Place::None);
                self.expr(rhs, if *op == BinaryOp::Coalesce { place } else { Place::None });
            }
            ExprKind::Paren { inner } => self.expr(inner, place),
            ExprKind::Int { .. }
            | ExprKind::Float { .. }
            | ExprKind::Duration { .. }
            | ExprKind::Bool { .. }
            | ExprKind::None
            | ExprKind::Name { .. }
            | ExprKind::Secret { .. }
            | ExprKind::Error => {}
        }
    }

    /// Scan a template's text for credentials, and its holes' expressions.
    fn template(&mut self, template: &Template) {
        self.scan_template(template);
    }

    /// [`Scanner::template`]; true when a credential was reported in its text.
    fn scan_template(&mut self, template: &Template) -> bool {
        let mut found = false;
        for part in &template.parts {
            match part {
                TemplatePart::Text { value, span } => {
                    for located in credential::scan(value) {
                        found = true;
                        let secret = &value[located.range.clone()];
                        let span = source_span(value, *span, located.range);
                        self.out.push(
                            Diagnostic::new(
                                Code::CredentialInFlow,
                                span,
                                format!("{} ({}) is written in the flow", located.what, shown(secret)),
                            )
                            .with_primary_label("a credential must not be written in a flow")
                            .with_help(HELP)
                            .with_note(NOTE),
                        );
                    }
                }
                TemplatePart::Hole { expr, .. } => self.expr(expr, Place::None),
            }
        }
        found
    }

    /// A plain literal given to a place whose name says it holds a credential.
    fn literal(&mut self, template: &Template, place: Place<'_>) {
        let Some(described) = place.credential_place() else { return };
        let [TemplatePart::Text { value, span }] = template.parts.as_slice() else { return };
        if is_harmless_literal(value) {
            return;
        }
        let span = source_span(value, *span, 0..value.len());
        self.out.push(
            Diagnostic::new(
                Code::CredentialInFlow,
                span,
                format!("{described} holds a literal value ({}), not a secret", shown(value)),
            )
            .with_primary_label("a credential must not be written in a flow")
            .with_help(HELP)
            .with_note(NOTE),
        );
    }
}

/// How a credential may be quoted in a message: its visible prefix and `…`.
/// Credentials in the parts of a file the tree does not hold: its comments, and, when the
/// file has syntax errors (so no other check runs), its whole text. Either could otherwise
/// be copied to a terminal in the excerpt of another diagnostic.
pub fn check_text(text: &str, parsed: &weir_grammar::Parsed) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut report = |what: &str, secret: &str, span: Span, label: &str| {
        out.push(
            Diagnostic::new(
                Code::CredentialInFlow,
                span,
                format!("{what} ({}) is written in the flow", shown(secret)),
            )
            .with_primary_label(label)
            .with_help(HELP)
            .with_note(NOTE),
        );
    };
    if parsed.has_errors() {
        for located in credential::scan(text) {
            let range = located.range;
            let label = "a credential must not be written in a flow";
            report(located.what, &text[range.clone()], Span::new(range.start, range.end), label);
        }
        return out;
    }
    for comment in &parsed.trivia.comments {
        let Some(body) = text.get(comment.span.range()) else { continue };
        for located in credential::scan(body) {
            let start = comment.span.start as usize;
            let range = located.range;
            let span = Span::new(start + range.start, start + range.end);
            report(
                located.what,
                &body[range.clone()],
                span,
                "a credential must not be written in a flow, not even in a comment",
            );
        }
    }
    out
}

fn shown(secret: &str) -> String {
    format!("`{}…`", visible_prefix(secret))
}

/// The source span of `range` (byte offsets into the decoded `value` of a text part at
/// `part`). Decoded and written text are the same exactly when their lengths are (an
/// escape or a stripped indentation only ever shortens), so offsets carry over; otherwise
/// the whole part is the span.
fn source_span(value: &str, part: Span, range: std::ops::Range<usize>) -> Span {
    if part.len() == value.len() {
        Span::new(part.start as usize + range.start, part.start as usize + range.end)
    } else {
        part
    }
}

#[cfg(test)]
mod tests {
    use weir_diagnostics::{Code, Diagnostic};

    fn credentials(body: &str) -> (String, Vec<Diagnostic>) {
        let text = format!(
            "flow wibble {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n{body}\n}}\n"
        );
        let (_, diagnostics) = crate::check::diagnose(text.as_bytes(), None);
        (text, diagnostics.into_iter().filter(|d| d.code == Code::CredentialInFlow).collect())
    }

    const TOKEN: &str = "ghp_Wb7Kq2LmN4vB7kP1wR9tY3uE6sD0fG5hJx8Z";

    #[test]
    fn the_span_covers_the_credential_or_its_whole_text_part() {
        let (text, found) = credentials(&format!("  log \"push with {TOKEN} today\""));
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].span().range()], TOKEN);
        // Escapes shift offsets: the whole text part is the span, so masking covers more.
        let (text, found) = credentials(&format!("  log \"push\\twith {TOKEN}\""));
        assert_eq!(&text[found[0].span().range()], format!("push\\twith {TOKEN}"));
        let (text, found) = credentials(&format!("  log \"\"\"\n    push with\n    {TOKEN}\n    \"\"\""));
        assert!(text[found[0].span().range()].contains(TOKEN));
        for d in &found {
            assert!(!format!("{} {:?} {:?}", d.message, d.labels, d.help).contains(&TOKEN[4..]));
        }
    }

    #[test]
    fn names_decide_for_plain_literals() {
        let header = |value: &str| {
            credentials(&format!(
                "  step s = http GET \"/s\" {{\n    connection api\n    headers {{ \"X-Api-Key\": {value} }}\n    max_body 10\n  }}"
            ))
            .1
            .len()
        };
        assert_eq!(header("\"opensesame\""), 1);
        assert_eq!(header("input.key ?? \"opensesame\""), 1);
        assert_eq!(header("secret api_key"), 0);
        assert_eq!(header("\"{run.id}\""), 0);
        assert_eq!(credentials("  trigger webhook \"/w\" verify hmac(\"opensesame\")").1.len(), 1);
    }
}
