//! What a trace reads: the order records by lot, by vendor and variety, by supplier, and the
//! parties and certificates to show. [`Stored`] reads them from the database; the trace index
//! ([`super::index::Indexed`]) answers the order-record questions from memory and the rest from
//! the database.

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::sync::Arc;

use hashbrown::HashMap;
use shian_domain::{Kind, Value};
use shian_store::{Certificate, Movement, MovementRef, Result, Store, TestedLot};

use super::{CompactString, PartyRef, TraceError};

/// What a trace does with each record a visit reads: the record is borrowed for the call only.
pub type Visit<'v> = dyn FnMut(&MovementRef<'_>) -> std::result::Result<(), TraceError> + 'v;

/// What a backward trace does with each receipt of a lot: the receipt, and where the reader found
/// the supplier's lot it names (if it did).
pub type VisitReceipt<'v> = dyn FnMut(&MovementRef<'_>, Place) -> std::result::Result<(), TraceError> + 'v;

/// Where a reader found a vendor's lot (the trace index: the lot's row), handed back to it when
/// the trace reads that lot, so that it is not looked up again by its code; `None` from readers
/// that keep no such thing (the database) or when the lot is not known.
pub type Place = Option<u32>;

/// The reads of a trace. The order of every list is the store's: oldest first, then by id. Each
/// read is the database's unless a reader answers it otherwise (the index answers the order-record
/// reads, parties and certificates from memory).
pub trait TraceData {
    /// The database the reads fall back to.
    fn store(&self) -> &dyn Store;

    /// Vendors holding a lot code (a receipt or a sale names it), ascending ids.
    fn lot_holders(&self, lot_code: &str) -> Result<Vec<i64>> {
        self.store().lot_holders(lot_code)
    }
    /// [`TraceData::lot_holders`], each with where the reader found the lot at the vendor.
    fn lot_places(&self, lot_code: &str) -> Result<Vec<(i64, Place)>> {
        Ok(self.lot_holders(lot_code)?.into_iter().map(|v| (v, None)).collect())
    }
    /// A vendor's receipts of a lot.
    fn receipts_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        self.store().receipts_of_lot(vendor, lot_code)
    }
    /// A vendor's sales naming a lot.
    fn sales_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        self.store().sales_of_lot(vendor, lot_code)
    }
    /// A vendor's receipts of a variety in `[from, to]`.
    fn receipts_between(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.store().receipts_between(vendor, variety, from, to)
    }
    /// A vendor's sales of a variety in `[from, to]` naming no lot.
    fn unlotted_sales(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.store().unlotted_sales(vendor, variety, from, to)
    }
    /// Receipts that arrived from vendor `supplier` with its lot `supplier_lot`.
    fn receipts_from_lot(&self, supplier: i64, supplier_lot: &str) -> Result<Vec<Movement>> {
        self.store().receipts_from_lot(supplier, supplier_lot)
    }
    /// Receipts from vendor `supplier` of a variety in `[from, to]` naming no supplier lot.
    fn unlotted_receipts_from(&self, supplier: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.store().unlotted_receipts_from(supplier, variety, from, to)
    }
    /// Receipts carrying an origin certificate.
    fn receipts_with_certificate(&self, certificate: i64) -> Result<Vec<Movement>> {
        self.store().receipts_with_certificate(certificate)
    }
    /// Receipts in `[from, to]` from a producer or with one of its certificates.
    fn receipts_from_producer(&self, producer: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.store().receipts_from_producer(producer, from, to)
    }
    /// Sales in `[from, to]` to a downstream buyer.
    fn sales_to_buyer(&self, buyer: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.store().sales_to_buyer(buyer, from, to)
    }
    /// One receipt or sale by id.
    fn movement(&self, kind: Kind, id: i64) -> Result<Option<Movement>> {
        self.store().movement(kind, id)
    }
    /// A vendor, producer or buyer by id, as a trace shows it (its `kind`: `vendor`, `producer`,
    /// or the buyer's kind).
    fn party(&self, kind: Kind, id: i64) -> Result<Option<Arc<PartyRef>>>;
    /// The number this reader gives a party kind in [`PartyRef`]'s `kind_no`, if it numbers
    /// kinds and knows this one (parties of the same kind have the same number).
    fn kind_no(&self, _kind: &str) -> Option<NonZeroU32> {
        None
    }
    /// An origin certificate by id.
    fn certificate(&self, id: i64) -> Result<Option<Arc<Certificate>>> {
        Ok(self.store().certificate(id)?.map(Arc::new))
    }
    /// The lot of a rapid test or a sample.
    fn tested_lot(&self, kind: Kind, key: &str) -> Result<Option<TestedLot>> {
        self.store().tested_lot(kind, key)
    }
    /// Ids of records of `kind` by their single-column keys.
    fn resolve(&self, kind: Kind, keys: &[&str]) -> Result<Vec<(String, i64)>> {
        self.store().resolve(kind, keys)
    }
    /// Id of a record by its natural key.
    fn find(&self, kind: Kind, key: &[Value]) -> Result<Option<i64>> {
        self.store().find(kind, key)
    }

    /// [`TraceData::receipts_of_lot`], each lent to `f` in turn (the index copies no text); `at`
    /// is where this reader found the lot, if it said.
    fn each_receipt_of_lot(
        &self,
        vendor: i64,
        lot_code: &str,
        _at: Place,
        f: &mut VisitReceipt<'_>,
    ) -> std::result::Result<(), TraceError> {
        self.receipts_of_lot(vendor, lot_code)?.iter().try_for_each(|m| f(&m.borrowed(), None))
    }
    /// [`TraceData::receipts_from_lot`], only what pairs them with the sales, added to `out` (a
    /// trace hands the same lists back lot after lot).
    fn downstream_of_lot(
        &self,
        supplier: i64,
        supplier_lot: &str,
        _at: Place,
        out: &mut Vec<Downstream>,
    ) -> Result<()> {
        out.extend(self.receipts_from_lot(supplier, supplier_lot)?.iter().map(Downstream::of));
        Ok(())
    }
    /// Room for the nodes a lot's sales become: one per sale naming its buyer by id, and one for
    /// the sales to anonymous buyers (folded together, after the others); 0 when the reader cannot
    /// tell without reading them.
    fn sale_nodes(&self, _vendor: i64, _lot_code: &str, _at: Place) -> usize {
        0
    }
    /// Room for the nodes a lot's receipts become backward (one each, more where a receipt's
    /// candidate lots are inferred); 0 when the reader cannot tell without reading them.
    fn receipt_nodes(&self, _vendor: i64, _lot_code: &str, _at: Place) -> usize {
        0
    }
    /// [`TraceData::sales_of_lot`], each lent to `f` in turn.
    fn each_sale_of_lot(
        &self,
        vendor: i64,
        lot_code: &str,
        _at: Place,
        f: &mut Visit<'_>,
    ) -> std::result::Result<(), TraceError> {
        self.sales_of_lot(vendor, lot_code)?.iter().try_for_each(|m| f(&m.borrowed()))
    }
    /// [`TraceData::unlotted_sales`], each lent to `f` in turn.
    fn each_unlotted_sale(
        &self,
        vendor: i64,
        variety: i64,
        from: i64,
        to: i64,
        f: &mut Visit<'_>,
    ) -> std::result::Result<(), TraceError> {
        self.unlotted_sales(vendor, variety, from, to)?.iter().try_for_each(|m| f(&m.borrowed()))
    }
}

