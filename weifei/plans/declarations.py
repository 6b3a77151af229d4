"""申报 (固废法 第七十八条; HJ 1259—2022 7; regulations §3.4, §13 rules 11–12).

Pure rules first (periods and due dates), then the services. A declaration is generated from the
ledger (HJ 1259 7.3.2), never typed in: per waste code the opening stock, what was generated,
self-treated (by method) and sent out (by receiver and method) in the period, and the closing
stock. Submitting checks rule 12 (closing = opening + generated − self-treated − sent out).

Due dates: HJ 1259 7.2 says "每月15日前" / "每季度首月15日前" / "每年3月31日前". When that day is not
a working day it moves to the next working day (民法典 第二百零三条 applies the same to a deadline's
last day falling on a statutory holiday; common administrative practice) — ``WorkCalendar``.

Who declares: the unit's admins and members (or the system), or an agent's admins and members
(HJ 1259 7.1.3: a licensed operator, or a third party approved by the local bureau) while a
``DeclarationMandate`` of the unit is active on that day; ``declared_by_enterprise`` then names the agent.
Mandates, corrections (更正), the period overview and the supervision sweep follow the services below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError, NotFound
from weifei.core.events import event_record
from weifei.core.permissions import require_enterprise_member, require_regulator_over
from weifei.core.workdays import WorkCalendar
from weifei.registry.models import Enterprise, Licence, ManagementClass, Site
from weifei.registry.selectors import site_get

from .findings import finding_raise, finding_resolve
from .ledger import stock_from_sums
from .models import Declaration, DeclarationMandate, DeclarationRevision, Finding, LedgerEntry

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
    """Rule 12: the waste codes whose closing ≠ opening + generated (+ received) − self-treated − sent out,
    or whose method/receiver breakdowns do not add up to their totals."""
    bad = []
    for r in rows:
        self_t, sent = r["self_treated"], r["sent_out"]
        intake = _d(r["generated"]) + _d(r.get("received", "0"))  # "received" only on operators' rows
        ok = _d(r["closing"]) == _d(r["opening"]) + intake - _d(self_t["total"]) - _d(sent["total"])
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
    # One row per code (the category follows the code): DISTINCT, not every entry.
    categories = dict(
        LedgerEntry.objects.filter(site_id=site_id, occurred_at__lt=t1)
        .values_list("waste_code", "category")
        .distinct()
        .order_by()
    )
    generated = dict(
        flows.filter(kind=LedgerEntry.Kind.GENERATED)
        .values_list("waste_code")
        .annotate(t=Sum("quantity_tonnes"))
        .order_by()
    )
    received = dict(
        flows.filter(kind=LedgerEntry.Kind.RECEIVED)
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
    for code in sorted(codes | set(generated) | set(received)):
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
        # 接收 (a licensed operator's intake on transfer manifests): the key only where there is some,
        # so a producer's rows — and every declaration submitted before the kind existed — are unchanged.
        if received.get(code):
            row["received"] = _s(received[code])
        figures = ("opening", "generated", "received", "closing")
        if any(_d(row.get(k, "0")) != 0 for k in figures) or methods or receivers:
            rows.append(row)
    return {"rows": rows}


# ---------------------------------------------------------------- services


def _now() -> dt.datetime:
    return timezone.now()


def today_local() -> dt.date:
    """Today's date in Asia/Shanghai (mandates are active by the day)."""
    return timezone.localtime(_now(), SH).date()


def _site(site_id: int) -> Site:
    site = Site.objects.select_related("enterprise").filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site")
    return site


def _require_declarer(actor: Actor, site: Site, on: dt.date | None = None) -> Enterprise | None:
    """The unit's own admins/members or the system (→ None), or an agent's admins/members under a
    mandate active on ``on`` (→ the agent enterprise); everyone else is refused."""
    if actor.kind == "enterprise" and actor.role_in(site.enterprise_id) is None and not actor.read_only:
        agent = mandate_agent_for(actor, site.enterprise_id, on or today_local())
        if agent is not None:
            return agent
    require_enterprise_member(actor, site.enterprise_id, action="申报危险废物")
    return None


