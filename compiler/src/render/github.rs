//! GitHub Actions workflow commands: one `::error …::message` (or `::warning`, `::notice`)
//! line per diagnostic, which GitHub shows as an annotation on the file and line in the
//! pull request. Columns count characters, as in the human output.

use weir_diagnostics::{Diagnostic, LineIndex, Severity};

/// The command for a severity.
fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "notice",
    }
}

/// Escape a command's data (the text after `::`): GitHub reads `%`, CR and LF specially.
/// Other control characters, which a message may quote from the file, are written as
/// `\u{…}` so that none reaches the log raw.
pub fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Escape a property value (`file=…`, `title=…`): as data, plus `:` and `,`, which end it.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A path as GitHub matches it against the repository: forward slashes, no leading `./`.
pub fn repository_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut rest = path.as_str();
    while let Some(inner) = rest.strip_prefix("./") {
        rest = inner.trim_start_matches('/');
    }
    rest.to_string()
}

/// One diagnostic as a workflow command line (without the newline).
pub fn github_annotation(path: &str, text: &str, index: &LineIndex, diagnostic: &Diagnostic) -> String {
    let span = diagnostic.span();
    let start = index.line_col(text, span.start);
    let end = index.line_col(text, span.end.max(span.start));
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    if let Some(note) = &diagnostic.note {
        message.push_str(&format!("\nnote: {note}"));
    }
    format!(
        "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        command(diagnostic.severity),
        escape_property(&repository_path(path)),
        start.line,
        start.column,
        end.line,
        end.column,
        escape_property(&format!("{} {}", diagnostic.code.short(), diagnostic.code.name())),
        escape_data(&message),
    )
}

/// Every diagnostic of `files` as workflow commands, one line each, in the order given.
pub fn render_github(files: &[super::FileReport<'_>]) -> String {
    let mut out = String::new();
    for file in files {
        let index = LineIndex::new(file.text);
        for diagnostic in file.diagnostics {
            out.push_str(&github_annotation(file.path, file.text, &index, diagnostic));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::FileReport;
    use weir_diagnostics::{Code, Span};

    #[test]
    fn escapes_data_and_properties() {
        assert_eq!(escape_data("50% done\r\nnext: a, b"), "50%25 done%0D%0Anext: a, b");
        assert_eq!(escape_property("dir,a:b/%.flow"), "dir%2Ca%3Ab/%25.flow");
        assert_eq!(escape_data("bell\u{7}"), "bell\\u{7}");
        assert_eq!(repository_path(".\\flows\\a.flow"), "flows/a.flow");
        assert_eq!(repository_path("../a.flow"), "../a.flow");
    }

    #[test]
    fn one_line_per_diagnostic() {
        let text = "flow wibble {\n  løg \"x\"\n}\n";
        let warning = Diagnostic::new(Code::UnusedStep, Span::new(16, 20), "`løg`: unused, 100%")
            .with_help("remove it");
        let out = render_github(&[FileReport { path: "flows/a,b.flow", text, diagnostics: &[warning] }]);
        assert_eq!(
            out,
            "::warning file=flows/a%2Cb.flow,line=2,col=3,endLine=2,endColumn=6,title=W0202 unused-step::\
             `løg`: unused, 100%25%0Ahelp: remove it\n"
        );
    }
}
