"""Stock (库存) API under /api/v1/stock/: per waste code, per storage facility, per container with
ageing levels, and the storage findings. Reads only, through the actor-scoped selectors in
``stock.py``: who sees the site sees its stock, anybody else gets 404. Quantities are tonnes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from weifei.accounts.auth import ACTOR_AUTH, request_actor

from . import stock
from .models import Finding

router = Router(tags=["stock"], auth=ACTOR_AUTH)


class CodeRow(Schema):
    waste_code: str
    generated: Decimal
    received: Decimal = Field(Decimal(0), description="接收: intake on transfer manifests (licensed operators)")
    stored_in: Decimal
    stored_out: Decimal
    self_treated: Decimal
    sent_out: Decimal
    stock: Decimal = Field(description="generated + received − self_treated − sent_out (rule 12)")
    in_store: Decimal = Field(description="stored_in − stored_out")


class Totals(Schema):
    generated: Decimal
    received: Decimal = Decimal(0)
    stored_in: Decimal
    stored_out: Decimal
    self_treated: Decimal
    sent_out: Decimal
    stock: Decimal
    in_store: Decimal


class SiteStock(Schema):
    site_id: int
    site_name: str
    at: dt.datetime | None
    total: int
    items: list[CodeRow]
    totals: Totals


class AtIn(Schema):
    at: dt.datetime | None = Field(None, description="as of this instant (ISO 8601); default now")


class CodeAmount(Schema):
    waste_code: str
    in_store: Decimal


class FacilityRow(Schema):
    facility_id: int
    code: str
    name: str
    kind: str
    in_service: bool
    capacity_tonnes: Decimal | None
    in_store: Decimal
    percent: Decimal | None
    over_capacity: bool
    by_code: list[CodeAmount]


class Unassigned(Schema):
    in_store: Decimal
    by_code: list[CodeAmount]


class FacilityStock(Schema):
    site_id: int
    at: dt.datetime | None
    total: int
    items: list[FacilityRow]
    unassigned: Unassigned
    site_in_store: Decimal
    site_capacity: Decimal
    site_percent: Decimal | None
    site_over_capacity: bool


class ContainerRow(Schema):
    entry_id: int
    batch_code: str
    container_code: str | None
    container_type: str
    waste_code: str
    category: str
    generated_at: dt.datetime
    quantity_tonnes: Decimal
    remaining_tonnes: Decimal
    in_store_tonnes: Decimal
    facility_id: int | None
    facility_code: str | None
    facility_name: str | None
    age_days: int
    age_hours: int
    level: str
    level_label: str
    severity: str
    limit_at: dt.datetime
    basis: str


class ContainersIn(Schema):
    level: str = Field("", description="ok, age_9m, age_11m, age_12m, medical_warning, medical_over; empty: all")
    limit: int = 50
    offset: int = 0


class ContainerPage(Schema):
    site_id: int
    now: dt.datetime
    operator: bool
    total: int
    counts: dict[str, int]
    tonnes: dict[str, Decimal]
    items: list[ContainerRow]


class FindingOut(Schema):
    id: int
    rule: str
    rule_label: str
    site_id: int
    site_name: str
    enterprise_id: int
    enterprise_name: str
    key: str
    severity: str
    message: str
    details: dict[str, Any]
    raised_at: dt.datetime
    resolved_at: dt.datetime | None


class FindingList(Schema):
    total: int
    items: list[FindingOut]


class FindingsIn(Schema):
    site_id: int | None = None
    open: bool | None = Field(None, description="true: open only; false: resolved only; empty: both")
    limit: int = 100
    offset: int = 0


@router.get("/sites/{site_id}", response=SiteStock)
def site_stock(request: HttpRequest, site_id: int, filters: Query[AtIn]) -> dict[str, Any]:
    """The site's stock per waste code, now or as of ``at`` (rule 12), with totals."""
    data = stock.stock_by_code(actor=request_actor(request), site_id=site_id, at=filters.at)
    site = data.pop("site")
    return {**data, "site_id": site.id, "site_name": site.name, "total": len(data["items"])}


@router.get("/sites/{site_id}/facilities", response=FacilityStock)
def site_facilities(request: HttpRequest, site_id: int, filters: Query[AtIn]) -> dict[str, Any]:
    """In store per storage facility (入库 − 出库) against its storage capacity, and the site total."""
    data = stock.stock_by_facility(actor=request_actor(request), site_id=site_id, at=filters.at)
    site = data.pop("site")
    return {**data, "site_id": site.id, "total": len(data["items"])}


@router.get("/sites/{site_id}/containers", response=ContainerPage)
def site_containers(request: HttpRequest, site_id: int, filters: Query[ContainersIn]) -> dict[str, Any]:
    """The containers (产生 records) still holding waste on the site, oldest first, with age and
    ageing level; ``counts`` per level over all of them; ``total`` those matching ``level``."""
    data = stock.stock_containers(
        actor=request_actor(request),
        site_id=site_id,
        level=filters.level,
        limit=filters.limit,
        offset=filters.offset,
    )
    site = data.pop("site")
    return {**data, "site_id": site.id}


def finding_out(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "rule": f.rule,
        "rule_label": stock.RULE_LABELS.get(f.rule, f.rule),
        "site_id": f.site_id,
        "site_name": f.site.name,
        "enterprise_id": f.enterprise_id,
        "enterprise_name": f.enterprise.name,
        "key": f.key,
        "severity": f.severity,
        "message": f.message,
        "details": f.details,
        "raised_at": f.raised_at,
        "resolved_at": f.resolved_at,
    }


@router.get("/findings", response=FindingList)
def findings(request: HttpRequest, filters: Query[FindingsIn]) -> dict[str, Any]:
    """Storage findings (ageing, capacity) of the sites the caller sees — a regulator's whole
    jurisdiction — newest first; ``open`` filters open or resolved ones."""
    actor = request_actor(request)
    stock.check_window(filters.limit, filters.offset, limit_max=500)
    qs = stock.stock_findings(actor=actor, site_id=filters.site_id, open_only=filters.open)
    rows = qs[filters.offset : filters.offset + filters.limit]
    return {"total": qs.count(), "items": [finding_out(f) for f in rows]}
