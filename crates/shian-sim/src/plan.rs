//! How much to generate.

/// A named size of province.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// About a hundredth of the seed's volumes, still several markets in several cities.
    Small,
    /// About a tenth.
    City,
    /// The seed's own figures.
    Province,
}

impl Scale {
    pub fn parse(s: &str) -> Option<Scale> {
        match s {
            "small" => Some(Scale::Small),
            "city" => Some(Scale::City),
            "province" => Some(Scale::Province),
            _ => None,
        }
    }
}

/// The counts to generate. Order records, certificates, tests and samples are met exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub markets: usize,
    pub wholesale_markets: usize,
    pub vendors: usize,
    pub listings: usize,
    /// Inbound plus outbound records over the year.
    pub orders: u64,
    pub certificates: u64,
    pub rapid_tests: u64,
    pub samples: u64,
    pub supermarket_stores: usize,
    pub supermarket_chains: usize,
    pub restaurants_canteens: usize,
    pub producers: usize,
    pub complaints: u64,
    pub inspections: u64,
    pub cases: u64,
    /// Days of trade, ending on 2026-11-30.
    pub days: u32,
}

impl Plan {
    pub fn for_scale(scale: Scale) -> Plan {
        let province = Plan {
            markets: 254,
            wholesale_markets: 34,
            vendors: 8_791,
            listings: 18_352,
            orders: 25_000_000,
            certificates: 680_000,
            rapid_tests: 120_000,
            samples: 57_920,
            supermarket_stores: 1_596,
            supermarket_chains: 48,
            restaurants_canteens: 2_837,
            producers: 24_000,
            complaints: 9_000,
            inspections: 30_000,
            cases: 1_800,
            days: 365,
        };
        match scale {
            Scale::Province => province,
            Scale::City => province.divided(10, 26, 4),
            Scale::Small => province.divided(100, 8, 2),
        }
    }

    fn divided(&self, by: u64, markets: usize, wholesale: usize) -> Plan {
        let d = |n: usize| (n as u64).div_ceil(by) as usize;
        Plan {
            markets,
            wholesale_markets: wholesale,
            vendors: d(self.vendors),
            listings: d(self.listings),
            orders: self.orders / by,
            certificates: self.certificates / by,
            rapid_tests: self.rapid_tests / by,
            samples: self.samples / by,
            supermarket_stores: d(self.supermarket_stores),
            supermarket_chains: d(self.supermarket_chains).max(2),
            restaurants_canteens: d(self.restaurants_canteens),
            producers: d(self.producers),
            complaints: self.complaints / by,
            inspections: self.inspections / by,
            cases: self.cases / by,
            days: self.days,
        }
    }

    /// The smallest coherent province, for the example files: two markets, a handful of vendors.
    pub fn examples() -> Plan {
        Plan {
            markets: 2,
            wholesale_markets: 1,
            vendors: 6,
            listings: 9,
            orders: 80,
            certificates: 6,
            rapid_tests: 4,
            samples: 3,
            supermarket_stores: 2,
            supermarket_chains: 1,
            restaurants_canteens: 3,
            producers: 0,
            complaints: 2,
            inspections: 2,
            cases: 1,
            days: 3,
        }
    }

    /// A plan scaled down further for tests: the same shape, `orders` order records.
    pub fn tiny(orders: u64) -> Plan {
        let mut p = Plan::for_scale(Scale::Small);
        let f = orders as f64 / p.orders as f64;
        let s = |n: u64| ((n as f64 * f).ceil() as u64).max(5);
        p.orders = orders;
        p.certificates = s(p.certificates);
        p.rapid_tests = s(p.rapid_tests);
        p.samples = s(p.samples);
        p.complaints = s(p.complaints);
        p.inspections = s(p.inspections);
        p.cases = s(p.cases);
        p.days = 60;
        p
    }
}
