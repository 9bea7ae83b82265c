//! Lowering pest's pairs into the AST, with exact spans and error nodes.

use crate::ast::*;
use crate::parser::Rule;
use crate::trivia::Trivia;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::cell::RefCell;
use std::sync::LazyLock;
use weir_diagnostics::{Code, Diagnostic, Span};

/// Most operators (prefix, infix and postfix) one expression may chain; deeper trees would
/// make every recursive pass (and `Drop`) a stack-overflow risk.
pub const MAX_EXPR_OPERATORS: usize = 256;

/// Where an error chunk was found: it decides which statement rule re-parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Outside any flow.
    Item,
    /// Directly in a flow's body.
    Flow,
    /// In a nested block.
    Block,
}

/// A piece of source that did not parse.
#[derive(Clone, Debug)]
pub(crate) struct Chunk {
    pub span: Span,
    pub level: Level,
}

/// What lowering collects besides the tree.
#[derive(Default)]
pub(crate) struct Collected {
    /// Error chunks in source order.
    pub chunks: Vec<Chunk>,
    /// Spans of the `{` of blocks that reached the end of the file.
    pub unclosed: Vec<Span>,
    /// Stray `}` at flow level.
    pub stray_closes: Vec<Span>,
    /// Diagnostics found while lowering (numbers out of range, expressions too long).
    pub diagnostics: Vec<Diagnostic>,
}

pub(crate) struct Lower<'t> {
    text: &'t str,
    trivia: &'t Trivia,
    out: RefCell<Collected>,
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::infix(Rule::op_eq, Assoc::Left) | Op::infix(Rule::op_ne, Assoc::Left))
        .op(Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left))
        .op(Op::infix(Rule::op_coalesce, Assoc::Right))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_rem, Assoc::Left))
        .op(Op::prefix(Rule::op_neg) | Op::prefix(Rule::op_not))
        .op(Op::postfix(Rule::field)
            | Op::postfix(Rule::opt_field)
            | Op::postfix(Rule::index)
            | Op::postfix(Rule::call_args))
});

