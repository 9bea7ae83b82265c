//! The integration tests of the `weir` CLI and the data-driven corpora (tests/ui, tests/fmt,
//! stdlib-flows), in one test binary for compile time.

mod suite;
