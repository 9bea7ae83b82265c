//! The one diagnostic model of weir.
//!
//! Every user-facing problem found in a `.flow` file (syntax, names, types, guards, …) is a
//! [`Diagnostic`] carrying a registered [`Code`]. Renderers (human, JSON, SARIF, GitHub) in
//! `weir-compiler` read this struct; nothing else formats diagnostics. This crate sits at the
//! bottom of the dependency chain and has no parser in it, so `weir-config` and the runtime can
//! use it without pulling in pest.

mod code;
mod diagnostic;
mod line_index;
mod span;

pub use code::{ALL_CODES, Code, CodeInfo};
pub use diagnostic::{Diagnostic, Label, Severity};
pub use line_index::{LineCol, LineIndex};
pub use span::Span;
