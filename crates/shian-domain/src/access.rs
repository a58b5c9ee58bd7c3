//! Who may see what: the platform's roles and the scope (jurisdiction) each user works in.
//!
//! A scope is checked on every page and API response: a county regulator sees only the markets,
//! vendors and records of their county, a market operator only their own market. The storage layer
//! turns a [`Scope`] into a row condition; the rules here say which scope a role needs and what it
//! may do.

use crate::msg::Lang;
use crate::region;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 省级监管人员
    ProvinceRegulator,
    /// 市级监管人员
    CityRegulator,
    /// 县级监管人员
    CountyRegulator,
    /// 包保干部: the official assigned to a market.
    AssignedOfficial,
    /// 市场开办者
    MarketOperator,
    /// 市场食品安全员 / 总监
    MarketStaff,
    /// 连锁超市总部
    ChainHq,
    /// 农业农村部门联络员
    AgriLiaison,
    /// 系统管理员
    Admin,
    /// 审计员
    Auditor,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::ProvinceRegulator,
        Role::CityRegulator,
        Role::CountyRegulator,
        Role::AssignedOfficial,
        Role::MarketOperator,
        Role::MarketStaff,
        Role::ChainHq,
        Role::AgriLiaison,
        Role::Admin,
        Role::Auditor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::ProvinceRegulator => "province_regulator",
            Role::CityRegulator => "city_regulator",
            Role::CountyRegulator => "county_regulator",
            Role::AssignedOfficial => "assigned_official",
            Role::MarketOperator => "market_operator",
            Role::MarketStaff => "market_staff",
            Role::ChainHq => "chain_hq",
            Role::AgriLiaison => "agri_liaison",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Role::ProvinceRegulator => ("省级监管人员", "Provincial regulator"),
            Role::CityRegulator => ("市级监管人员", "City regulator"),
            Role::CountyRegulator => ("县级监管人员", "County regulator"),
            Role::AssignedOfficial => ("包保干部", "Assigned official"),
            Role::MarketOperator => ("市场开办者", "Market operator"),
            Role::MarketStaff => ("市场食品安全员", "Market food-safety staff"),
            Role::ChainHq => ("连锁超市总部", "Supermarket-chain HQ"),
            Role::AgriLiaison => ("农业农村部门联络员", "Agriculture-department liaison"),
            Role::Admin => ("系统管理员", "System administrator"),
            Role::Auditor => ("审计员", "Auditor"),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The kind of scope a user of this role must be given.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Role::ProvinceRegulator | Role::Admin | Role::Auditor => ScopeKind::Province,
            Role::CityRegulator => ScopeKind::City,
            Role::CountyRegulator | Role::AgriLiaison => ScopeKind::Region,
            Role::AssignedOfficial | Role::MarketOperator | Role::MarketStaff => ScopeKind::Market,
            Role::ChainHq => ScopeKind::Enterprise,
        }
    }

    /// Regulators (and the administrator) may write records and import files; the market's own
    /// people write their market's records; the auditor and the liaison only read.
    pub fn may_write(self) -> bool {
        !matches!(self, Role::Auditor | Role::AgriLiaison)
    }

    /// Only the auditor and the administrator read the audit log.
    pub fn may_read_audit(self) -> bool {
        matches!(self, Role::Auditor | Role::Admin)
    }

    /// Only the administrator manages accounts.
    pub fn may_manage_users(self) -> bool {
        self == Role::Admin
    }

    /// The agriculture liaison works upstream: producers and their certificates, not markets.
    pub fn upstream_only(self) -> bool {
        self == Role::AgriLiaison
    }
}

/// What kind of scope a role takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Province,
    /// A prefecture-level city.
    City,
    /// A county (or, for the liaison, any division).
    Region,
    Market,
    Enterprise,
}

/// The part of the province a user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    All,
    /// One administrative division and everything under it: a GB/T 2260 code (`1301` a city's
    /// prefix is written as its full six digits `130100`; the prefix is derived).
    Region(String),
    /// One market, by its record id.
    Market(i64),
    /// One enterprise (a supermarket chain's headquarters, a buyer record id) and its stores.
    Enterprise(i64),
}

impl Scope {
    /// The code prefix every division inside a region scope starts with: `130000` → `13`,
    /// `130100` → `1301`, `130102` → `130102`.
    pub fn region_prefix(code: &str) -> &str {
        let trimmed = code.trim_end_matches("00");
        if trimmed.len() < 2 { &code[..2.min(code.len())] } else { trimmed }
    }

    /// Whether a region code lies within this scope (markets, enterprises: never by region alone).
    pub fn covers_region(&self, code: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Region(r) => code.starts_with(Scope::region_prefix(r)),
            Scope::Market(_) | Scope::Enterprise(_) => false,
        }
    }

    /// Checks a region code given for a scope: six digits and a known division.
    pub fn parse_region(code: &str) -> Option<Scope> {
        (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) && region::by_code(code).is_some())
            .then(|| Scope::Region(code.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_prefixes_follow_the_code_levels() {
        assert_eq!(Scope::region_prefix("130000"), "13");
        assert_eq!(Scope::region_prefix("130100"), "1301");
        assert_eq!(Scope::region_prefix("130102"), "130102");
        let county = Scope::Region("130102".into());
        assert!(county.covers_region("130102"));
        assert!(!county.covers_region("130104"));
        assert!(Scope::Region("130100".into()).covers_region("130104"));
        assert!(!Scope::Region("130100".into()).covers_region("130204"));
    }

    #[test]
    fn role_codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn only_real_divisions_make_region_scopes() {
        assert!(Scope::parse_region("130102").is_some());
        assert!(Scope::parse_region("13010x").is_none());
        assert!(Scope::parse_region("139999").is_none());
    }
}
