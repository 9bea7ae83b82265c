//! weir-runtime: runs compiled flows durably. It depends on weir-bytecode and weir-config
//! only, never on the compiler or the grammar.
