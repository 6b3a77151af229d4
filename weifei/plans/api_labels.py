"""Labels API under /api/v1/labels/: the verification record of a label code (public part for
anyone, the records and events for those who see the site), the label PDF and batch printing.
PDF answers are ``application/pdf``; refusals use the global error envelope."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from weifei.accounts.auth import ACTOR_AUTH, ACTOR_OR_PUBLIC_AUTH, request_actor
from weifei.core.errors import ApplicationError, NotFound

from .labels import (
    Container,
    container_events,
    container_get,
    label_pages,
    label_pdf,
    label_size_for,
    labels_pdf,
    print_entries_get,
)
from .models import LedgerEntry
from .views_labels import base_url, pdf_response

router = Router(tags=["labels"], auth=ACTOR_AUTH)

PDF_RESPONSE = {
    "responses": {
        200: {
            "description": "PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


class SegmentOut(Schema):
    name: str
    value: str


class StateOut(Schema):
    key: str
    name: str
    tonnes: Decimal
    detail: str


class EntryOut(Schema):
    id: int
    batch_code: str
    kind: str
    kind_name: str
    occurred_at: dt.datetime
    waste_code: str
    quantity_tonnes: Decimal
    entered_quantity: Decimal
    entered_unit: str
    facility_id: int | None
    facility_name: str
    handler: str
    method_code: str
    destination: str
    receiver_id: int | None
    receiver_name: str
    licence_number: str
    source_id: int | None
    source_batch_code: str | None
    reversal_of_id: int | None
    reason: str


class EventOut(Schema):
    id: int
    occurred_at: dt.datetime
    kind: str
    actor: str
    subject_id: str
    reason: str


class HistoryOut(Schema):
    site_id: int
    site_name: str
    entries: list[EntryOut]
    events: list[EventOut]


class LabelOut(Schema):
    code: str
    segments: list[SegmentOut]
    unit_name: str
    credit_code: str
    waste_code: str
    waste_name: str
    common_name: str
    category: str
    category_name: str
    hazards: list[str]
    produced_on: dt.date
    weight: Decimal
    weight_unit: str
    container_type: str
    container_litres: Decimal | None
    label_width_mm: int
    label_sides: int
    verification_url: str
    reversed: bool
    states: list[StateOut]
    warnings: list[str]
    history: HistoryOut | None = Field(None, description="Only for those who see the site; null otherwise.")


class PrintIn(Schema):
    entry_ids: list[int] = Field(..., description="Labelled 产生 records (LedgerEntry ids), printed in this order.")


def _entry_out(e: LedgerEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "batch_code": e.batch_code,
        "kind": e.kind,
        "kind_name": e.get_kind_display(),
        "occurred_at": e.occurred_at,
        "waste_code": e.waste_code,
        "quantity_tonnes": e.quantity_tonnes,
        "entered_quantity": e.entered_quantity,
        "entered_unit": e.entered_unit,
        "facility_id": e.facility_id,
        "facility_name": e.facility.name if e.facility else "",
        "handler": e.handler,
        "method_code": e.method_code,
        "destination": e.destination,
        "receiver_id": e.receiver_id,
        "receiver_name": e.receiver_name,
        "licence_number": e.licence_number,
        "source_id": e.source_id,
        "source_batch_code": e.source.batch_code if e.source else None,
        "reversal_of_id": e.reversal_of_id,
        "reason": e.reason,
    }


def label_out(request: HttpRequest, c: Container) -> dict[str, Any]:
    g = c.generated
    weight, unit = c.weight
    size = label_size_for(g)
    history = None
    if c.can_see_site:
        events = container_events(actor=request_actor(request), container=c)[:500]
        history = {
            "site_id": g.site_id,
            "site_name": g.site.name,
            "entries": [_entry_out(e) for e in c.entries],
            "events": [
                {
                    "id": ev.id,
                    "occurred_at": ev.occurred_at,
                    "kind": ev.kind,
                    "actor": ev.actor_label,
                    "subject_id": ev.subject_id,
                    "reason": ev.reason,
                }
                for ev in events
            ],
        }
    return {
        "code": c.label.code,
        "segments": [{"name": name, "value": value} for name, value in c.segments],
        "unit_name": g.site.enterprise.name,
        "credit_code": c.label.credit_code,
        "waste_code": c.label.waste_code,
        "waste_name": c.waste_name,
        "common_name": g.common_name,
        "category": g.category,
        "category_name": c.category_name,
        "hazards": list(c.hazards),
        "produced_on": c.label.date,
        "weight": weight,
        "weight_unit": unit,
        "container_type": g.container_type,
        "container_litres": g.container_litres,
        "label_width_mm": size.width,
        "label_sides": size.sides,
        "verification_url": f"{base_url(request)}/labels/{c.label.code}/",
        "reversed": c.reversed,
        "states": [{"key": s.key, "name": s.name, "tonnes": s.tonnes, "detail": s.detail} for s in c.states],
        "warnings": c.warnings,
        "history": history,
    }


@router.post("/print", openapi_extra=PDF_RESPONSE, response={200: None})
def labels_print(request: HttpRequest, payload: PrintIn) -> HttpResponse:
    """One PDF with the labels of the given 产生 records (two pages for containers over 450 L)."""
    actor = request_actor(request)
    entries = print_entries_get(actor=actor, entry_ids=payload.entry_ids)
    return pdf_response(labels_pdf(label_pages(entries, base_url=base_url(request))), "labels.pdf")


@router.get("/{code}", response=LabelOut, auth=ACTOR_OR_PUBLIC_AUTH)
def label_get(request: HttpRequest, code: str) -> dict[str, Any]:
    """The label (what the printed label shows) and the container's state, for anyone; the
    container's records and their events for those who see the site."""
    return label_out(request, container_get(actor=request_actor(request), code=code))


@router.get("/{code}/pdf", openapi_extra=PDF_RESPONSE, response={200: None})
def label_get_pdf(request: HttpRequest, code: str) -> HttpResponse:
    """The label PDF (two pages over 450 L), for the site's unit and the regulators over it."""
    container = container_get(actor=request_actor(request), code=code)
    if not container.can_see_site:
        raise NotFound("未找到该标签", code="label_unknown", field="label_code")
    if container.reversed:
        raise ApplicationError("该容器的产生记录已冲销，不能打印标签", code="entry_reversed", field="label_code")
    pages = label_pages([container.generated], base_url=base_url(request))
    pdf = label_pdf(pages[0]) if len(pages) == 1 else labels_pdf(pages)
    return pdf_response(pdf, f"label-{container.label.code}.pdf")
