//! The program a `.weirc` carries: constant pool, type table, expression table, step table,
//! blocks of structured instructions, and the flow's declarations. Everything is plain data
//! in flat tables that refer to each other by index (docs/bytecode.md, "Body").

use serde::{Deserialize, Serialize};

use crate::types::{TypeDesc, TypeIx};
use crate::value::Value;

/// An index into the constant pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConstIx(pub u32);

/// An index into the expression table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExprIx(pub u32);

/// An index into the step table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StepIx(pub u32);

/// An index into the block table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlockIx(pub u32);

/// The body of a `.weirc`: everything after the header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// Literal values, each stored once.
    pub constants: Vec<Value>,
    /// Type descriptors; a composite type's parts come before it.
    pub types: Vec<TypeDesc>,
    /// Expression nodes; a node's operands come before it.
    pub exprs: Vec<ExprNode>,
    /// Every place that journals or evaluates: steps, timers, waits, callbacks, approvals,
    /// logs and control statements, each with its stable identity and source span.
    pub steps: Vec<StepDef>,
    /// Blocks of instructions; a block refers only to blocks after it.
    pub blocks: Vec<Block>,
    /// The flow's declarations and where its program starts.
    pub flow: FlowDef,
}

/// The flow-level declarations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowDef {
    /// `description "…"`.
    pub description: Option<String>,
    /// `input { … }`, in order.
    pub inputs: Vec<InputField>,
    /// The type of `output`, when the flow has one (part of the interface).
    pub output_type: Option<TypeIx>,
    /// `output EXPR`, evaluated after the entry block completes.
    pub output: Option<Sited>,
    /// Flow-level `timeout D`: the run's deadline.
    pub run_timeout: Option<ExprIx>,
    /// `concurrency …`.
    pub concurrency: Concurrency,
    /// `trigger …`, in order.
    pub triggers: Vec<Trigger>,
    /// The block a run starts with (a root: no instruction refers to it).
    pub entry: BlockIx,
    /// `on failure [e] { … }` (a root block too).
    pub on_failure: Option<Handler>,
}

/// An expression evaluated at a site of the step table (its identity keys `now()`/`uuid()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sited {
    /// The step-table entry (kind [`StepKind::Control`]).
    pub site: StepIx,
    /// The expression.
    pub value: ExprIx,
}

/// A block run with an optional error variable bound (`catch e`, `on failure e`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handler {
    /// The variable that holds the `error` record.
    pub var: Option<String>,
    /// The block.
    pub body: BlockIx,
}

/// A field of `input { … }` (the flow's, or an approval's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputField {
    /// The field name.
    pub name: String,
    /// Its type.
    pub ty: TypeIx,
    /// `name?: T`.
    pub optional: bool,
    /// `= DEFAULT`.
    pub default: Option<ExprIx>,
}

/// `concurrency …`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Concurrency {
    /// `max N [per KEY] POLICY`.
    Max {
        /// N.
        max: ExprIx,
        /// The key over `input`.
        per: Option<ExprIx>,
        /// What happens to a run over the limit.
        policy: OverflowPolicy,
    },
    /// `unlimited because "…"`.
    Unlimited {
        /// The reason.
        because: String,
    },
}

/// What a run over the concurrency limit does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverflowPolicy {
    /// Wait for a slot.
    Queue,
    /// Do not start.
    Skip,
    /// Cancel the oldest run holding the key.
    CancelPrevious,
}

/// `trigger …`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// `trigger manual`.
    Manual,
    /// `trigger schedule "CRON" [tz "ZONE"] [with { … }]`.
    Schedule {
        /// The cron pattern.
        cron: String,
        /// The time zone (UTC when absent).
        tz: Option<String>,
        /// The inputs.
        with: Option<ExprIx>,
    },
    /// `trigger webhook "PATH" verify … [scheme …] [with { … }]`.
    Webhook {
        /// The path.
        path: String,
        /// How deliveries are verified.
        verify: Verify,
        /// The signature scheme.
        scheme: WebhookScheme,
        /// The inputs, computed from `payload`.
        with: Option<ExprIx>,
    },
}

