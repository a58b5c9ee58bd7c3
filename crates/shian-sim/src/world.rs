//! The standing world of the province: markets with their staff, vendors and what they sell,
//! producers in real producing areas, and downstream buyers. Written first, then kept in memory
//! for the year of trade.

use std::collections::HashMap;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use shian_domain::catalogue::{self, Variety};
use shian_domain::region::{self, Region};
use shian_domain::{Kind, Value, ids};
use shian_store::{Store, StoreError};

use crate::plan::Plan;
use crate::writer::{Sink, Writer};

/// Hebei's prefecture-level cities with their 2020 census population (millions), which decides
/// where markets and buyers are.
const CITY_WEIGHTS: [(&str, f64); 11] = [
    ("130100", 11.2),
    ("130200", 7.7),
    ("130300", 3.1),
    ("130400", 9.4),
    ("130500", 7.1),
    ("130600", 11.5),
    ("130700", 4.1),
    ("130800", 3.4),
    ("130900", 7.3),
    ("131000", 5.5),
    ("131100", 4.2),
];

/// Producing areas: (province code prefix, county-level name, variety code prefix, weight, first
/// month, last month). The longest matching variety prefix wins; months may wrap (11 → 4).
pub const ORIGINS: &[(&str, &str, &str, f64, u32, u32)] = &[
    ("37", "寿光市", "01", 4.0, 1, 12),
    ("13", "永年区", "01", 2.0, 3, 11),
    ("13", "饶阳县", "01", 2.0, 1, 12),
    ("13", "乐亭县", "01", 2.0, 1, 12),
    ("13", "定州市", "01", 1.0, 4, 10),
    ("13", "青县", "01", 1.0, 4, 10),
    ("13", "固安县", "01", 1.0, 4, 10),
    ("13", "藁城区", "01", 1.0, 1, 12),
    ("13", "张北县", "01", 2.0, 6, 9),
    ("13", "沽源县", "01", 1.0, 6, 9),
    ("37", "兰陵县", "01", 1.5, 1, 12),
    ("41", "中牟县", "01", 1.0, 1, 12),
    ("53", "元谋县", "01", 2.0, 11, 4),
    ("53", "通海县", "01", 1.0, 11, 4),
    ("46", "澄迈县", "01", 1.5, 11, 3),
    ("46", "乐东黎族自治县", "01", 1.5, 11, 3),
    ("13", "乐亭县", "010201", 2.0, 1, 12),
    ("13", "永年区", "010201", 2.0, 3, 11),
    ("37", "寿光市", "010201", 2.0, 1, 12),
    ("13", "饶阳县", "010201", 1.0, 1, 12),
    ("37", "章丘区", "010202", 4.0, 1, 12),
    ("13", "定州市", "010202", 1.0, 1, 12),
    ("37", "金乡县", "010204", 5.0, 1, 12),
    ("13", "鸡泽县", "010403", 3.0, 6, 11),
    ("13", "望都县", "010403", 2.0, 7, 11),
    ("37", "寿光市", "010403", 1.0, 1, 12),
    ("37", "寿光市", "010601", 2.0, 4, 10),
    ("13", "永年区", "010601", 1.0, 6, 9),
    ("46", "澄迈县", "010601", 2.0, 11, 4),
    ("46", "乐东黎族自治县", "010601", 1.0, 11, 4),
    ("13", "张北县", "010703", 3.0, 1, 12),
    ("13", "围场满族蒙古族自治县", "010703", 3.0, 1, 12),
    ("37", "栖霞市", "020101", 3.0, 1, 12),
    ("61", "洛川县", "020101", 2.0, 1, 12),
    ("13", "晋州市", "020102", 3.0, 1, 12),
    ("13", "辛集市", "020102", 1.0, 1, 12),
    ("37", "莱阳市", "020102", 1.0, 1, 12),
    ("13", "深州市", "020201", 3.0, 6, 9),
    ("11", "平谷区", "020201", 2.0, 6, 9),
    ("13", "赞皇县", "020202", 2.0, 9, 12),
    ("65", "若羌县", "020202", 2.0, 1, 12),
    ("37", "福山区", "020203", 2.0, 5, 6),
    ("13", "宣化区", "020301", 2.0, 8, 10),
    ("13", "昌黎县", "020301", 2.0, 8, 10),
    ("65", "高昌区", "020301", 2.0, 1, 12),
    ("13", "满城区", "020302", 3.0, 12, 5),
    ("42", "秭归县", "0204", 2.0, 1, 12),
    ("36", "寻乌县", "0204", 2.0, 10, 3),
    ("44", "徐闻县", "020501", 2.0, 1, 12),
    ("45", "右江区", "020502", 2.0, 1, 12),
    ("46", "陵水黎族自治县", "020502", 1.0, 1, 12),
    ("46", "东方市", "020503", 2.0, 1, 12),
    ("13", "新乐市", "020601", 3.0, 5, 8),
    ("46", "乐东黎族自治县", "020601", 2.0, 11, 4),
    ("65", "伊州区", "020602", 3.0, 1, 12),
    ("37", "栖霞市", "02", 1.0, 1, 12),
    ("13", "晋州市", "02", 1.0, 1, 12),
    ("13", "定州市", "0301", 2.0, 1, 12),
    ("13", "辛集市", "0301", 2.0, 1, 12),
    ("13", "玉田县", "0301", 2.0, 1, 12),
    ("41", "源汇区", "0301", 1.0, 1, 12),
    ("13", "定州市", "0304", 1.0, 1, 12),
    ("15", "科尔沁区", "0302", 3.0, 1, 12),
    ("15", "西乌珠穆沁旗", "0302", 2.0, 1, 12),
    ("13", "围场满族蒙古族自治县", "0302", 1.0, 1, 12),
    ("15", "西乌珠穆沁旗", "0303", 3.0, 1, 12),
    ("15", "苏尼特左旗", "0303", 2.0, 1, 12),
    ("13", "康保县", "0303", 1.0, 1, 12),
    ("37", "诸城市", "04", 2.0, 1, 12),
    ("13", "大厂回族自治县", "04", 1.0, 1, 12),
    ("13", "安新县", "0402", 2.0, 1, 12),
    ("13", "馆陶县", "05", 2.0, 1, 12),
    ("13", "平乡县", "05", 1.0, 1, 12),
    ("13", "安新县", "0502", 2.0, 1, 12),
    ("13", "安新县", "0601", 2.0, 1, 12),
    ("42", "洪湖市", "0601", 2.0, 1, 12),
    ("32", "兴化市", "0601", 1.0, 1, 12),
    ("35", "蕉城区", "060201", 3.0, 1, 12),
    ("33", "岱山县", "060202", 3.0, 1, 12),
    ("13", "黄骅市", "060301", 2.0, 1, 12),
    ("13", "曹妃甸区", "060301", 2.0, 1, 12),
    ("32", "兴化市", "060302", 2.0, 8, 12),
    ("21", "长海县", "0604", 2.0, 1, 12),
    ("13", "乐亭县", "0604", 1.0, 1, 12),
    ("13", "定州市", "07", 1.0, 6, 10),
    ("13", "藁城区", "07", 1.0, 6, 10),
];

