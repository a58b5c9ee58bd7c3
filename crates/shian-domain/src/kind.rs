//! The record kinds Shian stores, described once.
//!
//! Each [`KindDef`] names its table, its natural key (the columns that identify a record across
//! systems and re-imports) and its fields with Chinese and English names. Storage derives its SQL
//! from these definitions, import and export their columns, and `shian schema` the written data
//! standard (`docs/data-standard.md`), so the four cannot drift apart.

use crate::catalogue;
use crate::field::{Choice, FieldError, FieldType as T, Value, choice as c, choice_to as to};
use crate::msg::Msg;

/// A kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Region,
    Variety,
    Market,
    MarketStaff,
    Vendor,
    VendorVariety,
    Producer,
    Buyer,
    OriginCertificate,
    QuarantineCertificate,
    Inbound,
    Outbound,
    RapidTest,
    Sample,
    SampleItem,
    Inspection,
    Complaint,
    Case,
    RoutineRecord,
}

/// One column of a record kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// English name: the column's header in English and (for references, with `_id`) in SQL.
    pub name: &'static str,
    /// Chinese header.
    pub zh: &'static str,
    pub ty: T,
    pub required: bool,
    /// Computed from other fields (e.g. a verdict); written on export, never read on import.
    pub derived: bool,
    /// A short explanation for the data standard.
    pub note: &'static str,
}

const fn f(name: &'static str, zh: &'static str, ty: T) -> Field {
    Field { name, zh, ty, required: false, derived: false, note: "" }
}

const fn req(name: &'static str, zh: &'static str, ty: T) -> Field {
    Field { name, zh, ty, required: true, derived: false, note: "" }
}

const fn derived(name: &'static str, zh: &'static str, ty: T, note: &'static str) -> Field {
    Field { name, zh, ty, required: false, derived: true, note }
}

impl Field {
    /// The SQL column this field is stored in.
    pub fn column(&self) -> String {
        if self.ty.is_ref() { format!("{}_id", self.name) } else { self.name.to_string() }
    }

    /// Whether a header (Chinese or English, case- and space-insensitive) names this field.
    pub fn matches_header(&self, header: &str) -> bool {
        let h = header.trim();
        h == self.zh || h.eq_ignore_ascii_case(self.name) || h.replace(' ', "_").eq_ignore_ascii_case(self.name)
    }
}

/// The definition of a record kind.
#[derive(Debug, Clone, Copy)]
pub struct KindDef {
    pub kind: Kind,
    /// Name used on the command line and in file names (`vendor`).
    pub name: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub table: &'static str,
    /// Names of the fields forming the natural key.
    pub key: &'static [&'static str],
    pub fields: &'static [Field],
    /// Whether records of this kind may be imported (regions are reference data).
    pub importable: bool,
}

impl KindDef {
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// Positions of the key fields.
    pub fn key_positions(&self) -> Vec<usize> {
        self.key.iter().map(|k| self.field(k).map(|(i, _)| i).expect("key field exists")).collect()
    }

    /// Whether the natural key is one text column other records can refer to.
    pub fn single_key(&self) -> Option<&Field> {
        match self.key {
            [k] => self.field(k).map(|(_, f)| f),
            _ => None,
        }
    }