/// How a webhook is verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verify {
    /// `verify hmac(secret NAME)`.
    Hmac {
        /// The secret's name.
        secret: String,
    },
    /// `verify none because "…"`.
    None {
        /// The reason.
        because: String,
    },
}

/// The HMAC scheme of a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookScheme {
    /// GitHub's: over the body, `X-Hub-Signature-256`.
    Github,
    /// weir's: over timestamp and body, with a 300 s window.
    Generic,
}

/// A source span: byte offsets into the flow's source, and the 1-based line and column of
/// its start (so a report needs no source file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
    /// Line of `start`, from 1.
    pub line: u32,
    /// Column of `start` in characters, from 1.
    pub column: u32,
}

/// One entry of the step table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepDef {
    /// The stable identity (docs/bytecode.md, "Step identities"): unique in the program.
    pub id: String,
    /// The name it binds (`step NAME`, `callback NAME`, `approval NAME`, `const NAME`).
    pub name: Option<String>,
    /// Where it is written.
    pub span: Span,
    /// What it is.
    pub kind: StepKind,
}

/// What a step-table entry is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StepKind {
    /// A step of a family (`http`, `llm`, `function`, `kv`, `ssh`, `db`, `search`, `notify`, …).
    Action(ActionStep),
    /// `call SLUG[@RANGE]`: a linked child run.
    Call(CallStep),
    /// `sleep D` (a durable timer; its due time is journaled).
    Sleep {
        /// D.
        duration: ExprIx,
    },
    /// `wait for D` (a durable timer).
    WaitFor {
        /// D.
        duration: ExprIx,
    },
    /// `wait until TIME` (a durable timer).
    WaitUntil {
        /// The instant.
        time: ExprIx,
    },
    /// `wait NAME`: until the callback arrives or its timeout passes.
    WaitCallback {
        /// The callback's entry (kind [`StepKind::Callback`]).
        callback: StepIx,
    },
    /// `callback NAME { … }`: a single-use token and URL, journaled before use.
    Callback(CallbackDef),
    /// `approval NAME { … }`.
    Approval(Box<ApprovalDef>),
    /// `log EXPR`.
    Log {
        /// What is recorded.
        value: ExprIx,
    },
    /// A statement that only evaluates expressions (`if`, `for`, `loop`, `repeat`, `fail`,
    /// `return`, `const`, `output`): its identity keys `now()`/`uuid()` and the timers of
    /// `repeat every`.
    Control,
}

/// The effect class of a step (language.md, "Effects").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EffectClass {
    /// No effect outside weir.
    Pure,
    /// Reads the outside world.
    Read,
    /// Changes the outside world.
    Write,
    /// Changes it for good.
    Irreversible,
}

/// A step of a family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionStep {
    /// The family (`http`, `llm`, …).
    pub family: String,
    /// `GET`, `POST`, … for http; `get`, `set`, `delete` for kv.
    pub method: Option<String>,
    /// The target template (http path, kv key).
    pub target: Option<ExprIx>,
    /// The `weir.toml` connection.
    pub connection: Option<String>,
    /// The family's settings (`prompt`, `body`, `headers`, …), in source order.
    pub config: Vec<ConfigEntry>,
    /// The declared `output` type.
    pub output: Option<TypeIx>,
    /// ssh `files { NAME: res<KIND> = "PATH" }`.
    pub files: Vec<FileFetch>,
    /// Effect, timeout, retries and idempotency.
    pub policy: StepPolicy,
}

/// `call SLUG[@RANGE] { input { … } }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallStep {
    /// The called flow's slug.
    pub flow: String,
    /// The semver range, resolved when the call starts (the latest release when absent).
    pub range: Option<String>,
    /// The child's input record.
    pub input: Option<ExprIx>,
    /// Effect, timeout and retries.
    pub policy: StepPolicy,
}

/// How a step is run: shared by actions and calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepPolicy {
    /// The effect class, after `effect … because` and irreversible connections.
    pub effect: EffectClass,
    /// `unattended because "…"`.
    pub unattended: Option<String>,
    /// `timeout D`: the deadline of each attempt.
    pub timeout: Option<ExprIx>,
    /// `retry …` clauses, in order (the first that matches an error applies).
    pub retries: Vec<RetryPolicy>,
    /// `idempotency_key EXPR`.
    pub idempotency_key: Option<ExprIx>,
}

