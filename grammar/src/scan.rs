//! The lexical pre-scan: one linear pass over the text before pest runs.
//!
//! It does what a PEG cannot do cheaply or safely: it measures nesting depth (our recursive
//! code would overflow the stack long before pest complains), collects comments and blank
//! lines for the formatter and the LSP, and finds lexical mistakes (unterminated strings,
//! unknown escapes, control characters) with exact spans.

use crate::trivia::{Comment, CommentKind, Trivia};
use weir_diagnostics::{Code, Diagnostic, Span};

/// Deepest nesting of `{ [ ( list<` and template holes that weir accepts.
pub const MAX_NESTING: usize = 64;

/// What the scan found.
pub(crate) struct Scan {
    /// Comments and blank lines.
    pub trivia: Trivia,
    /// Lexical diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// True when nesting went past [`MAX_NESTING`]: the text must not reach the parser.
    pub too_deep: bool,
    /// Offsets of every `{` and `}` in code (not in strings, comments or template holes).
    pub braces: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StrKind {
    Plain,
    Multi,
    Raw,
    RawMulti,
}

enum Frame {
    /// An opening bracket in code.
    Open(u8),
    /// A string or template being read; `start` is its first quote.
    Str { kind: StrKind, start: usize },
    /// A `{expr}` hole inside a template; `start` is its `{`, `single_line` says whether the
    /// template must end on this line.
    Hole { start: usize, single_line: bool },
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Scan `text`.
pub(crate) fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut depth = 0usize;
    let mut trivia = Trivia::default();
    let mut diagnostics = Vec::new();
    let mut line_has_code = false;
    let mut line_start = 0usize;
    let mut braces = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let in_string = matches!(stack.last(), Some(Frame::Str { .. }));
        if let Some(&Frame::Str { kind, start }) = stack.last() {
            match (kind, b) {
                (StrKind::Plain | StrKind::Raw, b'\n') => {
                    stack.pop();
                    // A string inside an unclosed hole: the hole is the mistake.
                    if let Some(&Frame::Hole { start: hole, single_line: true }) = stack.last() {
                        stack.pop();
                        stack.pop();
                        depth = depth.saturating_sub(1);
                        diagnostics.push(unclosed_hole(text, hole));
                    } else {
                        diagnostics.push(unterminated(text, start, i, kind));
                    }
                    continue;
                }
                (StrKind::Plain | StrKind::Raw, b'"') => {
                    stack.pop();
                    i += 1;
                    continue;
                }
                (StrKind::Multi | StrKind::RawMulti, b'"') if bytes[i..].starts_with(b"\"\"\"") => {
                    stack.pop();
                    i += 3;
                    continue;
                }
                (StrKind::Plain | StrKind::Multi, b'\\') => {
                    if let Some(diagnostic) = check_escape(text, i) {
                        diagnostics.push(diagnostic);
                    }
                    i += escape_len(text, i);
                    continue;
                }
                (StrKind::Plain | StrKind::Multi, b'{') => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        diagnostics.push(too_deep(i));
                        return Scan { trivia, diagnostics, too_deep: true, braces };
                    }
                    stack.push(Frame::Hole { start: i, single_line: kind == StrKind::Plain });
                    i += 1;
                    continue;
                }
                (_, 0) => {
                    diagnostics.push(control_char(text, i, true));
                    i += 1;
                    continue;
                }
                (_, b'\n') => {
                    // A newline inside a multi-line string: the line has content.
                    line_start = i + 1;
                    line_has_code = true;
                    i += 1;
                    continue;
                }
                _ => {
                    i += 1;
                    continue;
                }
            }
        }
        debug_assert!(!in_string);
        match b {
            b'\n' if matches!(stack.last(), Some(Frame::Hole { single_line: true, .. })) => {
                if let Some(Frame::Hole { start, .. }) = stack.pop() {
                    diagnostics.push(unclosed_hole(text, start));
                }
                stack.pop();
                depth = depth.saturating_sub(1);
                continue;
            }
            b'\n' => {
                if !line_has_code
                    && trivia.comments.last().is_none_or(|c| (c.span.start as usize) < line_start)
                {
                    trivia.blank_lines.push(line_start as u32);
                }
                line_has_code = false;
                line_start = i + 1;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                for (at, &c) in bytes.iter().enumerate().take(end).skip(i) {
                    if c < 0x20 && c != b'\t' && c != b'\r' {
                        diagnostics.push(control_char(text, at, false));
                    }
                }
                let end = trim_end(bytes, i, end);
                trivia.comments.push(comment(text, i, end, line_has_code));
                i = end;
                continue;
            }
            _ => {}
        }
        line_has_code = true;
        match b {
            b'"' => {
                let raw = i >= 3 && &bytes[i - 3..i] == b"raw" && (i < 4 || !is_ident_byte(bytes[i - 4]));
                let multi = bytes[i..].starts_with(b"\"\"\"");
                let kind = match (raw, multi) {
                    (false, false) => StrKind::Plain,
                    (false, true) => StrKind::Multi,
                    (true, false) => StrKind::Raw,
                    (true, true) => StrKind::RawMulti,
                };
                let start = if raw { i - 3 } else { i };
                stack.push(Frame::Str { kind, start });
                i += if multi { 3 } else { 1 };
            }
            b'{' | b'[' | b'(' | b'<' => {
                if b == b'<' && !after_word(bytes, i, &["list", "res"]) {
                    i += 1;
                    continue;
                }
                if b == b'{' {
                    braces.push(i as u32);
                }
                depth += 1;
                if depth > MAX_NESTING {
                    diagnostics.push(too_deep(i));
                    return Scan { trivia, diagnostics, too_deep: true, braces };
                }
                stack.push(Frame::Open(b));
                i += 1;
            }
            b'}' | b']' | b')' | b'>' => {
                match stack.last() {
                    Some(Frame::Hole { .. }) if b == b'}' => {
                        stack.pop();
                        depth = depth.saturating_sub(1);
                    }
                    Some(Frame::Open(open)) if matches(*open, b) => {
                        if b == b'}' {
                            braces.push(i as u32);
                        }
                        stack.pop();
                        depth = depth.saturating_sub(1);
                    }
                    // A `>` that closes nothing is a comparison; other strays are the
                    // parser's to report.
                    _ if b == b'}' => braces.push(i as u32),
                    _ => {}
                }
                i += 1;
            }
            0..=0x1f | 0x7f => {
                diagnostics.push(control_char(text, i, false));
                i += 1;
            }
            _ => i += 1,
        }
    }
    if let Some(Frame::Str { kind, start }) = stack.last() {
        diagnostics.push(unterminated(text, *start, text.len(), *kind));
    }
    if !line_has_code
        && line_start < text.len()
        && trivia.comments.last().is_none_or(|c| (c.span.start as usize) < line_start)
    {
        trivia.blank_lines.push(line_start as u32);
    }
    Scan { trivia, diagnostics, too_deep: false, braces }
}

