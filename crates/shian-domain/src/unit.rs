//! Units of quantity and their conversion to a base unit, so that masses given in 斤, 公斤 and 吨
//! can be compared (a lot's sales may not exceed its receipts).

/// A trading unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Kg,
    G,
    /// 斤, half a kilogram.
    Jin,
    /// 吨, metric tonne.
    T,
    /// 个/只/头/枚: counted pieces.
    Piece,
    /// 箱: a case, convertible only with the lot's own case weight.
    Case,
}

impl Unit {
    /// Every unit with its code and Chinese name; the code is what is stored.
    pub const ALL: [(Unit, &'static str, &'static str); 6] = [
        (Unit::Kg, "kg", "千克"),
        (Unit::G, "g", "克"),
        (Unit::Jin, "jin", "斤"),
        (Unit::T, "t", "吨"),
        (Unit::Piece, "piece", "个"),
        (Unit::Case, "case", "箱"),
    ];

    /// Reads a code or a common Chinese spelling (公斤, 只, 头, 枚 …).
    pub fn parse(s: &str) -> Option<Unit> {
        let s = s.trim();
        let alias = match s {
            "公斤" | "KG" | "Kg" => Some(Unit::Kg),
            "只" | "头" | "枚" | "条" | "pcs" => Some(Unit::Piece),
            _ => None,
        };
        alias.or_else(|| Unit::ALL.iter().find(|(_, c, z)| *c == s || *z == s).map(|(u, ..)| *u))
    }

    pub fn code(self) -> &'static str {
        Unit::ALL.iter().find(|(u, ..)| *u == self).map(|(_, c, _)| *c).unwrap_or("kg")
    }

    /// Kilograms in one of this unit, for mass units.
    pub fn kg_factor(self) -> Option<f64> {
        match self {
            Unit::Kg => Some(1.0),
            Unit::G => Some(0.001),
            Unit::Jin => Some(0.5),
            Unit::T => Some(1000.0),
            Unit::Piece | Unit::Case => None,
        }
    }
}

/// Converts `qty` from one unit to another when both are masses or both are the same unit.
pub fn convert(qty: f64, from: Unit, to: Unit) -> Option<f64> {
    if from == to {
        return Some(qty);
    }
    Some(qty * from.kg_factor()? / to.kg_factor()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jin_and_tonnes() {
        assert_eq!(convert(10.0, Unit::Jin, Unit::Kg), Some(5.0));
        assert_eq!(convert(1.5, Unit::T, Unit::Kg), Some(1500.0));
        assert_eq!(convert(3.0, Unit::Piece, Unit::Kg), None);
        assert_eq!(Unit::parse("公斤"), Some(Unit::Kg));
        assert_eq!(Unit::parse("斤"), Some(Unit::Jin));
    }
}
