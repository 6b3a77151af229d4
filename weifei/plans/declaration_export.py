"""Annex C export of a declaration (HJ 1259—2022 附录C: 表C.1 月度, 表C.2 季度, 表C.3 年度申报).

One table row per waste code and sub-line: a waste with several self-treatment methods or several
receivers gets as many lines; the waste's identity columns repeat on each line, while the stock
and generation figures (期初/产生/期末) stand on its first line only, so that summing a column
gives the declaration's totals. Column layout and its uncertainty: docs/declarations.md.

- 名录名称 and 危险特性 come from the catalogue version in force on the period's first day.
- 俗称 is the set of common names the site's 产生 records of the code carry up to the period's end.
- 有害成分 and 形态 are not recorded in the ledger today: the columns stay empty.
- Province: the receiver's province name (from its region), ``境外`` for exports, empty for a
  receiver given only by name.

CSV: UTF-8 with a BOM (so that Excel opens Chinese text correctly), the header row then the lines.
XLSX: a title block (table, unit, credit code, site, period, revision), the header row, the lines;
quantities are numbers with six decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from weifei.catalog import cache
from weifei.catalog.models import Region

from .declarations import _local_midnight
from .models import Declaration, LedgerEntry

TABLES = {
    Declaration.Kind.MONTHLY: "表C.1 危险废物月度申报表",
    Declaration.Kind.QUARTERLY: "表C.2 危险废物季度申报表",
    Declaration.Kind.ANNUAL: "表C.3 危险废物年度申报表",
}

COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "序号"),
    ("waste_name", "废物名称（名录名称）"),
    ("common_name", "行业俗称/单位内部名称"),
    ("category", "废物类别"),
    ("waste_code", "废物代码"),
    ("harmful_components", "有害成分"),
    ("form", "形态"),
    ("hazards", "危险特性"),
    ("opening", "上期末贮存量（吨）"),
    ("generated", "产生量（吨）"),
    ("received", "接收量（吨）"),  # weifei's: a licensed operator's intake on transfer manifests (not in Annex C)
    ("self_method", "自行利用/处置方式"),
    ("self_tonnes", "自行利用/处置量（吨）"),
    ("province", "委外接收单位所在省份"),
    ("receiver_name", "委外接收单位名称"),
    ("licence_number", "许可证编号/豁免编号/出口核准通知单编号"),
    ("sent_method", "委外利用/处置方式"),
    ("sent_tonnes", "委外利用/处置量（吨）"),
    ("closing", "本期末贮存量（吨）"),
)
QUANTITY_KEYS = frozenset({"opening", "generated", "received", "self_tonnes", "sent_tonnes", "closing"})


def _catalogue(decl: Declaration) -> dict[str, Any]:
    version = cache.version_on(decl.period_start)
    return cache.codes(version) if version is not None else {}


def _common_names(decl: Declaration, codes: list[str]) -> dict[str, str]:
    end = _local_midnight(decl.period_end + dt.timedelta(days=1))
    names: dict[str, list[str]] = {}
    for code, name in (
        LedgerEntry.objects.filter(
            site_id=decl.site_id, kind=LedgerEntry.Kind.GENERATED, waste_code__in=codes, occurred_at__lt=end
        )
        .exclude(common_name="")
        .values_list("waste_code", "common_name")
        .distinct()
        .order_by("waste_code", "common_name")
    ):
        names.setdefault(code, []).append(name)
    return {code: "、".join(v) for code, v in names.items()}


def _provinces(rows: list[dict[str, Any]]) -> dict[str, str]:
    keys = {r["province"] for row in rows for r in row["sent_out"]["by_receiver"] if r["province"]}
    return dict(Region.objects.filter(key__in=keys).values_list("key", "name"))


def annex_c_lines(decl: Declaration) -> list[dict[str, Any]]:
    """The declaration's content as Annex C lines (dicts keyed by ``COLUMNS``); quantities Decimal."""
    rows: list[dict[str, Any]] = list(decl.content.get("rows", []))
    catalogue = _catalogue(decl)
    common = _common_names(decl, [r["waste_code"] for r in rows])
    provinces = _provinces(rows)
    out: list[dict[str, Any]] = []
    for seq, row in enumerate(rows, start=1):
        code = row["waste_code"]
        entry = catalogue.get(code)
        methods = row["self_treated"]["by_method"]
        receivers = row["sent_out"]["by_receiver"]
        for i in range(max(1, len(methods), len(receivers))):
            m = methods[i] if i < len(methods) else None
            r = receivers[i] if i < len(receivers) else None
            first = i == 0
            province = r["province"] if r else ""
            out.append(
                {
                    "seq": seq,
                    "waste_name": entry.description if entry is not None else "",
                    "common_name": common.get(code, ""),
                    "category": row.get("category", ""),
                    "waste_code": code,
                    "harmful_components": "",
                    "form": "",
                    "hazards": "，".join(entry.hazards) if entry is not None else "",
                    "opening": Decimal(row["opening"]) if first else None,
                    "generated": Decimal(row["generated"]) if first else None,
                    "received": Decimal(row.get("received", "0")) if first else None,
                    "self_method": m["method_code"] if m else "",
                    "self_tonnes": Decimal(m["tonnes"]) if m else None,
                    "province": provinces.get(province, province),
                    "receiver_name": r["receiver_name"] if r else "",
                    "licence_number": r["licence_number"] if r else "",
                    "sent_method": r["method_code"] if r else "",
                    "sent_tonnes": Decimal(r["tonnes"]) if r else None,
                    "closing": Decimal(row["closing"]) if first else None,
                }
            )
    return out


