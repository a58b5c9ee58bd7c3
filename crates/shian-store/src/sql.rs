//! SQL derived from the record kinds, shared by every backend. Identifiers are always quoted (a
//! field may be named like a keyword, e.g. `limit`); placeholders follow the [`Dialect`].

use shian_domain::field::FieldType;
use shian_domain::{Kind, KindDef};

/// How a backend writes bind parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `?`
    Sqlite,
    /// `$1, $2, …`
    Postgres,
}

impl Dialect {
    fn params(self, from: usize, n: usize) -> Vec<String> {
        (from..from + n)
            .map(|i| match self {
                Dialect::Sqlite => "?".to_string(),
                Dialect::Postgres => format!("${i}"),
            })
            .collect()
    }
}

/// Quotes an identifier.
pub fn q(ident: &str) -> String {
    format!("\"{ident}\"")
}

fn columns(def: &KindDef) -> Vec<String> {
    def.fields.iter().map(|f| q(&f.column())).collect()
}

fn key_columns(def: &KindDef) -> Vec<String> {
    def.key.iter().map(|k| q(&def.field(k).expect("key field").1.column())).collect()
}

/// `INSERT` of every field for `rows` rows in one statement (the bulk path: one statement per
/// many rows costs SQLite far less than one per row).
pub fn insert_many(d: Dialect, def: &KindDef, rows: usize, skip_existing: bool) -> String {
    let cols = columns(def);
    let tuples: Vec<String> =
        (0..rows).map(|r| format!("({})", d.params(1 + r * cols.len(), cols.len()).join(", "))).collect();
    let mut sql = format!("INSERT INTO {} ({}) VALUES {}", q(def.table), cols.join(", "), tuples.join(", "));
    if skip_existing {
        sql += &format!(" ON CONFLICT ({}) DO NOTHING", key_columns(def).join(", "));
    }
    sql
}

/// `INSERT` of every field; with `skip_existing`, a row whose natural key exists is left alone.
pub fn insert(d: Dialect, def: &KindDef, skip_existing: bool) -> String {
    let cols = columns(def);
    let mut sql =
        format!("INSERT INTO {} ({}) VALUES ({})", q(def.table), cols.join(", "), d.params(1, cols.len()).join(", "));
    if skip_existing {
        sql += &format!(" ON CONFLICT ({}) DO NOTHING", key_columns(def).join(", "));
    }
    sql
}

fn key_condition(d: Dialect, def: &KindDef, from: usize) -> String {
    let keys = key_columns(def);
    let params = d.params(from, keys.len());
    keys.iter().zip(params).map(|(k, p)| format!("{k} = {p}")).collect::<Vec<_>>().join(" AND ")
}

/// `SELECT id, <fields>` of the record with a natural key.
pub fn select_by_key(d: Dialect, def: &KindDef) -> String {
    format!("SELECT \"id\", {} FROM {} WHERE {}", columns(def).join(", "), q(def.table), key_condition(d, def, 1))
}

/// `SELECT id` of the record with a natural key.
pub fn id_by_key(d: Dialect, def: &KindDef) -> String {
    format!("SELECT \"id\" FROM {} WHERE {}", q(def.table), key_condition(d, def, 1))
}

/// `UPDATE` of every field of the record with the id bound last.
pub fn update(d: Dialect, def: &KindDef) -> String {
    let cols = columns(def);
    let params = d.params(1, cols.len() + 1);
    let sets: Vec<_> = cols.iter().zip(&params).map(|(c, p)| format!("{c} = {p}")).collect();
    format!("UPDATE {} SET {} WHERE \"id\" = {}", q(def.table), sets.join(", "), params[cols.len()])
}

/// `SELECT key, id` for `n` keys of a kind with a single-column key.
pub fn resolve(d: Dialect, def: &KindDef, n: usize) -> Option<String> {
    let key = q(&def.single_key()?.column());
    Some(format!("SELECT {key}, \"id\" FROM {} WHERE {key} IN ({})", q(def.table), d.params(1, n).join(", ")))
}

/// `SELECT` of every record in id order with references replaced by the referenced natural keys.
pub fn scan(def: &KindDef) -> String {
    let mut select = Vec::new();
    let mut joins = Vec::new();
    for (i, field) in def.fields.iter().enumerate() {
        let col = format!("t.{}", q(&field.column()));
        match field.ty {
            FieldType::Ref(target) => {
                let (alias, key) = join_target(&mut joins, i, target, &col, None);
                select.push(format!("{alias}.{key}"));
            }
            FieldType::PolyRef { kind_field } => {
                let FieldType::Enum(choices) = def.field(kind_field).expect("kind field").1.ty else {
                    unreachable!("a polymorphic reference's kind field is an enum")
                };
                let mut arms = Vec::new();
                for (j, choice) in choices.iter().enumerate() {
                    if let Some(target) = choice.target {
                        let cond = format!("t.{} = '{}'", q(kind_field), choice.code);
                        let (alias, key) = join_target(&mut joins, i * 100 + j, target, &col, Some(cond.clone()));
                        arms.push(format!("WHEN {cond} THEN {alias}.{key}"));
                    }
                }
                select.push(format!("CASE {} END", arms.join(" ")));
            }
            _ => select.push(col),
        }
    }
    format!("SELECT {} FROM {} t {} ORDER BY t.\"id\"", select.join(", "), q(def.table), joins.join(" "))
}

fn join_target(joins: &mut Vec<String>, n: usize, target: Kind, col: &str, cond: Option<String>) -> (String, String) {
    let tdef = target.def();
    let alias = format!("r{n}");
    let key = q(&tdef.single_key().expect("referenced kinds have single keys").column());
    let extra = cond.map(|c| format!(" AND {c}")).unwrap_or_default();
    joins.push(format!("LEFT JOIN {} {alias} ON {alias}.\"id\" = {col}{extra}", q(tdef.table)));
    (alias, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polymorphic_references_join_each_target() {
        let sql = scan(Kind::Outbound.def());
        assert!(sql.contains("LEFT JOIN \"vendors\""), "{sql}");
        assert!(sql.contains("WHEN t.\"buyer_kind\" = 'canteen'"), "{sql}");
    }

    #[test]
    fn postgres_placeholders_are_numbered() {
        let sql = update(Dialect::Postgres, Kind::Market.def());
        assert!(sql.ends_with("WHERE \"id\" = $12"), "{sql}");
    }
}