    /// Computes the derived fields of a parsed row, or says which field makes that impossible.
    pub fn derive(&self, row: &mut [Value]) -> Result<(), (&'static str, FieldError)> {
        match self.kind {
            Kind::RapidTest => derive_rapid_verdict(self, row),
            Kind::SampleItem => derive_item_verdict(self, row),
            Kind::Inbound => {
                assign_trace_code(self, row);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Kind {
    /// Every kind, in an order where referenced kinds come before those that refer to them.
    pub const ALL: [Kind; 19] = [
        Kind::Region,
        Kind::Variety,
        Kind::Market,
        Kind::MarketStaff,
        Kind::Vendor,
        Kind::VendorVariety,
        Kind::Producer,
        Kind::Buyer,
        Kind::OriginCertificate,
        Kind::QuarantineCertificate,
        Kind::Inbound,
        Kind::Outbound,
        Kind::RapidTest,
        Kind::Sample,
        Kind::SampleItem,
        Kind::Inspection,
        Kind::Complaint,
        Kind::Case,
        Kind::RoutineRecord,
    ];

    pub fn def(self) -> &'static KindDef {
        DEFS.iter().find(|d| d.kind == self).expect("every kind has a definition")
    }

    /// The kind named `name` (`vendor`), its table (`vendors`) or its Chinese name.
    pub fn parse(name: &str) -> Option<Kind> {
        let n = name.trim().replace('-', "_");
        DEFS.iter().find(|d| d.name == n || d.table == n || d.zh == n).map(|d| d.kind)
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }
}

const VERDICT: &[Choice] = &[c("pass", "合格", "pass"), c("fail", "不合格", "fail")];

fn set(def: &KindDef, row: &mut [Value], name: &str, v: Value) {
    if let Some((i, _)) = def.field(name) {
        row[i] = v;
    }
}

fn get<'a>(def: &KindDef, row: &'a [Value], name: &str) -> &'a Value {
    def.field(name).map(|(i, _)| &row[i]).unwrap_or(&Value::Null)
}

fn verdict(fail: bool) -> Value {
    Value::Text(if fail { "fail" } else { "pass" }.into())
}

fn derive_rapid_verdict(def: &KindDef, row: &mut [Value]) -> Result<(), (&'static str, FieldError)> {
    let method = get(def, row, "method").as_text().unwrap_or("");
    let v = match (method, get(def, row, "value").as_real(), get(def, row, "result").as_text()) {
        ("enzyme_inhibition", Some(rate), _) => verdict(catalogue::enzyme_inhibition_positive(rate)),
        (_, _, Some(result)) => verdict(result == "positive"),
        _ => {
            let reason =
                Msg::new("缺少抑制率（酶抑制法）或定性结果", "needs an inhibition rate (enzyme method) or a result");
            return Err(("result", FieldError { reason }));
        }
    };
    set(def, row, "verdict", v);
    Ok(())
}

/// A receipt without a lot code of its own gets Shian's trace code (see [`crate::tracecode`]).
fn assign_trace_code(def: &KindDef, row: &mut [Value]) {
    if !get(def, row, "lot_code").is_null() {
        return;
    }
    let (Some(source), Some(ext_id), Some(at)) =
        (get(def, row, "source").as_text(), get(def, row, "ext_id").as_text(), get(def, row, "received_at").as_int())
    else {
        return;
    };
    let Some(day) =
        chrono::DateTime::from_timestamp(at, 0).map(|t| t.with_timezone(&crate::time::china()).date_naive())
    else {
        return;
    };
    let code = crate::tracecode::for_receipt(source, ext_id, day);
    set(def, row, "lot_code", Value::Text(code));
}

fn derive_item_verdict(def: &KindDef, row: &mut [Value]) -> Result<(), (&'static str, FieldError)> {
    let value = get(def, row, "value").as_real().unwrap_or(0.0);
    let limit = get(def, row, "limit").as_real().unwrap_or(0.0);
    set(def, row, "verdict", verdict(catalogue::exceeds_limit(value, limit)));
    Ok(())
}

const MARKET_KINDS: &[Choice] = &[
    c("wholesale", "批发市场", "wholesale market"),
    c("farmers", "农贸市场", "farmers' market"),
    c("morning_evening", "早夜市", "morning or evening market"),
    c("other", "其他", "other"),
];
const OPEN_CLOSED: &[Choice] = &[c("open", "营业", "open"), c("closed", "停业", "closed")];
const STAFF_ROLES: &[Choice] = &[
    c("director", "食品安全总监", "food-safety director"),
    c("officer", "食品安全员", "food-safety officer"),
    c("assigned_official", "包保干部", "assigned official"),
    c("manager", "市场负责人", "market manager"),
];
const SUBJECT_KINDS: &[Choice] = &[
    c("enterprise", "企业", "enterprise"),
    c("individual_business", "个体工商户", "individual business"),
    c("person", "自然人", "natural person"),
];
const AGREEMENT_STATUS: &[Choice] =
    &[c("in_force", "有效", "in force"), c("expired", "已到期", "expired"), c("terminated", "已解除", "terminated")];
const VENDOR_STATUS: &[Choice] = &[c("active", "在营", "active"), c("left", "已退场", "left the market")];
const PRODUCER_KINDS: &[Choice] = &[
    c("enterprise", "生产企业", "enterprise"),
    c("cooperative", "农民专业合作社", "cooperative"),
    c("family_farm", "家庭农场", "family farm"),
    c("individual", "个体农户", "individual farmer"),
];
const BUYER_KINDS: &[Choice] = &[
    c("supermarket_hq", "超市总部", "supermarket chain HQ"),
    c("supermarket", "超市门店", "supermarket store"),
    c("restaurant", "餐馆", "restaurant"),
    c("canteen", "单位食堂", "canteen"),
    c("processor", "食品加工企业", "food processor"),
];
const CANTEEN_KINDS: &[Choice] = &[
    c("school", "学校食堂", "school"),
    c("kindergarten", "幼儿园食堂", "kindergarten"),
    c("enterprise", "企事业单位食堂", "enterprise"),
    c("hospital", "医院食堂", "hospital"),
    c("government", "机关食堂", "government"),
    c("elderly_care", "养老机构食堂", "elderly care"),
    c("construction_site", "工地食堂", "construction site"),
];
const CERT_BASIS: &[Choice] = &[
    c("self_test", "自检合格", "self-tested"),
    c("entrusted_test", "委托检测合格", "tested by a lab"),
    c("internal_control", "内部质量控制合格", "internal quality control"),
    c("self_commitment", "自我承诺", "commitment only"),
];
const QUARANTINE_KINDS: &[Choice] =
    &[c("animal", "动物检疫合格证明", "animal"), c("product", "动物产品检疫合格证明", "animal product")];
const SUPPLIER_KINDS: &[Choice] = &[
    to("producer", "生产者", "producer", Kind::Producer),
    to("vendor", "市场销售者", "market vendor", Kind::Vendor),
    to("buyer", "超市或其他单位", "supermarket or other unit", Kind::Buyer),
    c("other", "其他", "other"),
];
const COUNTERPARTY_KINDS: &[Choice] = &[
    to("vendor", "市场销售者", "market vendor", Kind::Vendor),
    to("supermarket", "超市", "supermarket", Kind::Buyer),
    to("restaurant", "餐馆", "restaurant", Kind::Buyer),
    to("canteen", "单位食堂", "canteen", Kind::Buyer),
    to("processor", "食品加工企业", "food processor", Kind::Buyer),
    c("consumer", "消费者", "consumer"),
    c("other", "其他", "other"),
];
const RAPID_METHODS: &[Choice] = &[
    c("enzyme_inhibition", "酶抑制法", "enzyme inhibition"),
    c("colloidal_gold", "胶体金免疫层析法", "colloidal gold"),
    c("other", "其他快检方法", "other rapid method"),
];
const POS_NEG: &[Choice] = &[c("negative", "阴性", "negative"), c("positive", "阳性", "positive")];
const SAMPLE_SUBJECTS: &[Choice] = &[
    to("vendor", "市场销售者", "market vendor", Kind::Vendor),
    to("buyer", "下游单位", "downstream unit", Kind::Buyer),
    to("producer", "生产者", "producer", Kind::Producer),
];
const INSPECTION_KINDS: &[Choice] =
    &[c("routine", "日常检查", "routine"), c("special", "专项检查", "special"), c("joint", "联合检查", "joint")];
const INSPECTION_STATUS: &[Choice] = &[
    c("no_issue", "未发现问题", "no issue"),
    c("rectifying", "整改中", "rectifying"),
    c("rectified", "已整改", "rectified"),
];
const CHANNELS: &[Choice] = &[
    c("hotline_12315", "12315热线", "12315 hotline"),
    c("platform", "平台留言", "platform"),
    c("qr", "扫码投诉", "QR page"),
    c("letter_visit", "来信来访", "letter or visit"),
    c("other", "其他", "other"),
];
const COMPLAINT_STATUS: &[Choice] = &[
    c("received", "已受理", "received"),
    c("investigating", "调查中", "investigating"),
    c("upheld", "属实", "upheld"),
    c("rejected", "不属实", "not upheld"),
    c("closed", "已办结", "closed"),
];
const CASE_STATUS: &[Choice] =
    &[c("open", "已立案", "open"), c("decided", "已处罚", "decided"), c("closed", "已结案", "closed")];
const PERIODS: &[Choice] = &[
    c("daily", "日管控", "daily control"),
    c("weekly", "周排查", "weekly check"),
    c("monthly", "月调度", "monthly review"),
];

const COUNT: T = T::Int { min: 0, max: 1_000_000 };

static DEFS: &[KindDef] = &[
    KindDef {
        kind: Kind::Region,
        name: "region",
        zh: "行政区划",
        en: "Region",
        table: "regions",
        key: &["code"],
        importable: false,
        fields: &[
            req("code", "区划代码", T::Code),
            req("name", "名称", T::Text(40)),
            req("level", "级别", T::Int { min: 1, max: 3 }),
            f("parent", "上级区划代码", T::Code),
        ],
    },
    KindDef {
        kind: Kind::Variety,
        name: "variety",
        zh: "品种",
        en: "Variety",
        table: "varieties",
        key: &["code"],
        importable: true,
        fields: &[
            req("code", "品种编码", T::Code),
            req("name", "品种名称", T::Text(40)),
            f("en", "英文名称", T::Text(80)),
            f("parent", "上级品种编码", T::Ref(Kind::Variety)),
            f("unit", "默认计量单位", T::Unit),
        ],
    },
    KindDef {
        kind: Kind::Market,
        name: "market",
        zh: "集中交易市场",
        en: "Market",
        table: "markets",
        key: &["code"],
        importable: true,
        fields: &[
            req("code", "市场编码", T::Code),
            req("name", "市场名称", T::Text(80)),
            req("market_kind", "市场类型", T::Enum(MARKET_KINDS)),
            req("region", "所在区划代码", T::Region),
            f("address", "地址", T::Text(200)),
            f("lon", "经度", T::Lon),
            f("lat", "纬度", T::Lat),
            f("operator", "开办者名称", T::Text(100)),
            f("operator_credit_code", "开办者统一社会信用代码", T::Uscc),
            f("opened_on", "开业日期", T::Date),
            f("status", "经营状态", T::Enum(OPEN_CLOSED)),
        ],
    },
    KindDef {
        kind: Kind::MarketStaff,
        name: "market_staff",
        zh: "市场人员与包保干部",
        en: "Market staff and assigned officials",
        table: "market_staff",
        key: &["code"],
        importable: true,
        fields: &[
            req("code", "人员编码", T::Code),
            req("market", "市场编码", T::Ref(Kind::Market)),
            req("role", "角色", T::Enum(STAFF_ROLES)),
            req("name", "姓名", T::Text(40)),
            f("phone", "联系电话", T::Phone),
            f("organisation", "单位及职务", T::Text(100)),
            f("appointed_on", "任命日期", T::Date),
            f("active", "在岗", T::Bool),
        ],
    },
    KindDef {
        kind: Kind::Vendor,
        name: "vendor",
        zh: "入场销售者",
        en: "Vendor",
        table: "vendors",
        key: &["code"],
        importable: true,
        fields: &[
            req("code", "销售者编码", T::Code),
            req("market", "市场编码", T::Ref(Kind::Market)),
            f("stall", "摊位号", T::Text(20)),
            req("name", "销售者名称", T::Text(100)),
            req("subject_kind", "主体类型", T::Enum(SUBJECT_KINDS)),
            f("credit_code", "统一社会信用代码或身份证号", T::UsccOrId),
            f("contact", "联系人", T::Text(40)),
            f("phone", "联系电话", T::Phone),
            f("business_scope", "经营范围", T::Text(200)),
            f("agreement_no", "入场协议编号", T::Text(40)),
            f("agreement_start", "协议开始日期", T::Date),
            f("agreement_end", "协议结束日期", T::Date),
            f("agreement_status", "协议状态", T::Enum(AGREEMENT_STATUS)),
            f("qr_token", "公示码标识", T::Code),
            f("status", "经营状态", T::Enum(VENDOR_STATUS)),
        ],
    },
    KindDef {
        kind: Kind::VendorVariety,
        name: "vendor_variety",
        zh: "销售者经营品种",
        en: "Vendor listing",
        table: "vendor_varieties",
        key: &["vendor", "variety"],
        importable: true,
        fields: &[
            req("vendor", "销售者编码", T::Ref(Kind::Vendor)),
            req("variety", "品种编码", T::Ref(Kind::Variety)),
            f("since", "开始经营日期", T::Date),
            f("usual_origin", "主要产地区划代码", T::Region),
        ],
    },
    KindDef {
        kind: Kind::Producer,
        name: "producer",
        zh: "生产者",
        en: "Producer",
        table: "producers",
        key: &["code"],
        importable: true,
        fields: &[
            req("code", "生产者编码", T::Code),
            req("name", "生产者名称", T::Text(100)),
            req("producer_kind", "生产者类型", T::Enum(PRODUCER_KINDS)),
            f("credit_code", "统一社会信用代码或身份证号", T::UsccOrId),
            req("region", "所在区划代码", T::Region),
            f("address", "地址", T::Text(200)),
            f("contact", "联系人", T::Text(40)),
            f("phone", "联系电话", T::Phone),
        ],
    },
    KindDef {
        kind: Kind::Buyer,
        name: "buyer",
        zh: "下游单位",
        en: "Downstream buyer",
        table: "buyers",
        key: &["code"],
        importable: true,
        fields: &[
            req("code", "单位编码", T::Code),
            req("buyer_kind", "单位类型", T::Enum(BUYER_KINDS)),
            f("canteen_kind", "食堂类别", T::Enum(CANTEEN_KINDS)),
            req("name", "单位名称", T::Text(100)),
            f("chain", "所属超市总部编码", T::Ref(Kind::Buyer)),
            req("region", "所在区划代码", T::Region),
            f("address", "地址", T::Text(200)),
            f("credit_code", "统一社会信用代码", T::Uscc),
            f("contact", "联系人", T::Text(40)),
            f("phone", "联系电话", T::Phone),
        ],
    },
    KindDef {
        kind: Kind::OriginCertificate,
        name: "origin_certificate",
        zh: "承诺达标合格证",
        en: "Origin certificate",
        table: "origin_certificates",
        key: &["cert_no"],
        importable: true,
        fields: &[
            req("cert_no", "合格证编号", T::Code),
            req("producer", "生产者编码", T::Ref(Kind::Producer)),
            req("variety", "品种编码", T::Ref(Kind::Variety)),
            f("product_name", "产品名称", T::Text(60)),
            req("quantity", "数量", T::Quantity),
            req("unit", "单位", T::Unit),
            req("origin", "产地区划代码", T::Region),
            req("issued_on", "开具日期", T::Date),
            req("basis", "承诺依据", T::Enum(CERT_BASIS)),
            f("commitment", "承诺内容", T::Text(300)),
            f("self_test", "自检情况", T::Text(200)),
        ],
    },
    KindDef {
        kind: Kind::QuarantineCertificate,
        name: "quarantine_certificate",
        zh: "动物检疫合格证明",
        en: "Animal quarantine certificate",
        table: "quarantine_certificates",
        key: &["cert_no"],
        importable: true,
        fields: &[
            req("cert_no", "检疫证明编号", T::Code),
            req("quarantine_kind", "证明类型", T::Enum(QUARANTINE_KINDS)),
            f("producer", "货主或屠宰企业编码", T::Ref(Kind::Producer)),
            req("variety", "品种编码", T::Ref(Kind::Variety)),
            req("quantity", "数量", T::Quantity),
            req("unit", "单位", T::Unit),
            req("origin", "启运地区划代码", T::Region),
            req("issued_on", "签发日期", T::Date),
            f("issuer", "官方兽医或签发机构", T::Text(100)),
            f("destination", "到达地点", T::Text(200)),
        ],
    },
    KindDef {
        kind: Kind::Inbound,
        name: "inbound",
        zh: "进货记录",
        en: "Inbound receipt",
        table: "inbound",
        key: &["source", "ext_id"],
        importable: true,
        fields: &[
            req("source", "来源系统", T::Code),
            req("ext_id", "来源记录号", T::Code),
            req("vendor", "销售者编码", T::Ref(Kind::Vendor)),
            req("variety", "品种编码", T::Ref(Kind::Variety)),
            Field {
                name: "lot_code",
                zh: "批次追溯码",
                ty: T::Code,
                required: false,
                derived: false,
                note: "the market's own lot code; if empty, Shian assigns its trace code S+YYMMDD+8+check (docs/trace-code.md)",
            },
            req("quantity", "数量", T::Quantity),
            req("unit", "单位", T::Unit),
            req("received_at", "进货时间", T::DateTime),
            req("supplier_kind", "供货方类型", T::Enum(SUPPLIER_KINDS)),
            f("supplier", "供货方编码", T::PolyRef { kind_field: "supplier_kind" }),
            f("supplier_name", "供货方名称", T::Text(100)),
            f("supplier_lot", "上游批次追溯码", T::Code),
            f("certificate", "合格证编号", T::Ref(Kind::OriginCertificate)),
            f("quarantine", "检疫证明编号", T::Ref(Kind::QuarantineCertificate)),
            f("amount", "金额（元）", T::Money),
        ],
    },
    KindDef {
        kind: Kind::Outbound,
        name: "outbound",
        zh: "销货记录",
        en: "Outbound sale",
        table: "outbound",
        key: &["source", "ext_id"],
        importable: true,
        fields: &[
            req("source", "来源系统", T::Code),
            req("ext_id", "来源记录号", T::Code),
            req("vendor", "销售者编码", T::Ref(Kind::Vendor)),
            req("variety", "品种编码", T::Ref(Kind::Variety)),
            f("lot_code", "批次追溯码", T::Code),
            req("quantity", "数量", T::Quantity),
            req("unit", "单位", T::Unit),
            req("sold_at", "销售时间", T::DateTime),
            req("buyer_kind", "购货方类型", T::Enum(COUNTERPARTY_KINDS)),
            f("buyer", "购货方编码", T::PolyRef { kind_field: "buyer_kind" }),
            f("buyer_name", "购货方名称", T::Text(100)),
            f("amount", "金额（元）", T::Money),
        ],
    },
    KindDef {
        kind: Kind::RapidTest,
        name: "rapid_test",
        zh: "快速检测",
        en: "Rapid test",
        table: "rapid_tests",
        key: &["test_no"],
        importable: true,
        fields: &[
            req("test_no", "检测编号", T::Code),
            req("market", "市场编码", T::Ref(Kind::Market)),
            f("vendor", "销售者编码", T::Ref(Kind::Vendor)),
            req("variety", "品种编码", T::Ref(Kind::Variety)),
            f("lot_code", "批次追溯码", T::Code),
            req("item", "检测项目", T::Text(60)),
            req("method", "检测方法", T::Enum(RAPID_METHODS)),
            f("value", "抑制率（%）或检测值", T::Real { min: 0.0, max: 1e6 }),
            f("result", "定性结果", T::Enum(POS_NEG)),
            derived(
                "verdict",
                "判定",
                T::Enum(VERDICT),
                "computed: enzyme inhibition ≥ 50 % is positive; otherwise the qualitative result",
            ),
            req("tested_at", "检测时间", T::DateTime),
            f("tester", "检测人员", T::Text(40)),
        ],
    },
    KindDef {
        kind: Kind::Sample,
        name: "sample",
        zh: "监督抽检",
        en: "Official sample",
        table: "samples",
        key: &["sample_no"],
        importable: true,
        fields: &[
            req("sample_no", "抽样单编号", T::Code),
            req("subject_kind", "被抽样单位类型", T::Enum(SAMPLE_SUBJECTS)),
            req("subject", "被抽样单位编码", T::PolyRef { kind_field: "subject_kind" }),
            f("market", "市场编码", T::Ref(Kind::Market)),
            req("variety", "品种编码", T::Ref(Kind::Variety)),
            f("lot_code", "批次追溯码", T::Code),
            req("sampled_on", "抽样日期", T::Date),
            f("sampler", "抽样单位", T::Text(100)),
            f("lab", "检验机构", T::Text(100)),
            f("report_no", "检验报告编号", T::Text(60)),
            f("reported_on", "报告日期", T::Date),
            f("plan", "抽检计划", T::Text(100)),
        ],
    },
    KindDef {
        kind: Kind::SampleItem,
        name: "sample_item",
        zh: "抽检项目结果",
        en: "Sample test item",
        table: "sample_items",
        key: &["sample", "item"],
        importable: true,
        fields: &[
            req("sample", "抽样单编号", T::Ref(Kind::Sample)),
            req("item", "检验项目", T::Text(60)),
            f("value", "检测值", T::Real { min: 0.0, max: 1e6 }),
            f("unit", "检测值单位", T::Text(20)),
            f("limit", "限量值", T::Real { min: 0.0, max: 1e6 }),
            f("method", "检验方法", T::Text(100)),
            derived(
                "verdict",
                "单项判定",
                T::Enum(VERDICT),
                "computed: value above the limit fails; a limit of 0 means must not be detected",
            ),
        ],
    },
    KindDef {
        kind: Kind::Inspection,
        name: "inspection",
        zh: "日常检查",
        en: "Routine inspection",
        table: "inspections",
        key: &["inspection_no"],
        importable: true,
        fields: &[
            req("inspection_no", "检查编号", T::Code),
            req("market", "市场编码", T::Ref(Kind::Market)),
            f("vendor", "销售者编码", T::Ref(Kind::Vendor)),
            req("inspected_on", "检查日期", T::Date),
            req("inspector", "检查人员", T::Text(100)),
            req("inspection_kind", "检查类型", T::Enum(INSPECTION_KINDS)),
            f("problems", "发现问题数", COUNT),
            f("findings", "检查发现", T::Text(1000)),
            f("rectification", "整改要求与情况", T::Text(1000)),
            f("status", "状态", T::Enum(INSPECTION_STATUS)),
        ],
    },
    KindDef {
        kind: Kind::Complaint,
        name: "complaint",
        zh: "投诉举报",
        en: "Complaint or report",
        table: "complaints",
        key: &["complaint_no"],
        importable: true,
        fields: &[
            req("complaint_no", "投诉编号", T::Code),
            req("channel", "渠道", T::Enum(CHANNELS)),
            req("received_at", "受理时间", T::DateTime),
            f("market", "市场编码", T::Ref(Kind::Market)),
            f("vendor", "销售者编码", T::Ref(Kind::Vendor)),
            f("variety", "品种编码", T::Ref(Kind::Variety)),
            req("content", "内容", T::Text(2000)),
            req("status", "办理状态", T::Enum(COMPLAINT_STATUS)),
            f("reply", "答复", T::Text(2000)),
            f("replied_on", "答复日期", T::Date),
        ],
    },
    KindDef {
        kind: Kind::Case,
        name: "case",
        zh: "案件查办",
        en: "Enforcement case",
        table: "cases",
        key: &["case_no"],
        importable: true,
        fields: &[
            req("case_no", "案件编号", T::Code),
            f("market", "市场编码", T::Ref(Kind::Market)),
            f("vendor", "销售者编码", T::Ref(Kind::Vendor)),
            req("opened_on", "立案日期", T::Date),
            req("violation", "违法行为", T::Text(500)),
            f("legal_basis", "处罚依据", T::Text(300)),
            f("penalty", "罚没金额（元）", T::Money),
            req("status", "案件状态", T::Enum(CASE_STATUS)),
            f("closed_on", "结案日期", T::Date),
        ],
    },
    KindDef {
        kind: Kind::RoutineRecord,
        name: "routine_record",
        zh: "日管控周排查月调度记录",
        en: "Market routine record",
        table: "routine_records",
        key: &["market", "period", "period_start"],
        importable: true,
        fields: &[
            req("market", "市场编码", T::Ref(Kind::Market)),
            req("period", "类型", T::Enum(PERIODS)),
            req("period_start", "周期开始日期", T::Date),
            f("performed_by", "执行人", T::Text(40)),
            f("items_checked", "检查事项数", COUNT),
            f("problems", "发现问题数", COUNT),
            f("summary", "情况摘要", T::Text(1000)),
            f("recorded_at", "记录时间", T::DateTime),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_defined_once_with_its_key_among_its_fields() {
        for kind in Kind::ALL {
            let def = kind.def();
            assert_eq!(DEFS.iter().filter(|d| d.kind == kind).count(), 1);
            for k in def.key {
                assert!(def.field(k).is_some(), "{}: key {k} is not a field", def.name);
            }
            assert_eq!(Kind::parse(def.name), Some(kind));
        }
    }

    #[test]
    fn references_point_backwards_in_import_order() {
        for (i, kind) in Kind::ALL.iter().enumerate() {
            for field in kind.def().fields {
                if let T::Ref(target) = field.ty {
                    let j = Kind::ALL.iter().position(|k| *k == target).unwrap();
                    assert!(j <= i, "{}.{} refers forward to {:?}", kind.name(), field.name, target);
                    assert!(target.def().single_key().is_some(), "{target:?} needs a single-column key");
                }
            }
        }
    }

    #[test]
    fn rapid_verdict_is_computed_not_typed() {
        let def = Kind::RapidTest.def();
        let mut row = vec![Value::Null; def.fields.len()];
        row[def.field("method").unwrap().0] = Value::Text("enzyme_inhibition".into());
        row[def.field("value").unwrap().0] = Value::Real(62.0);
        row[def.field("result").unwrap().0] = Value::Text("negative".into());
        def.derive(&mut row).unwrap();
        assert_eq!(row[def.field("verdict").unwrap().0], Value::Text("fail".into()));
    }
}
