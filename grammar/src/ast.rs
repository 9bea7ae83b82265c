//! The syntax tree of a `.flow` file. Every node carries the byte span it came from; a part
//! that did not parse is an `Error` node, so later passes can skip it and keep going.

use serde::Serialize;
use weir_diagnostics::Span;

/// A whole file: normally one flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct File {
    /// The flows (and unparsable chunks) in source order.
    pub items: Vec<Item>,
    /// The whole text.
    pub span: Span,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// `flow SLUG { … }`.
    Flow(Flow),
    /// Text outside any flow that did not parse.
    Error(ErrorNode),
}

/// `flow SLUG { … }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flow {
    /// The flow's slug.
    pub name: Ident,
    /// Statements in order.
    pub body: Vec<Stmt>,
    /// From `flow` to the closing `}`.
    pub span: Span,
}

/// A part of the source that did not parse; its diagnostic is in `Parsed::diagnostics`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorNode {
    /// The skipped text.
    pub span: Span,
}

/// A name as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// A statement, at flow level or in a block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// From its first keyword to its last token.
    pub span: Span,
}

/// `{ … }` holding statements.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}` (or to the end of the file when the `}` is missing).
    pub span: Span,
}

/// Every kind of statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StmtKind {
    /// `version "1.4.0"`.
    Version { value: Template },
    /// `description "…"`.
    Description { value: Template },
    /// `concurrency max N [per EXPR] POLICY` or `concurrency unlimited because "…"`.
    Concurrency(Concurrency),
    /// `trigger …`.
    Trigger(Trigger),
    /// `input { name: type [= default], … }`.
    Input { fields: TypeRecord },
    /// Flow-level `output EXPR`.
    Output { value: Expr },
    /// `type NAME = TYPE`.
    TypeAlias { name: Ident, ty: TypeExpr },
    /// `const NAME = EXPR`.
    Const { name: Ident, value: Expr },
    /// Flow-level `timeout D`: the run's deadline.
    Timeout { value: Expr },
    /// `on failure [e] { … }`.
    OnFailure { var: Option<Ident>, body: Block },
    /// `step NAME = …`.
    Step(Step),
    /// `callback NAME { … }`.
    Callback { name: Ident, config: Config },
    /// `approval NAME { … }`.
    Approval { name: Ident, config: Config },
    /// `parallel { … }`: each statement is a branch.
    Parallel { body: Block },
    /// `branch { … }`: several statements as one branch of a `parallel`.
    Branch { body: Block },
    /// `for x in EXPR [parallel N] { … }`.
    For { var: Ident, iter: Expr, parallel: Option<Expr>, body: Block },
    /// `if … { } else if … { } else { }`, flattened.
    If { arms: Vec<IfArm>, else_body: Option<Block> },
    /// `loop [max N] { … }`.
    Loop { max: Option<Expr>, body: Block },
    /// `repeat every D until COND [max N] { … }`.
    Repeat { every: Expr, until: Expr, max: Option<Expr>, body: Block },
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `try { … } catch [e] { … }`.
    Try { body: Block, var: Option<Ident>, catch: Block },
    /// `saga { … }`.
    Saga { body: Block },
    /// `fail MESSAGE [code CODE]`.
    Fail { message: Expr, code: Option<Expr> },
    /// `return [EXPR]`.
    Return { value: Option<Expr> },
    /// `log EXPR`.
    Log { value: Expr },
    /// `sleep D` (a durable timer).
    Sleep { duration: Expr },
    /// `wait NAME`, `wait for D`, `wait until T`.
    Wait { target: WaitTarget },
    /// A statement that did not parse.
    Error(ErrorNode),
}

impl StmtKind {
    /// The statement blocks directly inside this statement, in source order (not the blocks
    /// of config entries: see [`StmtKind::handler_blocks`]).
    pub fn blocks(&self) -> Vec<&Block> {
        match self {
            StmtKind::OnFailure { body, .. }
            | StmtKind::Parallel { body }
            | StmtKind::Branch { body }
            | StmtKind::For { body, .. }
            | StmtKind::Loop { body, .. }
            | StmtKind::Repeat { body, .. }
            | StmtKind::Saga { body } => vec![body],
            StmtKind::If { arms, else_body } => {
                arms.iter().map(|a| &a.body).chain(else_body.iter()).collect()
            }
            StmtKind::Try { body, catch, .. } => vec![body, catch],
            _ => Vec::new(),
        }
    }

    /// The blocks inside a step's or approval's config: `undo` and `on reject`.
    pub fn handler_blocks(&self) -> Vec<&Block> {
        let config = match self {
            StmtKind::Step(step) => step.config.as_ref(),
            StmtKind::Approval { config, .. } => Some(config),
            _ => None,
        };
        config
            .iter()
            .flat_map(|c| &c.entries)
            .filter_map(|e| match &e.kind {
                EntryKind::Undo { body, .. } | EntryKind::OnReject { body } => Some(body),
                _ => None,
            })
            .collect()
    }
}

