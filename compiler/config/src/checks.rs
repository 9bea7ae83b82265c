//! `[checks]`: the project's severity per diagnostic code, and applying it.

use std::collections::BTreeMap;
use weir_diagnostics::{Code, Diagnostic, Severity, Span};

/// What `[checks]` may set a code to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckLevel {
    /// Reported as an error: fails `weir check`.
    Error,
    /// Reported as a warning.
    Warning,
    /// Not reported.
    Off,
}

impl CheckLevel {
    /// Every level, as written in weir.toml.
    pub const WORDS: [&'static str; 3] = ["error", "warning", "off"];

    /// The level written `word`.
    pub fn from_word(word: &str) -> Option<CheckLevel> {
        match word {
            "error" => Some(CheckLevel::Error),
            "warning" => Some(CheckLevel::Warning),
            "off" => Some(CheckLevel::Off),
            _ => None,
        }
    }

    /// The word written in weir.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckLevel::Error => "error",
            CheckLevel::Warning => "warning",
            CheckLevel::Off => "off",
        }
    }
}

/// The project's check settings: a level for some codes, the registry's default for the rest.
///
/// A code whose default severity is `error` cannot be lowered here (weir's proofs would mean
/// nothing if a project could switch them off wholesale); one occurrence can still be
/// silenced with `# allow(name): reason` next to it, where a reviewer sees the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checks {
    levels: BTreeMap<Code, (CheckLevel, Span)>,
}

impl Checks {
    /// Record the level of `code`, set at `span` in weir.toml.
    pub(crate) fn set(&mut self, code: Code, level: CheckLevel, span: Span) {
        self.levels.insert(code, (level, span));
    }

    /// The level the project sets for `code`, if it sets one.
    pub fn level(&self, code: Code) -> Option<CheckLevel> {
        self.levels.get(&code).map(|(level, _)| *level)
    }

    /// Where weir.toml sets the level of `code`.
    pub fn span(&self, code: Code) -> Option<Span> {
        self.levels.get(&code).map(|(_, span)| *span)
    }

    /// Every code with a project level, in registry order.
    pub fn iter(&self) -> impl Iterator<Item = (Code, CheckLevel)> + '_ {
        self.levels.iter().map(|(code, (level, _))| (*code, *level))
    }

    /// True when no code has a project level.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Apply the levels to diagnostics: `off` drops them, `error` and `warning` set their
    /// severity. Order is kept.
    pub fn apply(&self, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        if self.levels.is_empty() {
            return diagnostics;
        }
        diagnostics
            .into_iter()
            .filter_map(|mut diagnostic| {
                match self.level(diagnostic.code) {
                    Some(CheckLevel::Off) => return None,
                    Some(CheckLevel::Error) => diagnostic.severity = Severity::Error,
                    Some(CheckLevel::Warning) => diagnostic.severity = Severity::Warning,
                    None => {}
                }
                Some(diagnostic)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_drops_and_raises() {
        let mut checks = Checks::default();
        let warning = Diagnostic::new(Code::InvalidSuppression, Span::empty(0), "w");
        assert_eq!(checks.apply(vec![warning.clone()]), vec![warning.clone()]);
        checks.set(Code::InvalidSuppression, CheckLevel::Error, Span::empty(0));
        let raised = checks.apply(vec![warning.clone()]);
        assert_eq!(raised[0].severity, Severity::Error);
        checks.set(Code::InvalidSuppression, CheckLevel::Off, Span::empty(0));
        let error = Diagnostic::new(Code::SyntaxError, Span::empty(0), "e");
        assert_eq!(checks.apply(vec![warning, error.clone()]), vec![error]);
        assert_eq!(checks.iter().count(), 1);
    }

    #[test]
    fn words_round_trip() {
        for word in CheckLevel::WORDS {
            assert_eq!(CheckLevel::from_word(word).map(CheckLevel::as_str), Some(word));
        }
        assert_eq!(CheckLevel::from_word("Error"), None);
    }
}
