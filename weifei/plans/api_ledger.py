"""Ledger (管理台账, HJ 1259—2022 6, Annex B) API under /api/v1/ledger/.

Reads go through the actor-scoped selectors in ``ledger.py`` (who sees the site sees its
entries; anybody else gets 404). Writes call the ledger services, which allow the site's
enterprise's admins and members only; the site is looked up for the caller first, so a unit
that cannot see the site gets 404 rather than 403. Datetimes must carry their offset
(ISO 8601, e.g. ``2026-03-01T09:00:00+08:00``); quantities are decimal strings or numbers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from weifei.accounts.auth import ACTOR_AUTH, request_actor
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.registry.selectors import site_get

from . import ledger
from .models import LedgerEntry

router = Router(tags=["ledger"], auth=ACTOR_AUTH)


# ---------------------------------------------------------------- schemas


class EntryOut(Schema):
    id: int
    site_id: int
    site_name: str
    enterprise_id: int
    enterprise_name: str
    kind: str
    kind_label: str
    batch_code: str
    occurred_at: dt.datetime
    waste_code: str
    category: str
    quantity_tonnes: Decimal
    entered_quantity: Decimal
    entered_unit: str
    conversion_factor: Decimal | None
    container_code: str | None
    container_type: str
    container_count: int
    container_litres: Decimal | None
    common_name: str
    destination: str
    finished_at: dt.datetime | None
    facility_id: int | None
    facility_code: str | None
    facility_kind: str | None
    source_id: int | None
    source_batch_code: str | None
    handler: str
    method_code: str
    receiver_type: str
    receiver_id: int | None
    receiver_name: str
    licence_number: str
    reversal_of_id: int | None
    reversed_by_id: int | None
    reason: str
    manifest_number: str = Field("", description="接收: the transfer manifest the waste came with")
    container_codes: list[str] | None = Field(None, description="接收: the label codes on the manifest line")
    created_at: dt.datetime


class EntryDetail(EntryOut):
    remaining_tonnes: Decimal | None
    sources: list[EntryOut]
    consumers: list[EntryOut]
    reversal: EntryOut | None


class EntryList(Schema):
    total: int
    items: list[EntryOut]


class OpenBatchOut(Schema):
    id: int
    kind: str
    batch_code: str
    occurred_at: dt.datetime
    waste_code: str
    category: str
    container_code: str | None
    container_type: str
    common_name: str
    quantity_tonnes: Decimal
    remaining_tonnes: Decimal


class OpenBatchList(Schema):
    total: int
    items: list[OpenBatchOut]


class ListFilters(Schema):
    site_id: int | None = None
    kind: str = Field("", max_length=12)
    waste_code: str = Field("", max_length=20)
    container_code: str = Field("", max_length=40)
    date_from: dt.date | None = Field(None, alias="from")
    date_to: dt.date | None = Field(None, alias="to")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class OpenBatchFilters(Schema):
    for_kind: str = Field(..., max_length=12)


class QuantityIn(Schema):
    site_id: int
    occurred_at: dt.datetime
    quantity: Decimal
    unit: str = Field(LedgerEntry.Unit.TONNE, max_length=5)
    density: Decimal | None = None
    tonnes: Decimal | None = None
    handler: str = Field("", max_length=60)


class GeneratedIn(QuantityIn):
    waste_code: str = Field(..., max_length=20)
    category: str | None = Field(None, max_length=4)
    container_code: str | None = Field(None, max_length=40)
    container_type: str = Field("", max_length=40)
    container_litres: Decimal | None = None
    container_count: int = 1
    label: bool = True
    facility_id: int | None = None
    common_name: str = Field("", max_length=100)
    destination: str = Field("", max_length=100)


class DownstreamIn(QuantityIn):
    source_id: int | None = None
    source_batch_code: str | None = Field(None, max_length=24)


class StoredInIn(DownstreamIn):
    facility_id: int | None = None


class StoredOutIn(DownstreamIn):
    facility_id: int | None = None
    destination: str = Field("", max_length=100)


class SelfTreatedIn(DownstreamIn):
    method_code: str = Field(..., max_length=8)
    facility_id: int | None = None
    finished_at: dt.datetime | None = None


class SentOutIn(DownstreamIn):
    method_code: str = Field(..., max_length=8)
    receiver_type: str = Field(..., max_length=10)
    receiver_id: int | None = None
    receiver_name: str = Field("", max_length=200)
    licence_number: str = Field("", max_length=60)


class ReverseIn(Schema):
    reason: str = Field(..., max_length=300)


# ---------------------------------------------------------------- helpers


def entry_out(e: LedgerEntry) -> dict[str, Any]:
    # The reverse one-to-one, when select_related loaded it (never a query per row).
    reversed_by = e._state.fields_cache.get("reversed_by")
    return {
        "id": e.id,
        "site_id": e.site_id,
        "site_name": e.site.name,
        "enterprise_id": e.site.enterprise_id,
        "enterprise_name": e.site.enterprise.name,
        "kind": e.kind,
        "kind_label": e.get_kind_display(),
        "batch_code": e.batch_code,
        "occurred_at": e.occurred_at,
        "waste_code": e.waste_code,
        "category": e.category,
        "quantity_tonnes": e.quantity_tonnes,
        "entered_quantity": e.entered_quantity,
        "entered_unit": e.entered_unit,
        "conversion_factor": e.conversion_factor,
        "container_code": e.container_code,
        "container_type": e.container_type,
        "container_count": e.container_count,
        "container_litres": e.container_litres,
        "common_name": e.common_name,
        "destination": e.destination,
        "finished_at": e.finished_at,
        "facility_id": e.facility_id,
        "facility_code": e.facility.code if e.facility else None,
        "facility_kind": e.facility.kind if e.facility else None,
        "source_id": e.source_id,
        "source_batch_code": e.source.batch_code if e.source else None,
        "handler": e.handler,
        "method_code": e.method_code,
        "receiver_type": e.receiver_type,
        "receiver_id": e.receiver_id,
        "receiver_name": e.receiver_name,
        "licence_number": e.licence_number,
        "reversal_of_id": e.reversal_of_id,
        "reversed_by_id": reversed_by.id if reversed_by is not None else None,
        "reason": e.reason,
        "manifest_number": e.manifest_number,
        "container_codes": e.container_codes,
        "created_at": e.created_at,
    }


def entry_detail(e: LedgerEntry) -> dict[str, Any]:
    chain = ledger.entry_chain(e)
    site = e.site
    for other in (*chain.sources, *chain.consumers, *([chain.reversal] if chain.reversal else [])):
        other.site = site  # same site by rule 14; spares a query per row
    out = entry_out(e)
    out["reversed_by_id"] = chain.reversal.id if chain.reversal else None
    return {
        **out,
        "remaining_tonnes": chain.remaining,
        "sources": [entry_out(x) for x in chain.sources],
        "consumers": [entry_out(x) for x in chain.consumers],
        "reversal": entry_out(chain.reversal) if chain.reversal else None,
    }


def _aware(value: dt.datetime | None, field: str) -> None:
    if value is not None and timezone.is_naive(value):
        raise ApplicationError(
            f"{field} 须带时区（ISO 8601 含时差，如 2026-03-01T09:00:00+08:00）", code="time_naive", field=field
        )


def _created(actor: Actor, entry: LedgerEntry) -> Status[Any]:
    return Status(201, entry_detail(ledger.entry_get(actor=actor, entry_id=entry.id)))


def _downstream_args(actor: Actor, payload: DownstreamIn) -> dict[str, Any]:
    """The arguments shared by the four downstream services, the source resolved by id or code."""
    site = site_get(actor=actor, site_id=payload.site_id)  # 404 for a site the caller cannot see
    _aware(payload.occurred_at, "occurred_at")
    return {
        "actor": actor,
        "site_id": site.id,
        "source_id": ledger.source_id_resolve(
            site_id=site.id, source_id=payload.source_id, source_batch_code=payload.source_batch_code
        ),
        "occurred_at": payload.occurred_at,
        "quantity": payload.quantity,
        "unit": payload.unit,
        "density": payload.density,
        "tonnes": payload.tonnes,
        "handler": payload.handler,
    }


# ---------------------------------------------------------------- reads


@router.get("/entries", response=EntryList)
def entries(request: HttpRequest, filters: Query[ListFilters]) -> dict[str, Any]:
    """The entries of one site (``site_id``) or of every site the caller sees, newest first."""
    qs = ledger.entry_list(
        actor=request_actor(request),
        site_id=filters.site_id,
        kind=filters.kind,
        waste_code=filters.waste_code,
        container_code=filters.container_code,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )
    page = list(qs[filters.offset : filters.offset + filters.limit])
    return {"total": qs.count(), "items": [entry_out(e) for e in page]}


@router.get("/entries/{entry_id}", response=EntryDetail)
def entry(request: HttpRequest, entry_id: int) -> dict[str, Any]:
    """An entry with its remaining quantity, its source chain up to the 产生 record, the entries
    that took from it and its reversal."""
    return entry_detail(ledger.entry_get(actor=request_actor(request), entry_id=entry_id))


@router.get("/sites/{site_id}/open-batches", response=OpenBatchList)
def open_batches(request: HttpRequest, site_id: int, filters: Query[OpenBatchFilters]) -> dict[str, Any]:
    """Batches a new ``for_kind`` record may take from (rule 14) that still have waste left."""
    rows = ledger.open_batches(actor=request_actor(request), site_id=site_id, for_kind=filters.for_kind)
    return {"total": len(rows), "items": rows}


# ---------------------------------------------------------------- writes


@router.post("/generated", response={201: EntryDetail})
def generated(request: HttpRequest, payload: GeneratedIn) -> Status[Any]:
    """产生 (B.1): one record per container; ``label`` (default true) allocates an HJ 1276 code."""
    actor = request_actor(request)
    site = site_get(actor=actor, site_id=payload.site_id)
    _aware(payload.occurred_at, "occurred_at")
    entry = ledger.ledger_generate(
        actor=actor,
        site_id=site.id,
        occurred_at=payload.occurred_at,
        waste_code=payload.waste_code,
        category=payload.category or None,
        quantity=payload.quantity,
        unit=payload.unit,
        density=payload.density,
        tonnes=payload.tonnes,
        container_code=payload.container_code,
        container_type=payload.container_type,
        container_litres=payload.container_litres,
        container_count=payload.container_count,
        label=payload.label,
        facility_id=payload.facility_id,
        handler=payload.handler,
        common_name=payload.common_name,
        destination=payload.destination,
    )
    return _created(actor, entry)


@router.post("/stored-in", response={201: EntryDetail})
def stored_in(request: HttpRequest, payload: StoredInIn) -> Status[Any]:
    """入库 (B.2) from a 产生 batch."""
    actor = request_actor(request)
    entry = ledger.ledger_store_in(**_downstream_args(actor, payload), facility_id=payload.facility_id)
    return _created(actor, entry)


@router.post("/stored-out", response={201: EntryDetail})
def stored_out(request: HttpRequest, payload: StoredOutIn) -> Status[Any]:
    """出库 (B.3) from an 入库 batch."""
    actor = request_actor(request)
    entry = ledger.ledger_store_out(
        **_downstream_args(actor, payload), facility_id=payload.facility_id, destination=payload.destination
    )
    return _created(actor, entry)


@router.post("/self-treated", response={201: EntryDetail})
def self_treated(request: HttpRequest, payload: SelfTreatedIn) -> Status[Any]:
    """自行利用/处置 (B.4) from a 产生 or 出库 batch."""
    actor = request_actor(request)
    args = _downstream_args(actor, payload)
    _aware(payload.finished_at, "finished_at")
    entry = ledger.ledger_self_treat(
        **args, method_code=payload.method_code, facility_id=payload.facility_id, finished_at=payload.finished_at
    )
    return _created(actor, entry)


@router.post("/sent-out", response={201: EntryDetail})
def sent_out(request: HttpRequest, payload: SentOutIn) -> Status[Any]:
    """委外利用/处置 (B.5) from a 产生 or 出库 batch, to a licensed, exempt or foreign receiver."""
    actor = request_actor(request)
    entry = ledger.ledger_send_out(
        **_downstream_args(actor, payload),
        method_code=payload.method_code,
        receiver_type=payload.receiver_type,
        receiver_id=payload.receiver_id,
        receiver_name=payload.receiver_name,
        licence_number=payload.licence_number,
    )
    return _created(actor, entry)


@router.post("/entries/{entry_id}/reverse", response={201: EntryDetail})
def reverse(request: HttpRequest, entry_id: int, payload: ReverseIn) -> Status[Any]:
    """Cancel an entry by a reversing entry (reason required); answers with the reversing entry."""
    actor = request_actor(request)
    ledger.entry_get(actor=actor, entry_id=entry_id)  # 404 for entries the caller cannot see
    reversal = ledger.ledger_reverse(actor=actor, entry_id=entry_id, reason=payload.reason)
    return _created(actor, reversal)
