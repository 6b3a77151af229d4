"""Cross-province approval API under /api/v1/approvals/ (docs/approvals.md): the consignor's
applications, the origin province's steps, the exchange messages, the whitelist and incoming
requests. Reads through the actor-scoped selectors, writes through the services."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from weifei.accounts.auth import ACTOR_AUTH, request_actor
from weifei.core.errors import ApplicationError

from . import messages, selectors, services
from .models import Application, IncomingRequest, WhitelistEntry

router = Router(tags=["approvals"], auth=ACTOR_AUTH)


class LineIn(Schema):
    waste_code: str = Field(..., max_length=20)
    waste_name: str = Field("", max_length=200)
    tonnes: Decimal


class AttachmentIn(Schema):
    name: str = Field(..., max_length=200)
    sha256: str = Field(..., max_length=64)
    size: int = Field(..., ge=1)
    kind: str = Field("other", max_length=10)


class ApplicationIn(Schema):
    site_id: int
    receiver_province: str = Field(..., max_length=6)
    receiver_name: str = Field(..., max_length=200)
    receiver_credit_code: str = Field(..., max_length=18)
    receiver_licence_number: str = Field(..., max_length=60)
    receiver_licence_valid_to: dt.date
    method_code: str = Field(..., max_length=8)
    period_from: dt.date
    period_to: dt.date
    lines: list[LineIn] = Field(..., max_length=50)
    attachments: list[AttachmentIn] = Field([], max_length=30)
    note: str = Field("", max_length=1000)


class LineOut(Schema):
    waste_code: str
    category: str
    waste_name: str
    tonnes: Decimal


class AttachmentOut(Schema):
    id: int
    kind: str
    name: str
    sha256: str
    size: int


class StepOut(Schema):
    id: int
    kind: str
    kind_label: str
    started_on: dt.date
    working_days: int
    due_on: dt.date
    outcome: str
    overdue: bool
    closed_at: dt.datetime | None
    actor: str
    comment: str


class ApprovalLineOut(Schema):
    waste_code: str
    waste_name: str
    approved_tonnes: Decimal
    consumed_tonnes: Decimal
    remaining_tonnes: Decimal


class ApprovalOut(Schema):
    id: int
    number: str
    decided_on: dt.date
    valid_from: dt.date
    valid_to: dt.date
    lines: list[ApprovalLineOut]


class ApplicationOut(Schema):
    id: int
    request_id: str
    consignor_id: int
    consignor_name: str
    site_id: int
    status: str
    procedure: str
    receiver_province: str
    receiver_name: str
    receiver_credit_code: str
    receiver_licence_number: str
    receiver_licence_valid_to: dt.date
    method_code: str
    period_from: dt.date
    period_to: dt.date
    submitted_at: dt.datetime | None
    current_step: str | None
    current_due_on: dt.date | None


class ApplicationDetail(ApplicationOut):
    note: str
    outcome_comment: str
    lines: list[LineOut]
    attachments: list[AttachmentOut]
    steps: list[StepOut]
    approval: ApprovalOut | None


class ApplicationList(Schema):
    total: int
    items: list[ApplicationOut]


def _out(a: Application) -> dict[str, Any]:
    step = selectors.open_step(a)
    return {
        "id": a.id,
        "request_id": str(a.exchange_id),
        "consignor_id": a.consignor_id,
        "consignor_name": a.consignor.name,
        "site_id": a.site_id,
        "status": a.status,
        "procedure": a.procedure,
        "receiver_province": a.receiver_province,
        "receiver_name": a.receiver_name,
        "receiver_credit_code": a.receiver_credit_code,
        "receiver_licence_number": a.receiver_licence_number,
        "receiver_licence_valid_to": a.receiver_licence_valid_to,
        "method_code": a.method_code,
        "period_from": a.period_from,
        "period_to": a.period_to,
        "submitted_at": a.submitted_at,
        "current_step": step.kind if step else None,
        "current_due_on": step.due_on if step else None,
    }


def _detail(a: Application) -> dict[str, Any]:
    approval = selectors.approval_of(a)
    return {
        **_out(a),
        "note": a.note,
        "outcome_comment": a.outcome_comment,
        "lines": list(a.lines.all()),
        "attachments": list(a.attachments.all()),
        "steps": [
            {
                "id": r["step"].id,
                "kind": r["step"].kind,
                "kind_label": r["step"].get_kind_display(),
                "started_on": r["step"].started_on,
                "working_days": r["step"].working_days,
                "due_on": r["step"].due_on,
                "outcome": r["step"].outcome,
                "overdue": r["overdue"],
                "closed_at": r["step"].closed_at,
                "actor": r["step"].actor_label,
                "comment": r["step"].comment,
            }
            for r in selectors.step_rows(a)
        ],
        "approval": None
        if approval is None
        else {
            "id": approval.id,
            "number": approval.number,
            "decided_on": approval.decided_on,
            "valid_from": approval.valid_from,
            "valid_to": approval.valid_to,
            "lines": [
                {
                    "waste_code": x.waste_code,
                    "waste_name": x.waste_name,
                    "approved_tonnes": x.approved_tonnes,
                    "consumed_tonnes": x.consumed_tonnes,
                    "remaining_tonnes": x.approved_tonnes - x.consumed_tonnes,
                }
                for x in approval.lines.all()
            ],
        },
    }


def _reload(request: HttpRequest, application_id: int) -> dict[str, Any]:
    return _detail(selectors.application_get(actor=request_actor(request), application_id=application_id))


class ListFilters(Schema):
    status: str = Field("", max_length=16)
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


@router.get("/", response=ApplicationList)
def application_list(request: HttpRequest, filters: Query[ListFilters]) -> dict[str, Any]:
    qs = selectors.application_list(actor=request_actor(request), status=filters.status)
    return {"total": qs.count(), "items": [_out(a) for a in qs[filters.offset : filters.offset + filters.limit]]}


@router.post("/", response={201: ApplicationDetail})
def application_create(request: HttpRequest, payload: ApplicationIn) -> Status[Any]:
    actor = request_actor(request)
    from weifei.registry.selectors import site_get

    site_get(actor=actor, site_id=payload.site_id)  # 404 for sites the caller cannot see
    data = payload.dict()
    application = services.application_create(actor=actor, **data)
    return Status(201, _reload(request, application.id))


class QueueRow(Schema):
    application_id: int
    consignor_name: str
    status: str
    step: str
    step_label: str
    started_on: dt.date
    due_on: dt.date
    overdue: bool


class QueueList(Schema):
    total: int
    items: list[QueueRow]


@router.get("/queue", response=QueueList)
def queue(request: HttpRequest) -> dict[str, Any]:
    rows = selectors.queue(actor=request_actor(request))
    items = [
        {
            "application_id": r["application"].id,
            "consignor_name": r["application"].consignor.name,
            "status": r["application"].status,
            "step": r["step"].kind,
            "step_label": r["step"].get_kind_display(),
            "started_on": r["step"].started_on,
            "due_on": r["step"].due_on,
            "overdue": r["overdue"],
        }
        for r in rows
    ]
    return {"total": len(items), "items": items}


MESSAGE_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
}


def _message(request: HttpRequest) -> Any:
    """The raw JSON message: the strict parsers in ``messages`` check it field by field."""
    try:
        return json.loads(request.body or b"")
    except ValueError:
        raise ApplicationError("消息应为 JSON", code="message_invalid", field="body") from None


@router.post("/responses", response=ApplicationDetail, openapi_extra=MESSAGE_BODY)
def response_import(request: HttpRequest) -> dict[str, Any]:
    """Import an ``approval_response.v1`` message: records the reply step of its request."""
    actor = request_actor(request)
    application = services.response_import(actor=actor, message=_message(request))
    return _reload(request, application.id)


# ---- whitelist -----------------------------------------------------------------------------------


class WhitelistOut(Schema):
    id: int
    enterprise_id: int
    enterprise_name: str
    credit_code: str
    basis: str
    added_by: str
    valid_from: dt.date
    valid_to: dt.date
    revoked_at: dt.datetime | None
    revoked_reason: str
    current: bool


class WhitelistList(Schema):
    total: int
    items: list[WhitelistOut]


def _entry(e: WhitelistEntry) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "id": e.id,
        "enterprise_id": e.enterprise_id,
        "enterprise_name": e.enterprise.name,
        "credit_code": e.enterprise.credit_code,
        "basis": e.basis,
        "added_by": e.added_by_label,
        "valid_from": e.valid_from,
        "valid_to": e.valid_to,
        "revoked_at": e.revoked_at,
        "revoked_reason": e.revoked_reason,
        "current": e.revoked_at is None and e.valid_from <= today <= e.valid_to,
    }


@router.get("/whitelist", response=WhitelistList)
def whitelist(request: HttpRequest) -> dict[str, Any]:
    qs = selectors.whitelist(actor=request_actor(request))
    return {"total": qs.count(), "items": [_entry(e) for e in qs[:1000]]}


@router.get("/whitelist/export", response=dict[str, Any])
def whitelist_export(request: HttpRequest) -> dict[str, Any]:
    """``whitelist.v1`` JSON of the current entries, to share with neighbouring provinces."""
    return selectors.whitelist_export(actor=request_actor(request))


class WhitelistIn(Schema):
    enterprise_id: int
    basis: str = Field(..., max_length=500)
    valid_from: dt.date
    valid_to: dt.date


@router.post("/whitelist", response={201: WhitelistOut})
def whitelist_add(request: HttpRequest, payload: WhitelistIn) -> Status[Any]:
    entry = services.whitelist_add(actor=request_actor(request), **payload.dict())
    return Status(201, _entry(entry))


class RevokeIn(Schema):
    reason: str = Field(..., max_length=500)


@router.post("/whitelist/{entry_id}/revoke", response=WhitelistOut)
def whitelist_revoke(request: HttpRequest, entry_id: int, payload: RevokeIn) -> dict[str, Any]:
    return _entry(services.whitelist_revoke(actor=request_actor(request), entry_id=entry_id, reason=payload.reason))


# ---- incoming requests -------------------------------------------------------------------------------


class IncomingOut(Schema):
    id: int
    request_id: str
    origin_province: str
    consignor_name: str
    consignor_credit_code: str
    receiver_name: str
    receiver_credit_code: str
    receiver_licence_number: str
    method_code: str
    period_from: dt.date
    period_to: dt.date
    lines: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    received_on: dt.date
    due_on: dt.date
    overdue: bool
    status: str
    decision: str
    comment: str
    responded_at: dt.datetime | None


class IncomingList(Schema):
    total: int
    items: list[IncomingOut]


def _incoming(x: IncomingRequest) -> dict[str, Any]:
    return {
        **{f: getattr(x, f) for f in IncomingOut.model_fields if f != "overdue"},
        "overdue": x.status == "open" and timezone.localdate() > x.due_on,
    }


@router.get("/incoming", response=IncomingList)
def incoming_list(request: HttpRequest) -> dict[str, Any]:
    qs = selectors.incoming_list(actor=request_actor(request))
    return {"total": qs.count(), "items": [_incoming(x) for x in qs[:500]]}


@router.post("/incoming", response={201: IncomingOut}, openapi_extra=MESSAGE_BODY)
def incoming_record(request: HttpRequest) -> Status[Any]:
    """Record an ``approval_request.v1`` message addressed to Jilin (the receiving province)."""
    actor = request_actor(request)
    return Status(201, _incoming(services.incoming_record(actor=actor, message=_message(request))))


@router.get("/incoming/{incoming_id}", response=IncomingOut)
def incoming_detail(request: HttpRequest, incoming_id: int) -> dict[str, Any]:
    return _incoming(selectors.incoming_get(actor=request_actor(request), incoming_id=incoming_id))


class IncomingReplyIn(Schema):
    decision: str = Field(..., max_length=10, description="agree | disagree")
    comment: str = Field("", max_length=1000)


@router.post("/incoming/{incoming_id}/reply", response=dict[str, Any])
def incoming_reply(request: HttpRequest, incoming_id: int, payload: IncomingReplyIn) -> dict[str, Any]:
    """Jilin's reply; answers the ``approval_response.v1`` message to send back."""
    actor = request_actor(request)
    selectors.incoming_get(actor=actor, incoming_id=incoming_id)
    return services.incoming_reply(actor=actor, incoming_id=incoming_id, **payload.dict())


