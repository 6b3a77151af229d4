"""Manifest services: create a draft (number allocated under a row lock), and move it through the
lifecycle table — every step a signature row and an event, in one transaction with the manifest
row locked, so that two parties acting at once cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from weifei.catalog import cache as catalogue_cache
from weifei.catalog.models import HOME_PROVINCE, Region
from weifei.catalog.validation import validate_waste_code
from weifei.core import fastsql
from weifei.core.actors import Actor
from weifei.core.chain import jsonable
from weifei.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from weifei.core.events import event_record
from weifei.core.permissions import require_enterprise_member
from weifei.core.workdays import add_working_days
from weifei.registry.models import Driver, Enterprise, Site, Vehicle

from . import guards, ledger_link, lifecycle
from .lifecycle import Event, Role
from .models import Manifest, ManifestContainer, ManifestCounter, ManifestLeg, ManifestLine, Signature, State
from .numbering import manifest_number, prefecture_of

MAX_LINES = 50
PAPER_ENTRY_WORKING_DAYS = 10  # 第二十条: a paper manifest is entered within 10 working days of completion
RECEIPT_WORKING_DAYS = 5  # 第十八条: the receiver confirms within 5 working days of acceptance
MAX_LEGS = 5
MAX_CONTAINERS = 2000
WRITING_ROLES = ("admin", "member")
CARRIER_ROLES = ("admin", "member", "driver")  # drivers sign pickup and handover on their phones


def _now() -> dt.datetime:
    return timezone.now()


# ---------------------------------------------------------------- roles


def roles_of(actor: Actor, manifest: Manifest) -> frozenset[str]:
    """The lifecycle roles ``actor`` holds on ``manifest`` (several when one unit plays several)."""
    if actor.kind == "system":
        return frozenset({Role.SYSTEM})
    roles: set[str] = set()
    if actor.kind == "enterprise" and not actor.read_only:
        if actor.role_in(manifest.consignor_id) in WRITING_ROLES:
            roles.add(Role.CONSIGNOR)
        if actor.role_in(manifest.receiver_id) in WRITING_ROLES:
            roles.add(Role.RECEIVER)
        cur = guards.current_leg(manifest)
        if cur is not None and actor.role_in(cur.carrier_id) in CARRIER_ROLES:
            roles.add(Role.CARRIER)
        nxt = guards.next_leg(manifest)
        if nxt is not None and actor.role_in(nxt.carrier_id) in CARRIER_ROLES:
            roles.add(Role.NEXT_CARRIER)
    if actor.kind == "regulator" and not actor.read_only:
        regions = {manifest.consignor_site.region.key}
        if manifest.receiver_site is not None:
            regions.add(manifest.receiver_site.region.key)
        regions.add(manifest.receiver.region.key)
        if regions & set(actor.region_codes):
            roles.add(Role.REGULATOR)
    return frozenset(roles)


# ---------------------------------------------------------------- creation


@dataclass(frozen=True)
class LineIn:
    waste_code: str
    declared_tonnes: Decimal
    common_name: str = ""
    form: str = ""
    packaging: str = ""
    container_count: int = 0
    dg_class: str = ""
    un_number: str = ""
    label_codes: tuple[str, ...] = ()
    exemption_seq: int | None = None  # 豁免清单 item claimed for this waste (with its stage)
    exemption_stage: str = ""


@dataclass(frozen=True)
class LegIn:
    carrier_id: int
    vehicle_id: int | None = None
    driver_id: int | None = None
    start_point: str = ""
    end_point: str = ""


def _tonnes(value: Any, field: str) -> Decimal:
    try:
        tonnes = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplicationError(f"{value!r} 不是数字", code="tonnes_invalid", field=field) from None
    if not tonnes.is_finite() or tonnes <= 0 or tonnes > Decimal(100_000):
        raise ApplicationError("移出量应大于 0 且不超过 100000 吨", code="tonnes_range", field=field)
    return tonnes.quantize(Decimal("0.000001"))


def _next_number(site: Site, today: dt.date) -> str:
    """The next serial of the origin prefecture's year, in one statement. The counter row stays
    locked until the creating transaction commits, so callers take it as late as they can."""
    prefecture = prefecture_of(site.region)
    table = connection.ops.quote_name(ManifestCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_serial = last_serial + 1 WHERE year = %s AND prefecture = %s "
            "RETURNING last_serial",
            [today.year, prefecture],
        )
        row = cursor.fetchone()
    if row is None:  # the prefecture's first manifest of the year (a concurrent first one waits here)
        counter, _ = ManifestCounter.objects.select_for_update().get_or_create(year=today.year, prefecture=prefecture)
        counter.last_serial += 1
        counter.save(update_fields=["last_serial"])
        row = (counter.last_serial,)
    return manifest_number(today.year, prefecture, int(row[0]))


def _placeholder_number() -> str:
    """Unique until the real number replaces it at the end of the same transaction (never seen
    outside it): 14 characters, which no real number starts with."""
    return "T" + uuid.uuid4().hex[:13]


def _containers_for(site: Site, line: ManifestLine, codes: tuple[str, ...]) -> list[ManifestContainer]:
    """Label codes of the consignor site's 产生 records (not reversed), of the line's waste code,
    not on another manifest that is still open."""
    from weifei.plans.models import LedgerEntry

    wanted = sorted({c.strip().upper() for c in codes if c and c.strip()})
    if len(wanted) > MAX_CONTAINERS:
        raise ApplicationError(f"一张联单最多 {MAX_CONTAINERS} 个容器", code="too_many_containers", field="label_codes")
    found: dict[str, Any] = {
        str(e.container_code): e
        for e in LedgerEntry.objects.filter(
            site=site, kind="generated", container_code__in=wanted, reversal_of__isnull=True, reversed_by__isnull=True
        )
    }
    missing = [c for c in wanted if c not in found]  # codes are strings; found keys are the container codes
    if missing:
        raise ApplicationError(f"容器 {'、'.join(missing[:3])} 不是本场所台账中的容器", code="container_unknown",
                               field="label_codes")  # fmt: skip
    wrong = [c for c, e in found.items() if e.waste_code != line.waste_code]
    if wrong:
        raise ApplicationError(f"容器 {'、'.join(wrong[:3])} 的废物代码与联单明细 {line.waste_code} 不一致",
                               code="container_code_mismatch", field="label_codes")  # fmt: skip
    busy = set(
        ManifestContainer.objects.filter(label_code__in=wanted)
        .exclude(manifest__state__in=lifecycle.TERMINAL)
        .values_list("label_code", flat=True)
    )
    if busy:
        raise ApplicationError(f"容器 {'、'.join(sorted(busy)[:3])} 已在其他未完成的联单上", code="container_busy",
                               field="label_codes")  # fmt: skip
    return [
        ManifestContainer(manifest=line.manifest, line=line, label_code=c, tonnes=found[c].quantity_tonnes)
        for c in wanted
    ]


@transaction.atomic
def manifest_create(
    *,
    actor: Actor,
    consignor_site_id: int,
    receiver_id: int,
    lines: list[LineIn],
    legs: list[LegIn],
    emergency_measures: str,
    planned_method_code: str,
    transfer_type: str = Manifest.TransferType.IN_PROVINCE,
    shipper: str = "consignor",
    receiver_site_id: int | None = None,
    approval_reference: str = "",
    paper_completed_on: dt.date | None = None,
) -> Manifest:
    """A draft manifest of the consignor site's unit, numbered now (第十五条).

    ``paper_completed_on``: the transfer ran on a paper manifest (第二十条) and was completed that
    day; the electronic manifest is entered afterwards, and late when more than 10 working days
    after completion (recorded, and an event for supervision)."""
    # The statements of this function are built once (core.fastsql): it runs for every manifest.
    site = fastsql.select_one(Site, "t0.id = %s", [consignor_site_id], related=("enterprise", "region"))
    if site is None:
        raise NotFound("场所不存在", field="consignor_site")
    require_enterprise_member(actor, site.enterprise_id, action="填写转移联单")
    now = _now()
    today = timezone.localdate(now)
    receiver = fastsql.select_one(Enterprise, "id = %s", [receiver_id])
    if receiver is None:
        raise ApplicationError("接受人不存在", code="receiver_missing", field="receiver")
    receiver_site = None
    if receiver_site_id is not None:
        receiver_site = Site.objects.filter(id=receiver_site_id, enterprise=receiver).first()
        if receiver_site is None:
            raise ApplicationError("接收场所不属于接受人", code="receiver_site_wrong", field="receiver_site")
    if transfer_type not in Manifest.TransferType.values:
        raise ApplicationError("转移类型应为省内转移或跨省转移", code="transfer_type_invalid", field="transfer_type")
    if shipper not in ("consignor", "receiver"):
        raise ApplicationError(
            "托运人只能是移出人或接受人（转移办法第三十一条）", code="shipper_invalid", field="shipper"
        )
    if not emergency_measures or not emergency_measures.strip():
        raise ApplicationError("请填写突发环境事件防范措施（转移办法第十条（四））", code="emergency_required",
                               field="emergency_measures")  # fmt: skip
    if not catalogue_cache.method_exists((planned_method_code or "").strip()):
        raise ApplicationError(f"利用/处置方式代码 {planned_method_code!r} 不存在", code="method_unknown",
                               field="planned_method_code")  # fmt: skip
    if not 1 <= len(lines) <= MAX_LINES:
        raise ApplicationError(f"废物明细应为 1–{MAX_LINES} 条", code="lines_count", field="lines")
    if not 1 <= len(legs) <= MAX_LEGS:
        raise ApplicationError(f"运输段应为 1–{MAX_LEGS} 段", code="legs_count", field="legs")
    paper_late = False
    if paper_completed_on is not None:
        if paper_completed_on > today:
            raise ApplicationError("转移完成日不能晚于今天", code="completed_in_future", field="paper_completed_on")
        paper_late = today > add_working_days(paper_completed_on, PAPER_ENTRY_WORKING_DAYS)
    manifest = fastsql.insert(Manifest(
        number=_placeholder_number(),  # numbered last, so the prefecture's counter is locked briefly
        paper_fallback=paper_completed_on is not None,
        completed_on=paper_completed_on,
        paper_entered_late=paper_late,
        state=State.DRAFT,
        state_changed_at=now,
        transfer_type=transfer_type,
        consignor=site.enterprise,
        consignor_site=site,
        receiver=receiver,
        original_receiver=receiver,
        receiver_site=receiver_site,
        shipper=shipper,
        approval_reference=approval_reference.strip()[:60],
        planned_method_code=planned_method_code.strip(),
        emergency_measures=emergency_measures.strip(),
        created_by_id=actor.user_id,
    ))  # fmt: skip
    containers: list[ManifestContainer] = []
    line_rows: list[ManifestLine] = []
    leg_rows: list[ManifestLeg] = []
    for i, spec in enumerate(lines):
        valid = validate_waste_code(spec.waste_code, on=today, field=f"lines[{i}].waste_code")
        exemption_seq, exemption_stage = guards.exemption_claim(
            spec.exemption_seq, spec.exemption_stage, code=valid.code, category=valid.category, on=today,
            field=f"lines[{i}].exemption_seq",
        )  # fmt: skip
        line = fastsql.insert(ManifestLine(
            manifest=manifest,
            waste_code=valid.code,
            category=valid.category,
            waste_name=(valid.waste_code.description if valid.waste_code else "经鉴别的危险废物")[:200],
            common_name=spec.common_name.strip()[:100],
            hazards=",".join(valid.waste_code.hazards) if valid.waste_code else "",
            form=spec.form.strip()[:20],
            packaging=spec.packaging.strip()[:40],
            container_count=spec.container_count or len(spec.label_codes),
            declared_tonnes=_tonnes(spec.declared_tonnes, f"lines[{i}].declared_tonnes"),
            dg_class=spec.dg_class.strip()[:10],
            un_number=spec.un_number.strip()[:6],
            exemption_seq=exemption_seq,
            exemption_stage=exemption_stage,
        ))  # fmt: skip
        line_rows.append(line)
        containers += _containers_for(site, line, spec.label_codes)
    fastsql.insert_many(containers)
    for order, leg in enumerate(legs, start=1):
        carrier = fastsql.select_one(Enterprise, "id = %s", [leg.carrier_id])
        if carrier is None:
            raise ApplicationError(f"第 {order} 段的承运人不存在", code="carrier_missing", field="legs")
        vehicle = (
            fastsql.select_one(Vehicle, "id = %s AND carrier_id = %s", [leg.vehicle_id, carrier.id])
            if leg.vehicle_id
            else None
        )
        driver = (
            fastsql.select_one(Driver, "id = %s AND carrier_id = %s", [leg.driver_id, carrier.id])
            if leg.driver_id
            else None
        )
        if leg.vehicle_id and vehicle is None:
            raise ApplicationError(f"第 {order} 段的车辆不属于承运人", code="vehicle_wrong", field="legs")
        if leg.driver_id and driver is None:
            raise ApplicationError(f"第 {order} 段的驾驶员不属于承运人", code="driver_wrong", field="legs")
        leg_rows.append(fastsql.insert(ManifestLeg(
            manifest=manifest, order=order, carrier=carrier, vehicle=vehicle, driver=driver,
            start_point=leg.start_point.strip()[:200], end_point=leg.end_point.strip()[:200],
        )))  # fmt: skip
    manifest.number = _next_number(site, today)
    fastsql.update(manifest, ["number"])
    # What was just written is what a reader would load (the API answers from it).
    manifest.__dict__["_row_cache"] = {
        "lines": line_rows, "legs": leg_rows, "containers": sorted(containers, key=lambda c: c.label_code),
    }  # fmt: skip
    event_record(
        subject=manifest,
        actor=actor,
        kind="manifest.created",
        after={"number": manifest.number, "state": manifest.state, "receiver": receiver.id,
               "paper_completed_on": paper_completed_on, "paper_entered_late": paper_late or None},
        organisation=site.enterprise,
    )  # fmt: skip
    if paper_late:
        event_record(
            subject=manifest,
            actor=actor,
            kind="manifest.paper_entered_late",
            after={"number": manifest.number, "completed_on": paper_completed_on, "entered_on": today,
                   "limit": add_working_days(paper_completed_on or today, PAPER_ENTRY_WORKING_DAYS)},
            organisation=site.enterprise,
        )  # fmt: skip
    return manifest


# ---------------------------------------------------------------- transitions


def content_hash(manifest: Manifest) -> str:
    """SHA-256 over the manifest's signed content (header, lines, containers, legs), canonical JSON."""
    doc = {
        "number": manifest.number,
        "version": manifest.version,
        "transfer_type": manifest.transfer_type,
        "consignor": manifest.consignor_id,
        "receiver": manifest.receiver_id,
        "approval": manifest.approval_reference,
        "lines": [
            [line.waste_code, str(line.declared_tonnes), str(line.received_tonnes or "")]
            for line in manifest.line_rows()
        ],
        "containers": [c.label_code for c in manifest.container_rows()],
        "legs": [[leg.order, leg.carrier_id, leg.vehicle_id, leg.driver_id] for leg in manifest.leg_rows()],
    }
    raw = json.dumps(jsonable(doc), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _locked(manifest_id: int) -> Manifest:
    """The manifest row, locked, with its parties and sites (and their regions) attached.

    Small statements rather than one eight-table join (PostgreSQL spent longer planning that join,
    ~2.5 ms measured, than running them), built once per process (``fastsql``: this runs on every
    step of every manifest)."""
    m = fastsql.select_one(Manifest, "id = %s", [manifest_id], for_update=True)
    if m is None:
        raise NotFound("联单不存在", field="manifest")
    parties = fastsql.in_bulk(
        Enterprise,
        [i for i in (m.consignor_id, m.receiver_id, m.original_receiver_id) if i is not None],
        related=("region",),
    )
    sites = fastsql.in_bulk(
        Site, [i for i in (m.consignor_site_id, m.receiver_site_id) if i is not None], related=("region",)
    )
    m.consignor, m.receiver = parties[m.consignor_id], parties[m.receiver_id]
    if m.original_receiver_id is not None:
        m.original_receiver = parties[m.original_receiver_id]
    m.consignor_site = sites[m.consignor_site_id]
    if m.receiver_site_id is not None:
        m.receiver_site = sites[m.receiver_site_id]
    return m


def before_pickup_consumed(m: Manifest) -> bool:
    """A submitted cross-province manifest holds approved quantity until it is cancelled."""
    return m.state == State.SUBMITTED and m.transfer_type == Manifest.TransferType.CROSS_PROVINCE


def _approval_consume(m: Manifest, today: dt.date) -> None:
    """Take each line's tonnes from the approval (refused beyond the approved quantity or validity)."""
    from weifei.approvals.services import approval_consume
    from weifei.core.actors import SYSTEM

    approval = guards.approval_for(m)
    assert approval is not None  # approval_valid ran before
    for line in m.line_rows():
        approval_consume(actor=SYSTEM, approval_id=approval.id, waste_code=line.waste_code,
                         tonnes=line.declared_tonnes, manifest_number=m.number, on=today)  # fmt: skip


def _approval_release(m: Manifest) -> None:
    from weifei.approvals.services import approval_release
    from weifei.core.actors import SYSTEM

    approval = guards.approval_for(m)
    if approval is None:
        return
    for code in sorted({line.waste_code for line in m.line_rows()}):
        approval_release(actor=SYSTEM, approval_id=approval.id, waste_code=code, manifest_number=m.number)


# The notification kind (weifei.notify.kinds) for each lifecycle event.
NOTIFY_KINDS = {
    Event.SUBMIT: "manifest.submitted",
    Event.CANCEL: "manifest.cancelled",
    Event.PICKUP: "manifest.picked_up",
    Event.HAND_OVER: "manifest.handed_over",
    Event.ARRIVE: "manifest.arrived",
    Event.ACCEPT: "manifest.received",
    Event.REPORT_DISCREPANCY: "manifest.discrepancy_reported",
    Event.ACCEPT_PARTIALLY: "manifest.partially_accepted",
    Event.REJECT: "manifest.rejected",
    Event.RETURN: "manifest.returned",
    Event.CONFIRM_RETURN: "manifest.returned",
    Event.REDIRECT: "manifest.redirected",
    Event.TREAT: "manifest.treated",
    Event.CLOSE: "manifest.closed",
}


def _receiving_regulators(m: Manifest) -> list[int]:
    """Regulator accounts whose jurisdiction holds the receiver (第十八条: a discrepancy is reported to
    the 接受地 authority): the receiver's county, its prefecture and the province."""
    from weifei.accounts.models import RegulatorAssignment

    region: Region | None = (m.receiver_site or m.receiver).region
    if region is not None and not region.in_home_province:
        # The 接受地 authority is in another province and works on its own platform: Jilin's
        # province regulators are told here and carry the report over (the exchange, next issue).
        region = Region.objects.filter(key=HOME_PROVINCE).first()
    chain = []
    while region is not None:
        chain.append(region.id)
        region = region.parent
    return list(
        RegulatorAssignment.objects.filter(region_id__in=chain, role="regulator").values_list("user_id", flat=True)
    )


def _notify(m: Manifest, event: str, actor: Actor, reason: str) -> None:
    """Every party is told at each hand-off (in-app and webhooks, after commit); the receiving
    region's regulators too when a discrepancy or a refusal is reported."""
    from weifei.notify.services import notify

    parties = {m.consignor_id, m.receiver_id, *(leg.carrier_id for leg in m.leg_rows())}
    if m.original_receiver_id:
        parties.add(m.original_receiver_id)
    regulators = _receiving_regulators(m) if event in (Event.REPORT_DISCREPANCY, Event.REJECT) else []
    title = f"联单 {m.number}：{Event.NAMES[event]}（{State(m.state).label}）"
    notify(
        event=NOTIFY_KINDS[event], subject_ref=f"manifest:{m.number}", organisation_ids=parties,
        link=f"/manifests/{m.id}/", title=title[:200], actor=actor, user_ids=regulators,
        data={"state": m.state, "reason": reason} if reason else {"state": m.state},
    )  # fmt: skip


def _apply(ctx: guards.Context, event: str) -> dict[str, Any]:
    """The effects of an event beyond the state change; returns what the event records."""
    m, p, now = ctx.manifest, ctx.payload, ctx.now
    if event == Event.SUBMIT and m.transfer_type == Manifest.TransferType.CROSS_PROVINCE:
        _approval_consume(m, ctx.today)
        return {"approval": m.approval_reference}
    if event == Event.CANCEL and before_pickup_consumed(m):
        _approval_release(m)
        return {}
    if event == Event.PICKUP:
        leg = guards.current_leg(m)
        assert leg is not None
        leg.picked_up_at = now
        fastsql.update(leg, ["picked_up_at"])
        if m.container_rows():
            ManifestContainer.objects.filter(manifest_id=m.id).update(scanned_at=now)
            for container in m.container_rows():
                container.scanned_at = now
        ledger_link.ship(m, now)  # names the receiver's licence number the guards filled in (saved below)
        return {"leg": leg.order}
    if event == Event.CONFIRM_RETURN:
        ledger_link.take_back(m)
        if m.transfer_type == Manifest.TransferType.CROSS_PROVINCE:
            _approval_release(m)
        return {}
    if event == Event.HAND_OVER:
        cur, nxt = guards.current_leg(m), guards.next_leg(m)
        assert cur is not None and nxt is not None
        cur.handover_at = now
        cur.handover_place = str(p.get("handover_place") or "").strip()[:200] or "（监管代签）"
        cur.save(update_fields=["handover_at", "handover_place"])
        nxt.picked_up_at = now
        nxt.save(update_fields=["picked_up_at"])
        return {"from_leg": cur.order, "to_leg": nxt.order, "place": cur.handover_place}
    if event in (Event.ACCEPT, Event.REPORT_DISCREPANCY) and m.state == State.ARRIVED:
        weights = guards._weights(ctx)
        for line in m.line_rows():
            line.received_tonnes = weights[line.id]
            fastsql.update(line, ["received_tonnes"])
    if event == Event.REPORT_DISCREPANCY:
        m.discrepancy = {
            "kinds": list(p.get("kinds") or []),
            "description": str(p.get("description") or "").strip()[:500],
            "reported_at": now.isoformat(),
            "reported_to_region": (
                m.receiver_site.region.key if m.receiver_site is not None else m.receiver.region.key
            ),
        }
        return {"discrepancy": m.discrepancy}
    if event in (Event.ACCEPT, Event.ACCEPT_PARTIALLY):
        m.acceptance = Manifest.Acceptance.PARTIAL if event == Event.ACCEPT_PARTIALLY else Manifest.Acceptance.FULL
        if event == Event.ACCEPT_PARTIALLY:
            m.refused_tonnes = Decimal(str(p["refused_tonnes"]))
            m.refusal_reason = str(p.get("reason") or "").strip()[:300]
        m.accepted_on = timezone.localdate(now)
        m.receipt_due_on = add_working_days(m.accepted_on, RECEIPT_WORKING_DAYS)  # 第十八条
        written = ledger_link.receive(m, now)  # the receiver's 接收 entries (docs/ledger.md)
        return {"acceptance": m.acceptance, "refused_tonnes": m.refused_tonnes, "intake_entries": written}
    if event == Event.REJECT:
        m.acceptance = Manifest.Acceptance.REJECTED
        m.refusal_reason = str(p.get("reason") or "").strip()[:300]
        return {"reason": m.refusal_reason}
    if event == Event.REDIRECT:
        receiver = Enterprise.objects.get(id=p["receiver_id"])
        carrier = Enterprise.objects.get(id=p["carrier_id"])
        order = max((leg.order for leg in m.leg_rows()), default=0) + 1
        ManifestLeg.objects.create(
            manifest=m, order=order, carrier=carrier, picked_up_at=now,
            vehicle=Vehicle.objects.filter(id=int(p.get("vehicle_id") or 0), carrier=carrier).first(),
            driver=Driver.objects.filter(id=int(p.get("driver_id") or 0), carrier=carrier).first(),
            start_point=str(p.get("start_point") or "")[:200], end_point=receiver.name[:200],
        )  # fmt: skip
        m.forget_rows()
        previous = m.receiver_id
        ledger_link.take_back(m, reason="改运")
        m.receiver, m.receiver_site = receiver, None
        m.receiver_licence_number = str(p.get("_licence_number") or "")
        m.acceptance, m.discrepancy = "", {}
        ledger_link.ship(m, now)
        for line in m.line_rows():
            line.received_tonnes = None
            line.save(update_fields=["received_tonnes"])
        return {"from_receiver": previous, "to_receiver": receiver.id, "leg": order}
    if event == Event.TREAT:
        m.treatment_method = str(p["method_code"]).strip()
        m.treatment_result = str(p.get("result") or "").strip()[:300]
        return {"method_code": m.treatment_method, "result": m.treatment_result}
    return {}


@transaction.atomic
def manifest_transition(
    *, actor: Actor, manifest_id: int, event: str, payload: dict[str, Any] | None = None, method: str = "session"
) -> Manifest:
    """Apply ``event`` as ``actor``: the table row for (state, event, one of the actor's roles), its
    guards, its effects, a signature row and an event. Refused (nothing written) otherwise."""
    if event not in Event.ALL:
        raise ApplicationError(f"未知的联单事项 {event}", code="event_unknown", field="event")
    m = _locked(manifest_id)
    roles = roles_of(actor, m)
    if not roles:
        raise PermissionDenied("您不是该联单的当事方，不能签署")
    row = lifecycle.transition_for(m.state, event, roles)
    if row is None:
        names = "、".join(Role.NAMES[r] for r in sorted(roles))
        raise Conflict(
            f"联单处于“{State(m.state).label}”状态，{names}不能进行“{Event.NAMES[event]}”",
            code="transition_not_allowed",
            field="event",
        )
    now = _now()
    ctx = guards.Context(manifest=m, actor=actor, payload=dict(payload or {}), now=now, today=timezone.localdate(now))
    for name in row.guards:
        guards.GUARDS[name](ctx)
    before = m.state
    details = _apply(ctx, event)
    if ctx.warnings:  # each said once on the manifest, however many steps repeat it
        m.warnings = [*m.warnings, *(w for w in dict.fromkeys(ctx.warnings) if w not in m.warnings)]
    m.state = row.next_state
    m.state_changed_at = now
    fastsql.update(m)  # every column, as save() writes them (updated_at too)
    org_id = None
    if row.role == Role.CONSIGNOR:
        org_id = m.consignor_id
    elif row.role == Role.RECEIVER:
        org_id = m.receiver_id
    elif row.role in (Role.CARRIER, Role.NEXT_CARRIER):
        leg = guards.current_leg(m)
        org_id = leg.carrier_id if leg is not None else None
    reason = str(ctx.payload.get("reason") or "").strip()[:300]
    fastsql.insert(Signature(
        manifest=m, event=event, role=row.role, user_id=actor.user_id, organisation_id=org_id, signed_at=now,
        method=method, content_hash=content_hash(m), from_state=before, to_state=row.next_state, reason=reason,
    ))  # fmt: skip
    _notify(m, event, actor, reason)
    event_record(
        subject=m,
        actor=actor,
        kind=f"manifest.{event}",
        before={"state": before},
        after={"state": m.state, "role": row.role, **details, "warnings": ctx.warnings or None},
        reason=reason,
        organisation=m.consignor,
    )
    return m


# ---------------------------------------------------------------- supervision sweep


def manifests_sweep(*, actor: Actor, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise, once per manifest, the overdue states for supervision: an arrived load not confirmed
    (accepted, partially accepted or refused) within 5 working days of its arrival (第十八条) —
    event ``manifest.receipt_overdue`` on the receiver's stream. Idempotent (``Manifest.overdue``)."""
    from weifei.core.workdays import WorkCalendar

    if actor.kind != "system":
        raise PermissionDenied("只有系统可以运行联单逾期检查")
    now = now or _now()
    today = timezone.localdate(now)
    calendar = WorkCalendar()
    raised = 0
    for m in Manifest.objects.filter(state__in=(State.ARRIVED, State.DISCREPANCY)).select_related("receiver"):
        if "receipt" in (m.overdue or []):
            continue
        arrived = timezone.localdate(m.state_changed_at)
        due = calendar.add_working_days(arrived, RECEIPT_WORKING_DAYS)
        if today <= due:
            continue
        with transaction.atomic():
            locked = _locked(m.id)
            if "receipt" in (locked.overdue or []) or locked.state not in (State.ARRIVED, State.DISCREPANCY):
                continue
            locked.overdue = [*(locked.overdue or []), "receipt"]
            locked.save(update_fields=["overdue", "updated_at"])
            event_record(
                subject=locked,
                actor=actor,
                kind="manifest.receipt_overdue",
                after={"number": locked.number, "arrived_on": arrived, "due_on": due},
                organisation=locked.receiver,
            )
            raised += 1
    return {"raised": raised}
