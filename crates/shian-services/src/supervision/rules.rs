//! The rules of the risk ledger, without I/O: levels and their deadlines, who owns an entry and who
//! is next when it is overdue, the states and the actions that move between them, the disposal of
//! a positive rapid test, and what is due on an entry.
//!
//! **Levels** (一般 / 较大 / 重大) follow the failed item's class: a banned substance (禁用药物, e.g.
//! clenbuterol, malachite green) is serious; a veterinary-drug residue over its limit is major;
//! pesticide residues, heavy metals and anything not in the catalogue are general. The deadline
//! to dispose is 1, 3 or 7 days.
//!
//! **A positive rapid test** (快检阳性): the goods are held at once (the dispatcher records the
//! hold); a re-test by a laboratory method — not a rapid one — is due within 4 hours of the test;
//! then destruction or return is recorded, unless the re-test passed (the goods are released).

use shian_domain::Msg;
use shian_domain::catalogue::{self, ItemClass};
use shian_store::supervision::{FailedItem, RiskAction, RiskEntry};

/// The re-test window of a positive rapid test.
pub const RETEST_WINDOW_SECS: i64 = 4 * 3600;

const DAY: i64 = 86_400;

/// 风险等级.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 一般
    General,
    /// 较大
    Major,
    /// 重大
    Serious,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::General, Level::Major, Level::Serious];

    pub fn code(self) -> &'static str {
        match self {
            Level::General => "general",
            Level::Major => "major",
            Level::Serious => "serious",
        }
    }

    pub fn parse(code: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.code() == code || l.label().zh == code)
    }

    pub fn label(self) -> Msg {
        match self {
            Level::General => Msg::new("一般", "general"),
            Level::Major => Msg::new("较大", "major"),
            Level::Serious => Msg::new("重大", "serious"),
        }
    }

    /// Time allowed to dispose of an entry of this level (and again after each escalation).
    pub fn period_secs(self) -> i64 {
        match self {
            Level::General => 7 * DAY,
            Level::Major => 3 * DAY,
            Level::Serious => DAY,
        }
    }
}

/// The class of a test item named as stored (the catalogue's Chinese name or its code).
pub fn item_class(item: &str) -> Option<ItemClass> {
    let item = item.trim();
    catalogue::test_items().iter().find(|t| t.name == item || t.code == item).map(|t| t.class)
}

/// The level of a failed result: that of its worst item.
pub fn level_of(items: &[FailedItem]) -> Level {
    let of = |i: &FailedItem| match item_class(&i.item) {
        Some(ItemClass::Banned) => Level::Serious,
        Some(ItemClass::VetDrug) => Level::Major,
        _ => Level::General,
    };
    items.iter().map(of).max().unwrap_or(Level::General)
}

/// Who owns an entry: the market's assigned official (包保干部), then one level up at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    AssignedOfficial,
    CountyRegulator,
    CityRegulator,
    ProvinceRegulator,
}

impl Owner {
    pub const ALL: [Owner; 4] =
        [Owner::AssignedOfficial, Owner::CountyRegulator, Owner::CityRegulator, Owner::ProvinceRegulator];

    /// The role code (`shian_domain::access::Role`).
    pub fn code(self) -> &'static str {
        match self {
            Owner::AssignedOfficial => "assigned_official",
            Owner::CountyRegulator => "county_regulator",
            Owner::CityRegulator => "city_regulator",
            Owner::ProvinceRegulator => "province_regulator",
        }
    }

    pub fn parse(code: &str) -> Option<Owner> {
        Owner::ALL.into_iter().find(|o| o.code() == code)
    }

    pub fn label(self) -> Msg {
        match self {
            Owner::AssignedOfficial => Msg::new("包保干部", "assigned official"),
            Owner::CountyRegulator => Msg::new("县级监管部门", "county regulator"),
            Owner::CityRegulator => Msg::new("市级监管部门", "city regulator"),
            Owner::ProvinceRegulator => Msg::new("省级监管部门", "provincial regulator"),
        }
    }

    /// One level up; `None` at the province.
    pub fn next(self) -> Option<Owner> {
        match self {
            Owner::AssignedOfficial => Some(Owner::CountyRegulator),
            Owner::CountyRegulator => Some(Owner::CityRegulator),
            Owner::CityRegulator => Some(Owner::ProvinceRegulator),
            Owner::ProvinceRegulator => None,
        }
    }
}

/// 台账状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    InDisposal,
    Disposed,
    VerifiedClosed,
}

