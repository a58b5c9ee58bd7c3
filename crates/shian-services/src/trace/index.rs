//! The trace index (追溯索引): every receipt and sale, compactly, in memory, sorted the ways a trace
//! reads them, with the parties and certificates a trace shows. A trace through it ([`Indexed`])
//! gives the same tree as one through the database, from memory instead of B-tree walks.
//!
//! **Layout.** One fixed-size row per receipt (48 bytes) and per sale (40 bytes). Lot codes, names
//! and quarantine numbers are interned in one string arena; sources, units, party kinds and the
//! text before an external id's number are interned as small tags; an external id such as
//! `OUT000123456` is kept as (format, number) in 8 bytes; quantities as thousandths in 4 bytes
//! (any other quantity in a side table). Receipts and sales are sorted by (lot code, vendor, time),
//! with offsets per lot code, so a lot's records are one slice found without a search; sales
//! naming no lot by (vendor, variety, time) behind a per-vendor directory; three permutations of
//! the receipts serve the other reads (by vendor and variety, by supplier's lot, by supplier and
//! variety without a lot). A trace touches a few cache lines per lot, not a binary search over
//! millions of rows.
//!
//! **Freshness.** The index remembers the [`MovementsVersion`] it was built at; [`TraceIndex::on`]
//! gives a reader only while the database still stands there, so a trace never mixes an old index
//! with new records: after any write to the order records, parties or certificates, callers trace
//! through the database until the index is rebuilt.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::num::NonZeroU32;
use std::sync::Arc;

// foldhash (hashbrown's default hasher): these maps are read on every node of a trace.
use hashbrown::{HashMap, HashTable};
use shian_domain::Kind;
use shian_store::{Certificate, Movement, MovementRef, MovementsVersion, Store, StoreError};

type Result<T, E = StoreError> = std::result::Result<T, E>;

use super::data::{Downstream, Place, TraceData, Visit, VisitReceipt};
use super::{CompactString, PartyRef, TraceError, party_table};

/// No party, no certificate.
const NONE: u32 = u32::MAX;
/// A quantity kept in the side table.
const SIDE: u32 = 1 << 31;
/// An external id kept whole in the side table.
const EXT_SIDE: u64 = 0xFFFF;
/// The longest external id kept packed, and the zeros its number is padded with (at most 14
/// digits: the number fits the 48 bits beside the format).
const EXT_LEN: usize = 40;
const ZEROS: &str = "00000000000000";

/// Where a packed external id is written out for a trace (on the stack: no allocation).
type ExtBuf = arrayvec::ArrayString<EXT_LEN>;
/// Flags in a record's `kind`, beside the tag: the record has a party name (in `*_names`), a
/// receipt has a quarantine number (in `quarantine`) — so a trace looks them up only then.
const NAMED: u16 = 1 << 15;
const QUARANTINED: u16 = 1 << 14;
/// The tag bits of a record's `kind`; tags are fewer than this.
const TAG: u16 = QUARANTINED - 1;

/// Every receipt and sale of a database, in memory, for traces. See the module documentation.
pub struct TraceIndex {
    version: MovementsVersion,
    strings: Strings,
    tags: Tags,
    ext_formats: Vec<(u16, u16, u8)>,
    ext_format_ids: HashMap<(u16, u16, u8), u16>,
    ext_side: Vec<(u16, Box<str>)>,
    quantities: Vec<f64>,
    /// Sorted by (lot code, vendor, time, id), those naming no lot first.
    receipts: Vec<Receipt>,
    /// Sorted by (lot code, vendor, time, id), those naming no lot first by (vendor, variety,
    /// time, id).
    sales: Vec<Sale>,
    /// Every (lot code, vendor) a receipt, a sale or a receipt's supplier lot names, sorted so,
    /// with one more row at the end: a holding's receipts, sales and downstream receipts run up to
    /// where the next holding's start.
    holdings: Vec<Holding>,
    /// `holdings_of[code]..holdings_of[code + 1]` are the holdings of a lot code.
    holdings_of: Vec<u32>,
    /// The first holding of each lot code by the code's hash, compared with the holding's own
    /// text: a trace's start is found reading the table and one row (not the arena and offsets).
    lots: HashTable<u32>,
    lot_hash: hashbrown::DefaultHashBuilder,
    /// Receipts from a vendor naming its lot, by (supplier's holding, time, id).
    down: Vec<Down>,
    /// Where each vendor's sales naming no lot start.
    unlotted: Directory,
    /// Receipts by (vendor, variety, time, id).
    by_variety: Vec<u32>,
    by_variety_of: Directory,
    /// Receipts from a vendor naming no lot, by (supplier, variety, time, id).
    from_unlotted: Vec<u32>,
    from_unlotted_of: Directory,
    receipt_names: HashMap<u32, u32>,
    sale_names: HashMap<u32, u32>,
    quarantine: HashMap<u32, u32>,
    parties: Parties,
    certificates: Slots<Arc<Certificate>>,
    vendor_tag: u16,
    /// The party table of each tag that is a party kind.
    tables: Vec<Option<Kind>>,
    /// The parties' and the records' kinds and their numbers (a few: looked through in order).
    kinds: Vec<(CompactString, NonZeroU32)>,
    /// Whether each tag is a record's party kind (while the index is built).
    kind_tags: Vec<bool>,
}

/// What receipts and sales share: one sale is exactly this (40 bytes).
#[derive(Debug, Clone, Copy)]
struct Record {
    ext: u64,
    id: u32,
    vendor: u32,
    variety: u32,
    lot: u32,
    at: u32,
    party: u32,
    qty: u32,
    unit: u16,
    /// The party kind's tag, with the flags [`NAMED`] and [`QUARANTINED`].
    kind: u16,
}

type Sale = Record;

/// A receipt: a record with the supplier's lot and the origin certificate (48 bytes).
#[derive(Debug, Clone, Copy)]
struct Receipt {
    record: Record,
    /// The supplier's lot: once the index is arranged, for a receipt from a vendor with an id
    /// ([`TraceIndex::names_holding`]), the holding of that lot at the supplier (`NONE` if it names
    /// none), so that a backward hop reads the supplier's row without looking the code up;
    /// otherwise the lot code (0 if none).
    supplier_lot: u32,
    certificate: u32,
}

/// A vendor's lot (a lot code at one vendor): where its receipts, sales and downstream receipts
/// start, and the code's text when it is short (40 bytes: a hop of a trace reads one row, not the
/// string arena).
#[derive(Debug, Clone, Copy)]
struct Holding {
    vendor: u32,
    lot: u32,
    receipts: u32,
    sales: u32,
    down: u32,
    text: Inline,
}

