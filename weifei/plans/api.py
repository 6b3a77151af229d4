"""Management-plan API under /api/v1/plans/: reads through the actor-scoped selectors, writes
through the services. Lists answer ``{"total": n, "items": [...]}``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from weifei.accounts.auth import ACTOR_AUTH, request_actor

from . import ledger, selectors, services
from .models import ManagementPlan

router = Router(tags=["plans"], auth=ACTOR_AUTH)


class LineOut(Schema):
    id: int
    section: str
    waste_code: str
    waste_name: str
    tonnes: Decimal
    facility_code: str
    method_code: str
    measures: str
    transfer_type: str
    receiver_type: str
    receiver_id: int | None
    receiver_name: str
    licence_number: str


class PlanOut(Schema):
    id: int
    site_id: int
    site_name: str
    enterprise_id: int
    enterprise_name: str
    year: int
    version: int
    status: str
    management_class: str
    filing_number: str | None
    filed_at: dt.datetime | None
    late: bool
    reviewed_at: dt.datetime | None
    review_comment: str


class PlanDetail(PlanOut):
    content: dict[str, Any]
    lines: list[LineOut]
    versions: list[int]
    diff: list[dict[str, Any]]


class PlanList(Schema):
    total: int
    items: list[PlanOut]


def plan_out(p: ManagementPlan) -> dict[str, Any]:
    return {
        "id": p.id,
        "site_id": p.site_id,
        "site_name": p.site.name,
        "enterprise_id": p.site.enterprise_id,
        "enterprise_name": p.site.enterprise.name,
        "year": p.year,
        "version": p.version,
        "status": p.status,
        "management_class": p.management_class,
        "filing_number": p.filing_number,
        "filed_at": p.filed_at,
        "late": p.late,
        "reviewed_at": p.reviewed_at,
        "review_comment": p.review_comment,
    }


def plan_detail(p: ManagementPlan) -> dict[str, Any]:
    return {
        **plan_out(p),
        "content": p.content,
        "lines": list(p.lines.all()),
        "versions": [v.version for v in selectors.plan_versions(plan=p)],
        "diff": selectors.plan_diff(plan=p),
    }


class ListFilters(Schema):
    year: int | None = None
    status: str = ""
    site_id: int | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class DraftIn(Schema):
    site_id: int
    year: int = Field(..., ge=2000, le=2100)


class LineIn(Schema):
    section: str = Field(..., max_length=2)
    waste_code: str = Field(..., max_length=20)
    tonnes: Decimal
    waste_name: str = Field("", max_length=200)
    facility_code: str = Field("", max_length=22)
    method_code: str = Field("", max_length=8)
    measures: str = Field("", max_length=2000)
    transfer_type: str = Field("", max_length=16)
    receiver_type: str = Field("", max_length=10)
    receiver_id: int | None = None
    receiver_name: str = Field("", max_length=200)
    licence_number: str = Field("", max_length=40)


class ChangeIn(Schema):
    reason: str = Field(..., max_length=500)


class ReviewIn(Schema):
    accept: bool
    comment: str = Field("", max_length=500)


class YearIn(Schema):
    year: int = Field(..., ge=2000, le=2100)


class MissingOut(Schema):
    site_id: int
    site_name: str
    enterprise_id: int
    enterprise_name: str
    region: str
    overdue: bool
    finding: str
    source: str


@router.get("/", response=PlanList)
def plans(request: HttpRequest, filters: Query[ListFilters]) -> dict[str, Any]:
    qs = selectors.plan_list(
        actor=request_actor(request), year=filters.year, status=filters.status, site_id=filters.site_id
    )
    return {"total": qs.count(), "items": [plan_out(p) for p in qs[filters.offset : filters.offset + filters.limit]]}


@router.post("/", response={201: PlanDetail})
def draft(request: HttpRequest, payload: DraftIn) -> Status[Any]:
    actor = request_actor(request)
    from weifei.registry.selectors import site_get

    site_get(actor=actor, site_id=payload.site_id)  # 404 for sites the caller cannot see
    plan = services.plan_draft(actor=actor, site_id=payload.site_id, year=payload.year)
    return Status(201, plan_detail(selectors.plan_get(actor=actor, plan_id=plan.id)))


@router.get("/review-queue", response=PlanList)
def queue(request: HttpRequest) -> dict[str, Any]:
    qs = selectors.review_queue(actor=request_actor(request))
    return {"total": qs.count(), "items": [plan_out(p) for p in qs[:500]]}


@router.get("/missing", response=list[MissingOut])
def missing(request: HttpRequest, filters: Query[YearIn]) -> list[dict[str, Any]]:
    rows = selectors.sites_without_plan(actor=request_actor(request), year=filters.year)
    return [
        {
            "site_id": r["site"].id,
            "site_name": r["site"].name,
            "enterprise_id": r["site"].enterprise_id,
            "enterprise_name": r["site"].enterprise.name,
            "region": r["site"].region.key,
            "overdue": r["finding"] is not None,
            "finding": r["finding"].message if r["finding"] else "",
            "source": r["finding"].source if r["finding"] else "",
        }
        for r in rows
    ]


@router.get("/{plan_id}", response=PlanDetail)
def detail(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    return plan_detail(selectors.plan_get(actor=request_actor(request), plan_id=plan_id))


@router.post("/{plan_id}/lines", response={201: LineOut})
def line_add(request: HttpRequest, plan_id: int, payload: LineIn) -> Status[Any]:
    actor = request_actor(request)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    return Status(201, services.plan_line_add(actor=actor, plan_id=plan_id, **payload.dict()))


@router.delete("/{plan_id}/lines/{line_id}", response={204: None})
def line_remove(request: HttpRequest, plan_id: int, line_id: int) -> Status[Any]:
    actor = request_actor(request)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    services.plan_line_remove(actor=actor, plan_id=plan_id, line_id=line_id)
    return Status(204, None)


@router.post("/{plan_id}/file", response=PlanDetail)
def file(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    actor = request_actor(request)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    services.plan_file(actor=actor, plan_id=plan_id)
    return plan_detail(selectors.plan_get(actor=actor, plan_id=plan_id))


@router.post("/{plan_id}/change", response=PlanDetail)
def change(request: HttpRequest, plan_id: int, payload: ChangeIn) -> dict[str, Any]:
    actor = request_actor(request)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    services.plan_change(actor=actor, plan_id=plan_id, reason=payload.reason)
    return plan_detail(selectors.plan_get(actor=actor, plan_id=plan_id))


@router.post("/{plan_id}/review", response=PlanDetail)
def review(request: HttpRequest, plan_id: int, payload: ReviewIn) -> dict[str, Any]:
    actor = request_actor(request)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    services.plan_review(actor=actor, plan_id=plan_id, accept=payload.accept, comment=payload.comment)
    return plan_detail(selectors.plan_get(actor=actor, plan_id=plan_id))


class StockRow(Schema):
    waste_code: str
    generated: Decimal
    received: Decimal = Decimal(0)
    stored_in: Decimal
    stored_out: Decimal
    self_treated: Decimal
    sent_out: Decimal
    stock: Decimal


class StockIn(Schema):
    at: dt.datetime | None = None


@router.get("/sites/{site_id}/stock", response=list[StockRow])
def site_stock(request: HttpRequest, site_id: int, filters: Query[StockIn]) -> list[dict[str, Any]]:
    """The site's ledger stock per waste code as of ``at`` (default now), in tonnes (rule 12)."""
    return ledger.site_stock(actor=request_actor(request), site_id=site_id, at=filters.at)
