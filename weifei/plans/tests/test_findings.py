"""Findings are raised once per (rule, site, key), by the system only, each with its event."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import PermissionDenied
from weifei.core.models import Event
from weifei.plans.findings import finding_raise, finding_resolve
from weifei.plans.models import Finding
from weifei.registry import services as registry

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
NOW = dt.datetime(2026, 4, 16, 1, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _site():  # type: ignore[no-untyped-def]
    unit = registry.enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="发现测试有限公司",
                                      region_key="220102", roles=("is_generator",))  # fmt: skip
    return registry.site_create(actor=SYSTEM, enterprise=unit, name="一厂", address="南关区发现路1号",
                                region_key="220102", roles=["generator"])  # fmt: skip


def test_raise_is_idempotent_and_recorded() -> None:
    site = _site()
    args = {"rule": "declaration_missing", "site": site, "key": "monthly:2026-02-01", "severity": "violation",
            "message": "2026年2月月度申报逾期未报", "now": NOW}  # fmt: skip
    first = finding_raise(actor=SYSTEM, **args)
    assert first is not None and first.enterprise_id == site.enterprise_id
    assert finding_raise(actor=SYSTEM, **args) is None
    assert Finding.objects.count() == 1
    assert Event.objects.filter(kind="finding.raised").count() == 1
    assert finding_resolve(actor=SYSTEM, finding=first, now=NOW + dt.timedelta(days=1), reason="已补报")
    assert not finding_resolve(actor=SYSTEM, finding=first, now=NOW + dt.timedelta(days=2))
    assert Event.objects.filter(kind="finding.resolved").count() == 1


def test_only_the_system_raises() -> None:
    site = _site()
    with pytest.raises(PermissionDenied):
        finding_raise(actor=Actor(kind="public", label="公众"), rule="x", site=site, key="k", severity="warning",
                      message="m", now=NOW)  # fmt: skip
    assert not Finding.objects.exists()
