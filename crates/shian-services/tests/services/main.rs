//! Integration tests of the import and export services, against an in-memory SQLite store and
//! files written in a temporary directory.

mod balance;
mod durability;
mod encodings;
mod headers;
mod hostile_files;
mod idempotency;
mod import_errors;
mod round_trip;
mod self_reference;
mod spreadsheets;
mod supervision;
mod supervision_delivery;
mod supervision_ledger;
mod support;
mod trace;
mod trace_chains;
mod trace_export;