fn matches(open: u8, close: u8) -> bool {
    matches!((open, close), (b'{', b'}') | (b'[', b']') | (b'(', b')') | (b'<', b'>'))
}

fn after_word(bytes: &[u8], at: usize, words: &[&str]) -> bool {
    let mut end = at;
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && is_ident_byte(bytes[start - 1]) {
        start -= 1;
    }
    words.iter().any(|w| &bytes[start..end] == w.as_bytes())
}

fn trim_end(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && matches!(bytes[end - 1], b' ' | b'\t' | b'\r') {
        end -= 1;
    }
    end
}

fn comment(text: &str, start: usize, end: usize, trailing: bool) -> Comment {
    let body = &text[start..end];
    let kind = if body.starts_with("##") {
        CommentKind::Doc
    } else if body[1..].trim_start().starts_with("allow(") {
        CommentKind::Allow
    } else {
        CommentKind::Line
    };
    Comment { span: Span::new(start, end), kind, trailing }
}

/// Byte length of the escape starting at the backslash at `at` (at least 1, on a char boundary).
fn escape_len(text: &str, at: usize) -> usize {
    match text[at + 1..].chars().next() {
        None => 1,
        Some('\n') => 1,
        Some('u') if text[at + 2..].starts_with('{') => {
            text[at..].find('}').filter(|&n| n <= 10).map_or(2, |n| n + 1)
        }
        Some(c) => 1 + c.len_utf8(),
    }
}