/// A lot code of up to 16 bytes kept in its row; an empty one means the code is read from the
/// arena (longer codes, and an empty code, which the arena gives back as it is).
type Inline = arrayvec::ArrayString<16>;

fn inline(code: &str) -> Inline {
    Inline::from(code).unwrap_or_default()
}

const _: () = assert!(size_of::<Holding>() == 40, "a holding is one row of 40 bytes");

/// A receipt that came from a holding (its buyer named the lot as the supplier's lot): the
/// receipt's id and row, and the buyer's holding (`NONE` when the receipt names no lot).
#[derive(Debug, Clone, Copy)]
struct Down {
    id: u32,
    row: u32,
    holding: u32,
}

impl std::ops::Deref for Receipt {
    type Target = Record;
    fn deref(&self) -> &Record {
        &self.record
    }
}

/// What the index holds and how big it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSize {
    pub receipts: usize,
    pub sales: usize,
    /// Lot codes, names and quarantine numbers (interned).
    pub strings: usize,
    /// The bytes of its arrays, tables and strings (an estimate of the memory it holds).
    pub bytes: usize,
}

impl TraceIndex {
    /// Reads every receipt, sale, party and certificate of `store`. Fails if the database changed
    /// while it was read (build again), or if an id or time does not fit the compact rows.
    pub fn build(store: &dyn Store) -> Result<TraceIndex> {
        let version = store.movements_version()?;
        let mut ix = TraceIndex {
            version,
            strings: Strings::default(),
            tags: Tags::default(),
            ext_formats: Vec::new(),
            ext_format_ids: HashMap::default(),
            ext_side: Vec::new(),
            quantities: Vec::new(),
            receipts: Vec::new(),
            sales: Vec::new(),
            holdings: Vec::new(),
            holdings_of: Vec::new(),
            lots: HashTable::new(),
            lot_hash: hashbrown::DefaultHashBuilder::default(),
            down: Vec::new(),
            unlotted: Directory::default(),
            by_variety: Vec::new(),
            by_variety_of: Directory::default(),
            from_unlotted: Vec::new(),
            from_unlotted_of: Directory::default(),
            receipt_names: HashMap::default(),
            sale_names: HashMap::default(),
            quarantine: HashMap::default(),
            parties: Parties::default(),
            certificates: Slots::default(),
            vendor_tag: 0,
            tables: Vec::new(),
            kinds: Vec::new(),
            kind_tags: Vec::new(),
        };
        ix.vendor_tag = ix.tags.intern("vendor")?;
        ix.receipts.reserve(usize::try_from(store.count(Kind::Inbound)?).unwrap_or(0));
        store.scan_movements(Kind::Inbound, &mut |m| {
            let record = ix.record(m)?;
            let mut r = Receipt {
                record,
                supplier_lot: ix.strings.intern_opt(m.supplier_lot)?,
                certificate: optional(m.certificate_id, "certificate id")?,
            };
            if let Some(name) = m.party_name {
                ix.receipt_names.insert(r.id, ix.strings.intern(name)?);
                r.record.kind |= NAMED;
            }
            if let Some(q) = m.quarantine_no {
                ix.quarantine.insert(r.id, ix.strings.intern(q)?);
                r.record.kind |= QUARANTINED;
            }
            ix.receipts.push(r);
            Ok(())
        })?;
        ix.sales.reserve(usize::try_from(store.count(Kind::Outbound)?).unwrap_or(0));
        store.scan_movements(Kind::Outbound, &mut |m: &MovementRef<'_>| {
            let mut s = ix.record(m)?;
            if let Some(name) = m.party_name {
                ix.sale_names.insert(s.id, ix.strings.intern(name)?);
                s.kind |= NAMED;
            }
            ix.sales.push(s);
            Ok(())
        })?;
        ix.tables = ix.tags.list.iter().map(|tag| party_table(tag)).collect();
        for kind in [Kind::Vendor, Kind::Producer, Kind::Buyer] {
            store.scan_parties(kind, &mut |id, p| {
                ix.parties.insert(kind, id, Arc::new(PartyRef::of(kind, id, p)));
                Ok(())
            })?;
        }
        // Regions and kinds numbered in the order of their text: a forward trace's totals group
        // (and sort) them by the number.
        let regions = numbers(ix.parties.values().filter_map(|p| p.region.as_ref()));
        // The kinds of the parties and of the records (consumers and others have no party).
        let tags: Vec<CompactString> = (0..ix.kind_tags.len())
            .filter(|&t| ix.kind_tags[t])
            .map(|t| CompactString::new(ix.tags.get(t as u16)))
            .collect();
        let kinds = numbers(ix.parties.values().map(|p| &p.kind).chain(&tags));
        for party in ix.parties.values_mut() {
            // Not shared yet: changed in place.
            let party = Arc::make_mut(party);
            party.region_no = party.region.as_ref().and_then(|r| regions.get(r)).copied();
            party.kind_no = kinds.get(&party.kind).copied();
        }
        ix.kinds = kinds.into_iter().collect();
        ix.kind_tags = Vec::new();
        store.scan_certificates(&mut |id, c| {
            ix.certificates.insert(id, Arc::new(c));
            Ok(())
        })?;
        ix.arrange();
        // Lot codes are found through `lots` from now on: the interning table is not needed.
        ix.strings.table = HashTable::new();
        if store.movements_version()? != version {
            return Err(StoreError::Invalid("the order records changed while the trace index was built".into()));
        }
        Ok(ix)
    }

    /// The compact form of what a receipt and a sale share.
    fn record(&mut self, m: &MovementRef<'_>) -> Result<Record> {
        Ok(Record {
            ext: self.ext(m.source, m.ext_id)?,
            id: small(m.id, "record id")?,
            vendor: small(m.vendor_id, "vendor id")?,
            variety: small(m.variety_id, "variety id")?,
            lot: self.strings.intern_opt(m.lot_code)?,
            at: time(m.at)?,
            party: optional(m.party_id, "supplier or buyer id")?,
            qty: self.quantity(m.quantity),
            unit: self.tags.intern(m.unit)?,
            kind: self.kind_tag(m.party_kind)?,
        })
    }

    /// The tag of a record's party kind, remembered as one.
    fn kind_tag(&mut self, kind: &str) -> Result<u16> {
        let tag = self.tags.intern(kind)?;
        if self.kind_tags.len() <= usize::from(tag) {
            self.kind_tags.resize(usize::from(tag) + 1, false);
        }
        self.kind_tags[usize::from(tag)] = true;
        Ok(tag)
    }

    /// Sorts the rows and builds the offsets, permutations and directories.
    fn arrange(&mut self) {
        self.receipts.sort_unstable_by_key(|r| (r.lot, r.vendor, r.at, r.id));
        self.sales.sort_unstable_by_key(|s| {
            let (vendor, variety) = if s.lot == 0 { (s.vendor, s.variety) } else { (s.vendor, 0) };
            (s.lot, vendor, variety, s.at, s.id)
        });
        let unlotted = &self.sales[..self.sales.partition_point(|s| s.lot == 0)];
        self.unlotted = Directory::new(unlotted.iter().map(|s| s.vendor));
        let rs = &self.receipts;
        let all = 0..u32::try_from(rs.len()).unwrap_or(u32::MAX);
        self.by_variety = all.clone().collect();
        self.by_variety.sort_unstable_by_key(|&i| {
            let r = &rs[i as usize];
            (r.vendor, r.variety, r.at, r.id)
        });
        self.by_variety_of = Directory::new(self.by_variety.iter().map(|&i| rs[i as usize].vendor));
        let from_vendor = |r: &Receipt| r.kind & TAG == self.vendor_tag && r.party != NONE;
        let mut from_lot: Vec<u32> =
            all.clone().filter(|&i| from_vendor(&rs[i as usize]) && rs[i as usize].supplier_lot != 0).collect();
        from_lot.sort_unstable_by_key(|&i| {
            let r = &rs[i as usize];
            (r.supplier_lot, r.party, r.at, r.id)
        });
        self.from_unlotted =
            all.filter(|&i| from_vendor(&rs[i as usize]) && rs[i as usize].supplier_lot == 0).collect();
        self.from_unlotted.sort_unstable_by_key(|&i| {
            let r = &rs[i as usize];
            (r.party, r.variety, r.at, r.id)
        });
        self.from_unlotted_of = Directory::new(self.from_unlotted.iter().map(|&i| rs[i as usize].party));
        self.hold(&from_lot);
        // Every (supplier lot, supplier) a receipt from a vendor names is a holding now.
        let mut receipts = std::mem::take(&mut self.receipts);
        for r in receipts.iter_mut().filter(|r| self.names_holding(r)) {
            r.supplier_lot = match r.supplier_lot {
                0 => NONE,
                code => self.holding_at(code, r.party).unwrap_or(NONE),
            };
        }
        self.receipts = receipts;
        self.receipts.shrink_to_fit();
        self.sales.shrink_to_fit();
    }

    /// Builds the holdings (every (lot code, vendor) named by a receipt, a sale or a receipt's
    /// supplier lot), their offsets per lot code and the downstream receipts of each (`from_lot`:
    /// the receipts from a vendor's lot, by supplier lot, supplier, time and id).
    fn hold(&mut self, from_lot: &[u32]) {
        let (rs, ss) = (&self.receipts, &self.sales);
        let supplier = |&i: &u32| (rs[i as usize].supplier_lot, rs[i as usize].party);
        let mut keys: Vec<(u32, u32)> = Vec::new();
        let mut add = |key: (u32, u32)| {
            if key.0 != 0 && keys.last() != Some(&key) {
                keys.push(key);
            }
        };
        rs.iter().for_each(|r| add((r.lot, r.vendor)));
        ss.iter().for_each(|s| add((s.lot, s.vendor)));
        from_lot.iter().for_each(|i| add(supplier(i)));
        keys.sort_unstable();
        keys.dedup();
        let (mut r, mut s, mut d) = (rs.partition_point(|r| r.lot == 0), ss.partition_point(|s| s.lot == 0), 0);
        let mut holdings = Vec::with_capacity(keys.len() + 1);
        for &(lot, vendor) in &keys {
            let start = (r, s, d);
            while rs.get(r).is_some_and(|x| (x.lot, x.vendor) == (lot, vendor)) {
                r += 1;
            }
            while ss.get(s).is_some_and(|x| (x.lot, x.vendor) == (lot, vendor)) {
                s += 1;
            }
            while from_lot.get(d).is_some_and(|i| supplier(i) == (lot, vendor)) {
                d += 1;
            }
            let text = inline(self.strings.get(lot));
            holdings.push(Holding {
                vendor,
                lot,
                receipts: start.0 as u32,
                sales: start.1 as u32,
                down: start.2 as u32,
                text,
            });
        }
        let end =
            Holding { vendor: NONE, lot: 0, receipts: r as u32, sales: s as u32, down: d as u32, text: Inline::new() };
        holdings.push(end);
        self.holdings_of = offsets(keys.iter().map(|k| k.0), self.strings.len());
        self.holdings = holdings;
        let down = from_lot.iter().map(|&row| {
            let r = &self.receipts[row as usize];
            Down {
                id: r.id,
                row,
                holding: if r.lot == 0 { NONE } else { self.holding_at(r.lot, r.vendor).unwrap_or(NONE) },
            }
        });
        self.down = down.collect();
        let firsts = (0..keys.len()).filter(|&h| h == 0 || keys[h - 1].0 != keys[h].0);
        // At most one code per holding.
        let mut lots = HashTable::with_capacity(keys.len());
        let hash = |h: u32| self.lot_hash.hash_one(self.lot_text(h));
        for h in firsts.map(|h| h as u32) {
            lots.insert_unique(hash(h), h, |&h| hash(h));
        }
        self.lots = lots;
    }

    /// The first holding of a lot code.
    fn first_holding(&self, code: &str) -> Option<u32> {
        self.lots.find(self.lot_hash.hash_one(code), |&h| self.lot_text(h) == code).copied()
    }

    /// The holdings of the lot code whose first holding is `first` (the sentinel row, with no
    /// lot, ends the last code's).
    fn holdings_from(&self, first: u32) -> std::ops::Range<u32> {
        let lot = self.holdings[first as usize].lot;
        let n = self.holdings[first as usize..].iter().take_while(|h| h.lot == lot).count();
        first..first + n as u32
    }

    /// The holding of lot code `code` at `vendor`.
    fn holding_at(&self, code: u32, vendor: u32) -> Option<u32> {
        let (&a, &b) = (self.holdings_of.get(code as usize)?, self.holdings_of.get(code as usize + 1)?);
        let i = self.holdings[a as usize..b as usize].binary_search_by_key(&vendor, |h| h.vendor).ok()?;
        Some(a + i as u32)
    }

    /// A holding's receipts, sales and downstream receipts.
    fn receipts_in(&self, h: u32) -> &[Receipt] {
        let (a, b) = (&self.holdings[h as usize], &self.holdings[h as usize + 1]);
        &self.receipts[a.receipts as usize..b.receipts as usize]
    }

    fn sales_in(&self, h: u32) -> &[Sale] {
        let (a, b) = (&self.holdings[h as usize], &self.holdings[h as usize + 1]);
        &self.sales[a.sales as usize..b.sales as usize]
    }

    fn down_in(&self, h: u32) -> &[Down] {
        let (a, b) = (&self.holdings[h as usize], &self.holdings[h as usize + 1]);
        &self.down[a.down as usize..b.down as usize]
    }

    /// Asks for the rows a trace reads when it reaches holding `h` (its first receipt, sale and
    /// downstream receipt), before it gets there: the reads of several lots then wait for memory
    /// together, not one after another. Only the values are read, into nothing.
    fn warm(&self, h: u32) {
        let row = &self.holdings[h as usize];
        let receipt = self.receipts.get(row.receipts as usize).map_or(0, |r| r.at);
        let sale = self.sales.get(row.sales as usize).map_or(0, |s| s.at);
        let down = self.down.get(row.down as usize).map_or(0, |d| d.id);
        std::hint::black_box(receipt ^ sale ^ down);
    }

    /// Reads a party the trace shows next, as [`TraceIndex::warm`] reads rows.
    fn warm_party(&self, party: Option<&Arc<PartyRef>>) {
        if let Some(p) = party {
            // What a trace reads of the party (the shared count, the numbers, the id, whether a
            // school canteen) is in its first cache line.
            std::hint::black_box(p.kind_no);
        }
    }

    /// The party record `r` names (a vendor, producer or buyer the index holds).
    fn party_of(&self, r: &Record) -> Option<&Arc<PartyRef>> {
        let table = self.tables.get(usize::from(r.kind & TAG)).copied().flatten()?;
        (r.party != NONE).then(|| self.parties.get(table, i64::from(r.party))).flatten()
    }

    /// Reads what a trace shows of record `r` beside its row (its party, its party name in
    /// `names`, its quarantine number), as [`TraceIndex::warm`] reads rows.
    fn warm_record(&self, r: &Record, names: &HashMap<u32, u32>) {
        self.warm_party(self.party_of(r));
        if r.kind & NAMED != 0 {
            std::hint::black_box(names.get(&r.id));
        }
        if r.kind & QUARANTINED != 0 {
            std::hint::black_box(self.quarantine.get(&r.id));
        }
    }

    /// A holding's lot code.
    fn lot_text(&self, h: u32) -> &str {
        let h = &self.holdings[h as usize];
        if h.text.is_empty() { self.strings.get(h.lot) } else { &h.text }
    }

    /// A reader over this index and `store`, if the store still stands where the index was built;
    /// `None` if anything traced changed since (trace through the database, and rebuild).
    pub fn on<'a>(&'a self, store: &'a dyn Store) -> Result<Option<Indexed<'a>>> {
        Ok((store.movements_version()? == self.version).then(|| Indexed {
            index: self,
            store,
            last: RefCell::new((NONE, CompactString::default(), None)),
        }))
    }

    /// What the index holds.
    pub fn size(&self) -> IndexSize {
        let map = |n: usize, entry: usize| n * (entry + 1) * 8 / 7;
        let bytes = self.receipts.capacity() * size_of::<Receipt>()
            + self.sales.capacity() * size_of::<Sale>()
            + (self.by_variety.capacity() + self.from_unlotted.capacity() + self.holdings_of.capacity()) * 4
            + self.holdings.capacity() * size_of::<Holding>()
            + self.lots.capacity() * 5
            + self.down.capacity() * size_of::<Down>()
            + (self.unlotted.bytes() + self.by_variety_of.bytes() + self.from_unlotted_of.bytes())
            + self.strings.bytes()
            + self.quantities.capacity() * 8
            + map(self.receipt_names.len() + self.sale_names.len() + self.quarantine.len(), 8)
            + self.parties.bytes()
            + self.certificates.bytes(16 + size_of::<Certificate>() + 32);
        IndexSize { receipts: self.receipts.len(), sales: self.sales.len(), strings: self.strings.len(), bytes }
    }

    /// An external id packed as (format, number), or kept whole in the side table (also when its
    /// text would not fit an [`ExtBuf`]).
    fn ext(&mut self, source: &str, ext_id: &str) -> Result<u64> {
        let source = self.tags.intern(source)?;
        let digits = ext_id.bytes().rev().take_while(u8::is_ascii_digit).count();
        let (prefix, number) = ext_id.split_at(ext_id.len() - digits);
        if (1..=ZEROS.len()).contains(&digits)
            && ext_id.len() <= EXT_LEN
            && let Ok(n) = number.parse::<u64>()
        {
            // Prefixes are few in practice; past the tag table's size, ids are kept whole.
            let Ok(prefix) = self.tags.intern(prefix) else { return self.ext_whole(source, ext_id) };
            let key = (source, prefix, digits as u8);
            let next = self.ext_formats.len();
            let format = match self.ext_format_ids.get(&key) {
                Some(&f) => f,
                None if (next as u64) < EXT_SIDE => {
                    self.ext_formats.push(key);
                    self.ext_format_ids.insert(key, next as u16);
                    next as u16
                }
                None => return self.ext_whole(source, ext_id),
            };
            return Ok(u64::from(format) << 48 | n);
        }
        self.ext_whole(source, ext_id)
    }

    fn ext_whole(&mut self, source: u16, ext_id: &str) -> Result<u64> {
        self.ext_side.push((source, ext_id.into()));
        Ok(EXT_SIDE << 48 | (self.ext_side.len() as u64 - 1))
    }

    /// The source and external id of `ext`: a packed id written into `buf`, one from the side
    /// table lent as it is kept.
    fn ext_of<'x>(&'x self, ext: u64, buf: &'x mut ExtBuf) -> (&'x str, &'x str) {
        let (format, n) = (ext >> 48, ext & ((1 << 48) - 1));
        if format == EXT_SIDE {
            let (source, whole) = &self.ext_side[n as usize];
            return (self.tags.get(*source), whole);
        }
        let (source, prefix, width) = self.ext_formats[format as usize];
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n);
        let pad = usize::from(width).saturating_sub(digits.len());
        buf.clear();
        // `ext` packed only ids that fit, with at most `ZEROS.len()` digits.
        for part in [self.tags.get(prefix), &ZEROS[..pad], digits] {
            buf.push_str(part);
        }
        (self.tags.get(source), buf.as_str())
    }

    /// A quantity as thousandths when that is exact, else a side-table slot.
    fn quantity(&mut self, q: f64) -> u32 {
        let m = (q * 1000.0).round();
        if q >= 0.0 && m < f64::from(SIDE) && m / 1000.0 == q {
            return m as u32;
        }
        self.quantities.push(q);
        SIDE | (self.quantities.len() as u32 - 1)
    }

    fn quantity_of(&self, q: u32) -> f64 {
        if q & SIDE != 0 { self.quantities[(q & !SIDE) as usize] } else { f64::from(q) / 1000.0 }
    }

    fn code(&self, id: u32) -> Option<&str> {
        (id != 0).then(|| self.strings.get(id))
    }

    /// A record lent as a borrowed movement, its external id written into `buf`; `names` holds
    /// the party names of its kind of record, `lot` is its lot code (the caller of a lot's records
    /// knows it without a lookup).
    fn lend<'x>(
        &'x self,
        r: &Record,
        names: &HashMap<u32, u32>,
        buf: &'x mut ExtBuf,
        lot: Option<&'x str>,
    ) -> MovementRef<'x> {
        let (source, ext_id) = self.ext_of(r.ext, buf);
        MovementRef {
            id: i64::from(r.id),
            source,
            ext_id,
            vendor_id: i64::from(r.vendor),
            variety_id: i64::from(r.variety),
            lot_code: lot,
            quantity: self.quantity_of(r.qty),
            unit: self.tags.get(r.unit),
            at: i64::from(r.at),
            party_kind: self.tags.get(r.kind & TAG),
            party_id: (r.party != NONE).then_some(i64::from(r.party)),
            party_name: (r.kind & NAMED != 0).then(|| names.get(&r.id).map(|&s| self.strings.get(s))).flatten(),
            supplier_lot: None,
            certificate_id: None,
            quarantine_no: None,
        }
    }

    /// A receipt lent as [`TraceIndex::lend`] does, with its supplier's lot code `supplier_lot`.
    fn lend_receipt<'x>(
        &'x self,
        r: &Receipt,
        buf: &'x mut ExtBuf,
        lot: Option<&'x str>,
        supplier_lot: Option<&'x str>,
    ) -> MovementRef<'x> {
        MovementRef {
            supplier_lot,
            certificate_id: (r.certificate != NONE).then_some(i64::from(r.certificate)),
            quarantine_no: (r.kind & QUARANTINED != 0)
                .then(|| self.quarantine.get(&r.id).map(|&s| self.strings.get(s)))
                .flatten(),
            ..self.lend(r, &self.receipt_names, buf, lot)
        }
    }

    fn lend_sale<'x>(&'x self, s: &Sale, buf: &'x mut ExtBuf, lot: Option<&'x str>) -> MovementRef<'x> {
        self.lend(s, &self.sale_names, buf, lot)
    }

    fn receipt(&self, r: &Receipt) -> Movement {
        self.lend_receipt(r, &mut ExtBuf::new(), self.code(r.lot), self.supplier_code(r)).to_movement()
    }

    /// Whether receipt `r` came from a vendor with an id (its supplier's lot is kept as the
    /// holding at that vendor).
    fn names_holding(&self, r: &Receipt) -> bool {
        r.kind & TAG == self.vendor_tag && r.party != NONE
    }

    /// The holding of the supplier's lot a receipt names, if it came from a vendor.
    fn supplier_holding(&self, r: &Receipt) -> Option<u32> {
        (self.names_holding(r) && r.supplier_lot != NONE).then_some(r.supplier_lot)
    }

    /// The supplier's lot code a receipt names.
    fn supplier_code(&self, r: &Receipt) -> Option<&str> {
        match self.supplier_holding(r) {
            Some(h) => Some(self.lot_text(h)),
            None if self.names_holding(r) => None,
            None => self.code(r.supplier_lot),
        }
    }

    fn sale(&self, s: &Sale) -> Movement {
        self.lend_sale(s, &mut ExtBuf::new(), self.code(s.lot)).to_movement()
    }

    /// A vendor's sales of a variety in `[from, to]` naming no lot.
    fn unlotted_between(&self, vendor: i64, variety: i64, from: i64, to: i64) -> &[Sale] {
        let (Some(v), Some(var), Some((f, t))) = (id32(vendor), id32(variety), window(from, to)) else { return &[] };
        let mine = &self.sales[self.unlotted.range(v)];
        let a = mine.partition_point(|s| (s.variety, s.at) < (var, f));
        let b = mine.partition_point(|s| (s.variety, s.at) <= (var, t));
        &mine[a..b.max(a)]
    }

    /// The receipts at positions `picks` whose key lies in `[lo, hi]`.
    fn picked<K: Ord>(&self, picks: &[u32], key: impl Fn(&Receipt) -> K, lo: K, hi: K) -> Vec<Movement> {
        let k = |&i: &u32| key(&self.receipts[i as usize]);
        let (a, b) = (picks.partition_point(|i| k(i) < lo), picks.partition_point(|i| k(i) <= hi));
        picks[a..b.max(a)].iter().map(|&i| self.receipt(&self.receipts[i as usize])).collect()
    }
}

