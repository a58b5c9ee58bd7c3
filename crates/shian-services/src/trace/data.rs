//! What a trace reads: the order records by lot, by vendor and variety, by supplier, and the
//! parties and certificates to show. [`Stored`] reads them from the database; the trace index
//! ([`super::index::Indexed`]) answers the order-record questions from memory and the rest from
//! the database.

use shian_domain::{Kind, Value};
use shian_store::{Certificate, Movement, Party, Result, Store, TestedLot};

/// The reads of a trace. The order of every list is the store's: oldest first, then by id.
pub trait TraceData {
    /// Vendors holding a lot code (a receipt or a sale names it), ascending ids.
    fn lot_holders(&self, lot_code: &str) -> Result<Vec<i64>>;
    /// A vendor's receipts of a lot.
    fn receipts_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>>;
    /// A vendor's sales naming a lot.
    fn sales_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>>;
    /// A vendor's receipts of a variety in `[from, to]`.
    fn receipts_between(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>>;
    /// A vendor's sales of a variety in `[from, to]` naming no lot.
    fn unlotted_sales(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>>;
    /// Receipts that arrived from vendor `supplier` with its lot `supplier_lot`.
    fn receipts_from_lot(&self, supplier: i64, supplier_lot: &str) -> Result<Vec<Movement>>;
    /// Receipts from vendor `supplier` of a variety in `[from, to]` naming no supplier lot.
    fn unlotted_receipts_from(&self, supplier: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>>;
    /// Receipts carrying an origin certificate.
    fn receipts_with_certificate(&self, certificate: i64) -> Result<Vec<Movement>>;
    /// Receipts in `[from, to]` from a producer or with one of its certificates.
    fn receipts_from_producer(&self, producer: i64, from: i64, to: i64) -> Result<Vec<Movement>>;
    /// Sales in `[from, to]` to a downstream buyer.
    fn sales_to_buyer(&self, buyer: i64, from: i64, to: i64) -> Result<Vec<Movement>>;
    /// One receipt or sale by id.
    fn movement(&self, kind: Kind, id: i64) -> Result<Option<Movement>>;
    /// A vendor, producer or buyer by id.
    fn party(&self, kind: Kind, id: i64) -> Result<Option<Party>>;
    /// An origin certificate by id.
    fn certificate(&self, id: i64) -> Result<Option<Certificate>>;
    /// The lot of a rapid test or a sample.
    fn tested_lot(&self, kind: Kind, key: &str) -> Result<Option<TestedLot>>;
    /// Ids of records of `kind` by their single-column keys.
    fn resolve(&self, kind: Kind, keys: &[&str]) -> Result<Vec<(String, i64)>>;
    /// Id of a record by its natural key.
    fn find(&self, kind: Kind, key: &[Value]) -> Result<Option<i64>>;
}

/// Every read from the database.
pub struct Stored<'a>(pub &'a dyn Store);

impl TraceData for Stored<'_> {
    fn lot_holders(&self, lot_code: &str) -> Result<Vec<i64>> {
        self.0.lot_holders(lot_code)
    }
    fn receipts_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        self.0.receipts_of_lot(vendor, lot_code)
    }
    fn sales_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        self.0.sales_of_lot(vendor, lot_code)
    }
    fn receipts_between(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.0.receipts_between(vendor, variety, from, to)
    }
    fn unlotted_sales(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.0.unlotted_sales(vendor, variety, from, to)
    }
    fn receipts_from_lot(&self, supplier: i64, supplier_lot: &str) -> Result<Vec<Movement>> {
        self.0.receipts_from_lot(supplier, supplier_lot)
    }
    fn unlotted_receipts_from(&self, supplier: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.0.unlotted_receipts_from(supplier, variety, from, to)
    }
    fn receipts_with_certificate(&self, certificate: i64) -> Result<Vec<Movement>> {
        self.0.receipts_with_certificate(certificate)
    }
    fn receipts_from_producer(&self, producer: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.0.receipts_from_producer(producer, from, to)
    }
    fn sales_to_buyer(&self, buyer: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        self.0.sales_to_buyer(buyer, from, to)
    }
    fn movement(&self, kind: Kind, id: i64) -> Result<Option<Movement>> {
        self.0.movement(kind, id)
    }
    fn party(&self, kind: Kind, id: i64) -> Result<Option<Party>> {
        self.0.party(kind, id)
    }
    fn certificate(&self, id: i64) -> Result<Option<Certificate>> {
        self.0.certificate(id)
    }
    fn tested_lot(&self, kind: Kind, key: &str) -> Result<Option<TestedLot>> {
        self.0.tested_lot(kind, key)
    }
    fn resolve(&self, kind: Kind, keys: &[&str]) -> Result<Vec<(String, i64)>> {
        self.0.resolve(kind, keys)
    }
    fn find(&self, kind: Kind, key: &[Value]) -> Result<Option<i64>> {
        self.0.find(kind, key)
    }
}