/// `KEY EXPR` in a config block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: ExprIx,
}

/// One file of an ssh step's `files { … }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFetch {
    /// The field of the step's output.
    pub name: String,
    /// Its `res<…>` type.
    pub ty: TypeIx,
    /// The remote path.
    pub path: ExprIx,
}

/// `retry N [on CLASSES] [backoff …] [jitter]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub count: u32,
    /// The errors it retries (`transient` when written without `on`).
    pub on: Vec<RetryOn>,
    /// The delay between attempts.
    pub backoff: Backoff,
    /// `jitter`: each delay is randomised.
    pub jitter: bool,
}

/// An error class or code a retry applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryOn {
    /// Network errors, 5xx, 429.
    Transient,
    /// Every error.
    Any,
    /// One error code.
    Code(String),
}

/// The delay between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backoff {
    /// No delay (no `backoff` given).
    Immediate,
    /// `fixed(D)`.
    Fixed {
        /// D in milliseconds.
        delay_ms: u64,
    },
    /// `exponential(FIRST[, max CAP])`: doubling from FIRST up to CAP.
    Exponential {
        /// FIRST in milliseconds.
        first_ms: u64,
        /// CAP in milliseconds.
        max_ms: Option<u64>,
    },
}

/// `callback NAME { output T, timeout D }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackDef {
    /// The declared body type.
    pub output: Option<TypeIx>,
    /// How long `wait NAME` waits.
    pub timeout: ExprIx,
}

/// `approval NAME { … }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDef {
    /// `summary EXPR`.
    pub summary: Option<ExprIx>,
    /// `attach A, B`.
    pub attach: Vec<ExprIx>,
    /// `binds A, B`: digests journaled with the decision.
    pub binds: Vec<ExprIx>,
    /// `input { … }`: fields the decider fills in.
    pub input: Vec<InputField>,
    /// Who may decide.
    pub deciders: Vec<DeciderRef>,
    /// `not initiator`.
    pub not_initiator: bool,
    /// `exclude EXPR` (for example `review.by`).
    pub exclude: Vec<ExprIx>,
    /// `min N`: distinct approvals needed (1 when absent); one reject vetoes.
    pub min: Option<ExprIx>,
    /// `ask CONN { … }`.
    pub ask: Option<Ask>,
    /// How long to wait.
    pub timeout: ExprIx,
    /// The decision taken when the timeout passes.
    pub default: Decision,
}

/// A person or group allowed to decide.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeciderRef {
    /// `group`, `person`, or unmarked.
    pub kind: DeciderKind,
    /// The name in `weir.toml`.
    pub name: String,
}

/// How a decider is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeciderKind {
    /// A bare name: a person or a group.
    Any,
    /// `person NAME`.
    Person,
    /// `group NAME`.
    Group,
}

/// `ask CONN { … }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// The connection that tells the deciders.
    pub connection: String,
    /// Its settings.
    pub config: Vec<ConfigEntry>,
}

/// An approval's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Approve.
    Approve,
    /// Reject.
    Reject,
}

/// A block: instructions run in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The instructions.
    pub instrs: Vec<Instr>,
}

