//! From error chunks to diagnostics in the user's words.
//!
//! Each chunk is re-parsed on its own with the statement rule of its level and pest's error
//! detail switched on; the furthest position reached and the tokens expected there become
//! "expected …, found …", plus a hand-written hint for the common mistakes.

use crate::lower::{Chunk, Collected, Level};
use crate::parser::{CALLS_PER_BYTE, FlowParser, Rule};
use crate::words::{self, Expected};
use pest::Parser as _;
use pest::error::{Error, ErrorVariant, InputLocation};
use std::sync::Mutex;
use weir_diagnostics::{Code, Diagnostic, Span};

/// A lexical diagnostic, as recovery needs to know it.
pub(crate) struct Lexical {
    /// Where.
    pub span: Span,
    /// An unterminated string or hole: braces after it may be mismatched because of it.
    pub hides_braces: bool,
}

/// At most this many syntax errors are reported for one file.
pub const MAX_ERRORS: usize = 50;

/// pest's error-detail switch is process-wide: re-parses take this lock so that a parse on
/// another thread cannot switch it off halfway (which would make messages depend on timing).
static DETAIL: Mutex<()> = Mutex::new(());

/// Diagnostics for the chunks, unclosed blocks and stray braces lowering found.
pub(crate) fn syntax_diagnostics(
    text: &str,
    collected: &Collected,
    braces: &[u32],
    lexical: &[Lexical],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // A missing `}` shifts every brace after it; errors after the block that lost its `}`
    // are echoes of that one mistake.
    let mut echoes_after = usize::MAX;
    let unbalanced = unmatched_open(text, braces).is_some();
    if (unbalanced || !collected.unclosed.is_empty()) && !lexical.iter().any(|l| l.hides_braces) {
        let fallback = collected.unclosed.first().copied().unwrap_or_default();
        let (diagnostic, suspect) = unclosed(text, braces, fallback);
        if let Some(open) = suspect {
            echoes_after = open;
        }
        out.push(diagnostic);
    }
    let mut previous_end: Option<usize> = None;
    let mut reported = 0usize;
    let mut chunks: Vec<&Chunk> = collected.chunks.iter().collect();
    chunks.sort_by_key(|c| c.span.start);
    let mut last_span: Option<Span> = None;
    for chunk in chunks {
        let overlaps_lexical =
            lexical.iter().any(|l| l.span.start < chunk.span.end && chunk.span.start <= l.span.start);
        let inside_previous = last_span.is_some_and(|s| s.contains(chunk.span));
        let cascade =
            previous_end.is_some_and(|end| only_trivia_and_one_close(text, end, chunk.span.start as usize));
        let echo = chunk.span.start as usize > echoes_after
            || (echoes_after != usize::MAX && chunk.span.contains(Span::new(echoes_after, echoes_after)));
        previous_end = Some(chunk.span.end as usize);
        if overlaps_lexical || inside_previous || cascade || echo {
            continue;
        }
        last_span = Some(chunk.span);
        if reported == MAX_ERRORS {
            out.push(
                Diagnostic::new(
                    Code::TooManyErrors,
                    Span::empty(chunk.span.start as usize),
                    format!("more than {MAX_ERRORS} syntax errors; the rest of this file is not reported"),
                )
                .with_primary_label("stopped here")
                .with_help("fix the errors above and check again"),
            );
            break;
        }
        let diagnostic = match chunk.level {
            Level::Item => item_chunk(text, chunk),
            _ => chunk_diagnostic(text, chunk),
        };
        out.push(diagnostic);
        reported += 1;
    }
    for &close in collected.stray_closes.iter().filter(|c| (c.start as usize) < echoes_after) {
        out.push(
            Diagnostic::new(
                Code::UnexpectedClosingBrace,
                close,
                "this `}` closes the flow, but statements follow it",
            )
            .with_primary_label("unexpected `}`")
            .with_help("remove it, or look above for a block that was closed twice"),
        );
    }
    out
}

