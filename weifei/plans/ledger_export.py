"""HJ 1259—2022 Annex B export of a site's 管理台账 for a date range.

An Excel workbook with five sheets — B.1 产生, B.2 入库, B.3 出库, B.4 自行利用/处置, B.5 委外利用/处置 —
(and a sixth, 接收, weifei's, when the range holds a licensed operator's intake on transfer manifests)
each with the columns regulations.md §3.3 lists for that table, in that order, or one CSV per
record kind (UTF-8 with a byte-order mark, so that Excel opens it as UTF-8). Rows come from the
database in chunks and go out through openpyxl's write-only mode (rows are not kept in memory),
so a province-year range streams. Column order and doubts: docs/ledger-import.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone

from weifei.catalog import cache
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.registry.models import Facility, Site
from weifei.registry.selectors import site_get

from .models import LedgerEntry, PlanLine

Kind = LedgerEntry.Kind
CHUNK = 5000
FIELDS = (
    "id", "kind", "batch_code", "occurred_at", "waste_code", "category", "quantity_tonnes", "entered_quantity",
    "entered_unit", "container_code", "container_type", "container_count", "common_name", "destination",
    "finished_at", "handler", "method_code", "receiver_type", "receiver_name", "licence_number", "reason",
    "facility__code", "facility__kind", "source__batch_code", "source__kind", "reversal_of__batch_code",
    "manifest_number", "container_codes",
)  # fmt: skip
UNIT_NAMES = dict(LedgerEntry.Unit.choices)
FACILITY_KINDS = dict(Facility.Kind.choices)
RECEIVER_TYPES = dict(PlanLine.ReceiverType.choices)

Row = dict[str, Any]


@dataclass(frozen=True)
class Sheet:
    kind: str
    title: str  # the sheet name
    file_stem: str  # the CSV file name
    columns: tuple[tuple[str, Callable[[Row], Any]], ...]


def _time(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _name(row: Row) -> str:
    """名录名称: the 名录 description of the code in the version in force on the record's date."""
    version = cache.version_on(timezone.localtime(row["occurred_at"]).date())
    code = cache.codes(version).get(row["waste_code"]) if version is not None else None
    return code.description if code is not None else ""


def _src(kind: str) -> Callable[[Row], str]:
    return lambda r: r["source__batch_code"] if r["source__kind"] == kind else ""


def _g(name: str) -> Callable[[Row], Any]:
    return lambda r: r[name] if r[name] is not None else ""


CONTAINER = (
    ("容器/包装编码", _g("container_code")),
    ("容器/包装类型", _g("container_type")),
    ("容器/包装数量", _g("container_count")),
)
WASTE = (
    ("废物名称", _name),
    ("废物俗称", _g("common_name")),
    ("废物类别", _g("category")),
    ("废物代码", _g("waste_code")),
)


def _amount(label: str) -> tuple[tuple[str, Callable[[Row], Any]], ...]:
    return (
        (label, lambda r: r["entered_quantity"]),
        ("计量单位", lambda r: UNIT_NAMES.get(r["entered_unit"], r["entered_unit"])),
        ("折合吨数", lambda r: r["quantity_tonnes"]),
    )


NOTE = (
    ("备注", lambda r: f"冲销 {r['reversal_of__batch_code']}：{r['reason']}" if r["reversal_of__batch_code"] else ""),
)
FACILITY_CODE = _g("facility__code")
FACILITY_KIND = lambda r: FACILITY_KINDS.get(r["facility__kind"], "")  # noqa: E731

