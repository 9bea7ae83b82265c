//! The registry of diagnostic codes: the only place a code, its name and its severity are
//! written down. Code elsewhere names a [`Code`] variant, never a bare string.

use crate::diagnostic::Severity;

/// What the registry knows about one code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    /// The variant.
    pub code: Code,
    /// Stable short code for SARIF and CI (`E0001`).
    pub short: &'static str,
    /// Kebab name for people and for `# allow(name): reason`.
    pub name: &'static str,
    /// Severity unless the project's settings change it.
    pub severity: Severity,
    /// One line saying what the code is about.
    pub summary: &'static str,
}

macro_rules! codes {
    ($($variant:ident = $short:literal, $name:literal, $severity:ident, $summary:literal;)*) => {
        /// A registered diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        /// Every registered code, in registry order.
        pub const ALL_CODES: &[CodeInfo] = &[
            $(CodeInfo {
                code: Code::$variant,
                short: $short,
                name: $name,
                severity: Severity::$severity,
                summary: $summary,
            },)*
        ];
    };
}

codes! {
    SyntaxError = "E0001", "syntax-error", Error,
        "The text does not follow the grammar of a .flow file.";
    UnclosedBlock = "E0002", "unclosed-block", Error,
        "A `{` is never closed by a matching `}`.";
    UnterminatedString = "E0003", "unterminated-string", Error,
        "A string or template has no closing quote.";
    TooDeeplyNested = "E0004", "too-deeply-nested", Error,
        "Braces, brackets or parentheses nest deeper than weir accepts.";
    TooManyErrors = "E0005", "too-many-errors", Error,
        "A file has so many syntax errors that weir stopped reporting them.";
    InvalidUtf8 = "E0006", "invalid-utf8", Error,
        "A .flow file is not valid UTF-8.";
    InputTooComplex = "E0007", "input-too-complex", Error,
        "The parser gave up on a file that needs too much work to parse.";
    UnknownKeyword = "E0008", "unknown-keyword", Error,
        "A statement starts with a word that is not a keyword of the language.";
    UnexpectedClosingBrace = "E0009", "unexpected-closing-brace", Error,
        "A `}` closes nothing.";
    InvalidEscape = "E0010", "invalid-escape", Error,
        "A string contains a backslash escape that weir does not know.";
    InvalidCharacter = "E0011", "invalid-character", Error,
        "A file contains a NUL byte or another control character outside strings.";
    NumberOutOfRange = "E0012", "number-out-of-range", Error,
        "A number or duration literal is too large to represent.";
    InvalidSuppression = "W0001", "invalid-suppression", Warning,
        "An `# allow(name): reason` comment names no known code or gives no reason.";
}

/// Where every code's documentation page lives.
pub const DOCS_BASE: &str = "https://github.com/weir-flow/weir/blob/main/docs/diagnostics/";

impl Code {
    /// The registry entry of this code.
    pub fn info(self) -> &'static CodeInfo {
        // The registry is generated in variant order, so the discriminant is the index.
        &ALL_CODES[self as usize]
    }

    /// Stable short code (`E0001`).
    pub fn short(self) -> &'static str {
        self.info().short
    }

    /// Kebab name (`syntax-error`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Default severity.
    pub fn severity(self) -> Severity {
        self.info().severity
    }

    /// URL of the code's documentation page.
    pub fn docs_url(self) -> String {
        format!("{DOCS_BASE}{}.md", self.name())
    }

    /// Find a code by short code (case-insensitive) or kebab name.
    pub fn lookup(query: &str) -> Option<Code> {
        let query = query.trim();
        ALL_CODES
            .iter()
            .find(|info| info.short.eq_ignore_ascii_case(query) || info.name == query)
            .map(|info| info.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn registry_is_consistent() {
        let mut shorts = HashSet::new();
        let mut names = HashSet::new();
        for (index, info) in ALL_CODES.iter().enumerate() {
            assert_eq!(info.code as usize, index);
            assert!(shorts.insert(info.short), "duplicate short code {}", info.short);
            assert!(names.insert(info.name), "duplicate name {}", info.name);
            assert!(info.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()));
            let prefix = match info.severity {
                Severity::Error => 'E',
                Severity::Warning => 'W',
                Severity::Advice => 'A',
            };
            assert!(info.short.starts_with(prefix), "{} has severity {:?}", info.short, info.severity);
        }
    }

    #[test]
    fn lookup_by_either_name() {
        assert_eq!(Code::lookup("e0001"), Some(Code::SyntaxError));
        assert_eq!(Code::lookup("unclosed-block"), Some(Code::UnclosedBlock));
        assert_eq!(Code::lookup("nope"), None);
    }
}