def _summary(decl: Declaration) -> dict[str, Any]:
    return {
        "kind": decl.kind,
        "period_start": decl.period_start.isoformat(),
        "period_end": decl.period_end.isoformat(),
        "due_on": decl.due_on.isoformat(),
        "status": decl.status,
        "late": decl.late,
        "rows": len(decl.content.get("rows", [])),
        "revision": decl.revision,
        "declared_by_enterprise": decl.declared_by_enterprise_id,
    }


def _record(decl: Declaration, actor: Actor, kind: str, site: Site, agent: Enterprise | None, **kw: Any) -> None:
    """On the unit's stream; also on the agent's when an agent acts (both keep the legal record)."""
    after = _summary(decl)
    event_record(subject=decl, actor=actor, kind=kind, after=after, organisation=site.enterprise_id, **kw)
    if agent is not None:
        event_record(subject=decl, actor=actor, kind=kind, after=after | {"for_unit": site.enterprise_id},
                     organisation=agent.id, **kw)  # fmt: skip


@transaction.atomic
def declaration_generate(*, actor: Actor, site_id: int, kind: str, period_start: dt.date) -> Declaration:
    """Build (or rebuild, while a draft) the site's declaration for the period from the ledger."""
    site = _site(site_id)
    agent = _require_declarer(actor, site)
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
    decl.declared_by_enterprise = agent
    try:
        with transaction.atomic():
            decl.save()
    except IntegrityError as exc:  # pragma: no cover - the site lock makes this a race only
        raise ApplicationError("该期申报正在生成，请重试", code="declaration_conflict", field="period_start") from exc
    _record(decl, actor, "declaration.generated", site, agent)
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
    agent = _require_declarer(actor, site)
    if decl.status != Declaration.Status.DRAFT:
        raise ApplicationError("该期已申报", code="declaration_submitted", field="status")
    check_content(decl.content)
    now = _now()
    decl.status = Declaration.Status.SUBMITTED
    decl.submitted_at = now
    decl.submitted_by_id = actor.user_id
    decl.late = timezone.localtime(now, SH).date() > decl.due_on
    decl.declared_by_enterprise = agent
    decl.save(update_fields=["status", "submitted_at", "submitted_by", "late", "declared_by_enterprise"])
    _record(decl, actor, "declaration.submitted", site, agent)
    return decl


# ---------------------------------------------------------------- agents (委托申报, HJ 1259 7.1.3)

MANDATE_MAX_DAYS = 366 * 5  # a mandate spans at most five years (weifei's bound; renew after)


def _agent_licensed_on(agent_id: int, on: dt.date) -> bool:
    """The agent holds a 危险废物经营许可证 valid on ``on`` (stored status valid, within its dates)."""
    return Licence.objects.filter(
        holder_id=agent_id, status=Licence.Status.VALID, valid_from__lte=on, valid_to__gte=on
    ).exists()


def mandate_agent_for(actor: Actor, unit_id: int, on: dt.date) -> Enterprise | None:
    """The agent enterprise through which ``actor`` (an admin or member of it) may declare for
    ``unit_id`` on ``on``: a mandate active that day; a licensed-basis agent must still hold a valid
    licence. None otherwise."""
    if actor.kind != "enterprise" or actor.read_only:
        return None
    agents = [eid for eid, role in actor.memberships if role in ("admin", "member") and eid != unit_id]
    if not agents:
        return None
    for mandate in DeclarationMandate.objects.select_related("agent").filter(
        unit_id=unit_id,
        agent_id__in=agents,
        status=DeclarationMandate.Status.ACTIVE,
        valid_from__lte=on,
        valid_to__gte=on,
    ):
        if mandate.basis == DeclarationMandate.Basis.APPROVED or _agent_licensed_on(mandate.agent_id, on):
            return mandate.agent
    return None