impl<'t> Lower<'t> {
    pub fn new(text: &'t str, trivia: &'t Trivia) -> Lower<'t> {
        Lower { text, trivia, out: RefCell::new(Collected::default()) }
    }

    pub fn finish(self) -> Collected {
        self.out.into_inner()
    }

    /// The pair's span with trailing whitespace and comments cut off (pest includes the
    /// implicit trivia skipped before a failed optional).
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        self.trim(s.start(), s.end())
    }

    fn trim(&self, start: usize, mut end: usize) -> Span {
        let bytes = self.text.as_bytes();
        loop {
            while end > start && matches!(bytes[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
                end -= 1;
            }
            match self.trivia.comment_ending_at(end as u32) {
                Some(comment) if comment.span.start as usize >= start => end = comment.span.start as usize,
                _ => break,
            }
        }
        Span::new(start, end)
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn push_diagnostic(&self, diagnostic: Diagnostic) {
        self.out.borrow_mut().diagnostics.push(diagnostic);
    }

    fn error_chunk(&self, pair: &Pair<'_, Rule>, level: Level) -> Span {
        let span = self.span(pair);
        self.out.borrow_mut().chunks.push(Chunk { span, level });
        span
    }

    // ------------------------------------------------------------ file and flow

    pub fn file(&self, pair: Pair<'_, Rule>) -> File {
        let mut items = Vec::new();
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::flow => items.push(Item::Flow(self.flow(child))),
                Rule::item_error => {
                    let span = self.error_chunk(&child, Level::Item);
                    items.push(Item::Error(ErrorNode { span }));
                }
                _ => {}
            }
        }
        File { items, span: Span::new(0, self.text.len()) }
    }

    fn flow(&self, pair: Pair<'_, Rule>) -> Flow {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next(); // kw_flow
        let name = self.ident(inner.next().expect("flow has a slug"));
        let body = self.stmts(inner, Level::Flow, span);
        Flow { name, body, span }
    }

    /// Statements of a flow body or block; `owner` is the span of the construct whose `{`
    /// may be unclosed.
    fn stmts(&self, pairs: Pairs<'_, Rule>, level: Level, owner: Span) -> Vec<Stmt> {
        let mut stmts: Vec<Stmt> = Vec::new();
        for pair in pairs {
            match pair.as_rule() {
                Rule::stmt_error | Rule::top_stmt_error => {
                    let mut span = self.span(&pair);
                    // An error that starts on the line where the previous statement ended
                    // belongs to it: `sleep 2s +` parses as `sleep 2s` followed by `+`.
                    if let Some(prev) = stmts.last()
                        && !matches!(prev.kind, StmtKind::Error(_))
                        && !self.text[prev.span.end as usize..span.start as usize].contains('\n')
                    {
                        span = prev.span.to(span);
                        stmts.pop();
                    }
                    self.out.borrow_mut().chunks.push(Chunk { span, level });
                    stmts.push(Stmt { kind: StmtKind::Error(ErrorNode { span }), span });
                }
                Rule::stray_close => {
                    let span = self.span(&pair);
                    self.out.borrow_mut().stray_closes.push(span);
                }
                Rule::missing_close => {
                    let brace = self.text[owner.range()]
                        .find('{')
                        .map_or(owner.start as usize, |n| owner.start as usize + n);
                    self.out.borrow_mut().unclosed.push(Span::new(brace, brace + 1));
                }
                Rule::EOI => {}
                _ => stmts.push(self.stmt(pair)),
            }
        }
        stmts
    }

    fn block(&self, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        let stmts = self.stmts(pair.into_inner(), Level::Block, span);
        Block { stmts, span }
    }

    // ------------------------------------------------------------ statements

    fn stmt(&self, pair: Pair<'_, Rule>) -> Stmt {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        let mut next = || inner.next().expect("grammar guarantees this child");
        let kind = match rule {
            Rule::version_stmt => {
                next();
                StmtKind::Version { value: self.template(next()) }
            }
            Rule::description_stmt => {
                next();
                StmtKind::Description { value: self.template(next()) }
            }
            Rule::concurrency_stmt => {
                next();
                StmtKind::Concurrency(self.concurrency(next()))
            }
            Rule::trigger_stmt => {
                next();
                StmtKind::Trigger(self.trigger(next()))
            }
            Rule::input_decl => {
                next();
                StmtKind::Input { fields: self.type_record(next()) }
            }
            Rule::output_decl => {
                next();
                StmtKind::Output { value: self.expr(next()) }
            }
            Rule::type_decl => {
                next();
                StmtKind::TypeAlias { name: self.ident(next()), ty: self.type_expr(next()) }
            }
            Rule::const_decl => {
                next();
                StmtKind::Const { name: self.ident(next()), value: self.expr(next()) }
            }
            Rule::run_timeout => {
                next();
                StmtKind::Timeout { value: self.expr(next()) }
            }
            Rule::on_failure => {
                next();
                next();
                let mut var = None;
                let mut body = None;
                for child in inner.by_ref() {
                    match child.as_rule() {
                        Rule::ident => var = Some(self.ident(child)),
                        _ => body = Some(self.block(child)),
                    }
                }
                StmtKind::OnFailure { var, body: body.expect("on failure has a block") }
            }
            Rule::step_stmt => {
                next();
                let name = self.ident(next());
                let call = self.step_call(next());
                let config = inner.next().map(|c| self.config(c));
                StmtKind::Step(Step { name, call, config })
            }
            Rule::callback_stmt => {
                next();
                StmtKind::Callback { name: self.ident(next()), config: self.config(next()) }
            }
            Rule::approval_stmt => {
                next();
                StmtKind::Approval { name: self.ident(next()), config: self.config(next()) }
            }
            Rule::parallel_stmt => {
                next();
                StmtKind::Parallel { body: self.block(next()) }
            }
            Rule::branch_stmt => {
                next();
                StmtKind::Branch { body: self.block(next()) }
            }
            Rule::for_stmt => {
                next();
                let var = self.ident(next());
                next();
                let iter = self.expr(next());
                let mut parallel = None;
                let mut body = None;
                for child in inner.by_ref() {
                    match child.as_rule() {
                        Rule::expr => parallel = Some(self.expr(child)),
                        Rule::block => body = Some(self.block(child)),
                        _ => {}
                    }
                }
                StmtKind::For { var, iter, parallel, body: body.expect("for has a block") }
            }
            Rule::if_stmt => {
                let first_kw = next();
                let cond = self.expr(next());
                let body = self.block(next());
                let arm_span = Span::new(first_kw.as_span().start(), body.span.end as usize);
                let mut arms = vec![IfArm { cond, body, span: arm_span }];
                let mut else_body = None;
                for child in inner.by_ref() {
                    let child_span = self.span(&child);
                    match child.as_rule() {
                        Rule::else_if => {
                            let mut parts = child.into_inner();
                            parts.next();
                            parts.next();
                            let cond = self.expr(parts.next().expect("else if has a condition"));
                            let body = self.block(parts.next().expect("else if has a block"));
                            arms.push(IfArm { cond, body, span: child_span });
                        }
                        _ => {
                            let block = child.into_inner().nth(1).expect("else has a block");
                            else_body = Some(self.block(block));
                        }
                    }
                }
                StmtKind::If { arms, else_body }
            }
            Rule::loop_stmt => {
                next();
                let mut max = None;
                let mut body = None;
                for child in inner.by_ref() {
                    match child.as_rule() {
                        Rule::expr => max = Some(self.expr(child)),
                        Rule::block => body = Some(self.block(child)),
                        _ => {}
                    }
                }
                StmtKind::Loop { max, body: body.expect("loop has a block") }
            }
            Rule::repeat_stmt => {
                next();
                next();
                let every = self.expr(next());
                next();
                let until = self.expr(next());
                let mut max = None;
                let mut body = None;
                for child in inner.by_ref() {
                    match child.as_rule() {
                        Rule::expr => max = Some(self.expr(child)),
                        Rule::block => body = Some(self.block(child)),
                        _ => {}
                    }
                }
                StmtKind::Repeat { every, until, max, body: body.expect("repeat has a block") }
            }
            Rule::break_stmt => StmtKind::Break,
            Rule::continue_stmt => StmtKind::Continue,
            Rule::try_stmt => {
                next();
                let body = self.block(next());
                next();
                let mut var = None;
                let mut catch = None;
                for child in inner.by_ref() {
                    match child.as_rule() {
                        Rule::ident => var = Some(self.ident(child)),
                        _ => catch = Some(self.block(child)),
                    }
                }
                StmtKind::Try { body, var, catch: catch.expect("try has a catch block") }
            }
            Rule::saga_stmt => {
                next();
                StmtKind::Saga { body: self.block(next()) }
            }
            Rule::fail_stmt => {
                next();
                let message = self.expr(next());
                let code = inner.nth(1).map(|c| self.expr(c));
                StmtKind::Fail { message, code }
            }
            Rule::return_stmt => {
                next();
                let value = inner.next().and_then(|v| v.into_inner().next()).map(|e| self.expr(e));
                StmtKind::Return { value }
            }
            Rule::log_stmt => {
                next();
                StmtKind::Log { value: self.expr(next()) }
            }
            Rule::sleep_stmt => {
                next();
                StmtKind::Sleep { duration: self.expr(next()) }
            }
            Rule::wait_stmt => {
                next();
                StmtKind::Wait { target: self.wait_target(next()) }
            }
            other => unreachable!("not a statement rule: {other:?}"),
        };
        Stmt { kind, span }
    }

    fn concurrency(&self, pair: Pair<'_, Rule>) -> Concurrency {
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        inner.next();
        if rule == Rule::concurrency_unlimited {
            return Concurrency::Unlimited { because: self.because(inner.next().expect("because")) };
        }
        let max = self.expr(inner.next().expect("max"));
        let mut per = None;
        let mut policy = None;
        for child in inner {
            match child.as_rule() {
                Rule::expr => per = Some(self.expr(child)),
                Rule::policy_word => policy = Some(self.ident(child)),
                _ => {}
            }
        }
        Concurrency::Max { max, per, policy: policy.expect("policy") }
    }

    fn because(&self, pair: Pair<'_, Rule>) -> Template {
        self.template(pair.into_inner().nth(1).expect("because has a reason"))
    }

    fn trigger(&self, pair: Pair<'_, Rule>) -> Trigger {
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        inner.next();
        match rule {
            Rule::trigger_manual => Trigger::Manual,
            Rule::trigger_schedule => {
                let cron = self.template(inner.next().expect("cron"));
                let mut tz = None;
                let mut with = None;
                for child in inner {
                    match child.as_rule() {
                        Rule::kw_tz => {}
                        Rule::trigger_with => with = Some(self.with(child)),
                        _ => tz = Some(self.template(child)),
                    }
                }
                Trigger::Schedule { cron, tz, with }
            }
            _ => {
                let path = self.template(inner.next().expect("path"));
                let mut verify = None;
                let mut scheme = None;
                let mut with = None;
                for child in inner {
                    match child.as_rule() {
                        Rule::webhook_verify => verify = Some(self.verify(child)),
                        Rule::scheme_word => scheme = Some(self.ident(child)),
                        Rule::trigger_with => with = Some(self.with(child)),
                        _ => {}
                    }
                }
                Trigger::Webhook { path, verify, scheme, with }
            }
        }
    }

    fn with(&self, pair: Pair<'_, Rule>) -> Expr {
        let record = pair.into_inner().nth(1).expect("with has a record");
        self.primary(record)
    }

    fn verify(&self, pair: Pair<'_, Rule>) -> Verify {
        let how = pair.into_inner().nth(1).expect("verify has a method");
        let span = self.span(&how);
        let rule = how.as_rule();
        let mut inner = how.into_inner();
        inner.next();
        if rule == Rule::verify_none {
            Verify::None { because: self.because(inner.next().expect("because")), span }
        } else {
            Verify::Hmac { key: self.expr(inner.next().expect("key")), span }
        }
    }

    fn step_call(&self, pair: Pair<'_, Rule>) -> StepCall {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        match rule {
            Rule::call_sleep => {
                inner.next();
                StepCall::Sleep { duration: self.expr(inner.next().expect("duration")), span }
            }
            Rule::call_wait => {
                inner.next();
                StepCall::Wait { target: self.wait_target(inner.next().expect("target")), span }
            }
            Rule::call_flow => {
                inner.next();
                let flow = self.ident(inner.next().expect("slug"));
                let version = inner.next().map(|v| self.ident(v));
                StepCall::Call { flow, version, span }
            }
            _ => {
                let family = self.ident(inner.next().expect("family"));
                let mut method = None;
                let mut target = None;
                for child in inner {
                    match child.as_rule() {
                        Rule::method => method = Some(self.ident(child)),
                        _ => target = Some(self.template(child)),
                    }
                }
                StepCall::Family { family, method, target, span }
            }
        }
    }

    fn wait_target(&self, pair: Pair<'_, Rule>) -> WaitTarget {
        match pair.as_rule() {
            Rule::wait_for => {
                WaitTarget::For { duration: self.expr(pair.into_inner().nth(1).expect("duration")) }
            }
            Rule::wait_until => {
                WaitTarget::Until { time: self.expr(pair.into_inner().nth(1).expect("time")) }
            }
            _ => WaitTarget::Callback { name: self.ident(pair) },
        }
    }

    // ------------------------------------------------------------ configs

    fn config(&self, pair: Pair<'_, Rule>) -> Config {
        let span = self.span(&pair);
        let mut entries = Vec::new();
        for entry in pair.into_inner() {
            if entry.as_rule() == Rule::missing_close {
                self.out.borrow_mut().unclosed.push(Span::new(span.start as usize, span.start as usize + 1));
            } else {
                entries.push(self.entry(entry));
            }
        }
        Config { entries, span }
    }

    fn entry(&self, pair: Pair<'_, Rule>) -> ConfigEntry {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        let first = inner.next().expect("entry has a key");
        let kind = match rule {
            Rule::plain_entry => {
                EntryKind::Plain { key: self.ident(first), value: self.expr(inner.next().expect("value")) }
            }
            Rule::list_entry => {
                EntryKind::List { key: self.ident(first), values: inner.map(|e| self.expr(e)).collect() }
            }
            Rule::output_entry => EntryKind::Output { ty: self.type_expr(inner.next().expect("type")) },
            Rule::input_entry => EntryKind::Input { fields: self.type_record(inner.next().expect("fields")) },
            Rule::files_entry => EntryKind::Files { fields: self.type_record(inner.next().expect("fields")) },
            Rule::retry_entry => {
                let count = self.expr(inner.next().expect("count"));
                let mut on = Vec::new();
                let mut backoff = None;
                for child in inner {
                    match child.as_rule() {
                        Rule::retry_on => {
                            for class in child.into_inner() {
                                let value = class.into_inner().next().expect("class");
                                on.push(match value.as_rule() {
                                    Rule::word => RetryClass::Word(self.ident(value)),
                                    _ => RetryClass::Quoted(self.template(value)),
                                });
                            }
                        }
                        Rule::backoff => backoff = Some(self.backoff(child)),
                        _ => {}
                    }
                }
                EntryKind::Retry(Retry { count, on, backoff })
            }
            Rule::effect_entry => EntryKind::Effect {
                class: self.ident(inner.next().expect("class")),
                because: self.because(inner.next().expect("because")),
            },
            Rule::unattended_entry => {
                EntryKind::Unattended { because: self.because(inner.next().expect("because")) }
            }
            Rule::undo_entry => {
                let mut always = false;
                let mut body = None;
                for child in inner {
                    match child.as_rule() {
                        Rule::kw_always => always = true,
                        _ => body = Some(self.block(child)),
                    }
                }
                EntryKind::Undo { always, body: body.expect("undo has a block") }
            }
            Rule::deciders_entry => {
                let mut who = Vec::new();
                let mut rules = Vec::new();
                for child in inner {
                    let child_span = self.span(&child);
                    match child.as_rule() {
                        Rule::decider => {
                            let mut kind = None;
                            let mut name = None;
                            for part in child.into_inner() {
                                match part.as_rule() {
                                    Rule::kw_group | Rule::kw_person => kind = Some(self.ident(part)),
                                    Rule::ident => {
                                        let span = self.span(&part);
                                        name = Some(Expr {
                                            kind: ExprKind::Name { name: part.as_str().to_string() },
                                            span,
                                        });
                                    }
                                    _ => {
                                        let span = self.span(&part);
                                        name =
                                            Some(Expr { kind: ExprKind::String(self.template(part)), span });
                                    }
                                }
                            }
                            who.push(Decider {
                                kind,
                                name: name.expect("decider has a name"),
                                span: child_span,
                            });
                        }
                        _ => {
                            let rule = child.into_inner().next().expect("decider rule");
                            let span = self.span(&rule);
                            let rule_kind = rule.as_rule();
                            let value = rule.into_inner().nth(1);
                            rules.push(match rule_kind {
                                Rule::not_initiator => DeciderRule::NotInitiator { span },
                                Rule::exclude_rule => {
                                    DeciderRule::Exclude { who: self.expr(value.expect("who")), span }
                                }
                                _ => DeciderRule::Min { count: self.expr(value.expect("count")), span },
                            });
                        }
                    }
                }
                EntryKind::Deciders(Deciders { who, rules })
            }
            Rule::ask_entry => EntryKind::Ask {
                connection: self.ident(inner.next().expect("connection")),
                config: inner.next().map(|c| self.config(c)),
            },
            Rule::default_entry => EntryKind::Default { value: self.ident(inner.next().expect("value")) },
            Rule::on_reject_entry => EntryKind::OnReject { body: self.block(inner.nth(1).expect("block")) },
            other => unreachable!("not a config entry: {other:?}"),
        };
        ConfigEntry { kind, span }
    }

    fn backoff(&self, pair: Pair<'_, Rule>) -> Backoff {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next();
        let how = inner.next().expect("backoff kind");
        let jitter = inner.next().is_some();
        let mut parts = how.into_inner();
        let kind = self.ident(parts.next().expect("kind"));
        let base = self.expr(parts.next().expect("base"));
        let max = parts.find(|p| p.as_rule() == Rule::expr).map(|p| self.expr(p));
        Backoff { kind, base, max, jitter, span }
    }

    // ------------------------------------------------------------ types

    fn type_expr(&self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut terms: Vec<TypeExpr> = pair.into_inner().map(|t| self.type_term(t)).collect();
        if terms.len() == 1 {
            return terms.pop().expect("one term");
        }
        TypeExpr { kind: TypeKind::Union { options: terms }, span }
    }

    fn type_term(&self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let atom = self.type_atom(inner.next().expect("atom"));
        if inner.next().is_some() {
            TypeExpr { kind: TypeKind::Optional { inner: Box::new(atom) }, span }
        } else {
            atom
        }
    }

    fn type_atom(&self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        let kind = match rule {
            Rule::type_list => {
                inner.next();
                TypeKind::List { item: Box::new(self.type_expr(inner.next().expect("item"))) }
            }
            Rule::type_res => {
                inner.next();
                let kind = inner.next().expect("kind");
                let text = kind.as_str();
                let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
                TypeKind::Res { kind: text.to_string() }
            }
            Rule::type_record => TypeKind::Record(self.type_record_inner(span, inner)),
            Rule::type_literal => {
                let text = inner.next().expect("literal").as_str();
                TypeKind::Literal { value: text[1..text.len() - 1].to_string() }
            }
            Rule::type_paren => {
                TypeKind::Paren { inner: Box::new(self.type_expr(inner.next().expect("inner"))) }
            }
            Rule::type_range => {
                let base = self.ident(inner.next().expect("base"));
                inner.next();
                let mut bounds = inner.next().expect("range").into_inner();
                let low = self.range_bound(bounds.next().expect("low"));
                let high = self.range_bound(bounds.next().expect("high"));
                TypeKind::Range { base, low, high }
            }
            _ => TypeKind::Name { name: self.ident(inner.next().expect("name")) },
        };
        TypeExpr { kind, span }
    }

    fn range_bound(&self, pair: Pair<'_, Rule>) -> i64 {
        let span = self.span(&pair);
        let digits: String = pair.as_str().chars().filter(|&c| c != '_').collect();
        digits.parse().unwrap_or_else(|_| {
            self.push_diagnostic(out_of_range(span, "this bound does not fit in a 64-bit integer"));
            0
        })
    }

    fn type_record(&self, pair: Pair<'_, Rule>) -> TypeRecord {
        let span = self.span(&pair);
        self.type_record_inner(span, pair.into_inner())
    }

    fn type_record_inner(&self, span: Span, pairs: Pairs<'_, Rule>) -> TypeRecord {
        let fields = pairs
            .map(|field| {
                let field_span = self.span(&field);
                let mut inner = field.into_inner();
                let key = self.key(inner.next().expect("key"));
                let mut optional = false;
                let mut ty = None;
                let mut default = None;
                for child in inner {
                    match child.as_rule() {
                        Rule::optional_mark => optional = true,
                        Rule::type_expr => ty = Some(self.type_expr(child)),
                        _ => default = Some(self.expr(child)),
                    }
                }
                TypeField { key, optional, ty: ty.expect("field has a type"), default, span: field_span }
            })
            .collect();
        TypeRecord { fields, span }
    }

    fn key(&self, pair: Pair<'_, Rule>) -> Key {
        let span = self.span(&pair);
        let text = pair.as_str();
        match pair.as_rule() {
            Rule::plain_string => Key { name: text[1..text.len() - 1].to_string(), quoted: true, span },
            _ => Key { name: text.to_string(), quoted: false, span },
        }
    }

    // ------------------------------------------------------------ expressions

    pub fn expr(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let inner = pair.into_inner();
        let operators = inner.clone().filter(|p| p.as_rule().is_operator()).count();
        if operators > MAX_EXPR_OPERATORS {
            self.push_diagnostic(
                Diagnostic::new(
                    Code::TooDeeplyNested,
                    span,
                    format!(
                        "this expression chains {operators} operators and accesses; weir accepts at most {MAX_EXPR_OPERATORS}"
                    ),
                )
                .with_primary_label("expression too long")
                .with_help("split it into `const` declarations or function steps"),
            );
            return Expr { kind: ExprKind::Error, span };
        }
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, operand| {
                let op_kind = if op.as_rule() == Rule::op_neg { UnaryOp::Neg } else { UnaryOp::Not };
                let span = Span::new(op.as_span().start(), operand.span.end as usize);
                Expr { kind: ExprKind::Unary { op: op_kind, operand: Box::new(operand) }, span }
            })
            .map_postfix(|base, op| self.postfix(base, op))
            .map_infix(|lhs, op, rhs| {
                let op = match op.as_rule() {
                    Rule::op_or => BinaryOp::Or,
                    Rule::op_and => BinaryOp::And,
                    Rule::op_eq => BinaryOp::Eq,
                    Rule::op_ne => BinaryOp::Ne,
                    Rule::op_lt => BinaryOp::Lt,
                    Rule::op_le => BinaryOp::Le,
                    Rule::op_gt => BinaryOp::Gt,
                    Rule::op_ge => BinaryOp::Ge,
                    Rule::op_coalesce => BinaryOp::Coalesce,
                    Rule::op_add => BinaryOp::Add,
                    Rule::op_sub => BinaryOp::Sub,
                    Rule::op_mul => BinaryOp::Mul,
                    Rule::op_div => BinaryOp::Div,
                    _ => BinaryOp::Rem,
                };
                let span = lhs.span.to(rhs.span);
                Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
            })
            .parse(inner)
    }

    fn postfix(&self, base: Expr, op: Pair<'_, Rule>) -> Expr {
        let op_span = self.span(&op);
        let span = base.span.to(op_span);
        let rule = op.as_rule();
        let mut inner = op.into_inner();
        let kind = match rule {
            Rule::field | Rule::opt_field => ExprKind::Field {
                base: Box::new(base),
                name: self.ident(inner.next().expect("field name")),
                optional: rule == Rule::opt_field,
            },
            Rule::index => ExprKind::Index {
                base: Box::new(base),
                index: Box::new(self.expr(inner.next().expect("index"))),
            },
            _ => ExprKind::Call { callee: Box::new(base), args: inner.map(|a| self.expr(a)).collect() },
        };
        Expr { kind, span }
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::int => {
                let digits: String = pair.as_str().chars().filter(|&c| c != '_').collect();
                match digits.parse() {
                    Ok(value) => ExprKind::Int { value },
                    Err(_) => {
                        self.push_diagnostic(out_of_range(
                            span,
                            "this number does not fit in a 64-bit integer",
                        ));
                        ExprKind::Error
                    }
                }
            }
            Rule::float => {
                let digits: String = pair.as_str().chars().filter(|&c| c != '_').collect();
                match digits.parse::<f64>() {
                    Ok(value) if value.is_finite() => ExprKind::Float { value },
                    _ => {
                        self.push_diagnostic(out_of_range(span, "this number is too large"));
                        ExprKind::Error
                    }
                }
            }
            Rule::duration => match parse_duration(pair.as_str()) {
                Some(millis) => ExprKind::Duration { millis },
                None => {
                    self.push_diagnostic(out_of_range(span, "this duration is too long"));
                    ExprKind::Error
                }
            },
            Rule::kw_true => ExprKind::Bool { value: true },
            Rule::kw_false => ExprKind::Bool { value: false },
            Rule::kw_none => ExprKind::None,
            Rule::secret_ref => {
                ExprKind::Secret { name: self.ident(pair.into_inner().nth(1).expect("secret name")) }
            }
            Rule::string | Rule::multi_string | Rule::raw_string | Rule::raw_multi => {
                ExprKind::String(self.template(pair))
            }
            Rule::list => ExprKind::List { items: pair.into_inner().map(|e| self.expr(e)).collect() },
            Rule::record => ExprKind::Record {
                fields: pair
                    .into_inner()
                    .map(|field| {
                        let field_span = self.span(&field);
                        let mut inner = field.into_inner();
                        let key = self.key(inner.next().expect("key"));
                        let value = self.expr(inner.next().expect("value"));
                        RecordField { key, value, span: field_span }
                    })
                    .collect(),
            },
            Rule::paren => {
                ExprKind::Paren { inner: Box::new(self.expr(pair.into_inner().next().expect("inner"))) }
            }
            _ => ExprKind::Name { name: pair.as_str().to_string() },
        };
        Expr { kind, span }
    }

    // ------------------------------------------------------------ templates

    fn template(&self, pair: Pair<'_, Rule>) -> Template {
        let span = self.span(&pair);
        let style = match pair.as_rule() {
            Rule::multi_string => StringStyle::Multi,
            Rule::raw_string => StringStyle::Raw,
            Rule::raw_multi => StringStyle::RawMulti,
            _ => StringStyle::Plain,
        };
        let mut parts: Vec<TemplatePart> = Vec::new();
        for child in pair.into_inner() {
            let child_span = self.span(&child);
            match child.as_rule() {
                Rule::hole => {
                    let expr = self.expr(child.into_inner().next().expect("hole expr"));
                    parts.push(TemplatePart::Hole { expr, span: child_span });
                }
                rule => {
                    let text = child.as_str();
                    let value = if rule == Rule::str_escape { unescape(text) } else { text.to_string() };
                    let child_span = child.as_span();
                    let child_span = Span::new(child_span.start(), child_span.end());
                    match parts.last_mut() {
                        Some(TemplatePart::Text { value: last, span: last_span }) => {
                            last.push_str(&value);
                            *last_span = last_span.to(child_span);
                        }
                        _ => parts.push(TemplatePart::Text { value, span: child_span }),
                    }
                }
            }
        }
        if matches!(style, StringStyle::Multi | StringStyle::RawMulti) {
            // A file saved with CRLF line ends gives the same string as one with LF.
            for part in &mut parts {
                if let TemplatePart::Text { value, .. } = part
                    && value.contains('\r')
                {
                    *value = value.replace("\r\n", "\n");
                }
            }
            dedent(&mut parts);
        }
        Template { style, parts, span }
    }
}

