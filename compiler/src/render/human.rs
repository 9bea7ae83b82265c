//! Human-readable rendering through miette's graphical handler.

use miette::{
    GraphicalReportHandler, GraphicalTheme, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};
use std::fmt;
use weir_diagnostics::Diagnostic;

/// Options of the human renderer.
#[derive(Clone, Copy, Debug)]
pub struct HumanOptions {
    /// Colours and Unicode art (for terminals); off gives deterministic plain output.
    pub color: bool,
    /// Line width to wrap to.
    pub width: usize,
}

impl Default for HumanOptions {
    /// Deterministic: width 80, no colour (what tests and pipes get).
    fn default() -> HumanOptions {
        HumanOptions { color: false, width: 80 }
    }
}

/// A text with a file name, borrowed, for miette.
struct Named<'a> {
    name: &'a str,
    text: &'a str,
}

impl SourceCode for Named<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let inner = self.text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A diagnostic together with its source, as miette wants it.
struct WithSource<'a> {
    diagnostic: &'a Diagnostic,
    source: Named<'a>,
}

impl fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.diagnostic, f)
    }
}

impl std::error::Error for WithSource<'_> {}

impl miette::Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.diagnostic)
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic.help()
    }
    fn url<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic.url()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.diagnostic.labels()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }
}

/// Control characters in a file must not reach a terminal (a pasted `ESC[…` sequence would
/// be interpreted): in source excerpts each becomes `?` (one byte, so spans stay valid).
fn visible_source(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().any(is_hidden_control) {
        std::borrow::Cow::Owned(
            text.chars().map(|c| if c.is_ascii() && is_hidden_control(c as u8) { '?' } else { c }).collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn is_hidden_control(b: u8) -> bool {
    (b < 0x20 && b != b'\n' && b != b'\t' && b != b'\r') || b == 0x7f
}

/// Messages quote source tokens; control characters in them are written as escapes.
fn visible_message(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
        .collect()
}

/// Render diagnostics of one file for people.
pub fn render_human(path: &str, text: &str, diagnostics: &[Diagnostic], options: HumanOptions) -> String {
    let text = visible_source(text);
    let text = text.as_ref();
    let path = visible_message(path);
    let path = path.as_str();
    let theme = if options.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(options.width).with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let mut shown = diagnostic.clone();
        shown.message = visible_message(&shown.message);
        shown.help = shown.help.as_deref().map(visible_message);
        shown.note = shown.note.as_deref().map(visible_message);
        for label in &mut shown.labels {
            label.message = visible_message(&label.message);
        }
        let diagnostic = &shown;
        let report = WithSource { diagnostic, source: Named { name: path, text } };
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}: {}\n", diagnostic.code.short(), diagnostic.message));
        }
        out.push('\n');
    }
    out
}