/// How much people eat of a variety, relative to 1 (decides what vendors list).
fn popularity(code: &str) -> f64 {
    match code {
        "0301" => 6.0,
        "010104" | "010703" | "010401" | "010501" | "0501" => 3.0,
        "010101" | "010201" | "010601" | "010202" | "0401" | "020101" | "060101" | "0302" | "0303" => 2.0,
        _ => 1.0,
    }
}

/// Share of vendors by main category.
const CATEGORY_MIX: [(&str, f64); 7] =
    [("01", 0.50), ("02", 0.15), ("03", 0.12), ("04", 0.06), ("05", 0.05), ("06", 0.10), ("07", 0.02)];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马",
    "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾",
    "彭", "吕",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "秀兰", "霞", "平", "刚", "桂英", "建国", "建华", "国强", "玉兰", "志强", "海燕", "春梅", "立新", "红梅", "保国",
    "振华", "金凤",
];
const STREETS: &[&str] = &[
    "新华", "建设", "胜利", "和平", "人民", "中山", "裕华", "东风", "光明", "幸福", "朝阳", "振兴", "团结", "长征",
    "民主", "北关", "南关", "西关", "东关", "城南", "育才", "友谊", "红旗", "富强", "金桥",
];
const BRANDS: &[&str] = &[
    "北国",
    "保百",
    "信誉楼",
    "家乐福",
    "永辉",
    "物美",
    "华润万家",
    "沃尔玛",
    "国大",
    "美食林",
    "乐汇",
    "惠友",
    "东购",
    "世纪联华",
    "大润发",
    "盒马",
    "万达",
    "旺角",
    "德惠",
    "乐购",
    "联邦",
    "卓达",
    "兴隆",
    "好又多",
    "金后",
    "华联",
    "百信",
    "天洋",
    "福成",
    "新一佳",
    "佳惠",
    "利客来",
    "苏果",
    "华堂",
    "易初",
    "京客隆",
    "超市发",
    "首航",
    "翠微",
    "美廉美",
    "家家福",
    "一品",
    "鑫盛",
    "汇丰",
    "宏源",
    "裕丰",
    "丰华",
    "万家福",
];