def _cells(line: dict[str, Any]) -> Iterator[Any]:
    for key, _ in COLUMNS:
        yield line[key]


def export_csv(decl: Declaration) -> bytes:
    """UTF-8 with BOM; quantities with six decimals, empty where the line has none."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([title for _, title in COLUMNS])
    for line in annex_c_lines(decl):
        writer.writerow([f"{v:.6f}" if isinstance(v, Decimal) else ("" if v is None else v) for v in _cells(line)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


HEADER_ROW = 7  # the column titles; lines follow from row 8


def export_xlsx(decl: Declaration) -> bytes:
    site = decl.site
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TABLES[Declaration.Kind(decl.kind)][:31]
    ws["A1"] = f"HJ 1259—2022 附录C {TABLES[Declaration.Kind(decl.kind)]}"
    ws["A1"].font = Font(bold=True, size=14)
    facts = (
        ("单位名称", site.enterprise.name),
        ("统一社会信用代码", site.enterprise.credit_code),
        ("生产经营场所", f"{site.name}（{site.address}）"),
        ("申报期", f"{decl.period_start} 至 {decl.period_end}（截止日 {decl.due_on}）"),
        (
            "状态",
            f"{decl.get_status_display()}；更正次数 {decl.revision}"
            + (f"；代为申报单位 {decl.declared_by_enterprise.name}" if decl.declared_by_enterprise else ""),
        ),
    )
    for i, (label, value) in enumerate(facts, start=2):
        ws.cell(row=i, column=1, value=label).font = Font(bold=True)
        ws.cell(row=i, column=2, value=value)
    for col, (_, title) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(col)].width = 14 if col != 2 else 40
    for r, line in enumerate(annex_c_lines(decl), start=HEADER_ROW + 1):
        for col, (key, _) in enumerate(COLUMNS, start=1):
            value = line[key]
            cell = ws.cell(row=r, column=col, value=value)
            if key in QUANTITY_KEYS and value is not None:
                cell.number_format = "0.000000"
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def export_filename(decl: Declaration, fmt: str) -> str:
    return f"declaration-{decl.site_id}-{decl.kind}-{decl.period_start.isoformat()}-r{decl.revision}.{fmt}"
