//! weir-compiler: everything between the syntax tree and bytecode. Pure: it takes text and
//! data and returns data; the CLI and the LSP do the IO.
//!
//! Today it holds the diagnostic renderers, the formatter, the type model and the step-family
//! table; the checks arrive with the compiler-core issues.

pub mod builtins;
pub mod check;
pub mod dag;
pub mod effects;
pub mod families;
pub mod format;
pub mod interface;
pub mod lower;
pub mod render;
pub mod schedule;
pub mod semver_diff;
pub mod suppress;
pub mod types;