# ---- one application (after the literal paths: "{application_id}" would match them) ----


@router.get("/{application_id}", response=ApplicationDetail)
def application_detail(request: HttpRequest, application_id: int) -> dict[str, Any]:
    return _reload(request, application_id)


@router.post("/{application_id}/attachments", response={201: AttachmentOut})
def attachment_add(request: HttpRequest, application_id: int, payload: AttachmentIn) -> Status[Any]:
    actor = request_actor(request)
    selectors.application_get(actor=actor, application_id=application_id)
    return Status(201, services.attachment_add(actor=actor, application_id=application_id, **payload.dict()))


@router.post("/{application_id}/submit", response=ApplicationDetail)
def submit(request: HttpRequest, application_id: int) -> dict[str, Any]:
    actor = request_actor(request)
    selectors.application_get(actor=actor, application_id=application_id)
    services.application_submit(actor=actor, application_id=application_id)
    return _reload(request, application_id)


class ReasonIn(Schema):
    reason: str = Field("", max_length=1000)


@router.post("/{application_id}/withdraw", response=ApplicationDetail)
def withdraw(request: HttpRequest, application_id: int, payload: ReasonIn) -> dict[str, Any]:
    actor = request_actor(request)
    selectors.application_get(actor=actor, application_id=application_id)
    services.application_withdraw(actor=actor, application_id=application_id, reason=payload.reason)
    return _reload(request, application_id)


