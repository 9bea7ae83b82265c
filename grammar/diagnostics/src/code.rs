//! The registry of diagnostic codes: the only place a code, its name and its severity are
//! written down. Code elsewhere names a [`Code`] variant, never a bare string.

use crate::diagnostic::Severity;

/// What the registry knows about one code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    /// The variant.
    pub code: Code,
    /// Stable short code for SARIF and CI (`E0001`).
    pub short: &'static str,
    /// Kebab name for people and for `# allow(name): reason`.
    pub name: &'static str,
    /// Severity unless the project's settings change it.
    pub severity: Severity,
    /// One line saying what the code is about.
    pub summary: &'static str,
}

macro_rules! codes {
    ($($variant:ident = $short:literal, $name:literal, $severity:ident, $summary:literal;)*) => {
        /// A registered diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        /// Every registered code, in registry order.
        pub const ALL_CODES: &[CodeInfo] = &[
            $(CodeInfo {
                code: Code::$variant,
                short: $short,
                name: $name,
                severity: Severity::$severity,
                summary: $summary,
            },)*
        ];
    };
}

codes! {
    SyntaxError = "E0001", "syntax-error", Error,
        "The text does not follow the grammar of a .flow file.";
    UnclosedBlock = "E0002", "unclosed-block", Error,
        "A `{` is never closed by a matching `}`.";
    UnterminatedString = "E0003", "unterminated-string", Error,
        "A string or template has no closing quote.";
    TooDeeplyNested = "E0004", "too-deeply-nested", Error,
        "Braces, brackets or parentheses nest deeper than weir accepts.";
    TooManyErrors = "E0005", "too-many-errors", Error,
        "A file has so many syntax errors that weir stopped reporting them.";
    InvalidUtf8 = "E0006", "invalid-utf8", Error,
        "A .flow file is not valid UTF-8.";
    InputTooComplex = "E0007", "input-too-complex", Error,
        "The parser gave up on a file that needs too much work to parse.";
    UnknownKeyword = "E0008", "unknown-keyword", Error,
        "A statement starts with a word that is not a keyword of the language.";
    UnexpectedClosingBrace = "E0009", "unexpected-closing-brace", Error,
        "A `}` closes nothing.";
    InvalidEscape = "E0010", "invalid-escape", Error,
        "A string contains a backslash escape that weir does not know.";
    InvalidCharacter = "E0011", "invalid-character", Error,
        "A file contains a NUL byte or another control character outside strings.";
    NumberOutOfRange = "E0012", "number-out-of-range", Error,
        "A number or duration literal is too large to represent.";
    UnknownName = "E0201", "unknown-name", Error,
        "A name refers to no step, approval, callback, const, loop variable or builtin.";
    DuplicateName = "E0202", "duplicate-name", Error,
        "Two steps, approvals, callbacks, consts, types or inputs share a name.";
    UsedBeforeDefined = "E0203", "used-before-defined", Error,
        "A step, approval or callback is used before the statement that defines it.";
    UnknownStepFamily = "E0204", "unknown-step-family", Error,
        "A step names a family that does not exist.";
    UnknownConfigField = "E0205", "unknown-config-field", Error,
        "A step, approval or callback config has a key its kind does not take.";
    MissingStepField = "E0206", "missing-step-field", Error,
        "A step's config lacks a field its family requires.";
    InvalidMethod = "E0207", "invalid-method", Error,
        "A step's method (or its target string) does not fit its family.";
    UnknownType = "E0208", "unknown-type", Error,
        "A type name is neither a built-in type nor a declared `type` alias.";
    UnknownFunction = "E0209", "unknown-function", Error,
        "A call names a function that is not a builtin.";
    WrongArgumentCount = "E0210", "wrong-argument-count", Error,
        "A builtin is called with too few or too many arguments.";
    UnknownInput = "E0211", "unknown-input", Error,
        "`input.NAME` names no field of the flow's `input`.";
    UnknownConnection = "E0212", "unknown-connection", Error,
        "A step names a connection that weir.toml does not declare.";
    WrongConnectionType = "E0213", "wrong-connection-type", Error,
        "A step uses a connection whose type its family cannot talk to.";
    UndeclaredSecret = "E0214", "undeclared-secret", Error,
        "`secret NAME` names no entry of weir.toml's `[secrets]`.";
    UnknownDecider = "E0215", "unknown-decider", Error,
        "An approval's deciders name a person or group weir.toml does not declare.";
    UnknownField = "E0216", "unknown-field", Error,
        "A field is read that the value's type does not have.";
    ValueMayBeNone = "E0217", "value-may-be-none", Error,
        "A field of a value that may be `none` is read without `?.`, `??` or narrowing.";
    TypeMismatch = "E0218", "type-mismatch", Error,
        "A value of one type is used where another is required.";
    SecretAsString = "E0219", "secret-as-string", Error,
        "A secret is put into a string (a template hole), where it could reach a log or a prompt.";
    NotIterable = "E0220", "not-iterable", Error,
        "`for` iterates over something that is not a typed list (untyped `json` included).";
    TriggerMissingInput = "E0221", "trigger-missing-input", Error,
        "A schedule (or a webhook's `with`) cannot supply a required input.";
    UnknownFlow = "E0222", "unknown-flow", Error,
        "`call SLUG` names no flow of the project or the library.";
    NoMatchingVersion = "E0223", "no-matching-version", Error,
        "`call SLUG@RANGE` matches no version of that flow (or the range is not a semver range).";
    CallMissingInput = "E0224", "call-missing-input", Error,
        "A `call` does not give an input the called flow requires.";
    PrevOutsideLoop = "E0225", "prev-outside-loop", Error,
        "`prev(STEP)` is used outside a loop, or on something that is not a step.";
    MissingConcurrency = "E0301", "missing-concurrency", Error,
        "A flow has no `concurrency` statement.";
    MissingTimeout = "E0302", "missing-timeout", Error,
        "An approval or callback has no `timeout`.";
    MissingDefault = "E0303", "missing-default", Error,
        "An approval has no `default approve|reject`.";
    UnboundedLoop = "E0304", "unbounded-loop", Error,
        "A `loop` or `repeat` has no `max`.";
    UnboundedFanOut = "E0305", "unbounded-fan-out", Error,
        "`for … parallel N` takes N from neither a literal nor a range-typed input.";
    IdempotencyKeyUnsupported = "E0306", "idempotency-key-unsupported", Error,
        "An `idempotency_key` on a step whose protocol has none.";
    WebhookWithoutVerification = "E0307", "webhook-without-verification", Error,
        "A webhook trigger has no `verify` clause.";
    CallbackUrlInMessage = "E0308", "callback-url-in-message", Error,
        "A callback's single-use URL is put into a message people read.";
    UnguardedIrreversible = "E0309", "unguarded-irreversible", Error,
        "An irreversible step can run without the approve outcome of an approval before it.";
    UnguardedModelWrite = "E0310", "unguarded-model-write", Error,
        "A write step fed free-form model or agent output can run without an approval before it.";
    ApprovalBeforeProducer = "E0311", "approval-before-producer", Error,
        "The approval guarding a step comes before a step that produces that step's inputs.";
    DefaultApproveGuard = "E0312", "default-approve-guard", Error,
        "An approval that guards a step approves by itself when it times out (`default approve`).";
    UnusedInput = "W0201", "unused-input", Warning,
        "An input is declared but never read.";
    UnusedStep = "W0202", "unused-step", Warning,
        "A step whose only purpose is its value (function, kv get, a read) is never used.";
    SagaStepWithoutUndo = "W0301", "saga-step-without-undo", Warning,
        "A write or irreversible step in a saga, other than its last, has no `undo`.";
    RetryWithoutIdempotencyKey = "W0302", "retry-without-idempotency-key", Warning,
        "A retried http write or irreversible step has no `idempotency_key`.";
    UnreachableCode = "W0303", "unreachable-code", Warning,
        "A statement follows `fail`, `return`, `break` or `continue` in the same block.";
    ScheduleWithoutTz = "W0304", "schedule-without-tz", Warning,
        "A schedule trigger has no `tz`: UTC is assumed.";
    BindsNotUsed = "W0305", "binds-not-used", Warning,
        "An approval binds content that the step it guards does not use.";
    ConcurrencyKeyNotInput = "E0313", "concurrency-key-not-input", Error,
        "A `concurrency … per KEY` expression reads something other than the flow's `input`.";
    ParallelKvWrite = "E0314", "parallel-kv-write", Error,
        "Two parallel branches (or iterations) write kv keys that are not provably distinct.";
    InvalidCron = "E0501", "invalid-cron", Error,
        "A schedule's cron pattern is malformed or never fires.";
    InvalidTimeZone = "E0502", "invalid-time-zone", Error,
        "A schedule's `tz` is not a time zone of the tz database.";
    DuplicateWebhookPath = "E0503", "duplicate-webhook-path", Error,
        "Two webhook triggers of one project listen on the same path.";
    BreakingChangeWithoutMajor = "E0504", "breaking-change-without-major", Error,
        "A flow's interface breaks its callers but its version has no major bump.";
    SuspiciousSchedule = "W0501", "suspicious-schedule", Warning,
        "A valid schedule that is probably not what was meant (every minute, skipped months, a DST gap).";
    AdditionWithoutMinor = "W0502", "addition-without-minor", Warning,
        "A flow's interface gained something but its version has no minor bump.";
    UnusedSuppression = "W0002", "unused-suppression", Warning,
        "An `# allow(name): reason` comment silences nothing.";
    CredentialInFlow = "E0401", "credential-in-flow", Error,
        "A flow contains what looks like a credential (a token, a key, a password) as a literal.";
    InjectionRisk = "E0402", "injection-risk", Error,
        "Untrusted text reaches an ssh command, SQL text, a URL or a header without quoting.";
    SqlTemplateHole = "E0403", "sql-template-hole", Error,
        "SQL text has a `{…}` template hole; values go in `params`.";
    UnboundedPayload = "E0404", "unbounded-payload", Error,
        "A value weir cannot bound in size is passed whole into a step instead of as a `res<>`.";
    InvalidSuppression = "W0001", "invalid-suppression", Warning,
        "An `# allow(name): reason` comment names no known code or gives no reason.";
    ConfigSyntaxError = "E0101", "config-syntax-error", Error,
        "weir.toml is not valid TOML.";
    UnknownConfigKey = "E0102", "unknown-config-key", Error,
        "weir.toml has a key or table that weir does not know.";
    InvalidConfigValue = "E0103", "invalid-config-value", Error,
        "A value in weir.toml has the wrong type or is out of range.";
    MissingConfigField = "E0104", "missing-config-field", Error,
        "A table in weir.toml lacks a key it needs.";
    InvalidConnectionType = "E0105", "invalid-connection-type", Error,
        "A connection's `type` is not one weir has an executor for.";
    FieldNotForConnectionType = "E0106", "field-not-for-connection-type", Error,
        "A connection sets a key that its type does not use.";
    InvalidSecretReference = "E0107", "invalid-secret-reference", Error,
        "A secret reference is not `env:NAME`, `file:PATH` or `secret:NAME`.";
    UnknownSecret = "E0108", "unknown-secret", Error,
        "A `secret:NAME` reference names no entry of `[secrets]`.";
    CredentialInConfig = "E0109", "credential-in-config", Error,
        "weir.toml contains what looks like a credential value instead of a reference.";
    UnknownGroupMember = "E0110", "unknown-group-member", Error,
        "A group lists a member who is not in `[people]`.";
    InvalidRateLimit = "E0111", "invalid-rate-limit", Error,
        "A `rate_limit` is not of the form `N/s`, `N/m` or `N/h`.";
    UnknownCheckCode = "E0112", "unknown-check-code", Error,
        "`[checks]` names a diagnostic code that does not exist.";
    InvalidCheckLevel = "E0113", "invalid-check-level", Error,
        "`[checks]` gives a code a level other than error, warning or off, or lowers an error.";
    InvalidConfigName = "E0114", "invalid-config-name", Error,
        "A connection, secret, person or group name cannot be written in a flow.";
    InsecureConnectionUrl = "W0101", "insecure-connection-url", Warning,
        "A connection sends traffic unencrypted (`http://`) to a public address.";
    EmptyGroup = "W0102", "empty-group", Warning,
        "A group has no members, so an approval it decides can never be approved.";
}