impl Rule {
    fn is_operator(self) -> bool {
        matches!(
            self,
            Rule::op_neg
                | Rule::op_not
                | Rule::field
                | Rule::opt_field
                | Rule::index
                | Rule::call_args
                | Rule::op_coalesce
                | Rule::op_or
                | Rule::op_and
                | Rule::op_eq
                | Rule::op_ne
                | Rule::op_le
                | Rule::op_ge
                | Rule::op_lt
                | Rule::op_gt
                | Rule::op_add
                | Rule::op_sub
                | Rule::op_mul
                | Rule::op_div
                | Rule::op_rem
        )
    }
}

fn out_of_range(span: Span, message: &str) -> Diagnostic {
    let help = if message.contains("duration") {
        "a duration is at most about 584 million years (2^64 milliseconds)"
    } else {
        "integers are 64-bit signed: at most 9223372036854775807"
    };
    Diagnostic::new(Code::NumberOutOfRange, span, message).with_primary_label("out of range").with_help(help)
}

/// `1h30m` → milliseconds; `None` on overflow.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut number: u64 = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            number = number.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            i += 1;
            continue;
        }
        let (unit, len) = match (b, bytes.get(i + 1)) {
            (b'm', Some(b's')) => (1, 2),
            (b's', _) => (1_000, 1),
            (b'm', _) => (60_000, 1),
            (b'h', _) => (3_600_000, 1),
            _ => (86_400_000, 1),
        };
        total = total.checked_add(number.checked_mul(unit)?)?;
        number = 0;
        i += len;
    }
    Some(total)
}