class StepIn(Schema):
    action: str = Field(..., max_length=10, description="accept | return | agree | disagree")
    comment: str = Field("", max_length=1000)


@router.post("/{application_id}/steps", response=ApplicationDetail)
def step(request: HttpRequest, application_id: int, payload: StepIn) -> dict[str, Any]:
    """Completeness check (accept / return) and preliminary review (agree / disagree)."""
    actor = request_actor(request)
    selectors.application_get(actor=actor, application_id=application_id)
    services.step_act(actor=actor, application_id=application_id, action=payload.action, comment=payload.comment)
    return _reload(request, application_id)


@router.get("/{application_id}/request-message", response=dict[str, Any])
def request_message(request: HttpRequest, application_id: int) -> dict[str, Any]:
    """The ``approval_request.v1`` message (the 商请函) once the preliminary review agreed."""
    application = selectors.application_get(actor=request_actor(request), application_id=application_id)
    sent = application.steps.filter(kind="receiving").order_by("id").first()
    if sent is None:
        raise ApplicationError("初步审核同意后才有商请函", code="not_requested", field="status")
    return messages.request_build(application, sent_at=sent.opened_at)


class ReplyIn(Schema):
    decision: str = Field(..., max_length=10, description="agree | disagree")
    comment: str = Field("", max_length=1000)
    responder: str = Field("", max_length=150)
    responded_at: dt.datetime | None = None


@router.post("/{application_id}/reply", response=ApplicationDetail)
def reply(request: HttpRequest, application_id: int, payload: ReplyIn) -> dict[str, Any]:
    """The receiving province's reply, entered by hand (from a letter)."""
    actor = request_actor(request)
    selectors.application_get(actor=actor, application_id=application_id)
    services.reply_record(actor=actor, application_id=application_id, **payload.dict())
    return _reload(request, application_id)


class DecisionIn(Schema):
    approve: bool
    comment: str = Field("", max_length=1000)
    tonnes: dict[str, Decimal] | None = Field(None, description="approved tonnes per waste code; default: as applied")


@router.post("/{application_id}/decision", response=ApplicationDetail)
def decision(request: HttpRequest, application_id: int, payload: DecisionIn) -> dict[str, Any]:
    actor = request_actor(request)
    selectors.application_get(actor=actor, application_id=application_id)
    services.application_decide(
        actor=actor,
        application_id=application_id,
        approve=payload.approve,
        comment=payload.comment,
        tonnes=payload.tonnes,
    )
    return _reload(request, application_id)
