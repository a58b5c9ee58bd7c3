//! What supervision produces each day, drawn from the day's lots and the hidden truth: rapid
//! tests, official samples with their items, the markets' routine records, complaints,
//! inspections and enforcement cases.

use chrono::{Datelike, Weekday};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use shian_domain::catalogue::{self, ItemClass};
use shian_domain::{Kind, Value};
use shian_store::StoreError;

use crate::flow::{ChannelSink, Counters, Day, Lot, text};
use crate::world::person;
use crate::writer::Writer;

pub(crate) fn rapid_test(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    lot: &Lot,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let world = day.world;
    let var = world.varieties[lot.variety].v;
    c.rapid += 1;
    let (item, method) = match var.category() {
        "03" => (["clenbuterol", "ractopamine"][rng.random_range(0..2)], "colloidal_gold"),
        "04" => ("enrofloxacin", "colloidal_gold"),
        "05" => ("florfenicol", "colloidal_gold"),
        "06" => ("malachite_green", "colloidal_gold"),
        _ => ("有机磷和氨基甲酸酯类农药", "enzyme_inhibition"),
    };
    let (value, result) = if method == "enzyme_inhibition" {
        let p = day.truth.p_enzyme_positive(world, lot.origin, var.code, lot.vendor, day.date);
        let rate = if rng.random_bool(p) { rng.random_range(50.0..92.0) } else { rng.random_range(0.0..45.0) };
        (Value::Real((rate * 10.0_f64).round() / 10.0), Value::Null)
    } else {
        let t = catalogue::test_items().iter().find(|t| t.code == item).expect("rapid items are catalogued");
        let p = day.truth.p_fail(world, lot.origin, var.code, t, lot.vendor, day.date);
        (Value::Null, text(if rng.random_bool(p) { "positive" } else { "negative" }))
    };
    let item_name = catalogue::test_items().iter().find(|t| t.code == item).map(|t| t.name).unwrap_or(item);
    let mut row = shian_store::row(
        Kind::RapidTest,
        &[
            ("test_no", text(format!("KJ{:09}", c.rapid))),
            ("market", Value::Int(world.markets[world.vendors[lot.vendor].market].id)),
            ("vendor", Value::Int(world.vendors[lot.vendor].id)),
            ("variety", Value::Int(world.varieties[lot.variety].id)),
            ("lot_code", text(&lot.code)),
            ("item", text(item_name)),
            ("method", text(method)),
            ("value", value),
            ("result", result),
            ("tested_at", Value::Int(lot.at + rng.random_range(600..7200))),
            ("tester", text(person(rng))),
        ],
    );
    Kind::RapidTest.def().derive(&mut row).map_err(|(f, e)| StoreError::Invalid(format!("{f}: {e}")))?;
    w.push(Kind::RapidTest, row)?;
    Ok(())
}

const LABS: &[&str] = &[
    "河北省食品检验研究院",
    "石家庄市食品药品检验中心",
    "唐山市食品药品综合检验检测中心",
    "保定市食品检验检测中心",
    "邯郸市食品药品检验中心",
    "沧州市食品检验检测中心",
];

