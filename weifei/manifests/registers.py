"""Registers (登记簿) per party, issue 5 scope 7: the manifests an enterprise sent (``outgoing``, as
移出人), carried (``transported``, as a carrier of some leg) or received (``incoming``, as 接受人),
one row per waste line, read through ``selectors.register`` (so an actor only ever gets the
manifests it sees) and exported as JSON rows, CSV (UTF-8 with BOM, so that Excel opens the Chinese
text) or XLSX (openpyxl in write-only mode: rows are streamed into the workbook, not held as cells).

Decisions: drafts are not in a register (a draft is not yet a transfer: nothing was issued to the
other parties); the period filters on the day the manifest was made (its number's date, Asia/Shanghai);
a register holds at most ``MAX_MANIFESTS`` manifests per request — ask for a shorter period beyond.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.registry.selectors import enterprise_get

from . import selectors
from .models import Manifest, ManifestLeg, State

KINDS = ("outgoing", "transported", "incoming")
KIND_NAMES = {"outgoing": "移出登记簿", "transported": "运输登记簿", "incoming": "接受登记簿"}
FORMATS = ("json", "csv", "xlsx")
MAX_MANIFESTS = 20_000
MAX_DAYS = 366 * 3

# (key, header): the order of the columns in CSV/XLSX and the keys of the JSON rows.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("number", "联单编号"),
    ("created_on", "填写日期"),
    ("state", "状态代码"),
    ("state_label", "状态"),
    ("transfer_type", "转移类型"),
    ("consignor", "移出人"),
    ("consignor_credit_code", "移出人统一社会信用代码"),
    ("consignor_site", "移出场所"),
    ("carriers", "承运人"),
    ("vehicles", "车牌号"),
    ("receiver", "接受人"),
    ("receiver_credit_code", "接受人统一社会信用代码"),
    ("waste_code", "废物代码"),
    ("category", "废物类别"),
    ("waste_name", "废物名称"),
    ("container_count", "容器数量"),
    ("declared_tonnes", "移出量（吨）"),
    ("received_tonnes", "接受量（吨）"),
    ("picked_up_on", "起运日期"),
    ("accepted_on", "接受日期"),
    ("acceptance", "接受意见"),
    ("treatment_method", "利用/处置方式"),
)


def _check_period(date_from: dt.date | None, date_to: dt.date | None) -> None:
    if date_from and date_to and date_from > date_to:
        raise ApplicationError("起始日期不能晚于截止日期", code="period_invalid", field="from")
    if date_from and date_to and (date_to - date_from).days > MAX_DAYS:
        raise ApplicationError("登记簿一次最多导出三年", code="period_too_long", field="to")


def _day(value: dt.datetime | None) -> str:
    return timezone.localdate(value).isoformat() if value else ""


def _tonnes(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def register_rows(
    *,
    actor: Actor,
    enterprise_id: int,
    kind: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The register's rows, oldest manifest first (one row per waste line)."""
    if kind not in KINDS:
        raise ApplicationError("登记簿类型应为 outgoing、transported 或 incoming", code="kind_invalid", field="kind")
    enterprise_get(actor=actor, enterprise_id=enterprise_id)  # 404 for units the caller cannot see
    _check_period(date_from, date_to)
    qs = selectors.register(actor=actor, enterprise_id=enterprise_id, kind=kind).exclude(state=State.DRAFT)
    if date_from:
        start = dt.datetime.combine(date_from, dt.time.min, tzinfo=timezone.get_current_timezone())
        qs = qs.filter(created_at__gte=start)
    if date_to:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone())
        qs = qs.filter(created_at__lt=end)
    qs = (
        qs.select_related("consignor", "consignor_site", "receiver")
        .prefetch_related(
            "lines",
            Prefetch("legs", queryset=ManifestLeg.objects.select_related("carrier", "vehicle").order_by("order")),
        )
        .order_by("created_at", "id")
    )
    if qs.count() > MAX_MANIFESTS:
        raise ApplicationError(
            f"所选期间的联单超过 {MAX_MANIFESTS} 张，请缩短期间分批导出", code="register_too_large", field="from"
        )
    rows: list[dict[str, Any]] = []
    for m in qs:
        rows += list(_rows_of(m))
    return rows


def _rows_of(m: Manifest) -> Iterator[dict[str, Any]]:
    legs = list(m.legs.all())
    first_pickup = legs[0].picked_up_at if legs else None
    head = {
        "number": m.number,
        "created_on": _day(m.created_at),
        "state": m.state,
        "state_label": State(m.state).label,
        "transfer_type": Manifest.TransferType(m.transfer_type).label,
        "consignor": m.consignor.name,
        "consignor_credit_code": m.consignor.credit_code,
        "consignor_site": m.consignor_site.name,
        "carriers": "；".join(leg.carrier.name for leg in legs),
        "vehicles": "；".join(leg.vehicle.plate for leg in legs if leg.vehicle is not None),
        "receiver": m.receiver.name,
        "receiver_credit_code": m.receiver.credit_code,
        "picked_up_on": _day(first_pickup),
        "accepted_on": m.accepted_on.isoformat() if m.accepted_on else "",
        "acceptance": Manifest.Acceptance(m.acceptance).label if m.acceptance else "",
        "treatment_method": m.treatment_method,
    }
    for line in m.lines.all():
        yield {
            **head,
            "waste_code": line.waste_code,
            "category": line.category,
            "waste_name": line.waste_name,
            "container_count": line.container_count,
            "declared_tonnes": _tonnes(line.declared_tonnes),
            "received_tonnes": _tonnes(line.received_tonnes),
        }


def _safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV/formula injection): a cell starting with
    = + - @ is prefixed with an apostrophe. Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def register_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for _, header in COLUMNS])
    for row in rows:
        writer.writerow([_safe(row[key]) for key, _ in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def register_xlsx(rows: list[dict[str, Any]], *, title: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    ws.append([header for _, header in COLUMNS])
    numeric = {"declared_tonnes", "received_tonnes"}
    for row in rows:
        ws.append([Decimal(row[key]) if key in numeric and row[key] != "" else _safe(row[key]) for key, _ in COLUMNS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
