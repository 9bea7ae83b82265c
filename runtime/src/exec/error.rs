//! What an executor reports when a step fails: a stable code (`HTTP-…`, `SECRET-…`), the
//! class a `retry … on` clause matches, and a message that says what to do.

/// Which `retry … on` class an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth retrying: timeouts, refused connections, 429, 5xx.
    Transient,
    /// Retrying the same request will fail the same way: 4xx, refused targets, bad config.
    Permanent,
}

/// Every code an [`ExecError`] can carry, in documentation order (docs/runtime.md).
pub const EXEC_ERROR_CODES: &[&str] = &[
    "HTTP-URL",
    "HTTP-REFUSED-TARGET",
    "HTTP-CONNECT",
    "HTTP-TIMEOUT",
    "HTTP-TOO-LARGE",
    "HTTP-STATUS",
    "HTTP-REDIRECTS",
    "HTTP-BODY",
    "SECRET-UNAVAILABLE",
];

/// A failed step, as the executor saw it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ExecError {
    /// Stable code (`HTTP-TIMEOUT`).
    pub code: &'static str,
    /// The retry class.
    pub class: ErrorClass,
    /// What went wrong and what to do; never contains a secret.
    pub message: String,
    /// The HTTP status, for `HTTP-STATUS` (so `retry … on "503"` can match it).
    pub status: Option<u16>,
}

impl ExecError {
    /// A transient error.
    pub fn transient(code: &'static str, message: impl Into<String>) -> ExecError {
        ExecError { code, class: ErrorClass::Transient, message: message.into(), status: None }
    }

    /// A permanent error.
    pub fn permanent(code: &'static str, message: impl Into<String>) -> ExecError {
        ExecError { code, class: ErrorClass::Permanent, message: message.into(), status: None }
    }
}
