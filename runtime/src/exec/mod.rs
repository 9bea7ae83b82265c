//! Executors: what runs a step of one family against the outside world. Each family has
//! its own executor; the interpreter journals around them (design.md §5). Errors carry a
//! stable code and a retry class, so `retry … on transient` can decide without parsing
//! messages.

pub mod error;
pub mod http;
pub mod net;
pub mod secret;

pub use error::{ErrorClass, ExecError};
