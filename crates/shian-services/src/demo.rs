//! The demo accounts: one user per role, scoped to real records of the demo province, so that a
//! visitor of the local demo can sign in as each kind of user and see what that role sees.
//!
//! The scopes are chosen from the data, deterministically (the same province gives the same
//! accounts): the city with the most markets; in it the county with the most markets; in that
//! county the market with the most vendors; the supermarket-chain headquarters with the smallest
//! id. Ties go to the smallest code. Only the store's trait is used: markets and buyers are small
//! tables, and vendors are counted per market with [`Queries::count_in`].
//!
//! [`Queries::count_in`]: shian_store::query::Queries::count_in

use std::collections::BTreeMap;

use shian_domain::access::{Role, Scope};
use shian_domain::{Kind, Lang, Msg, Value, region};
use shian_store::Store;

use crate::accounts::{self, AccountError, NewAccount, Result};

/// The password of every demo account: **for the local demo only**. It is printed by `shian demo`
/// and written in the documentation, so a database holding these accounts must never be reachable
/// by anyone else.
pub const DEMO_PASSWORD: &str = "shian-demo-2026";

/// The audit log's actor for the accounts made here.
pub const DEMO_ACTOR: &str = "demo";

/// A demo account, as shown to the person running the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub username: String,
    /// [`DEMO_PASSWORD`] (unless someone changed it since: the store keeps only a hash).
    pub password: String,
    pub role: Role,
    /// A readable name of the account's scope ("河北省", "石家庄市", a market's name, …).
    pub scope_label: String,
    /// Whether this call created the account (`false`: it existed already and was left alone).
    pub created: bool,
}

/// The demo user names and their roles, in the order they are shown.
pub const DEMO_USERS: [(&str, Role); 10] = [
    ("admin", Role::Admin),
    ("province", Role::ProvinceRegulator),
    ("city", Role::CityRegulator),
    ("county", Role::CountyRegulator),
    ("official", Role::AssignedOfficial),
    ("operator", Role::MarketOperator),
    ("staff", Role::MarketStaff),
    ("chain", Role::ChainHq),
    ("liaison", Role::AgriLiaison),
    ("auditor", Role::Auditor),
];

/// The records the demo accounts are scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoScopes {
    /// A prefecture-level city's region code.
    pub city: String,
    /// A county's region code, in the city.
    pub county: String,
    /// A market's code, in the county.
    pub market: String,
    /// A supermarket-chain headquarters' buyer code.
    pub chain: String,
}

impl DemoScopes {
    /// The scope code a role's demo account is given (none for province-wide roles).
    fn code_for(&self, role: Role) -> Option<&str> {
        match role {
            Role::CityRegulator | Role::AgriLiaison => Some(&self.city),
            Role::CountyRegulator => Some(&self.county),
            Role::AssignedOfficial | Role::MarketOperator | Role::MarketStaff => Some(&self.market),
            Role::ChainHq => Some(&self.chain),
            Role::ProvinceRegulator | Role::Admin | Role::Auditor => None,
        }
    }
}

/// Creates the demo accounts that do not exist yet (an existing account of the same name is kept
/// as it is) and returns all ten, in [`DEMO_USERS`] order.
pub fn ensure_demo_accounts(store: &mut dyn Store) -> Result<Vec<DemoAccount>> {
    let mut scopes = None;
    let mut out = Vec::with_capacity(DEMO_USERS.len());
    for (username, role) in DEMO_USERS {
        let created = if store.user_by_name(username)?.is_some() {
            false
        } else {
            if scopes.is_none() {
                scopes = Some(demo_scopes(store)?);
            }
            let scope = scopes.as_ref().and_then(|s| s.code_for(role));
            create(store, username, role, scope)?;
            true
        };
        out.push(describe(store, username, created)?);
    }
    Ok(out)
}

fn create(store: &mut dyn Store, username: &str, role: Role, scope: Option<&str>) -> Result<()> {
    let display_name = format!("演示{}", role.label(Lang::Zh));
    let account = NewAccount { username, display_name: &display_name, role, scope, password: DEMO_PASSWORD };
    accounts::add_user(store, &account, DEMO_ACTOR)?;
    Ok(())
}

/// The account as stored: its actual role and scope, whoever created it.
fn describe(store: &dyn Store, username: &str, created: bool) -> Result<DemoAccount> {
    let user = store.user_by_name(username)?.ok_or_else(|| {
        AccountError::Refused(Msg::new(format!("找不到用户“{username}”"), format!("no user {username:?}")))
    })?;
    let principal = accounts::principal(store, &user)?;
    Ok(DemoAccount {
        username: username.to_string(),
        password: DEMO_PASSWORD.to_string(),
        role: principal.role,
        scope_label: principal.scope_label,
        created,
    })
}