/// Values by id: in a slot per id (one memory access per node of a trace) while ids are dense,
/// the rest in a map.
struct Slots<T> {
    dense: Vec<Option<T>>,
    sparse: HashMap<i64, T>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { dense: Vec::new(), sparse: HashMap::default(), len: 0 }
    }
}

impl<T> Slots<T> {
    /// Ids below twice the number of values plus this many are kept in slots (so the slots never
    /// outgrow the values by more than that, whatever the ids).
    const SLACK: usize = 1 << 16;

    fn insert(&mut self, id: i64, value: T) {
        self.len += 1;
        match usize::try_from(id) {
            Ok(i) if i < self.len * 2 + Self::SLACK => {
                if self.dense.len() <= i {
                    self.dense.resize_with(i + 1, || None);
                }
                self.dense[i] = Some(value);
            }
            _ => {
                self.sparse.insert(id, value);
            }
        }
    }

    fn values(&self) -> impl Iterator<Item = &T> {
        self.dense.iter().flatten().chain(self.sparse.values())
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.dense.iter_mut().flatten().chain(self.sparse.values_mut())
    }

    fn get(&self, id: i64) -> Option<&T> {
        match usize::try_from(id).ok().and_then(|i| self.dense.get(i)) {
            Some(Some(v)) => Some(v),
            _ => self.sparse.get(&id),
        }
    }

