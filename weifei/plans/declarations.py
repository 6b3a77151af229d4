"""申报 (固废法 第七十八条; HJ 1259—2022 7; regulations §3.4, §13 rules 11–12).

Pure rules first (periods and due dates), then the services. A declaration is generated from the
ledger (HJ 1259 7.3.2), never typed in: per waste code the opening stock, what was generated,
self-treated (by method) and sent out (by receiver and method) in the period, and the closing
stock. Submitting checks rule 12 (closing = opening + generated − self-treated − sent out).

Due dates: HJ 1259 7.2 says "每月15日前" / "每季度首月15日前" / "每年3月31日前". When that day is not
a working day it moves to the next working day (民法典 第二百零三条 applies the same to a deadline's
last day falling on a statutory holiday; common administrative practice) — ``WorkCalendar``.

Who declares: the unit's admins and members (or the system). Agents (a licensed operator or an
approved third party, HJ 1259 7.1.3) are not built yet: ``declared_by_enterprise`` stays null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound
from weifei.core.events import event_record
from weifei.core.permissions import require_enterprise_member
from weifei.core.workdays import WorkCalendar
from weifei.registry.models import ManagementClass, Site

from .ledger import stock_from_sums
from .models import Declaration, LedgerEntry

Kind = Declaration.Kind
SH = ZoneInfo("Asia/Shanghai")

# HJ 1259 7.2.1–7.2.3: which declarations each class makes.
KINDS_FOR_CLASS: dict[str, tuple[str, ...]] = {
    ManagementClass.KEY: (Kind.MONTHLY, Kind.ANNUAL),
    ManagementClass.SIMPLIFIED: (Kind.QUARTERLY, Kind.ANNUAL),
    ManagementClass.REGISTERED: (Kind.ANNUAL,),
}

START_WORDS: dict[str, str] = {
    Kind.MONTHLY: "某月1日",
    Kind.QUARTERLY: "某季度首日（1、4、7、10月1日）",
    Kind.ANNUAL: "1月1日",
}

# ---------------------------------------------------------------- pure rules


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date
    end: dt.date  # inclusive
    due: dt.date


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def period_bounds(kind: str, period_start: dt.date) -> tuple[dt.date, dt.date]:
    """The period (start, inclusive end) that starts on ``period_start``; refuses other dates."""
    y, m, d = period_start.year, period_start.month, period_start.day
    if kind == Kind.MONTHLY and d == 1:
        return period_start, _month_end(y, m)
    if kind == Kind.QUARTERLY and d == 1 and m in (1, 4, 7, 10):
        return period_start, _month_end(y, m + 2)
    if kind == Kind.ANNUAL and (m, d) == (1, 1):
        return period_start, dt.date(y, 12, 31)
    if kind not in Kind.values:
        raise ApplicationError(f"申报类型 {kind} 不存在：应为月度、季度或年度", code="kind_unknown", field="kind")
    what = START_WORDS[kind]
    raise ApplicationError(f"申报期起始日应为{what}", code="period_start_invalid", field="period_start")


def nominal_due(kind: str, period_end: dt.date) -> dt.date:
    """HJ 1259 7.2: the 15th of the following month (monthly; quarterly: the next quarter's first
    month), 31 March of the next year (annual) — before any working-day roll-forward."""
    if kind == Kind.ANNUAL:
        return dt.date(period_end.year + 1, 3, 31)
    nxt = period_end + dt.timedelta(days=1)
    return dt.date(nxt.year, nxt.month, 15)


def due_date(kind: str, period_end: dt.date, calendar: WorkCalendar | None = None) -> dt.date:
    """The nominal due date rolled forward to a working day (民法典 第二百零三条)."""
    cal = calendar if calendar is not None else WorkCalendar()
    return cal.add_working_days(nominal_due(kind, period_end), 0)


def declaration_periods(management_class: str, year: int, calendar: WorkCalendar | None = None) -> list[Period]:
    """Every declaration period a unit of ``management_class`` has in ``year``, with due dates."""
    if management_class not in KINDS_FOR_CLASS:
        raise ApplicationError(f"管理类别 {management_class} 不存在", code="class_unknown", field="management_class")
    cal = calendar if calendar is not None else WorkCalendar()
    starts: dict[str, list[dt.date]] = {
        Kind.MONTHLY: [dt.date(year, m, 1) for m in range(1, 13)],
        Kind.QUARTERLY: [dt.date(year, m, 1) for m in (1, 4, 7, 10)],
        Kind.ANNUAL: [dt.date(year, 1, 1)],
    }
    out = []
    for kind in KINDS_FOR_CLASS[management_class]:
        for start in starts[kind]:
            _, end = period_bounds(kind, start)
            out.append(Period(kind, start, end, due_date(kind, end, cal)))
    return out


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def invariant_breaks(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Rule 12: the waste codes whose closing ≠ opening + generated − self-treated − sent out,
    or whose method/receiver breakdowns do not add up to their totals."""
    bad = []
    for r in rows:
        self_t, sent = r["self_treated"], r["sent_out"]
        ok = _d(r["closing"]) == _d(r["opening"]) + _d(r["generated"]) - _d(self_t["total"]) - _d(sent["total"])
        ok = ok and sum((_d(x["tonnes"]) for x in self_t["by_method"]), Decimal(0)) == _d(self_t["total"])
        ok = ok and sum((_d(x["tonnes"]) for x in sent["by_receiver"]), Decimal(0)) == _d(sent["total"])
        if not ok:
            bad.append(str(r["waste_code"]))
    return bad


