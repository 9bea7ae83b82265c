//! Why a flow did not lower. Only for what the checker cannot have rejected (a number that
//! does not fit the format, a tree the checker would have refused, reached anyway): a
//! checked flow lowers, and bad input never panics.

use std::fmt;

/// What kind of problem stopped lowering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LowerCode {
    /// A number that does not fit the format (a duration over `i64` milliseconds, a retry
    /// count over `u32`).
    OutOfRange,
    /// A part of the flow that a checked flow cannot have: a parse error node, a missing
    /// required clause, an unknown name or builtin, a setting in the wrong place.
    Unchecked,
    /// The program built does not pass the bytecode verifier (a bug in lowering, or step
    /// identities that collide).
    InvalidProgram,
}

impl LowerCode {
    /// The code as printed (`L0001`).
    pub fn code(self) -> &'static str {
        match self {
            LowerCode::OutOfRange => "L0001",
            LowerCode::Unchecked => "L0002",
            LowerCode::InvalidProgram => "L0003",
        }
    }

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            LowerCode::OutOfRange => "out-of-range",
            LowerCode::Unchecked => "unchecked-flow",
            LowerCode::InvalidProgram => "invalid-program",
        }
    }
}

/// A lowering failure: a code and a message in the user's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerError {
    /// What kind of problem.
    pub code: LowerCode,
    /// What is wrong.
    pub message: String,
}

impl LowerError {
    /// An error with `code` and `message`.
    pub fn new(code: LowerCode, message: impl Into<String>) -> LowerError {
        LowerError { code, message: message.into() }
    }

    /// A part the checker would have rejected.
    pub(crate) fn unchecked(message: impl Into<String>) -> LowerError {
        LowerError::new(LowerCode::Unchecked, message)
    }

    /// A number that does not fit.
    pub(crate) fn out_of_range(message: impl Into<String>) -> LowerError {
        LowerError::new(LowerCode::OutOfRange, message)
    }
}

impl fmt::Display for LowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code.code(), self.code.name(), self.message)
    }
}

impl std::error::Error for LowerError {}
