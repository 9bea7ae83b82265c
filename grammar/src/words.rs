//! The user's words for what the parser expected and found. Grammar rule names stop here:
//! every rule is described by an exhaustive match, so a new rule cannot leak its name.

use crate::lower::Level;
use crate::parser::Rule;
use pest::error::{Error, ErrorVariant, InputLocation};
use weir_diagnostics::Span;

/// Keywords that start a statement inside a block.
const BLOCK_KEYWORDS: &[&str] = &[
    "step", "approval", "callback", "parallel", "branch", "for", "if", "loop", "repeat", "try", "saga",
    "fail", "return", "log", "sleep", "wait", "break", "continue",
];

/// Keywords that start a statement at flow level.
const FLOW_KEYWORDS: &[&str] = &[
    "step",
    "approval",
    "callback",
    "parallel",
    "branch",
    "for",
    "if",
    "loop",
    "repeat",
    "try",
    "saga",
    "fail",
    "return",
    "log",
    "sleep",
    "wait",
    "break",
    "continue",
    "version",
    "description",
    "concurrency",
    "trigger",
    "input",
    "output",
    "type",
    "const",
    "timeout",
    "on",
];

/// Operators and postfix punctuation, collapsed into "an operator" when several are expected.
const OPERATORS: &[&str] =
    &["??", "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", ".", "?.", "[", "("];

