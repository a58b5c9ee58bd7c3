//! [`Queries`] on SQLite.

use rusqlite::{OptionalExtension, params_from_iter};
use shian_domain::access::Scope;
use shian_domain::field::FieldType;
use shian_domain::{Kind, KindDef, Value};

use super::{Param, SqliteStore, from_sql};
use crate::Result;
use crate::query::{self, Filter, ListQuery, Listed, MarketMonth, Queries, VarietyFlows};
use crate::sql::q;

/// The conditions of a list and the values they bind.
fn conditions(kind: Kind, scope: &Scope, filters: &[Filter]) -> Result<(Vec<String>, Vec<Value>)> {
    let def = kind.def();
    let mut conds = vec![query::scope_condition(kind, scope, "t")];
    let mut binds = Vec::new();
    let column = |field: &str| {
        query::filter_column(def, field)
            .ok_or_else(|| crate::StoreError::Invalid(format!("{} cannot be filtered by {field}", def.name)))
    };
    for f in filters {
        match f {
            Filter::Eq(field, v) => {
                conds.push(format!("{} = ?", column(field)?));
                binds.push(v.clone());
            }
            Filter::From(field, v) => {
                conds.push(format!("{} >= ?", column(field)?));
                binds.push(v.clone());
            }
            Filter::To(field, v) => {
                conds.push(format!("{} <= ?", column(field)?));
                binds.push(v.clone());
            }
            Filter::Search(text) => {
                let (cond, n) = query::search_condition(def);
                conds.push(cond);
                binds.extend(std::iter::repeat_n(Value::Text(text.clone()), n));
            }
            Filter::RefId(field, id) | Filter::PolyRefId(field, _, id) => {
                let (_, fd) = def
                    .field(field)
                    .ok_or_else(|| crate::StoreError::Invalid(format!("{} has no field {field}", def.name)))?;
                conds.push(format!("t.{} = ?", q(&fd.column())));
                binds.push(Value::Int(*id));
                if let (Filter::PolyRefId(_, choice, _), FieldType::PolyRef { kind_field }) = (f, fd.ty) {
                    conds.push(format!("t.{} = ?", q(kind_field)));
                    binds.push(Value::Text(choice.to_string()));
                }
            }
            Filter::InRegion(prefix) => {
                let within = Scope::Region(format!("{prefix:0<6}"));
                conds.push(query::scope_condition(kind, &within, "t"));
            }
        }
    }
    Ok((conds, binds))
}

/// Whether filters read referenced records' columns (and so need the joins).
fn needs_joins(def: &KindDef, filters: &[Filter]) -> bool {
    let joined = |field: &str| query::filter_column(def, field).is_some_and(|c| !c.starts_with("t."));
    filters.iter().any(|f| match f {
        Filter::Eq(field, _) | Filter::From(field, _) | Filter::To(field, _) => joined(field),
        Filter::Search(_) => joined(def.key[0]),
        _ => false,
    })
}

/// A row of [`query::select_listed`].
fn listed(n: usize, r: &rusqlite::Row) -> rusqlite::Result<Listed> {
    let values = (0..n).map(|i| r.get_ref(1 + i).map(from_sql)).collect::<rusqlite::Result<Vec<_>>>()?;
    let labels = (0..n).map(|i| r.get::<_, Option<String>>(1 + n + i)).collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Listed { id: r.get(0)?, values, labels })
}

