"""Export → import on an empty database → export gives the same file; the bulk path leaves
the same records and events as the services."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from weifei.core.actors import SYSTEM
from weifei.core.models import Event
from weifei.registry.models import Enterprise, Facility, Licence, Site, Vehicle
from weifei.registry.services import enterprise_create, site_create, vehicle_create

from .conftest import TODAY, export_text, in_rolled_back_transaction, jsonl, run_import, world_build

pytestmark = pytest.mark.usefixtures("reference")


def test_export_then_import_into_an_empty_registry_round_trips() -> None:
    def build() -> tuple[str, dict[str, str]]:
        world_build()
        classes = {s.name: s.management_class for s in Site.objects.all()}
        return export_text(), classes

    text, classes = in_rolled_back_transaction(build)
    assert Enterprise.objects.count() == 0  # the registry is empty again
    lines = text.splitlines()
    assert [json.loads(line)["type"] for line in lines] == [
        *["enterprise"] * 3,
        *["site"] * 3,
        *["facility"] * 3,
        "licence",
        "vehicle",
        "driver",
        *["contract"] * 2,
    ]

    report = run_import(text)
    assert not report.problems, report.problems
    assert report.created == {
        "enterprise": 3,
        "site": 3,
        "facility": 3,
        "licence": 1,
        "vehicle": 1,
        "driver": 1,
        "contract": 2,
    }
    assert export_text() == text
    # Facility codes are given again in the same order; the suspended site is still suspended.
    assert sorted(Facility.objects.values_list("code", flat=True)) == [
        json.loads(line)["code"] for line in lines if '"facility"' in line
    ]
    assert Site.objects.get(name="二厂区").status == "suspended"
    licence = Licence.objects.get()
    assert licence.aggregates.get().annual_tonnes == Decimal("3500")
    assert {s.aggregate.name for s in licence.scopes.all() if s.aggregate} == {"焚烧线"}
    assert {s.name: s.management_class for s in Site.objects.all()} == classes
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "OK:" in out.getvalue()


def test_bulk_records_and_events_are_the_services() -> None:
    """The same unit, site and vehicle written by the services and by the bulk importer leave
    the same rows and events (apart from ids, times and the chain positions)."""

    def through_services() -> tuple[list[dict[str, object]], dict[str, object]]:
        unit = enterprise_create(
            actor=SYSTEM,
            credit_code="91350100M000100Y43",
            name="比对单位",
            region_key="220102",
            roles=("is_generator", "is_carrier"),
            latitude=Decimal("43.5"),
            longitude=Decimal("125.5"),
        )
        site = site_create(
            actor=SYSTEM,
            enterprise=unit,
            name="一厂区",
            address="长春市测试路",
            region_key="220102",
            roles=["generator", "carrier_base"],
            operation_started_on=dt.date(2024, 5, 1),
            eia_annual_tonnes=Decimal("150"),
        )
        vehicle_create(
            actor=SYSTEM,
            carrier=unit,
            plate="吉A77777",
            transport_certificate="吉交运管7",
            payload_tonnes=Decimal("9"),
            valid_until=TODAY + dt.timedelta(days=30),
        )
        site_row = Site.objects.filter(id=site.id).values(*SITE_FIELDS).get()
        return _events(), site_row

    service_events, service_site = in_rolled_back_transaction(through_services)
    report = run_import(
        jsonl(
            {
                "type": "enterprise",
                "version": 1,
                "credit_code": "91350100M000100Y43",
                "name": "比对单位",
                "region": "220102",
                "roles": ["is_generator", "is_carrier"],
                "latitude": "43.5",
                "longitude": "125.5",
            },
            {
                "type": "site",
                "version": 1,
                "enterprise": "91350100M000100Y43",
                "name": "一厂区",
                "address": "长春市测试路",
                "region": "220102",
                "roles": ["generator", "carrier_base"],
                "operation_started_on": "2024-05-01",
                "eia_annual_tonnes": "150",
            },
            {
                "type": "vehicle",
                "version": 1,
                "plate": "吉A77777",
                "carrier": "91350100M000100Y43",
                "transport_certificate": "吉交运管7",
                "payload_tonnes": "9",
                "valid_until": (TODAY + dt.timedelta(days=30)).isoformat(),
            },
        )
    )
    assert not report.problems
    assert _events() == service_events
    assert Site.objects.values(*SITE_FIELDS).get() == service_site
    assert Site.objects.get().management_class == "key"  # EIA figure 150 t ≥ 100 t, a new site
    assert Vehicle.objects.get().registration == "approved"


SITE_FIELDS = (
    "name",
    "roles",
    "status",
    "management_class",
    "management_class_computed",
    "management_class_basis",
    "eia_annual_tonnes",
)


def _events() -> list[dict[str, object]]:
    return [
        {
            "kind": e.kind,
            "subject_type": e.subject_type,
            "before": e.before,
            "after": e.after,
            "reason": e.reason,
            "actor_label": e.actor_label,
            "seq": e.seq,
            "same_stream_as_unit": e.stream == f"org:{e.organisation_id}",
        }
        for e in Event.objects.filter(kind__startswith="registry.").order_by("stream", "seq")
    ]
