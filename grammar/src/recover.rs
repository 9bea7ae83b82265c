//! From error chunks to diagnostics in the user's words.
//!
//! Each chunk is re-parsed on its own with the statement rule of its level and pest's error
//! detail switched on; the furthest position reached and the tokens expected there become
//! "expected …, found …", plus a hand-written hint for the common mistakes.

use crate::lower::{Chunk, Collected, Level};
use crate::parser::{FlowParser, Rule};
use crate::words::{self, Expected};
use pest::Parser as _;
use pest::error::{Error, ErrorVariant, InputLocation};
use std::sync::Mutex;
use weir_diagnostics::{Code, Diagnostic, Span};

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
    lexical: &[Span],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut previous_end: Option<usize> = None;
    let mut reported = 0usize;
    let mut chunks: Vec<&Chunk> = collected.chunks.iter().collect();
    chunks.sort_by_key(|c| c.span.start);
    let mut last_span: Option<Span> = None;
    for chunk in chunks {
        let overlaps_lexical =
            lexical.iter().any(|l| l.start < chunk.span.end && chunk.span.start <= l.start);
        let inside_previous = last_span.is_some_and(|s| s.contains(chunk.span));
        let cascade =
            previous_end.is_some_and(|end| only_trivia_and_one_close(text, end, chunk.span.start as usize));
        previous_end = Some(chunk.span.end as usize);
        if overlaps_lexical || inside_previous || cascade {
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
        out.push(chunk_diagnostic(text, chunk));
        reported += 1;
    }
    for &close in &collected.stray_closes {
        out.push(stray_close(close));
    }
    if !collected.unclosed.is_empty() && !lexical_reaches_end(text, lexical) {
        out.push(unclosed(text, braces, collected.unclosed[0]));
    }
    out
}

/// The diagnostic when pest fails on the whole file (only the call limit should do that).
pub(crate) fn whole_file_failure(text: &str, error: &Error<Rule>) -> Diagnostic {
    let at = position(error).min(text.len());
    match &error.variant {
        ErrorVariant::CustomError { message } if message.contains("call limit") => Diagnostic::new(
            Code::InputTooComplex,
            Span::empty(at),
            "this file needs too much work to parse; weir gave up",
        )
        .with_primary_label("the parser stopped here")
        .with_help("look for long runs of unclosed `{`, `(` or `[` and close them"),
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

fn lexical_reaches_end(text: &str, lexical: &[Span]) -> bool {
    lexical.iter().any(|s| s.end as usize >= text.trim_end().len())
}

fn stray_close(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UnexpectedClosingBrace,
        span,
        "this `}` closes nothing: the flow continues after it",
    )
    .with_primary_label("unexpected `}`")
    .with_help("remove it, or look above for a block that was closed twice")
}

/// Which `{` lacks its `}`: pest pairs braces innermost first, so it always blames the
/// outermost block. A `}` that sits at a lower indentation than the `{` it closes points at
/// the real culprit.
fn unclosed(text: &str, braces: &[u32], fallback: Span) -> Diagnostic {
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
    let mut diagnostic = Diagnostic::new(
        Code::UnclosedBlock,
        Span::new(open, open + 1),
        "this `{` is never closed: the file ends before its `}`",
    )
    .with_primary_label("opened here");
    if let Some(close) = note {
        diagnostic = diagnostic
            .with_label(Span::new(close, close + 1), "this `}`, at a lower indentation, closed it instead")
            .with_help("add the missing `}` before this line");
    } else {
        diagnostic = diagnostic.with_help("add a `}` at the end of the block");
    }
    diagnostic
}

/// Re-parse one chunk strictly and describe the first problem in it.
fn chunk_diagnostic(text: &str, chunk: &Chunk) -> Diagnostic {
    let start = chunk.span.start as usize;
    let chunk_text = &text[chunk.span.range()];
    if chunk_text.trim() == "}" {
        return stray_close(chunk.span);
    }
    let rule = match chunk.level {
        Level::Item => Rule::item_strict,
        Level::Flow => Rule::flow_stmt_strict,
        Level::Block => Rule::block_stmt_strict,
    };
    let error = {
        let _guard = DETAIL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pest::set_error_detail(true);
        let result = FlowParser::parse(rule, chunk_text).err();
        pest::set_error_detail(false);
        result
    };
    let Some(error) = error else {
        return Diagnostic::new(Code::SyntaxError, chunk.span, "this statement could not be read here")
            .with_primary_label("not expected here");
    };
    let expected = words::expected(&error, chunk.level);
    let offset = expected.position.min(chunk_text.len());
    let at = start + offset;
    let found = words::found(text, at, chunk.span.end as usize);
    describe(text, chunk, at, &expected, &found)
}

fn describe(text: &str, chunk: &Chunk, at: usize, expected: &Expected, found: &words::Found) -> Diagnostic {
    let list = expected.phrase();
    let span = found.span;
    // A statement that starts with an unknown word: most likely a misspelled keyword.
    if at == chunk.span.start as usize && expected.statement && found.is_word {
        let keywords = words::statement_keywords(chunk.level);
        let mut diagnostic = Diagnostic::new(
            Code::UnknownKeyword,
            span,
            format!("`{}` does not start a statement", found.text),
        )
        .with_primary_label("unknown keyword");
        diagnostic = match words::closest(&found.text, keywords) {
            Some(keyword) => diagnostic.with_help(format!("did you mean `{keyword}`?")),
            None => diagnostic.with_help(format!(
                "a statement starts with a keyword such as {}",
                keywords.iter().take(6).map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            )),
        };
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
    let mut diagnostic =
        Diagnostic::new(Code::SyntaxError, span, format!("expected {list}, found {}", found.describe()))
            .with_primary_label(if found.is_end {
                format!("expected {list} here")
            } else {
                format!("unexpected {}", found.describe())
            });
    if found.text == "=" && expected.tokens.iter().any(|t| t == "{") {
        diagnostic = diagnostic.with_help("remove the `=`: this block starts directly with `{`");
    } else if found.is_word
        && let Some(keyword) = words::closest(&found.text, &expected.keywords())
    {
        diagnostic = diagnostic.with_help(format!("did you mean `{keyword}`?"));
    } else if found.at_line_start(text) && expected.tokens.iter().any(|t| t == "}") {
        diagnostic = diagnostic.with_help("a `}` seems to be missing at the end of the previous line");
    } else if expected.tokens.iter().any(|t| t == "\"") && found.is_end {
        diagnostic = diagnostic.with_help("close the string with `\"`");
    }
    diagnostic
}