def agent_unit_ids(actor: Actor, on: dt.date) -> set[int]:
    """The units for which ``actor``'s enterprises hold a mandate active on ``on`` (what an agent sees)."""
    if actor.kind != "enterprise" or not actor.enterprise_ids:
        return set()
    return set(
        DeclarationMandate.objects.filter(
            agent_id__in=actor.enterprise_ids,
            status=DeclarationMandate.Status.ACTIVE,
            valid_from__lte=on,
            valid_to__gte=on,
        ).values_list("unit_id", flat=True)
    )


def _mandate_summary(m: DeclarationMandate) -> dict[str, Any]:
    return {
        "unit": m.unit_id,
        "agent": m.agent_id,
        "basis": m.basis,
        "status": m.status,
        "valid_from": m.valid_from.isoformat(),
        "valid_to": m.valid_to.isoformat(),
    }


def _mandate_record(m: DeclarationMandate, actor: Actor, kind: str, before: dict[str, Any] | None = None,
                    reason: str = "") -> None:  # fmt: skip
    after = _mandate_summary(m)
    event_record(subject=m, actor=actor, kind=kind, before=before, after=after, reason=reason,
                 organisation=m.unit_id)  # fmt: skip
    event_record(subject=m, actor=actor, kind=kind, before=before, after=after, reason=reason,
                 organisation=m.agent_id)  # fmt: skip


@transaction.atomic
def mandate_create(
    *, actor: Actor, unit_id: int, agent_id: int, basis: str, valid_from: dt.date, valid_to: dt.date
) -> DeclarationMandate:
    """The unit's admin authorises an agent. ``licensed``: the agent holds a licence valid today →
    active at once; ``approved``: pending until a regulator over the unit's region approves."""
    unit = Enterprise.objects.select_related("region").filter(id=unit_id).first()
    if unit is None:
        raise NotFound("委托单位不存在", field="unit_id")
    require_enterprise_member(actor, unit.id, action="委托他人申报", roles=("admin",))
    if basis not in DeclarationMandate.Basis.values:
        raise ApplicationError(
            f"委托依据 {basis!r} 无效：应为持证经营单位（licensed）或生态环境部门认可的第三方（approved）",
            code="basis_invalid",
            field="basis",
        )
    agent = Enterprise.objects.filter(id=agent_id).first()
    if agent is None:
        raise NotFound("受托单位不存在", field="agent_id")
    if agent.id == unit.id:
        raise ApplicationError("不能委托本单位代为申报", code="agent_is_unit", field="agent_id")
    today = today_local()
    if valid_to < valid_from:
        raise ApplicationError("委托止日不能早于委托起日", code="period_invalid", field="valid_to")
    if valid_to < today:
        raise ApplicationError(f"委托止日 {valid_to} 已过", code="period_past", field="valid_to")
    if (valid_to - valid_from).days > MANDATE_MAX_DAYS:
        raise ApplicationError("委托期限不能超过 5 年", code="period_too_long", field="valid_to")
    if basis == DeclarationMandate.Basis.LICENSED and not _agent_licensed_on(agent.id, today):
        raise ApplicationError(
            f"{agent.name} 今日没有有效的危险废物经营许可证，不能以持证经营单位身份受托申报（HJ 1259 7.1.3）",
            code="agent_not_licensed",
            field="agent_id",
        )
    Enterprise.objects.select_for_update().filter(id=unit.id).first()  # one mandate at a time per unit
    overlapping = DeclarationMandate.objects.filter(
        unit=unit,
        agent=agent,
        status__in=(DeclarationMandate.Status.PENDING, DeclarationMandate.Status.ACTIVE),
        valid_from__lte=valid_to,
        valid_to__gte=valid_from,
    )
    if overlapping.exists():
        raise ApplicationError(
            f"已有对 {agent.name} 的委托与该期限重叠，请先撤销", code="mandate_exists", field="agent_id"
        )
    licensed = basis == DeclarationMandate.Basis.LICENSED
    mandate = DeclarationMandate.objects.create(
        unit=unit,
        agent=agent,
        basis=basis,
        status=DeclarationMandate.Status.ACTIVE if licensed else DeclarationMandate.Status.PENDING,
        valid_from=valid_from,
        valid_to=valid_to,
        approved_at=_now() if licensed else None,
    )
    _mandate_record(mandate, actor, "mandate.created")
    return mandate