/// Operators that cannot start an expression: seeing several of them means "an operator".
const INFIX_ONLY: &[&str] =
    &["??", "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "*", "/", "%", ".", "?."];

/// How a rule reads to a user.
enum Desc {
    /// Nothing worth saying (trivia, recovery helpers, string internals).
    Skip,
    /// One of the statements.
    Statement,
    /// A phrase such as "an expression".
    Phrase(&'static str),
}

/// What the parser expected at the furthest position it reached.
pub(crate) struct Expected {
    /// Byte offset in the re-parsed chunk.
    pub position: usize,
    /// True when a statement was expected.
    pub statement: bool,
    /// Literal tokens (punctuation and keywords), deduplicated, in a stable order.
    pub tokens: Vec<String>,
    /// Phrases ("a name", "an expression", …).
    pub phrases: Vec<&'static str>,
}

impl Expected {
    /// The expected tokens that are words.
    pub fn keywords(&self) -> Vec<&str> {
        self.tokens
            .iter()
            .map(String::as_str)
            .filter(|t| t.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
            .collect()
    }

    /// "`{`, a name or an expression".
    pub fn phrase(&self) -> String {
        let mut items: Vec<String> = Vec::new();
        if self.statement {
            items.push("a statement".into());
        }
        items.extend(self.tokens.iter().map(|t| format!("`{t}`")));
        items.extend(self.phrases.iter().map(|p| p.to_string()));
        if items.len() > 6 {
            items.truncate(6);
            items.push("…".into());
        }
        match items.len() {
            0 => "something else".into(),
            1 => items.remove(0),
            n => format!("{} or {}", items[..n - 1].join(", "), items[n - 1]),
        }
    }
}

/// What stood at the error position.
pub(crate) struct Found {
    /// The token text (empty at an end).
    pub text: String,
    /// Where.
    pub span: Span,
    /// A word (keyword or name).
    pub is_word: bool,
    /// The end of the line, the statement or the file.
    pub is_end: bool,
    end_of_file: bool,
}

impl Found {
    /// "`=`", "end of line", "a string", ….
    pub fn describe(&self) -> String {
        if self.end_of_file {
            "end of file".into()
        } else if self.is_end {
            "end of line".into()
        } else if self.text.starts_with('"') {
            "a string".into()
        } else {
            format!("`{}`", self.text)
        }
    }

    /// True when only whitespace precedes the token on its line.
    pub fn at_line_start(&self, text: &str) -> bool {
        let start = self.span.start as usize;
        let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
        text[line_start..start].trim().is_empty()
    }
}

/// Read the expectations out of a strict re-parse's error.
pub(crate) fn expected(error: &Error<Rule>, level: Level) -> Expected {
    let mut position = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut raw_tokens: Vec<String> = Vec::new();
    if let Some(attempts) = error.parse_attempts() {
        position = attempts.max_position;
        raw_tokens = attempts.expected_tokens().iter().map(|t| t.to_string()).collect();
    }
    let positives: Vec<Rule> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let statement_words = statement_keywords(level);
    let mut statement = positives.iter().any(|r| matches!(describe(*r), Desc::Statement));
    let keyword_hits = raw_tokens.iter().filter(|t| statement_words.contains(&t.as_str())).count();
    if keyword_hits >= 3 {
        statement = true;
    }
    let operator_hits = raw_tokens.iter().filter(|t| INFIX_ONLY.contains(&t.as_str())).count();
    let mut phrases: Vec<&'static str> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    for token in raw_tokens {
        let is_statement_word = statement && statement_words.contains(&token.as_str());
        let is_operator = operator_hits >= 3 && OPERATORS.contains(&token.as_str());
        let duration_unit = matches!(token.as_str(), "ms" | "s" | "m" | "h" | "d");
        let printable = !token.is_empty()
            && !duration_unit
            && !token.contains("..")
            && token != "BUILTIN_RULE"
            && token != "#"
            && token != "_";
        if is_operator {
            push_unique(&mut phrases, "an operator");
        } else if printable
            && !is_statement_word
            && !tokens.contains(&token)
            && !token.contains(char::is_whitespace)
        {
            tokens.push(token);
        }
    }
    for rule in positives {
        if let Desc::Phrase(phrase) = describe(rule) {
            push_unique(&mut phrases, phrase);
        }
    }
    // Say the general thing once: an expression can be a string or a name.
    phrases
        .retain(|p| !tokens.iter().any(|t| p.strip_prefix('`').and_then(|p| p.strip_suffix('`')) == Some(t)));
    if phrases.contains(&"an expression") {
        phrases.retain(|p| *p != "a string" && *p != "a name" && *p != "a number");
        tokens.retain(|t| {
            !matches!(
                t.as_str(),
                "\"" | "-"
                    | "!"
                    | "["
                    | "{"
                    | "("
                    | "true"
                    | "false"
                    | "none"
                    | "secret"
                    | "raw\""
                    | "\"\"\""
                    | "raw\"\"\""
            )
        });
    }
    if phrases.contains(&"a name or a quoted key") {
        phrases.retain(|p| *p != "a name");
        tokens.retain(|t| t != "\"");
    }
    if tokens.iter().any(|t| t == ":") {
        phrases.retain(|p| *p != "a field");
    }
    if tokens.iter().any(|t| t.chars().all(|c| c.is_ascii_alphabetic() || c == '-')) {
        phrases.retain(|p| *p != "an operator");
    }
    if phrases.contains(&"a string") {
        tokens.retain(|t| !matches!(t.as_str(), "\"" | "raw\"" | "\"\"\"" | "raw\"\"\""));
    }
    if phrases.contains(&"a type") {
        tokens.retain(|t| !matches!(t.as_str(), "list" | "res" | "(" | "{" | "\""));
    }
    tokens.sort_by_key(|t| (t.chars().next().is_some_and(|c| c.is_ascii_alphabetic()), t.clone()));
    phrases.sort_by_key(|p| phrase_rank(p));
    Expected { position, statement, tokens, phrases }
}

fn push_unique(phrases: &mut Vec<&'static str>, phrase: &'static str) {
    if !phrases.contains(&phrase) {
        phrases.push(phrase);
    }
}

fn phrase_rank(phrase: &str) -> u8 {
    match phrase {
        "a name" => 0,
        "a flow name" => 1,
        "a type" => 2,
        "an expression" => 3,
        "a string" => 4,
        "a config entry" => 5,
        "an operator" => 8,
        "the end of the statement" => 9,
        _ => 6,
    }
}

/// The token at byte `at` of the full text, for "found …".
pub(crate) fn found(text: &str, at: usize, chunk_end: usize) -> Found {
    let rest = &text[at.min(text.len())..];
    let line_rest = rest.split('\n').next().unwrap_or("");
    let code_rest = line_rest.split('#').next().unwrap_or("").trim_end();
    if at >= text.trim_end().len() {
        return Found {
            text: String::new(),
            span: Span::empty(at.min(text.len())),
            is_word: false,
            is_end: true,
            end_of_file: true,
        };
    }
    if code_rest.trim().is_empty() || at >= chunk_end {
        return Found {
            text: String::new(),
            span: Span::empty(at),
            is_word: false,
            is_end: true,
            end_of_file: false,
        };
    }
    let first = rest.chars().next().unwrap_or(' ');
    let len = if first.is_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).unwrap_or(rest.len())
    } else if first == '"' {
        let close = rest[1..].find(['"', '\n']).map_or(line_rest.len(), |n| n + 2);
        close.min(line_rest.len()).clamp(1, 40)
    } else {
        let two = rest.get(..2).unwrap_or("");
        if ["==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..", "=>", "->"].contains(&two) {
            2
        } else {
            first.len_utf8()
        }
    };
    let mut len = len.max(1).min(rest.len());
    while !rest.is_char_boundary(len) {
        len -= 1;
    }
    let token = &rest[..len];
    Found {
        text: token.to_string(),
        span: Span::new(at, at + len),
        is_word: first.is_alphabetic() || first == '_',
        is_end: false,
        end_of_file: false,
    }
}

