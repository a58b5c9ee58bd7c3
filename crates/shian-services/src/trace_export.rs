//! Exports of a trace ([`crate::trace`]) as spreadsheets:
//!
//! - the **recall list** (召回清单): one row per recipient reached by a forward trace, with its
//!   kind, code, name, market and region, quantity, date, the lot it came from, the hop depth,
//!   whether the link is confirmed or inferred (and why), and school canteens flagged; plus a
//!   totals sheet per kind of recipient;
//! - the **FDA FSMA 204 electronic sortable spreadsheet**: one row per shipping (sale) or
//!   receiving (receipt) event of the trace with its Key Data Elements — traceability lot code,
//!   quantity and unit of measure, product description, ship-from and ship-to location, ship or
//!   receive date, traceability lot code source (the vendor that assigned the lot code: in Shian a
//!   lot code is the holding vendor's own), reference document type and number.
//!
//! Every text cell is written as a string, never as a formula, and text a spreadsheet would take
//! for a formula is defused with an apostrophe (as in [`crate::export`]).

use std::collections::{HashMap, HashSet};
use std::io::Write;

use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError};
use serde::Serialize;
use shian_domain::field::defuse;
use shian_domain::unit::Unit;
use shian_domain::{Kind, Lang, Value, region, time};
use shian_store::{Movement, Store, StoreError};

use crate::trace::{Direction, Node, PartyRef, TraceTree};

#[derive(Debug, thiserror::Error)]
pub enum TraceExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("XLSX: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("a recall list is made from a forward trace")]
    NotForward,
}

impl TraceExportError {
    /// The message for a person, in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        match (self, lang) {
            (TraceExportError::NotForward, Lang::Zh) => "召回清单须由正向追踪生成".to_string(),
            (TraceExportError::Store(e), Lang::Zh) => format!("数据库错误：{e}"),
            (TraceExportError::Xlsx(e), Lang::Zh) => format!("XLSX 写入失败：{e}"),
            (TraceExportError::Io(e), Lang::Zh) => format!("写入失败：{e}"),
            (e, Lang::En) => e.to_string(),
        }
    }
}

fn pick(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::Zh { zh } else { en }
}

/// A kind of party as a person reads it (`canteen` with `school` is a school canteen).
pub fn kind_label(kind: &str, canteen: Option<&str>, lang: Lang) -> &'static str {
    match (kind, canteen) {
        ("canteen", Some("school")) => pick(lang, "学校食堂", "school canteen"),
        ("canteen", Some("kindergarten")) => pick(lang, "幼儿园食堂", "kindergarten canteen"),
        ("vendor", _) => pick(lang, "销售者", "vendor"),
        ("producer", _) => pick(lang, "生产者", "producer"),
        ("supermarket", _) => pick(lang, "超市", "supermarket"),
        ("restaurant", _) => pick(lang, "餐馆", "restaurant"),
        ("canteen", _) => pick(lang, "食堂", "canteen"),
        ("processor", _) => pick(lang, "食品加工企业", "food processor"),
        ("consumer", _) => pick(lang, "消费者", "consumers"),
        ("buyer", _) => pick(lang, "下游单位", "downstream unit"),
        _ => pick(lang, "其他", "other"),
    }
}

/// A unit code as a person reads it (`jin` → 斤).
pub fn unit_label(unit: &str, lang: Lang) -> String {
    match (Unit::parse(unit), lang) {
        (Some(u), Lang::Zh) => Unit::ALL.iter().find(|(x, ..)| *x == u).map(|(_, _, z)| z.to_string()).unwrap(),
        (Some(u), Lang::En) => u.code().to_string(),
        (None, _) => unit.to_string(),
    }
}

fn region_label(code: Option<&str>) -> String {
    match code {
        Some(c) => region::by_code(c).map(|r| r.name.to_string()).unwrap_or_else(|| c.to_string()),
        None => String::new(),
    }
}