SHEETS: tuple[Sheet, ...] = (
    Sheet(Kind.GENERATED, "B.1 产生", "B1-产生", (
        ("产生批次编码", _g("batch_code")), ("产生时间", lambda r: _time(r["occurred_at"])), *WASTE,
        *_amount("产生量"), *CONTAINER, ("产生设施编码", FACILITY_CODE), ("产生部门经办人", _g("handler")),
        ("去向", _g("destination")), *NOTE,
    )),
    Sheet(Kind.STORED_IN, "B.2 入库", "B2-入库", (
        ("入库批次编码", _g("batch_code")), ("入库时间", lambda r: _time(r["occurred_at"])), *CONTAINER, *WASTE,
        *_amount("入库量"), ("贮存设施编码", FACILITY_CODE), ("贮存设施类型", FACILITY_KIND),
        ("运送部门经办人", lambda r: ""), ("贮存部门经办人", _g("handler")), ("产生批次编码", _g("source__batch_code")),
        *NOTE,
    )),
    Sheet(Kind.STORED_OUT, "B.3 出库", "B3-出库", (
        ("出库批次编码", _g("batch_code")), ("出库时间", lambda r: _time(r["occurred_at"])), *CONTAINER, *WASTE,
        *_amount("出库量"), ("贮存设施编码", FACILITY_CODE), ("贮存设施类型", FACILITY_KIND),
        ("出库部门经办人", _g("handler")), ("运送部门经办人", lambda r: ""), ("入库批次编码", _g("source__batch_code")),
        ("去向", _g("destination")), *NOTE,
    )),
    Sheet(Kind.SELF_TREATED, "B.4 自行利用处置", "B4-自行利用处置", (
        ("自行利用/处置批次编码", _g("batch_code")), ("自行利用/处置时间", lambda r: _time(r["occurred_at"])),
        *CONTAINER, *WASTE, *_amount("自行利用/处置量"), ("自行利用/处置设施编码", FACILITY_CODE),
        ("自行利用/处置方式", _g("method_code")), ("自行利用/处置完毕时间", lambda r: _time(r["finished_at"])),
        ("自行利用/处置部门经办人", _g("handler")), ("产生批次编码", _src(Kind.GENERATED)),
        ("出库批次编码", _src(Kind.STORED_OUT)), *NOTE,
    )),
    Sheet(Kind.SENT_OUT, "B.5 委外利用处置", "B5-委外利用处置", (
        ("委外利用/处置批次编码", _g("batch_code")), ("出厂时间", lambda r: _time(r["occurred_at"])), *CONTAINER,
        *WASTE, *_amount("委外利用/处置量"), ("利用/处置方式", _g("method_code")),
        ("接收单位类型", lambda r: RECEIVER_TYPES.get(r["receiver_type"], "")),
        ("利用/处置单位名称", _g("receiver_name")),
        ("许可证编码/豁免条目/出口核准通知单编号", _g("licence_number")),
        ("产生批次编码", _src(Kind.GENERATED)), ("出库批次编码", _src(Kind.STORED_OUT)), *NOTE,
    )),
    # weifei's, not Annex B: a licensed operator's intake on transfer manifests (ledger_link.receive).
    Sheet(Kind.RECEIVED, "接收", "R-接收", (
        ("接收批次编码", _g("batch_code")), ("接收时间", lambda r: _time(r["occurred_at"])), *CONTAINER, *WASTE,
        *_amount("接收量"), ("转移联单编号", _g("manifest_number")),
        ("容器识别码", lambda r: "、".join(r["container_codes"] or [])), ("经办人", _g("handler")), *NOTE,
    )),
)  # fmt: skip
SHEET_BY_KIND = {s.kind: s for s in SHEETS}


@dataclass(frozen=True)
class ExportRange:
    site: Site
    start: dt.date
    end: dt.date


def export_range(*, actor: Actor, site_id: int, start: dt.date | None, end: dt.date | None) -> ExportRange:
    """Who sees the site (its unit, regulators over its region, the system) may export its ledger;
    others get 404. The range is inclusive, in Beijing time; the default is this year so far."""
    site = site_get(actor=actor, site_id=site_id)
    today = timezone.localdate()
    start = start or dt.date(today.year, 1, 1)
    end = end or today
    if end < start:
        raise ApplicationError("截止日期不能早于起始日期", code="range_reversed", field="to")
    return ExportRange(site, start, end)


def _entries(r: ExportRange, kind: str) -> Any:
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(r.start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(r.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return LedgerEntry.objects.filter(site=r.site, kind=kind, occurred_at__gte=lo, occurred_at__lt=hi)


def _rows(r: ExportRange, kind: str) -> Iterator[Row]:
    qs = _entries(r, kind).order_by("occurred_at", "id").values(*FIELDS)
    yield from qs.iterator(chunk_size=CHUNK)


def sheets_for(r: ExportRange) -> list[Sheet]:
    """The five Annex B sheets, and the 接收 sheet when the range has intake records (an operator's),
    so a producer's files stay exactly Annex B."""
    return [s for s in SHEETS if s.kind != Kind.RECEIVED or _entries(r, s.kind).exists()]


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize() if value == value.to_integral_value() else value
    return value


def export_xlsx(out: IO[bytes] | str, r: ExportRange) -> dict[str, int]:
    """The five Annex B sheets; returns the row count per sheet."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    counts: dict[str, int] = {}
    for sheet in sheets_for(r):
        ws = wb.create_sheet(sheet.title)
        ws.append([header for header, _ in sheet.columns])
        n = 0
        for row in _rows(r, sheet.kind):
            ws.append([_cell(get(row)) for _, get in sheet.columns])
            n += 1
        counts[sheet.title] = n
    wb.save(out)
    return counts


def export_csv(r: ExportRange, kind: str) -> Iterator[str]:
    """One Annex B table as CSV text pieces, BOM first (for a streaming response)."""
    sheet = SHEET_BY_KIND.get(kind)
    if sheet is None:
        raise ApplicationError(f"记录类型 {kind!r} 不存在", code="kind_unknown", field="kind")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([header for header, _ in sheet.columns])
    for row in _rows(r, kind):
        writer.writerow([get(row) for _, get in sheet.columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_csv_zip(out: IO[bytes], r: ExportRange) -> None:
    """All five tables as CSV files in one zip."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for sheet in sheets_for(r):
            with archive.open(f"{sheet.file_stem}.csv", "w") as f:
                for piece in export_csv(r, sheet.kind):
                    f.write(piece.encode("utf-8"))


def file_name(r: ExportRange, suffix: str) -> str:
    return f"台账-{r.site.id}-{r.start:%Y%m%d}-{r.end:%Y%m%d}.{suffix}"
