//! The platform inbox (站内通知): a user's notices, unread until the user acknowledges them; the
//! acknowledgement is audited (who read which notice when).

use shian_store::Store;
use shian_store::accounts::{NewAudit, UserRecord};
use shian_store::supervision::Notification;

use super::{Result, SupervisionError, now};

fn user(store: &dyn Store, username: &str) -> Result<UserRecord> {
    store
        .user_by_name(username)?
        .ok_or_else(|| SupervisionError::refused(format!("没有用户“{username}”"), format!("no user {username:?}")))
}

/// A user's notices, newest first, with the user.
pub fn inbox(
    store: &dyn Store,
    username: &str,
    unread_only: bool,
    limit: usize,
) -> Result<(UserRecord, Vec<Notification>)> {
    let u = user(store, username)?;
    let notices = store.inbox(u.id, unread_only, limit)?;
    Ok((u, notices))
}

/// Marks notice `id` of `username` read; `false` when it is not theirs or was read already.
pub fn acknowledge(store: &mut dyn Store, username: &str, id: i64, actor: &str) -> Result<bool> {
    let u = user(store, username)?;
    let at = now();
    let audit = NewAudit { at, actor, action: "inbox.acknowledge", kind: Some("notification"), ..NewAudit::default() };
    Ok(store.acknowledge(u.id, id, at, &audit)?)
}
