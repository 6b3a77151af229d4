/* The registry map: prefecture outlines from the project's GeoJSON, one dot per site. */
(function () {
  "use strict";
  var el = document.getElementById("registry-map");
  if (!el) { return; }
  var colours = { key: "#c0392b", simplified: "#e67e22", registered: "#27ae60" };
  var map = L.map(el, { attributionControl: false, preferCanvas: true });
  Promise.all([
    fetch(el.dataset.geojson).then(function (r) { return r.json(); }),
    fetch(el.dataset.points, { credentials: "same-origin" }).then(function (r) { return r.json(); })
  ]).then(function (results) {
    var outline = L.geoJSON(results[0], { style: { color: "#7a8c86", weight: 1, fillColor: "#eef3f1", fillOpacity: 1 } }).addTo(map);
    map.fitBounds(outline.getBounds());
    results[1].forEach(function (p) {
      L.circleMarker([Number(p.latitude), Number(p.longitude)], {
        radius: 4, weight: 1, color: "#fff", fillColor: colours[p.management_class] || "#555", fillOpacity: 0.9
      }).bindTooltip(p.name).on("click", function () { window.location = "/registry/enterprises/" + p.enterprise_id + "/"; }).addTo(map);
    });
    el.dataset.ready = "1";
    el.dataset.points_count = String(results[1].length);
  });
})();