/// One recipient of a forward trace.
#[derive(Debug, Clone, Serialize)]
pub struct RecallRow {
    /// The kind as a person reads it (学校食堂, 超市, …).
    pub kind: String,
    pub code: String,
    pub name: String,
    /// A vendor's market.
    pub market: String,
    /// The region name of the market, producer or buyer.
    pub region: String,
    pub quantity: f64,
    pub unit: String,
    /// China time of the sale or receipt (the earliest one for aggregated consumers).
    pub time: String,
    /// The lot the goods came from (the seller's lot).
    pub from_lot: String,
    /// The lot a vendor recipient started with the goods.
    pub own_lot: String,
    /// Hops from the start (a direct recipient is 1).
    pub depth: usize,
    pub inferred: bool,
    pub basis: String,
    pub school: bool,
    /// `SOURCE/EXT_ID` of the record (the first one for aggregated consumers).
    pub record: String,
    /// Records aggregated into this row.
    pub records: usize,
}

/// The recipients of a forward trace, in tree order.
pub fn recall_rows(tree: &TraceTree, lang: Lang) -> Vec<RecallRow> {
    let mut out = Vec::new();
    for root in &tree.roots {
        recall_walk(root, 1, lang, &mut out);
    }
    out
}

fn recall_walk(parent: &Node, depth: usize, lang: Lang, out: &mut Vec<RecallRow>) {
    for n in &parent.children {
        if let Some(l) = &n.link {
            let p = &n.party;
            out.push(RecallRow {
                kind: kind_label(&p.kind, p.canteen_kind.as_deref(), lang).to_string(),
                code: p.code.as_deref().unwrap_or_default().to_string(),
                name: p.name.as_deref().unwrap_or_default().to_string(),
                market: if p.kind == "vendor" {
                    p.detail.as_deref().unwrap_or_default().to_string()
                } else {
                    String::new()
                },
                region: region_label(p.region.as_deref()),
                quantity: l.quantity,
                unit: unit_label(&l.unit, lang),
                time: l.time.to_string(),
                from_lot: parent.lot.as_deref().unwrap_or_default().to_string(),
                own_lot: n.lot.as_deref().unwrap_or_default().to_string(),
                depth,
                inferred: l.inferred,
                basis: l.basis.as_ref().map(|b| b.get(lang).to_string()).unwrap_or_default(),
                school: p.school,
                record: format!("{}/{}", l.source, l.ext_id),
                records: n.records,
            });
        }
        recall_walk(n, depth + 1, lang, out);
    }
}

/// Writes text as a string cell, defused.
fn text(sheet: &mut Worksheet, r: u32, c: u16, s: &str) -> Result<(), XlsxError> {
    if !s.is_empty() {
        sheet.write_string(r, c, defuse(s.to_string()))?;
    }
    Ok(())
}

fn header(sheet: &mut Worksheet, names: &[&str]) -> Result<(), XlsxError> {
    let bold = CellFormat::new().set_bold();
    for (c, name) in names.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *name, &bold)?;
        // Wide enough for the header (a Chinese character takes two columns' width).
        let width: usize = name.chars().map(|ch| if ch.is_ascii() { 1 } else { 2 }).sum();
        sheet.set_column_width(c as u16, (width + 4).clamp(10, 40) as f64)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Widens the columns that hold names and places, so they read without resizing.
fn widen(sheet: &mut Worksheet, columns: &[u16], width: f64) -> Result<(), XlsxError> {
    for &c in columns {
        sheet.set_column_width(c, width)?;
    }
    Ok(())
}

