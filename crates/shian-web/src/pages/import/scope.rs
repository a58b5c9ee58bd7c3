//! Imports within a scope: which kinds a scoped user may import, and the pass that keeps a file's
//! rows within the user's jurisdiction.
//!
//! The import service writes whatever a file holds; it knows nothing of jurisdictions. So a file
//! from a user with a scope (a region, a market, a chain's headquarters) is read here first and
//! every row is placed:
//!
//! - by its *anchors*: the market, vendor, sample or chain it names (that record must lie within
//!   the scope) or its own region code (the scope must cover it). At least one anchor must be given:
//!   a complaint naming neither market nor vendor could not be placed, nor seen again by its author;
//! - by the record it would replace: a row whose natural key is already stored must name a record
//!   within the scope, so a file can neither overwrite nor move another jurisdiction's record.
//!
//! A row outside the scope is rejected with its line, column, value and reason; the rows inside are
//! copied cell for cell into a UTF-8 CSV file that the service imports, with a map from its lines
//! back to the lines of the uploaded file. A row this pass cannot place — a reference to nothing, a
//! value that does not parse — goes on, and the service rejects it with its own reason.
//!
//! Kinds no anchor places within a scope are not offered at all: the variety catalogue (province
//! reference data), markets, producers, buyers and certificates for market-bound users (their
//! scope does not contain them), and everything but a chain's own stores for a chain's headquarters.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use shian_domain::access::Scope;
use shian_domain::field::FieldType;
use shian_domain::{Kind, Lang, Msg, Value};
use shian_services::accounts::Principal;
use shian_services::import::RowError;
use shian_services::source::{self, RawRecord};
use shian_services::{Encoding, Format};
use shian_store::{Store, StoreError};

use super::jobs::{Fail, Meter, Phase, RejectedCsv, csv_record};

/// How a row is placed in a scope.
#[derive(Debug, Clone, Copy)]
pub enum Anchor {
    /// A reference field (or polymorphic reference) whose record must lie within the scope.
    Ref(&'static str),
    /// A region-code field the scope must cover.
    Region(&'static str),
}

use Anchor::{Ref, Region};

/// The anchors of `kind` in `scope`; `None` when users of that scope may not import the kind.
pub fn anchors(kind: Kind, scope: &Scope) -> Option<&'static [Anchor]> {
    let region = matches!(scope, Scope::Region(_));
    Some(match (kind, scope) {
        (Kind::MarketStaff | Kind::Vendor | Kind::RoutineRecord, Scope::Region(_) | Scope::Market(_)) => {
            &[Ref("market")]
        }
        (Kind::RapidTest | Kind::Inspection | Kind::Complaint | Kind::Case, Scope::Region(_) | Scope::Market(_)) => {
            &[Ref("market"), Ref("vendor")]
        }
        (Kind::VendorVariety | Kind::Inbound | Kind::Outbound, Scope::Region(_) | Scope::Market(_)) => &[Ref("vendor")],
        (Kind::Sample, Scope::Region(_) | Scope::Market(_)) => &[Ref("market"), Ref("subject")],
        (Kind::SampleItem, Scope::Region(_) | Scope::Market(_)) => &[Ref("sample")],
        (Kind::Market | Kind::Producer | Kind::Buyer, _) if region => &[Region("region")],
        (Kind::OriginCertificate | Kind::QuarantineCertificate, _) if region => &[Region("origin")],
        (Kind::Buyer, Scope::Enterprise(_)) => &[Ref("chain")],
        _ => return None,
    })
}

/// The columns that place a row of `kind` within `scope`, for the form ("市场编码、销售者编码").
pub fn placed_by(kind: Kind, scope: &Scope, lang: Lang) -> String {
    let def = kind.def();
    let names: Vec<String> = anchors(kind, scope)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| {
            let (Ref(f) | Region(f)) = a;
            def.field(f).map(|(_, f)| super::field_label(f, lang))
        })
        .collect();
    names.join(if lang == Lang::Zh { "、" } else { ", " })
}

