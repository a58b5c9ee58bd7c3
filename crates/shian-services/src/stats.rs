//! What a database holds: the count of every record kind.

use shian_domain::Kind;
use shian_store::{Store, StoreError};

/// The count of every kind, in import order.
pub fn counts(store: &dyn Store) -> Result<Vec<(Kind, u64)>, StoreError> {
    Kind::ALL.iter().map(|&k| Ok((k, store.count(k)?))).collect()
}

/// Inbound plus outbound: the seed's "order records" (出入库订单).
pub fn order_records(counts: &[(Kind, u64)]) -> u64 {
    counts.iter().filter(|(k, _)| matches!(k, Kind::Inbound | Kind::Outbound)).map(|(_, n)| n).sum()
}