/// Column headers of the recall list.
pub fn recall_headers(lang: Lang) -> [&'static str; 16] {
    match lang {
        Lang::Zh => [
            "去向类型",
            "编码",
            "名称",
            "所在市场",
            "所在地区",
            "数量",
            "单位",
            "日期时间",
            "来源批次",
            "本方批次",
            "追溯层级",
            "关联",
            "推断依据",
            "学校/幼儿园食堂",
            "单据（来源系统/记录号）",
            "笔数",
        ],
        Lang::En => [
            "Recipient kind",
            "Code",
            "Name",
            "Market",
            "Region",
            "Quantity",
            "Unit",
            "Date and time",
            "From lot",
            "Own lot",
            "Hop depth",
            "Link",
            "Inference basis",
            "School or kindergarten canteen",
            "Record (source/ext_id)",
            "Records",
        ],
    }
}

fn link_label(inferred: bool, lang: Lang) -> &'static str {
    match inferred {
        true => pick(lang, "推断", "inferred"),
        false => pick(lang, "确认", "confirmed"),
    }
}

/// Writes the recall list of a forward trace as XLSX; returns the number of recipient rows.
pub fn recall_xlsx(tree: &TraceTree, lang: Lang, out: &mut dyn Write) -> Result<usize, TraceExportError> {
    if tree.direction != Direction::Forward {
        return Err(TraceExportError::NotForward);
    }
    let rows = recall_rows(tree, lang);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(pick(lang, "召回清单", "Recall list"))?;
    header(sheet, &recall_headers(lang))?;
    widen(sheet, &[1, 8, 9], 16.0)?;
    widen(sheet, &[2, 3], 30.0)?;
    widen(sheet, &[7, 12, 14], 22.0)?;
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        text(sheet, r, 0, &row.kind)?;
        text(sheet, r, 1, &row.code)?;
        text(sheet, r, 2, &row.name)?;
        text(sheet, r, 3, &row.market)?;
        text(sheet, r, 4, &row.region)?;
        sheet.write_number(r, 5, row.quantity)?;
        text(sheet, r, 6, &row.unit)?;
        text(sheet, r, 7, &row.time)?;
        text(sheet, r, 8, &row.from_lot)?;
        text(sheet, r, 9, &row.own_lot)?;
        sheet.write_number(r, 10, row.depth as f64)?;
        text(sheet, r, 11, link_label(row.inferred, lang))?;
        text(sheet, r, 12, &row.basis)?;
        text(sheet, r, 13, if row.school { pick(lang, "是", "yes") } else { "" })?;
        text(sheet, r, 14, &row.record)?;
        sheet.write_number(r, 15, row.records as f64)?;
    }
    let totals = book.add_worksheet();
    totals.set_name(pick(lang, "合计", "Totals"))?;
    let names = match lang {
        Lang::Zh => ["去向类型", "去向个数", "笔数", "其中推断笔数", "数量（千克）", "学校/幼儿园食堂"],
        Lang::En => ["Recipient kind", "Recipients", "Records", "Inferred records", "Quantity (kg)", "School canteens"],
    };
    header(totals, &names)?;
    for (i, t) in tree.totals.iter().enumerate() {
        let r = i as u32 + 1;
        text(totals, r, 0, kind_label(&t.kind, None, lang))?;
        totals.write_number(r, 1, t.recipients as f64)?;
        totals.write_number(r, 2, t.records as f64)?;
        totals.write_number(r, 3, t.inferred_records as f64)?;
        totals.write_number(r, 4, (t.quantity_kg * 1000.0).round() / 1000.0)?;
        totals.write_number(r, 5, t.school_canteens as f64)?;
    }
    out.write_all(&book.save_to_buffer()?)?;
    Ok(rows.len())
}

/// A critical tracking event of FSMA 204.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Shipping,
    Receiving,
}