impl State {
    pub const ALL: [State; 4] = [State::Open, State::InDisposal, State::Disposed, State::VerifiedClosed];

    pub fn code(self) -> &'static str {
        match self {
            State::Open => "open",
            State::InDisposal => "in_disposal",
            State::Disposed => "disposed",
            State::VerifiedClosed => "verified_closed",
        }
    }

    pub fn parse(code: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> Msg {
        match self {
            State::Open => Msg::new("待处置", "open"),
            State::InDisposal => Msg::new("处置中", "in disposal"),
            State::Disposed => Msg::new("已处置", "disposed"),
            State::VerifiedClosed => Msg::new("已核查办结", "verified and closed"),
        }
    }

    /// Still to be dealt with (counts for deadlines and escalation).
    pub fn is_active(self) -> bool {
        matches!(self, State::Open | State::InDisposal)
    }
}

/// What can be recorded on an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 暂扣/停售封存
    Hold,
    /// 召回
    Recall,
    /// 销毁
    Destroy,
    /// 退货/退市
    Return,
    /// 复检 (laboratory method)
    Retest,
    /// 通报产地监管部门
    NotifyOrigin,
    /// 立案查处
    OpenCase,
    /// 备注
    Note,
    /// 处置完毕 (for entries without goods to destroy or return)
    Dispose,
    /// 核查办结
    Close,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Hold,
        Action::Recall,
        Action::Destroy,
        Action::Return,
        Action::Retest,
        Action::NotifyOrigin,
        Action::OpenCase,
        Action::Note,
        Action::Dispose,
        Action::Close,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::Recall => "recall",
            Action::Destroy => "destroy",
            Action::Return => "return",
            Action::Retest => "retest",
            Action::NotifyOrigin => "notify_origin",
            Action::OpenCase => "open_case",
            Action::Note => "note",
            Action::Dispose => "dispose",
            Action::Close => "close",
        }
    }

    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code || a.label().zh == code)
    }

    pub fn label(self) -> Msg {
        match self {
            Action::Hold => Msg::new("暂扣封存", "hold"),
            Action::Recall => Msg::new("召回", "recall"),
            Action::Destroy => Msg::new("销毁", "destroy"),
            Action::Return => Msg::new("退货退市", "return"),
            Action::Retest => Msg::new("复检", "re-test"),
            Action::NotifyOrigin => Msg::new("通报产地监管部门", "notify the origin's regulator"),
            Action::OpenCase => Msg::new("立案查处", "open a case"),
            Action::Note => Msg::new("备注", "note"),
            Action::Dispose => Msg::new("处置完毕", "disposal finished"),
            Action::Close => Msg::new("核查办结", "verified and closed"),
        }
    }
}

/// The state an action moves an entry in `state` to (`None`: unchanged), or why it is refused.
pub fn transition(state: State, action: Action, retest_passed: bool) -> Result<Option<State>, Msg> {
    match (state, action) {
        (State::VerifiedClosed, _) => Err(Msg::new("该条目已核查办结，不能再记录", "the entry is closed")),
        (_, Action::Note) => Ok(None),
        (State::Disposed, Action::Close) => Ok(Some(State::VerifiedClosed)),
        (_, Action::Close) => Err(Msg::new(
            "尚未处置完毕，不能核查办结（先记录销毁、退货或处置完毕）",
            "not disposed yet: record destroy, return or dispose before closing",
        )),
        (State::Disposed, _) => Err(Msg::new("该条目已处置完毕，只能备注或核查办结", "disposed: only a note or close")),
        (_, Action::Destroy | Action::Return | Action::Dispose) => Ok(Some(State::Disposed)),
        (_, Action::Retest) if retest_passed => Ok(Some(State::Disposed)),
        (State::Open, _) => Ok(Some(State::InDisposal)),
        (State::InDisposal, _) => Ok(None),
    }
}

/// The rapid-test methods (快检方法): a re-test must use another.
const RAPID_METHODS: &[&str] =
    &["enzyme_inhibition", "colloidal_gold", "other", "rapid", "酶抑制", "胶体金", "快检", "快速检测", "速测", "试纸"];

/// Whether a method names a rapid (screening) method rather than a laboratory one.
pub fn is_rapid_method(method: &str) -> bool {
    let m = method.trim().to_lowercase();
    m.is_empty() || RAPID_METHODS.iter().any(|r| m == *r || (!r.is_ascii() && m.contains(r)))
}

