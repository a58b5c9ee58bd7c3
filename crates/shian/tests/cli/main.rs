//! Integration tests of the `shian` binary: each test runs the real executable in a temporary
//! directory, as a user would, and checks exit codes, messages, files and database contents.
//!
//! One province is generated at small scale once per test binary ([`support::fixture`]); tests
//! that only read use it in place, tests that write work on a copy.

#[cfg(unix)]
mod durability;
mod examples;
mod export;
mod generate;
mod import;
mod ledger;
mod qr;
mod support;
mod test_catalogue;
mod trace;
mod user;