/// One row of the FSMA 204 sortable spreadsheet.
#[derive(Debug, Clone, Serialize)]
pub struct Fsma204Row {
    pub event: Event,
    pub lot_code: String,
    pub product: String,
    pub quantity: f64,
    pub unit: String,
    pub ship_from: String,
    pub ship_to: String,
    /// `YYYY-MM-DD`, China time; the ship date of a shipping event.
    pub ship_date: String,
    /// `YYYY-MM-DD`, China time; the receive date of a receiving event.
    pub receive_date: String,
    /// The location that assigned the lot code (the vendor holding the lot).
    pub lot_code_source: String,
    pub document_type: String,
    pub document_number: String,
    /// `SOURCE/EXT_ID` of the record.
    pub record: String,
    pub inferred: bool,
    pub basis: String,
    /// Unix seconds, for sorting.
    #[serde(skip)]
    at: i64,
}

/// Column headers of the FSMA 204 spreadsheet: the Key Data Elements as FDA names them, then
/// Shian's own (the record, confirmed or inferred, the basis).
pub fn fsma204_headers(lang: Lang) -> [&'static str; 15] {
    match lang {
        Lang::En => [
            "Critical Tracking Event",
            "Traceability Lot Code",
            "Product Description",
            "Quantity",
            "Unit of Measure",
            "Ship-From Location",
            "Ship-To Location",
            "Ship Date",
            "Receive Date",
            "Traceability Lot Code Source",
            "Reference Document Type",
            "Reference Document Number",
            "Record (source/ext_id)",
            "Link",
            "Inference Basis",
        ],
        Lang::Zh => [
            "关键追踪事件",
            "追溯批次码",
            "产品描述",
            "数量",
            "计量单位",
            "发货地点",
            "收货地点",
            "发货日期",
            "收货日期",
            "批次码来源（赋码地点）",
            "参考单据类型",
            "参考单据编号",
            "记录（来源系统/记录号）",
            "关联",
            "推断依据",
        ],
    }
}

/// Looks up and caches records for the events of a trace.
struct Lookup<'a> {
    store: &'a dyn Store,
    lang: Lang,
    parties: HashMap<(Kind, i64), String>,
    varieties: Option<HashMap<i64, String>>,
}