/// A structured instruction. Nested statements are blocks named by index; there are no
/// jumps, so every instruction has one place in the tree of blocks and replay can follow
/// it without a program counter (docs/bytecode.md, "Why structured").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Instr {
    /// Run a step (an action, a call, a timer or a wait), binding its name; with `undo`,
    /// register the compensation with the enclosing saga.
    Step {
        /// The step (kind `Action`, `Call`, `Sleep`, `WaitFor`, `WaitUntil` or `WaitCallback`).
        step: StepIx,
        /// `undo [always] { … }`.
        undo: Option<Undo>,
    },
    /// Create a callback's token and URL (kind `Callback`).
    Callback {
        /// The callback.
        step: StepIx,
    },
    /// Pause for a decision (kind `Approval`). On approve the rest of the block runs; on
    /// reject (or a timeout with `default reject`) `on_reject` runs, and unless it leaves
    /// by `break`, `continue`, `return` or `fail`, the run ends `rejected`.
    Approval {
        /// The approval.
        step: StepIx,
        /// `on reject { … }`.
        on_reject: Option<BlockIx>,
    },
    /// `log EXPR` (kind `Log`).
    Log {
        /// The log entry.
        step: StepIx,
    },
    /// `const NAME = EXPR`: bind a name.
    Let {
        /// The evaluation site (kind `Control`).
        site: StepIx,
        /// The name.
        name: String,
        /// The value.
        value: ExprIx,
    },
    /// `if … else if … else …`: the first arm whose condition is true runs.
    If {
        /// The evaluation site.
        site: StepIx,
        /// Conditions and blocks, in order.
        arms: Vec<IfArm>,
        /// `else { … }`.
        otherwise: Option<BlockIx>,
    },
    /// `for VAR in ITEMS [parallel N] { … }`.
    For {
        /// The evaluation site.
        site: StepIx,
        /// The loop variable.
        var: String,
        /// The list.
        items: ExprIx,
        /// At most N iterations at once (one at a time when absent).
        parallel: Option<ExprIx>,
        /// The body.
        body: BlockIx,
    },
    /// `loop max N { … }`: left by `break`; running out fails with `exhausted`.
    Loop {
        /// The evaluation site.
        site: StepIx,
        /// N.
        max: ExprIx,
        /// The body.
        body: BlockIx,
    },
    /// `repeat every D until COND max N { … }`: the body, then while COND is false a
    /// durable wait of D and the body again; running out fails with `exhausted`.
    Repeat {
        /// The evaluation site (and identity of the timers between iterations).
        site: StepIx,
        /// D.
        every: ExprIx,
        /// COND, evaluated after each iteration.
        until: ExprIx,
        /// N.
        max: ExprIx,
        /// The body.
        body: BlockIx,
    },
    /// `parallel { … }`: every block is a branch; all run at once; one failing cancels
    /// the others.
    Parallel {
        /// The branches in source order.
        branches: Vec<BlockIx>,
    },
    /// `try { … } catch [e] { … }`.
    Try {
        /// The body.
        body: BlockIx,
        /// The handler.
        catch: Handler,
    },
    /// `saga { … }`: on failure, rejection or cancellation run the registered undos newest
    /// first, then propagate.
    Saga {
        /// The body.
        body: BlockIx,
    },
    /// `break`: leave the innermost loop.
    Break,
    /// `continue`: start the innermost loop's next iteration.
    Continue,
    /// `fail MESSAGE [code CODE]`.
    Fail {
        /// The evaluation site.
        site: StepIx,
        /// The message.
        message: ExprIx,
        /// The code (`failed` when absent).
        code: Option<ExprIx>,
    },
    /// `return [EXPR]`: the run succeeds with EXPR as its output.
    Return {
        /// The evaluation site.
        site: StepIx,
        /// The output.
        value: Option<ExprIx>,
    },
}

/// One `if`/`else if` arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfArm {
    /// The condition.
    pub cond: ExprIx,
    /// Its block.
    pub body: BlockIx,
}

/// `undo { … }` or `undo always { … }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undo {
    /// `always`: runs if the step started at all, not only if it completed.
    pub always: bool,
    /// The compensation.
    pub body: BlockIx,
}

/// An expression node. Operands are earlier nodes of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExprNode {
    /// A constant of the pool (literals, `none`, `secret NAME`).
    Const(ConstIx),
    /// A name, resolved by the environment.
    Name {
        /// What kind of name it is.
        scope: NameScope,
        /// The name as written (`input`, `plan`, `repo`, `run`).
        name: String,
    },
    /// `[a, b]`.
    List(Vec<ExprIx>),
    /// `{ a: x, "b": y }` (keys unique).
    Record(Vec<(String, ExprIx)>),
    /// `base.name` or `base?.name` (which short-circuits the rest of its chain).
    Field {
        /// The base.
        base: ExprIx,
        /// The field.
        name: String,
        /// `?.`.
        optional: bool,
    },
    /// `base[index]`.
    Index {
        /// The list or record.
        base: ExprIx,
        /// The int position or string key.
        index: ExprIx,
    },
    /// A builtin call.
    Call {
        /// The builtin.
        builtin: Builtin,
        /// The arguments.
        args: Vec<ExprIx>,
    },
    /// `-x`, `!x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: ExprIx,
    },
    /// `a OP b`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left.
        lhs: ExprIx,
        /// Right.
        rhs: ExprIx,
    },
    /// A template string: text and holes.
    Template(Vec<TemplatePart>),
}

