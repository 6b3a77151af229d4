"""Manifest API under /api/v1/manifests/ (mounted in ``weifei/api.py``): create a draft, list and
poll (``updated_after``), read one (by id or number), its signatures, history and the events the
caller may try now, move it through the lifecycle (one endpoint for every step) and export the
registers. Reads go through ``selectors`` (actor-scoped: 404 for what the caller cannot see), writes
through ``services`` (403 for a caller who is not a party, 409 when the state or the caller's role
does not allow the step, 400 when a guard refuses). See docs/manifests-api.md."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from weifei.accounts.auth import ACTOR_AUTH, request_actor, request_token
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.core.selectors import events_for
from weifei.registry.selectors import site_get

from . import lifecycle, registers, selectors, services
from .lifecycle import Event, Role
from .models import Manifest, ManifestLeg, State

router = Router(tags=["manifests"], auth=ACTOR_AUTH)

Id = Annotated[int, Field(ge=1, le=9_223_372_036_854_775_807)]

# ---------------------------------------------------------------- input


class LineIn(Schema):
    waste_code: str = Field(..., max_length=20, description="名录废物代码，如 900-249-08")
    declared_tonnes: Decimal = Field(..., description="移出量（吨），大于 0")
    common_name: str = Field("", max_length=100)
    form: str = Field("", max_length=20)
    packaging: str = Field("", max_length=40)
    container_count: int = Field(0, ge=0, le=services.MAX_CONTAINERS)
    dg_class: str = Field("", max_length=10)
    un_number: str = Field("", max_length=6)
    label_codes: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=services.MAX_CONTAINERS, description="装载容器的数字识别码（台账标签）"
    )
    exemption_seq: int | None = Field(
        None, ge=1, le=999, description="豁免清单序号：本废物依据《危险废物豁免管理清单》该项豁免某一环节"
    )
    exemption_stage: str = Field(
        "", max_length=20, description="豁免环节：全部环节、收集、运输、利用、处置、利用、处置（与序号一同填写）"
    )


class LegIn(Schema):
    carrier_id: Id
    vehicle_id: Id | None = None
    driver_id: Id | None = None
    start_point: str = Field("", max_length=200)
    end_point: str = Field("", max_length=200)


class ManifestIn(Schema):
    consignor_site_id: Id
    receiver_id: Id
    receiver_site_id: Id | None = None
    transfer_type: str = Field(Manifest.TransferType.IN_PROVINCE, max_length=16)
    shipper: str = Field("consignor", max_length=10)
    approval_reference: str = Field("", max_length=60)
    planned_method_code: str = Field(..., max_length=8)
    emergency_measures: str = Field(..., max_length=2000)
    lines: list[LineIn] = Field(..., max_length=services.MAX_LINES)
    legs: list[LegIn] = Field(..., max_length=services.MAX_LEGS)
    paper_completed_on: dt.date | None = Field(
        None, description="纸质联单补录：转移完成日（第二十条，完成后 10 个工作日内补录）"
    )


class EventIn(Schema):
    """The payload of a lifecycle step; each event reads only its own keys (see docs/manifests-api.md)."""

    scanned_labels: list[Annotated[str, Field(max_length=40)]] | None = Field(
        None, max_length=services.MAX_CONTAINERS, description="pickup：扫描的容器标签"
    )
    handover_place: str | None = Field(None, max_length=200, description="hand_over：交接地点")
    weights: dict[Id, Decimal] | None = Field(
        None, description="accept / report_discrepancy：{联单明细 id: 过磅接受量（吨）}"
    )
    kinds: list[Annotated[str, Field(max_length=20)]] | None = Field(
        None, max_length=5, description="report_discrepancy：name|quantity|characteristics|form|packaging"
    )
    description: str | None = Field(None, max_length=500)
    refused_tonnes: Decimal | None = Field(None, description="accept_partially：拒收量（吨）")
    reason: str | None = Field(None, max_length=300, description="拒收、部分接受与监管代签的理由")
    receiver_id: Id | None = Field(None, description="redirect：新的接受人")
    carrier_id: Id | None = Field(None, description="redirect：新一段的承运人")
    vehicle_id: Id | None = None
    driver_id: Id | None = None
    start_point: str | None = Field(None, max_length=200)
    method_code: str | None = Field(None, max_length=8, description="treat：利用/处置方式代码")
    result: str | None = Field(None, max_length=300, description="treat：利用/处置结果")


class ListFilters(Schema):
    state: str = Field("", max_length=12)
    role: str = Field("", max_length=10, description="consignor | carrier | receiver：调用者单位在联单中的身份")
    updated_after: dt.datetime | None = Field(None, description="轮询：只返回此时刻之后变更的联单，按 updated_at 升序")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class RegisterFilters(Schema):
    enterprise_id: Id
    date_from: dt.date | None = Field(None, alias="from")
    date_to: dt.date | None = Field(None, alias="to")
    fmt: str = Field("json", alias="format", max_length=4, description="json | csv | xlsx")


# ---------------------------------------------------------------- output


class PartyOut(Schema):
    id: int
    name: str


class LineOut(Schema):
    id: int
    waste_code: str
    category: str
    waste_name: str
    common_name: str
    hazards: str
    form: str
    packaging: str
    container_count: int
    declared_tonnes: Decimal
    received_tonnes: Decimal | None
    dg_class: str
    un_number: str
    exemption_seq: int | None
    exemption_stage: str


class LegOut(Schema):
    order: int
    carrier: PartyOut
    vehicle_id: int | None
    vehicle_plate: str
    driver_id: int | None
    driver_name: str
    start_point: str
    end_point: str
    picked_up_at: dt.datetime | None
    handover_at: dt.datetime | None
    handover_place: str


class ManifestOut(Schema):
    id: int
    number: str
    version: int
    state: str
    state_label: str
    state_changed_at: dt.datetime
    transfer_type: str
    transfer_type_label: str
    consignor: PartyOut
    consignor_site: PartyOut
    receiver: PartyOut
    receiver_site: PartyOut | None
    original_receiver: PartyOut | None
    receiver_licence_number: str
    shipper: str
    approval_reference: str
    planned_method_code: str
    emergency_measures: str
    lines: list[LineOut]
    containers: int
    legs: list[LegOut]
    acceptance: str
    refused_tonnes: Decimal | None
    refusal_reason: str
    discrepancy: dict[str, Any]
    accepted_on: dt.date | None
    receipt_due_on: dt.date | None
    treatment_method: str
    treatment_result: str
    paper_fallback: bool
    completed_on: dt.date | None
    paper_entered_late: bool
    warnings: list[Any]
    overdue: list[Any] = Field(description="监管扫描发现的逾期事项（如 receipt：接收确认超过 5 个工作日）")
    created_at: dt.datetime
    # The polling cursor, to the microsecond (the JSON encoder would cut datetimes to milliseconds,
    # and a cut cursor would hand the last manifest back on every poll).
    updated_at: str = Field(..., json_schema_extra={"format": "date-time"})


class ManifestList(Schema):
    total: int
    items: list[ManifestOut]


class SignatureOut(Schema):
    id: int
    event: str
    event_label: str
    role: str
    role_label: str
    user_id: int | None
    user_name: str
    organisation: PartyOut | None
    signed_at: dt.datetime
    method: str
    content_hash: str
    from_state: str
    to_state: str
    reason: str


class SignatureList(Schema):
    total: int
    items: list[SignatureOut]


class HistoryOut(Schema):
    id: int
    occurred_at: dt.datetime
    kind: str
    actor: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    hash: str


class HistoryList(Schema):
    total: int
    items: list[HistoryOut]


class AllowedEventOut(Schema):
    event: str
    label: str
    role: str
    role_label: str
    guards: list[str]


class AllowedEvents(Schema):
    state: str
    state_label: str
    roles: list[str]
    events: list[AllowedEventOut]


class RegisterRow(Schema):
    number: str
    created_on: str
    state: str
    state_label: str
    transfer_type: str
    consignor: str
    consignor_credit_code: str
    consignor_site: str
    carriers: str
    vehicles: str
    receiver: str
    receiver_credit_code: str
    waste_code: str
    category: str
    waste_name: str
    container_count: int
    declared_tonnes: str
    received_tonnes: str
    picked_up_on: str
    accepted_on: str
    acceptance: str
    treatment_method: str


class RegisterOut(Schema):
    kind: str
    enterprise_id: int
    total: int
    items: list[RegisterRow]


# ---------------------------------------------------------------- helpers


def _party(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.id, "name": obj.name}


def _with_details(qs: QuerySet[Manifest]) -> QuerySet[Manifest]:
    return (
        qs.select_related("consignor", "consignor_site", "receiver", "receiver_site", "original_receiver")
        .prefetch_related(
            "lines",
            Prefetch(
                "legs", queryset=ManifestLeg.objects.select_related("carrier", "vehicle", "driver").order_by("order")
            ),
        )
        .annotate(container_total=Count("containers", distinct=True))
    )


def manifest_out(m: Manifest) -> dict[str, Any]:
    containers = getattr(m, "container_total", None)
    if containers is None:
        containers = len(m.container_rows())
    return {
        "id": m.id,
        "number": m.number,
        "version": m.version,
        "state": m.state,
        "state_label": State(m.state).label,
        "state_changed_at": m.state_changed_at,
        "transfer_type": m.transfer_type,
        "transfer_type_label": Manifest.TransferType(m.transfer_type).label,
        "consignor": _party(m.consignor),
        "consignor_site": _party(m.consignor_site),
        "receiver": _party(m.receiver),
        "receiver_site": _party(m.receiver_site),
        "original_receiver": _party(m.original_receiver),
        "receiver_licence_number": m.receiver_licence_number,
        "shipper": m.shipper,
        "approval_reference": m.approval_reference,
        "planned_method_code": m.planned_method_code,
        "emergency_measures": m.emergency_measures,
        "lines": m.line_rows(),
        "containers": containers,
        "legs": [
            {
                "order": leg.order,
                "carrier": _party(leg.carrier),
                "vehicle_id": leg.vehicle_id,
                "vehicle_plate": leg.vehicle.plate if leg.vehicle is not None else "",
                "driver_id": leg.driver_id,
                "driver_name": leg.driver.name if leg.driver is not None else "",
                "start_point": leg.start_point,
                "end_point": leg.end_point,
                "picked_up_at": leg.picked_up_at,
                "handover_at": leg.handover_at,
                "handover_place": leg.handover_place,
            }
            for leg in m.leg_rows()
        ],
        "acceptance": m.acceptance,
        "refused_tonnes": m.refused_tonnes,
        "refusal_reason": m.refusal_reason,
        "discrepancy": m.discrepancy or {},
        "accepted_on": m.accepted_on,
        "receipt_due_on": m.receipt_due_on,
        "treatment_method": m.treatment_method,
        "treatment_result": m.treatment_result,
        "paper_fallback": m.paper_fallback,
        "completed_on": m.completed_on,
        "paper_entered_late": m.paper_entered_late,
        "warnings": list(m.warnings or []),
        "overdue": list(m.overdue or []),
        "created_at": m.created_at,
        "updated_at": timezone.localtime(m.updated_at).isoformat(timespec="microseconds"),
    }


def _detail(actor: Actor, manifest_id: int) -> dict[str, Any]:
    selectors.manifest_get(actor=actor, manifest_id=manifest_id)  # 404 for what the caller cannot see
    found = _with_details(selectors.manifests_visible(actor=actor).filter(id=manifest_id)).get()
    return manifest_out(found)


def _signature_method(request: HttpRequest) -> str:
    return "api_token" if request_token(request) is not None else "session"


ROLE_FILTERS = ("consignor", "carrier", "receiver")


# ---------------------------------------------------------------- endpoints


@router.get("/", response=ManifestList)
def manifests(request: HttpRequest, filters: Query[ListFilters]) -> dict[str, Any]:
    """Manifests the caller sees. With ``updated_after``: the polling feed, oldest change first."""
    actor = request_actor(request)
    qs = selectors.manifests_visible(actor=actor)
    if filters.state:
        if filters.state not in State.values:
            raise ApplicationError(f"状态 {filters.state!r} 不存在", code="state_invalid", field="state")
        qs = qs.filter(state=filters.state)
    if filters.role:
        if filters.role not in ROLE_FILTERS:
            raise ApplicationError("身份应为 consignor、carrier 或 receiver", code="role_invalid", field="role")
        ids = actor.enterprise_ids
        if filters.role == "consignor":
            qs = qs.filter(consignor_id__in=ids)
        elif filters.role == "receiver":
            qs = qs.filter(receiver_id__in=ids)
        else:
            qs = qs.filter(id__in=ManifestLeg.objects.filter(carrier_id__in=ids).values("manifest_id"))
    if filters.updated_after is not None:
        after = filters.updated_after
        if after.tzinfo is None:  # a naive time is Beijing time, as everywhere on the platform
            after = timezone.make_aware(after)
        # In UTC for the database (PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows);
        # the feed starts in 2000 at the earliest.
        try:
            after = max(after.astimezone(dt.UTC), dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        except (OverflowError, ValueError):
            raise ApplicationError(
                "updated_after 不是有效时刻", code="updated_after_invalid", field="updated_after"
            ) from None
        qs = qs.filter(updated_at__gt=after).order_by("updated_at", "id")
    else:
        qs = qs.order_by("-created_at", "-id")
    page = _with_details(qs)[filters.offset : filters.offset + filters.limit]
    return {"total": qs.count(), "items": [manifest_out(m) for m in page]}


@router.post("/", response={201: ManifestOut})
def create(request: HttpRequest, payload: ManifestIn) -> Status[Any]:
    actor = request_actor(request)
    site_get(actor=actor, site_id=payload.consignor_site_id)  # 404 for sites the caller cannot see
    m = services.manifest_create(
        actor=actor,
        consignor_site_id=payload.consignor_site_id,
        receiver_id=payload.receiver_id,
        receiver_site_id=payload.receiver_site_id,
        transfer_type=payload.transfer_type,
        shipper=payload.shipper,
        approval_reference=payload.approval_reference,
        planned_method_code=payload.planned_method_code,
        emergency_measures=payload.emergency_measures,
        paper_completed_on=payload.paper_completed_on,
        lines=[
            services.LineIn(
                waste_code=line.waste_code,
                declared_tonnes=line.declared_tonnes,
                common_name=line.common_name,
                form=line.form,
                packaging=line.packaging,
                container_count=line.container_count,
                dg_class=line.dg_class,
                un_number=line.un_number,
                label_codes=tuple(line.label_codes),
                exemption_seq=line.exemption_seq,
                exemption_stage=line.exemption_stage,
            )
            for line in payload.lines
        ],
        legs=[services.LegIn(**leg.dict()) for leg in payload.legs],
    )
    return Status(201, manifest_out(m))  # the creator's own unit: visible to it


@router.get(
    "/registers/{kind}",
    response=RegisterOut,
    openapi_extra={
        "responses": {
            "200": {
                "description": "登记簿：JSON（默认）、CSV（UTF-8 BOM）或 XLSX",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            }
        }
    },
)
def register(request: HttpRequest, kind: str, filters: Query[RegisterFilters]) -> Any:
    """A party's register: ``outgoing`` (移出), ``transported`` (运输) or ``incoming`` (接受)."""
    actor = request_actor(request)
    if filters.fmt not in registers.FORMATS:
        raise ApplicationError("格式应为 json、csv 或 xlsx", code="format_invalid", field="format")
    rows = registers.register_rows(
        actor=actor,
        enterprise_id=filters.enterprise_id,
        kind=kind,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )
    if filters.fmt == "json":
        return {"kind": kind, "enterprise_id": filters.enterprise_id, "total": len(rows), "items": rows}
    name = f"manifest-register-{kind}-{filters.enterprise_id}"
    if filters.fmt == "csv":
        response = HttpResponse(registers.register_csv(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    body = registers.register_xlsx(rows, title=registers.KIND_NAMES[kind])
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


@router.get("/by-number/{number}", response=ManifestOut)
def by_number(request: HttpRequest, number: str) -> dict[str, Any]:
    actor = request_actor(request)
    found = selectors.manifest_by_number(actor=actor, number=number[:40])
    return _detail(actor, found.id)


@router.get("/{manifest_id}", response=ManifestOut)
def detail(request: HttpRequest, manifest_id: int) -> dict[str, Any]:
    return _detail(request_actor(request), manifest_id)


@router.post("/{manifest_id}/events/{event}", response=ManifestOut)
def transition(request: HttpRequest, manifest_id: int, event: str, payload: EventIn | None = None) -> dict[str, Any]:
    """One endpoint for every lifecycle step; ``event`` is one of ``lifecycle.Event.ALL``."""
    if event not in Event.ALL:
        raise ApplicationError(
            f"未知的联单事项 {event[:40]!r}，应为：{'、'.join(Event.ALL)}", code="event_unknown", field="event"
        )
    actor = request_actor(request)
    data: dict[str, Any] = {}
    if payload is not None:
        data = payload.dict(exclude_none=True)
        if "weights" in data:  # the guards read {line id: tonnes} with string values
            data["weights"] = {str(k): str(v) for k, v in data["weights"].items()}
        for key in ("refused_tonnes",):
            if key in data:
                data[key] = str(data[key])
    m = services.manifest_transition(
        actor=actor, manifest_id=manifest_id, event=event, payload=data, method=_signature_method(request)
    )
    # The actor just signed as a party (or as the regulator of its region), so it sees the manifest;
    # the answer is the locked, updated row and the rows the transition read, not a second read.
    return manifest_out(m)


@router.get("/{manifest_id}/signatures", response=SignatureList)
def signatures(request: HttpRequest, manifest_id: int) -> dict[str, Any]:
    m = selectors.manifest_get(actor=request_actor(request), manifest_id=manifest_id)
    rows = m.signatures.select_related("user", "organisation").order_by("signed_at", "id")
    items = [
        {
            "id": s.id,
            "event": s.event,
            "event_label": Event.NAMES.get(s.event, s.event),
            "role": s.role,
            "role_label": Role.NAMES.get(s.role, s.role),
            "user_id": s.user_id,
            "user_name": (s.user.get_full_name() or s.user.get_username()) if s.user is not None else "",
            "organisation": _party(s.organisation),
            "signed_at": s.signed_at,
            "method": s.method,
            "content_hash": s.content_hash,
            "from_state": s.from_state,
            "to_state": s.to_state,
            "reason": s.reason,
        }
        for s in rows
    ]
    return {"total": len(items), "items": items}


@router.get("/{manifest_id}/history", response=HistoryList)
def history(request: HttpRequest, manifest_id: int) -> dict[str, Any]:
    actor = request_actor(request)
    m = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    rows = list(events_for(actor=actor, subject=m)[:500])
    items = [
        {
            "id": e.id,
            "occurred_at": e.occurred_at,
            "kind": e.kind,
            "actor": e.actor_label,
            "before": e.before or {},
            "after": e.after or {},
            "reason": e.reason,
            "hash": e.hash,
        }
        for e in rows
    ]
    return {"total": len(items), "items": items}


@router.get("/{manifest_id}/allowed-events", response=AllowedEvents)
def allowed_events(request: HttpRequest, manifest_id: int) -> dict[str, Any]:
    """The steps the caller may try now: the table's rows for the manifest's state and the caller's
    roles on it. Guards are listed, not run: a step here may still be refused with their message."""
    actor = request_actor(request)
    m = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    roles = services.roles_of(actor, m)
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in lifecycle.TABLE:
        if row.state != m.state or row.event in seen:
            continue
        chosen = lifecycle.transition_for(m.state, row.event, roles)
        if chosen is None:
            continue
        seen.add(row.event)
        events.append(
            {
                "event": chosen.event,
                "label": Event.NAMES[chosen.event],
                "role": chosen.role,
                "role_label": Role.NAMES[chosen.role],
                "guards": list(chosen.guards),
            }
        )
    return {
        "state": m.state,
        "state_label": State(m.state).label,
        "roles": sorted(roles),
        "events": events,
    }


# ---------------------------------------------------------------- corrections (revision requests)


class ChangeIn(Schema):
    target: str = Field(..., max_length=30, description="manifest | line:<id> | leg:<顺序>")
    field: str = Field(..., max_length=30)
    proposed: str = Field(..., max_length=2000)


class RevisionIn(Schema):
    changes: list[ChangeIn] = Field(..., min_length=1, max_length=20)
    reason: str = Field(..., max_length=300)


class DecisionIn(Schema):
    approve: bool
    comment: str = Field("", max_length=300)


class RevisionOut(Schema):
    id: int
    manifest_id: int
    status: str
    reason: str
    changes: list[dict[str, str]]
    required: list[int]
    approvals: dict[str, str]
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision_comment: str
    version_before: int
    version_after: int | None
    corrected_promptly: bool | None


class RevisionList(Schema):
    total: int
    items: list[RevisionOut]


@router.post("/{manifest_id}/revisions", response={201: RevisionOut})
def revision_create(request: HttpRequest, manifest_id: int, payload: RevisionIn) -> Status[Any]:
    """Propose a correction: applied at once while only the requester's unit has signed, otherwise a
    request every other signed party must approve (docs/manifests.md, Corrections)."""
    from . import revisions

    actor = request_actor(request)
    selectors.manifest_get(actor=actor, manifest_id=manifest_id)  # 404 for what the caller cannot see
    req = revisions.revision_request(
        actor=actor, manifest_id=manifest_id, changes=[c.dict() for c in payload.changes], reason=payload.reason
    )
    return Status(201, req)


@router.get("/{manifest_id}/revisions", response=RevisionList)
def revision_list(request: HttpRequest, manifest_id: int) -> dict[str, Any]:
    m = selectors.manifest_get(actor=request_actor(request), manifest_id=manifest_id)
    items = list(m.revisions.order_by("-created_at", "-id"))
    return {"total": len(items), "items": items}


def _visible_revision(actor: Actor, revision_id: int) -> Any:
    from weifei.core.errors import NotFound

    from .models import RevisionRequest

    req = RevisionRequest.objects.filter(id=revision_id).first()
    if req is None or not selectors.manifests_visible(actor=actor).filter(id=req.manifest_id).exists():
        raise NotFound("修改申请不存在", field="revision")
    return req


@router.post("/revisions/{revision_id}/decide", response=RevisionOut)
def revision_decide(request: HttpRequest, revision_id: int, payload: DecisionIn) -> Any:
    from . import revisions

    actor = request_actor(request)
    _visible_revision(actor, revision_id)
    return revisions.revision_decide(
        actor=actor, revision_id=revision_id, approve=payload.approve, comment=payload.comment
    )


@router.post("/revisions/{revision_id}/withdraw", response=RevisionOut)
def revision_withdraw(request: HttpRequest, revision_id: int) -> Any:
    from . import revisions

    actor = request_actor(request)
    _visible_revision(actor, revision_id)
    return revisions.revision_withdraw(actor=actor, revision_id=revision_id)
