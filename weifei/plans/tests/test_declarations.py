"""申报: periods and due dates per class (holiday roll-forward), generation from the ledger (rule
12), submission on time / late by the Asia/Shanghai date, permissions, events."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.models import Event
from weifei.core.workdays import WorkCalendar
from weifei.plans import declarations as decl
from weifei.plans import ledger
from weifei.plans.models import Declaration
from weifei.plans.tests import test_ledger as tl
from weifei.plans.tests.test_ledger import CODE, CODE2, W, _gen, _in, _out, _self, _send
from weifei.registry.models import Site

SH = ZoneInfo("Asia/Shanghai")
w = tl.w  # the ledger tests' enterprises, site, facilities and accounts
CAL = WorkCalendar(overrides={})  # the national schedule only
M, Q, A = Declaration.Kind.MONTHLY, Declaration.Kind.QUARTERLY, Declaration.Kind.ANNUAL


# ------------------------------------------------------------------ pure rules


def test_periods_key_class() -> None:
    periods = decl.declaration_periods("key", 2025, CAL)
    assert [p.kind for p in periods] == [M] * 12 + [A]
    jan = periods[0]
    assert (jan.start, jan.end, jan.due) == (dt.date(2025, 1, 1), dt.date(2025, 1, 31), dt.date(2025, 2, 17))
    feb = periods[1]
    assert feb.end == dt.date(2025, 2, 28)
    # September 2025: due Wednesday 15 Oct, a working day after the 1–8 Oct holiday: unchanged.
    sep = periods[8]
    assert (sep.start, sep.end, sep.due) == (dt.date(2025, 9, 1), dt.date(2025, 9, 30), dt.date(2025, 10, 15))
    # May 2025: 15 June is a Sunday → Monday 16 June.
    assert periods[4].due == dt.date(2025, 6, 16)
    dec = periods[11]
    assert (dec.end, dec.due) == (dt.date(2025, 12, 31), dt.date(2026, 1, 15))
    assert periods[12] == decl.Period(A, dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 3, 31))


def test_spring_festival_moves_the_due_date() -> None:
    # January 2026: 15 Feb 2026 is a Sunday inside the Spring Festival holiday (15–23 Feb) → 24 Feb.
    jan = decl.declaration_periods("key", 2026, CAL)[0]
    assert decl.nominal_due(M, jan.end) == dt.date(2026, 2, 15)
    assert jan.due == dt.date(2026, 2, 24)
    # A local override (a declared working day) is honoured.
    assert decl.due_date(M, jan.end, WorkCalendar(overrides={dt.date(2026, 2, 15): True})) == dt.date(2026, 2, 15)


def test_periods_simplified_and_registered() -> None:
    periods = decl.declaration_periods("simplified", 2025, CAL)
    assert [(p.kind, p.start, p.end, p.due) for p in periods] == [
        (Q, dt.date(2025, 1, 1), dt.date(2025, 3, 31), dt.date(2025, 4, 15)),
        (Q, dt.date(2025, 4, 1), dt.date(2025, 6, 30), dt.date(2025, 7, 15)),
        (Q, dt.date(2025, 7, 1), dt.date(2025, 9, 30), dt.date(2025, 10, 15)),
        (Q, dt.date(2025, 10, 1), dt.date(2025, 12, 31), dt.date(2026, 1, 15)),
        (A, dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 3, 31)),
    ]
    # Q4 2024 → 15 Jan 2025 (Wednesday); 2024 annual → 31 Mar 2025 (Monday).
    assert [p.due for p in decl.declaration_periods("simplified", 2024, CAL)][3:] == [
        dt.date(2025, 1, 15),
        dt.date(2025, 3, 31),
    ]
    assert decl.declaration_periods("registered", 2025, CAL) == [
        decl.Period(A, dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 3, 31))
    ]
    with pytest.raises(ApplicationError) as exc:
        decl.declaration_periods("other", 2025, CAL)
    assert exc.value.field == "management_class"


def test_period_bounds_refuses_misaligned_starts() -> None:
    assert decl.period_bounds(Q, dt.date(2024, 1, 1)) == (dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    assert decl.period_bounds(M, dt.date(2024, 2, 1)) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    for kind, start in (
        (M, dt.date(2025, 1, 2)),
        (Q, dt.date(2025, 2, 1)),
        (A, dt.date(2025, 4, 1)),
        ("x", dt.date(2025, 1, 1)),
    ):
        with pytest.raises(ApplicationError) as exc:
            decl.period_bounds(kind, start)
        assert exc.value.field in ("period_start", "kind")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)


@given(klass=st.sampled_from(["key", "simplified", "registered"]), year=st.integers(2024, 2025))
def test_periods_tile_the_year_and_fall_due_on_working_days(klass: str, year: int) -> None:
    periods = decl.declaration_periods(klass, year, CAL)
    for kind in {p.kind for p in periods}:
        mine = [p for p in periods if p.kind == kind]
        assert mine[0].start == dt.date(year, 1, 1) and mine[-1].end == dt.date(year, 12, 31)
        assert all(a.end + dt.timedelta(days=1) == b.start for a, b in itertools.pairwise(mine))
    for p in periods:
        nominal = decl.nominal_due(p.kind, p.end)
        assert CAL.is_workday(p.due) and nominal <= p.due <= nominal + dt.timedelta(days=10)
        assert all(not CAL.is_workday(nominal + dt.timedelta(days=i)) for i in range((p.due - nominal).days))


def _row(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "waste_code": CODE,
        "opening": "1.5",
        "generated": "3",
        "self_treated": {"total": "1", "by_method": [{"method_code": "D10", "tonnes": "1"}]},
        "sent_out": {"total": "0.75", "by_receiver": [{"tonnes": "0.75"}]},
        "closing": "2.75",
    }
    return row | kw


def test_invariant_checker_refuses_tampered_rows() -> None:
    assert decl.invariant_breaks([_row()]) == []
    decl.check_content({"rows": [_row()]})
    assert decl.invariant_breaks([_row(closing="2.7"), _row(waste_code=CODE2)]) == [CODE]
    bad_split = _row(self_treated={"total": "1", "by_method": [{"method_code": "D10", "tonnes": "0.5"}]})
    assert decl.invariant_breaks([bad_split]) == [CODE]
    with pytest.raises(ApplicationError) as exc:
        decl.check_content({"rows": [_row(generated="4")]})
    assert exc.value.field == "content" and CODE in exc.value.message


# ------------------------------------------------------------------ generation and submission

pytestmark_db = pytest.mark.usefixtures("reference")
MARCH = dt.date(2026, 3, 1)


def _at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)  # type: ignore[misc]


def _ledger(w: W) -> None:
    """Opening 1.5 t of CODE; in March: +3 generated, 1 self-treated (D10), 0.75 sent out."""
    feb = _gen(w, "2", at=_at(2026, 2, 20, 9))
    _send(w, feb, "0.5", at=_at(2026, 2, 25, 9))
    mar = _gen(w, "3", at=_at(2026, 3, 1, 0))  # the first instant of the period belongs to it
    stored = _in(w, mar, "3")
    out = _out(w, stored, "2", at=_at(2026, 3, 12, 9))
    _self(w, out, "1")
    _send(w, out, "0.5")
    _send(w, feb, "0.25", at=_at(2026, 3, 31, 23, 59, 59))
    _gen(w, "1", at=_at(2026, 4, 1, 0))  # April: outside the period
    wrong = _gen(w, "1", at=_at(2026, 3, 20, 9), waste_code=CODE2, container_code="X1")
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=wrong.id, reason="代码填错")


@pytest.fixture
def site(w: W, monkeypatch: pytest.MonkeyPatch) -> Site:
    Site.objects.filter(id=w.site.id).update(management_class="key")
    _ledger(w)
    monkeypatch.setattr(decl, "_now", lambda: _at(2026, 4, 10, 9))
    return w.site


@pytestmark_db
def test_generation_matches_hand_computed_figures(w: W, site: Site) -> None:
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    assert (d.period_end, d.due_on, d.status, d.late) == (dt.date(2026, 3, 31), dt.date(2026, 4, 15), "draft", False)
    assert d.content["rows"] == [
        {
            "waste_code": CODE,
            "category": "HW08",
            "opening": "1.500000",
            "generated": "3.000000",
            "self_treated": {"total": "1.000000", "by_method": [{"method_code": "D10", "tonnes": "1.000000"}]},
            "sent_out": {
                "total": "0.750000",
                "by_receiver": [
                    {
                        "province": "220000",
                        "receiver_name": w.operator.name,
                        "licence_number": "吉危许台账01",
                        "method_code": "D10",
                        "tonnes": "0.750000",
                    },
                ],
            },
            "closing": "2.750000",
        }
    ]
    assert decl.invariant_breaks(d.content["rows"]) == []
    json.dumps(d.content)  # plain JSON
    # The closing stock is the ledger's own stock at the period's end.
    stock = ledger.site_stock(actor=SYSTEM, site_id=site.id, at=_at(2026, 3, 31, 23, 59, 59))
    assert [Decimal(s["stock"]) for s in stock if s["waste_code"] == CODE] == [Decimal("2.75")]
    # February: opening 0, generated 2, sent 0.5, closing 1.5.
    feb = decl.declaration_generate(actor=w.actors["admin"], site_id=site.id, kind=M, period_start=dt.date(2026, 2, 1))
    (row,) = feb.content["rows"]
    assert (row["opening"], row["generated"], row["sent_out"]["total"], row["closing"]) == (
        "0.000000", "2.000000", "0.500000", "1.500000",
    )  # fmt: skip
    assert row["closing"] == d.content["rows"][0]["opening"]  # February's closing is March's opening
    assert Event.objects.filter(kind="declaration.generated").count() == 2


@pytestmark_db
def test_regenerating_a_draft_replaces_it(w: W, site: Site) -> None:
    first = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    _gen(w, "0.5", at=_at(2026, 3, 30, 9))
    again = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    assert again.id == first.id and Declaration.objects.count() == 1
    assert again.content["rows"][0]["generated"] == "3.500000"
    assert again.content["rows"][0]["closing"] == "3.250000"
    decl.declaration_submit(actor=w.actors["member"], declaration_id=again.id)
    with pytest.raises(ApplicationError) as exc:
        decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    assert exc.value.field == "status"


@pytestmark_db
def test_generation_refusals(w: W, site: Site) -> None:
    for kind, start, field in (
        (Q, dt.date(2026, 1, 1), "kind"),  # a 重点 unit declares monthly, not quarterly
        (M, dt.date(2026, 4, 1), "period_start"),  # April has not ended on 10 April
        (M, dt.date(2026, 3, 2), "period_start"),
    ):
        with pytest.raises(ApplicationError) as exc:
            decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=kind, period_start=start)
        assert exc.value.field == field
    assert not Declaration.objects.exists()


@pytestmark_db
@pytest.mark.parametrize(
    ("now", "late"),
    [
        (_at(2026, 4, 15, 23, 59), False),  # 15:59 UTC, still 15 April in Shanghai
        (dt.datetime(2026, 4, 15, 16, 1, tzinfo=dt.UTC), True),  # 00:01 on 16 April in Shanghai
    ],
)
def test_submission_on_time_or_late(
    w: W, site: Site, monkeypatch: pytest.MonkeyPatch, now: dt.datetime, late: bool
) -> None:
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    monkeypatch.setattr(decl, "_now", lambda: now)
    before = Event.objects.filter(kind="declaration.submitted").count()
    d = decl.declaration_submit(actor=w.actors["admin"], declaration_id=d.id)
    d.refresh_from_db()
    assert (d.status, d.late, d.submitted_at, d.submitted_by_id) == ("submitted", late, now, w.actors["admin"].user_id)
    assert d.declared_by_enterprise_id is None
    ev = Event.objects.filter(kind="declaration.submitted").order_by("-id").first()
    assert ev is not None and Event.objects.filter(kind="declaration.submitted").count() == before + 1
    with pytest.raises(ApplicationError) as exc:
        decl.declaration_submit(actor=w.actors["admin"], declaration_id=d.id)
    assert exc.value.field == "status"


@pytestmark_db
def test_submit_refuses_broken_content(w: W, site: Site) -> None:
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=M, period_start=MARCH)
    content = d.content
    content["rows"][0]["closing"] = "9.000000"
    Declaration.objects.filter(id=d.id).update(content=content)
    with pytest.raises(ApplicationError) as exc:
        decl.declaration_submit(actor=w.actors["admin"], declaration_id=d.id)
    assert exc.value.field == "content"
    d.refresh_from_db()
    assert d.status == "draft" and not Event.objects.filter(kind="declaration.submitted").exists()


@pytestmark_db
def test_permissions(w: W, site: Site) -> None:
    for who in ("reader", "driver", "other", "county"):
        with pytest.raises(PermissionDenied):
            decl.declaration_generate(actor=w.actors[who], site_id=site.id, kind=M, period_start=MARCH)
    d = decl.declaration_generate(actor=SYSTEM, site_id=site.id, kind=M, period_start=MARCH)
    for who in ("reader", "driver", "other", "county"):
        with pytest.raises(PermissionDenied):
            decl.declaration_submit(actor=w.actors[who], declaration_id=d.id)
    assert Declaration.objects.get(id=d.id).status == "draft"
    assert not Event.objects.filter(kind="declaration.submitted").exists()