/// Text outside any flow: a stray `}`, statements after a flow closed too early, or garbage.
fn item_chunk(text: &str, chunk: &Chunk) -> Diagnostic {
    let start = chunk.span.start as usize;
    let chunk_text = &text[chunk.span.range()];
    if chunk_text.trim() == "}" {
        return Diagnostic::new(Code::UnexpectedClosingBrace, chunk.span, "this `}` closes nothing")
            .with_primary_label("unexpected `}`")
            .with_help("remove it");
    }
    let first_word: String =
        chunk_text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let before = text[..start].trim_end();
    if before.ends_with('}') && words::statement_keywords(Level::Flow).contains(&first_word.as_str()) {
        let close = before.len() - 1;
        return Diagnostic::new(
            Code::UnexpectedClosingBrace,
            Span::new(close, close + 1),
            "this `}` ends the flow, but more statements follow it",
        )
        .with_primary_label("the flow ends here")
        .with_label(Span::new(start, start + first_word.len()), "this statement is outside the flow")
        .with_help("remove this `}`; the flow's own `}` comes after its last statement");
    }
    if first_word != "flow" && words::closest(&first_word, &["flow"]).is_none() {
        let line_end = chunk_text.find('\n').unwrap_or(chunk_text.len());
        let span = Span::new(start, start + chunk_text[..line_end].trim_end().len().max(1));
        return Diagnostic::new(Code::SyntaxError, span, "this text is outside any flow")
            .with_primary_label("not part of a flow")
            .with_help("a file holds `flow NAME { … }`; write notes as `#` comments");
    }
    chunk_diagnostic(text, chunk)
}

/// The diagnostic when pest fails on the whole file (only the call limit should do that).
pub(crate) fn whole_file_failure(text: &str, error: &Error<Rule>) -> Diagnostic {
    let at = position(error).min(text.trim_end().len());
    match &error.variant {
        ErrorVariant::CustomError { message } if message.contains("call limit") => Diagnostic::new(
            Code::InputTooComplex,
            Span::empty(0),
            "this file needs more parsing work than weir allows, so it was not parsed",
        )
        .with_primary_label("in this file")
        .with_help("this happens with syntax errors in deeply nested blocks: fix those, or split the flow")
        .with_note(format!("the budget is {} to {CALLS_PER_BYTE} parser steps per byte", CALLS_PER_BYTE / 2)),
        _ => Diagnostic::new(Code::SyntaxError, Span::empty(at), "this file could not be read")
            .with_primary_label("the parser stopped here"),
    }
}

fn position(error: &Error<Rule>) -> usize {
    match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((start, _)) => start,
    }
}

fn only_trivia_and_one_close(text: &str, from: usize, to: usize) -> bool {
    let between = text.get(from..to).unwrap_or("");
    let mut closes = 0;
    for line in between.lines() {
        let code = line.split('#').next().unwrap_or("");
        for c in code.chars() {
            match c {
                '}' => closes += 1,
                c if c.is_whitespace() => {}
                _ => return false,
            }
        }
    }
    closes == 1
}

/// The innermost `{` left without a `}` at the end of the file, if any.
fn unmatched_open(text: &str, braces: &[u32]) -> Option<usize> {
    let mut stack = Vec::new();
    for &at in braces {
        if text.as_bytes()[at as usize] == b'{' {
            stack.push(at as usize);
        } else {
            stack.pop();
        }
    }
    stack.last().copied()
}

