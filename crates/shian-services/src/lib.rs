//! Shian's services: the work done over the store on behalf of every surface.
//!
//! - [`source`]: reading CSV (UTF-8 or GB18030), XLSX and JSON-lines files safely, in bounded memory;
//! - [`import`]: validating rows against the record kinds and writing them idempotently, with every
//!   rejected row reported;
//! - [`export`]: writing any kind back out in the same formats, so export → import round-trips;
//! - [`stats`]: counting what a database holds;
//! - [`trace`]: backward and forward traces over lots, with inferred links marked;
//! - [`trace_export`]: a trace as a recall list (召回清单) or an FDA FSMA 204 sortable spreadsheet;
//! - [`balance`]: mass balance (物料平衡) per lot, sold ≤ received, as a data-quality signal;
//! - [`public`]: one code, all public (一码公开): QR tokens, vendors' and lots' public pages, complaints
//!   and ratings from the public, QR images and posters;
//! - [`credit`]: credit evaluation (信用评价) of vendors, a documented formula over their records.
//!
//! Error policy: each module has its own `thiserror` enum; problems with one row are not errors but
//! [`import::RowError`]s, reported and skipped while the good rows go on.

pub mod accounts;
pub mod balance;
pub mod credit;
pub mod demo;
pub mod export;
pub mod import;
pub mod public;
pub mod routine;
pub mod source;
pub mod stats;
pub mod supervision;
pub mod test_catalogue;
pub mod trace;
pub mod trace_export;

/// File formats for import and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Jsonl,
}

impl Format {
    /// The format a file name's extension implies.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Jsonl => "jsonl",
        }
    }
}

/// Text encodings of CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Detect from the first bytes: UTF-8 if they are valid UTF-8, otherwise GB18030 (unless they go
    /// wrong as GB18030 sooner than as UTF-8: then it is UTF-8 with a bad byte).
    Auto,
    Utf8,
    /// UTF-8 with a byte-order mark, which Excel needs to open a UTF-8 CSV correctly.
    Utf8Bom,
    Gb18030,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Encoding> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "auto" => Some(Encoding::Auto),
            "utf8" => Some(Encoding::Utf8),
            "utf8bom" => Some(Encoding::Utf8Bom),
            "gb18030" | "gbk" | "gb2312" => Some(Encoding::Gb18030),
            _ => None,
        }
    }
}