pub struct MarketW {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub city: usize,
    pub wholesale: bool,
    /// Share of days on which the market files its daily record.
    pub diligence: f64,
    pub director: String,
}

pub struct VendorW {
    pub id: i64,
    pub code: String,
    pub market: usize,
    pub wholesale: bool,
    pub listings: Vec<usize>,
    /// How much trade the vendor does, relative to 1.
    pub activity: f64,
}

pub struct VarietyW {
    pub id: i64,
    pub v: &'static Variety,
    /// Producing areas as (origin index, weight, months bit mask).
    pub origins: Vec<(usize, f64, u16)>,
}

pub struct OriginW {
    pub region: &'static Region,
    pub producers: Vec<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuyerKind {
    Supermarket,
    Restaurant,
    Canteen,
}

pub struct BuyerW {
    pub id: i64,
    pub kind: BuyerKind,
    pub city: usize,
}

/// Everything the year of trade needs to know about the standing world.
pub struct World {
    pub cities: Vec<&'static Region>,
    pub markets: Vec<MarketW>,
    pub vendors: Vec<VendorW>,
    pub varieties: Vec<VarietyW>,
    pub origins: Vec<OriginW>,
    pub buyers: Vec<BuyerW>,
    /// Vendors selling a variety: (wholesale?, variety) → vendor indexes.
    pub sellers: HashMap<(bool, usize), Vec<usize>>,
    /// Retail vendors selling a variety in a city.
    pub retail_in_city: HashMap<(usize, usize), Vec<usize>>,
    pub buyers_in_city: HashMap<(BuyerKind, usize), Vec<usize>>,
}

impl World {
    pub fn vendor_city(&self, v: usize) -> usize {
        self.markets[self.vendors[v].market].city
    }
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

pub fn person(rng: &mut ChaCha8Rng) -> String {
    format!("{}{}", SURNAMES.choose(rng).expect("names"), GIVEN.choose(rng).expect("names"))
}

pub fn phone(rng: &mut ChaCha8Rng) -> String {
    format!("1{}{:09}", ["3", "5", "8"].choose(rng).expect("prefix"), rng.random_range(0..1_000_000_000u64))
}

/// A unified social credit code with a correct check character.
pub fn uscc(rng: &mut ChaCha8Rng, kind: &str, region: &str) -> String {
    const ALPHA: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let org: String = (0..9).map(|_| *ALPHA.choose(rng).expect("alphabet") as char).collect();
    let body = format!("{kind}{region}{org}");
    let check = ids::uscc_check_char(&body).expect("alphabet is valid");
    format!("{body}{check}")
}

/// A resident identity number with a correct check character.
pub fn id_number(rng: &mut ChaCha8Rng, region: &str) -> String {
    let body = format!(
        "{region}{}{:02}{:02}{:03}",
        rng.random_range(1955..2000),
        rng.random_range(1..13),
        rng.random_range(1..29),
        rng.random_range(0..1000)
    );
    let check = ids::id_check_char(&body).expect("digits");
    format!("{body}{check}")
}

/// An unguessable-looking public token (deterministic here, from the simulator's seed).
pub fn token(rng: &mut ChaCha8Rng) -> String {
    const ALPHA: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    (0..16).map(|_| *ALPHA.choose(rng).expect("alphabet") as char).collect()
}

/// Spreads `n` over weights by largest remainder, so the parts add up to exactly `n`.
pub fn apportion(n: usize, weights: &[f64]) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| n as f64 * w / total).collect();
    let mut parts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let short = n - parts.iter().sum::<usize>();
    for &i in order.iter().take(short) {
        parts[i] += 1;
    }
    parts
}

