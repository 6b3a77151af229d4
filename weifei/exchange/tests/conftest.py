"""Exchange fixtures: a small registry built through the services, and helpers to import text."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from weifei.core.actors import SYSTEM, Actor
from weifei.exchange.exporter import export_jsonl
from weifei.exchange.importer import ImportReport, import_records, read_jsonl
from weifei.exchange.records import RECORD_TYPES
from weifei.registry.models import Contract, Driver, Enterprise, Licence, Site, Vehicle
from weifei.registry.services import (
    ScopeIn,
    contract_create,
    driver_create,
    enterprise_create,
    facility_create,
    licence_create,
    site_create,
    site_set_status,
    vehicle_create,
)
from weifei.registry.tests.factories import credit_code

TODAY = dt.date.today()


@dataclass
class World:
    generator: Enterprise
    carrier: Enterprise
    operator: Enterprise
    site: Site
    suspended_site: Site
    operator_site: Site
    licence: Licence
    vehicle: Vehicle
    driver: Driver
    contract: Contract


def world_build() -> World:
    """A generator with two sites (one suspended), a carrier with a vehicle and a driver, an
    operator with a licence and facilities, and two contracts — all through the services."""
    generator = enterprise_create(
        actor=SYSTEM,
        credit_code=credit_code(1),
        name="长春测试汽车零部件有限公司",
        region_key="220102",
        roles=("is_generator",),
        latitude=Decimal("43.817000"),
        longitude=Decimal("125.324000"),
        industry_code="3670",
        industry_name="汽车零部件及配件制造",
        legal_representative="张三",
        address="长春市南关区测试路 1 号",
        contact_phone="0431-81234567",
        contact_email="hw@example.cn",
    )
    carrier = enterprise_create(
        actor=SYSTEM,
        credit_code=credit_code(2),
        name="吉林测试危货运输有限公司",
        region_key="220102",
        roles=("is_carrier",),
    )
    operator = enterprise_create(
        actor=SYSTEM,
        credit_code=credit_code(3, "220203"),
        name="吉林测试环保处置有限公司",
        region_key="220203",
        roles=("is_operator",),
    )
    site = site_create(
        actor=SYSTEM,
        enterprise=generator,
        name="一厂区",
        address="长春市南关区测试路 1 号",
        region_key="220102",
        roles=["generator"],
        latitude=Decimal("43.8"),
        longitude=Decimal("125.3"),
        operation_started_on=dt.date(2015, 3, 1),
        eia_annual_tonnes=Decimal("12.5"),
    )
    suspended = site_create(
        actor=SYSTEM,
        enterprise=generator,
        name="二厂区",
        address="长春市南关区测试路 2 号",
        region_key="220102",
        roles=["generator"],
    )
    suspended = site_set_status(
        actor=SYSTEM, site_id=suspended.id, status="suspended", suspended_from=dt.date(2025, 6, 1), reason="停产"
    )
    operator_site = site_create(
        actor=SYSTEM,
        enterprise=operator,
        name="处置中心",
        address="吉林市测试路 9 号",
        region_key="220203",
        roles=["operator", "collector"],
    )
    facility_create(
        actor=SYSTEM, site=operator_site, kind="storage", name="危险废物贮存库", storage_capacity_tonnes=Decimal("200")
    )
    facility_create(
        actor=SYSTEM, site=operator_site, kind="disposal", name="焚烧线", design_capacity_tonnes=Decimal("4000")
    )
    facility_create(actor=SYSTEM, site=site, kind="storage", name="贮存间", storage_capacity_tonnes=Decimal("5"))
    licence = licence_create(
        actor=SYSTEM,
        holder=operator,
        number="吉环危许2025001",
        kind="comprehensive",
        methods=["storage", "disposal"],
        annual_capacity_tonnes=Decimal("5000"),
        valid_from=TODAY - dt.timedelta(days=100),
        scopes=[ScopeIn("HW08", Decimal("3000"), "焚烧线"), ScopeIn("900-041-49", Decimal("1000"), "焚烧线")],
        aggregates={"焚烧线": Decimal("3500")},
        facility_addresses="吉林市测试路 9 号",
    )
    vehicle = vehicle_create(
        actor=SYSTEM,
        carrier=carrier,
        plate="吉A12345",
        transport_certificate="吉交运管000001",
        payload_tonnes=Decimal("10.5"),
        valid_until=TODAY + dt.timedelta(days=365),
        dangerous_goods_classes=["3", "8"],
        gps_terminal_id="GPS0001",
    )
    driver = driver_create(
        actor=SYSTEM,
        carrier=carrier,
        name="王师傅",
        role="driver",
        certificate_number="220102198001010011",
        certificate_valid_until=TODAY + dt.timedelta(days=365),
        phone="13800000000",
    )
    contract = contract_create(
        actor=SYSTEM,
        kind="disposal",
        number="HT-2025-001",
        party_a=generator,
        party_b=operator,
        waste_codes=["900-041-49"],
        planned_tonnes=Decimal("20"),
        valid_from=dt.date(2025, 1, 1),
        valid_to=dt.date(2025, 12, 31),
    )
    contract_create(
        actor=SYSTEM,
        kind="transport",
        number="YS-2025-001",
        party_a=generator,
        party_b=carrier,
        waste_codes=["900-041-49"],
        planned_tonnes=Decimal("20"),
        valid_from=dt.date(2025, 1, 1),
        valid_to=dt.date(2025, 12, 31),
    )
    return World(generator, carrier, operator, site, suspended, operator_site, licence, vehicle, driver, contract)


@pytest.fixture
def world(reference: None) -> World:
    return world_build()


def export_text(actor: Actor = SYSTEM, types: Iterable[str] = RECORD_TYPES) -> str:
    out = io.StringIO()
    export_jsonl(out, actor=actor, types=list(types))
    return out.getvalue()


def jsonl(*records: dict[str, Any] | str) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


def run_import(
    text: str, *, actor: Actor = SYSTEM, partial: bool = False, dry_run: bool = False, today: dt.date = TODAY
) -> ImportReport:
    records, problems = read_jsonl(io.BytesIO(text.encode("utf-8")))
    return import_records(records, problems, actor=actor, partial=partial, dry_run=dry_run, today=today)


def codes(report: ImportReport) -> set[tuple[int, str | None, str]]:
    return {(p.line, p.field, p.code) for p in report.problems}


class Rollback(Exception):
    pass


def in_rolled_back_transaction(build: Any) -> Any:
    """Run ``build`` and return its result, leaving the database as it was."""
    result: list[Any] = []
    try:
        with transaction.atomic():
            result.append(build())
            raise Rollback
    except Rollback:
        pass
    return result[0]


def enterprise(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "enterprise",
        "version": 1,
        "credit_code": credit_code(100 + n),
        "name": f"导入测试单位{n}",
        "region": "220102",
        **fields,
    }


def site(code: str, name: str = "一厂区", **fields: Any) -> dict[str, Any]:
    return {
        "type": "site",
        "version": 1,
        "enterprise": code,
        "name": name,
        "address": "长春市测试路 1 号",
        "region": "220102",
        "roles": ["generator"],
        **fields,
    }


def vehicle(carrier: str, plate: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "vehicle",
        "version": 1,
        "plate": plate,
        "carrier": carrier,
        "transport_certificate": "吉交运管999",
        "payload_tonnes": "12.000",
        "valid_until": (TODAY + dt.timedelta(days=200)).isoformat(),
        **fields,
    }
