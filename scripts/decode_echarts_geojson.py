"""Decode the compressed Jilin boundary GeoJSON that ECharts 4.x shipped on npm.

Provenance: npm package ``echarts@4.9.0``, file ``map/json/province/jilin.json``
(Apache-2.0). ECharts stored coordinates zig-zag/delta encoded as characters
(``"UTF8Encoding": true``); this script reverses that (the algorithm of ECharts'
``parseGeoJson.decodePolygon``) and writes plain GeoJSON with the prefecture's
GB/T 2260 code added. It is run by hand when the boundaries change; its output,
``weifei/web/static/web/geo/jilin-prefectures.geojson``, is committed.

Usage: python scripts/decode_echarts_geojson.py path/to/jilin.json OUT.geojson
"""

from __future__ import annotations

import json
import sys
from typing import Any


def decode_ring(encoded: str, offsets: list[int], scale: float) -> list[list[float]]:
    prev_x, prev_y = offsets
    ring: list[list[float]] = []
    for i in range(0, len(encoded), 2):
        x = ord(encoded[i]) - 64
        y = ord(encoded[i + 1]) - 64
        x = (x >> 1) ^ (-(x & 1))
        y = (y >> 1) ^ (-(y & 1))
        x += prev_x
        y += prev_y
        prev_x, prev_y = x, y
        ring.append([round(x / scale, 5), round(y / scale, 5)])
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def decode(data: dict[str, Any]) -> dict[str, Any]:
    scale = float(data.get("UTF8Scale", 1024))
    features = []
    for feature in data["features"]:
        geometry = feature["geometry"]
        offsets = geometry["encodeOffsets"]
        if geometry["type"] == "Polygon":
            coords: Any = [decode_ring(r, o, scale) for r, o in zip(geometry["coordinates"], offsets, strict=True)]
        else:
            coords = [
                [decode_ring(r, o, scale) for r, o in zip(poly, poly_offsets, strict=True)]
                for poly, poly_offsets in zip(geometry["coordinates"], offsets, strict=True)
            ]
        props = dict(feature.get("properties", {}))
        props["code"] = feature.get("id")
        features.append(
            {
                "type": "Feature",
                "id": feature.get("id"),
                "properties": props,
                "geometry": {"type": geometry["type"], "coordinates": coords},
            }
        )
    return {"type": "FeatureCollection", "features": features}


if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as fh:
        decoded = decode(json.load(fh))
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(decoded, fh, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(decoded['features'])} features -> {out}")