fn check_escape(text: &str, at: usize) -> Option<Diagnostic> {
    let next = text[at + 1..].chars().next();
    let ok = match next {
        Some('n' | 't' | 'r' | '\\' | '"' | '{' | '}' | '0') => true,
        Some('u') => {
            let rest = &text[at + 2..];
            rest.starts_with('{')
                && rest.find('}').is_some_and(|close| {
                    let hex = &rest[1..close];
                    !hex.is_empty()
                        && hex.len() <= 6
                        && u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).is_some()
                })
        }
        _ => false,
    };
    if ok {
        return None;
    }
    let len = escape_len(text, at);
    let general = "escapes are \\n \\t \\r \\\\ \\\" \\{ \\} \\0 and \\u{HEX}; write raw\"…\" for text with backslashes";
    let (message, help) = match next {
        None | Some('\n') | Some('\r') => (
            "a `\\` at the end of a line is not a line continuation".to_string(),
            "for text over several lines use \"\"\"…\"\"\"".to_string(),
        ),
        Some('u') if text[at + 2..].starts_with('{') => (
            format!("`{}` is not a Unicode character", &text[at..at + len]),
            "write at most six hex digits naming a Unicode scalar value, such as \\u{1F44B}".to_string(),
        ),
        Some('u') => {
            let hex: String = text[at + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).take(6).collect();
            (format!("unknown escape `{}` in a string", &text[at..at + len]), format!("write `\\u{{{hex}}}`"))
        }
        Some(_) => (format!("unknown escape `{}` in a string", &text[at..at + len]), general.to_string()),
    };
    Some(
        Diagnostic::new(Code::InvalidEscape, Span::new(at, at + len), message)
            .with_primary_label("not an escape weir knows")
            .with_help(help),
    )
}

fn unterminated(text: &str, start: usize, end: usize, kind: StrKind) -> Diagnostic {
    let (what, close) = match kind {
        StrKind::Plain => ("string", "\""),
        StrKind::Raw => ("raw string", "\""),
        StrKind::Multi => ("multi-line string", "\"\"\""),
        StrKind::RawMulti => ("raw multi-line string", "\"\"\""),
    };
    let end = trim_end(text.as_bytes(), start, end);
    let span = Span::new(start, end);
    let reached = if end >= text.trim_end().len() { "the end of the file" } else { "the end of the line" };
    let mut diagnostic = Diagnostic::new(
        Code::UnterminatedString,
        span,
        format!("this {what} is never closed: it reaches {reached}"),
    )
    .with_primary_label(format!("{what} starts here"));
    diagnostic = match kind {
        StrKind::Plain | StrKind::Raw => diagnostic
            .with_help(format!("add the closing `{close}`; for text over several lines use \"\"\"…\"\"\"")),
        StrKind::Multi | StrKind::RawMulti => diagnostic.with_help(format!("add the closing `{close}`")),
    };
    diagnostic
}

fn unclosed_hole(text: &str, start: usize) -> Diagnostic {
    let line_end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    let end = trim_end(text.as_bytes(), start, line_end);
    Diagnostic::new(
        Code::UnterminatedString,
        Span::new(start, end.max(start + 1)),
        "this template hole `{` is never closed: the line ends first",
    )
    .with_primary_label("hole starts here")
    .with_help("close the hole with `}` before the closing quote; write `\\{` for a literal brace")
}

fn too_deep(at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::TooDeeplyNested,
        Span::new(at, at + 1),
        format!("nesting is deeper than {MAX_NESTING} levels"),
    )
    .with_primary_label(format!("level {} starts here", MAX_NESTING + 1))
    .with_help("split the flow: move deep records into a `const`, or nested blocks into a called flow")
}

fn control_char(text: &str, at: usize, in_string: bool) -> Diagnostic {
    let byte = text.as_bytes()[at];
    let what =
        if byte == 0 { "a NUL byte".to_string() } else { format!("the control character U+{byte:04X}") };
    let place = if in_string { "in a string" } else { "in the source" };
    Diagnostic::new(Code::InvalidCharacter, Span::new(at, at + 1), format!("{what} {place}"))
        .with_primary_label("invisible character here")
        .with_help("remove it; in strings, write an escape such as \\0 or \\u{1B} instead")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_strings() {
        let text = "flow a { # one\n  step x = f { p \"# not {a} a comment\" } ## doc\n\n# allow(x): y\n}";
        let scan = scan(text);
        assert!(scan.diagnostics.is_empty());
        let kinds: Vec<_> = scan.trivia.comments.iter().map(|c| (c.kind, c.trailing)).collect();
        assert_eq!(
            kinds,
            vec![(CommentKind::Line, true), (CommentKind::Doc, true), (CommentKind::Allow, false)]
        );
        assert_eq!(scan.trivia.blank_lines.len(), 1);
    }

    #[test]
    fn depth_limit() {
        let text = format!("flow a {{ {} }}", "[".repeat(MAX_NESTING));
        assert!(scan(&text).too_deep);
        let text = format!("flow a {{ {} }}", "[".repeat(MAX_NESTING - 1));
        assert!(!scan(&text).too_deep);
    }

    #[test]
    fn lexical_errors() {
        let scan = scan("flow a { log \"abc\n log \"\\q\" }");
        let codes: Vec<_> = scan.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::UnterminatedString, Code::InvalidEscape]);
    }
}
