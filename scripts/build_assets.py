"""Copy the locked npm front-end assets into weifei/web/static/vendor/ (and PDF fonts into var/fonts/).

Run by ``make setup`` after ``npm ci``; WhiteNoise serves the result. Nothing is fetched
at run time. Only the files the pages use are copied (the CJK font: weights 400 and 700,
woff2 only).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
OUT = ROOT / "weifei" / "web" / "static" / "vendor"

FILES = {
    "htmx.org/dist/htmx.min.js": "htmx/htmx.min.js",
    "echarts/dist/echarts.min.js": "echarts/echarts.min.js",
    "leaflet/dist/leaflet.js": "leaflet/leaflet.js",
    "leaflet/dist/leaflet.css": "leaflet/leaflet.css",
    "leaflet/LICENSE": "leaflet/LICENSE",
    "echarts/LICENSE": "echarts/LICENSE",
    "htmx.org/LICENSE": "htmx/LICENSE",
}
FONT_WEIGHTS = ("400", "700")


def main() -> None:
    if not NODE.is_dir():
        raise SystemExit("node_modules/ 不存在：请先运行 make setup（npm ci）")
    if OUT.exists():
        shutil.rmtree(OUT)
    for src, dst in FILES.items():
        target = OUT / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NODE / src, target)
    shutil.copytree(NODE / "leaflet/dist/images", OUT / "leaflet/images")

    font_src = NODE / "@fontsource/noto-sans-sc"
    font_out = OUT / "noto-sans-sc"
    (font_out / "files").mkdir(parents=True)
    css_parts = []
    for weight in FONT_WEIGHTS:
        css = (font_src / f"{weight}.css").read_text(encoding="utf-8")
        # woff2 only: every browser we support reads it, and it halves what we ship.
        css = re.sub(r",\s*url\([^)]*\.woff\) format\('woff'\)", "", css)
        css_parts.append(css)
        for woff2 in font_src.glob(f"files/noto-sans-sc-*-{weight}-normal.woff2"):
            shutil.copy2(woff2, font_out / "files" / woff2.name)
    (font_out / "noto-sans-sc.css").write_text("\n".join(css_parts), encoding="utf-8")
    shutil.copy2(font_src / "LICENSE", font_out / "LICENSE")

    # Whole TrueType fonts for PDFs (labels, receipts): fpdf2 embeds the subset a document uses.
    # The web font above is split into woff2 slices, which PDF libraries cannot read.
    ttf_src = NODE / "@expo-google-fonts/noto-sans-sc"
    pdf_out = ROOT / "var" / "fonts"
    pdf_out.mkdir(parents=True, exist_ok=True)
    for weight in ("400Regular", "700Bold"):
        shutil.copy2(ttf_src / weight / f"NotoSansSC_{weight}.ttf", pdf_out / f"NotoSansSC_{weight}.ttf")
    shutil.copy2(ttf_src / "LICENSE_FONT", pdf_out / "LICENSE_FONT")
    count = sum(1 for p in OUT.rglob("*") if p.is_file())
    print(f"assets: {count} files -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
