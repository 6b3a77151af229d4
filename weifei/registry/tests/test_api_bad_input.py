"""Bad input through the registry API: a 4xx in the error envelope naming the field, with a
Chinese message, and no row left behind."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from weifei.accounts.services import regulator_account_create
from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.core.models import Event
from weifei.registry.models import Enterprise, Licence, Vehicle
from weifei.registry.services import enterprise_create

pytestmark = pytest.mark.usefixtures("reference")


@pytest.fixture
def province(client: Client) -> Client:
    assignment = regulator_account_create(
        actor=SYSTEM,
        username="sheng",
        password="x-Pa55word!",
        full_name="省厅",
        region_key="220000",
        department="固废处",
    )
    force_login(client, User.objects.get(pk=assignment.user_id))
    return client


def post(client: Client, url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    response = client.post(url, body, content_type="application/json")
    return response.status_code, response.json()


def chinese(text: object) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in str(text))


def test_invalid_credit_code_and_duplicate_enterprise(province: Client) -> None:
    base = {"name": "测试单位", "region": "220102"}
    status, body = post(province, "/api/v1/registry/enterprises", {**base, "credit_code": "91350100M000100Y44"})
    assert status == 400 and body["field"] == "credit_code" and body["code"] == "credit_code_checksum"
    assert chinese(body["message"]) and Enterprise.objects.count() == 0
    status, _ = post(province, "/api/v1/registry/enterprises", {**base, "credit_code": "91350100M000100Y43"})
    assert status == 201
    events = Event.objects.count()
    status, body = post(province, "/api/v1/registry/enterprises", {**base, "credit_code": "91350100M000100Y43"})
    assert status == 400 and body["code"] == "duplicate_enterprise" and body["field"] == "credit_code"
    assert Enterprise.objects.count() == 1 and Event.objects.count() == events


def test_licence_with_an_unknown_code_and_an_expired_vehicle(province: Client) -> None:
    unit = enterprise_create(
        actor=SYSTEM,
        credit_code="91130200699229617X",
        name="测试处置运输公司",
        region_key="220202",
        roles=("is_operator", "is_carrier"),
    )
    status, body = post(
        province,
        "/api/v1/registry/licences",
        {
            "holder_id": unit.id,
            "number": "吉危许T1",
            "kind": "comprehensive",
            "methods": ["disposal"],
            "annual_capacity_tonnes": "100",
            "valid_from": "2026-01-01",
            "scopes": [{"item": "HW08", "annual_tonnes": "50"}, {"item": "900-998-49", "annual_tonnes": "50"}],
        },
    )
    assert status == 400 and body["field"] == "scopes[1]" and body["code"] == "waste_code_not_listed"
    assert chinese(body["message"]) and Licence.objects.count() == 0
    status, body = post(
        province,
        "/api/v1/registry/vehicles",
        {
            "carrier_id": unit.id,
            "plate": "吉B12345",
            "transport_certificate": "吉交运1",
            "payload_tonnes": "10",
            "valid_until": str(dt.date.today() - dt.timedelta(days=1)),
        },
    )
    assert status == 400 and body["field"] == "valid_until" and body["code"] == "vehicle_expired"
    assert chinese(body["message"]) and Vehicle.objects.count() == 0
    status, body = post(
        province,
        "/api/v1/registry/vehicles",
        {
            "carrier_id": unit.id,
            "plate": "吉B12345",
            "transport_certificate": "吉交运1",
            "payload_tonnes": str(Decimal("1e6")),
            "valid_until": "2030-01-01",
        },
    )
    assert 400 <= status < 500 and body["field"] == "payload_tonnes" and Vehicle.objects.count() == 0
