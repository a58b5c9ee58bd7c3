//! Accounts: users with a role and a scope, argon2 passwords, login with lockout, sessions with
//! idle and absolute timeouts, CSRF tokens, API tokens for machine clients, and the audit log.
//!
//! Secrets never reach the database in the clear: passwords as argon2 PHC strings, session ids and
//! API tokens as SHA-256 hashes (they are long random values, so a fast hash suffices). Every
//! account change and every login, failed or not, is written to the audit log.

use std::time::{SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use shian_domain::access::{Role, Scope, ScopeKind};
use shian_domain::{Kind, Lang, Msg, Value, region};
use shian_store::Store;
use shian_store::accounts::{NewAudit, NewUser, SessionRecord, UserRecord};

/// Failed logins in a row that lock an account, and for how long.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// A session ends after this long without a request, and after this long in any case.
pub const IDLE_TIMEOUT_SECS: i64 = 30 * 60;
pub const ABSOLUTE_TIMEOUT_SECS: i64 = 12 * 3600;
/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Why an account operation failed, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Refused(Msg),
    #[error(transparent)]
    Store(#[from] shian_store::StoreError),
}

impl AccountError {
    fn refused(zh: impl Into<String>, en: impl Into<String>) -> AccountError {
        AccountError::Refused(Msg::new(zh.into(), en.into()))
    }

    /// The message for a person.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            AccountError::Refused(m) => m.get(lang).to_string(),
            AccountError::Store(e) => e.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, AccountError>;

/// A signed-in user: who they are, their role and what they may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub scope: Scope,
    /// A readable name of the scope ("石家庄市长安区", a market's name, …).
    pub scope_label: String,
}

impl Principal {
    /// Whether records of a kind are shown to this user at all (the agriculture liaison works
    /// upstream only).
    pub fn may_see(&self, kind: Kind) -> bool {
        if self.role.upstream_only() {
            return matches!(
                kind,
                Kind::Region | Kind::Variety | Kind::Producer | Kind::OriginCertificate | Kind::QuarantineCertificate
            );
        }
        true
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A fresh random value from the operating system, hex-encoded (`bytes` bytes of entropy).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.try_fill_bytes(&mut buf).expect("the operating system's random source works");
    hex(&buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a secret, hex-encoded: what is stored of session ids and tokens.
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// An argon2id PHC string of a password.
pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::refused(format!("无法处理该密码：{e}"), format!("cannot hash the password: {e}")))
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

fn check_password_strength(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountError::refused(
            format!("密码至少需要 {MIN_PASSWORD_LEN} 个字符"),
            format!("a password needs at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// What an administrator gives to create an account. The scope is named the way people name it:
/// a region code, a market code, a supermarket-chain HQ's buyer code.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    /// Region code, market code or enterprise (buyer) code, as the role needs; none for
    /// province-wide roles.
    pub scope: Option<&'a str>,
    pub password: &'a str,
}

/// Creates an account; the actor is recorded in the audit log.
pub fn add_user(store: &mut dyn Store, account: &NewAccount, actor: &str) -> Result<i64> {
    check_username(account.username)?;
    check_password_strength(account.password)?;
    if store.user_by_name(account.username)?.is_some() {
        return Err(AccountError::refused(
            format!("用户名“{}”已存在", account.username),
            format!("user name {:?} is taken", account.username),
        ));
    }
    let (region, market, enterprise) = resolve_scope(store, account.role, account.scope)?;
    let hash = hash_password(account.password)?;
    let at = now();
    let id = store.insert_user(&NewUser {
        username: account.username,
        display_name: account.display_name,
        role: account.role.code(),
        scope_region: region.as_deref(),
        scope_market: market,
        scope_enterprise: enterprise,
        password_hash: &hash,
        at,
    })?;
    let after = serde_json::json!({
        "username": account.username, "display_name": account.display_name,
        "role": account.role.code(), "scope": account.scope,
    })
    .to_string();
    audit(store, actor, "user.add", Some("user"), Some(account.username), None, Some(&after), None)?;
    Ok(id)
}

fn check_username(name: &str) -> Result<()> {
    let ok = (3..=40).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(AccountError::refused(
            "用户名须为 3–40 位字母、数字、点、横线或下划线",
            "a user name is 3–40 letters, digits, dots, dashes or underscores",
        ))
    }
}

type ScopeIds = (Option<String>, Option<i64>, Option<i64>);

fn resolve_scope(store: &dyn Store, role: Role, scope: Option<&str>) -> Result<ScopeIds> {
    let need = role.scope_kind();
    let missing = || {
        AccountError::refused(
            format!("角色“{}”需要指定管辖范围", role.label(Lang::Zh)),
            format!("role {} needs a scope", role.code()),
        )
    };
    let unknown =
        |what: &str, code: &str| AccountError::refused(format!("找不到{what}“{code}”"), format!("no {what} {code:?}"));
    match need {
        ScopeKind::Province => Ok((None, None, None)),
        ScopeKind::City | ScopeKind::Region => {
            let code = scope.ok_or_else(missing)?;
            let r = region::by_code(code).ok_or_else(|| unknown("行政区划", code))?;
            if need == ScopeKind::City && r.level != region::Level::Prefecture {
                return Err(AccountError::refused(
                    format!("“{code}”不是地级市代码"),
                    format!("{code} is not a prefecture-level city"),
                ));
            }
            Ok((Some(r.code.to_string()), None, None))
        }
        ScopeKind::Market => {
            let code = scope.ok_or_else(missing)?;
            let id = store.find(Kind::Market, &[Value::Text(code.into())])?.ok_or_else(|| unknown("市场", code))?;
            Ok((None, Some(id), None))
        }
        ScopeKind::Enterprise => {
            let code = scope.ok_or_else(missing)?;
            let id = store.find(Kind::Buyer, &[Value::Text(code.into())])?.ok_or_else(|| unknown("企业", code))?;
            Ok((None, None, Some(id)))
        }
    }
}

/// The principal of a stored user.
pub fn principal(store: &dyn Store, u: &UserRecord) -> Result<Principal> {
    let role = Role::parse(&u.role)
        .ok_or_else(|| AccountError::refused(format!("未知角色 {}", u.role), format!("unknown role {}", u.role)))?;
    let (scope, label) = match (&u.scope_region, u.scope_market, u.scope_enterprise) {
        (Some(r), _, _) => (Scope::Region(r.clone()), region_label(r)),
        (_, Some(m), _) => (Scope::Market(m), record_name(store, Kind::Market, m)?),
        (_, _, Some(e)) => (Scope::Enterprise(e), store.party(Kind::Buyer, e)?.map(|p| p.name).unwrap_or_default()),
        _ => (Scope::All, "河北省".to_string()),
    };
    Ok(Principal {
        id: u.id,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role,
        scope,
        scope_label: label,
    })
}

/// The `name` of a record (markets, buyers), empty if it has none.
fn record_name(store: &dyn Store, kind: Kind, id: i64) -> Result<String> {
    let Some(row) = store.get(kind, id, &Scope::All)? else { return Ok(String::new()) };
    let name = kind.def().field("name").and_then(|(i, _)| row.values[i].as_text().map(str::to_string));
    Ok(name.unwrap_or_default())
}

/// "石家庄市长安区" for a county, "石家庄市" for a city.
pub fn region_label(code: &str) -> String {
    let Some(r) = region::by_code(code) else { return code.to_string() };
    match region::city_of(code) {
        Some(city) if city.code != r.code => format!("{}{}", city.name, r.name),
        _ => r.name.to_string(),
    }
}

/// A new session: the cookie value to hand to the browser (never stored) and the CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub principal: Principal,
}

/// Checks a user name and password. Five failures in a row lock the account for 15 minutes;
/// every attempt is audited. The same message answers an unknown user and a wrong password.
pub fn login(store: &mut dyn Store, username: &str, password: &str, client: &str) -> Result<NewSession> {
    let at = now();
    let wrong = || AccountError::refused("用户名或密码错误", "wrong user name or password");
    let Some(user) = store.user_by_name(username)? else {
        // Spend the same time as a real check, so timing does not reveal which names exist.
        let _ = password_matches(password, dummy_hash());
        audit(store, username, "login.unknown_user", None, None, None, None, Some(client))?;
        return Err(wrong());
    };
    if user.disabled {
        audit(store, username, "login.disabled", None, None, None, None, Some(client))?;
        return Err(AccountError::refused("该账号已停用", "this account is disabled"));
    }
    if user.locked_until.is_some_and(|t| t > at) {
        audit(store, username, "login.locked", None, None, None, None, Some(client))?;
        return Err(AccountError::refused(
            "连续登录失败次数过多，账号已临时锁定，请 15 分钟后再试",
            "too many failed logins: the account is locked for 15 minutes",
        ));
    }
    if !password_matches(password, &user.password_hash) {
        let lock = (user.failed_logins + 1 >= MAX_FAILED_LOGINS).then_some(at + LOCKOUT_SECS);
        store.record_failed_login(user.id, lock)?;
        audit(store, username, "login.failed", None, None, None, None, Some(client))?;
        return Err(wrong());
    }
    store.record_login(user.id)?;
    let principal = principal(store, &user)?;
    let (cookie, csrf) = (random_hex(32), random_hex(16));
    store.insert_session(&SessionRecord {
        id_hash: secret_hash(&cookie),
        user_id: user.id,
        csrf: csrf.clone(),
        created_at: at,
        last_seen: at,
        lang: None,
    })?;
    audit(store, username, "login", None, None, None, None, Some(client))?;
    Ok(NewSession { cookie, csrf, principal })
}

/// An argon2 hash of a random password, verified against when the user does not exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_hex(16)).unwrap_or_default())
}

/// A live session: its user, CSRF token and chosen language.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub principal: Principal,
    pub csrf: String,
    pub lang: Option<Lang>,
}

/// The session behind a cookie, if it exists, has not timed out and its user may still log in.
/// A session that timed out is deleted.
pub fn session(store: &mut dyn Store, cookie: &str) -> Result<Option<ActiveSession>> {
    let hash = secret_hash(cookie);
    let Some(s) = store.session(&hash)? else { return Ok(None) };
    let at = now();
    if at - s.last_seen > IDLE_TIMEOUT_SECS || at - s.created_at > ABSOLUTE_TIMEOUT_SECS {
        store.delete_session(&hash)?;
        return Ok(None);
    }
    let Some(user) = store.user(s.user_id)?.filter(|u| !u.disabled) else { return Ok(None) };
    // Touch at most once a minute: a page view should not always be a write.
    if at - s.last_seen >= 60 {
        store.touch_session(&hash, at, None)?;
    }
    Ok(Some(ActiveSession {
        principal: principal(store, &user)?,
        csrf: s.csrf,
        lang: s.lang.as_deref().and_then(Lang::parse),
    }))
}

/// Remembers the language a session chose.
pub fn set_session_lang(store: &mut dyn Store, cookie: &str, lang: Lang) -> Result<()> {
    let code = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    store.touch_session(&secret_hash(cookie), now(), Some(code))?;
    Ok(())
}

/// Ends a session.
pub fn logout(store: &mut dyn Store, cookie: &str, actor: &str) -> Result<()> {
    store.delete_session(&secret_hash(cookie))?;
    audit(store, actor, "logout", None, None, None, None, None)?;
    Ok(())
}

/// Creates an API token for a user; the token is shown once and only its hash is kept.
pub fn create_token(store: &mut dyn Store, username: &str, label: &str, actor: &str) -> Result<String> {
    let user = find_user(store, username)?;
    let token = format!("shian_{}", random_hex(24));
    store.insert_token(&secret_hash(&token), user.id, label, now())?;
    audit(store, actor, "token.create", Some("user"), Some(username), None, Some(label), None)?;
    Ok(token)
}

/// Revokes a user's API tokens (those with `label`, or all); returns how many.
pub fn revoke_tokens(store: &mut dyn Store, username: &str, label: Option<&str>, actor: &str) -> Result<usize> {
    let user = find_user(store, username)?;
    let n = store.revoke_tokens(user.id, label)?;
    audit(store, actor, "token.revoke", Some("user"), Some(username), None, label, None)?;
    Ok(n)
}

/// The principal of an API token.
pub fn token_principal(store: &dyn Store, token: &str) -> Result<Option<Principal>> {
    let Some(id) = store.token_user(&secret_hash(token))? else { return Ok(None) };
    match store.user(id)?.filter(|u| !u.disabled) {
        Some(u) => Ok(Some(principal(store, &u)?)),
        None => Ok(None),
    }
}

fn find_user(store: &dyn Store, username: &str) -> Result<UserRecord> {
    store
        .user_by_name(username)?
        .ok_or_else(|| AccountError::refused(format!("找不到用户“{username}”"), format!("no user {username:?}")))
}

/// Disables (or re-enables) an account; a disabled account's sessions end at once.
pub fn set_disabled(store: &mut dyn Store, username: &str, disabled: bool, actor: &str) -> Result<()> {
    let user = find_user(store, username)?;
    store.set_disabled(user.id, disabled)?;
    if disabled {
        store.delete_sessions_of(user.id)?;
    }
    let action = if disabled { "user.disable" } else { "user.enable" };
    audit(store, actor, action, Some("user"), Some(username), None, None, None)?;
    Ok(())
}

/// Sets a new password, unlocks the account and ends its sessions.
pub fn reset_password(store: &mut dyn Store, username: &str, password: &str, actor: &str) -> Result<()> {
    check_password_strength(password)?;
    let user = find_user(store, username)?;
    store.set_password(user.id, &hash_password(password)?, now())?;
    store.delete_sessions_of(user.id)?;
    audit(store, actor, "user.reset_password", Some("user"), Some(username), None, None, None)?;
    Ok(())
}

/// Appends a line to the audit log.
#[expect(clippy::too_many_arguments, reason = "one argument per audit column")]
pub fn audit(
    store: &mut dyn Store,
    actor: &str,
    action: &str,
    kind: Option<&str>,
    key: Option<&str>,
    before: Option<&str>,
    after: Option<&str>,
    client: Option<&str>,
) -> Result<()> {
    store.audit(&NewAudit { at: now(), actor, action, kind, record_key: key, before, after, client })?;
    Ok(())
}
