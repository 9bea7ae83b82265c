//! Comments and blank lines, kept beside the AST for the formatter and the LSP.

use serde::Serialize;
use weir_diagnostics::Span;

/// Which kind of comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentKind {
    /// `# …`.
    Line,
    /// `## …`: documents the item below it.
    Doc,
    /// `# allow(name): reason`: suppresses a diagnostic on the next statement.
    Allow,
}

/// One comment, from `#` to the end of its line (trailing spaces excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// Where.
    pub span: Span,
    /// Which kind.
    pub kind: CommentKind,
    /// True when code precedes it on its line.
    pub trailing: bool,
}

/// The side table of trivia.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Trivia {
    /// Every comment in source order.
    pub comments: Vec<Comment>,
    /// Byte offsets of the starts of lines holding only whitespace.
    pub blank_lines: Vec<u32>,
}

impl Trivia {
    /// The comments whose start lies in `span`, in order.
    pub fn comments_in(&self, span: Span) -> &[Comment] {
        let from = self.comments.partition_point(|c| c.span.start < span.start);
        let to = self.comments.partition_point(|c| c.span.start < span.end);
        &self.comments[from..to.max(from)]
    }

    /// The comment ending exactly at `end`, if any.
    pub fn comment_ending_at(&self, end: u32) -> Option<&Comment> {
        let index = self.comments.partition_point(|c| c.span.end < end);
        self.comments.get(index).filter(|c| c.span.end == end)
    }
}
