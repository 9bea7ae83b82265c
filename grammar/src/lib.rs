//! weir-grammar: the `.flow` grammar and a parser that never fails.
//!
//! `parse(text)` returns a [`Parsed`]: the syntax tree with byte spans on every node (parts
//! that did not parse become error nodes), the comments and blank lines in a side table, and
//! every syntax diagnostic in the user's words. No IO happens here.

pub mod ast;
mod lower;
mod parser;
mod recover;
mod scan;
pub mod trivia;
mod visit;
mod words;

pub use lower::MAX_EXPR_OPERATORS;
pub use parser::{FlowParser, Parsed, Rule, parse, parse_bytes, parse_strict};
pub use recover::MAX_ERRORS;
pub use scan::MAX_NESTING;
pub use words::{closest, edit_distance};