/// A piece of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// `{expr}`.
    Hole(ExprIx),
}

/// What a name refers to (the compiler resolved it; the environment looks it up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NameScope {
    /// `input`.
    Input,
    /// A step, callback or approval: its output.
    Step,
    /// A `const`.
    Const,
    /// A loop variable or the error of `catch`/`on failure`.
    Local,
    /// `run` (`run.id`, …).
    Run,
    /// `payload` in a webhook's `with`.
    Payload,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `-`.
    Neg,
    /// `!`.
    Not,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinaryOp {
    /// `||` (short-circuit).
    Or,
    /// `&&` (short-circuit).
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
    /// `??` (the right side is evaluated only when the left is `none`).
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
}

/// The builtins (compiler/src/builtins.rs). The encoding is the variant's position: new
/// builtins are added at the end, never reordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Builtin {
    /// `len(x)`.
    Len,
    /// `lower(s)`.
    Lower,
    /// `upper(s)`.
    Upper,
    /// `trim(s)`.
    Trim,
    /// `contains(s|list, x)`.
    Contains,
    /// `starts_with(s, prefix)`.
    StartsWith,
    /// `ends_with(s, suffix)`.
    EndsWith,
    /// `replace(s, from, to)`.
    Replace,
    /// `split(s, sep)`.
    Split,
    /// `join(list, sep)`.
    Join,
    /// `url_encode(s)`.
    UrlEncode,
    /// `quote_shell(s)`.
    QuoteShell,
    /// `to_json(x)`.
    ToJson,
    /// `parse_json(s)`.
    ParseJson,
    /// `read_text(res, max)` (environment).
    ReadText,
    /// `signed_url(res, ttl)` (environment).
    SignedUrl,
    /// `now()` (environment, journaled).
    Now,
    /// `uuid()` (environment, journaled).
    Uuid,
    /// `format_time(t, pattern[, zone])`.
    FormatTime,
    /// `parse_time(s[, pattern])`.
    ParseTime,
    /// `min(a, b)`.
    Min,
    /// `max(a, b)`.
    Max,
    /// `round(x)`.
    Round,
    /// `keys(record)`.
    Keys,
    /// `to_res(text)` (environment).
    ToRes,
    /// `prev(step)` (environment).
    Prev,
}

impl Builtin {
    /// Every builtin, in encoding order.
    pub const ALL: [Builtin; 26] = [
        Builtin::Len,
        Builtin::Lower,
        Builtin::Upper,
        Builtin::Trim,
        Builtin::Contains,
        Builtin::StartsWith,
        Builtin::EndsWith,
        Builtin::Replace,
        Builtin::Split,
        Builtin::Join,
        Builtin::UrlEncode,
        Builtin::QuoteShell,
        Builtin::ToJson,
        Builtin::ParseJson,
        Builtin::ReadText,
        Builtin::SignedUrl,
        Builtin::Now,
        Builtin::Uuid,
        Builtin::FormatTime,
        Builtin::ParseTime,
        Builtin::Min,
        Builtin::Max,
        Builtin::Round,
        Builtin::Keys,
        Builtin::ToRes,
        Builtin::Prev,
    ];

