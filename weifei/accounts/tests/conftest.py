"""Accounts fixtures: a province regulator, a unit with an admin and a member, and a clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from weifei.accounts import totp
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.core.actors import SYSTEM
from weifei.registry.models import Enterprise
from weifei.registry.services import enterprise_create

PASSWORD = "correct-horse-battery"


@dataclass
class People:
    regulator: User
    admin: User
    member: User
    unit: Enterprise
    other_unit: Enterprise


@pytest.fixture
def people(reference: None) -> People:
    unit = enterprise_create(
        actor=SYSTEM, credit_code="91350100M000100Y43", name="长春测试汽车零部件有限公司", region_key="220102"
    )
    other = enterprise_create(
        actor=SYSTEM, credit_code="91130200699229617X", name="梅河口测试制药有限公司", region_key="220581"
    )
    regulator = regulator_account_create(
        actor=SYSTEM,
        username="sheng",
        password=PASSWORD,
        full_name="省厅",
        region_key="220000",
        department="固体废物与化学品处",
    ).user
    admin = enterprise_user_create(
        actor=SYSTEM, enterprise=unit, username="admin1", password=PASSWORD, full_name="张管理", role="admin"
    ).user
    member = enterprise_user_create(
        actor=SYSTEM, enterprise=unit, username="member1", password=PASSWORD, full_name="李成员", role="member"
    ).user
    enterprise_user_create(
        actor=SYSTEM, enterprise=other, username="member1x", password=PASSWORD, full_name="王", role="member"
    )
    return People(regulator=regulator, admin=admin, member=member, unit=unit, other_unit=other)


class Clock:
    """``timezone.now`` under the test's control; starts at the beginning of a TOTP step."""

    def __init__(self) -> None:
        start = int(dt.datetime.now(dt.UTC).timestamp()) // totp.STEP_SECONDS * totp.STEP_SECONDS
        self.now = dt.datetime.fromtimestamp(start, dt.UTC)

    def advance(self, **delta: Any) -> None:
        self.now += dt.timedelta(**delta)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(timezone, "now", c)
    return c
