//! Source spans for the step table: byte offsets plus the line and column of the start, so a
//! replay report needs no source file.

use weir_bytecode::Span;

/// Line starts of a source text, for turning byte offsets into lines and columns.
#[derive(Debug)]
pub(crate) struct LineIndex<'s> {
    source: &'s str,
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    /// The index of `source`.
    pub(crate) fn new(source: &'s str) -> LineIndex<'s> {
        let starts = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { source, starts }
    }

    /// The bytecode span of a syntax span (offsets past the text are clamped).
    pub(crate) fn span(&self, span: weir_diagnostics::Span) -> Span {
        let start = (span.start as usize).min(self.source.len());
        let line = self.starts.partition_point(|s| *s <= start).max(1);
        let line_start = self.starts[line - 1];
        let column = self.source.get(line_start..start).map_or(0, |t| t.chars().count()) + 1;
        Span { start: span.start, end: span.end, line: line as u32, column: column as u32 }
    }
}