pub(crate) fn sample(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    lot: &Lot,
    at_supermarket: Option<(i64, String, usize, usize)>,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let world = day.world;
    c.samples += 1;
    let sample_no = format!("CJ{}{:07}", day.date.year() % 100, c.samples);
    let (subject_kind, subject, market, variety, lot_code, origin) = match &at_supermarket {
        Some((buyer, code, variety, origin)) => ("buyer", *buyer, Value::Null, *variety, code.clone(), *origin),
        None => {
            let market = Value::Int(world.markets[world.vendors[lot.vendor].market].id);
            ("vendor", world.vendors[lot.vendor].id, market, lot.variety, lot.code.clone(), lot.origin)
        }
    };
    let var = world.varieties[variety].v;
    let sample_id = w.push_named(
        Kind::Sample,
        &[
            ("sample_no", text(&sample_no)),
            ("subject_kind", text(subject_kind)),
            ("subject", Value::Int(subject)),
            ("market", market),
            ("variety", Value::Int(world.varieties[variety].id)),
            ("lot_code", text(lot_code)),
            ("sampled_on", day.date_text(0)),
            ("sampler", text(format!("{}市场监督管理局", world.cities[world.vendor_city(lot.vendor)].name))),
            ("lab", text(*LABS.choose(rng).expect("labs"))),
            ("report_no", text(format!("BG{}{:07}", day.date.year(), c.samples))),
            ("reported_on", day.date_text(rng.random_range(5..12))),
            ("plan", text(format!("{}年食用农产品监督抽检计划", day.date.year()))),
        ],
    )?;
    for item in catalogue::items_for(var.code) {
        let p = day.truth.p_fail(world, origin, var.code, item, lot.vendor, day.date);
        let value = if rng.random_bool(p) {
            let limit = if item.limit_mg_kg > 0.0 { item.limit_mg_kg } else { 0.001 };
            Value::Real(((limit * rng.random_range(1.2..8.0)) * 1e4).round() / 1e4)
        } else if item.limit_mg_kg > 0.0 && rng.random_bool(0.3) {
            Value::Real(((item.limit_mg_kg * rng.random_range(0.05..0.8)) * 1e4).round() / 1e4)
        } else {
            Value::Null
        };
        let mut row = shian_store::row(
            Kind::SampleItem,
            &[
                ("sample", Value::Int(sample_id)),
                ("item", text(item.name)),
                ("value", value),
                ("unit", text("mg/kg")),
                ("limit", Value::Real(item.limit_mg_kg)),
                (
                    "method",
                    text(if item.class == ItemClass::Pesticide { "GB 23200.113-2018" } else { "GB 31658 系列" }),
                ),
            ],
        );
        Kind::SampleItem.def().derive(&mut row).map_err(|(f, e)| StoreError::Invalid(format!("{f}: {e}")))?;
        w.push(Kind::SampleItem, row)?;
    }
    Ok(())
}

pub(crate) fn routine(w: &mut Writer<ChannelSink>, day: &Day, rng: &mut ChaCha8Rng) -> Result<(), StoreError> {
    for m in &day.world.markets {
        let mut periods = vec![("daily", 12)];
        if day.date.weekday() == Weekday::Mon {
            periods.push(("weekly", 25));
        }
        if day.date.day() == 1 {
            periods.push(("monthly", 40));
        }
        for (period, items) in periods {
            if !rng.random_bool(m.diligence) {
                continue;
            }
            let problems = if rng.random_bool(0.2) { rng.random_range(1..4) } else { 0 };
            let summary = if problems == 0 {
                "检查未发现问题".to_string()
            } else {
                format!("发现{problems}项问题：进货查验记录不全、快检公示未及时更新，已督促整改")
            };
            w.push_named(
                Kind::RoutineRecord,
                &[
                    ("market", Value::Int(m.id)),
                    ("period", text(period)),
                    ("period_start", day.date_text(0)),
                    ("performed_by", text(&m.director)),
                    ("items_checked", Value::Int(items)),
                    ("problems", Value::Int(problems)),
                    ("summary", text(summary)),
                    ("recorded_at", Value::Int(day.at(rng.random_range(17.0..21.0)))),
                ],
            )?;
        }
    }
    Ok(())
}

fn any_vendor(day: &Day, rng: &mut ChaCha8Rng) -> usize {
    rng.random_range(0..day.world.vendors.len())
}

