//! The words of a failure notification: the inbox title and text (Chinese and English), the SMS
//! text, the mail and the webhook's JSON body. All are made from the same facts.

use serde_json::json;
use shian_domain::{Lang, Msg, time};
use shian_store::supervision::{FailedItem, FailedResult, NewNotification, NewOutbox};

use super::config::NotifyConfig;
use super::rules::Level;

/// What a notification about a new entry says.
pub(crate) struct Facts<'a> {
    pub result: &'a FailedResult,
    pub entry_id: i64,
    pub level: Level,
    pub owner: Option<&'a str>,
    pub deadline: i64,
    pub retest_due: Option<i64>,
}

fn pick(lang: Lang, zh: String, en: String) -> String {
    if lang == Lang::Zh { zh } else { en }
}

/// `市场 销售者（编码）` or the sampled buyer or producer.
fn subject(r: &FailedResult, lang: Lang) -> String {
    let who = match (&r.subject_name, &r.subject_code) {
        (Some(n), Some(c)) => pick(lang, format!("{n}（{c}）"), format!("{n} ({c})")),
        (Some(n), None) => n.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => String::new(),
    };
    match &r.market {
        Some(m) => format!("{} {who}", m.name).trim().to_string(),
        None => who,
    }
}

fn number(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn item_text(i: &FailedItem, lang: Lang) -> String {
    match (i.value, i.limit, i.result.as_deref()) {
        (_, _, Some("positive")) => pick(lang, format!("{} 阳性", i.item), format!("{} positive", i.item)),
        (Some(v), Some(l), _) if l > 0.0 => {
            let unit = i.unit.clone().unwrap_or_default();
            let (v, l) = (number(v), number(l));
            pick(lang, format!("{} {v}{unit}（限量 {l}）", i.item), format!("{} {v} {unit} (limit {l})", i.item))
        }
        (Some(v), Some(_), _) => {
            let (v, unit) = (number(v), i.unit.clone().unwrap_or_default());
            pick(lang, format!("{} 检出 {v}{unit}（不得检出）", i.item), format!("{} {v} {unit} (banned)", i.item))
        }
        (Some(v), None, _) => {
            pick(lang, format!("{} 抑制率 {}%", i.item, number(v)), format!("{} {}%", i.item, number(v)))
        }
        _ => i.item.clone(),
    }
}

fn items(r: &FailedResult, lang: Lang) -> String {
    let parts: Vec<String> = r.items.iter().map(|i| item_text(i, lang)).collect();
    parts.join(if lang == Lang::Zh { "；" } else { "; " })
}

fn what(r: &FailedResult, lang: Lang) -> &'static str {
    match (r.source_kind.as_str(), lang) {
        ("rapid_test", Lang::Zh) => "快检阳性",
        ("rapid_test", Lang::En) => "positive rapid test",
        (_, Lang::Zh) => "监督抽检不合格",
        (_, Lang::En) => "failed official sample",
    }
}

fn lot(r: &FailedResult, lang: Lang) -> String {
    match (&r.lot_code, lang) {
        (Some(l), Lang::Zh) => format!("（批次 {l}）"),
        (Some(l), Lang::En) => format!(" (lot {l})"),
        (None, _) => String::new(),
    }
}