    /// The bytes of the slots and the map, and `each` per value held elsewhere.
    fn bytes(&self, each: usize) -> usize {
        self.dense.capacity() * size_of::<Option<T>>()
            + self.sparse.len() * (8 + size_of::<T>()) * 8 / 7
            + self.len * each
    }
}

/// Vendors, producers and buyers by id.
#[derive(Default)]
struct Parties([Slots<Arc<PartyRef>>; 3]);

impl Parties {
    /// Where a table's parties are.
    fn table(kind: Kind) -> Option<usize> {
        match kind {
            Kind::Vendor => Some(0),
            Kind::Producer => Some(1),
            Kind::Buyer => Some(2),
            _ => None,
        }
    }

    /// Keeps a party of one of the three tables (others have no parties).
    fn insert(&mut self, kind: Kind, id: i64, party: Arc<PartyRef>) {
        if let Some(t) = Self::table(kind) {
            self.0[t].insert(id, party);
        }
    }

    fn get(&self, kind: Kind, id: i64) -> Option<&Arc<PartyRef>> {
        self.0[Self::table(kind)?].get(id)
    }

    fn values(&self) -> impl Iterator<Item = &Arc<PartyRef>> {
        self.0.iter().flat_map(Slots::values)
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Arc<PartyRef>> {
        self.0.iter_mut().flat_map(Slots::values_mut)
    }

    fn bytes(&self) -> usize {
        self.0.iter().map(|s| s.bytes(16 + size_of::<PartyRef>() + 48)).sum()
    }
}

/// Where the rows of each key (a vendor) start in a list sorted by that key; small enough to stay
/// in the processor's cache while a trace searches it.
#[derive(Default)]
struct Directory {
    keys: Vec<u32>,
    starts: Vec<u32>,
}

impl Directory {
    fn new(sorted_keys: impl Iterator<Item = u32>) -> Directory {
        let mut d = Directory::default();
        let mut n = 0u32;
        for k in sorted_keys {
            if d.keys.last() != Some(&k) {
                d.keys.push(k);
                d.starts.push(n);
            }
            n += 1;
        }
        d.starts.push(n);
        d
    }