impl Lookup<'_> {
    fn movement(&self, kind: Kind, source: &str, ext_id: &str) -> Result<Option<Movement>, StoreError> {
        let key = [Value::Text(source.into()), Value::Text(ext_id.into())];
        match self.store.find(kind, &key)? {
            Some(id) => self.store.movement(kind, id),
            None => Ok(None),
        }
    }

    fn product(&mut self, variety: i64) -> Result<String, StoreError> {
        if self.varieties.is_none() {
            let mut named: Vec<(String, String)> = Vec::new();
            let def = Kind::Variety.def();
            let (code_at, name_at, en_at) = (
                def.field("code").map(|f| f.0).unwrap_or(0),
                def.field("name").map(|f| f.0).unwrap_or(1),
                def.field("en").map(|f| f.0).unwrap_or(2),
            );
            let lang = self.lang;
            self.store.scan(Kind::Variety, &mut |row| {
                let code = row[code_at].as_text().unwrap_or_default().to_string();
                let zh = row[name_at].as_text().unwrap_or_default();
                let name = match lang {
                    Lang::Zh => zh,
                    Lang::En => row[en_at].as_text().filter(|s| !s.is_empty()).unwrap_or(zh),
                };
                named.push((code, name.to_string()));
                Ok(())
            })?;
            let codes: Vec<&str> = named.iter().map(|(c, _)| c.as_str()).collect();
            let ids: HashMap<String, i64> = self.store.resolve(Kind::Variety, &codes)?.into_iter().collect();
            let map = named.iter().filter_map(|(c, n)| ids.get(c).map(|id| (*id, n.clone()))).collect();
            self.varieties = Some(map);
        }
        let map = self.varieties.as_ref().expect("filled above");
        Ok(map.get(&variety).cloned().unwrap_or_else(|| variety.to_string()))
    }

    /// A location as FSMA wants it described: name, code, market and region.
    fn location(&mut self, party_kind: &str, id: Option<i64>, name: Option<&str>) -> Result<String, StoreError> {
        let table = match party_kind {
            "vendor" => Some(Kind::Vendor),
            "producer" => Some(Kind::Producer),
            "supermarket" | "restaurant" | "canteen" | "processor" | "buyer" => Some(Kind::Buyer),
            _ => None,
        };
        let lang = self.lang;
        let fallback = || {
            let label = kind_label(party_kind, None, lang);
            match name {
                Some(n) => format!("{n} ({label})"),
                None => label.to_string(),
            }
        };
        let (Some(table), Some(id)) = (table, id) else { return Ok(fallback()) };
        if let Some(s) = self.parties.get(&(table, id)) {
            return Ok(s.clone());
        }
        let described = match self.store.party(table, id)? {
            Some(p) => {
                let mut s = format!("{} ({})", p.name, p.code);
                if table == Kind::Vendor
                    && let Some(m) = &p.detail
                {
                    s += &format!(", {m}");
                }
                let region = region_label(p.region.as_deref());
                if !region.is_empty() {
                    s += &format!(", {region}");
                }
                s
            }
            None => fallback(),
        };
        self.parties.insert((table, id), described.clone());
        Ok(described)
    }

    fn certificate_no(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self.store.certificate(id)?.map(|c| c.cert_no))
    }

    /// The row of one sale (`Kind::Outbound`) or receipt (`Kind::Inbound`), under `lot`.
    fn row(&mut self, kind: Kind, m: &Movement, lot: &str, basis: Option<&str>) -> Result<Fsma204Row, StoreError> {
        let lang = self.lang;
        let holder = self.location("vendor", Some(m.vendor_id), None)?;
        let other = self.location(&m.party_kind, m.party_id, m.party_name.as_deref())?;
        let date = time::format_datetime(m.at).chars().take(10).collect::<String>();
        let record = format!("{}/{}", m.source, m.ext_id);
        let shipping = kind == Kind::Outbound;
        let (document_type, document_number) = match (shipping, m.certificate_id) {
            (true, _) => (pick(lang, "销货记录", "Sales record"), record.clone()),
            (false, None) if m.quarantine_no.is_some() => (
                pick(lang, "动物检疫合格证明", "Animal quarantine certificate"),
                m.quarantine_no.clone().unwrap_or_default(),
            ),
            (false, Some(c)) => match self.certificate_no(c)? {
                Some(no) => (pick(lang, "合格证", "Origin certificate"), no),
                None => (pick(lang, "进货记录", "Receiving record"), record.clone()),
            },
            (false, None) => (pick(lang, "进货记录", "Receiving record"), record.clone()),
        };
        Ok(Fsma204Row {
            event: if shipping { Event::Shipping } else { Event::Receiving },
            lot_code: lot.to_string(),
            product: self.product(m.variety_id)?,
            quantity: m.quantity,
            unit: unit_label(&m.unit, lang),
            ship_from: if shipping { holder.clone() } else { other.clone() },
            ship_to: if shipping { other } else { holder.clone() },
            ship_date: if shipping { date.clone() } else { String::new() },
            receive_date: if shipping { String::new() } else { date },
            lot_code_source: holder,
            document_type: document_type.to_string(),
            document_number,
            record,
            inferred: basis.is_some(),
            basis: basis.unwrap_or_default().to_string(),
            at: m.at,
        })
    }
}

/// The lot of `vendor` among a node and its parent.
fn lot_at(vendor: i64, nodes: [Option<&Node>; 2]) -> Option<&str> {
    nodes
        .into_iter()
        .flatten()
        .find(|n| n.party.kind == "vendor" && n.party.id == Some(vendor) && n.lot.is_some())
        .and_then(|n| n.lot.as_deref())
}

fn is_vendor_lot(p: &PartyRef) -> Option<i64> {
    p.id.filter(|_| p.kind == "vendor")
}

