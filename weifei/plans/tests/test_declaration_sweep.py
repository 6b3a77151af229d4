"""The supervision sweep: declaration_missing exactly after the holiday-adjusted due date (Asia/
Shanghai), declaration_late for a late submission, missing resolved once submitted, plan_missing from
1 April (not on 31 March), all idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from weifei.core.actors import SYSTEM
from weifei.core.models import Event
from weifei.plans import declarations as decl
from weifei.plans import services as plans
from weifei.plans.models import Declaration, Finding
from weifei.plans.tasks_declarations import declarations_sweep as sweep_task
from weifei.plans.tests import test_ledger as tl
from weifei.plans.tests.test_declarations import _at
from weifei.plans.tests.test_ledger import W
from weifei.registry.models import Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
w = tl.w
M = Declaration.Kind.MONTHLY
JAN = dt.date(2026, 1, 1)


@pytest.fixture
def site(w: W) -> Site:
    Site.objects.filter(id=w.site.id).update(management_class="key")
    Site.objects.filter(id=w.other_site.id).update(management_class="")  # unclassified: not swept
    w.site.refresh_from_db()
    return w.site


def _open(rule: str) -> set[str]:
    return set(Finding.objects.filter(rule=rule, resolved_at__isnull=True).values_list("key", flat=True))


def test_missing_at_the_due_date_boundary_then_late_and_resolved(
    w: W, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # January 2026 is due 24 Feb 2026 (15 Feb falls in the Spring Festival holiday).
    counts = decl.declarations_sweep(now=_at(2026, 2, 24, 23, 59))
    assert "monthly:2026-01-01" not in _open("declaration_missing")
    # The previous year is swept too: 2025's twelve months (its annual is due 31 March 2026).
    assert counts["raised_missing"] == 12
    assert _open("declaration_missing") == {f"monthly:2025-{m:02d}-01" for m in range(1, 13)}
    counts = decl.declarations_sweep(now=_at(2026, 2, 25, 0, 0))
    assert counts["raised_missing"] == 1
    f = Finding.objects.get(rule="declaration_missing", key="monthly:2026-01-01")
    assert (f.site_id, f.enterprise_id, f.severity) == (site.id, w.own.id, "violation")
    assert f.details["due_on"] == "2026-02-24" and "2026-02-24" in f.message
    # Idempotent: nothing new, no event.
    before = (Finding.objects.count(), Event.objects.count())
    assert set(decl.declarations_sweep(now=_at(2026, 2, 25, 1)).values()) == {0}
    assert (Finding.objects.count(), Event.objects.count()) == before
    # Submitted late on 26 February: missing resolved, late raised (once).
    monkeypatch.setattr(decl, "_now", lambda: _at(2026, 2, 26, 10))
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=JAN)
    decl.declaration_submit(actor=w.actors["member"], declaration_id=d.id)
    counts = decl.declarations_sweep(now=_at(2026, 2, 27, 1))
    assert (counts["resolved_missing"], counts["raised_late"]) == (1, 1)
    f.refresh_from_db()
    assert f.resolved_at == _at(2026, 2, 27, 1)
    late = Finding.objects.get(rule="declaration_late", key="monthly:2026-01-01")
    assert late.severity == "warning" and late.details["submitted_on"] == "2026-02-26"
    assert Event.objects.filter(kind="finding.resolved", subject_id=str(f.id)).count() == 1
    assert set(decl.declarations_sweep(now=_at(2026, 2, 28, 1)).values()) == {0}


def test_on_time_submission_raises_nothing(w: W, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decl, "_now", lambda: _at(2026, 2, 24, 9))
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=JAN)
    decl.declaration_submit(actor=w.actors["member"], declaration_id=d.id)
    decl.declarations_sweep(now=_at(2026, 3, 1, 9))
    assert "monthly:2026-01-01" not in _open("declaration_missing") | _open("declaration_late")
    # Closed sites and sites that started operating later owe nothing for earlier periods.
    Finding.objects.all().delete()
    Site.objects.filter(id=site.id).update(operation_started_on=dt.date(2026, 1, 1))
    decl.declarations_sweep(now=_at(2026, 3, 1, 9))
    assert _open("declaration_missing") == set()  # 2025 is before the start; Feb 2026 not yet due
    Site.objects.filter(id=site.id).update(status="closed", operation_started_on=None)
    decl.declarations_sweep(now=_at(2026, 3, 1, 9))
    assert _open("declaration_missing") == set()


def test_plan_missing_from_the_first_of_april(w: W, site: Site) -> None:
    decl.declarations_sweep(now=_at(2026, 3, 31, 23, 59))
    assert not Finding.objects.filter(rule="plan_missing").exists()
    counts = decl.declarations_sweep(now=_at(2026, 4, 1, 0, 0))
    assert counts["raised_plan"] == 2  # every non-closed site files a plan, classified or not
    f = Finding.objects.get(rule="plan_missing", site=site)
    assert (f.site_id, f.key, f.severity) == (site.id, "2026", "violation")
    assert decl.declarations_sweep(now=_at(2026, 4, 1, 1))["raised_plan"] == 0
    # Filing the plan resolves it.
    draft = plans.plan_draft(actor=SYSTEM, site_id=site.id, year=2026)
    plans.plan_line_add(actor=SYSTEM, plan_id=draft.id, section="A3", waste_code="900-249-08", tonnes=Decimal(5))
    plans.plan_line_add(actor=SYSTEM, plan_id=draft.id, section="A7", waste_code="900-249-08", tonnes=Decimal(5),
                        transfer_type="in_province", receiver_type="licensed", receiver_id=w.operator.id,
                        method_code="D10")  # fmt: skip
    plans.plan_file(actor=SYSTEM, plan_id=draft.id)
    assert decl.declarations_sweep(now=_at(2026, 4, 2, 1))["resolved_plan"] == 1
    f.refresh_from_db()
    assert f.resolved_at is not None


def test_findings_visibility_and_the_task(w: W, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decl, "_now", lambda: _at(2026, 2, 25, 9))
    result = sweep_task.apply().get()
    assert result["raised_missing"] == 13
    for who, n in (("reader", 13), ("county", 13), ("other", 0)):
        assert decl.findings_visible(actor=w.actors[who]).count() == n