/// Something due on an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub what: Msg,
    /// Until when (Unix seconds), if there is a time limit.
    pub by: Option<i64>,
    pub overdue: bool,
}

fn due(what: Msg, by: Option<i64>, now: i64) -> Due {
    Due { what, by, overdue: by.is_some_and(|b| now > b) }
}

fn done(actions: &[RiskAction], codes: &[Action]) -> bool {
    actions.iter().any(|a| codes.iter().any(|c| c.code() == a.action))
}

/// The last laboratory re-test recorded, with whether it passed.
pub fn last_retest(actions: &[RiskAction]) -> Option<(&RiskAction, bool)> {
    let retest = actions.iter().rev().find(|a| a.action == Action::Retest.code())?;
    Some((retest, retest.result.as_deref() == Some("pass")))
}

/// What is still due on an entry at `now`, in order.
pub fn due_items(entry: &RiskEntry, actions: &[RiskAction], now: i64) -> Vec<Due> {
    let state = State::parse(&entry.state).unwrap_or(State::Open);
    match state {
        State::VerifiedClosed => return Vec::new(),
        State::Disposed => return vec![due(Msg::new("监管部门核查办结", "verification and closing"), None, now)],
        State::Open | State::InDisposal => {}
    }
    let mut out = Vec::new();
    let retest = last_retest(actions);
    if entry.retest_due.is_some() || entry.source_kind == "sample" {
        if !done(actions, &[Action::Hold, Action::Recall]) {
            out.push(due(Msg::new("立即暂扣封存或召回问题产品", "hold or recall the goods now"), None, now));
        }
        if let (Some(by), None) = (entry.retest_due, retest) {
            let what = Msg::new("以实验室方法复检（不得使用快检方法）", "re-test by a laboratory method (not rapid)");
            out.push(due(what, Some(by), now));
        }
        if !retest.is_some_and(|(_, passed)| passed) {
            let what = Msg::new("销毁或退货退市并记录", "destroy or return the goods and record it");
            out.push(due(what, Some(entry.deadline), now));
        }
    } else {
        out.push(due(Msg::new("处置并记录结果", "dispose and record the outcome"), Some(entry.deadline), now));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str) -> FailedItem {
        FailedItem { item: name.into(), value: None, unit: None, limit: None, method: None, result: None }
    }

    #[test]
    fn banned_substances_are_the_highest_level() {
        assert_eq!(level_of(&[item("克伦特罗")]), Level::Serious);
        assert_eq!(level_of(&[item("毒死蜱"), item("malachite_green")]), Level::Serious);
        assert_eq!(level_of(&[item("恩诺沙星")]), Level::Major);
        assert_eq!(level_of(&[item("毒死蜱")]), Level::General);
        assert_eq!(level_of(&[item("有机磷和氨基甲酸酯类农药")]), Level::General);
    }

    #[test]
    fn the_owner_moves_up_to_the_province_and_stops() {
        let mut o = Owner::AssignedOfficial;
        let mut chain = vec![o];
        while let Some(n) = o.next() {
            chain.push(n);
            o = n;
        }
        assert_eq!(chain, Owner::ALL.to_vec());
    }

    #[test]
    fn rapid_methods_cannot_re_test() {
        for m in ["enzyme_inhibition", "胶体金免疫层析法", "快检", " ", "colloidal_gold"] {
            assert!(is_rapid_method(m), "{m}");
        }
        for m in ["GB 23200.113-2018", "液相色谱-串联质谱法", "GB/T 22286"] {
            assert!(!is_rapid_method(m), "{m}");
        }
    }

    #[test]
    fn states_move_forward_only() {
        use Action::*;
        assert_eq!(transition(State::Open, Hold, false), Ok(Some(State::InDisposal)));
        assert_eq!(transition(State::Open, Note, false), Ok(None));
        assert_eq!(transition(State::InDisposal, Destroy, false), Ok(Some(State::Disposed)));
        assert_eq!(transition(State::InDisposal, Retest, true), Ok(Some(State::Disposed)));
        assert_eq!(transition(State::InDisposal, Retest, false), Ok(None));
        assert!(transition(State::InDisposal, Close, false).is_err());
        assert_eq!(transition(State::Disposed, Close, false), Ok(Some(State::VerifiedClosed)));
        assert!(transition(State::Disposed, Recall, false).is_err());
        assert!(transition(State::VerifiedClosed, Note, false).is_err());
    }
}