# ---------------------------------------------------------------- generation


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=SH)


def _stock_before(site_id: int, at: dt.datetime) -> dict[str, Decimal]:
    """Stock per waste code from every entry strictly before ``at`` (the ledger's rule-12 stock)."""
    qs = LedgerEntry.objects.filter(site_id=site_id, occurred_at__lt=at)
    rows = qs.values_list("waste_code", "kind").annotate(t=Sum("quantity_tonnes")).order_by()
    return {code: s.stock for code, s in stock_from_sums(rows).items()}


def _s(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.000001")))


def build_content(site_id: int, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The Annex C rows for [start 00:00, end+1 00:00) Asia/Shanghai, from the ledger."""
    t0, t1 = _local_midnight(start), _local_midnight(end + dt.timedelta(days=1))
    opening, closing = _stock_before(site_id, t0), _stock_before(site_id, t1)
    flows = LedgerEntry.objects.filter(site_id=site_id, occurred_at__gte=t0, occurred_at__lt=t1)
    codes = set(closing) | set(opening)
    categories = dict(
        LedgerEntry.objects.filter(site_id=site_id, waste_code__in=codes).values_list("waste_code", "category")
    )
    generated = dict(
        flows.filter(kind=LedgerEntry.Kind.GENERATED)
        .values_list("waste_code")
        .annotate(t=Sum("quantity_tonnes"))
        .order_by()
    )
    by_method: dict[str, dict[str, Decimal]] = {}
    for code, method, t in (
        flows.filter(kind=LedgerEntry.Kind.SELF_TREATED)
        .values_list("waste_code", "method_code")
        .annotate(t=Sum("quantity_tonnes"))
        .order_by()
    ):
        by_method.setdefault(code, {})[method] = t
    by_receiver: dict[str, dict[tuple[str, str, str, str], Decimal]] = {}
    for code, name, number, rtype, region, method, t in (
        flows.filter(kind=LedgerEntry.Kind.SENT_OUT)
        .values_list(
            "waste_code", "receiver_name", "licence_number", "receiver_type", "receiver__region__key", "method_code"
        )
        .annotate(t=Sum("quantity_tonnes"))
        .order_by()
    ):
        province = "境外" if rtype == "abroad" else (f"{region[:2]}0000" if region else "")
        key = (province, name, number, method)
        group = by_receiver.setdefault(code, {})
        group[key] = group.get(key, Decimal(0)) + t
    rows = []
    for code in sorted(codes | set(generated)):
        methods = {m: t for m, t in by_method.get(code, {}).items() if t != 0}
        receivers = {k: t for k, t in by_receiver.get(code, {}).items() if t != 0}
        row = {
            "waste_code": code,
            "category": categories.get(code, ""),
            "opening": _s(opening.get(code, Decimal(0))),
            "generated": _s(generated.get(code, Decimal(0))),
            "self_treated": {
                "total": _s(sum(methods.values(), Decimal(0))),
                "by_method": [{"method_code": m, "tonnes": _s(t)} for m, t in sorted(methods.items())],
            },
            "sent_out": {
                "total": _s(sum(receivers.values(), Decimal(0))),
                "by_receiver": [
                    {"province": p, "receiver_name": n, "licence_number": ln, "method_code": m, "tonnes": _s(t)}
                    for (p, n, ln, m), t in sorted(receivers.items())
                ],
            },
            "closing": _s(closing.get(code, Decimal(0))),
        }
        if any(_d(row[k]) != 0 for k in ("opening", "generated", "closing")) or methods or receivers:
            rows.append(row)
    return {"rows": rows}


# ---------------------------------------------------------------- services


def _now() -> dt.datetime:
    return timezone.now()


def _site(site_id: int) -> Site:
    site = Site.objects.select_related("enterprise").filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site")
    return site


def _require_declarer(actor: Actor, site: Site) -> None:
    require_enterprise_member(actor, site.enterprise_id, action="申报危险废物")


def _summary(decl: Declaration) -> dict[str, Any]:
    return {
        "kind": decl.kind,
        "period_start": decl.period_start.isoformat(),
        "period_end": decl.period_end.isoformat(),
        "due_on": decl.due_on.isoformat(),
        "status": decl.status,
        "late": decl.late,
        "rows": len(decl.content.get("rows", [])),
    }


@transaction.atomic
def declaration_generate(*, actor: Actor, site_id: int, kind: str, period_start: dt.date) -> Declaration:
    """Build (or rebuild, while a draft) the site's declaration for the period from the ledger."""
    site = _site(site_id)
    _require_declarer(actor, site)
    start, end = period_bounds(kind, period_start)
    klass = site.management_class
    if klass and kind not in KINDS_FOR_CLASS.get(klass, ()):
        raise ApplicationError(
            f"{ManagementClass(klass).label}不作{Kind(kind).label}（HJ 1259 7.2）",
            code="kind_not_for_class",
            field="kind",
        )
    now = _now()
    if timezone.localtime(now, SH).date() <= end:
        raise ApplicationError(
            f"申报期（至 {end}）尚未结束，不能生成申报", code="period_not_ended", field="period_start"
        )
    Site.objects.select_for_update().filter(id=site.id).first()  # serialise generation per site
    decl = Declaration.objects.select_for_update().filter(site=site, kind=kind, period_start=start).first()
    if decl is not None and decl.status != Declaration.Status.DRAFT:
        raise ApplicationError("该期已申报，不能重新生成", code="declaration_submitted", field="status")
    content = build_content(site.id, start, end)
    if decl is None:
        decl = Declaration(site=site, kind=kind, period_start=start)
    decl.period_end = end
    decl.due_on = due_date(kind, end)
    decl.generated_at = now
    decl.content = content
    try:
        with transaction.atomic():
            decl.save()
    except IntegrityError as exc:  # pragma: no cover - the site lock makes this a race only
        raise ApplicationError("该期申报正在生成，请重试", code="declaration_conflict", field="period_start") from exc
    event_record(subject=decl, actor=actor, kind="declaration.generated", after=_summary(decl),
                 organisation=site.enterprise)  # fmt: skip
    return decl


def check_content(content: Mapping[str, Any]) -> None:
    """Refuse content that breaks rule 12 (cannot happen when built from the ledger)."""
    bad = invariant_breaks(content.get("rows", []))
    if bad:
        raise ApplicationError(
            f"废物 {'、'.join(bad)} 的期末贮存量不等于期初 + 产生 − 自行利用处置 − 委外（§13 第12条）",
            code="stock_invariant",
            field="content",
        )


@transaction.atomic
def declaration_submit(*, actor: Actor, declaration_id: int) -> Declaration:
    """Confirm and submit (HJ 1259 7.3.2); late when the Asia/Shanghai date is after ``due_on``."""
    decl = Declaration.objects.select_for_update().select_related("site__enterprise").filter(id=declaration_id).first()
    if decl is None:
        raise NotFound("申报不存在", field="declaration")
    site = decl.site
    _require_declarer(actor, site)
    if decl.status != Declaration.Status.DRAFT:
        raise ApplicationError("该期已申报", code="declaration_submitted", field="status")
    check_content(decl.content)
    now = _now()
    decl.status = Declaration.Status.SUBMITTED
    decl.submitted_at = now
    decl.submitted_by_id = actor.user_id
    decl.late = timezone.localtime(now, SH).date() > decl.due_on
    decl.save(update_fields=["status", "submitted_at", "submitted_by", "late"])
    event_record(subject=decl, actor=actor, kind="declaration.submitted", after=_summary(decl),
                 organisation=site.enterprise)  # fmt: skip
    return decl
