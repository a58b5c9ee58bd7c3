//! The variety catalogue (品种目录) and the starter set of test items (检测项目).
//!
//! Varieties form a tree: category (蔬菜) → class (叶菜类蔬菜) → variety (芹菜), with hierarchical
//! codes (`01` → `0101` → `010101`) and the class names of GB 2763's food classification. A
//! database starts with this catalogue and may extend it by import.

use std::sync::LazyLock;

/// One node of the variety tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Variety {
    pub code: &'static str,
    /// Standard Chinese name.
    pub name: &'static str,
    pub en: &'static str,
    pub parent: Option<&'static str>,
    /// Default trading unit for leaves (`kg`); `None` for categories.
    pub unit: Option<&'static str>,
}

impl Variety {
    /// Whether goods are traded under this node (a leaf) rather than it being a grouping.
    pub fn is_tradable(&self) -> bool {
        self.unit.is_some()
    }

    /// Whether this variety lies at or under `ancestor` (codes are prefixes of their children's).
    pub fn is_under(&self, ancestor: &str) -> bool {
        self.code.starts_with(ancestor)
    }

    /// Top-level category code (`010601` → `01`).
    pub fn category(&self) -> &'static str {
        &self.code[..2]
    }
}

static VARIETIES: LazyLock<Vec<Variety>> = LazyLock::new(|| {
    include_str!("../data/varieties.csv")
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&'static str> = line.split(',').collect();
            Variety {
                code: f[0],
                name: f[1],
                en: f[2],
                parent: (!f[3].is_empty()).then_some(f[3]),
                unit: (!f[4].is_empty()).then_some(f[4]),
            }
        })
        .collect()
});

/// The whole built-in catalogue, parents before children.
pub fn varieties() -> &'static [Variety] {
    &VARIETIES
}

/// A built-in variety by code.
pub fn variety(code: &str) -> Option<&'static Variety> {
    VARIETIES.iter().find(|v| v.code == code)
}

/// Class of a test item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemClass {
    Pesticide,
    VetDrug,
    Banned,
    HeavyMetal,
}

/// A test item with its limit for the varieties it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct TestItem {
    pub code: &'static str,
    pub name: &'static str,
    pub en: &'static str,
    pub class: ItemClass,
    /// Variety or class code the limit applies to (the item applies to everything under it).
    pub applies_to: &'static str,
    /// Maximum residue limit in mg/kg; `0` means "must not be detected" (不得检出).
    pub limit_mg_kg: f64,
    /// Standard the limit comes from.
    pub basis: &'static str,
    /// The laboratory (confirmatory) method standard.
    pub method: &'static str,
    /// Where in the standard the limit stands: the standard, its table or chapter, the substance's
    /// entry and the food. The entries' clause numbers are not given: they were not checked against
    /// the standards' printed text here (see `docs/test-catalogue.md`).
    pub clause: &'static str,
}

static TEST_ITEMS: LazyLock<Vec<TestItem>> = LazyLock::new(|| {
    include_str!("../data/test_items.csv")
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&'static str> = line.split(',').collect();
            TestItem {
                code: f[0],
                name: f[1],
                en: f[2],
                class: match f[3] {
                    "pesticide" => ItemClass::Pesticide,
                    "vet_drug" => ItemClass::VetDrug,
                    "banned" => ItemClass::Banned,
                    _ => ItemClass::HeavyMetal,
                },
                applies_to: f[4],
                limit_mg_kg: f[5].parse().unwrap_or(0.0),
                basis: f[6],
                method: f[7],
                clause: f[8],
            }
        })
        .collect()
});

/// The starter test items.
pub fn test_items() -> &'static [TestItem] {
    &TEST_ITEMS
}

/// The test items that apply to a variety.
pub fn items_for(variety_code: &str) -> impl Iterator<Item = &'static TestItem> + '_ {
    TEST_ITEMS.iter().filter(move |t| variety_code.starts_with(t.applies_to))
}

/// Verdict of an enzyme-inhibition rapid test (酶抑制法): an inhibition rate of 50 % or more is
/// positive (GB/T 5009.199).
pub fn enzyme_inhibition_positive(inhibition_percent: f64) -> bool {
    inhibition_percent >= 50.0
}

/// Whether a measured value exceeds its limit; a limit of `0` means "must not be detected", so any
/// detected amount fails.
pub fn exceeds_limit(value: f64, limit: f64) -> bool {
    if limit <= 0.0 { value > 0.0 } else { value > limit }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_a_tree_with_parents_first() {
        let mut seen = std::collections::HashSet::new();
        for v in varieties() {
            if let Some(p) = v.parent {
                assert!(seen.contains(p), "{} listed before its parent {p}", v.code);
                assert!(v.code.starts_with(p), "{} does not extend {p}", v.code);
            }
            assert!(seen.insert(v.code), "duplicate {}", v.code);
        }
    }

    #[test]
    fn cowpea_has_the_four_common_failing_items() {
        let items: Vec<_> = items_for("010601").map(|t| t.code).collect();
        for code in ["lambda_cyhalothrin", "emamectin_benzoate", "clothianidin", "omethoate", "isofenphos_methyl"] {
            assert!(items.contains(&code), "{code} missing from {items:?}");
        }
        assert!(!items.contains(&"chlorpyrifos"), "celery's limit must not apply to cowpea");
    }

    #[test]
    fn verdict_rules() {
        assert!(enzyme_inhibition_positive(50.0));
        assert!(!enzyme_inhibition_positive(49.9));
        assert!(exceeds_limit(0.06, 0.05));
        assert!(!exceeds_limit(0.05, 0.05));
        assert!(exceeds_limit(0.0001, 0.0), "banned substances must not be detected");
    }

    #[test]
    fn every_starter_item_names_its_method_and_where_its_limit_stands() {
        for t in test_items() {
            assert!(!t.method.is_empty() && t.clause.contains(t.basis.split(' ').next().unwrap_or("")), "{}", t.code);
            assert!(t.clause.contains(t.name) || t.class != ItemClass::Pesticide, "{}", t.code);
        }
    }
}