/// Where every code's documentation page lives.
pub const DOCS_BASE: &str = "https://github.com/weir-flow/weir/blob/main/docs/diagnostics/";

impl Code {
    /// The registry entry of this code.
    pub fn info(self) -> &'static CodeInfo {
        // The registry is generated in variant order, so the discriminant is the index.
        &ALL_CODES[self as usize]
    }

    /// Stable short code (`E0001`).
    pub fn short(self) -> &'static str {
        self.info().short
    }

    /// Kebab name (`syntax-error`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Default severity.
    pub fn severity(self) -> Severity {
        self.info().severity
    }

    /// URL of the code's documentation page.
    pub fn docs_url(self) -> String {
        format!("{DOCS_BASE}{}.md", self.name())
    }

    /// Find a code by short code (case-insensitive) or kebab name.
    pub fn lookup(query: &str) -> Option<Code> {
        let query = query.trim();
        ALL_CODES
            .iter()
            .find(|info| info.short.eq_ignore_ascii_case(query) || info.name == query)
            .map(|info| info.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn registry_is_consistent() {
        let mut shorts = HashSet::new();
        let mut names = HashSet::new();
        for (index, info) in ALL_CODES.iter().enumerate() {
            assert_eq!(info.code as usize, index);
            assert!(shorts.insert(info.short), "duplicate short code {}", info.short);
            assert!(names.insert(info.name), "duplicate name {}", info.name);
            assert!(info.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()));
            let prefix = match info.severity {
                Severity::Error => 'E',
                Severity::Warning => 'W',
                Severity::Advice => 'A',
            };
            assert!(info.short.starts_with(prefix), "{} has severity {:?}", info.short, info.severity);
        }
    }

    #[test]
    fn lookup_by_either_name() {
        assert_eq!(Code::lookup("e0001"), Some(Code::SyntaxError));
        assert_eq!(Code::lookup("unclosed-block"), Some(Code::UnclosedBlock));
        assert_eq!(Code::lookup("nope"), None);
    }
}
