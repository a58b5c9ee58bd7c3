//! Storage of the platform's accounts, sessions, API tokens and the append-only audit log.
//!
//! Only hashes are stored for secrets (argon2 for passwords, SHA-256 for session ids and tokens);
//! hashing is the services' job, this layer keeps what it is given.

use crate::Result;

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// A `shian_domain::access::Role` code.
    pub role: String,
    pub scope_region: Option<String>,
    pub scope_market: Option<i64>,
    pub scope_enterprise: Option<i64>,
    pub password_hash: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub scope_region: Option<&'a str>,
    pub scope_market: Option<i64>,
    pub scope_enterprise: Option<i64>,
    pub password_hash: &'a str,
    pub at: i64,
}

/// A login session (the id itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub lang: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub kind: Option<String>,
    pub record_key: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub client: Option<String>,
}

/// A line to append to the audit log.
#[derive(Debug, Clone, Default)]
pub struct NewAudit<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub kind: Option<&'a str>,
    pub record_key: Option<&'a str>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub client: Option<&'a str>,
}

/// What the platform's accounts need from a backend.
pub trait Accounts {
    fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>>;
    fn user(&self, id: i64) -> Result<Option<UserRecord>>;
    fn users(&self) -> Result<Vec<UserRecord>>;
    fn insert_user(&mut self, user: &NewUser) -> Result<i64>;
    /// Records a failed login; `lock_until` locks the account.
    fn record_failed_login(&mut self, id: i64, lock_until: Option<i64>) -> Result<()>;
    fn record_login(&mut self, id: i64) -> Result<()>;
    fn set_disabled(&mut self, id: i64, disabled: bool) -> Result<()>;
    fn set_password(&mut self, id: i64, password_hash: &str, at: i64) -> Result<()>;

    fn insert_session(&mut self, session: &SessionRecord) -> Result<()>;
    fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    fn touch_session(&mut self, id_hash: &str, at: i64, lang: Option<&str>) -> Result<()>;
    fn delete_session(&mut self, id_hash: &str) -> Result<()>;
    fn delete_sessions_of(&mut self, user_id: i64) -> Result<()>;

    fn insert_token(&mut self, token_hash: &str, user_id: i64, label: &str, at: i64) -> Result<i64>;
    /// Revokes a user's tokens with a label (every token of the user when `label` is `None`);
    /// returns how many were revoked.
    fn revoke_tokens(&mut self, user_id: i64, label: Option<&str>) -> Result<usize>;
    /// The user of an unrevoked token.
    fn token_user(&self, token_hash: &str) -> Result<Option<i64>>;

    fn audit(&mut self, entry: &NewAudit) -> Result<()>;
    /// Audit lines newest first, before the line `before` (exclusive) when given.
    fn audit_log(&self, actor: Option<&str>, before: Option<i64>, limit: usize) -> Result<Vec<AuditEntry>>;
}
