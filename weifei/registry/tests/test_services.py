"""Registry services: each bad input is refused with a Chinese message naming the field,
and leaves no row behind; read-only liaison accounts cannot write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from weifei.accounts.models import RegulatorAssignment
from weifei.accounts.selectors import actor_for
from weifei.accounts.services import regulator_account_create
from weifei.core.actors import PUBLIC, SYSTEM
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.models import Event
from weifei.registry.models import Enterprise, Licence, Vehicle
from weifei.registry.services import enterprise_create, generation_profile_set, licence_create, vehicle_create

pytestmark = pytest.mark.usefixtures("reference")
TODAY = dt.date(2026, 11, 28)


@pytest.fixture
def carrier() -> Enterprise:
    return enterprise_create(
        actor=SYSTEM, credit_code="91130200699229617X", name="测试运输公司", region_key="220102", roles=("is_carrier",)
    )


@pytest.fixture
def operator() -> Enterprise:
    return enterprise_create(
        actor=SYSTEM, credit_code="911302307808371268", name="测试处置公司", region_key="220203", roles=("is_operator",)
    )


def refused(exc: pytest.ExceptionInfo[ApplicationError], field: str) -> None:
    assert exc.value.field == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message), exc.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"credit_code": "91350100M000100Y44"}, "credit_code"),
        ({"credit_code": "123"}, "credit_code"),
        ({"name": "  "}, "name"),
        ({"region_key": "999999"}, "region"),
        ({"region_key": "220100"}, "region"),  # a prefecture, not a county-level place
        ({"roles": ("is_wizard",)}, "roles"),
    ],
)
def test_enterprise_bad_input(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"credit_code": "91350100M000100Y43", "name": "测试单位", "region_key": "220102"}
    events = Event.objects.count()
    with pytest.raises(ApplicationError) as exc:
        enterprise_create(actor=SYSTEM, **{**base, **kwargs})  # type: ignore[arg-type]
    refused(exc, field)
    assert Enterprise.objects.count() == 0 and Event.objects.count() == events


def test_duplicate_enterprise_is_refused(carrier: Enterprise) -> None:
    with pytest.raises(ApplicationError) as exc:
        enterprise_create(actor=SYSTEM, credit_code="91130200699229617x", name="重复", region_key="220102")
    refused(exc, "credit_code")
    assert exc.value.code == "duplicate_enterprise"
    assert Enterprise.objects.count() == 1


def test_enterprise_creation_records_an_event(carrier: Enterprise) -> None:
    event = Event.objects.get(kind="registry.enterprise_created", subject_id=str(carrier.pk))
    assert event.after["credit_code"] == "91130200699229617X" and event.actor_label == "系统"


def test_vehicle_rules(carrier: Enterprise, operator: Enterprise) -> None:
    ok = {
        "carrier": carrier,
        "plate": "吉A12345",
        "transport_certificate": "220100001",
        "payload_tonnes": Decimal(10),
        "valid_until": dt.date(2027, 6, 30),
        "today": TODAY,
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"plate": "A12345"}, "plate"),
        ({"carrier": operator}, "carrier"),
        ({"payload_tonnes": Decimal(0)}, "payload_tonnes"),
        ({"valid_until": dt.date(2026, 11, 1)}, "valid_until"),  # expired
    ]
    for change, field in cases:
        with pytest.raises(ApplicationError) as exc:
            vehicle_create(actor=SYSTEM, **{**ok, **change})  # type: ignore[arg-type]
        refused(exc, field)
    assert Vehicle.objects.count() == 0
    vehicle_create(actor=SYSTEM, **ok)  # type: ignore[arg-type]
    with pytest.raises(ApplicationError) as exc:
        vehicle_create(actor=SYSTEM, **{**ok, "plate": "吉a12345"})  # type: ignore[arg-type]
    assert exc.value.code == "duplicate_vehicle"


def test_licence_rules(carrier: Enterprise, operator: Enterprise) -> None:
    ok = {
        "holder": operator,
        "number": "JL-2026-001",
        "kind": "comprehensive",
        "categories": ["HW08", "HW49"],
        "methods": ["storage", "disposal"],
        "annual_capacity_tonnes": Decimal(5000),
        "valid_from": dt.date(2026, 1, 1),
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"holder": carrier}, "holder"),
        ({"kind": "forever"}, "kind"),
        ({"categories": ["HW42"]}, "scopes[0]"),
        ({"categories": []}, "scopes"),
        ({"methods": ["burying"]}, "methods"),
        ({"annual_capacity_tonnes": Decimal(0)}, "annual_capacity_tonnes"),
    ]
    for change, field in cases:
        with pytest.raises(ApplicationError) as exc:
            licence_create(actor=SYSTEM, **{**ok, **change})  # type: ignore[arg-type]
        refused(exc, field)
    assert Licence.objects.count() == 0
    comprehensive = licence_create(actor=SYSTEM, **ok)  # type: ignore[arg-type]
    assert comprehensive.valid_to == dt.date(2030, 12, 31)  # 5 years
    collection = licence_create(
        actor=SYSTEM, **{**ok, "number": "JL-SJ-1", "kind": "collection", "categories": ["900-214-08"]}
    )  # type: ignore[arg-type]
    assert collection.valid_to == dt.date(2028, 12, 31)  # 3 years


def test_generation_profile_needs_a_generator_and_a_listed_code(carrier: Enterprise) -> None:
    with pytest.raises(ApplicationError) as exc:
        generation_profile_set(
            actor=SYSTEM, enterprise=carrier, year=2025, waste_code="900-249-08", annual_tonnes=Decimal(1)
        )
    refused(exc, "enterprise")
    generator = enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="产废", region_key="220102")
    with pytest.raises(ApplicationError) as exc:
        generation_profile_set(
            actor=SYSTEM, enterprise=generator, year=2025, waste_code="900-999-08", annual_tonnes=Decimal(1)
        )
    refused(exc, "waste_code")
    with pytest.raises(ApplicationError) as exc:
        generation_profile_set(
            actor=SYSTEM, enterprise=generator, year=2025, waste_code="900-249-08", annual_tonnes=Decimal(-1)
        )
    refused(exc, "annual_tonnes")


def test_liaison_and_public_cannot_write(carrier: Enterprise) -> None:
    regulator_account_create(
        actor=SYSTEM,
        username="jt",
        password="pw-jt-12345",
        full_name="交通联络",
        region_key="220000",
        department="交通运输厅",
        role=RegulatorAssignment.Role.LIAISON,
    )
    liaison = actor_for(User.objects.get(username="jt"))
    assert liaison.is_regulator and liaison.read_only
    for actor in (liaison, PUBLIC):
        with pytest.raises(PermissionDenied):
            enterprise_create(actor=actor, credit_code="91350100M000100Y43", name="x", region_key="220102")
    assert Enterprise.objects.count() == 1


def test_values_the_column_cannot_hold_are_refused_naming_the_field(carrier: Enterprise) -> None:
    with pytest.raises(ApplicationError) as exc:
        enterprise_create(
            actor=SYSTEM, credit_code="91350100M000100Y43", name="测试", region_key="220102", address="长" * 301
        )
    assert exc.value.field == "address" and "300" in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        vehicle_create(
            actor=SYSTEM,
            carrier=carrier,
            plate="吉A99999",
            transport_certificate="x",
            payload_tonnes=Decimal("123456"),
            valid_until=dt.date(2027, 1, 1),
            today=TODAY,
        )
    assert exc.value.field == "payload_tonnes" and exc.value.code == "payload_tonnes_too_large"
    with pytest.raises(ApplicationError) as exc:
        vehicle_create(
            actor=SYSTEM,
            carrier=carrier,
            plate="吉A99999",
            transport_certificate="x",
            payload_tonnes=Decimal("1.2345"),
            valid_until=dt.date(2027, 1, 1),
            today=TODAY,
        )
    assert exc.value.code == "payload_tonnes_precision"
    assert Enterprise.objects.count() == 1 and Vehicle.objects.count() == 0


def test_industry_codes_are_checked_wherever_they_are_entered(carrier: Enterprise) -> None:
    from weifei.registry.services import enterprise_update, site_create

    with pytest.raises(ApplicationError) as exc:
        site_create(
            actor=SYSTEM,
            enterprise=carrier,
            name="场",
            address="地址",
            region_key="220102",
            roles=["carrier_base"],
            industry_code="汽车",
        )
    assert exc.value.field == "industry_code"
    with pytest.raises(ApplicationError) as exc:
        enterprise_update(actor=SYSTEM, enterprise_id=carrier.id, industry_code="12345")
    assert exc.value.field == "industry_code"
    assert enterprise_update(actor=SYSTEM, enterprise_id=carrier.id, industry_code="5436").industry_code == "5436"