/// Whether a user may import records of `kind` at all.
pub fn may_import(user: &Principal, kind: Kind) -> bool {
    kind.def().importable
        && user.role.may_write()
        && user.may_see(kind)
        && (user.scope == Scope::All || anchors(kind, &user.scope).is_some())
}

/// A rejected cell: the header as written, the value, the reason.
type Problem = (String, String, Msg);

/// What placing a row found.
enum Check {
    /// The anchor is empty.
    Absent,
    Inside,
    /// The import will reject the row anyway (no such record, a value that does not parse).
    Undecided,
    Outside(Problem),
}

/// Places rows of one file within one scope.
struct Placer<'a> {
    store: &'a dyn Store,
    user: &'a Principal,
    kind: Kind,
    anchors: &'static [Anchor],
    headers: Vec<String>,
    /// Field name → the first column feeding it.
    columns: HashMap<&'static str, usize>,
    /// Whether each (kind, code) lies within the scope; `None` when no such record exists.
    cache: HashMap<(Kind, String), Option<bool>>,
}

impl<'a> Placer<'a> {
    fn new(store: &'a dyn Store, user: &'a Principal, kind: Kind, headers: &[String]) -> Option<Placer<'a>> {
        let def = kind.def();
        let mut columns = HashMap::new();
        for (pos, h) in headers.iter().enumerate() {
            if let Some(f) = def.fields.iter().find(|f| !f.derived && f.matches_header(h)) {
                columns.entry(f.name).or_insert(pos);
            }
        }
        let anchors = anchors(kind, &user.scope)?;
        Some(Placer { store, user, kind, anchors, headers: headers.to_vec(), columns, cache: HashMap::new() })
    }

    /// The trimmed, non-empty cell feeding `field`, with its header.
    fn cell<'c>(&self, cells: &'c [String], field: &str) -> Option<(&'c str, &str)> {
        let pos = *self.columns.get(field)?;
        let v = cells.get(pos)?.trim();
        (!v.is_empty()).then(|| (v, self.headers[pos].as_str()))
    }

    /// Whether a row lies within the scope: `None` if it does (or the import will reject it).
    fn place(&mut self, cells: &[String]) -> Result<Option<Problem>, StoreError> {
        let mut present = false;
        for a in self.anchors {
            match self.check(*a, cells)? {
                Check::Absent => {}
                Check::Inside => present = true,
                Check::Undecided => return Ok(None),
                Check::Outside(p) => return Ok(Some(p)),
            }
        }
        if !present {
            return Ok(Some(self.unplaced()));
        }
        self.replaced(cells)
    }

    fn check(&mut self, anchor: Anchor, cells: &[String]) -> Result<Check, StoreError> {
        let def = self.kind.def();
        let (field, region) = match anchor {
            Ref(f) => (f, false),
            Region(f) => (f, true),
        };
        let Some((_, f)) = def.field(field) else { return Ok(Check::Absent) };
        let Some((raw, header)) = self.cell(cells, field) else { return Ok(Check::Absent) };
        let header = header.to_string();
        let Ok(Value::Text(code)) = f.ty.parse(raw) else { return Ok(Check::Undecided) };
        if region {
            return Ok(if self.user.scope.covers_region(&code) {
                Check::Inside
            } else {
                Check::Outside((header, code.clone(), self.outside("区划", "region", &code)))
            });
        }
        let Some(target) = self.target(f.ty, cells) else { return Ok(Check::Undecided) };
        Ok(match self.inside(target, &code)? {
            None => Check::Undecided,
            Some(true) => Check::Inside,
            Some(false) => {
                let tdef = target.def();
                Check::Outside((header, code.clone(), self.outside(tdef.zh, tdef.en, &code)))
            }
        })
    }

    /// The kind a reference field points to (for a polymorphic one, per the row's kind column).
    fn target(&self, ty: FieldType, cells: &[String]) -> Option<Kind> {
        match ty {
            FieldType::Ref(k) => Some(k),
            FieldType::PolyRef { kind_field } => {
                let (_, kf) = self.kind.def().field(kind_field)?;
                let FieldType::Enum(choices) = kf.ty else { return None };
                let (raw, _) = self.cell(cells, kind_field)?;
                let Ok(Value::Text(code)) = kf.ty.parse(raw) else { return None };
                choices.iter().find(|c| c.code == code)?.target
            }
            _ => None,
        }
    }

    fn inside(&mut self, kind: Kind, code: &str) -> Result<Option<bool>, StoreError> {
        if let Some(known) = self.cache.get(&(kind, code.to_string())) {
            return Ok(*known);
        }
        let found = match self.store.resolve(kind, &[code])?.pop() {
            Some((_, id)) => Some(self.store.get(kind, id, &self.user.scope)?.is_some()),
            None => None,
        };
        self.cache.insert((kind, code.to_string()), found);
        Ok(found)
    }

    /// A row whose natural key is stored must name a record within the scope. (Kinds whose key
    /// holds a reference — listings, sample items, routine records — are placed by that anchor.)
    fn replaced(&self, cells: &[String]) -> Result<Option<Problem>, StoreError> {
        let def = self.kind.def();
        let mut key = Vec::new();
        for name in def.key {
            let Some((_, f)) = def.field(name) else { return Ok(None) };
            if f.ty.is_ref() {
                return Ok(None);
            }
            let Some((raw, _)) = self.cell(cells, name) else { return Ok(None) };
            let Ok(v) = f.ty.parse(raw) else { return Ok(None) };
            key.push(v);
        }
        let Some(id) = self.store.find(self.kind, &key)? else { return Ok(None) };
        if self.store.get(self.kind, id, &self.user.scope)?.is_some() {
            return Ok(None);
        }
        let shown: Vec<String> = key.iter().map(|v| v.as_text().map(str::to_string).unwrap_or_default()).collect();
        let shown = shown.join(",");
        let reason = Msg::new(
            format!("{}“{shown}”已由您管辖范围（{}）以外的单位登记，不能修改", def.zh, self.user.scope_label),
            format!(
                "{} {shown:?} is stored outside your scope ({}) and cannot be changed",
                def.en, self.user.scope_label
            ),
        );
        Ok(Some((String::new(), shown, reason)))
    }

    fn outside(&self, zh: &str, en: &str, code: &str) -> Msg {
        let label = &self.user.scope_label;
        Msg::new(
            format!("{zh}“{code}”不在您的管辖范围（{label}）内"),
            format!("{en} {code:?} is outside your scope ({label})"),
        )
    }

    fn unplaced(&self) -> Problem {
        let def = self.kind.def();
        let fields: Vec<_> = self
            .anchors
            .iter()
            .filter_map(|a| {
                let (Ref(f) | Region(f)) = a;
                def.field(f).map(|(_, f)| f)
            })
            .collect();
        let zh: Vec<&str> = fields.iter().map(|f| f.zh).collect();
        let en: Vec<&str> = fields.iter().map(|f| f.name).collect();
        let reason = Msg::new(
            format!("须填写{}，才能确定该行在您的管辖范围内", zh.join("或")),
            format!("give the {} so that the row can be placed within your scope", en.join(" or ")),
        );
        (String::new(), String::new(), reason)
    }
}

