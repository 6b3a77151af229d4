"""更正 and the periods view: a reversal after submission makes the period stale; correcting freezes
the submitted content as a revision and regenerates; nothing changed or no reason → refused.
Generation runs a bounded number of queries whatever the ledger's size."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from weifei.core import workdays
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event
from weifei.plans import declarations as decl
from weifei.plans import ledger
from weifei.plans.models import Declaration, DeclarationRevision, LedgerEntry
from weifei.plans.tests import test_declarations as td
from weifei.plans.tests import test_ledger as tl
from weifei.plans.tests.test_declarations import MARCH, _at
from weifei.plans.tests.test_ledger import W, _gen, _in, _out, _send
from weifei.registry.models import Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
w = tl.w
site = td.site  # the declaration tests' 重点 site with its small ledger, now = 10 April 2026
M, A = Declaration.Kind.MONTHLY, Declaration.Kind.ANNUAL


def _statuses(w: W, site: Site, year: int = 2026, now: dt.datetime | None = None) -> dict[tuple[str, dt.date], str]:
    rows = decl.site_periods(actor=w.actors["reader"], site_id=site.id, year=year, now=now)
    return {(r["period"].kind, r["period"].start): r["status"] for r in rows}


def test_period_statuses(w: W, site: Site) -> None:
    now = _at(2026, 4, 10, 9)
    s = _statuses(w, site, now=now)
    assert len(s) == 13  # 重点: 12 months + the year
    # January 2026 was due 24 Feb (Spring Festival roll-forward), February on 16 March: both overdue.
    assert s[(M, dt.date(2026, 1, 1))] == s[(M, dt.date(2026, 2, 1))] == "overdue"
    assert s[(M, MARCH)] == "open"  # ended, due 15 April
    assert s[(M, dt.date(2026, 4, 1))] == s[(A, dt.date(2026, 1, 1))] == "not_due"
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    assert _statuses(w, site, now=now)[(M, MARCH)] == "open"  # a draft is not a declaration
    decl.declaration_submit(actor=w.actors["member"], declaration_id=d.id)
    assert _statuses(w, site, now=now)[(M, MARCH)] == "on_time"
    feb = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=dt.date(2026, 2, 1))
    decl.declaration_submit(actor=w.actors["member"], declaration_id=feb.id)
    assert _statuses(w, site, now=now)[(M, dt.date(2026, 2, 1))] == "late"
    # A 登记 unit has only the annual period; others see nothing.
    Site.objects.filter(id=site.id).update(management_class="registered")
    assert list(_statuses(w, site, now=now)) == [(A, dt.date(2026, 1, 1))]
    with pytest.raises(NotFound):
        decl.site_periods(actor=w.actors["other"], site_id=site.id, year=2026)
    with pytest.raises(ApplicationError) as exc:
        decl.site_periods(actor=w.actors["reader"], site_id=site.id, year=1999)
    assert exc.value.field == "year"


def test_reversal_after_submission_then_correction(w: W, site: Site) -> None:
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    d = decl.declaration_submit(actor=w.actors["member"], declaration_id=d.id)
    submitted = d.content
    (row,) = submitted["rows"]
    assert (row["sent_out"]["total"], row["closing"]) == ("0.750000", "2.750000")
    # Nothing changed yet: refused.
    with pytest.raises(ApplicationError) as exc:
        decl.declaration_correct(actor=w.actors["member"], declaration_id=d.id, reason="核对")
    assert (exc.value.code, exc.value.field) == ("nothing_changed", "content")
    # The 0.25 t sent out at 23:59:59 on 31 March was a typing error: reversed.
    late = LedgerEntry.objects.get(kind="sent_out", occurred_at=_at(2026, 3, 31, 23, 59, 59))
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=late.id, reason="重复录入")
    assert _statuses(w, site, now=_at(2026, 4, 10, 9))[(M, MARCH)] == "stale"
    before = Event.objects.count()
    for reason, field in (("", "reason"), ("   ", "reason"), ("x" * 301, "reason")):
        with pytest.raises(ApplicationError) as exc:
            decl.declaration_correct(actor=w.actors["member"], declaration_id=d.id, reason=reason)
        assert exc.value.field == field
    for who in ("reader", "driver", "other", "county"):
        with pytest.raises(PermissionDenied):
            decl.declaration_correct(actor=w.actors[who], declaration_id=d.id, reason="更正")
    assert Event.objects.count() == before and not DeclarationRevision.objects.exists()
    d = decl.declaration_correct(actor=w.actors["admin"], declaration_id=d.id, reason="委外记录重复，已冲销")
    (row,) = d.content["rows"]
    assert (row["sent_out"]["total"], row["closing"], row["generated"]) == ("0.500000", "3.000000", "3.000000")
    assert decl.invariant_breaks(d.content["rows"]) == []
    assert (d.revision, d.status, d.corrected_at, d.submitted_by_id) == (
        1, "submitted", _at(2026, 4, 10, 9), w.actors["admin"].user_id,
    )  # fmt: skip
    (rev,) = DeclarationRevision.objects.filter(declaration=d)
    assert (rev.revision, rev.content, rev.reason, rev.late) == (0, submitted, "委外记录重复，已冲销", False)
    assert rev.submitted_by_id == w.actors["member"].user_id
    ev = Event.objects.get(kind="declaration.corrected")
    assert ev.reason == "委外记录重复，已冲销" and ev.after["revision"] == 1 and ev.before["revision"] == 0
    assert ev.organisation_id == w.own.id
    assert _statuses(w, site, now=_at(2026, 4, 10, 9))[(M, MARCH)] == "on_time"
    # April's opening is unaffected by March's correction being a separate declaration.
    with pytest.raises(ApplicationError) as exc:
        decl.declaration_correct(actor=w.actors["admin"], declaration_id=d.id, reason="再次")
    assert exc.value.code == "nothing_changed"
    # A draft is regenerated, not corrected.
    feb = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=dt.date(2026, 2, 1))
    with pytest.raises(ApplicationError) as exc:
        decl.declaration_correct(actor=w.actors["admin"], declaration_id=feb.id, reason="更正")
    assert exc.value.field == "status"


def test_generation_runs_a_bounded_number_of_queries(w: W, site: Site) -> None:
    def count() -> int:
        workdays.invalidate()  # both counts include reading the calendar overrides (cached per process)
        with CaptureQueriesContext(connection) as ctx:
            decl.declaration_generate(actor=SYSTEM, site_id=site.id, kind=A, period_start=dt.date(2025, 1, 1))
        return len(ctx.captured_queries)

    Declaration.objects.all().delete()
    small = count()
    for i in range(15):
        g = _gen(w, "1", at=_at(2025, 6, 1 + i, 9), container_code=f"C{i}")
        stored = _in(w, g, "1")
        _send(w, _out(w, stored, "1"), "0.5")
    Declaration.objects.all().delete()
    assert count() == small <= 25
    d = Declaration.objects.get(kind=A)
    (row,) = d.content["rows"]
    assert (row["generated"], row["sent_out"]["total"], row["closing"]) == ("15.000000", "7.500000", "7.500000")
    assert Decimal(row["opening"]) == 0
