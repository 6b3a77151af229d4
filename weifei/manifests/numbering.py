"""联单编号 (转移办法 第十五条): 14 digits = year (4) + province 22 (2) + origin prefecture (2) + serial (6).

The origin prefecture is the GB/T 2260 prefecture of the consignor site's county-level region —
the code's digits 3–4. Decisions (regulations.md §2.4 and §10 leave them UNCONFIRMED):

- 梅河口市 (220581) is administered by the province but coded under 通化市: its manifests are
  numbered ``05`` (the statistical code, which is what 第十五条 names), not a code of its own.
- 长白山管委会's three areas have no GB/T 2260 code: each is numbered with the prefecture of the
  county it was carved from (池北区 ← 安图县 222426 → ``24``; 池西区 ← 抚松县 220621 and
  池南区 ← 长白县 220623 → ``06``), so every number stays within the valid set 01–08, 24.
  A site registered at 长白山管委会 itself (no area) is refused: choose its area.
- The serial restarts each year (the year is part of the number, so numbers stay unique).
"""

from __future__ import annotations

import re

from weifei.catalog.models import Region
from weifei.core.errors import ApplicationError

PROVINCE = "22"
PREFECTURES = frozenset({"01", "02", "03", "04", "05", "06", "07", "08", "24"})
NUMBER_RE = re.compile(r"^(\d{4})22(\d{2})(\d{6})$")
SERIAL_MAX = 999_999


def prefecture_of(region: Region) -> str:
    """The two prefecture digits for manifests leaving a site in ``region``."""
    carved = region.carved_from
    code6 = region.code6 or (carved.code6 if carved is not None else "")
    if not code6 or not code6.startswith(PROVINCE):
        raise ApplicationError(
            f"{region.name} 没有可用于联单编号的行政区划代码："
            "请将场所登记到具体的县级区划或长白山管委会的池北/池西/池南区",
            code="region_not_numbered",
            field="consignor_site",
        )
    prefecture = code6[2:4]
    if prefecture not in PREFECTURES:
        raise ApplicationError(f"{region.name} 的市（州）代码 {prefecture} 无效", code="region_not_numbered",
                               field="consignor_site")  # fmt: skip
    return prefecture


def manifest_number(year: int, prefecture: str, serial: int) -> str:
    if not 1 <= serial <= SERIAL_MAX:
        raise ApplicationError(f"{year} 年 {prefecture} 联单流水号已用完", code="serial_exhausted", field="number")
    return f"{year:04d}{PROVINCE}{prefecture}{serial:06d}"


def number_valid(number: str) -> bool:
    m = NUMBER_RE.match(number or "")
    return m is not None and m.group(2) in PREFECTURES and m.group(3) != "000000"