/// The county-level division named `name` in the province with code prefix `province`.
pub fn find_region(province: &str, name: &str) -> Option<&'static Region> {
    region::all().iter().find(|r| r.level == region::Level::County && r.code.starts_with(province) && r.name == name)
}

fn months_mask(from: u32, to: u32) -> u16 {
    let mut mask = 0u16;
    let mut m = from;
    loop {
        mask |= 1 << (m - 1);
        if m == to {
            return mask;
        }
        m = m % 12 + 1;
    }
}

pub fn build(store: &mut dyn Store, plan: &Plan, rng: &mut ChaCha8Rng) -> Result<World, StoreError> {
    let cities: Vec<&'static Region> =
        CITY_WEIGHTS.iter().map(|(c, _)| region::by_code(c).expect("Hebei city codes are in the table")).collect();
    let varieties = varieties(store)?;
    let ids = crate::writer::next_ids(store)?;
    let mut w = Writer::new(store, ids);
    let markets = markets(&mut w, plan, &cities, rng)?;
    let vendors = vendors(&mut w, plan, &markets, &varieties, rng)?;
    let origins = producers(&mut w, plan, rng)?;
    let buyers = buyers(&mut w, plan, &cities, rng)?;
    let (expected, store) = w.finish()?;
    crate::writer::check(store, &expected)?;
    let varieties = attach_origins(varieties, &origins);
    let mut world = World {
        cities,
        markets,
        vendors,
        varieties,
        origins,
        buyers,
        sellers: HashMap::new(),
        retail_in_city: HashMap::new(),
        buyers_in_city: HashMap::new(),
    };
    for (i, v) in world.vendors.iter().enumerate() {
        for &var in &v.listings {
            world.sellers.entry((v.wholesale, var)).or_default().push(i);
            if !v.wholesale {
                world.retail_in_city.entry((var, world.markets[v.market].city)).or_default().push(i);
            }
        }
    }
    for (i, b) in world.buyers.iter().enumerate() {
        world.buyers_in_city.entry((b.kind, b.city)).or_default().push(i);
    }
    Ok(world)
}

fn varieties(store: &mut dyn Store) -> Result<Vec<VarietyW>, StoreError> {
    let tradable: Vec<&'static Variety> = catalogue::varieties().iter().filter(|v| v.is_tradable()).collect();
    let codes: Vec<&str> = tradable.iter().map(|v| v.code).collect();
    let ids: HashMap<String, i64> = store.resolve(Kind::Variety, &codes)?.into_iter().collect();
    Ok(tradable.into_iter().map(|v| VarietyW { id: ids[v.code], v, origins: Vec::new() }).collect())
}

fn attach_origins(mut varieties: Vec<VarietyW>, origins: &[OriginW]) -> Vec<VarietyW> {
    for var in &mut varieties {
        let matching: Vec<_> = ORIGINS.iter().filter(|o| var.v.code.starts_with(o.2)).collect();
        let longest = matching.iter().map(|o| o.2.len()).max().unwrap_or(0);
        for o in matching.into_iter().filter(|o| o.2.len() == longest) {
            let idx = origins.iter().position(|x| x.region.name == o.1 && x.region.code.starts_with(o.0));
            if let Some(idx) = idx {
                var.origins.push((idx, o.3, months_mask(o.4, o.5)));
            }
        }
    }
    varieties
}

