//! The entry points: `parse` never fails; `parse_strict` wraps it for callers that want a
//! `Result`.

use crate::ast::File;
use crate::lower::Lower;
use crate::recover;
use crate::scan::scan;
use crate::trivia::{CommentKind, Trivia};
use pest::Parser as _;
use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex};
use weir_diagnostics::{Code, Diagnostic, Span};

/// The pest parser generated from `flow.pest`.
#[derive(pest_derive::Parser)]
#[grammar = "flow.pest"]
pub struct FlowParser;

/// Counted pest calls allowed per byte of input (of the file's size class, a power of two
/// rounded down, so 150–300 per byte of the file): valid flows need 6–10 (stdlib-flows, the
/// generated 10,000-step flow: 14.7) and deeply nested parentheses 36, so this leaves ample
/// headroom while turning any pathological backtracking into a fast, reported failure
/// instead of a hang.
pub(crate) const CALLS_PER_BYTE: usize = 300;

/// The result of parsing one file: always a tree, plus every syntax diagnostic.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The syntax tree; parts that did not parse are error nodes.
    pub file: File,
    /// Comments and blank lines.
    pub trivia: Trivia,
    /// Syntax diagnostics in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parse a `.flow` text. Never fails and never panics: problems become diagnostics and the
/// tree keeps every statement that did parse.
pub fn parse(text: &str) -> Parsed {
    let scanned = scan(text);
    let trivia = scanned.trivia;
    let mut diagnostics = scanned.diagnostics;
    if scanned.too_deep {
        let file = File { items: Vec::new(), span: Span::new(0, text.len()) };
        return Parsed { file, trivia, diagnostics };
    }
    let _limit = CALL_LIMIT.enter(text.len());
    let file = match FlowParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let lower = Lower::new(text, &trivia);
            let file = lower.file(pairs.next().expect("file rule yields one pair"));
            let collected = lower.finish();
            let lexical: Vec<recover::Lexical> = diagnostics
                .iter()
                .map(|d| recover::Lexical {
                    span: d.span(),
                    hides_braces: d.code == Code::UnterminatedString,
                })
                .collect();
            diagnostics.extend(recover::syntax_diagnostics(text, &collected, &scanned.braces, &lexical));
            diagnostics.extend(collected.diagnostics);
            file
        }
        Err(error) => {
            diagnostics.push(recover::whole_file_failure(text, &error));
            File { items: Vec::new(), span: Span::new(0, text.len()) }
        }
    };
    diagnostics.extend(check_suppressions(text, &trivia));
    diagnostics.sort_by_key(|d| (d.span().start, d.span().end, d.code));
    Parsed { file, trivia, diagnostics }
}

/// Parse bytes read from a file: invalid UTF-8 is a diagnostic, not an error.
pub fn parse_bytes(bytes: &[u8]) -> Parsed {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(error) => {
            let at = error.valid_up_to();
            let len = error.error_len().unwrap_or(bytes.len() - at);
            let diagnostic = Diagnostic::new(
                Code::InvalidUtf8,
                Span::new(at, at + len),
                format!("this file is not valid UTF-8 (first bad byte at offset {at})"),
            )
            .with_primary_label("invalid byte sequence")
            .with_help("save the file as UTF-8");
            Parsed {
                file: File { items: Vec::new(), span: Span::new(0, bytes.len()) },
                trivia: Trivia::default(),
                diagnostics: vec![diagnostic],
            }
        }
    }
}

/// Parse and return the tree only when there is no error.
pub fn parse_strict(text: &str) -> Result<File, Vec<Diagnostic>> {
    let parsed = parse(text);
    if parsed.has_errors() {
        Err(parsed.diagnostics.into_iter().filter(Diagnostic::is_error).collect())
    } else {
        Ok(parsed.file)
    }
}

/// pest's call limit is one process-wide number read when a parse starts. To keep every
/// file's result independent of what else the process parses, a file's limit depends only on
/// its size class (a power of two), and parses of different classes never overlap: a parse
/// waits until no parse of another class is running. `weir check` over files of similar size
/// still runs fully in parallel.
struct CallLimit {
    state: Mutex<(u32, usize)>,
    changed: Condvar,
}

static CALL_LIMIT: CallLimit = CallLimit { state: Mutex::new((0, 0)), changed: Condvar::new() };

/// Holds a size class's call limit while a parse runs.
struct CallLimitGuard;

impl CallLimit {
    fn enter(&'static self, len: usize) -> CallLimitGuard {
        // Size class: floor(log2(len)), at least 4 KiB.
        let class = usize::BITS - 1 - len.max(4096).leading_zeros();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while state.1 > 0 && state.0 != class {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if state.1 == 0 {
            state.0 = class;
            pest::set_call_limit(NonZeroUsize::new((1usize << class).saturating_mul(CALLS_PER_BYTE)));
        }
        state.1 += 1;
        CallLimitGuard
    }
}

impl Drop for CallLimitGuard {
    fn drop(&mut self) {
        let mut state = CALL_LIMIT.state.lock().unwrap_or_else(|p| p.into_inner());
        state.1 -= 1;
        if state.1 == 0 {
            CALL_LIMIT.changed.notify_all();
        }
    }
}

/// `# allow(name): reason` must name a registered code and give a reason.
fn check_suppressions(text: &str, trivia: &Trivia) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for comment in trivia.comments.iter().filter(|c| c.kind == CommentKind::Allow) {
        let body = &text[comment.span.range()];
        let after_hash = body[1..].trim_start();
        let inner = after_hash.strip_prefix("allow(").unwrap_or(after_hash);
        let (name, rest) = match inner.find(')') {
            Some(close) => (inner[..close].trim(), &inner[close + 1..]),
            None => (inner.trim(), ""),
        };
        let reason = rest.trim_start().strip_prefix(':').map(str::trim).unwrap_or("");
        let problem = if !inner.contains(')') {
            Some((
                "this suppression is missing its `)`".to_string(),
                "write `# allow(name): reason`".to_string(),
            ))
        } else if Code::lookup(name).is_none() {
            let names: Vec<&str> = weir_diagnostics::ALL_CODES.iter().map(|c| c.name).collect();
            let hint = crate::words::closest(name, &names)
                .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
            Some((
                format!("`{name}` is not a diagnostic name"),
                format!("run `weir explain` for the list{hint}"),
            ))
        } else if reason.is_empty() {
            Some((
                format!("the suppression of `{name}` gives no reason"),
                "write why after a colon: `# allow(name): reason`".to_string(),
            ))
        } else {
            None
        };
        if let Some((message, help)) = problem {
            out.push(
                Diagnostic::new(Code::InvalidSuppression, comment.span, message)
                    .with_primary_label("this suppression is ignored")
                    .with_help(help),
            );
        }
    }
    out
}
