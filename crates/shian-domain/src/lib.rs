//! Shian's domain: the pure types and rules every other layer builds on.
//!
//! Nothing here does I/O. The reference data (GB/T 2260 regions, the variety catalogue, the starter
//! test items) is compiled in from `data/`; the record kinds that can be stored, imported and
//! exported are described once, in [`kind`], so that storage, import, export and the written data
//! standard all follow one definition.

pub mod access;
pub mod catalogue;
pub mod field;
pub mod ids;
pub mod kind;
pub mod msg;
pub mod region;
pub mod routine;
pub mod time;
pub mod tracecode;
pub mod unit;

pub use field::{FieldError, FieldType, Value};
pub use kind::{Field, Kind, KindDef};
pub use msg::{Lang, Msg};
