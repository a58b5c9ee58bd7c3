//! [`Public`] on SQLite.

use rusqlite::{OptionalExtension, Row as SqlRow, params};
use shian_domain::Kind;
use shian_domain::access::Scope;

use super::SqliteStore;
use crate::Result;
use crate::public::{Commitment, NewPublicToken, NewRating, Public, PublicToken, RatingSummary, ReceiptOrigin};
use crate::query::scope_condition;

const TOKEN: &str =
    "SELECT id, token, vendor_id, lot_code, issued_at, issued_by, revoked_at, reason FROM public_tokens";

fn token(r: &SqlRow) -> rusqlite::Result<PublicToken> {
    Ok(PublicToken {
        id: r.get(0)?,
        token: r.get(1)?,
        vendor_id: r.get(2)?,
        lot_code: r.get(3)?,
        issued_at: r.get(4)?,
        issued_by: r.get(5)?,
        revoked_at: r.get(6)?,
        reason: r.get(7)?,
    })
}

/// The vendor's latest receipts; for a receipt from another vendor naming its lot, the first
/// receipt of that lot upstream; then the certificates and producers of both.
const RECEIPT_ORIGINS: &str = "
WITH recent AS (
  SELECT id, received_at, supplier_kind, supplier_id, supplier_lot, certificate_id
  FROM inbound WHERE vendor_id = ?1 ORDER BY received_at DESC LIMIT ?2
), linked AS (
  SELECT r.*, CASE WHEN r.supplier_kind = 'vendor' AND r.supplier_lot IS NOT NULL THEN
    (SELECT u.id FROM inbound u WHERE u.lot_code = r.supplier_lot AND u.vendor_id = r.supplier_id
     ORDER BY u.received_at LIMIT 1) END AS up_id
  FROM recent r
)
SELECT l.id, l.received_at, l.supplier_kind,
  coalesce(c.origin, p.region, uc.origin, up.region),
  (l.certificate_id IS NOT NULL OR u.certificate_id IS NOT NULL)
FROM linked l
LEFT JOIN origin_certificates c ON c.id = l.certificate_id
LEFT JOIN producers p ON l.supplier_kind = 'producer' AND p.id = l.supplier_id
LEFT JOIN inbound u ON u.id = l.up_id
LEFT JOIN origin_certificates uc ON uc.id = u.certificate_id
LEFT JOIN producers up ON u.supplier_kind = 'producer' AND up.id = u.supplier_id
ORDER BY l.received_at DESC, l.id DESC";

impl Public for SqliteStore {
    fn insert_public_token(&mut self, t: &NewPublicToken) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO public_tokens (token, vendor_id, lot_code, issued_at, issued_by) VALUES (?, ?, ?, ?, ?)",
            params![t.token, t.vendor_id, t.lot_code, t.issued_at, t.issued_by],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn public_token(&self, text: &str) -> Result<Option<PublicToken>> {
        let mut stmt = self.conn.prepare_cached(&format!("{TOKEN} WHERE token = ?"))?;
        Ok(stmt.query_row([text], token).optional()?)
    }

