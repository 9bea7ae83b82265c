//! Suppression comments: `# allow(NAME): REASON` silences diagnostics of one code on one
//! statement, where a reviewer sees why. The grammar already validates the comments
//! (`invalid-suppression`); this applies the valid ones to a file's assembled diagnostics and
//! reports those that silenced nothing (`unused-suppression`), so a stale suppression cannot
//! quietly hide the next real problem.
//!
//! What a suppression covers:
//! - on its own line, the first line below it that holds code (blank and comment lines are
//!   skipped, so several suppressions can stack above one statement);
//! - at the end of a line of code, that line;
//! - and when a statement (or a config entry, or a whole `flow`) starts on that line, every
//!   line of it: a diagnostic is silenced when its primary span starts there.
//!
//! Syntax errors (the `E00xx` codes) cannot be silenced, nor can the suppression codes
//! themselves. When a file has syntax errors its checks did not run, so an unused
//! suppression is then not reported (unless it names a code that can never be silenced).

use std::collections::BTreeMap;
use weir_diagnostics::{Code, Diagnostic, LineIndex, Span};
use weir_grammar::Parsed;
use weir_grammar::ast::{Block, Config, Item, Stmt, StmtKind};
use weir_grammar::trivia::{Comment, CommentKind};

/// One valid suppression comment and the lines it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The code it silences.
    pub code: Code,
    /// The comment.
    pub comment: Span,
    /// The first and last 1-based line it covers; `None` when no code follows it.
    pub lines: Option<(u32, u32)>,
}

/// True for codes a suppression may silence: not syntax errors (a file that does not parse
/// cannot be checked, so hiding that would hide everything), not the suppression codes.
pub fn can_suppress(code: Code) -> bool {
    // The E00xx range is the syntax of a .flow file.
    !code.short().starts_with("E00") && !matches!(code, Code::InvalidSuppression | Code::UnusedSuppression)
}

/// Every valid suppression of a parsed file, in source order.
pub fn suppressions(text: &str, parsed: &Parsed) -> Vec<Suppression> {
    let allows: Vec<&Comment> =
        parsed.trivia.comments.iter().filter(|c| c.kind == CommentKind::Allow).collect();
    if allows.is_empty() {
        return Vec::new();
    }
    let index = LineIndex::new(text);
    let units = statement_lines(text, &index, parsed);
    let line_of = |offset: u32| index.line_col(text, offset).line;
    let mut out = Vec::new();
    for comment in allows {
        // The grammar reported an invalid one (unknown name, no reason); it applies to nothing.
        let invalid =
            parsed.diagnostics.iter().any(|d| d.code == Code::InvalidSuppression && d.span() == comment.span);
        if invalid {
            continue;
        }
        let Some(code) = text.get(comment.span.range()).and_then(allowed_code) else { continue };
        let own_line = line_of(comment.span.start);
        let target = if comment.trailing { Some(own_line) } else { next_code_line(text, &index, own_line) };
        let lines = target.map(|line| (line, units.get(&line).copied().unwrap_or(line).max(line)));
        out.push(Suppression { code, comment: comment.span, lines });
    }
    out
}

/// Apply a file's suppressions to its diagnostics (syntax, checks and anything else reported
/// against the file, before the project's `[checks]` levels): drop what they silence, add an
/// `unused-suppression` warning for each that silenced nothing. The result is in source order.
pub fn apply(text: &str, parsed: &Parsed, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let suppressions = suppressions(text, parsed);
    if suppressions.is_empty() {
        return diagnostics;
    }
    let index = LineIndex::new(text);
    let mut used = vec![false; suppressions.len()];
    let mut out: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter(|d| {
            if !can_suppress(d.code) {
                return true;
            }
            let line = index.line_col(text, d.span().start).line;
            let mut silenced = false;
            for (i, s) in suppressions.iter().enumerate() {
                if s.code == d.code && s.lines.is_some_and(|(first, last)| (first..=last).contains(&line)) {
                    used[i] = true;
                    silenced = true;
                }
            }
            !silenced
        })
        .collect();
    let checked = !parsed.has_errors();
    for (s, used) in suppressions.iter().zip(used) {
        if used {
            continue;
        }
        let name = s.code.name();
        if !can_suppress(s.code) {
            out.push(
                Diagnostic::new(Code::UnusedSuppression, s.comment, format!("`{name}` cannot be silenced"))
                    .with_primary_label("this suppression silences nothing")
                    .with_help(if s.code.short().starts_with("E00") {
                        "fix the syntax instead: a file that does not parse cannot be checked"
                    } else {
                        "remove this comment"
                    }),
            );
        } else if checked {
            let label = match s.lines {
                Some(_) => format!("no `{name}` here to silence"),
                None => "no statement follows it".to_string(),
            };
            let message = format!("this suppression of `{name}` silences nothing");
            out.push(
                Diagnostic::new(Code::UnusedSuppression, s.comment, message)
                    .with_primary_label(label)
                    .with_help(
                        "remove it; if the diagnostic is reported elsewhere, put the comment directly above \
                         that statement",
                    ),
            );
        }
    }
    out.sort_by_key(|d| (d.span().start, d.span().end, d.code));
    out
}

