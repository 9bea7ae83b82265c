//! weir's versioned bytecode (design.md §4, docs/bytecode.md): the `.weirc` format (a fixed
//! header, a postcard body, a trailing SHA-256), the value model and type descriptors, the
//! verifying loader, and the pure evaluator of expressions. The compiler writes it; the
//! runtime reads it without depending on the compiler.
//!
//! ```text
//! ProgramBuilder ──► Program ──► encode ──► .weirc bytes ──► decode (+ verify) ──► Program
//!                                                                   │
//!                                               eval(program, env, expr) ◄┘
//! ```

pub mod builder;
pub mod codec;
pub mod conform;
pub mod disasm;
pub mod error;
pub mod eval;
pub mod header;
pub mod identity;
pub mod program;
pub mod types;
pub mod value;
pub mod verify;

pub use builder::ProgramBuilder;
pub use codec::{Bytecode, decode, encode};
pub use conform::{conform, conform_named};
pub use disasm::disassemble;
pub use error::{LoadCode, LoadError};
pub use eval::{Env, EvalCode, EvalError, MapEnv, eval};
pub use header::{ACCEPTED_VERSIONS, FORMAT_VERSION, Header, MAGIC, sha256};
pub use program::*;
pub use types::{FieldDesc, ResKind, TypeDesc, TypeIx};
pub use value::{ResRef, SecretRef, Value};
