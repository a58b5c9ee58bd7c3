//! Integration tests of the web platform, in process through the real router.
//!
//! One small province is simulated once per test process ([`support::fixture`]); each test gets
//! its own copy of it ([`support::TestApp`]), with one user per role.

mod api;
mod ledger;
mod pages;
mod pages_trace_import;
mod public;
mod support;