    /// The positions holding `key`.
    fn range(&self, key: u32) -> std::ops::Range<usize> {
        match self.keys.binary_search(&key) {
            Ok(i) => self.starts[i] as usize..self.starts[i + 1] as usize,
            Err(_) => 0..0,
        }
    }

    fn bytes(&self) -> usize {
        (self.keys.capacity() + self.starts.capacity()) * 4
    }
}

/// Offsets of rows sorted by a key in `0..=max`: rows of key `k` are `offsets[k]..offsets[k + 1]`.
fn offsets(sorted_keys: impl Iterator<Item = u32>, max: usize) -> Vec<u32> {
    let mut offsets = vec![0u32; max + 2];
    for k in sorted_keys {
        offsets[k as usize + 1] += 1;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    offsets
}

/// Reads of a trace answered by a fresh [`TraceIndex`] (order records, parties, certificates) and,
/// for the rest (finding a start), by the database it was built from. The [`Place`] of a lot it
/// hands out is the lot's holding row: a trace going on to that lot gives it back, and the lot is
/// read without being looked up again by its code.
pub struct Indexed<'a> {
    index: &'a TraceIndex,
    store: &'a dyn Store,
    /// The last (vendor, lot code) asked for and its holding: a trace asks for a lot's sales,
    /// receipts and downstream receipts in turn.
    last: RefCell<(u32, CompactString, Option<u32>)>,
}

impl<'a> Indexed<'a> {
    /// The holding of a lot code at a vendor (none if either is unknown): `at` if it is that lot's
    /// (this reader handed it out), else found by the code.
    fn holding(&self, vendor: i64, lot_code: &str, at: Place) -> Option<u32> {
        let v = id32(vendor)?;
        let ix = self.index;
        let mut last = self.last.borrow_mut();
        if last.0 != v || last.1 != lot_code {
            last.0 = v;
            last.1.clear();
            last.1.push_str(lot_code);
            // A place is only taken for the lot it is: the vendor's and the code's (both in the
            // row the trace reads next).
            let here = |h: &u32| {
                ix.holdings.get(*h as usize).is_some_and(|row| row.vendor == v) && ix.lot_text(*h) == lot_code
            };
            last.2 = match at.filter(here) {
                Some(h) => Some(h),
                None => ix.first_holding(lot_code).and_then(|a| ix.holding_at(ix.holdings[a as usize].lot, v)),
            };
        }
        last.2
    }