/// A receipt that arrived from a vendor's lot, as a forward trace pairs it with the sale: the
/// buyer vendor and the lot it started (the whole record is read by `id` if needed).
#[derive(Debug, Clone, PartialEq)]
pub struct Downstream {
    pub id: i64,
    pub vendor_id: i64,
    pub lot_code: Option<CompactString>,
    /// Where the reader found the buyer's lot.
    pub at: Place,
}

impl Downstream {
    pub fn of(m: &Movement) -> Downstream {
        Downstream {
            id: m.id,
            vendor_id: m.vendor_id,
            lot_code: m.lot_code.as_deref().map(CompactString::new),
            at: None,
        }
    }
}

/// Every read from the database (for one trace: parties read once are kept).
pub struct Stored<'a> {
    store: &'a dyn Store,
    parties: RefCell<Parties>,
}

/// Parties by table and id (`None`: not found).
type Parties = HashMap<(Kind, i64), Option<Arc<PartyRef>>>;

impl<'a> Stored<'a> {
    pub fn new(store: &'a dyn Store) -> Stored<'a> {
        Stored { store, parties: RefCell::default() }
    }
}

impl TraceData for Stored<'_> {
    fn store(&self) -> &dyn Store {
        self.store
    }

    fn party(&self, kind: Kind, id: i64) -> Result<Option<Arc<PartyRef>>> {
        if let Some(p) = self.parties.borrow().get(&(kind, id)) {
            return Ok(p.clone());
        }
        let p = self.store.party(kind, id)?.map(|p| Arc::new(PartyRef::of(kind, id, p)));
        self.parties.borrow_mut().insert((kind, id), p.clone());
        Ok(p)
    }
}
