"""Declarations API under /api/v1/declarations/ (申报, HJ 1259 7): periods with their status,
generation, submission, correction (更正), Annex C export, mandates (委托申报) and the findings of
the supervision sweep. Reads through the actor-scoped selectors in ``declarations``, writes through
its services. Lists answer ``{"total": n, "items": [...]}``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from weifei.accounts.auth import ACTOR_AUTH, request_actor
from weifei.core.errors import ApplicationError, NotFound

from . import declaration_export as export
from . import declarations as svc
from .models import Declaration, DeclarationMandate, Finding

router = Router(tags=["declarations"], auth=ACTOR_AUTH)


class DeclarationOut(Schema):
    id: int
    site_id: int
    site_name: str
    enterprise_id: int
    enterprise_name: str
    kind: str
    period_start: dt.date
    period_end: dt.date
    due_on: dt.date
    status: str
    late: bool
    generated_at: dt.datetime
    submitted_at: dt.datetime | None
    declared_by_enterprise_id: int | None
    revision: int
    corrected_at: dt.datetime | None


class RevisionOut(Schema):
    revision: int
    submitted_at: dt.datetime
    declared_by_enterprise_id: int | None
    late: bool
    reason: str
    content: dict[str, Any]


class DeclarationDetail(DeclarationOut):
    content: dict[str, Any]
    invariant_breaks: list[str]
    revisions: list[RevisionOut]


class DeclarationList(Schema):
    total: int
    items: list[DeclarationOut]


def decl_out(d: Declaration) -> dict[str, Any]:
    return {
        "id": d.id,
        "site_id": d.site_id,
        "site_name": d.site.name,
        "enterprise_id": d.site.enterprise_id,
        "enterprise_name": d.site.enterprise.name,
        "kind": d.kind,
        "period_start": d.period_start,
        "period_end": d.period_end,
        "due_on": d.due_on,
        "status": d.status,
        "late": d.late,
        "generated_at": d.generated_at,
        "submitted_at": d.submitted_at,
        "declared_by_enterprise_id": d.declared_by_enterprise_id,
        "revision": d.revision,
        "corrected_at": d.corrected_at,
    }


def decl_detail(d: Declaration) -> dict[str, Any]:
    return {
        **decl_out(d),
        "content": d.content,
        "invariant_breaks": svc.invariant_breaks(d.content.get("rows", [])),
        "revisions": list(d.revisions.order_by("revision")),
    }


class ListFilters(Schema):
    site_id: int | None = None
    year: int | None = Field(None, ge=2000, le=2100)
    kind: str = ""
    status: str = ""
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class YearIn(Schema):
    year: int | None = Field(None, ge=2000, le=2100)


class PeriodOut(Schema):
    kind: str
    period_start: dt.date
    period_end: dt.date
    due_on: dt.date
    status: str
    status_name: str
    declaration_id: int | None
    late: bool | None
    revision: int | None


class GenerateIn(Schema):
    site_id: int
    kind: str = Field(..., max_length=10)
    period_start: dt.date


class CorrectIn(Schema):
    reason: str = Field(..., max_length=300)


class ExportIn(Schema):
    format: str = "xlsx"


class MandateOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    agent_id: int
    agent_name: str
    basis: str
    status: str
    valid_from: dt.date
    valid_to: dt.date
    approved_at: dt.datetime | None
    revoked_at: dt.datetime | None


class MandateList(Schema):
    total: int
    items: list[MandateOut]


class MandateIn(Schema):
    unit_id: int
    agent_id: int
    basis: str = Field(..., max_length=10)
    valid_from: dt.date
    valid_to: dt.date


class RevokeIn(Schema):
    reason: str = Field("", max_length=300)


class MandateFilters(Schema):
    status: str = ""
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


class FindingOut(Schema):
    id: int
    rule: str
    site_id: int
    site_name: str
    enterprise_id: int
    key: str
    severity: str
    message: str
    details: dict[str, Any]
    raised_at: dt.datetime
    resolved_at: dt.datetime | None


class FindingList(Schema):
    total: int
    items: list[FindingOut]


class FindingFilters(Schema):
    rule: str = ""
    open: bool | None = None
    site_id: int | None = None
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


def mandate_out(m: DeclarationMandate) -> dict[str, Any]:
    return {
        "id": m.id,
        "unit_id": m.unit_id,
        "unit_name": m.unit.name,
        "agent_id": m.agent_id,
        "agent_name": m.agent.name,
        "basis": m.basis,
        "status": m.status,
        "valid_from": m.valid_from,
        "valid_to": m.valid_to,
        "approved_at": m.approved_at,
        "revoked_at": m.revoked_at,
    }


def finding_out(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "rule": f.rule,
        "site_id": f.site_id,
        "site_name": f.site.name,
        "enterprise_id": f.enterprise_id,
        "key": f.key,
        "severity": f.severity,
        "message": f.message,
        "details": f.details,
        "raised_at": f.raised_at,
        "resolved_at": f.resolved_at,
    }


@router.get("/", response=DeclarationList)
def declarations(request: HttpRequest, filters: Query[ListFilters]) -> dict[str, Any]:
    qs = svc.declaration_list(
        actor=request_actor(request),
        site_id=filters.site_id,
        year=filters.year,
        kind=filters.kind,
        status=filters.status,
    )
    page = qs[filters.offset : filters.offset + filters.limit]
    return {"total": qs.count(), "items": [decl_out(d) for d in page]}


@router.get("/sites/{site_id}/periods", response=list[PeriodOut])
def periods(request: HttpRequest, site_id: int, filters: Query[YearIn]) -> list[dict[str, Any]]:
    """Every period the site's management class requires in ``year`` (default: this year) with its
    status: not_due / open / on_time / late / overdue / stale."""
    year = filters.year or timezone.localdate().year
    out = []
    for r in svc.site_periods(actor=request_actor(request), site_id=site_id, year=year):
        p, d = r["period"], r["declaration"]
        out.append(
            {
                "kind": p.kind,
                "period_start": p.start,
                "period_end": p.end,
                "due_on": p.due,
                "status": r["status"],
                "status_name": r["status_name"],
                "declaration_id": d.id if d else None,
                "late": d.late if d else None,
                "revision": d.revision if d else None,
            }
        )
    return out


@router.post("/generate", response={201: DeclarationDetail})
def generate(request: HttpRequest, payload: GenerateIn) -> Status[Any]:
    actor = request_actor(request)
    svc.declarable_site_get(actor=actor, site_id=payload.site_id)  # 404 for sites the caller cannot see
    d = svc.declaration_generate(
        actor=actor, site_id=payload.site_id, kind=payload.kind, period_start=payload.period_start
    )
    return Status(201, decl_detail(svc.declaration_get(actor=actor, declaration_id=d.id)))


@router.get("/mandates", response=MandateList)
def mandates(request: HttpRequest, filters: Query[MandateFilters]) -> dict[str, Any]:
    qs = svc.mandates_visible(actor=request_actor(request))
    if filters.status:
        if filters.status not in DeclarationMandate.Status.values:
            raise ApplicationError(f"状态 {filters.status!r} 无效", code="status_invalid", field="status")
        qs = qs.filter(status=filters.status)
    qs = qs.order_by("-created_at", "-id")
    page = qs[filters.offset : filters.offset + filters.limit]
    return {"total": qs.count(), "items": [mandate_out(m) for m in page]}


@router.post("/mandates", response={201: MandateOut})
def mandate_create(request: HttpRequest, payload: MandateIn) -> Status[Any]:
    m = svc.mandate_create(actor=request_actor(request), **payload.dict())
    return Status(201, mandate_out(m))


def _visible_mandate(request: HttpRequest, mandate_id: int) -> None:
    if not svc.mandates_visible(actor=request_actor(request)).filter(id=mandate_id).exists():
        raise NotFound("委托不存在或无权查看", field="mandate")


@router.post("/mandates/{mandate_id}/approve", response=MandateOut)
def mandate_approve(request: HttpRequest, mandate_id: int) -> dict[str, Any]:
    _visible_mandate(request, mandate_id)
    return mandate_out(svc.mandate_approve(actor=request_actor(request), mandate_id=mandate_id))


@router.post("/mandates/{mandate_id}/revoke", response=MandateOut)
def mandate_revoke(request: HttpRequest, mandate_id: int, payload: RevokeIn) -> dict[str, Any]:
    _visible_mandate(request, mandate_id)
    return mandate_out(svc.mandate_revoke(actor=request_actor(request), mandate_id=mandate_id, reason=payload.reason))


@router.get("/findings", response=FindingList)
def findings(request: HttpRequest, filters: Query[FindingFilters]) -> dict[str, Any]:
    """Missing/late declaration and missing-plan findings the caller may see, newest first."""
    qs = svc.findings_visible(actor=request_actor(request))
    if filters.rule:
        if filters.rule not in svc.SWEEP_RULES:
            raise ApplicationError(
                f"规则 {filters.rule!r} 无效：应为 {'、'.join(svc.SWEEP_RULES)}", code="rule_invalid", field="rule"
            )
        qs = qs.filter(rule=filters.rule)
    if filters.open is not None:
        qs = qs.filter(resolved_at__isnull=filters.open)
    if filters.site_id is not None:
        qs = qs.filter(site_id=filters.site_id)
    qs = qs.order_by("-raised_at", "-id")
    page = qs[filters.offset : filters.offset + filters.limit]
    return {"total": qs.count(), "items": [finding_out(f) for f in page]}


@router.get("/{declaration_id}", response=DeclarationDetail)
def detail(request: HttpRequest, declaration_id: int) -> dict[str, Any]:
    return decl_detail(svc.declaration_get(actor=request_actor(request), declaration_id=declaration_id))


@router.post("/{declaration_id}/submit", response=DeclarationDetail)
def submit(request: HttpRequest, declaration_id: int) -> dict[str, Any]:
    actor = request_actor(request)
    svc.declaration_get(actor=actor, declaration_id=declaration_id)
    svc.declaration_submit(actor=actor, declaration_id=declaration_id)
    return decl_detail(svc.declaration_get(actor=actor, declaration_id=declaration_id))


@router.post("/{declaration_id}/correct", response=DeclarationDetail)
def correct(request: HttpRequest, declaration_id: int, payload: CorrectIn) -> dict[str, Any]:
    actor = request_actor(request)
    svc.declaration_get(actor=actor, declaration_id=declaration_id)
    svc.declaration_correct(actor=actor, declaration_id=declaration_id, reason=payload.reason)
    return decl_detail(svc.declaration_get(actor=actor, declaration_id=declaration_id))


def export_response(d: Declaration, fmt: str) -> HttpResponse:
    """The Annex C table of a declaration as XLSX or CSV (UTF-8 with BOM)."""
    if fmt == "xlsx":
        body = export.export_xlsx(d)
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        body = export.export_csv(d)
        ctype = "text/csv; charset=utf-8"
    else:
        raise ApplicationError(f"导出格式 {fmt!r} 无效：应为 xlsx 或 csv", code="format_invalid", field="format")
    response = HttpResponse(body, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{export.export_filename(d, fmt)}"'
    return response


@router.get("/{declaration_id}/export")
def export_file(request: HttpRequest, declaration_id: int, filters: Query[ExportIn]) -> HttpResponse:
    d = svc.declaration_get(actor=request_actor(request), declaration_id=declaration_id)
    return export_response(d, filters.format)
