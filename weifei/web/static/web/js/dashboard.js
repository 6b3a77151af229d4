/* Dashboard: an ECharts bar chart and a Leaflet choropleth of Jilin's prefectures.
   Boundaries come from the project's own GeoJSON; no map tiles are needed. */
(function () {
  "use strict";
  var rows = JSON.parse(document.getElementById("prefecture-data").textContent);
  var script = document.getElementById("dashboard-script");
  var font = "'Noto Sans SC', sans-serif";
  // Axis labels use the short form a long official name carries in brackets
  // (长白山保护开发区管理委员会（长白山管委会） -> 长白山管委会); the tooltip keeps the full name.
  function shortName(name) {
    var m = /（([^（）]+)）$/.exec(name);
    return m ? m[1] : name;
  }

  var chart = echarts.init(document.getElementById("chart"), null, { renderer: "canvas" });
  chart.setOption({
    textStyle: { fontFamily: font },
    grid: { left: 8, right: 32, top: 10, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis" },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }),
             axisLabel: { fontFamily: font, formatter: shortName } },
    series: [{ type: "bar", data: rows.map(function (r) { return r.count; }), itemStyle: { color: "#1f6f5c" },
               label: { show: true, position: "right", fontFamily: font } }],
    animation: false
  });
  window.addEventListener("resize", function () { chart.resize(); });

  var counts = {};
  rows.forEach(function (r) { counts[r.code] = r.count; });
  var max = Math.max.apply(null, rows.map(function (r) { return r.count; }).concat([1]));
  function color(n) {
    var t = n / max;
    var shades = ["#e6f2ee", "#bfdcd2", "#8cc1b0", "#559f89", "#1f6f5c"];
    return shades[Math.min(shades.length - 1, Math.floor(t * shades.length))];
  }
  var map = L.map("map", { zoomControl: true, attributionControl: false, preferCanvas: true });
  fetch(script.dataset.geojson).then(function (resp) { return resp.json(); }).then(function (geo) {
    var layer = L.geoJSON(geo, {
      style: function (f) {
        return { color: "#ffffff", weight: 1.5, fillColor: color(counts[f.properties.code] || 0), fillOpacity: 0.9 };
      },
      onEachFeature: function (f, l) {
        var n = counts[f.properties.code] || 0;
        l.bindTooltip(f.properties.name + "：" + n, { sticky: true });
        if (f.properties.cp) {
          L.marker([f.properties.cp[1], f.properties.cp[0]], {
            icon: L.divIcon({ className: "map-label", html: f.properties.name.replace("朝鲜族自治州", "州") + "<br>" + n })
          }).addTo(map);
        }
      }
    }).addTo(map);
    map.fitBounds(layer.getBounds());
    document.getElementById("map").dataset.ready = "1";
  });
})();
