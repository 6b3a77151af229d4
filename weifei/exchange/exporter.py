"""Export of registry records in exchange format v1 (what ``weifei import`` reads back).

Records come through the registry selectors for the acting user, so an export holds only
what that user may see (the system sees everything). Types come out in dependency order
(enterprises before their sites, sites before their facilities …), each in natural-key
order, so that an export imported into an empty installation recreates the same records,
facility codes included, and an export imported into its own installation changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone

from weifei.core.actors import Actor
from weifei.plans.models import Declaration, LedgerEntry, ManagementPlan
from weifei.registry import selectors
from weifei.registry.models import Contract, Driver, Enterprise, Facility, Licence, Site, Vehicle
from weifei.registry.services import ROLE_FIELDS

from .records import FORMAT_VERSION, RECORD_TYPES

CHUNK = 2000


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _head(name: str) -> dict[str, Any]:
    return {"type": name, "version": FORMAT_VERSION}


def enterprise_record(e: Enterprise) -> dict[str, Any]:
    return {
        **_head("enterprise"),
        "credit_code": e.credit_code,
        "name": e.name,
        "region": e.region.key,
        "roles": [r for r in ROLE_FIELDS if getattr(e, r)],
        "verification": e.verification,
        "legal_representative": e.legal_representative,
        "address": e.address,
        "industry_code": e.industry_code,
        "industry_name": e.industry_name,
        "latitude": _d(e.latitude),
        "longitude": _d(e.longitude),
        "contact_name": e.contact_name,
        "contact_phone": e.contact_phone,
        "contact_email": e.contact_email,
    }


def site_record(s: Site) -> dict[str, Any]:
    return {
        **_head("site"),
        "enterprise": s.enterprise.credit_code,
        "name": s.name,
        "address": s.address,
        "region": s.region.key,
        "roles": sorted(s.roles),
        "latitude": _d(s.latitude),
        "longitude": _d(s.longitude),
        "industry_code": s.industry_code,
        "industry_name": s.industry_name,
        "operation_started_on": _date(s.operation_started_on),
        "eia_annual_tonnes": _d(s.eia_annual_tonnes),
        "permit_annual_tonnes": _d(s.permit_annual_tonnes),
        "status": s.status,
        "suspended_from": _date(s.suspended_from),
        "suspended_until": _date(s.suspended_until),
        "closed_on": _date(s.closed_on),
    }


def facility_record(f: Facility) -> dict[str, Any]:
    return {
        **_head("facility"),
        "code": f.code,
        "enterprise": f.site.enterprise.credit_code,
        "site": f.site.name,
        "kind": f.kind,
        "name": f.name,
        "design_capacity_tonnes": _d(f.design_capacity_tonnes),
        "storage_capacity_tonnes": _d(f.storage_capacity_tonnes),
    }


def licence_record(lic: Licence) -> dict[str, Any]:
    scopes = sorted(lic.scopes.all(), key=lambda s: (s.category, s.waste_code))
    return {
        **_head("licence"),
        "number": lic.number,
        "holder": lic.holder.credit_code,
        "kind": lic.kind,
        "methods": sorted(lic.methods),
        "annual_capacity_tonnes": _d(lic.annual_capacity_tonnes),
        "valid_from": _date(lic.valid_from),
        "valid_to": _date(lic.valid_to),
        "scopes": [
            {
                "item": s.waste_code or s.category,
                "annual_tonnes": _d(s.annual_tonnes),
                **({"aggregate": s.aggregate.name} if s.aggregate else {}),
            }
            for s in scopes
        ],
        "aggregates": {a.name: _d(a.annual_tonnes) for a in sorted(lic.aggregates.all(), key=lambda a: a.name)},
        "facility_addresses": lic.facility_addresses,
        "status": lic.status,
    }


def vehicle_record(v: Vehicle) -> dict[str, Any]:
    return {
        **_head("vehicle"),
        "plate": v.plate,
        "carrier": v.carrier.credit_code,
        "transport_certificate": v.transport_certificate,
        "payload_tonnes": _d(v.payload_tonnes),
        "valid_until": _date(v.valid_until),
        "dangerous_goods_classes": [str(c) for c in v.dangerous_goods_classes],
        "gps_terminal_id": v.gps_terminal_id,
        "inspection_valid_until": _date(v.inspection_valid_until),
    }


def driver_record(d: Driver) -> dict[str, Any]:
    return {
        **_head("driver"),
        "certificate_number": d.certificate_number,
        "carrier": d.carrier.credit_code,
        "name": d.name,
        "role": d.role,
        "certificate_valid_until": _date(d.certificate_valid_until),
        "phone": d.phone,
    }


def contract_record(c: Contract) -> dict[str, Any]:
    return {
        **_head("contract"),
        "party_a": c.party_a.credit_code,
        "number": c.number,
        "kind": c.kind,
        "party_b": c.party_b.credit_code,
        "waste_codes": list(c.waste_codes),
        "planned_tonnes": _d(c.planned_tonnes),
        "valid_from": _date(c.valid_from),
        "valid_to": _date(c.valid_to),
    }


def _dt(value: dt.datetime | None) -> str | None:
    return None if value is None else timezone.localtime(value).isoformat()


def _site_ref(site: Site) -> dict[str, Any]:
    return {"enterprise": site.enterprise.credit_code, "site": site.name}


def plan_record(p: ManagementPlan) -> dict[str, Any]:
    lines = [
        {
            "section": line.section,
            "waste_code": line.waste_code,
            "waste_name": line.waste_name,
            "tonnes": _d(line.tonnes),
            "facility_code": line.facility_code,
            "method_code": line.method_code,
            "measures": line.measures,
            "transfer_type": line.transfer_type,
            "receiver_type": line.receiver_type,
            "receiver": line.receiver.credit_code if line.receiver else None,
            "receiver_name": line.receiver_name,
            "licence_number": line.licence_number,
        }
        for line in p.lines.all()
    ]
    return {
        **_head("plan"),
        **_site_ref(p.site),
        "year": p.year,
        "version": p.version,
        "status": p.status,
        "management_class": p.management_class,
        "filing_number": p.filing_number,
        "filed_at": _dt(p.filed_at),
        "content": p.content,
        "lines": lines,
    }


def ledger_entry_record(e: LedgerEntry) -> dict[str, Any]:
    return {
        **_head("ledger_entry"),
        **_site_ref(e.site),
        "kind": e.kind,
        "batch_code": e.batch_code,
        "occurred_at": _dt(e.occurred_at),
        "source_batch": e.source.batch_code if e.source else None,
        "waste_code": e.waste_code,
        "category": e.category,
        "common_name": e.common_name,
        "quantity": _d(e.entered_quantity),
        "unit": e.entered_unit,
        "density": _d(e.conversion_factor),
        "tonnes": _d(e.quantity_tonnes),
        "container_code": e.container_code,
        "container_type": e.container_type,
        "container_count": e.container_count,
        "container_litres": _d(e.container_litres),
        "facility": e.facility.code if e.facility else None,
        "handler": e.handler,
        "destination": e.destination,
        "method_code": e.method_code,
        "finished_at": _dt(e.finished_at),
        "receiver_type": e.receiver_type,
        "receiver": e.receiver.credit_code if e.receiver else e.receiver_name,
        "licence_number": e.licence_number,
        "reversal_of": e.reversal_of.batch_code if e.reversal_of else None,
        "reason": e.reason,
        "manifest_number": e.manifest_number,
        "container_codes": list(e.container_codes or []),
    }


def declaration_record(d: Declaration) -> dict[str, Any]:
    return {
        **_head("declaration"),
        **_site_ref(d.site),
        "kind": d.kind,
        "period_start": _date(d.period_start),
        "period_end": _date(d.period_end),
        "due_on": _date(d.due_on),
        "status": d.status,
        "generated_at": _dt(d.generated_at),
        "submitted_at": _dt(d.submitted_at),
        "late": d.late,
        "revision": d.revision,
        "content": d.content,
    }


def _of_visible_sites(model: Any, actor: Actor) -> Any:
    return model.objects.filter(site__in=selectors.sites_visible(actor=actor).values("id")).select_related(
        "site__enterprise"
    )


SOURCES: dict[str, tuple[Callable[[Actor], Any], Callable[[Any], dict[str, Any]]]] = {
    "enterprise": (
        lambda actor: selectors.enterprises_visible(actor=actor).order_by("credit_code"),
        enterprise_record,
    ),
    "site": (
        lambda actor: selectors.sites_visible(actor=actor).order_by("enterprise__credit_code", "id"),
        site_record,
    ),
    "facility": (
        lambda actor: selectors.facilities_visible(actor=actor).select_related("site__enterprise").order_by("code"),
        facility_record,
    ),
    "licence": (
        lambda actor: selectors.licences_visible(actor=actor).prefetch_related("scopes__aggregate").order_by("number"),
        licence_record,
    ),
    "vehicle": (lambda actor: selectors.vehicles_visible(actor=actor).order_by("plate"), vehicle_record),
    "driver": (lambda actor: selectors.drivers_visible(actor=actor).order_by("certificate_number"), driver_record),
    "contract": (
        lambda actor: selectors.contracts_visible(actor=actor).order_by("party_a__credit_code", "number"),
        contract_record,
    ),
    "plan": (
        lambda actor: (
            _of_visible_sites(ManagementPlan, actor)
            .prefetch_related("lines__receiver")
            .order_by("site__enterprise__credit_code", "site_id", "year")
        ),
        plan_record,
    ),
    # Per site in time order (a source always comes before the records taking from it), the
    # order the bulk ledger import checks them in.
    "ledger_entry": (
        lambda actor: (
            _of_visible_sites(LedgerEntry, actor)
            .select_related("source", "facility", "receiver", "reversal_of")
            .order_by("site__enterprise__credit_code", "site_id", "occurred_at", "id")
        ),
        ledger_entry_record,
    ),
    "declaration": (
        lambda actor: _of_visible_sites(Declaration, actor).order_by(
            "site__enterprise__credit_code", "site_id", "period_start", "kind"
        ),
        declaration_record,
    ),
}


def export_records(*, actor: Actor, types: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The records of ``types`` the actor may see, types in dependency order."""
    wanted = set(types)
    unknown = wanted - set(RECORD_TYPES)
    if unknown:
        raise ValueError(f"未知的记录类型：{', '.join(sorted(unknown))}")
    for name in RECORD_TYPES:
        if name not in wanted:
            continue
        queryset, to_record = SOURCES[name]
        for obj in queryset(actor).iterator(chunk_size=CHUNK):
            yield to_record(obj)


def record_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def export_jsonl(out: IO[str], *, actor: Actor, types: Sequence[str]) -> Counter[str]:
    """Write JSON Lines; returns how many records of each type."""
    counts: Counter[str] = Counter()
    for record in export_records(actor=actor, types=types):
        out.write(record_line(record) + "\n")
        counts[record["type"]] += 1
    return counts


def export_workbook(target: str | IO[bytes], *, actor: Actor, types: Sequence[str]) -> Counter[str]:
    """Write an Excel workbook in the template's layout; returns how many records of each type."""
    from .excel import workbook_write

    rows: dict[str, list[dict[str, Any]]] = {}
    counts: Counter[str] = Counter()
    for record in export_records(actor=actor, types=types):
        rows.setdefault(record["type"], []).append(record)
        counts[record["type"]] += 1
    workbook_write(target, rows, types=[name for name in RECORD_TYPES if name in set(types)])
    return counts
