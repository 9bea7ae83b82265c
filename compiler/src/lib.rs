//! weir-compiler: everything between the syntax tree and bytecode. Pure: it takes text and
//! data and returns data; the CLI and the LSP do the IO.
//!
//! Today it holds the diagnostic renderers and the formatter; the checks arrive with the
//! compiler-core issues.

pub mod format;
pub mod render;
