//! Buffers generated rows per kind and writes them in large transactions, predicting the id each
//! row will get (the simulator writes into empty tables, so ids follow insertion order; the
//! prediction is checked when the writer is finished).

use std::collections::HashMap;

use shian_domain::{Kind, Value};
use shian_store::{Row, Store, StoreError};

const FLUSH_AT: usize = 50_000;

pub struct Writer<'a> {
    store: &'a mut dyn Store,
    buffers: HashMap<Kind, Vec<Row>>,
    next_id: HashMap<Kind, i64>,
}

impl<'a> Writer<'a> {
    pub fn new(store: &'a mut dyn Store) -> Writer<'a> {
        Writer { store, buffers: HashMap::new(), next_id: HashMap::new() }
    }

    /// Queues a row; returns the id it will have.
    pub fn push(&mut self, kind: Kind, row: Row) -> Result<i64, StoreError> {
        let id = match self.next_id.get_mut(&kind) {
            Some(id) => id,
            None => {
                let start = self.store.count(kind)? as i64 + 1;
                self.next_id.entry(kind).or_insert(start)
            }
        };
        let this = *id;
        *id += 1;
        let buffer = self.buffers.entry(kind).or_default();
        buffer.push(row);
        if buffer.len() >= FLUSH_AT {
            self.flush_through(kind)?;
        }
        Ok(this)
    }

    /// Queues a row given as (field, value) pairs.
    pub fn push_named(&mut self, kind: Kind, values: &[(&str, Value)]) -> Result<i64, StoreError> {
        self.push(kind, shian_store::row(kind, values))
    }

    /// Writes the buffer of `kind` and, first, of every kind it may refer to (those before it in
    /// import order), so that no row is written before a row it references.
    fn flush_through(&mut self, kind: Kind) -> Result<(), StoreError> {
        for k in Kind::ALL.into_iter().take_while(|k| *k <= kind) {
            self.flush(k)?;
        }
        Ok(())
    }

    fn flush(&mut self, kind: Kind) -> Result<(), StoreError> {
        if let Some(rows) = self.buffers.get_mut(&kind)
            && !rows.is_empty()
        {
            let mut drained = rows.drain(..);
            self.store.insert_new(kind, &mut drained)?;
        }
        Ok(())
    }

    /// Writes everything queued and checks that every predicted id came true.
    pub fn finish(&mut self) -> Result<(), StoreError> {
        if let Some(last) = Kind::ALL.last() {
            self.flush_through(*last)?;
        }
        for (kind, next) in &self.next_id {
            let count = self.store.count(*kind)? as i64;
            if count != next - 1 {
                return Err(StoreError::Invalid(format!("{kind:?}: expected {} rows, found {count}", next - 1)));
            }
        }
        Ok(())
    }

    pub fn store(&mut self) -> &mut dyn Store {
        self.store
    }
}