/// When the only thing on `at`'s line before it is one word, that word's span.
pub(crate) fn word_starting_line_before(text: &str, at: usize) -> Option<Span> {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let before = &text[line_start..at];
    let word = before.trim();
    let is_word = !word.is_empty() && word.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !is_word || text[at..].trim_start().chars().next().is_none_or(|c| c == ':') {
        return None;
    }
    let start = line_start + before.find(word)?;
    Some(Span::new(start, start + word.len()))
}

/// Words that cannot name anything (the grammar's `reserved` rule).
const RESERVED: &[&str] = &[
    "flow",
    "step",
    "callback",
    "approval",
    "parallel",
    "branch",
    "for",
    "in",
    "if",
    "else",
    "loop",
    "repeat",
    "break",
    "continue",
    "try",
    "catch",
    "saga",
    "fail",
    "return",
    "log",
    "sleep",
    "wait",
    "trigger",
    "concurrency",
    "const",
    "type",
    "true",
    "false",
    "none",
    "secret",
    "on",
    "not",
    "call",
];

/// True when `before` (the text from the statement start to the error) ends with a word
/// that introduces a name (`step`, `approval`, `for`, …).
pub(crate) fn introduces_name(before: &str) -> bool {
    let last = before.split_whitespace().last().unwrap_or("");
    ["step", "approval", "callback", "for", "const", "type", "catch", "failure"].contains(&last)
}

/// Every keyword of the grammar, reserved or contextual.
const KEYWORDS: &[&str] = &[
    "flow",
    "step",
    "callback",
    "approval",
    "parallel",
    "branch",
    "for",
    "in",
    "if",
    "else",
    "loop",
    "repeat",
    "break",
    "continue",
    "try",
    "catch",
    "saga",
    "fail",
    "return",
    "log",
    "sleep",
    "wait",
    "trigger",
    "concurrency",
    "const",
    "type",
    "true",
    "false",
    "none",
    "secret",
    "on",
    "not",
    "call",
    "version",
    "description",
    "input",
    "output",
    "timeout",
    "failure",
    "max",
    "per",
    "unlimited",
    "because",
    "manual",
    "schedule",
    "webhook",
    "tz",
    "with",
    "verify",
    "hmac",
    "scheme",
    "until",
    "every",
    "code",
    "retry",
    "backoff",
    "exponential",
    "fixed",
    "jitter",
    "effect",
    "unattended",
    "undo",
    "always",
    "files",
    "deciders",
    "group",
    "person",
    "initiator",
    "exclude",
    "min",
    "ask",
    "default",
    "approve",
    "reject",
    "attach",
    "binds",
    "list",
    "res",
];

/// The longest keyword that `word` starts with but is not: pest stops inside `input` when it
/// wanted `in`, and says nothing about what it wanted.
pub(crate) fn keyword_prefix(word: &str) -> Option<&'static str> {
    KEYWORDS.iter().copied().filter(|k| word.len() > k.len() && word.starts_with(k)).max_by_key(|k| k.len())
}

/// True for a reserved word.
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word)
}

/// pest reports some failures inside or just after a word (`stepp`, `loop` as a name); the
/// user's view of that position is the start of the word.
pub(crate) fn word_start(text: &str, floor: usize, at: usize) -> usize {
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut at = at.min(text.len());
    let inside = at < bytes.len() && at > floor && is_ident(bytes[at]) && is_ident(bytes[at - 1]);
    let after = at > floor
        && is_ident(bytes[at - 1])
        && (at == bytes.len() || bytes[at] == b' ' || bytes[at] == b'\t');
    if inside || after {
        while at > floor && is_ident(bytes[at - 1]) {
            at -= 1;
        }
    }
    at
}