/// The code an `# allow(NAME): …` comment names, if it is a known one.
fn allowed_code(comment: &str) -> Option<Code> {
    let inner = comment.strip_prefix('#')?.trim_start().strip_prefix("allow(")?;
    let close = inner.find(')')?;
    Code::lookup(&inner[..close])
}

/// The first line after `line` that holds code: not blank, not only a comment.
fn next_code_line(text: &str, index: &LineIndex, line: u32) -> Option<u32> {
    let mut next = line + 1;
    while let Some(start) = index.line_start(next) {
        let rest = &text[start as usize..];
        let body = rest.split('\n').next().unwrap_or("").trim();
        if !body.is_empty() && !body.starts_with('#') {
            return Some(next);
        }
        next += 1;
    }
    None
}

/// For every line on which a flow, a statement or a config entry starts, the last line of
/// the largest one starting there.
fn statement_lines(text: &str, index: &LineIndex, parsed: &Parsed) -> BTreeMap<u32, u32> {
    let mut spans = Vec::new();
    let mut stack: Vec<&Stmt> = Vec::new();
    for item in &parsed.file.items {
        if let Item::Flow(flow) = item {
            spans.push(flow.span);
            stack.extend(&flow.body);
        }
    }
    while let Some(stmt) = stack.pop() {
        spans.push(stmt.span);
        let config: Option<&Config> = match &stmt.kind {
            StmtKind::Step(step) => step.config.as_ref(),
            StmtKind::Approval { config, .. } | StmtKind::Callback { config, .. } => Some(config),
            _ => None,
        };
        spans.extend(config.iter().flat_map(|c| c.entries.iter().map(|e| e.span)));
        let blocks: Vec<&Block> = stmt.kind.blocks().into_iter().chain(stmt.kind.handler_blocks()).collect();
        stack.extend(blocks.into_iter().flat_map(|b| &b.stmts));
    }
    let mut lines = BTreeMap::new();
    for span in spans {
        let first = index.line_col(text, span.start).line;
        let last = index.line_col(text, span.end.saturating_sub(1).max(span.start)).line;
        let entry = lines.entry(first).or_insert(last);
        *entry = (*entry).max(last);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "flow wibble {\n  version \"1.0.0\"\n  trigger manual\n";

    /// Codes and 1-based lines of what is left after applying suppressions to `text`,
    /// given diagnostics of `code` reported at the start of each line in `lines`.
    fn left(text: &str, code: Code, lines: &[u32]) -> Vec<(Code, u32)> {
        let parsed = weir_grammar::parse(text);
        let index = LineIndex::new(text);
        let mut diagnostics = parsed.diagnostics.clone();
        for &line in lines {
            let start = index.line_start(line).expect("line") as usize;
            diagnostics.push(Diagnostic::new(code, Span::new(start, start + 1), "wibble"));
        }
        apply(text, &parsed, diagnostics)
            .iter()
            .map(|d| (d.code, index.line_col(text, d.span().start).line))
            .collect()
    }

    #[test]
    fn silences_the_whole_statement_below() {
        let text = format!(
            "{HEAD}  # allow(unused-step): warms the cache\n  step a = db {{\n    connection wobble\n\
             \x20   query \"select 1\"\n  }}\n  step b = function {{ value 1 }}\n}}\n"
        );
        // Lines 5-8 are step a; line 9 is step b.
        assert_eq!(left(&text, Code::UnusedStep, &[5, 7, 9]), vec![(Code::UnusedStep, 9)]);
    }

    #[test]
    fn accepts_the_short_code_and_skips_comment_lines() {
        let text = format!(
            "{HEAD}  # allow(W0202): warms the cache\n  ## the warm-up\n\n\
             \x20 # allow(unused-input): kept for old callers\n  step a = function {{ value 1 }}\n}}\n"
        );
        // Both suppressions cover line 8: one is used, the other is reported as unused.
        assert_eq!(left(&text, Code::UnusedStep, &[8]), vec![(Code::UnusedSuppression, 7)]);
    }

    #[test]
    fn a_trailing_suppression_covers_its_own_line() {
        let text = format!("{HEAD}  step a = function {{ value 1 }}  # allow(unused-step): on purpose\n}}\n");
        assert_eq!(left(&text, Code::UnusedStep, &[4]), vec![]);
        // It does not reach the next line.
        let text = format!(
            "{HEAD}  log \"x\"  # allow(unused-step): on purpose\n  step a = function {{ value 1 }}\n}}\n"
        );
        assert_eq!(
            left(&text, Code::UnusedStep, &[5]),
            vec![(Code::UnusedSuppression, 4), (Code::UnusedStep, 5)]
        );
    }

    #[test]
    fn above_the_flow_covers_the_flow() {
        let text = format!("# allow(missing-concurrency): one run a day\n{HEAD}  log \"x\"\n}}\n");
        assert_eq!(left(&text, Code::MissingConcurrency, &[2]), vec![]);
    }

    #[test]
    fn another_code_is_not_silenced() {
        let text = format!("{HEAD}  # allow(unused-input): kept\n  step a = function {{ value 1 }}\n}}\n");
        assert_eq!(
            left(&text, Code::UnusedStep, &[5]),
            vec![(Code::UnusedSuppression, 4), (Code::UnusedStep, 5)]
        );
    }

    #[test]
    fn a_suppression_at_the_end_silences_nothing() {
        let text = format!("{HEAD}  log \"x\"\n}}\n# allow(unused-step): nothing below\n");
        assert_eq!(left(&text, Code::UnusedStep, &[]), vec![(Code::UnusedSuppression, 6)]);
        let s = suppressions(&text, &weir_grammar::parse(&text));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].lines, None);
    }

    #[test]
    fn syntax_errors_cannot_be_silenced() {
        let text = format!("{HEAD}  # allow(syntax-error): generated\n  stpe a = sleep 1s\n}}\n");
        let parsed = weir_grammar::parse(&text);
        assert!(parsed.has_errors());
        let codes: Vec<Code> =
            apply(&text, &parsed, parsed.diagnostics.clone()).iter().map(|d| d.code).collect();
        assert!(codes.contains(&Code::UnusedSuppression), "{codes:?}");
        assert!(codes.iter().any(|c| c.short().starts_with("E00")), "{codes:?}");
    }

    #[test]
    fn with_syntax_errors_unused_ones_are_not_reported() {
        let text = format!(
            "{HEAD}  # allow(unused-step): warms\n  step a = function {{ value 1 }}\n\
             \x20 stpe b = sleep 1s\n}}\n"
        );
        let parsed = weir_grammar::parse(&text);
        let out = apply(&text, &parsed, parsed.diagnostics.clone());
        assert!(out.iter().all(|d| d.code != Code::UnusedSuppression), "{out:?}");
    }

    #[test]
    fn invalid_ones_apply_to_nothing() {
        // No reason: the grammar reports it, and it silences nothing.
        let text = format!("{HEAD}  # allow(unused-step)\n  step a = function {{ value 1 }}\n}}\n");
        assert_eq!(
            left(&text, Code::UnusedStep, &[5]),
            vec![(Code::InvalidSuppression, 4), (Code::UnusedStep, 5)]
        );
    }

    #[test]
    fn no_comments_no_work() {
        let text = format!("{HEAD}  step a = function {{ value 1 }}\n}}\n");
        assert_eq!(left(&text, Code::UnusedStep, &[4]), vec![(Code::UnusedStep, 4)]);
        assert_eq!(apply("", &weir_grammar::parse(""), Vec::new()), Vec::new());
    }
}