impl Queries for SqliteStore {
    fn list(&self, kind: Kind, lq: &ListQuery) -> Result<Vec<Listed>> {
        let def = kind.def();
        let (select, joins) = query::select_listed(def);
        let (mut conds, mut binds) = conditions(kind, lq.scope, &lq.filters)?;
        if let Some(before) = lq.before {
            conds.push("t.\"id\" < ?".into());
            binds.push(Value::Int(before));
        }
        // Pick the page's ids first, then read and join only those rows: sorting a large scope's
        // ids is cheap, sorting its joined rows is not.
        let inner_joins = if needs_joins(def, &lq.filters) { joins.as_str() } else { "" };
        let sql = format!(
            "SELECT {select} FROM {table} t {joins} WHERE t.\"id\" IN (SELECT t.\"id\" FROM {table} t {inner_joins} \
             WHERE {conds} ORDER BY t.\"id\" DESC LIMIT {limit}) ORDER BY t.\"id\" DESC",
            table = q(def.table),
            conds = conds.join(" AND "),
            limit = lq.limit.min(1000)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let n = def.fields.len();
        let rows = stmt.query_map(params_from_iter(binds.iter().map(Param)), |r| listed(n, r))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn get(&self, kind: Kind, id: i64, scope: &Scope) -> Result<Option<Listed>> {
        let def = kind.def();
        let (select, joins) = query::select_listed(def);
        let cond = query::scope_condition(kind, scope, "t");
        let sql = format!("SELECT {select} FROM {} t {joins} WHERE t.\"id\" = ? AND {cond}", q(def.table));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt.query_row([id], |r| listed(def.fields.len(), r)).optional()?)
    }

    fn count_in(&self, kind: Kind, scope: &Scope, filters: &[Filter]) -> Result<u64> {
        let def = kind.def();
        let (conds, binds) = conditions(kind, scope, filters)?;
        let joins = if needs_joins(def, filters) { query::select_listed(def).1 } else { String::new() };
        let sql = format!("SELECT count(*) FROM {} t {joins} WHERE {}", q(def.table), conds.join(" AND "));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt.query_row(params_from_iter(binds.iter().map(Param)), |r| r.get::<_, i64>(0))? as u64)
    }

    fn market_months(&self, kind: Kind) -> Result<Vec<MarketMonth>> {
        let def = kind.def();
        let (Some(market), Some(time)) = (query::market_of(kind), query::time_field(kind)) else {
            return Ok(Vec::new());
        };
        let col = format!("t.{}", q(time));
        let month = match def.field(time).map(|(_, f)| f.ty) {
            Some(FieldType::DateTime) => format!("strftime('%Y-%m', {col} + 28800, 'unixepoch')"),
            _ => format!("substr({col}, 1, 7)"),
        };
        let failed = match kind {
            Kind::RapidTest => "sum(t.verdict = 'fail')".to_string(),
            Kind::Sample => {
                "sum(EXISTS (SELECT 1 FROM sample_items i WHERE i.sample_id = t.id AND i.verdict = 'fail'))".into()
            }
            _ => "0".into(),
        };
        let sql = format!(
            "SELECT {market} AS m, {month} AS mo, count(*), {failed} FROM {} t WHERE {market} IS NOT NULL \
             GROUP BY m, mo ORDER BY m, mo",
            q(def.table)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(MarketMonth {
                market: r.get(0)?,
                month: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                count: r.get::<_, i64>(2)? as u64,
                failed: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn variety_flows(&self, variety: i64, scope: &Scope) -> Result<VarietyFlows> {
        let cond = query::scope_condition(Kind::Inbound, scope, "t");
        let group = |key: &str, join: &str| {
            format!(
                "SELECT {key} AS k, t.unit, count(*), sum(t.quantity) FROM inbound t {join}
                 WHERE t.variety_id = ?1 AND {cond} GROUP BY k, t.unit ORDER BY 4 DESC"
            )
        };
        let read = |sql: &str| -> Result<Vec<(String, String, u64, f64)>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([variety], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, Option<f64>>(3)?.unwrap_or(0.0),
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        let sources = read(&group("c.origin", "LEFT JOIN origin_certificates c ON c.id = t.certificate_id"))?;
        let mut months = read(&group("strftime('%Y-%m', t.received_at + 28800, 'unixepoch')", ""))?;
        months.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        Ok(VarietyFlows { sources, months })
    }

    fn routine_periods(&self, scope: &Scope, from: &str, to: &str) -> Result<Vec<(i64, String, String)>> {
        let cond = query::scope_condition(Kind::RoutineRecord, scope, "t");
        let sql = format!(
            "SELECT t.market_id, t.period, t.period_start FROM routine_records t
             WHERE t.period_start >= ? AND t.period_start <= ? AND {cond}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn certificates_by_market(&self) -> Result<Vec<(i64, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT v.market_id, count(DISTINCT t.certificate_id) FROM inbound t JOIN vendors v ON v.id = t.vendor_id
             WHERE t.certificate_id IS NOT NULL GROUP BY v.market_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
