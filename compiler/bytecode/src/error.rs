//! Why a `.weirc` was refused: one error enum with stable codes (`B0001`…), each message
//! saying what to do. Codes are never renumbered; new ones are added at the end.

use thiserror::Error;

/// The stable code of a load error (for `--json` output and docs/bytecode.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadCode {
    /// B0001: the file ends before its header or body says it does.
    Truncated,
    /// B0002: not a `.weirc` file.
    BadMagic,
    /// B0003: a format version this weir does not read (newer, or never released).
    UnsupportedVersion,
    /// B0004: the trailing SHA-256 does not match the contents.
    ChecksumMismatch,
    /// B0005: an index points outside its table.
    InvalidIndex,
    /// B0006: bytes after the checksum.
    TrailingBytes,
    /// B0007: a header field is malformed.
    BadHeader,
    /// B0008: the body does not decode.
    MalformedBody,
    /// B0009: a reference that must point backwards (or to a fresh block) makes a cycle.
    Cycle,
    /// B0010: an instruction or expression is used where it cannot be.
    InvalidOperand,
    /// B0011: nesting deeper than the loader allows.
    TooDeep,
    /// B0012: two step-table entries share an identity.
    DuplicateIdentity,
}

impl LoadCode {
    /// Every code, in order.
    pub const ALL: [LoadCode; 12] = [
        LoadCode::Truncated,
        LoadCode::BadMagic,
        LoadCode::UnsupportedVersion,
        LoadCode::ChecksumMismatch,
        LoadCode::InvalidIndex,
        LoadCode::TrailingBytes,
        LoadCode::BadHeader,
        LoadCode::MalformedBody,
        LoadCode::Cycle,
        LoadCode::InvalidOperand,
        LoadCode::TooDeep,
        LoadCode::DuplicateIdentity,
    ];

    /// The short code, `B0001`….
    pub fn code(self) -> &'static str {
        match self {
            LoadCode::Truncated => "B0001",
            LoadCode::BadMagic => "B0002",
            LoadCode::UnsupportedVersion => "B0003",
            LoadCode::ChecksumMismatch => "B0004",
            LoadCode::InvalidIndex => "B0005",
            LoadCode::TrailingBytes => "B0006",
            LoadCode::BadHeader => "B0007",
            LoadCode::MalformedBody => "B0008",
            LoadCode::Cycle => "B0009",
            LoadCode::InvalidOperand => "B0010",
            LoadCode::TooDeep => "B0011",
            LoadCode::DuplicateIdentity => "B0012",
        }
    }

    /// The kebab name, `truncated`….
    pub fn name(self) -> &'static str {
        match self {
            LoadCode::Truncated => "truncated",
            LoadCode::BadMagic => "bad-magic",
            LoadCode::UnsupportedVersion => "unsupported-version",
            LoadCode::ChecksumMismatch => "checksum-mismatch",
            LoadCode::InvalidIndex => "invalid-index",
            LoadCode::TrailingBytes => "trailing-bytes",
            LoadCode::BadHeader => "bad-header",
            LoadCode::MalformedBody => "malformed-body",
            LoadCode::Cycle => "cycle",
            LoadCode::InvalidOperand => "invalid-operand",
            LoadCode::TooDeep => "too-deep",
            LoadCode::DuplicateIdentity => "duplicate-identity",
        }
    }
}

/// A `.weirc` that cannot be loaded (or a program that cannot be encoded).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{} ({}): {message}; {}", code.code(), code.name(), advice(*code))]
pub struct LoadError {
    /// Which rule failed.
    pub code: LoadCode,
    /// What exactly is wrong (where, which index).
    pub message: String,
}

impl LoadError {
    /// An error with a code and a message.
    pub fn new(code: LoadCode, message: impl Into<String>) -> LoadError {
        LoadError { code, message: message.into() }
    }
}

/// What to do about it.
fn advice(code: LoadCode) -> &'static str {
    match code {
        LoadCode::UnsupportedVersion => {
            "rebuild the flow with this weir's `weir build`, or run it with the weir that built it"
        }
        LoadCode::BadMagic => "pass a file written by `weir build`",
        _ => "the file is damaged or was not written by weir: rebuild it with `weir build`",
    }
}
