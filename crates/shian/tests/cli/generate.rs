//! `shian generate`: the planned figures, determinism, the hidden truth and refusing to overwrite.

use shian_domain::Kind;
use shian_sim::{Plan, Scale};

use crate::support::*;

#[test]
fn small_scale_has_exactly_the_planned_figures() {
    let stats = fixture().stats();
    let plan = Plan::for_scale(Scale::Small);
    let buyers = (plan.supermarket_stores + plan.supermarket_chains + plan.restaurants_canteens) as u64;
    let expected: Vec<(&str, u64)> = vec![
        ("order_records", plan.orders),
        ("origin_certificate", plan.certificates),
        ("rapid_test", plan.rapid_tests),
        ("sample", plan.samples),
        ("market", plan.markets as u64),
        ("vendor", plan.vendors as u64),
        ("vendor_variety", plan.listings as u64),
        ("buyer", buyers),
    ];
    let actual: Vec<(&str, u64)> = expected.iter().map(|(k, _)| (*k, stats[*k])).collect();
    assert_eq!(actual, expected, "stats --json against Plan::for_scale(Small)");
    assert_eq!(stats["inbound"] + stats["outbound"], stats["order_records"]);
    for kind in Kind::ALL {
        assert!(stats[kind.name()] > 0, "the small province has no {}", kind.name());
    }
}

#[test]
fn the_same_seed_gives_the_same_province_and_another_seed_another() {
    let fixture = fixture();
    let (same, other) = std::thread::scope(|s| {
        let generate = move |seed: u64| {
            let db = Db::fresh();
            let out = db.run_en(&["generate", "--scale", "small", "--seed", &seed.to_string()]);
            out.ok();
            let truth = db.file("shian.truth.json");
            assert!(
                out.stdout.contains(&truth.display().to_string()),
                "generate tells where the truth went: {}",
                out.stdout
            );
            db
        };
        let same = s.spawn(move || generate(FIXTURE_SEED));
        let other = s.spawn(move || generate(FIXTURE_SEED + 1));
        (same.join().unwrap(), other.join().unwrap())
    });
    let expected = fixture.export("outbound", &[]);
    assert!(expected.len() > 1_000_000, "the outbound export holds the year's sales");
    let again = same.export("outbound", &[]);
    assert!(again == expected, "the same seed gave a different outbound export");
    let truth = |db: &Db, name: &str| std::fs::read(db.file(name)).unwrap();
    assert!(truth(&same, "shian.truth.json") == truth(fixture, "small.truth.json"), "same seed, different truth");
    let different = other.export("outbound", &[]);
    assert!(different != expected, "another seed gave the same outbound export");
}

#[test]
fn the_truth_is_written_beside_the_database_and_never_into_it() {
    let fixture = fixture();
    let path = fixture.file("small.truth.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let truth: serde_json::Value = serde_json::from_str(&text).expect("the truth file is JSON");
    let incidents = truth["incidents"].as_array().expect("the truth lists its incidents");
    assert!(!incidents.is_empty());
    let stories: Vec<&str> = incidents.iter().map(|i| i["story"].as_str().expect("an incident has a story")).collect();
    assert!(incidents.iter().all(|i| i["p_fail"].as_f64().is_some()));

    let forbidden: Vec<&str> = ["p_fail", "factor", "incident"].into_iter().chain(stories.iter().copied()).collect();
    let stats = fixture.stats();
    for kind in Kind::ALL {
        // English headers: the columns' names, then every value.
        let text = String::from_utf8(fixture.export(kind.name(), &["--headers", "en"])).unwrap();
        let header = text.lines().next().unwrap_or_default();
        assert!(header.starts_with(kind.def().fields[0].name), "export {}: {header}", kind.name());
        for word in &forbidden {
            assert!(!text.contains(word), "export {} contains {word:?}", kind.name());
        }
        assert!(text.lines().count() as u64 > stats[kind.name()], "export {} holds every record", kind.name());
    }
    // Every table, exported or not: the database file itself.
    let mut raw = std::fs::read(&fixture.path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{}-wal", fixture.path.display())) {
        raw.extend(wal);
    }
    let raw = String::from_utf8_lossy(&raw);
    for word in ["p_fail", "origin_factor", "vendor_factor", "incidents"].iter().chain(&stories) {
        assert!(!raw.contains(word), "the database file contains {word:?}");
    }
}

#[test]
fn generating_into_a_database_that_holds_records_is_refused() {
    let db = Db::copy_of_fixture();
    let before = db.stats();

    let out = db.run_en(&["generate", "--scale", "small"]);

    out.code(1);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stderr.contains("already holds"), "{}", out.stderr);
    assert!(out.stderr.contains("generate into a new database"), "{}", out.stderr);
    assert_eq!(db.stats(), before, "nothing was added");
    assert!(!db.file("shian.truth.json").exists(), "no truth file is written for a refused generation");

    let zh = db.run(&["generate", "--scale", "small"]);
    zh.code(1);
    assert!(zh.stderr.starts_with("错误"), "{}", zh.stderr);
}
