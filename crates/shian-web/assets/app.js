// Shian's page script: draws the charts of pages that carry a JSON data block. Pages work
// without it; it only adds the pictures. Nothing is fetched from outside the server.
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function dashboard(d) {
    var trendEl = document.getElementById("trend");
    if (trendEl && window.echarts) {
      var t = echarts.init(trendEl);
      var months = d.trend.map(function (r) { return r[0]; });
      t.setOption({
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 60, right: 60, top: 40, bottom: 30 },
        xAxis: { type: "category", data: months },
        yAxis: [{ type: "value", name: d.labels.orders }, { type: "value", name: d.labels.failures }],
        series: [
          { name: d.labels.orders, type: "bar", data: d.trend.map(function (r) { return r[1]; }) },
          { name: d.labels.rapid_failed, type: "line", yAxisIndex: 1, data: d.trend.map(function (r) { return r[3]; }) },
          { name: d.labels.samples_failed, type: "line", yAxisIndex: 1, data: d.trend.map(function (r) { return r[5]; }) }
        ]
      });
      window.addEventListener("resize", function () { t.resize(); });
    }
    var mapEl = document.getElementById("map");
    if (mapEl && window.echarts) {
      fetch("/assets/map.json").then(function (r) { return r.json(); }).then(function (geo) {
        echarts.registerMap("province", geo);
        var m = echarts.init(mapEl);
        var max = Math.max.apply(null, d.cities.map(function (c) { return c.failures; }).concat([1]));
        m.setOption({
          tooltip: { trigger: "item", formatter: function (p) {
            if (p.seriesType === "scatter") { return p.name + "<br>" + d.labels.failures + ": " + p.value[2]; }
            var c = d.cities.filter(function (x) { return x.name === p.name; })[0];
            return p.name + (c ? "<br>" + d.labels.markets + ": " + c.markets + "<br>" + d.labels.failures + ": " + c.failures : "");
          } },
          visualMap: { min: 0, max: max, left: 0, bottom: 0, text: [d.labels.failures, ""], calculable: true, seriesIndex: 0,
                       inRange: { color: ["#e7f6ec", "#f59e0b", "#b42318"] } },
          geo: { map: "province", roam: true, label: { show: true, fontSize: 10 } },
          series: [
            { type: "map", geoIndex: 0, data: d.cities.map(function (c) { return { name: c.name, value: c.failures }; }) },
            { type: "scatter", coordinateSystem: "geo", symbolSize: 6, itemStyle: { color: "#0b6e4f" }, data: d.points }
          ]
        });
        m.on("click", function (p) { if (p.data && p.data.href) { window.location.href = p.data.href; } });
        window.addEventListener("resize", function () { m.resize(); });
      });
    }
  }

  var dash = data("dash-data");
  if (dash) { dashboard(dash); }
  if (window.shianPage) { window.shianPage(data); }
})();
