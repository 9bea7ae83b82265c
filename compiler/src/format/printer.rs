//! The output buffer: indentation, line breaks, and the placement of comments and blank
//! lines taken from the trivia table.

use weir_diagnostics::{LineIndex, Span};
use weir_grammar::trivia::{Comment, Trivia};

/// Indentation unit.
const INDENT: &str = "  ";

pub(crate) struct Printer<'a> {
    text: &'a str,
    comments: &'a [Comment],
    next_comment: usize,
    blank_lines: &'a [u32],
    lines: LineIndex,
    out: String,
    indent: usize,
    /// Source offset where the last printed thing ended.
    last_end: u32,
    at_line_start: bool,
    /// Right after `{` or at the start of the file: no blank line allowed.
    fresh: bool,
}

impl<'a> Printer<'a> {
    pub fn new(text: &'a str, trivia: &'a Trivia) -> Printer<'a> {
        Printer {
            text,
            comments: &trivia.comments,
            next_comment: 0,
            blank_lines: &trivia.blank_lines,
            lines: LineIndex::new(text),
            out: String::with_capacity(text.len() + text.len() / 8),
            indent: 0,
            last_end: 0,
            at_line_start: true,
            fresh: true,
        }
    }

    /// The source text of a span.
    pub fn source(&self, span: Span) -> &'a str {
        &self.text[span.range()]
    }

    /// True when the source of `span` spans several lines.
    pub fn is_multiline(&self, span: Span) -> bool {
        self.source(span).contains('\n')
    }

    /// Break the line and indent one level deeper for a continuation (`with { … }` written
    /// on its own line after a long trigger).
    pub fn continuation(&mut self) {
        self.newline();
        self.indent += 1;
        for _ in 0..self.indent {
            self.out.push_str(INDENT);
        }
        self.at_line_start = false;
        self.indent -= 1;
    }

    /// Append text to the current line.
    pub fn write(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if self.at_line_start {
            for _ in 0..self.indent {
                self.out.push_str(INDENT);
            }
            self.at_line_start = false;
        }
        self.out.push_str(s);
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.at_line_start = true;
    }

    fn line(&self, offset: u32) -> u32 {
        self.lines.line_col(self.text, offset).line
    }

    fn has_blank_between(&self, from: u32, to: u32) -> bool {
        let i = self.blank_lines.partition_point(|&b| b < from);
        self.blank_lines.get(i).is_some_and(|&b| b < to)
    }

    /// Comments that trail the last printed thing on its source line stay on its line (only
    /// those before `limit`, where the next thing to print starts).
    fn attach_trailing(&mut self, limit: u32) {
        while let Some(comment) = self.comments.get(self.next_comment) {
            if !(comment.trailing
                && comment.span.start >= self.last_end
                && comment.span.start < limit
                && self.line(comment.span.start) == self.line(self.last_end.saturating_sub(1)))
            {
                break;
            }
            self.next_comment += 1;
            self.write(" ");
            let body = self.source(comment.span);
            self.write(body);
            self.last_end = comment.span.end;
        }
    }

    /// Start a new line for something that begins at source offset `pos`.
    fn break_line(&mut self, pos: u32) {
        if !self.at_line_start {
            self.newline();
        }
        if !self.fresh && !self.out.is_empty() && self.has_blank_between(self.last_end, pos) {
            self.newline();
        }
        self.fresh = false;
    }

    /// Own-line comments before `pos`, each on its own line.
    fn comments_before(&mut self, pos: u32) {
        while let Some(comment) = self.comments.get(self.next_comment) {
            if comment.span.start >= pos {
                break;
            }
            self.next_comment += 1;
            self.break_line(comment.span.start);
            let body = self.source(comment.span);
            self.write(body);
            self.last_end = comment.span.end;
        }
    }

    /// Begin an item (statement, entry, field) that starts at `start` on a new line.
    pub fn begin_item(&mut self, start: u32) {
        self.attach_trailing(start);
        self.comments_before(start);
        self.break_line(start);
    }

    /// Record where the item just printed ends in the source.
    pub fn end_item(&mut self, end: u32) {
        self.last_end = self.last_end.max(end);
    }

    /// After writing `{` (whose source offset is `brace`): indent what follows.
    pub fn open_block(&mut self, brace: u32) {
        // A trailing comment between the previous token and this `{` (`} # note` then
        // `catch e {` on the next line) stays on the header line.
        if let Some(comment) = self.comments.get(self.next_comment)
            && comment.trailing
            && comment.span.start < brace
        {
            self.next_comment += 1;
            self.write(" ");
            let body = self.source(comment.span);
            self.write(body);
        }
        self.indent += 1;
        self.fresh = true;
        self.last_end = brace + 1;
    }

    /// Close a block whose `}` is at source offset `close`, writing `closer`.
    pub fn close_block(&mut self, close: u32, closer: &str) {
        self.attach_trailing(close);
        self.comments_before(close);
        self.indent -= 1;
        if !self.at_line_start {
            self.newline();
        }
        self.fresh = false;
        self.write(closer);
        self.last_end = close + 1;
    }

    /// Flush the remaining comments and end the file with one newline.
    pub fn finish(mut self) -> String {
        self.attach_trailing(u32::MAX);
        self.comments_before(u32::MAX);
        if !self.at_line_start {
            self.newline();
        }
        self.out
    }
}