def _mandate_locked(mandate_id: int) -> DeclarationMandate:
    m = (
        DeclarationMandate.objects.select_for_update(of=("self",))
        .select_related("unit__region", "agent")
        .filter(id=mandate_id)
        .first()
    )
    if m is None:
        raise NotFound("委托不存在", field="mandate")
    return m


@transaction.atomic
def mandate_approve(*, actor: Actor, mandate_id: int) -> DeclarationMandate:
    """A (writing) regulator over the unit's region recognises the third party (HJ 1259 7.1.3)."""
    m = _mandate_locked(mandate_id)
    require_regulator_over(actor, m.unit.region.key, action="认可第三方代为申报")
    if m.status != DeclarationMandate.Status.PENDING:
        raise ApplicationError(f"该委托状态为{m.get_status_display()}，不能认可", code="mandate_not_pending",
                               field="status")  # fmt: skip
    before = _mandate_summary(m)
    m.status = DeclarationMandate.Status.ACTIVE
    m.approved_by_id = actor.user_id
    m.approved_at = _now()
    m.save(update_fields=["status", "approved_by", "approved_at"])
    _mandate_record(m, actor, "mandate.approved", before)
    return m


@transaction.atomic
def mandate_revoke(*, actor: Actor, mandate_id: int, reason: str = "") -> DeclarationMandate:
    """The unit's admin, or a regulator over the unit's region, ends a pending or active mandate."""
    m = _mandate_locked(mandate_id)
    if actor.kind == "regulator":
        require_regulator_over(actor, m.unit.region.key, action="撤销委托申报")
    else:
        require_enterprise_member(actor, m.unit_id, action="撤销委托申报", roles=("admin",))
    if m.status == DeclarationMandate.Status.REVOKED:
        raise ApplicationError("该委托已撤销", code="mandate_revoked", field="status")
    before = _mandate_summary(m)
    m.status = DeclarationMandate.Status.REVOKED
    m.revoked_at = _now()
    m.save(update_fields=["status", "revoked_at"])
    _mandate_record(m, actor, "mandate.revoked", before, reason=(reason or "").strip()[:300])
    return m


def mandates_visible(*, actor: Actor) -> QuerySet[DeclarationMandate]:
    """The unit's and the agent's users see their mandates; regulators those of units in their
    jurisdiction."""
    qs = DeclarationMandate.objects.select_related("unit__region", "agent", "approved_by")
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(unit__region__key__in=actor.region_codes)
    if actor.kind == "enterprise":
        return qs.filter(Q(unit_id__in=actor.enterprise_ids) | Q(agent_id__in=actor.enterprise_ids))
    return qs.none()


# ---------------------------------------------------------------- correction (更正)


