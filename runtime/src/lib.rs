//! weir-runtime: runs compiled flows durably. It depends on weir-bytecode and weir-config
//! only, never on the compiler or the grammar.
//!
//! Today it holds the journal store ([`store`]): the trait the interpreter writes through,
//! the sled implementation with group commit, the in-memory model used as a test oracle, and
//! the fault-injecting wrapper; and the executors ([`exec`]) that run steps against the
//! outside world, starting with `http`.

pub mod exec;
pub mod interp;
pub mod store;
