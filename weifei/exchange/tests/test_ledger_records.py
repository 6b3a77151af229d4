"""Exchange format v1, record types plan, ledger_entry and declaration: export, the ledger round
trip through ``ledger_bulk`` (unchanged when present, recreated when absent), row errors mapped to
the file's lines, plans and declarations refused on import."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from weifei.core.actors import SYSTEM
from weifei.core.models import Event
from weifei.plans import declarations, ledger, ledger_import, services
from weifei.plans.models import LedgerEntry
from weifei.plans.tests.test_ledger_import import CREDIT, W, _csv, chain_rows, world_build

from .conftest import codes, export_text, jsonl, run_import

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


@pytest.fixture
def w() -> W:
    return world_build()


def _load(w: W) -> None:
    outcome = ledger_import.ledger_file_import(
        actor=w.actors["member"], data=_csv(chain_rows(w)), file_name="t.csv", site_id=w.site.id
    )
    assert outcome.imported == 7


def _lines(text: str, kind: str) -> list[dict[str, Any]]:
    return [r for r in (json.loads(line) for line in text.splitlines()) if r["type"] == kind]


def test_export_and_round_trip(w: W) -> None:
    _load(w)
    services.plan_draft(actor=w.actors["admin"], site_id=w.site.id, year=2026)
    declarations.declaration_generate(actor=w.actors["admin"], site_id=w.site.id, kind="annual",
                                      period_start=dt.date(2025, 1, 1))  # fmt: skip
    text = export_text(types=["ledger_entry", "plan", "declaration"])
    entries = _lines(text, "ledger_entry")
    assert [e["batch_code"] for e in entries][:3] == ["G1", "HWCS20260301001", "I1"]  # time order
    first = entries[0]
    assert first["enterprise"] == CREDIT and first["site"] == "一厂" and first["kind"] == "generated"
    assert first["occurred_at"] == "2026-03-01T09:00:00+08:00" and first["tonnes"] == "5.000000"
    assert first["facility"] == w.gen.code and first["container_code"] == "LBL-0001"
    sent = next(e for e in entries if e["licence_number"] == "吉危许导入01")
    assert sent["receiver"] == w.operator.credit_code and sent["source_batch"] == "O1"
    (plan,) = _lines(text, "plan")
    assert plan["year"] == 2026 and plan["status"] == "draft" and isinstance(plan["lines"], list)
    (decl,) = _lines(text, "declaration")
    assert decl["kind"] == "annual" and decl["period_start"] == "2025-01-01" and "rows" in decl["content"]
    stock = ledger.site_stock(actor=SYSTEM, site_id=w.site.id)

    # Into the installation it came from: nothing changes.
    ledger_text = jsonl(*entries)
    report = run_import(ledger_text)
    assert not report.problems and report.unchanged["ledger_entry"] == 7 and not report.created

    # Into an installation without them: recreated through the bulk path, same codes and stock.
    for entry in LedgerEntry.objects.order_by("-id"):
        entry.delete()
    events = Event.objects.count()
    report = run_import(ledger_text)
    assert not report.problems, [str(p) for p in report.problems]
    assert report.created["ledger_entry"] == 7
    assert ledger.site_stock(actor=SYSTEM, site_id=w.site.id) == stock
    assert sorted(LedgerEntry.objects.values_list("batch_code", flat=True)) == sorted(e["batch_code"] for e in entries)
    assert Event.objects.count() == events + 1  # one ledger.imported for the site
    assert export_text(types=["ledger_entry"]).count("\n") == 7

    # Plans and declarations: exported, not imported in v1.
    report = run_import(jsonl(plan, decl))
    assert {c for _, _, c in codes(report)} == {"import_not_supported"} and report.refused


def test_ledger_entry_errors_name_the_line_and_nothing_is_written(w: W) -> None:
    base = {"type": "ledger_entry", "version": 1, "enterprise": CREDIT, "site": "一厂", "kind": "generated",
            "batch_code": "X1", "occurred_at": "2026-03-01T09:00:00+08:00", "waste_code": "900-249-08",
            "quantity": "2"}  # fmt: skip
    out = {**base, "kind": "stored_in", "batch_code": "X2", "source_batch": "X1", "quantity": "3", "waste_code": None}
    report = run_import(jsonl(base, out, {**base, "batch_code": "X3", "site": "没有的厂"}))
    assert codes(report) == {(3, "site", "reference_not_found")}  # the file's own errors first
    report = run_import(jsonl(base, out))
    assert codes(report) == {(2, "quantity", "quantity_exceeds_source")}  # then the ledger's rules
    assert report.refused and LedgerEntry.objects.count() == 0
    report = run_import(jsonl({**base, "occurred_at": "2026-03-01 09:00"}))
    assert codes(report) == {(1, "occurred_at", "datetime_naive")}
    # Another unit's user cannot write this site's ledger.
    report = run_import(jsonl(base), actor=w.actors["other"])
    assert report.refused and LedgerEntry.objects.count() == 0
    # A valid file is written; a reversal record is refused (reversals are made in the system).
    report = run_import(jsonl(base, {**base, "batch_code": "X1C", "reversal_of": "X1", "quantity": "-2"}))
    assert codes(report) == {(2, "reversal_of", "reversal_not_supported")}
    report = run_import(jsonl(base))
    assert report.created["ledger_entry"] == 1
    assert LedgerEntry.objects.get(batch_code="X1").quantity_tonnes == Decimal(2)
    report = run_import(jsonl({**base, "quantity": "3"}))
    assert codes(report) == {(1, "batch_code", "change_not_supported")}


def test_ledger_entries_of_a_site_new_in_the_same_file(w: W) -> None:
    site = {"type": "site", "version": 1, "enterprise": CREDIT, "name": "新厂", "address": "南关区新路1号",
            "region": "220102", "roles": ["generator"]}  # fmt: skip
    entry = {"type": "ledger_entry", "version": 1, "enterprise": CREDIT, "site": "新厂", "kind": "generated",
             "occurred_at": "2026-03-01T09:00:00+08:00", "waste_code": "900-249-08", "quantity": "1.5",
             "unit": "t"}  # fmt: skip
    report = run_import(jsonl(site, entry))
    assert not report.problems, [str(p) for p in report.problems]
    (created,) = LedgerEntry.objects.filter(site__name="新厂")
    assert created.batch_code == "HWCS20260301001" and created.quantity_tonnes == Decimal("1.5")