/// Picks the demo scopes from the data (see the module documentation).
pub fn demo_scopes(store: &dyn Store) -> Result<DemoScopes> {
    let markets = markets(store)?;
    let cities =
        markets.iter().filter_map(|(_, r)| region::city_of(r)).filter(|c| c.level == region::Level::Prefecture);
    let city = most_common(cities.map(|c| c.code.to_string())).ok_or_else(no_data)?;
    let in_city: Vec<&(String, String)> = markets.iter().filter(|(_, r)| in_region(&city, r)).collect();
    let county = most_common(in_city.iter().map(|(_, r)| r.clone())).ok_or_else(no_data)?;
    let candidates: Vec<&str> = in_city.iter().filter(|(_, r)| *r == county).map(|(c, _)| c.as_str()).collect();
    let market = busiest_market(store, &candidates)?.ok_or_else(no_data)?;
    let chain = first_chain(store)?.ok_or_else(no_chain)?;
    Ok(DemoScopes { city, county, market, chain })
}

/// Every market's code and region code, in id order.
fn markets(store: &dyn Store) -> Result<Vec<(String, String)>> {
    let (code_at, region_at) = (field_index(Kind::Market, "code"), field_index(Kind::Market, "region"));
    let mut out = Vec::new();
    store.scan(Kind::Market, &mut |row| {
        if let (Some(code), Some(region)) = (text(row, code_at), text(row, region_at)) {
            out.push((code, region));
        }
        Ok(())
    })?;
    Ok(out)
}

/// Whether a region code lies in a city (or is the city itself).
fn in_region(city: &str, code: &str) -> bool {
    Scope::Region(city.to_string()).covers_region(code)
}

/// The value seen most often; a tie goes to the smallest.
fn most_common(values: impl Iterator<Item = String>) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    // `max_by_key` keeps the last of equal maxima: walk from the largest key down so that the
    // smallest key wins a tie.
    counts.into_iter().rev().max_by_key(|(_, n)| *n).map(|(v, _)| v)
}

/// The market (of the codes given) with the most vendors; a tie goes to the smallest code.
fn busiest_market(store: &dyn Store, codes: &[&str]) -> Result<Option<String>> {
    let mut best: Option<(u64, String)> = None;
    for (code, id) in store.resolve(Kind::Market, codes)? {
        let vendors = store.count_in(Kind::Vendor, &Scope::Market(id), &[])?;
        if best.as_ref().is_none_or(|(n, c)| vendors > *n || (vendors == *n && code < *c)) {
            best = Some((vendors, code));
        }
    }
    Ok(best.map(|(_, c)| c))
}

/// The code of the supermarket-chain headquarters with the smallest id.
fn first_chain(store: &dyn Store) -> Result<Option<String>> {
    let (code_at, kind_at) = (field_index(Kind::Buyer, "code"), field_index(Kind::Buyer, "buyer_kind"));
    let mut found = None;
    store.scan(Kind::Buyer, &mut |row| {
        if found.is_none() && text(row, kind_at).as_deref() == Some("supermarket_hq") {
            found = text(row, code_at);
        }
        Ok(())
    })?;
    Ok(found)
}

fn field_index(kind: Kind, name: &str) -> Option<usize> {
    kind.def().field(name).map(|(i, _)| i)
}

fn text(row: &[Value], at: Option<usize>) -> Option<String> {
    row.get(at?)?.as_text().map(str::to_string)
}

fn no_data() -> AccountError {
    AccountError::Refused(Msg::new(
        "数据库中没有市场，无法创建演示账号",
        "the database holds no markets: the demo accounts cannot be made",
    ))
}

fn no_chain() -> AccountError {
    AccountError::Refused(Msg::new(
        "数据库中没有超市总部，无法创建演示账号",
        "the database holds no supermarket-chain headquarters: the demo accounts cannot be made",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_value_wins_and_a_tie_goes_to_the_smallest() {
        let v = |xs: &[&str]| most_common(xs.iter().map(|s| s.to_string()));
        assert_eq!(v(&["b", "a", "b"]), Some("b".into()));
        assert_eq!(v(&["b", "a", "c", "a", "b"]), Some("a".into()));
        assert_eq!(v(&[]), None);
    }

    #[test]
    fn a_city_covers_its_counties_only() {
        assert!(in_region("130100", "130102"));
        assert!(in_region("130100", "130100"));
        assert!(!in_region("130100", "130203"));
    }
}
