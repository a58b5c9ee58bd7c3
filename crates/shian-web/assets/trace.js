// The trace page's chart: a Sankey graph from origin to recipients, drawn from the JSON block
// `#trace-data` (nodes are parties at one hop distance, so the graph has no cycle). The page reads
// without it; app.js calls window.shianPage once the page is parsed.
window.shianPage = function (data) {
  "use strict";
  var d = data("trace-data");
  var el = document.getElementById("trace-graph");
  if (!d || !el || !window.echarts || !d.links.length) { return; }
  var colors = { producer: "#15803d", vendor: "#0b6e4f", supermarket: "#1d4ed8", restaurant: "#7c3aed",
                 canteen: "#c2410c", processor: "#0e7490", consumer: "#6b7280", buyer: "#334155" };
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  var perDepth = {};
  d.nodes.forEach(function (n) { perDepth[n.depth] = (perDepth[n.depth] || 0) + 1; });
  var widest = Math.max.apply(null, Object.keys(perDepth).map(function (k) { return perDepth[k]; }));
  el.style.height = Math.max(360, Math.min(2400, widest * 26)) + "px";
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: {
      trigger: "item",
      formatter: function (p) {
        if (p.dataType === "edge") {
          var l = p.data;
          var from = d.nodes[l.s].label, to = d.nodes[l.t].label;
          return esc(from) + " → " + esc(to) + "<br>" + esc(l.kg) + " " + esc(d.labels.kg) + " · " +
            esc(l.records) + " " + esc(d.labels.records) +
            (l.inferred ? " (" + esc(d.labels.inferred) + " " + esc(l.inferred) + ")" : "");
        }
        return (p.data.tip || []).map(esc).join("<br>");
      }
    },
    series: [{
      type: "sankey",
      left: 10, right: 160, top: 10, bottom: 10,
      nodeGap: 6,
      layoutIterations: 16,
      draggable: false,
      emphasis: { focus: "adjacency" },
      label: { formatter: function (p) { return p.data.label; }, fontSize: 11 },
      data: d.nodes.map(function (n) {
        return { name: n.id, label: n.label, tip: n.tip, href: n.href,
                 itemStyle: { color: n.school ? "#b42318" : (colors[n.kind] || "#475569") } };
      }),
      links: d.links.map(function (l) {
        return { source: d.nodes[l.s].id, target: d.nodes[l.t].id, value: l.value, s: l.s, t: l.t,
                 kg: l.kg, records: l.records, inferred: l.inferred,
                 lineStyle: { color: l.inferred === l.records ? "#f59e0b" : "source", opacity: 0.45 } };
      })
    }]
  });
  chart.on("click", function (p) {
    if (p.dataType === "node" && p.data.href) { window.location.href = p.data.href; }
  });
  window.addEventListener("resize", function () { chart.resize(); });
};