    /// A vendor's receipts of a lot code (empty if either is unknown).
    fn lot_receipts(&self, vendor: i64, lot_code: &str, at: Place) -> &'a [Receipt] {
        self.holding(vendor, lot_code, at).map_or(&[], |h| self.index.receipts_in(h))
    }

    /// A vendor's sales naming a lot code (empty if either is unknown).
    fn lot_sales(&self, vendor: i64, lot_code: &str, at: Place) -> &'a [Sale] {
        self.holding(vendor, lot_code, at).map_or(&[], |h| self.index.sales_in(h))
    }

    /// The receipts that came from a vendor's lot.
    fn lot_down(&self, supplier: i64, supplier_lot: &str) -> &'a [Down] {
        self.holding(supplier, supplier_lot, None).map_or(&[], |h| self.index.down_in(h))
    }
}

/// Ids and times as the compact rows hold them; `None` when they cannot be in the index.
fn id32(id: i64) -> Option<u32> {
    u32::try_from(id).ok().filter(|&i| i != NONE)
}

/// A time window `[from, to]` in the rows' seconds, clamped; `None` if empty.
fn window(from: i64, to: i64) -> Option<(u32, u32)> {
    let clamp = |t: i64| t.clamp(0, i64::from(u32::MAX)) as u32;
    (from <= to && to >= 0 && from <= i64::from(u32::MAX)).then(|| (clamp(from), clamp(to)))
}