/// One `if`/`else if` arm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IfArm {
    /// The condition.
    pub cond: Expr,
    /// The block run when it holds.
    pub body: Block,
    /// From `if` (or `else`) to the block's end.
    pub span: Span,
}

/// The concurrency policy of a flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Concurrency {
    /// `max N [per KEY] POLICY`.
    Max { max: Expr, per: Option<Expr>, policy: Ident },
    /// `unlimited because "…"`.
    Unlimited { because: Template },
}

/// A trigger declaration.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// `trigger manual`.
    Manual,
    /// `trigger schedule "CRON" [tz "ZONE"] [with { … }]`.
    Schedule { cron: Template, tz: Option<Template>, with: Option<Expr> },
    /// `trigger webhook "PATH" [verify …] [scheme …] [with { … }]`.
    Webhook { path: Template, verify: Option<Verify>, scheme: Option<Ident>, with: Option<Expr> },
}

/// How a webhook is verified.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verify {
    /// `verify hmac(EXPR)`.
    Hmac { key: Expr, span: Span },
    /// `verify none because "…"`.
    None { because: Template, span: Span },
}

/// `step NAME = CALL [{ config }]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// The step's name (it denotes its output).
    pub name: Ident,
    /// What it runs.
    pub call: StepCall,
    /// Its config block, if any.
    pub config: Option<Config>,
}

/// The right-hand side of a step.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepCall {
    /// `FAMILY [METHOD] ["target"]`: http, llm, function, kv, ssh, db, search, notify, ….
    Family { family: Ident, method: Option<Ident>, target: Option<Template>, span: Span },
    /// `sleep D`.
    Sleep { duration: Expr, span: Span },
    /// `wait …`.
    Wait { target: WaitTarget, span: Span },
    /// `call SLUG[@RANGE]`.
    Call { flow: Ident, version: Option<Ident>, span: Span },
}

/// What a `wait` waits for.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WaitTarget {
    /// `wait NAME`: a callback.
    Callback { name: Ident },
    /// `wait for D`.
    For { duration: Expr },
    /// `wait until TIME`.
    Until { time: Expr },
}

/// A `{ key value … }` block configuring a step, callback or approval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Entries in order.
    pub entries: Vec<ConfigEntry>,
    /// From `{` to `}`.
    pub span: Span,
}

/// One entry of a config block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfigEntry {
    /// What it is.
    pub kind: EntryKind,
    /// The whole entry.
    pub span: Span,
}

/// Every kind of config entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    /// `KEY EXPR` (connection, model, prompt, body, timeout, summary, …).
    Plain { key: Ident, value: Expr },
    /// `attach A, B` or `binds A, B`.
    List { key: Ident, values: Vec<Expr> },
    /// `output TYPE`: the declared output of a step or callback.
    Output { ty: TypeExpr },
    /// `input { name: type [= default] }` of an approval.
    Input { fields: TypeRecord },
    /// `files { name: res<kind> = "remote path" }` fetched by an ssh step.
    Files { fields: TypeRecord },
    /// `retry N [on CLASSES] [backoff …]`.
    Retry(Retry),
    /// `effect CLASS because "…"`.
    Effect { class: Ident, because: Template },
    /// `unattended because "…"`.
    Unattended { because: Template },
    /// `undo [always] { … }`.
    Undo { always: bool, body: Block },
    /// `deciders …`.
    Deciders(Deciders),
    /// `ask CONNECTION [{ … }]`.
    Ask { connection: Ident, config: Option<Config> },
    /// `default approve|reject`.
    Default { value: Ident },
    /// `on reject { … }`.
    OnReject { body: Block },
}

/// `retry N [on CLASSES] [backoff …]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retry {
    /// Retries after the first attempt.
    pub count: Expr,
    /// Error classes or codes retried (`transient`, `any`, codes); empty means the default.
    pub on: Vec<RetryClass>,
    /// The backoff, if given.
    pub backoff: Option<Backoff>,
}

/// One error class or code in a `retry … on` list.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetryClass {
    /// A bare word (`transient`, `any`, a code).
    Word(Ident),
    /// A quoted code.
    Quoted(Template),
}

/// `backoff exponential(D[, max D]) [jitter]` or `backoff fixed(D) [jitter]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Backoff {
    /// `exponential` or `fixed`.
    pub kind: Ident,
    /// The first (or only) delay.
    pub base: Expr,
    /// The cap of an exponential backoff.
    pub max: Option<Expr>,
    /// Whether `jitter` was given.
    pub jitter: bool,
    /// The whole clause.
    pub span: Span,
}

/// `deciders …` of an approval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deciders {
    /// The people and groups who may decide.
    pub who: Vec<Decider>,
    /// Separation-of-duty and quorum rules.
    pub rules: Vec<DeciderRule>,
}