pub(crate) fn complaint(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let world = day.world;
    c.complaints += 1;
    let v = any_vendor(day, rng);
    let vendor = &world.vendors[v];
    let variety = &world.varieties[*vendor.listings.choose(rng).expect("listings")];
    let templates = [
        "购买的{}有刺鼻气味，怀疑农药残留超标",
        "在该摊位购买的{}缺斤短两",
        "{}摊位未公示快检结果",
        "购买的{}已变质",
        "{}来源不明，摊主无法提供合格证",
    ];
    let content = templates.choose(rng).expect("templates").replace("{}", variety.v.name);
    let status = ["received", "investigating", "upheld", "rejected", "closed"][rng.random_range(0..5)];
    let replied = matches!(status, "upheld" | "rejected" | "closed");
    w.push_named(
        Kind::Complaint,
        &[
            ("complaint_no", text(format!("TS{}{:06}", day.date.year(), c.complaints))),
            ("channel", text(["hotline_12315", "platform", "qr", "letter_visit"][rng.random_range(0..4)])),
            ("received_at", Value::Int(day.at(rng.random_range(8.0..20.0)))),
            ("market", Value::Int(world.markets[vendor.market].id)),
            ("vendor", Value::Int(vendor.id)),
            ("variety", Value::Int(variety.id)),
            ("content", text(content)),
            ("status", text(status)),
            ("reply", if replied { text("已核查处理并答复投诉人") } else { Value::Null }),
            ("replied_on", if replied { day.date_text(rng.random_range(1..10)) } else { Value::Null }),
        ],
    )?;
    Ok(())
}

pub(crate) fn inspection(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let world = day.world;
    c.inspections += 1;
    let v = any_vendor(day, rng);
    let market = &world.markets[world.vendors[v].market];
    let problems = if rng.random_bool(0.3) { rng.random_range(1..4) } else { 0 };
    w.push_named(
        Kind::Inspection,
        &[
            ("inspection_no", text(format!("JC{}{:06}", day.date.year(), c.inspections))),
            ("market", Value::Int(market.id)),
            ("vendor", if rng.random_bool(0.6) { Value::Int(world.vendors[v].id) } else { Value::Null }),
            ("inspected_on", day.date_text(0)),
            ("inspector", text(format!("{}、{}", person(rng), person(rng)))),
            ("inspection_kind", text(["routine", "special", "joint"][rng.random_range(0..3)])),
            ("problems", Value::Int(problems)),
            (
                "findings",
                text(if problems == 0 {
                    "未发现问题"
                } else {
                    "进货查验记录不完整，部分商品未索取合格证"
                }),
            ),
            ("rectification", if problems == 0 { Value::Null } else { text("责令限期整改") }),
            (
                "status",
                text(if problems == 0 {
                    "no_issue"
                } else if rng.random_bool(0.7) {
                    "rectified"
                } else {
                    "rectifying"
                }),
            ),
        ],
    )?;
    Ok(())
}

pub(crate) fn case(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let world = day.world;
    c.cases += 1;
    let v = any_vendor(day, rng);
    let vendor = &world.vendors[v];
    let variety = world.varieties[vendor.listings[0]].v.name;
    let (violation, basis) = [
        (format!("销售农药残留超标的{variety}"), "《中华人民共和国食品安全法》第一百二十四条"),
        ("未履行进货查验和记录义务".to_string(), "《中华人民共和国食品安全法》第一百二十六条"),
        (format!("销售来源不明的{variety}"), "《食用农产品市场销售质量安全监督管理办法》第四十八条"),
    ][rng.random_range(0..3)]
    .clone();
    let status = ["open", "decided", "closed"][rng.random_range(0..3)];
    w.push_named(
        Kind::Case,
        &[
            ("case_no", text(format!("AJ{}{:05}", day.date.year(), c.cases))),
            ("market", Value::Int(world.markets[vendor.market].id)),
            ("vendor", Value::Int(vendor.id)),
            ("opened_on", day.date_text(0)),
            ("violation", text(violation)),
            ("legal_basis", text(basis)),
            ("penalty", if status == "open" { Value::Null } else { Value::Int(rng.random_range(5..200) * 100_000) }),
            ("status", text(status)),
            ("closed_on", if status == "closed" { day.date_text(rng.random_range(20..90)) } else { Value::Null }),
        ],
    )?;
    Ok(())
}