impl TraceData for Indexed<'_> {
    fn store(&self) -> &dyn Store {
        self.store
    }

    fn lot_holders(&self, lot_code: &str) -> Result<Vec<i64>> {
        Ok(self.lot_places(lot_code)?.into_iter().map(|(v, _)| v).collect())
    }

    fn lot_places(&self, lot_code: &str) -> Result<Vec<(i64, Place)>> {
        let ix = self.index;
        let Some(first) = ix.first_holding(lot_code) else { return Ok(Vec::new()) };
        // Holdings in ascending vendor order; those only named as a supplier's lot hold nothing.
        // The trace reads the lot at each holder next: its rows are asked for now.
        let holdings = ix.holdings_from(first);
        let mut places = Vec::with_capacity(holdings.len());
        for h in holdings.filter(|&h| !ix.receipts_in(h).is_empty() || !ix.sales_in(h).is_empty()) {
            let vendor = ix.holdings[h as usize].vendor;
            ix.warm(h);
            ix.warm_party(ix.parties.get(Kind::Vendor, i64::from(vendor)));
            places.push((i64::from(vendor), Some(h)));
        }
        Ok(places)
    }

    fn receipts_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        Ok(self.lot_receipts(vendor, lot_code, None).iter().map(|r| self.index.receipt(r)).collect())
    }

    fn sales_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        Ok(self.lot_sales(vendor, lot_code, None).iter().map(|s| self.index.sale(s)).collect())
    }

    fn receipts_between(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        let ix = self.index;
        let (Some(v), Some(var), Some((f, t))) = (id32(vendor), id32(variety), window(from, to)) else {
            return Ok(Vec::new());
        };
        let picks = &ix.by_variety[ix.by_variety_of.range(v)];
        Ok(ix.picked(picks, |r| (r.variety, r.at), (var, f), (var, t)))
    }

    fn unlotted_sales(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        Ok(self.index.unlotted_between(vendor, variety, from, to).iter().map(|s| self.index.sale(s)).collect())
    }

    fn receipts_from_lot(&self, supplier: i64, supplier_lot: &str) -> Result<Vec<Movement>> {
        let ix = self.index;
        Ok(self.lot_down(supplier, supplier_lot).iter().map(|d| ix.receipt(&ix.receipts[d.row as usize])).collect())
    }

    fn downstream_of_lot(&self, supplier: i64, supplier_lot: &str, at: Place, out: &mut Vec<Downstream>) -> Result<()> {
        let ix = self.index;
        let Some(h) = self.holding(supplier, supplier_lot, at) else { return Ok(()) };
        // The lot's sales are read next: their first row is asked for now, beside the downstream
        // receipts' rows.
        ix.warm(h);
        let down = ix.down_in(h);
        // The trace goes on to the buyers' lots: their holdings' rows are asked for in one tight
        // loop, then each holding's first rows and vendor, so that the memory fetches of every
        // buyer lot overlap.
        for d in down {
            std::hint::black_box(ix.holdings.get(d.holding as usize).map(|b| b.vendor));
        }
        for d in down.iter().filter(|d| d.holding != NONE) {
            ix.warm(d.holding);
            ix.warm_party(ix.parties.get(Kind::Vendor, i64::from(ix.holdings[d.holding as usize].vendor)));
        }
        // The buyer's vendor and lot from its holding's row (which the trace reads next anyway),
        // with the holding as the lot's place; a receipt naming no lot from its own row.
        let downstream = |d: &Down| match ix.holdings.get(d.holding as usize) {
            Some(b) => Downstream {
                id: i64::from(d.id),
                vendor_id: i64::from(b.vendor),
                lot_code: Some(CompactString::new(ix.lot_text(d.holding))),
                at: Some(d.holding),
            },
            None => {
                let r = &ix.receipts[d.row as usize];
                Downstream { id: i64::from(d.id), vendor_id: i64::from(r.vendor), lot_code: None, at: None }
            }
        };
        out.extend(down.iter().map(downstream));
        Ok(())
    }

    fn unlotted_receipts_from(&self, supplier: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        let ix = self.index;
        let (Some(v), Some(var), Some((f, t))) = (id32(supplier), id32(variety), window(from, to)) else {
            return Ok(Vec::new());
        };
        let picks = &ix.from_unlotted[ix.from_unlotted_of.range(v)];
        Ok(ix.picked(picks, |r| (r.variety, r.at), (var, f), (var, t)))
    }

    fn party(&self, kind: Kind, id: i64) -> Result<Option<Arc<PartyRef>>> {
        Ok(self.index.parties.get(kind, id).cloned())
    }

    fn kind_no(&self, kind: &str) -> Option<NonZeroU32> {
        self.index.kinds.iter().find(|(k, _)| k == kind).map(|&(_, no)| no)
    }

    fn certificate(&self, id: i64) -> Result<Option<Arc<Certificate>>> {
        Ok(self.index.certificates.get(id).cloned())
    }

    fn each_receipt_of_lot(
        &self,
        vendor: i64,
        lot_code: &str,
        at: Place,
        f: &mut VisitReceipt<'_>,
    ) -> Result<(), TraceError> {
        let (ix, mut buf) = (self.index, ExtBuf::new());
        let receipts = self.lot_receipts(vendor, lot_code, at);
        // What the trace shows of each receipt next is asked for all at once, in two tight
        // loops: first what each receipt names (where the supplier lot's holdings are, the
        // certificate), then what those lead to (the holding and its rows, the producer).
        let certificate = |r: &Receipt| ix.certificates.get(i64::from(r.certificate)).filter(|_| r.certificate != NONE);
        for r in receipts {
            ix.warm_record(r, &ix.receipt_names);
            if let Some(h) = ix.supplier_holding(r) {
                std::hint::black_box(ix.holdings.get(h as usize).map(|h| h.receipts));
            } else if let Some(c) = certificate(r) {
                std::hint::black_box(c.producer_id);
            }
        }
        for r in receipts {
            if let Some(h) = ix.supplier_holding(r) {
                ix.warm(h);
            } else if let Some(c) = certificate(r) {
                ix.warm_party(ix.parties.get(Kind::Producer, c.producer_id));
                std::hint::black_box(c.cert_no.as_bytes().first().copied());
            }
        }
        receipts.iter().try_for_each(|r| {
            // A backward trace goes on to a vendor supplier's lot next: its holding is its place,
            // and its code is read from the holding's row.
            f(&ix.lend_receipt(r, &mut buf, Some(lot_code), ix.supplier_code(r)), ix.supplier_holding(r))
        })
    }

    fn receipt_nodes(&self, vendor: i64, lot_code: &str, at: Place) -> usize {
        self.lot_receipts(vendor, lot_code, at).len()
    }

    fn sale_nodes(&self, vendor: i64, lot_code: &str, at: Place) -> usize {
        let sales = self.lot_sales(vendor, lot_code, at);
        let known = sales.iter().filter(|s| s.party != NONE).count();
        known + usize::from(known < sales.len())
    }

    fn each_sale_of_lot(&self, vendor: i64, lot_code: &str, at: Place, f: &mut Visit<'_>) -> Result<(), TraceError> {
        let mut buf = ExtBuf::new();
        let (ix, sales) = (self.index, self.lot_sales(vendor, lot_code, at));
        // The buyers are shown next: their slots are read in one tight loop, then the parties.
        for s in sales {
            std::hint::black_box(ix.party_of(s).map(Arc::as_ptr));
        }
        for s in sales {
            ix.warm_record(s, &ix.sale_names);
        }
        sales.iter().try_for_each(|s| f(&ix.lend_sale(s, &mut buf, Some(lot_code))))
    }

    fn each_unlotted_sale(
        &self,
        vendor: i64,
        variety: i64,
        from: i64,
        to: i64,
        f: &mut Visit<'_>,
    ) -> Result<(), TraceError> {
        let mut buf = ExtBuf::new();
        let sales = self.index.unlotted_between(vendor, variety, from, to);
        // Sales naming no lot.
        sales.iter().try_for_each(|s| f(&self.index.lend_sale(s, &mut buf, None)))
    }
}