impl Facts<'_> {
    pub fn title(&self) -> Msg {
        let r = self.result;
        let level = self.level.label();
        Msg::new(
            format!("【{}】不合格预警：{} {}", level.zh, subject(r, Lang::Zh), r.variety_name),
            format!("[{}] Failed result: {} {}", level.en, subject(r, Lang::En), r.variety_name),
        )
    }

    pub fn body(&self) -> Msg {
        Msg::new(self.body_in(Lang::Zh), self.body_in(Lang::En))
    }

    fn body_in(&self, lang: Lang) -> String {
        let r = self.result;
        let (who, lot, items) = (subject(r, lang), lot(r, lang), items(r, lang));
        let (key, variety, what, id) = (&r.key, &r.variety_name, what(r, lang), self.entry_id);
        let level = self.level.label();
        let deadline = time::format_datetime(self.deadline);
        let owner = self.owner.unwrap_or(if lang == Lang::Zh { "未指定" } else { "unassigned" });
        let mut text = match lang {
            Lang::Zh => format!(
                "{who} 的{variety}{lot}{what}（{key}）：{items}。已登记风险台账 #{id}（{}），责任人 {owner}，\
                 请于 {deadline} 前处置完毕。",
                level.zh
            ),
            Lang::En => format!(
                "{variety}{lot} of {who}: {what} ({key}): {items}. Risk-ledger entry #{id} ({}), owner {owner}; \
                 dispose of it by {deadline}.",
                level.en
            ),
        };
        if let Some(by) = self.retest_due {
            let by = time::format_datetime(by);
            text += &match lang {
                Lang::Zh => format!("货品须立即暂扣封存，并于 {by} 前以实验室方法复检。"),
                Lang::En => format!(" Hold the goods now and re-test by a laboratory method by {by}."),
            };
        }
        text
    }

    /// The same inbox message for each of `users`.
    pub fn inbox(&self, users: &[i64]) -> Vec<NewNotification> {
        let (title, body) = (self.title(), self.body());
        let one = |&user_id: &i64| NewNotification {
            user_id,
            reason: "failure".into(),
            title: title.zh.to_string(),
            title_en: title.en.to_string(),
            body: body.zh.to_string(),
            body_en: body.en.to_string(),
        };
        users.iter().map(one).collect()
    }

    fn payload(&self) -> serde_json::Value {
        let r = self.result;
        let items: Vec<_> = r
            .items
            .iter()
            .map(|i| json!({"item": i.item, "value": i.value, "unit": i.unit, "limit": i.limit, "result": i.result}))
            .collect();
        json!({
            "type": "shian.failed_result",
            "entry_id": self.entry_id,
            "level": self.level.code(),
            "source": r.source_kind,
            "key": r.key,
            "market": r.market.as_ref().map(|m| json!({"code": m.code, "name": m.name, "region": m.region})),
            "subject": {"kind": r.subject_kind, "code": r.subject_code, "name": r.subject_name},
            "variety": {"code": r.variety_code, "name": r.variety_name},
            "lot_code": r.lot_code,
            "items": items,
            "tested_at": r.tested_at,
            "owner": self.owner,
            "deadline": self.deadline,
            "retest_due": self.retest_due,
            "title": self.title().zh,
            "text": self.body().zh,
            "title_en": self.title().en,
            "text_en": self.body().en,
        })
    }

    /// The outbox messages for the configured channels; SMS only when someone has a phone.
    pub fn outbox(&self, cfg: &NotifyConfig, phones: &[String]) -> Vec<NewOutbox> {
        let mut out = Vec::new();
        if cfg.webhook_url.is_some() {
            out.push(NewOutbox {
                channel: "webhook".into(),
                recipients: None,
                subject: None,
                payload: self.payload().to_string(),
            });
        }
        if cfg.sms_webhook_url.is_some() && !phones.is_empty() {
            let text = format!("【食安】{}", self.body().zh);
            out.push(NewOutbox {
                channel: "sms".into(),
                recipients: Some(phones.join(",")),
                subject: None,
                payload: json!({"phones": phones, "text": text, "entry_id": self.entry_id}).to_string(),
            });
        }
        if let Some(smtp) = &cfg.smtp {
            let (title, body) = (self.title(), self.body());
            out.push(NewOutbox {
                channel: "email".into(),
                recipients: Some(smtp.to.join(",")),
                subject: Some(title.zh.to_string()),
                payload: format!("{}\n\n{}\n\n--\n{}\n{}", body.zh, title.en, body.en, "食安 Shian"),
            });
        }
        out
    }
}