/// The outcome of the scope pass.
pub struct Filtered {
    pub encoding: &'static str,
    /// Records read from the upload.
    pub read: u64,
    /// Records rejected here (outside the scope, or unreadable).
    pub rejected: u64,
    /// Of those, the records outside the scope.
    pub outside: u64,
    /// The first of them.
    pub errors: Vec<RowError>,
    /// The rejected rows so far, with their reasons.
    pub rejected_csv: RejectedCsv,
    /// (line in the filtered file, line in the upload), in order.
    lines: Vec<(u32, u32)>,
}

impl Filtered {
    /// The upload's line of a line of the filtered file.
    pub fn original_line(&self, line: u64) -> u64 {
        match self.lines.binary_search_by_key(&line, |(f, _)| u64::from(*f)) {
            Ok(i) => u64::from(self.lines[i].1),
            Err(_) => line,
        }
    }
}

/// Where the scope pass writes.
pub struct Outputs<'p> {
    /// The rows within the scope, as UTF-8 CSV.
    pub filtered: &'p Path,
    /// The rejected rows with their reasons, for the reader to download.
    pub rejected: &'p Path,
    /// The language of the reasons in the rejected file.
    pub lang: Lang,
}

/// Reads `upload` and copies its rows within the user's scope to `out.filtered`.
pub fn filter(
    store: &dyn Store,
    user: &Principal,
    kind: Kind,
    upload: &Path,
    format: Format,
    out: &Outputs,
    meter: &Meter,
) -> Result<Filtered, Fail> {
    let mut opened = source::open(upload, Some(format), Encoding::Auto).map_err(Fail::source)?;
    let mut placer = Placer::new(store, user, kind, &opened.headers).ok_or_else(|| Fail::not_importable(kind))?;
    let mut writer = BufWriter::new(File::create(out.filtered)?);
    let header = csv_record(opened.headers.iter().map(String::as_str));
    writer.write_all(header.as_bytes())?;
    let mut f = Filtered {
        encoding: opened.encoding,
        read: 0,
        rejected: 0,
        outside: 0,
        errors: Vec::new(),
        rejected_csv: RejectedCsv::create(out.rejected, &opened.headers, out.lang)?,
        lines: Vec::new(),
    };
    let mut line = 1 + newlines(&header);
    let total = if opened.encoding == "XLSX" { 0 } else { opened.total_bytes };
    meter.set_phase(Phase::Checking);
    while let Some(batch) = opened.next_batch() {
        for record in batch.map_err(Fail::source)? {
            f.read += 1;
            let problem = match &record.problem {
                Some(p) => Some((String::new(), String::new(), p.clone())),
                None => placer.place(&record.cells)?.inspect(|_| f.outside += 1),
            };
            match problem {
                Some(p) => f.reject(&record, p)?,
                None => {
                    let row = csv_record(record.cells.iter().map(String::as_str));
                    writer.write_all(row.as_bytes())?;
                    f.lines.push((clamp(line), clamp(record.line)));
                    line += newlines(&row);
                }
            }
        }
        meter.update_counts(opened.bytes_read.load(std::sync::atomic::Ordering::Relaxed), total, f.read);
    }
    writer.flush()?;
    Ok(f)
}