    fn live_public_token(&self, vendor: i64, lot: Option<&str>) -> Result<Option<PublicToken>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{TOKEN} WHERE vendor_id = ? AND coalesce(lot_code, '') = coalesce(?, '') AND revoked_at IS NULL"
        ))?;
        Ok(stmt.query_row(params![vendor, lot], token).optional()?)
    }

    fn public_tokens_of(&self, vendor: i64) -> Result<Vec<PublicToken>> {
        let mut stmt = self.conn.prepare_cached(&format!("{TOKEN} WHERE vendor_id = ? ORDER BY id DESC"))?;
        Ok(stmt.query_map([vendor], token)?.collect::<rusqlite::Result<_>>()?)
    }

    fn revoke_public_token(&mut self, vendor: i64, lot: Option<&str>, at: i64, reason: &str) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE public_tokens SET revoked_at = ?, reason = ?
             WHERE vendor_id = ? AND coalesce(lot_code, '') = coalesce(?, '') AND revoked_at IS NULL",
            params![at, reason, vendor, lot],
        )?)
    }

    fn vendors_without_token(&self, market: Option<i64>) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.id FROM vendors v
             WHERE (?1 IS NULL OR v.market_id = ?1) AND coalesce(v.status, 'active') = 'active'
               AND coalesce(v.agreement_status, 'in_force') <> 'terminated'
               AND NOT EXISTS (SELECT 1 FROM public_tokens t
                               WHERE t.vendor_id = v.id AND t.lot_code IS NULL AND t.revoked_at IS NULL)
             ORDER BY v.id",
        )?;
        Ok(stmt.query_map(params![market], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    fn commitment(&self, vendor: i64) -> Result<Option<Commitment>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT text, signed_on, recorded_at FROM vendor_commitments WHERE vendor_id = ?")?;
        Ok(stmt
            .query_row([vendor], |r| Ok(Commitment { text: r.get(0)?, signed_on: r.get(1)?, recorded_at: r.get(2)? }))
            .optional()?)
    }

    fn set_commitment(&mut self, vendor: i64, c: &Commitment) -> Result<()> {
        self.conn.execute(
            "INSERT INTO vendor_commitments (vendor_id, text, signed_on, recorded_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (vendor_id) DO UPDATE SET text = excluded.text, signed_on = excluded.signed_on,
             recorded_at = excluded.recorded_at",
            params![vendor, c.text, c.signed_on, c.recorded_at],
        )?;
        Ok(())
    }

    fn add_rating(&mut self, r: &NewRating) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT INTO vendor_ratings (vendor_id, day, client_hash, stars, at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
            params![r.vendor_id, r.day, r.client_hash, r.stars, r.at],
        )?;
        Ok(n == 1)
    }

    fn rating_summary(&self, vendor: i64) -> Result<RatingSummary> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT count(*), coalesce(sum(stars), 0) FROM vendor_ratings WHERE vendor_id = ?")?;
        Ok(stmt.query_row([vendor], |r| {
            Ok(RatingSummary { count: r.get::<_, i64>(0)? as u64, sum: r.get::<_, i64>(1)? as u64 })
        })?)
    }

    fn add_page_views(&mut self, views: &[(i64, String, u64)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO page_views (vendor_id, day, views) VALUES (?, ?, ?)
                 ON CONFLICT (vendor_id, day) DO UPDATE SET views = views + excluded.views",
            )?;
            for (vendor, day, n) in views {
                stmt.execute(params![vendor, day, *n as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn page_views_in(&self, scope: &Scope) -> Result<u64> {
        let sql = format!(
            "SELECT coalesce(sum(pv.views), 0) FROM page_views pv JOIN vendors t ON t.id = pv.vendor_id WHERE {}",
            scope_condition(Kind::Vendor, scope, "t")
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt.query_row([], |r| r.get::<_, i64>(0))? as u64)
    }

    fn page_views_of(&self, vendor: i64, days: usize) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT day, views FROM page_views WHERE vendor_id = ? ORDER BY day DESC LIMIT ?")?;
        let rows = stmt.query_map(params![vendor, days as i64], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn receipt_origins(&self, vendor: i64, limit: usize) -> Result<Vec<ReceiptOrigin>> {
        let mut stmt = self.conn.prepare_cached(RECEIPT_ORIGINS)?;
        let rows = stmt.query_map(params![vendor, limit as i64], |r| {
            Ok(ReceiptOrigin {
                inbound_id: r.get(0)?,
                received_at: r.get(1)?,
                supplier_kind: r.get(2)?,
                origin: r.get(3)?,
                certified: r.get::<_, i64>(4)? != 0,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use shian_domain::{Kind, Value};

    use super::*;
    use crate::{Store, row};

    /// A store with one market and one vendor (id returned).
    fn with_vendor() -> (SqliteStore, i64) {
        let mut s = SqliteStore::open(":memory:").expect("open");
        let t = |v: &str| Value::Text(v.into());
        let market = row(
            Kind::Market,
            &[("code", t("M1")), ("name", t("市场")), ("market_kind", t("farmers")), ("region", t("130102"))],
        );
        s.write_batch(Kind::Market, &[market], None).expect("market");
        let m = s.find(Kind::Market, &[t("M1")]).expect("find").expect("market id");
        let vendor = row(
            Kind::Vendor,
            &[
                ("code", t("M1-001")),
                ("market", Value::Int(m)),
                ("name", t("经营部")),
                ("subject_kind", t("enterprise")),
            ],
        );
        s.write_batch(Kind::Vendor, &[vendor], None).expect("vendor");
        let v = s.find(Kind::Vendor, &[t("M1-001")]).expect("find").expect("vendor id");
        (s, v)
    }

    fn new_token(token: &'static str, vendor: i64, lot: Option<&'static str>) -> NewPublicToken<'static> {
        NewPublicToken { token, vendor_id: vendor, lot_code: lot, issued_at: 1, issued_by: "test" }
    }

    #[test]
    fn a_vendor_has_one_live_token_and_revoked_ones_stay_readable() {
        let (mut s, v) = with_vendor();
        s.insert_public_token(&new_token("aaaa", v, None)).expect("first");
        assert!(s.insert_public_token(&new_token("bbbb", v, None)).is_err(), "a second live token is refused");
        s.insert_public_token(&new_token("cccc", v, Some("T1"))).expect("a lot's token beside it");
        assert_eq!(s.revoke_public_token(v, None, 5, "reissued").expect("revoke"), 1);
        s.insert_public_token(&new_token("bbbb", v, None)).expect("a new live token");
        let old = s.public_token("aaaa").expect("read").expect("kept");
        assert_eq!((old.revoked_at, old.reason.as_deref()), (Some(5), Some("reissued")));
        assert_eq!(s.live_public_token(v, None).expect("live").map(|t| t.token), Some("bbbb".into()));
        assert_eq!(s.live_public_token(v, Some("T1")).expect("live").map(|t| t.token), Some("cccc".into()));
        assert_eq!(s.public_tokens_of(v).expect("all").len(), 3);
    }

    #[test]
    fn one_rating_per_client_and_day_and_views_add_up() {
        let (mut s, v) = with_vendor();
        let r = |day, client, stars| NewRating { vendor_id: v, day, client_hash: client, stars, at: 1 };
        assert!(s.add_rating(&r("2026-11-29", "c1", 5)).expect("rate"));
        assert!(!s.add_rating(&r("2026-11-29", "c1", 1)).expect("rate"), "the same client, the same day");
        assert!(s.add_rating(&r("2026-11-30", "c1", 3)).expect("rate"));
        assert_eq!(s.rating_summary(v).expect("summary"), RatingSummary { count: 2, sum: 8 });
        s.add_page_views(&[(v, "2026-11-29".into(), 3)]).expect("views");
        s.add_page_views(&[(v, "2026-11-29".into(), 2), (v, "2026-11-30".into(), 1)]).expect("views");
        assert_eq!(s.page_views_of(v, 7).expect("views"), vec![("2026-11-30".into(), 1), ("2026-11-29".into(), 5)]);
        assert_eq!(s.page_views_in(&Scope::All).expect("total"), 6);
        assert_eq!(s.page_views_in(&Scope::Region("130200".into())).expect("another city"), 0);
    }
}
