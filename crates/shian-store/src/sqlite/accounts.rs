//! [`Accounts`] on SQLite.

use rusqlite::{OptionalExtension, Row as SqlRow, params};

use super::SqliteStore;
use crate::Result;
use crate::accounts::{Accounts, AuditEntry, NewAudit, NewUser, SessionRecord, UserRecord};

const USER: &str = "SELECT id, username, display_name, role, scope_region, scope_market, scope_enterprise,
    password_hash, failed_logins, locked_until, disabled, created_at, password_changed_at FROM users";

fn user(r: &SqlRow) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        role: r.get(3)?,
        scope_region: r.get(4)?,
        scope_market: r.get(5)?,
        scope_enterprise: r.get(6)?,
        password_hash: r.get(7)?,
        failed_logins: r.get(8)?,
        locked_until: r.get(9)?,
        disabled: r.get::<_, i64>(10)? != 0,
        created_at: r.get(11)?,
        password_changed_at: r.get(12)?,
    })
}

impl Accounts for SqliteStore {
    fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!("{USER} WHERE username = ?"))?;
        Ok(stmt.query_row([username], user).optional()?)
    }

    fn user(&self, id: i64) -> Result<Option<UserRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!("{USER} WHERE id = ?"))?;
        Ok(stmt.query_row([id], user).optional()?)
    }

    fn users(&self) -> Result<Vec<UserRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!("{USER} ORDER BY id"))?;
        Ok(stmt.query_map([], user)?.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_user(&mut self, u: &NewUser) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO users (username, display_name, role, scope_region, scope_market, scope_enterprise,
             password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                u.username,
                u.display_name,
                u.role,
                u.scope_region,
                u.scope_market,
                u.scope_enterprise,
                u.password_hash,
                u.at,
                u.at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn record_failed_login(&mut self, id: i64, lock_until: Option<i64>) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET failed_logins = failed_logins + 1, locked_until = coalesce(?, locked_until) WHERE id = ?",
            params![lock_until, id],
        )?;
        Ok(())
    }

    fn record_login(&mut self, id: i64) -> Result<()> {
        self.conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [id])?;
        Ok(())
    }

    fn set_disabled(&mut self, id: i64, disabled: bool) -> Result<()> {
        self.conn.execute("UPDATE users SET disabled = ? WHERE id = ?", params![disabled as i64, id])?;
        Ok(())
    }

    fn set_password(&mut self, id: i64, password_hash: &str, at: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, locked_until = NULL
             WHERE id = ?",
            params![password_hash, at, id],
        )?;
        Ok(())
    }

    fn insert_session(&mut self, s: &SessionRecord) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen, lang) VALUES (?, ?, ?, ?, ?, ?)",
            params![s.id_hash, s.user_id, s.csrf, s.created_at, s.last_seen, s.lang],
        )?;
        Ok(())
    }

    fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id_hash, user_id, csrf, created_at, last_seen, lang FROM sessions WHERE id_hash = ?",
        )?;
        Ok(stmt
            .query_row([id_hash], |r| {
                Ok(SessionRecord {
                    id_hash: r.get(0)?,
                    user_id: r.get(1)?,
                    csrf: r.get(2)?,
                    created_at: r.get(3)?,
                    last_seen: r.get(4)?,
                    lang: r.get(5)?,
                })
            })
            .optional()?)
    }

    fn touch_session(&mut self, id_hash: &str, at: i64, lang: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE sessions SET last_seen = ?, lang = coalesce(?, lang) WHERE id_hash = ?",
            params![at, lang, id_hash],
        )?;
        Ok(())
    }

    fn delete_session(&mut self, id_hash: &str) -> Result<()> {
        self.conn.execute("DELETE FROM sessions WHERE id_hash = ?", [id_hash])?;
        Ok(())
    }

    fn delete_sessions_of(&mut self, user_id: i64) -> Result<()> {
        self.conn.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])?;
        Ok(())
    }

    fn insert_token(&mut self, token_hash: &str, user_id: i64, label: &str, at: i64) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES (?, ?, ?, ?)",
            params![token_hash, user_id, label, at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn revoke_tokens(&mut self, user_id: i64, label: Option<&str>) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE api_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0 AND (?2 IS NULL OR label = ?2)",
            params![user_id, label],
        )?)
    }

    fn token_user(&self, token_hash: &str) -> Result<Option<i64>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT user_id FROM api_tokens WHERE token_hash = ? AND revoked = 0")?;
        Ok(stmt.query_row([token_hash], |r| r.get(0)).optional()?)
    }

    fn audit(&mut self, e: &NewAudit) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO audit_log (at, actor, action, kind, record_key, before, after, client)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )?;
        stmt.execute(params![e.at, e.actor, e.action, e.kind, e.record_key, e.before, e.after, e.client])?;
        Ok(())
    }

    fn audit_log(&self, actor: Option<&str>, before: Option<i64>, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, actor, action, kind, record_key, before, after, client FROM audit_log
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![actor, before, limit as i64], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                kind: r.get(4)?,
                record_key: r.get(5)?,
                before: r.get(6)?,
                after: r.get(7)?,
                client: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