def rows_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether regenerating gives other figures than ``old`` (JSON-equal rows)."""
    return list(old.get("rows", [])) != list(new.get("rows", []))


@transaction.atomic
def declaration_correct(*, actor: Actor, declaration_id: int, reason: str) -> Declaration:
    """更正: a submitted declaration whose ledger changed since (a reversal, a late record) is
    regenerated; the submitted content is frozen as a ``DeclarationRevision`` first."""
    reason = (reason or "").strip()
    qs = Declaration.objects.select_for_update(of=("self",)).select_related("site__enterprise")
    decl = qs.filter(id=declaration_id).first()
    if decl is None:
        raise NotFound("申报不存在", field="declaration")
    site = decl.site
    agent = _require_declarer(actor, site)
    if decl.status != Declaration.Status.SUBMITTED:
        raise ApplicationError("只有已申报的申报才能更正；草稿请重新生成", code="declaration_not_submitted",
                               field="status")  # fmt: skip
    if not reason:
        raise ApplicationError("请填写更正原因", code="reason_required", field="reason")
    if len(reason) > 300:
        raise ApplicationError("更正原因不能超过 300 个字符", code="reason_too_long", field="reason")
    content = build_content(site.id, decl.period_start, decl.period_end)
    if not rows_changed(decl.content, content):
        raise ApplicationError("台账自申报以来没有变化，无需更正", code="nothing_changed", field="content")
    check_content(content)
    assert decl.submitted_at is not None
    DeclarationRevision.objects.create(
        declaration=decl,
        revision=decl.revision,
        content=decl.content,
        submitted_at=decl.submitted_at,
        submitted_by_id=decl.submitted_by_id,
        declared_by_enterprise_id=decl.declared_by_enterprise_id,
        late=decl.late,
        reason=reason,
    )
    before = _summary(decl)
    now = _now()
    decl.content = content
    decl.revision += 1
    decl.corrected_at = now
    decl.generated_at = now
    decl.submitted_by_id = actor.user_id
    decl.declared_by_enterprise = agent
    decl.save(update_fields=["content", "revision", "corrected_at", "generated_at", "submitted_by",
                             "declared_by_enterprise"])  # fmt: skip
    _record(decl, actor, "declaration.corrected", site, agent, before=before, reason=reason)
    return decl


# ---------------------------------------------------------------- reads


def declarations_visible(*, actor: Actor) -> QuerySet[Declaration]:
    """The unit's users see its declarations; regulators those of sites in their jurisdiction; an
    agent those of units it holds an active mandate for today, and those it declared."""
    qs = Declaration.objects.select_related("site__enterprise", "site__region", "declared_by_enterprise")
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(site__region__key__in=actor.region_codes)
    if actor.kind == "enterprise":
        units = set(actor.enterprise_ids) | agent_unit_ids(actor, today_local())
        return qs.filter(Q(site__enterprise_id__in=units) | Q(declared_by_enterprise_id__in=actor.enterprise_ids))
    return qs.none()


def declaration_get(*, actor: Actor, declaration_id: int) -> Declaration:
    found = declarations_visible(actor=actor).filter(id=declaration_id).first()
    if found is None:
        raise NotFound("申报不存在或无权查看", field="declaration")
    return found


def declaration_list(
    *, actor: Actor, site_id: int | None = None, year: int | None = None, kind: str = "", status: str = ""
) -> QuerySet[Declaration]:
    qs = declarations_visible(actor=actor)
    if kind:
        if kind not in Kind.values:
            raise ApplicationError(f"申报类型 {kind!r} 无效", code="kind_unknown", field="kind")
        qs = qs.filter(kind=kind)
    if status:
        if status not in Declaration.Status.values:
            raise ApplicationError(f"状态 {status!r} 无效", code="status_invalid", field="status")
        qs = qs.filter(status=status)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    if year is not None:
        qs = qs.filter(period_start__year=year)
    return qs.order_by("site_id", "-period_start", "kind")


def declarable_site_get(*, actor: Actor, site_id: int) -> Site:
    """A site the actor sees (registry scope), or a site of a unit the actor's enterprise is an
    agent for today; others are "not found"."""
    try:
        return site_get(actor=actor, site_id=site_id)
    except NotFound:
        site = Site.objects.select_related("enterprise", "region").filter(id=site_id).first()
        if site is not None and site.enterprise_id in agent_unit_ids(actor, today_local()):
            return site
        raise


class PeriodStatus:
    NOT_DUE = "not_due"  # the period has not ended
    OPEN = "open"  # ended, due date not passed, not submitted
    ON_TIME = "on_time"
    LATE = "late"
    OVERDUE = "overdue"  # due date passed, not submitted
    STALE = "stale"  # submitted, but the ledger changed since


PERIOD_STATUS_NAMES = {
    PeriodStatus.NOT_DUE: "未到申报期",
    PeriodStatus.OPEN: "待申报",
    PeriodStatus.ON_TIME: "已按时申报",
    PeriodStatus.LATE: "已逾期申报",
    PeriodStatus.OVERDUE: "逾期未申报",
    PeriodStatus.STALE: "台账已变化，待更正",
}


def period_status(period: Period, decl: Declaration | None, today: dt.date, *, stale: bool = False) -> str:
    """Pure: a period's status on ``today`` (Asia/Shanghai) given its declaration."""
    if decl is not None and decl.status == Declaration.Status.SUBMITTED:
        if stale:
            return PeriodStatus.STALE
        return PeriodStatus.LATE if decl.late else PeriodStatus.ON_TIME
    if today <= period.end:
        return PeriodStatus.NOT_DUE
    return PeriodStatus.OPEN if today <= period.due else PeriodStatus.OVERDUE


