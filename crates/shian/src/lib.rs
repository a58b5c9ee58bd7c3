//! The surfaces of Shian. For now the command line ([`cli`]); the HTTP API, web pages, EPCIS and
//! public QR pages join here. Surfaces call services and never the database directly.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod docs;
pub mod memory;
pub mod progress;
