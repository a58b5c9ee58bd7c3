//! Buffers generated rows per kind and hands them on in large batches, predicting the id each row
//! will get (the simulator writes into empty tables, so ids follow insertion order; the caller
//! checks the prediction against the store at the end).

use std::collections::HashMap;

use shian_domain::{Kind, Value};
use shian_store::{Row, Store, StoreError};

const FLUSH_AT: usize = 50_000;

/// Where batches go: straight into a store, or over a channel to the thread that owns it.
pub trait Sink {
    fn write(&mut self, kind: Kind, rows: Vec<Row>) -> Result<(), StoreError>;
}

impl Sink for &mut dyn Store {
    fn write(&mut self, kind: Kind, rows: Vec<Row>) -> Result<(), StoreError> {
        self.insert_new(kind, &mut rows.into_iter()).map(|_| ())
    }
}

pub struct Writer<S: Sink> {
    sink: S,
    buffers: HashMap<Kind, Vec<Row>>,
    next_id: HashMap<Kind, i64>,
}

/// The id the next row of each kind will get in `store`.
pub fn next_ids(store: &dyn Store) -> Result<HashMap<Kind, i64>, StoreError> {
    Kind::ALL.iter().map(|&k| Ok((k, store.count(k)? as i64 + 1))).collect()
}

/// Checks that the store holds exactly the rows the writer predicted.
pub fn check(store: &dyn Store, expected: &HashMap<Kind, i64>) -> Result<(), StoreError> {
    for (kind, next) in expected {
        let count = store.count(*kind)? as i64;
        if count != next - 1 {
            return Err(StoreError::Invalid(format!("{kind:?}: expected {} rows, found {count}", next - 1)));
        }
    }
    Ok(())
}

impl<S: Sink> Writer<S> {
    pub fn new(sink: S, next_id: HashMap<Kind, i64>) -> Writer<S> {
        Writer { sink, buffers: HashMap::new(), next_id }
    }

    /// Queues a row; returns the id it will have.
    pub fn push(&mut self, kind: Kind, row: Row) -> Result<i64, StoreError> {
        let id = self.next_id.entry(kind).or_insert(1);
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

    /// Hands on the buffer of `kind` and, first, of every kind it may refer to (those before it
    /// in import order), so that no row is written before a row it references.
    fn flush_through(&mut self, kind: Kind) -> Result<(), StoreError> {
        for k in Kind::ALL.into_iter().take_while(|k| *k <= kind) {
            if let Some(rows) = self.buffers.get_mut(&k)
                && !rows.is_empty()
            {
                let rows = std::mem::take(rows);
                self.sink.write(k, rows)?;
            }
        }
        Ok(())
    }

    /// Hands on everything queued; returns the predicted next ids, for [`check`].
    pub fn finish(mut self) -> Result<(HashMap<Kind, i64>, S), StoreError> {
        if let Some(last) = Kind::ALL.last() {
            self.flush_through(*last)?;
        }
        Ok((self.next_id, self.sink))
    }

    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }
}