def site_periods(*, actor: Actor, site_id: int, year: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every period the site's class requires in ``year`` with its status; a submitted period is
    regenerated in memory and compared (stale when the ledger changed since)."""
    site = declarable_site_get(actor=actor, site_id=site_id)
    if not 2000 <= year <= 2100:
        raise ApplicationError("年度应在 2000–2100 之间", code="year_invalid", field="year")
    klass = site.management_class or ManagementClass.KEY  # unclassified: every period (like plans)
    today = timezone.localtime(now or _now(), SH).date()
    found = {
        (d.kind, d.period_start): d
        for d in Declaration.objects.filter(site=site, period_start__year=year).select_related("declared_by_enterprise")
    }
    out = []
    for p in declaration_periods(klass, year):
        d = found.get((p.kind, p.start))
        stale = False
        if d is not None and d.status == Declaration.Status.SUBMITTED:
            stale = rows_changed(d.content, build_content(site.id, p.start, p.end))
        status = period_status(p, d, today, stale=stale)
        out.append({"period": p, "declaration": d, "status": status, "status_name": PERIOD_STATUS_NAMES[status]})
    return out


# ---------------------------------------------------------------- supervision sweep

SWEEP_RULES = ("declaration_missing", "declaration_late", "plan_missing")
SOURCE = "固废法 第七十八条、第一百一十二条(二)；HJ 1259—2022 7.2"


def finding_key(kind: str, period_start: dt.date) -> str:
    return f"{kind}:{period_start.isoformat()}"


def declarations_sweep(*, actor: Actor = SYSTEM, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise ``declaration_missing`` (violation) for every period of every non-closed classified
    site whose due date (Asia/Shanghai) has passed without a submitted declaration, raise
    ``declaration_late`` (warning) for a submission after the due date, resolve
    ``declaration_missing`` once submitted; from 1 April raise ``plan_missing`` for a site without a
    filed plan for the year (resolved once filed).

    Set-based: one query each for sites, declarations and existing findings, then only the
    differences are written (through ``finding_raise``/``finding_resolve``, idempotent). Looks back
    over the current and the previous calendar year only (periods of earlier years are not swept)."""
    now = now or _now()
    today = timezone.localtime(now, SH).date()
    years = (today.year - 1, today.year)
    cal = WorkCalendar()
    periods = {(k, y): declaration_periods(k, y, cal) for k in KINDS_FOR_CLASS for y in years}
    sites = {
        s.id: s
        for s in Site.objects.exclude(status=Site.Status.CLOSED)
        .exclude(management_class="")
        .only("id", "name", "enterprise_id", "management_class", "operation_started_on")
    }
    decls: dict[tuple[int, str, dt.date], tuple[str, bool, dt.datetime | None]] = {
        (sid, kind, start): (status, late, submitted)
        for sid, kind, start, status, late, submitted in Declaration.objects.filter(
            period_start__gte=dt.date(years[0], 1, 1), period_start__lte=dt.date(years[1], 12, 31)
        ).values_list("site_id", "kind", "period_start", "status", "late", "submitted_at")
    }
    findings = {
        (f.rule, f.site_id, f.key): f
        for f in Finding.objects.filter(rule__in=SWEEP_RULES).only(
            "id", "rule", "site_id", "key", "enterprise_id", "resolved_at"
        )
    }
    counts = {"raised_missing": 0, "raised_late": 0, "resolved_missing": 0, "raised_plan": 0, "resolved_plan": 0}
    submitted = Declaration.Status.SUBMITTED
    for site in sites.values():
        for year in years:
            for p in periods[(site.management_class, year)]:
                if today <= p.due or (site.operation_started_on and p.end < site.operation_started_on):
                    continue
                key = finding_key(p.kind, p.start)
                status, late, submitted_at = decls.get((site.id, p.kind, p.start), ("", False, None))
                label = f"{Kind(p.kind).label}（{p.start}—{p.end}）"
                if status != submitted:
                    if ("declaration_missing", site.id, key) not in findings:
                        counts["raised_missing"] += bool(finding_raise(
                            actor=actor, rule="declaration_missing", site=site, key=key, severity="violation",
                            message=f"{site.name} {label}截至 {p.due} 未申报", now=now,
                            details={"kind": p.kind, "period_start": p.start.isoformat(),
                                     "period_end": p.end.isoformat(), "due_on": p.due.isoformat(), "source": SOURCE},
                        ))  # fmt: skip
                    continue
                missing = findings.get(("declaration_missing", site.id, key))
                if missing is not None and missing.resolved_at is None:
                    counts["resolved_missing"] += finding_resolve(actor=actor, finding=missing, now=now,
                                                                  reason="已申报")  # fmt: skip
                if late and ("declaration_late", site.id, key) not in findings:
                    day = timezone.localtime(submitted_at, SH).date() if submitted_at else None
                    counts["raised_late"] += bool(finding_raise(
                        actor=actor, rule="declaration_late", site=site, key=key, severity="warning",
                        message=f"{site.name} {label}于 {day} 申报，晚于截止日 {p.due}", now=now,
                        details={"kind": p.kind, "period_start": p.start.isoformat(), "due_on": p.due.isoformat(),
                                 "submitted_on": day.isoformat() if day else None, "source": SOURCE},
                    ))  # fmt: skip
    _sweep_plans(actor, today, now, findings, counts)
    return counts


def _sweep_plans(
    actor: Actor, today: dt.date, now: dt.datetime, findings: Mapping[tuple[str, int, str], Finding],
    counts: dict[str, int],
) -> None:  # fmt: skip
    """plan_missing from 1 April (plans.rules.plan_missing via plans.selectors.sites_without_plan)."""
    from .selectors import sites_without_plan

    year = today.year
    missing = sites_without_plan(actor=actor, year=year, today=today)
    missing_ids = set()
    for r in missing:
        site, found = r["site"], r["finding"]
        missing_ids.add(site.id)
        if found is None or ("plan_missing", site.id, str(year)) in findings:
            continue
        counts["raised_plan"] += bool(finding_raise(
            actor=actor, rule="plan_missing", site=site, key=str(year), severity="violation", message=found.message,
            now=now, details={"year": year, "source": found.source},
        ))  # fmt: skip
    for (rule, site_id, key), f in findings.items():
        if rule == "plan_missing" and f.resolved_at is None and key == str(year) and site_id not in missing_ids:
            counts["resolved_plan"] += finding_resolve(actor=actor, finding=f, now=now, reason="已备案")


def findings_visible(*, actor: Actor, rules: Iterable[str] = SWEEP_RULES) -> QuerySet[Finding]:
    """Declaration and plan findings: the unit's users see their sites', regulators their jurisdiction's."""
    qs = Finding.objects.select_related("site__region", "site__enterprise").filter(rule__in=list(rules))
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(site__region__key__in=actor.region_codes)
    if actor.kind == "enterprise":
        return qs.filter(enterprise_id__in=actor.enterprise_ids)
    return qs.none()