/// Which `{` lacks its `}`: pest pairs braces innermost first, so it always blames the
/// outermost block. A `}` that sits at a lower indentation than the `{` it closes points at
/// the real culprit.
fn unclosed(text: &str, braces: &[u32], fallback: Span) -> (Diagnostic, Option<usize>) {
    let indent = |at: usize| {
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let line = &text[line_start..];
        (line.len() - line.trim_start_matches([' ', '\t']).len(), line_start)
    };
    let mut stack: Vec<usize> = Vec::new();
    let mut suspect: Option<(usize, usize)> = None;
    for &at in braces {
        let at = at as usize;
        if text.as_bytes()[at] == b'{' {
            stack.push(at);
            continue;
        }
        let Some(open) = stack.pop() else { continue };
        let (close_indent, close_line) = indent(at);
        let first_on_line = text[close_line..at].trim().is_empty();
        if suspect.is_none() && first_on_line && indent(open).0 > close_indent {
            suspect = Some((open, at));
        }
    }
    let (open, note) = match (suspect, stack.last()) {
        (Some((open, close)), _) => (open, Some(close)),
        (None, Some(&open)) => (open, None),
        (None, None) => (fallback.start as usize, None),
    };
    let mut diagnostic =
        Diagnostic::new(Code::UnclosedBlock, Span::new(open, open + 1), "this `{` has no matching `}`")
            .with_primary_label("opened here");
    if let Some(close) = note {
        diagnostic = diagnostic
            .with_label(Span::new(close, close + 1), "this `}`, at a lower indentation, closed it instead")
            .with_help("add the missing `}` before this line");
        (diagnostic, Some(open))
    } else {
        (diagnostic.with_help("add a `}` at the end of the block"), None)
    }
}

/// Re-parse one chunk strictly and describe the first problem in it.
fn chunk_diagnostic(text: &str, chunk: &Chunk) -> Diagnostic {
    let start = chunk.span.start as usize;
    let chunk_text = &text[chunk.span.range()];
    let rule = match chunk.level {
        Level::Item => Rule::item_strict,
        Level::Flow => Rule::flow_stmt_strict,
        Level::Block => Rule::block_stmt_strict,
    };
    let error = {
        let _guard = DETAIL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pest::set_error_detail(true);
        // The sentinel keeps the strict parse from taking the chunk's end for the end of
        // the file (where a missing `}` is tolerated).
        let with_sentinel = format!("{chunk_text}\u{1}");
        let result = FlowParser::parse(rule, &with_sentinel).err();
        pest::set_error_detail(false);
        result
    };
    let error = match error {
        Some(error) => error,
        None => return nested_problem(text, chunk, rule),
    };
    let mut expected = words::expected(&error, chunk.level);
    let offset = expected.position.min(chunk_text.len());
    let at = words::word_start(text, start, start + offset);
    let found = words::found(text, at, chunk.span.end as usize);
    if at < start + offset
        && expected.tokens.is_empty()
        && expected.phrases.is_empty()
        && let Some(keyword) = words::keyword_prefix(&found.text)
    {
        expected.tokens.push(keyword.to_string());
    }
    describe(text, chunk, at, &expected, &found)
}

/// The strict parse of a chunk can succeed when the chunk holds a block whose own recovery
/// took the problem in; describe that inner problem instead.
fn nested_problem(text: &str, chunk: &Chunk, rule: Rule) -> Diagnostic {
    let start = chunk.span.start as usize;
    let chunk_text = &text[chunk.span.range()];
    let with_sentinel = format!("{chunk_text}\u{1}");
    let inner = FlowParser::parse(rule, &with_sentinel).ok().and_then(|pairs| {
        pairs
            .flatten()
            .find(|p| {
                matches!(
                    p.as_rule(),
                    Rule::stmt_error | Rule::top_stmt_error | Rule::missing_close | Rule::stray_close
                )
            })
            .map(|p| (p.as_rule(), p.as_span().start(), p.as_span().end()))
    });
    match inner {
        Some((Rule::stmt_error | Rule::top_stmt_error, s, e)) if s < chunk_text.len() => {
            let end = e.min(chunk_text.len());
            let inner_text = chunk_text[s..end].trim_end();
            let span = Span::new(start + s, start + s + inner_text.len());
            chunk_diagnostic(text, &Chunk { span, level: Level::Block })
        }
        _ => {
            let at = chunk.span.end as usize;
            Diagnostic::new(
                Code::SyntaxError,
                Span::empty(at),
                "expected `}` to close the block, found end of the statement",
            )
            .with_primary_label("a `}` is missing here")
            .with_help("add the missing `}`")
        }
    }
}