    /// The name as written in a flow.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Len => "len",
            Builtin::Lower => "lower",
            Builtin::Upper => "upper",
            Builtin::Trim => "trim",
            Builtin::Contains => "contains",
            Builtin::StartsWith => "starts_with",
            Builtin::EndsWith => "ends_with",
            Builtin::Replace => "replace",
            Builtin::Split => "split",
            Builtin::Join => "join",
            Builtin::UrlEncode => "url_encode",
            Builtin::QuoteShell => "quote_shell",
            Builtin::ToJson => "to_json",
            Builtin::ParseJson => "parse_json",
            Builtin::ReadText => "read_text",
            Builtin::SignedUrl => "signed_url",
            Builtin::Now => "now",
            Builtin::Uuid => "uuid",
            Builtin::FormatTime => "format_time",
            Builtin::ParseTime => "parse_time",
            Builtin::Min => "min",
            Builtin::Max => "max",
            Builtin::Round => "round",
            Builtin::Keys => "keys",
            Builtin::ToRes => "to_res",
            Builtin::Prev => "prev",
        }
    }

    /// The builtin written `name`.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Fewest and most arguments.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Builtin::Now | Builtin::Uuid => (0, 0),
            Builtin::Len
            | Builtin::Lower
            | Builtin::Upper
            | Builtin::Trim
            | Builtin::UrlEncode
            | Builtin::QuoteShell
            | Builtin::ToJson
            | Builtin::ParseJson
            | Builtin::Round
            | Builtin::Keys
            | Builtin::ToRes
            | Builtin::Prev => (1, 1),
            Builtin::ParseTime => (1, 2),
            Builtin::FormatTime => (2, 3),
            Builtin::Replace => (3, 3),
            Builtin::Contains
            | Builtin::StartsWith
            | Builtin::EndsWith
            | Builtin::Split
            | Builtin::Join
            | Builtin::ReadText
            | Builtin::SignedUrl
            | Builtin::Min
            | Builtin::Max => (2, 2),
        }
    }

    /// True when the value comes from the environment (the store, the journal or another
    /// iteration) rather than from the arguments alone.
    pub fn is_environmental(self) -> bool {
        matches!(
            self,
            Builtin::Now
                | Builtin::Uuid
                | Builtin::ReadText
                | Builtin::SignedUrl
                | Builtin::ToRes
                | Builtin::Prev
        )
    }
}

impl Instr {
    /// The blocks nested directly in this instruction, in source order (bodies, branches,
    /// handlers, `on reject`, an `undo`).
    pub fn blocks(&self) -> Vec<BlockIx> {
        match self {
            Instr::Step { undo, .. } => undo.iter().map(|u| u.body).collect(),
            Instr::Approval { on_reject, .. } => on_reject.iter().copied().collect(),
            Instr::If { arms, otherwise, .. } => arms.iter().map(|a| a.body).chain(*otherwise).collect(),
            Instr::For { body, .. } | Instr::Loop { body, .. } | Instr::Repeat { body, .. } => vec![*body],
            Instr::Saga { body } => vec![*body],
            Instr::Parallel { branches } => branches.clone(),
            Instr::Try { body, catch } => vec![*body, catch.body],
            Instr::Callback { .. }
            | Instr::Log { .. }
            | Instr::Let { .. }
            | Instr::Break
            | Instr::Continue
            | Instr::Fail { .. }
            | Instr::Return { .. } => Vec::new(),
        }
    }

    /// The step-table entry this instruction runs or binds, if it names one (a step, a
    /// callback, an approval).
    pub fn named_step(&self) -> Option<StepIx> {
        match self {
            Instr::Step { step, .. } | Instr::Callback { step } | Instr::Approval { step, .. } => Some(*step),
            _ => None,
        }
    }
}

impl Program {
    /// An expression node, if the index is in range.
    pub fn expr(&self, ix: ExprIx) -> Option<&ExprNode> {
        self.exprs.get(ix.0 as usize)
    }

    /// A constant, if the index is in range.
    pub fn constant(&self, ix: ConstIx) -> Option<&Value> {
        self.constants.get(ix.0 as usize)
    }

    /// A step-table entry, if the index is in range.
    pub fn step(&self, ix: StepIx) -> Option<&StepDef> {
        self.steps.get(ix.0 as usize)
    }

    /// A block, if the index is in range.
    pub fn block(&self, ix: BlockIx) -> Option<&Block> {
        self.blocks.get(ix.0 as usize)
    }

    /// A type descriptor, if the index is in range.
    pub fn ty(&self, ix: TypeIx) -> Option<&TypeDesc> {
        self.types.get(ix.0 as usize)
    }

    /// The step-table entry whose identity is `id`.
    pub fn step_by_id(&self, id: &str) -> Option<(StepIx, &StepDef)> {
        self.steps.iter().enumerate().find(|(_, s)| s.id == id).map(|(i, s)| (StepIx(i as u32), s))
    }
}