fn markets(
    w: &mut Writer<impl Sink>,
    plan: &Plan,
    cities: &[&'static Region],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<MarketW>, StoreError> {
    let weights: Vec<f64> = CITY_WEIGHTS.iter().map(|c| c.1).collect();
    let per_city = apportion(plan.markets, &weights);
    let wholesale_per_city = apportion(plan.wholesale_markets, &weights);
    let mut out = Vec::new();
    for (ci, city) in cities.iter().enumerate() {
        let counties: Vec<&'static Region> = region::children(city.code).collect();
        for k in 0..per_city[ci] {
            let county = counties[(k * 7 + ci) % counties.len()];
            let wholesale = k < wholesale_per_city[ci];
            let short = city.name.trim_end_matches('市');
            let street = STREETS[(k + ci * 3) % STREETS.len()];
            let round = k / STREETS.len();
            let name = match (wholesale, round) {
                (true, _) => format!("{short}{}{street}农产品批发市场", county.name),
                (false, 0) => format!("{}{street}农贸市场", county.name),
                (false, r) => format!("{}{street}第{}农贸市场", county.name, r + 1),
            };
            let code = format!("M{}{:03}", &city.code[..4], k + 1);
            let (lon, lat) = city.centre.unwrap_or((115.0, 38.0));
            let director = person(rng);
            let id = w.push_named(
                Kind::Market,
                &[
                    ("code", text(&code)),
                    ("name", text(&name)),
                    ("market_kind", text(if wholesale { "wholesale" } else { "farmers" })),
                    ("region", text(county.code)),
                    ("address", text(format!("{}{}{street}路{}号", city.name, county.name, rng.random_range(1..300)))),
                    ("lon", Value::Real(round6(lon + rng.random_range(-0.25..0.25)))),
                    ("lat", Value::Real(round6(lat + rng.random_range(-0.2..0.2)))),
                    ("operator", text(format!("{name}管理有限公司"))),
                    ("operator_credit_code", text(uscc(rng, "91", county.code))),
                    ("opened_on", text(format!("{}-{:02}-01", rng.random_range(1995..2022), rng.random_range(1..13)))),
                    ("status", text("open")),
                ],
            )?;
            staff(w, &code, id, county, &director, wholesale, rng)?;
            out.push(MarketW {
                id,
                code,
                name,
                city: ci,
                wholesale,
                diligence: rng.random_range(0.80..0.995),
                director,
            });
        }
    }
    Ok(out)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn staff(
    w: &mut Writer<impl Sink>,
    market: &str,
    market_id: i64,
    county: &Region,
    director: &str,
    wholesale: bool,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let mut people = vec![("director", director.to_string(), "市场食品安全总监".to_string())];
    people.push(("manager", person(rng), "市场负责人".to_string()));
    for _ in 0..if wholesale { 4 } else { 2 } {
        people.push(("officer", person(rng), "食品安全员".to_string()));
    }
    let titles = ["市场监督管理局副局长", "市场监督管理所所长", "人民政府副县（区）长", "街道办事处副主任"];
    for t in titles.iter().take(if wholesale { 2 } else { 1 }) {
        people.push(("assigned_official", person(rng), format!("{}{t}", county.name)));
    }
    for (i, (role, name, org)) in people.into_iter().enumerate() {
        w.push_named(
            Kind::MarketStaff,
            &[
                ("code", text(format!("{market}-S{:02}", i + 1))),
                ("market", Value::Int(market_id)),
                ("role", text(role)),
                ("name", text(name)),
                ("phone", text(phone(rng))),
                ("organisation", text(org)),
                ("appointed_on", text(format!("{}-{:02}-15", rng.random_range(2020..2026), rng.random_range(1..13)))),
                ("active", Value::Int(1)),
            ],
        )?;
    }
    Ok(())
}

fn pick_weighted<T>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> usize {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut x = rng.random_range(0.0..total);
    for (i, item) in items.iter().enumerate() {
        if x < item.1 {
            return i;
        }
        x -= item.1;
    }
    items.len() - 1
}

fn vendors(
    w: &mut Writer<impl Sink>,
    plan: &Plan,
    markets: &[MarketW],
    varieties: &[VarietyW],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<VendorW>, StoreError> {
    let weights: Vec<f64> = markets.iter().map(|m| if m.wholesale { 3.0 } else { 1.0 }).collect();
    let per_market = apportion(plan.vendors, &weights);
    let mut out: Vec<VendorW> = Vec::with_capacity(plan.vendors);
    let mut categories = Vec::with_capacity(plan.vendors);
    for (mi, m) in markets.iter().enumerate() {
        for k in 0..per_market[mi] {
            let cat = CATEGORY_MIX[pick_weighted(rng, &CATEGORY_MIX)].0;
            categories.push(cat);
            out.push(VendorW {
                id: 0,
                code: format!("{}-{:03}", m.code, k + 1),
                market: mi,
                wholesale: m.wholesale,
                listings: Vec::new(),
                activity: rng.random_range(0.3..1.7),
            });
        }
    }
    // Every vendor sells at least one variety of its category; the rest of the listings go to
    // vendors at random, favouring what people eat most.
    let by_cat = |cat: &str| -> Vec<(usize, f64)> {
        varieties
            .iter()
            .enumerate()
            .filter(|(_, v)| v.v.category() == cat)
            .map(|(i, v)| (i, popularity(v.v.code)))
            .collect()
    };
    let options: HashMap<&str, Vec<(usize, f64)>> = CATEGORY_MIX.iter().map(|(c, _)| (*c, by_cat(c))).collect();
    let mut listed = 0;
    for (v, cat) in out.iter_mut().zip(&categories) {
        let opts = &options[cat];
        v.listings.push(opts[pick_weighted(rng, opts)].0);
        listed += 1;
    }
    let mut attempts = 0;
    while listed < plan.listings && attempts < plan.listings * 20 {
        attempts += 1;
        let vi = rng.random_range(0..out.len());
        let opts = &options[categories[vi]];
        let var = opts[pick_weighted(rng, opts)].0;
        if !out[vi].listings.contains(&var) {
            out[vi].listings.push(var);
            listed += 1;
        }
    }
    for v in out.iter_mut() {
        let m = &markets[v.market];
        let county = format!("13{}", &m.code[3..5]);
        let kind = match rng.random_range(0..10) {
            0 => "enterprise",
            1..=3 => "individual_business",
            _ => "person",
        };
        let owner = person(rng);
        let main = varieties[v.listings[0]].v;
        let (name, credit) = match kind {
            "enterprise" => (
                format!("河北{}{}农产品有限公司", owner, STREETS.choose(rng).expect("s")),
                uscc(rng, "91", &format!("{county}00")),
            ),
            "individual_business" => (format!("{}{}经营部", owner, main.name), uscc(rng, "92", &format!("{county}00"))),
            _ => (owner.clone(), id_number(rng, &format!("{county}00"))),
        };
        let start_year = rng.random_range(2023..2027);
        let start = format!("{start_year}-{:02}-01", rng.random_range(1..12));
        let end_year = start_year + rng.random_range(1..3);
        let end = format!("{end_year}{}", &start[4..]);
        let left = rng.random_bool(0.02);
        let status = if left {
            "terminated"
        } else if end.as_str() < "2026-11-30" {
            "expired"
        } else {
            "in_force"
        };
        let scope: Vec<&str> = v.listings.iter().map(|&i| varieties[i].v.name).collect();
        let stall = format!("{}-{:03}", ["A", "B", "C", "D"].choose(rng).expect("row"), rng.random_range(1..400));
        v.id = w.push_named(
            Kind::Vendor,
            &[
                ("code", text(&v.code)),
                ("market", Value::Int(m.id)),
                ("stall", text(stall)),
                ("name", text(name)),
                ("subject_kind", text(kind)),
                ("credit_code", text(credit)),
                ("contact", text(owner)),
                ("phone", text(phone(rng))),
                ("business_scope", text(format!("{}{}", scope.join("、"), if v.wholesale { "批发" } else { "零售" }))),
                ("agreement_no", text(format!("XY{}{:04}", &m.code[1..], rng.random_range(1..10_000)))),
                ("agreement_start", text(start)),
                ("agreement_end", text(end)),
                ("agreement_status", text(status)),
                ("qr_token", text(token(rng))),
                ("status", text(if left { "left" } else { "active" })),
            ],
        )?;
        for &var in &v.listings {
            let origin = ORIGINS
                .iter()
                .rev()
                .find(|o| varieties[var].v.code.starts_with(o.2))
                .and_then(|o| find_region(o.0, o.1));
            w.push_named(
                Kind::VendorVariety,
                &[
                    ("vendor", Value::Int(v.id)),
                    ("variety", Value::Int(varieties[var].id)),
                    ("since", text(format!("{}-{:02}-01", rng.random_range(2018..2026), rng.random_range(1..13)))),
                    ("usual_origin", origin.map(|r| text(r.code)).unwrap_or(Value::Null)),
                ],
            )?;
        }
    }
    Ok(out)
}

fn producers(w: &mut Writer<impl Sink>, plan: &Plan, rng: &mut ChaCha8Rng) -> Result<Vec<OriginW>, StoreError> {
    let mut regions: Vec<(&'static Region, f64)> = Vec::new();
    for o in ORIGINS {
        let r =
            find_region(o.0, o.1).unwrap_or_else(|| panic!("origin {} {} is not a county-level division", o.0, o.1));
        match regions.iter_mut().find(|(x, _)| x.code == r.code) {
            Some((_, weight)) => *weight += o.3,
            None => regions.push((r, o.3)),
        }
    }
    let weights: Vec<f64> = regions.iter().map(|r| r.1).collect();
    let counts = apportion(plan.producers.max(regions.len()), &weights);
    let mut out = Vec::new();
    let mut n = 0;
    for ((r, _), count) in regions.iter().zip(counts) {
        let mut ids = Vec::new();
        for _ in 0..count.max(1) {
            n += 1;
            let owner = person(rng);
            let street = STREETS.choose(rng).expect("s");
            let (kind, name, credit) = match rng.random_range(0..20) {
                0..=1 => ("enterprise", format!("{}{street}农业科技有限公司", r.name), uscc(rng, "91", r.code)),
                2..=8 => ("cooperative", format!("{}{owner}种养殖专业合作社", r.name), uscc(rng, "93", r.code)),
                9..=13 => ("family_farm", format!("{}{owner}家庭农场", r.name), uscc(rng, "92", r.code)),
                _ => ("individual", owner.clone(), id_number(rng, r.code)),
            };
            let id = w.push_named(
                Kind::Producer,
                &[
                    ("code", text(format!("P{}{:04}", r.code, ids.len() + 1))),
                    ("name", text(name)),
                    ("producer_kind", text(kind)),
                    ("credit_code", text(credit)),
                    ("region", text(r.code)),
                    ("address", text(format!("{}{street}村", r.name))),
                    ("contact", text(owner)),
                    ("phone", text(phone(rng))),
                ],
            )?;
            ids.push(id);
        }
        out.push(OriginW { region: r, producers: ids });
    }
    debug_assert!(n >= out.len());
    Ok(out)
}

fn buyers(
    w: &mut Writer<impl Sink>,
    plan: &Plan,
    cities: &[&'static Region],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<BuyerW>, StoreError> {
    let weights: Vec<f64> = CITY_WEIGHTS.iter().map(|c| c.1).collect();
    let mut out = Vec::new();
    let mut chains = Vec::new();
    for (i, brand) in BRANDS.iter().cycle().take(plan.supermarket_chains).enumerate() {
        let city = cities[i % cities.len()];
        let id = w.push_named(
            Kind::Buyer,
            &[
                ("code", text(format!("BH{:03}", i + 1))),
                ("buyer_kind", text("supermarket_hq")),
                ("name", text(format!("{brand}超市连锁有限公司"))),
                ("region", text(city.code)),
                ("credit_code", text(uscc(rng, "91", city.code))),
            ],
        )?;
        chains.push((id, *brand));
    }
    let stores = apportion(plan.supermarket_stores, &weights);
    let eateries = apportion(plan.restaurants_canteens, &weights);
    let canteen_kinds = [
        ("school", "学校食堂", 40.0),
        ("kindergarten", "幼儿园食堂", 10.0),
        ("enterprise", "企业职工食堂", 25.0),
        ("hospital", "医院食堂", 10.0),
        ("government", "机关食堂", 8.0),
        ("elderly_care", "养老院食堂", 5.0),
        ("construction_site", "工地食堂", 2.0),
    ];
    let (mut s, mut e) = (0, 0);
    for (ci, city) in cities.iter().enumerate() {
        let counties: Vec<&'static Region> = region::children(city.code).collect();
        for _ in 0..stores[ci] {
            s += 1;
            let (chain, brand) = *chains.choose(rng).expect("at least one chain");
            let county = counties.choose(rng).expect("counties");
            let id = w.push_named(
                Kind::Buyer,
                &[
                    ("code", text(format!("BS{s:05}"))),
                    ("buyer_kind", text("supermarket")),
                    ("name", text(format!("{brand}超市（{}{}店）", county.name, STREETS.choose(rng).expect("s")))),
                    ("chain", Value::Int(chain)),
                    ("region", text(county.code)),
                    (
                        "address",
                        text(format!(
                            "{}{}{}路{}号",
                            city.name,
                            county.name,
                            STREETS.choose(rng).expect("s"),
                            rng.random_range(1..500)
                        )),
                    ),
                    ("contact", text(person(rng))),
                    ("phone", text(phone(rng))),
                ],
            )?;
            out.push(BuyerW { id, kind: BuyerKind::Supermarket, city: ci });
        }
        for k in 0..eateries[ci] {
            e += 1;
            let county = counties.choose(rng).expect("counties");
            let canteen = rng.random_bool(0.4);
            let (kind, sub, name) = if canteen {
                let c = canteen_kinds[pick_weighted(rng, &canteen_kinds.map(|c| ((c.0, c.1), c.2)))];
                ("canteen", text(c.0), format!("{}{}{}", county.name, STREETS.choose(rng).expect("s"), c.1))
            } else {
                (
                    "restaurant",
                    Value::Null,
                    format!("{}{}家常菜馆（{}店）", person(rng), ["老", "鸿", "福"][k % 3], county.name),
                )
            };
            let id = w.push_named(
                Kind::Buyer,
                &[
                    ("code", text(format!("BC{e:05}"))),
                    ("buyer_kind", text(kind)),
                    ("canteen_kind", sub),
                    ("name", text(name)),
                    ("region", text(county.code)),
                    ("contact", text(person(rng))),
                    ("phone", text(phone(rng))),
                ],
            )?;
            out.push(BuyerW { id, kind: if canteen { BuyerKind::Canteen } else { BuyerKind::Restaurant }, city: ci });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_origin_is_a_real_county_level_division() {
        for o in ORIGINS {
            assert!(find_region(o.0, o.1).is_some(), "{} {} not found", o.0, o.1);
        }
    }

    #[test]
    fn apportion_adds_up_exactly() {
        assert_eq!(apportion(8, &[11.2, 7.7, 3.1, 9.4, 7.1, 11.5, 4.1, 3.4, 7.3, 5.5, 4.2]).iter().sum::<usize>(), 8);
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
    }

    #[test]
    fn winter_months_wrap() {
        assert_eq!(months_mask(11, 2), 0b1100_0000_0011);
    }
}