fn describe(text: &str, chunk: &Chunk, at: usize, expected: &Expected, found: &words::Found) -> Diagnostic {
    let list = expected.phrase();
    let span = found.span;
    let level_keywords = words::statement_keywords(chunk.level);
    if at == chunk.span.start as usize && found.is_word && !level_keywords.contains(&found.text.as_str()) {
        // A flow-level statement inside a block.
        if words::statement_keywords(Level::Flow).contains(&found.text.as_str()) {
            return Diagnostic::new(
                Code::SyntaxError,
                span,
                format!("`{}` belongs at the top level of the flow, not inside a block", found.text),
            )
            .with_primary_label("not allowed in a block")
            .with_help("move it out of the block, or check that the block above is closed");
        }
        // A statement that starts with an unknown word: most likely a misspelled keyword.
        let mut diagnostic = Diagnostic::new(
            Code::UnknownKeyword,
            span,
            format!("`{}` does not start a statement", found.text),
        )
        .with_primary_label("unknown keyword");
        diagnostic = match words::closest(&found.text, level_keywords) {
            Some(keyword) => diagnostic.with_help(format!("did you mean `{keyword}`?")),
            None => diagnostic.with_help(format!(
                "a statement starts with a keyword such as {}",
                level_keywords.iter().take(6).map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            )),
        };
        return diagnostic;
    }
    if found.is_word
        && words::is_reserved(&found.text)
        && expected.phrases.contains(&"a name")
        && words::introduces_name(&text[chunk.span.start as usize..at])
    {
        return Diagnostic::new(
            Code::SyntaxError,
            span,
            format!("`{}` is a reserved word and cannot be used as a name", found.text),
        )
        .with_primary_label("reserved word")
        .with_help(format!("choose another name, such as `{}_1`", found.text));
    }
    // `if {` / `for x in xs parallel {` / `loop max {`: the block's `{` was read as a record.
    if let Some(diagnostic) = missing_header_expression(text, chunk, at) {
        return diagnostic;
    }
    // `{ a: 1, b: 2` followed by a line `timeout 30s`: the record's `}` is missing and the
    // next line's first word was read as another field.
    if expected.tokens.iter().any(|t| t == ":")
        && let Some(word) = words::word_starting_line_before(text, at)
    {
        let word_text = &text[word.range()];
        return Diagnostic::new(
            Code::SyntaxError,
            word,
            format!("expected `,` or `}}` to end the record, found `{word_text}`"),
        )
        .with_primary_label(format!("`{word_text}` starts a new line inside an unclosed record"))
        .with_help("close the record on the line above with `}`");
    }
    if text[..at].trim_end().ends_with("res<") {
        return Diagnostic::new(Code::SyntaxError, span, format!("expected a resource kind, found {}", found.describe()))
            .with_primary_label("resource kind missing")
            .with_help("write `res<text>`, `res<json>`, `res<bytes>` or a quoted media type such as `res<\"image/png\">`");
    }
    let previous_word = text[..at].split_whitespace().last().unwrap_or("");
    let list = match previous_word {
        "step" | "approval" | "callback" | "ask"
            if expected.phrases == ["a name"] && expected.tokens.is_empty() =>
        {
            if previous_word == "ask" {
                "the connection".to_string()
            } else {
                format!("the {previous_word}'s name")
            }
        }
        _ => list,
    };
    let message = format!("expected {list}, found {}", found.describe());
    let label = if found.is_end {
        format!("expected {list} here")
    } else {
        format!("unexpected {}", found.describe())
    };
    let diagnostic = Diagnostic::new(Code::SyntaxError, span, message).with_primary_label(label);
    match hint(text, at, expected, found) {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

/// A block statement whose header lacks its expression, so that the block's `{` was taken
/// for the start of a record.
fn missing_header_expression(text: &str, chunk: &Chunk, at: usize) -> Option<Diagnostic> {
    let start = chunk.span.start as usize;
    let before = &text[start..at.max(start)];
    let mut offset = start;
    let mut found = None;
    for line in before.split_inclusive('\n') {
        let code = line.trim_end();
        if let Some(header) = code.strip_suffix('{') {
            let header = header.trim();
            let brace = offset + code.len() - 1;
            let kind = if header.starts_with("for ") && header.ends_with(" parallel") {
                Some(("a bound", "parallel", "the most branches run at once, e.g. `parallel 4`"))
            } else if header.ends_with(" max") || header == "max" {
                Some(("a bound", "max", "the most iterations, e.g. `max 10`"))
            } else if header == "if" || header.ends_with("else if") {
                Some(("a condition", "if", "the condition, e.g. `if x > 1 {`"))
            } else if header.starts_with("for ") && header.ends_with(" in") {
                Some(("a list", "in", "the list to iterate, e.g. `for x in input.items {`"))
            } else if header.ends_with(" until") {
                Some(("a condition", "until", "the condition that ends the polling"))
            } else {
                None
            };
            if let Some(kind) = kind {
                found = Some((brace, kind));
            }
        }
        offset += line.len();
    }
    let (brace, (what, after, help)) = found?;
    Some(
        Diagnostic::new(
            Code::SyntaxError,
            Span::new(brace, brace + 1),
            format!("expected {what} after `{after}`, found `{{`"),
        )
        .with_primary_label(format!("{what} is missing before this `{{`"))
        .with_help(format!("write {help}")),
    )
}

/// Hand-written hints for the common mistakes.
fn hint(text: &str, at: usize, expected: &Expected, found: &words::Found) -> Option<String> {
    let keywords = expected.keywords();
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let line_before = text[line_start..at].trim_start();
    if found.text == "="
        && ["if ", "else if ", "repeat ", "until "]
            .iter()
            .any(|k| line_before.starts_with(k) || line_before.contains(&format!(" {k}")))
    {
        return Some("to compare, write `==`".into());
    }
    if found.text == "=" && expected.tokens.iter().any(|t| t == "{") {
        return Some("remove the `=`: this block starts directly with `{`".into());
    }
    if found.text == ":" && expected.phrases.contains(&"a config entry") {
        return Some("config entries are `key value`, without `:`".into());
    }
    if found.text == "}" && text[..at].ends_with('{') {
        return Some("`{` starts a template hole; write `\\{` for a literal brace".into());
    }
    if found.text == "," && expected.phrases.contains(&"a config entry") {
        return Some("config entries are separated by line breaks, not commas".into());
    }
    if found.is_word {
        if let Some(keyword) = keywords.iter().find(|k| k.eq_ignore_ascii_case(&found.text)) {
            return Some(format!("did you mean `{keyword}`?"));
        }
        if let Some(keyword) = words::closest(&found.text, &keywords) {
            return Some(format!("did you mean `{keyword}`?"));
        }
        if found.text == "backoff" || found.text == "jitter" {
            return Some(format!(
                "`{}` belongs on the `retry` line: `retry 3 backoff exponential(2s, max 1m)`",
                found.text
            ));
        }
    }
    let before = &text[..at];
    let decimal_duration =
        before.ends_with('.') && before[..before.len() - 1].ends_with(|c: char| c.is_ascii_digit());
    if found.text.ends_with(['s', 'm', 'h', 'd'])
        && (decimal_duration || before.ends_with(|c: char| c.is_ascii_digit()))
    {
        {
            return Some("a duration is whole numbers with units: write `90m` or `1h30m`, not `1.5h`".into());
        }
    }
    if found.is_end && expected.tokens.iter().any(|t| t == "}") {
        return Some("a `}` is missing here".into());
    }
    if found.at_line_start(text) && expected.tokens.iter().any(|t| t == "}") {
        return Some("a `}` seems to be missing at the end of the previous line".into());
    }
    if found.is_end && expected.tokens.iter().any(|t| t == "\"") {
        return Some("close the string with `\"`".into());
    }
    None
}