/// A number for each distinct text, from 1 in the order of the texts.
fn numbers<'t>(texts: impl Iterator<Item = &'t CompactString>) -> HashMap<CompactString, NonZeroU32> {
    let mut texts: Vec<&CompactString> = texts.collect();
    texts.sort_unstable();
    texts.dedup();
    (1..).zip(texts).filter_map(|(no, t)| Some((t.clone(), NonZeroU32::new(no)?))).collect()
}

fn small(id: i64, what: &str) -> Result<u32> {
    id32(id).ok_or_else(|| StoreError::Invalid(format!("trace index: {what} {id} does not fit 32 bits")))
}

fn optional(id: Option<i64>, what: &str) -> Result<u32> {
    id.map_or(Ok(NONE), |i| small(i, what))
}

fn time(at: i64) -> Result<u32> {
    u32::try_from(at).map_err(|_| StoreError::Invalid(format!("trace index: time {at} is outside 1970–2106")))
}

/// Interned strings in one arena; ids start at 1 (0 is "none").
#[derive(Default)]
struct Strings {
    arena: String,
    ends: Vec<u32>,
    table: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

fn slice<'a>(arena: &'a str, ends: &[u32], id: u32) -> &'a str {
    let i = id as usize - 1;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &arena[start..ends[i] as usize]
}

impl Strings {
    fn get(&self, id: u32) -> &str {
        slice(&self.arena, &self.ends, id)
    }

    fn intern(&mut self, s: &str) -> Result<u32> {
        let hash = self.hasher.hash_one(s);
        let (arena, ends) = (&self.arena, &self.ends);
        if let Some(&id) = self.table.find(hash, |&id| slice(arena, ends, id) == s) {
            return Ok(id);
        }
        if self.arena.len() + s.len() > u32::MAX as usize {
            return Err(StoreError::Invalid("trace index: more than 4 GiB of lot codes and names".into()));
        }
        self.arena.push_str(s);
        self.ends.push(self.arena.len() as u32);
        let id = self.ends.len() as u32;
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        self.table.insert_unique(hash, id, |&id| hasher.hash_one(slice(arena, ends, id)));
        Ok(id)
    }

    fn intern_opt(&mut self, s: Option<&str>) -> Result<u32> {
        s.map_or(Ok(0), |s| self.intern(s))
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn bytes(&self) -> usize {
        self.arena.capacity() + self.ends.capacity() * 4 + self.table.capacity() * 5
    }
}

/// A few distinct short strings (sources, units, party kinds, external id prefixes).
#[derive(Default)]
struct Tags {
    list: Vec<Box<str>>,
    ids: HashMap<Box<str>, u16>,
}

impl Tags {
    fn intern(&mut self, s: &str) -> Result<u16> {
        if let Some(&id) = self.ids.get(s) {
            return Ok(id);
        }
        let id = u16::try_from(self.list.len()).ok().filter(|&id| id <= TAG).ok_or_else(|| {
            StoreError::Invalid("trace index: more than 16,384 sources, units, party kinds and id prefixes".into())
        })?;
        self.list.push(s.into());
        self.ids.insert(s.into(), id);
        Ok(id)
    }

    fn get(&self, id: u16) -> &str {
        &self.list[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(name: &str) -> Arc<PartyRef> {
        Arc::new(PartyRef::named("vendor", Some(1), Some(name)))
    }

    #[test]
    fn parties_are_found_by_kind_and_id_in_slots_or_in_the_map() {
        let mut parties = Parties::default();
        parties.insert(Kind::Vendor, 7, party("seven"));
        parties.insert(Kind::Buyer, 7, party("buyer seven"));
        parties.insert(Kind::Vendor, 1 << 40, party("far"));
        parties.insert(Kind::Producer, -3, party("negative"));
        let name = |k, id| parties.get(k, id).and_then(|p| p.name.as_deref().map(String::from));
        assert_eq!(name(Kind::Vendor, 7).as_deref(), Some("seven"));
        assert_eq!(name(Kind::Buyer, 7).as_deref(), Some("buyer seven"));
        assert_eq!(name(Kind::Vendor, 1 << 40).as_deref(), Some("far"));
        assert_eq!(name(Kind::Producer, -3).as_deref(), Some("negative"));
        assert_eq!(name(Kind::Vendor, 8), None);
        assert_eq!(name(Kind::Producer, 7), None);
        // Few buyers with ever larger ids: the slots grow with the number of buyers, not the ids.
        for id in [60_000, 180_000, 420_000, 900_000, 1 << 39] {
            parties.insert(Kind::Buyer, id, party("far buyer"));
        }
        assert_eq!(parties.0[2].dense.len(), 60_001, "only the first fits the slots");
        assert!(parties.get(Kind::Buyer, 900_000).is_some() && parties.get(Kind::Buyer, 1 << 39).is_some());
        let (vendors, producers) = (&parties.0[0], &parties.0[1]);
        assert!(vendors.sparse.len() == 1 && vendors.dense.len() == 8, "a far id is in the map");
        assert!(producers.sparse.len() == 1 && producers.dense.is_empty(), "a negative id is in the map");
    }
}
