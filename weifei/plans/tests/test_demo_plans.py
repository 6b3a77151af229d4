"""The demo province files this year's management plan for the showcase generators' sites."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from weifei.plans.models import ManagementPlan
from weifei.registry.demo import demo_province_generate

pytestmark = pytest.mark.usefixtures("reference")


def test_demo_files_plans_for_showcase_sites() -> None:
    demo_province_generate(seed=7, scale=0.05, today=dt.date(2026, 11, 28))
    filed = ManagementPlan.objects.filter(year=2026, status="filed")
    print(f"demo: {filed.count()} management plans filed")
    assert filed.exists()
    for plan in filed:
        assert re.fullmatch(r"[0-9]{6}-2026-[0-9]{6}", plan.filing_number or "")
        sections = set(plan.lines.values_list("section", flat=True))
        assert {"A3", "A7"} <= sections
    assert not ManagementPlan.objects.filter(status="draft").exists()  # nothing half-made left behind