impl Filtered {
    fn reject(&mut self, record: &RawRecord, (column, value, reason): Problem) -> Result<(), Fail> {
        self.rejected += 1;
        self.rejected_csv.write(&record.cells, &[(column.clone(), reason.clone())])?;
        if self.errors.len() < super::jobs::MAX_REPORTED {
            self.errors.push(RowError { file: String::new(), line: record.line, column, value, reason });
        }
        Ok(())
    }
}

fn newlines(s: &str) -> u64 {
    s.bytes().filter(|b| *b == b'\n').count() as u64
}

/// Lines fit in 32 bits: an upload is at most a few hundred MiB.
fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_users_are_offered_only_kinds_their_scope_can_place() {
        let region = Scope::Region("130102".into());
        let market = Scope::Market(7);
        let chain = Scope::Enterprise(3);
        assert!(anchors(Kind::Variety, &region).is_none(), "the catalogue is province reference data");
        assert!(anchors(Kind::Market, &region).is_some());
        assert!(anchors(Kind::Market, &market).is_none());
        assert!(anchors(Kind::Producer, &market).is_none());
        assert!(anchors(Kind::Outbound, &market).is_some());
        assert!(anchors(Kind::Buyer, &chain).is_some());
        assert!(anchors(Kind::Outbound, &chain).is_none());
        for kind in Kind::ALL {
            for a in anchors(kind, &region).unwrap_or_default() {
                let (Ref(f) | Region(f)) = a;
                assert!(kind.def().field(f).is_some(), "{kind:?} has no field {f}");
            }
        }
    }
}
