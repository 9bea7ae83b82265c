//! The formatter (AST + trivia to canonical text).