/// The shipping and receiving events of a trace, oldest first: every sale and receipt linking
/// two nodes, and, in a forward trace, every receipt of each lot reached. A sale naming no lot is
/// given the lot it was inferred from.
pub fn fsma204_rows(store: &dyn Store, tree: &TraceTree, lang: Lang) -> Result<Vec<Fsma204Row>, TraceExportError> {
    let mut lookup = Lookup { store, lang, parties: HashMap::new(), varieties: None };
    let mut rows = Vec::new();
    let mut seen: HashSet<(Event, i64, String)> = HashSet::new();
    let mut stack: Vec<(Option<&Node>, &Node)> = tree.roots.iter().map(|r| (None, r)).collect();
    while let Some((parent, n)) = stack.pop() {
        stack.extend(n.children.iter().map(|c| (Some(n), c)));
        if let Some(l) = &n.link {
            let kind = if l.record == "inbound" { Kind::Inbound } else { Kind::Outbound };
            if let Some(m) = lookup.movement(kind, &l.source, &l.ext_id)? {
                let lot = m.lot_code.clone().or_else(|| lot_at(m.vendor_id, [Some(n), parent]).map(String::from));
                let lot = lot.unwrap_or_default();
                let event = if kind == Kind::Outbound { Event::Shipping } else { Event::Receiving };
                if seen.insert((event, m.id, lot.clone())) {
                    let basis = l.basis.as_ref().map(|b| b.get(lang));
                    rows.push(lookup.row(kind, &m, &lot, basis)?);
                }
            }
        }
        if tree.direction == Direction::Forward
            && !n.seen_before
            && let (Some(vendor), Some(lot)) = (is_vendor_lot(&n.party), &n.lot)
        {
            let basis = n.link.as_ref().and_then(|l| l.basis.as_ref()).map(|b| b.get(lang));
            for m in store.receipts_of_lot(vendor, lot)? {
                if seen.insert((Event::Receiving, m.id, lot.to_string())) {
                    rows.push(lookup.row(Kind::Inbound, &m, lot, basis)?);
                }
            }
        }
    }
    rows.sort_by(|a, b| (a.at, &a.lot_code, a.event, &a.record).cmp(&(b.at, &b.lot_code, b.event, &b.record)));
    Ok(rows)
}

/// Writes the FSMA 204 sortable spreadsheet of a trace as XLSX; returns the number of events.
pub fn fsma204_xlsx(
    store: &dyn Store,
    tree: &TraceTree,
    lang: Lang,
    out: &mut dyn Write,
) -> Result<usize, TraceExportError> {
    let rows = fsma204_rows(store, tree, lang)?;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("FSMA 204")?;
    header(sheet, &fsma204_headers(lang))?;
    widen(sheet, &[5, 6, 9], 48.0)?;
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        let event = match row.event {
            Event::Shipping => pick(lang, "发货", "Shipping"),
            Event::Receiving => pick(lang, "收货", "Receiving"),
        };
        text(sheet, r, 0, event)?;
        text(sheet, r, 1, &row.lot_code)?;
        text(sheet, r, 2, &row.product)?;
        sheet.write_number(r, 3, row.quantity)?;
        text(sheet, r, 4, &row.unit)?;
        text(sheet, r, 5, &row.ship_from)?;
        text(sheet, r, 6, &row.ship_to)?;
        text(sheet, r, 7, &row.ship_date)?;
        text(sheet, r, 8, &row.receive_date)?;
        text(sheet, r, 9, &row.lot_code_source)?;
        text(sheet, r, 10, &row.document_type)?;
        text(sheet, r, 11, &row.document_number)?;
        text(sheet, r, 12, &row.record)?;
        text(sheet, r, 13, link_label(row.inferred, lang))?;
        text(sheet, r, 14, &row.basis)?;
    }
    out.write_all(&book.save_to_buffer()?)?;
    Ok(rows.len())
}