/// Statement keywords valid at `level`.
pub(crate) fn statement_keywords(level: Level) -> &'static [&'static str] {
    match level {
        Level::Item => &["flow"],
        Level::Flow => FLOW_KEYWORDS,
        Level::Block => BLOCK_KEYWORDS,
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = match word.chars().count() {
        0..=2 => 0,
        3..=4 => 1,
        _ => 2,
    };
    let common_prefix = |c: &str| word.chars().zip(c.chars()).take_while(|(a, b)| a == b).count();
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= limit && *d > 0 && !c.is_empty())
        .min_by_key(|(d, c)| (*d, usize::MAX - common_prefix(c)))
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
/// adjacent characters each cost 1 (`stpe` is one edit from `step`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Every rule, in words. Exhaustive on purpose: adding a rule forces a decision here.
fn describe(rule: Rule) -> Desc {
    use Desc::*;
    match rule {
        Rule::EOI => Phrase("the end of the statement"),
        Rule::WHITESPACE
        | Rule::COMMENT
        | Rule::file
        | Rule::missing_close
        | Rule::stray_close
        | Rule::str_text
        | Rule::str_escape
        | Rule::multi_text
        | Rule::raw_text
        | Rule::raw_multi_text
        | Rule::str_skip
        | Rule::comment_skip
        | Rule::stmt_error
        | Rule::top_stmt_error
        | Rule::item_error
        | Rule::optional_mark
        | Rule::flow_stmt_strict
        | Rule::block_stmt_strict
        | Rule::item_strict
        | Rule::hspace
        | Rule::ident_char
        | Rule::reserved
        | Rule::close
        | Rule::duration_unit
        | Rule::stmt_kw
        | Rule::block_kw
        | Rule::line_stmt
        | Rule::bal_config
        | Rule::bal_block
        | Rule::unit_config
        | Rule::unit_block
        | Rule::top_unit_config
        | Rule::special_key
        | Rule::block_start
        | Rule::nested_block
        | Rule::policy_word
        | Rule::scheme_word
        | Rule::effect_word
        | Rule::method => Skip,
        Rule::return_value => Phrase("an expression"),
        Rule::flow_stmt | Rule::block_stmt => Statement,
        Rule::step_call => Phrase("a step family such as `http`, `llm` or `function`"),
        Rule::wait_target => Phrase("a callback name, `for` or `until`"),
        Rule::config_entry | Rule::approval_entry => Phrase("a config entry"),
        Rule::type_atom => Phrase("a type"),
        Rule::key => Phrase("a name or a quoted key"),
        Rule::prefix | Rule::primary | Rule::string_any => Phrase("an expression"),
        Rule::postfix | Rule::infix => Phrase("an operator"),
        Rule::flow => Phrase("a flow"),
        Rule::version_stmt
        | Rule::description_stmt
        | Rule::concurrency_stmt
        | Rule::trigger_stmt
        | Rule::input_decl
        | Rule::output_decl
        | Rule::type_decl
        | Rule::const_decl
        | Rule::run_timeout
        | Rule::on_failure
        | Rule::step_stmt
        | Rule::callback_stmt
        | Rule::approval_stmt
        | Rule::parallel_stmt
        | Rule::branch_stmt
        | Rule::for_stmt
        | Rule::if_stmt
        | Rule::loop_stmt
        | Rule::repeat_stmt
        | Rule::break_stmt
        | Rule::continue_stmt
        | Rule::try_stmt
        | Rule::saga_stmt
        | Rule::fail_stmt
        | Rule::return_stmt
        | Rule::log_stmt
        | Rule::sleep_stmt
        | Rule::wait_stmt => Statement,
        Rule::word | Rule::ident | Rule::decider => Phrase("a name"),
        Rule::slug => Phrase("a flow name"),
        Rule::version_req => Phrase("a version range such as `^1`"),

        Rule::concurrency_max | Rule::concurrency_unlimited => Phrase("`max` or `unlimited`"),
        Rule::because => Phrase("`because`"),
        Rule::trigger_manual | Rule::trigger_schedule | Rule::trigger_webhook => {
            Phrase("`manual`, `schedule` or `webhook`")
        }
        Rule::webhook_verify => Phrase("`verify`"),
        Rule::verify_hmac | Rule::verify_none => Phrase("`hmac(…)` or `none because …`"),
        Rule::trigger_with => Phrase("`with`"),
        Rule::call_sleep | Rule::call_wait | Rule::call_flow | Rule::call_family => {
            Phrase("a step family such as `http`, `llm` or `function`")
        }
        Rule::wait_for | Rule::wait_until => Phrase("a callback name, `for` or `until`"),
        Rule::block | Rule::config | Rule::approval_config => Phrase("`{`"),
        Rule::else_if | Rule::else_block => Phrase("`else`"),
        Rule::retry_entry
        | Rule::effect_entry
        | Rule::unattended_entry
        | Rule::undo_entry
        | Rule::output_entry
        | Rule::files_entry
        | Rule::input_entry
        | Rule::deciders_entry
        | Rule::ask_entry
        | Rule::default_entry
        | Rule::on_reject_entry
        | Rule::list_entry
        | Rule::plain_entry
        | Rule::config_key => Phrase("a config entry"),
        Rule::retry_on | Rule::retry_class => Phrase("an error class such as `transient`"),
        Rule::backoff => Phrase("`backoff`"),
        Rule::backoff_exponential | Rule::backoff_fixed => Phrase("`exponential(…)` or `fixed(…)`"),
        Rule::decider_rule | Rule::not_initiator | Rule::exclude_rule | Rule::min_rule => {
            Phrase("`not initiator`, `exclude …` or `min …`")
        }
        Rule::type_expr
        | Rule::type_term
        | Rule::type_list
        | Rule::type_res
        | Rule::type_record
        | Rule::type_literal
        | Rule::type_paren
        | Rule::type_range
        | Rule::type_name
        | Rule::type_field => Phrase("a type"),
        Rule::range => Phrase("a range such as `1..10`"),
        Rule::signed_int | Rule::int => Phrase("a number"),
        Rule::plain_string => Phrase("a name or a quoted key"),
        Rule::expr
        | Rule::op_neg
        | Rule::op_not
        | Rule::float
        | Rule::duration
        | Rule::secret_ref
        | Rule::list
        | Rule::record
        | Rule::paren
        | Rule::hole
        | Rule::kw_true
        | Rule::kw_false
        | Rule::kw_none => Phrase("an expression"),
        Rule::record_field => Phrase("a field"),
        Rule::string | Rule::multi_string | Rule::raw_string | Rule::raw_multi => Phrase("a string"),
        Rule::field
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
        | Rule::op_rem => Phrase("an operator"),
        Rule::kw_flow
        | Rule::kw_step
        | Rule::kw_callback
        | Rule::kw_approval
        | Rule::kw_parallel
        | Rule::kw_branch
        | Rule::kw_for
        | Rule::kw_in
        | Rule::kw_if
        | Rule::kw_else
        | Rule::kw_loop
        | Rule::kw_repeat
        | Rule::kw_break
        | Rule::kw_continue
        | Rule::kw_try
        | Rule::kw_catch
        | Rule::kw_saga
        | Rule::kw_fail
        | Rule::kw_return
        | Rule::kw_log
        | Rule::kw_sleep
        | Rule::kw_wait
        | Rule::kw_trigger
        | Rule::kw_concurrency
        | Rule::kw_const
        | Rule::kw_type
        | Rule::kw_secret
        | Rule::kw_on
        | Rule::kw_not
        | Rule::kw_call
        | Rule::kw_version
        | Rule::kw_description
        | Rule::kw_input
        | Rule::kw_output
        | Rule::kw_timeout
        | Rule::kw_failure
        | Rule::kw_max
        | Rule::kw_per
        | Rule::kw_unlimited
        | Rule::kw_because
        | Rule::kw_manual
        | Rule::kw_schedule
        | Rule::kw_webhook
        | Rule::kw_tz
        | Rule::kw_with
        | Rule::kw_verify
        | Rule::kw_hmac
        | Rule::kw_scheme
        | Rule::kw_until
        | Rule::kw_every
        | Rule::kw_code
        | Rule::kw_retry
        | Rule::kw_backoff
        | Rule::kw_exponential
        | Rule::kw_fixed
        | Rule::kw_jitter
        | Rule::kw_effect
        | Rule::kw_unattended
        | Rule::kw_undo
        | Rule::kw_always
        | Rule::kw_files
        | Rule::kw_deciders
        | Rule::kw_group
        | Rule::kw_person
        | Rule::kw_initiator
        | Rule::kw_exclude
        | Rule::kw_min
        | Rule::kw_ask
        | Rule::kw_default
        | Rule::kw_approve
        | Rule::kw_reject
        | Rule::kw_attach
        | Rule::kw_binds
        | Rule::kw_list
        | Rule::kw_res => Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("stpe", "step"), 1);
        assert_eq!(edit_distance("aproval", "approval"), 1);
        assert_eq!(closest("stpe", BLOCK_KEYWORDS), Some("step"));
        assert_eq!(closest("zzz", BLOCK_KEYWORDS), None);
    }
}