/// A person or group allowed to decide.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decider {
    /// `group`, `person`, or none (resolved against weir.toml).
    pub kind: Option<Ident>,
    /// The name as written.
    pub name: Expr,
    /// Where.
    pub span: Span,
}

/// A rule on who may decide.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeciderRule {
    /// `not initiator`.
    NotInitiator { span: Span },
    /// `exclude STEP.by`.
    Exclude { who: Expr, span: Span },
    /// `min N`.
    Min { count: Expr, span: Span },
}

/// A type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeExpr {
    /// Which form.
    pub kind: TypeKind,
    /// Where.
    pub span: Span,
}

/// Every form of type.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum TypeKind {
    /// `string`, `int`, an alias, ….
    Name { name: Ident },
    /// `int in 1..10`.
    Range { base: Ident, low: i64, high: i64 },
    /// `list<T>`.
    List { item: Box<TypeExpr> },
    /// `res<text>` or `res<"image/png">`.
    Res { kind: String },
    /// `{ a: T, b?: U }`.
    Record(TypeRecord),
    /// `"low"`: a string literal type, usually in a union.
    Literal { value: String },
    /// `A | B`.
    Union { options: Vec<TypeExpr> },
    /// `T?`.
    Optional { inner: Box<TypeExpr> },
    /// `(T)`.
    Paren { inner: Box<TypeExpr> },
}

/// `{ name: T [= default], … }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeRecord {
    /// Fields in order.
    pub fields: Vec<TypeField>,
    /// From `{` to `}`.
    pub span: Span,
}

/// One field of a record type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeField {
    /// The field name.
    pub key: Key,
    /// `name?: T`.
    pub optional: bool,
    /// Its type.
    pub ty: TypeExpr,
    /// `= default`.
    pub default: Option<Expr>,
    /// The whole field.
    pub span: Span,
}

/// A record key, bare or quoted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Key {
    /// The key's text, without quotes.
    pub name: String,
    /// Written with quotes (`"Content-Type"`).
    pub quoted: bool,
    /// Where.
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    /// Which form.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Every form of expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExprKind {
    /// `42`.
    Int { value: i64 },
    /// `1.5`.
    Float { value: f64 },
    /// `30s`, `1h30m`, in milliseconds.
    Duration { millis: u64 },
    /// `true`, `false`.
    Bool { value: bool },
    /// `none`.
    None,
    /// A string or template.
    String(Template),
    /// A name: an input, step, const, loop variable, `run`, ….
    Name { name: String },
    /// `secret NAME`.
    Secret { name: Ident },
    /// `[a, b]`.
    List { items: Vec<Expr> },
    /// `{ a: 1, "b": 2 }`.
    Record { fields: Vec<RecordField> },
    /// `base.name` or `base?.name`.
    Field { base: Box<Expr>, name: Ident, optional: bool },
    /// `base[index]`.
    Index { base: Box<Expr>, index: Box<Expr> },
    /// `f(args)`.
    Call { callee: Box<Expr>, args: Vec<Expr> },
    /// `-x`, `!x`.
    Unary { op: UnaryOp, operand: Box<Expr> },
    /// `a OP b`.
    Binary { op: BinaryOp, lhs: Box<Expr>, rhs: Box<Expr> },
    /// `(e)`.
    Paren { inner: Box<Expr> },
    /// An expression that could not be built (its diagnostic says why).
    Error,
}

/// A record field in an expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordField {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Expr,
    /// The whole field.
    pub span: Span,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    /// `-`.
    Neg,
    /// `!`.
    Not,
}

/// Infix operators, lowest precedence first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// `||`.
    Or,
    /// `&&`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `??`.
    Coalesce,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Coalesce => "??",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Binding power: higher binds tighter. Comparisons do not chain.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Coalesce => 5,
            BinaryOp::Add | BinaryOp::Sub => 6,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 7,
        }
    }
}

/// A string literal or template.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Template {
    /// Which quoting.
    pub style: StringStyle,
    /// Text and `{expr}` holes in order; raw strings have one text part.
    pub parts: Vec<TemplatePart>,
    /// Including the quotes.
    pub span: Span,
}

impl Template {
    /// The text when the template has no holes.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text { value, .. } => out.push_str(value),
                TemplatePart::Hole { .. } => return None,
            }
        }
        Some(out)
    }
}

/// How a string is quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StringStyle {
    /// `"…"` with escapes and holes.
    Plain,
    /// `"""…"""` with escapes and holes.
    Multi,
    /// `raw"…"`: no escapes, no holes.
    Raw,
    /// `raw"""…"""`: no escapes, no holes.
    RawMulti,
}

/// A piece of a template.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplatePart {
    /// Literal text, escapes resolved.
    Text { value: String, span: Span },
    /// `{expr}`.
    Hole { expr: Expr, span: Span },
}