fn unescape(escape: &str) -> String {
    let mut chars = escape.chars();
    chars.next();
    match chars.next() {
        Some('n') => "\n".into(),
        Some('t') => "\t".into(),
        Some('r') => "\r".into(),
        Some('0') => "\0".into(),
        Some('u') => escape
            .get(3..escape.len().saturating_sub(1))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32)
            .map(String::from)
            .unwrap_or_default(),
        Some(c) => c.to_string(),
        None => String::new(),
    }
}

/// Multi-line strings: drop the newline right after the opening quotes and, when the closing
/// quotes sit on a line of their own, that line's indentation from every line.
fn dedent(parts: &mut Vec<TemplatePart>) {
    if let Some(TemplatePart::Text { value, .. }) = parts.first_mut()
        && let Some(rest) = value.strip_prefix('\n')
    {
        *value = rest.to_string();
    }
    let indent = match parts.last() {
        Some(TemplatePart::Text { value, .. }) => {
            let tail = value.rsplit('\n').next().unwrap_or("");
            if value.contains('\n') && tail.chars().all(|c| c == ' ' || c == '\t') {
                Some(tail.len())
            } else {
                None
            }
        }
        _ => None,
    };
    let Some(indent) = indent else {
        drop_empty_text(parts);
        return;
    };
    if let Some(TemplatePart::Text { value, .. }) = parts.last_mut() {
        let cut = value.rfind('\n').unwrap_or(0);
        value.truncate(cut);
    }
    let mut at_line_start = true;
    for part in parts.iter_mut() {
        match part {
            TemplatePart::Text { value, .. } => {
                let mut out = String::with_capacity(value.len());
                for (n, line) in value.split('\n').enumerate() {
                    if n > 0 {
                        out.push('\n');
                    }
                    let line = if n > 0 || at_line_start { strip_indent(line, indent) } else { line };
                    out.push_str(line);
                }
                at_line_start = value.ends_with('\n');
                *value = out;
            }
            TemplatePart::Hole { .. } => at_line_start = false,
        }
    }
    drop_empty_text(parts);
}

/// Dedent can leave text parts with nothing in them; the tree does not keep those.
fn drop_empty_text(parts: &mut Vec<TemplatePart>) {
    parts.retain(|p| !matches!(p, TemplatePart::Text { value, .. } if value.is_empty()));
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let strip = line.bytes().take(indent).take_while(|&b| b == b' ' || b == b'\t').count();
    &line[strip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("2d"), Some(172_800_000));
        assert_eq!(parse_duration("99999999999999999999s"), None);
    }
}
