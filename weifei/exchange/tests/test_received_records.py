"""Exchange format v1, 接收 ledger records (kind ``received``): exported with ``manifest_number`` and
``container_codes``; imported through ``ledger.ledger_receive`` for an accepted manifest of the
record's unit whose intake is not in the ledger yet; an operator's ledger round-trips with them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from weifei.core.actors import SYSTEM
from weifei.manifests.lifecycle import Event
from weifei.manifests.models import Manifest, ManifestLine
from weifei.manifests.services import LineIn, manifest_transition
from weifei.manifests.testing import CODE, World, world
from weifei.plans import ledger
from weifei.plans.models import LedgerCounter, LedgerEntry
from weifei.registry import services as registry
from weifei.registry.models import Site

from .conftest import codes, export_text, jsonl, run_import

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
RECEIVED = LedgerEntry.Kind.RECEIVED


def _go(w: World, m: Manifest, event: str, who: str, **payload: object) -> Manifest:
    return manifest_transition(actor=w.actor(who), manifest_id=m.id, event=event, payload=payload)


def _site(w: World) -> Site:
    return registry.site_create(
        actor=SYSTEM, enterprise=w.receiver, name="处置中心", address="吉林市龙潭区处置路8号", region_key="220202",
        roles=["operator"],
    )  # fmt: skip


def _arrived(w: World, site: Site, first: int = 0) -> Manifest:
    labels = tuple(w.containers[first : first + 2])
    line = LineIn(waste_code=CODE, declared_tonnes=Decimal("0.4"), packaging="铁桶", label_codes=labels, dg_class="9",
                  un_number="3082")  # fmt: skip
    m = w.manifest(receiver_site_id=site.id, lines=[line])
    _go(w, m, Event.SUBMIT, "consignor")
    _go(w, m, Event.PICKUP, "driver1", scanned_labels=list(labels))
    return _go(w, m, Event.ARRIVE, "receiver")


def _accepted(w: World, site: Site, first: int = 0) -> Manifest:
    m = _arrived(w, site, first)
    line = ManifestLine.objects.get(manifest=m)
    return _go(w, m, Event.ACCEPT, "receiver", weights={str(line.id): "0.4"})


def _operator_ledger(w: World) -> tuple[Site, Manifest, list[dict[str, Any]]]:
    """An operator site with an intake from a manifest and a treatment taking half of it, exported."""
    site = _site(w)
    m = _accepted(w, site)
    intake = LedgerEntry.objects.get(kind=RECEIVED, manifest_number=m.number)
    ledger.ledger_self_treat(
        actor=SYSTEM, site_id=site.id, source_id=intake.id, occurred_at=timezone.now(), quantity=Decimal("0.15"),
        method_code="D10",
    )  # fmt: skip
    return site, m, _site_records(site)


def _site_records(site: Site) -> list[dict[str, Any]]:
    records = (json.loads(line) for line in export_text(types=["ledger_entry"]).splitlines())
    return [r for r in records if r["site"] == site.name and r["enterprise"] == site.enterprise.credit_code]


def _empty(site: Site, *, counters: bool = True) -> None:
    """The site's ledger as in an installation without it (the manifests stay)."""
    for entry in LedgerEntry.objects.filter(site=site).order_by("-id"):
        entry.delete()
    if counters:
        LedgerCounter.objects.filter(site=site).delete()


def test_received_records_are_exported_with_the_manifest_number_and_container_codes() -> None:
    w = world()
    _, m, records = _operator_ledger(w)
    received, treated = records
    assert received["kind"] == "received" and received["batch_code"].startswith("HWJS")
    assert received["manifest_number"] == m.number and len(m.number) == 14
    assert received["container_codes"] == w.containers[:2] and received["container_code"] is None
    assert (received["quantity"], received["unit"], received["waste_code"]) == ("0.400000", "t", CODE)
    # Other kinds: empty.
    assert treated["kind"] == "self_treated" and treated["source_batch"] == received["batch_code"]
    assert (treated["manifest_number"], treated["container_codes"]) == ("", [])
    consignor = [json.loads(line) for line in export_text(types=["ledger_entry"]).splitlines()]
    assert all(r["manifest_number"] == "" and r["container_codes"] == [] for r in consignor if r["kind"] != "received")


def test_an_operator_ledger_round_trips_with_its_intake() -> None:
    w = world()
    site, m, records = _operator_ledger(w)
    text = jsonl(*records)
    stock = ledger.site_stock(actor=SYSTEM, site_id=site.id)

    # Into the installation it came from: nothing changes.
    report = run_import(text)
    assert not report.problems and report.unchanged["ledger_entry"] == 2 and not report.created

    # Into an installation without the site's ledger: the intake through ledger_receive, the
    # treatment through the bulk path taking from it; same codes, same stock, same export.
    _empty(site)
    report = run_import(text, dry_run=True)
    assert not report.problems, [str(p) for p in report.problems]
    assert report.created["ledger_entry"] == 2 and not LedgerEntry.objects.filter(site=site).exists()
    report = run_import(text)
    assert not report.problems, [str(p) for p in report.problems]
    assert report.applied and report.created["ledger_entry"] == 2
    intake = LedgerEntry.objects.get(site=site, kind=RECEIVED)
    assert (intake.manifest_number, intake.container_codes, intake.container_count) == (
        m.number, w.containers[:2], 2,
    )  # fmt: skip
    assert ledger.site_stock(actor=SYSTEM, site_id=site.id) == stock
    assert _site_records(site) == records

    # Imported again: unchanged (and the manifest's intake is in the ledger once).
    report = run_import(text)
    assert not report.problems and report.unchanged["ledger_entry"] == 2
    assert LedgerEntry.objects.filter(kind=RECEIVED, manifest_number=m.number).count() == 1


def test_allocated_batch_code_differs_and_the_file_follows_it() -> None:
    w = world()
    site, _, records = _operator_ledger(w)
    _empty(site, counters=False)  # the site's HWJS counter for the day is at 1 already
    report = run_import(jsonl(*records))
    assert not report.problems, [str(p) for p in report.problems]
    intake = LedgerEntry.objects.get(site=site, kind=RECEIVED)
    assert intake.batch_code == records[0]["batch_code"][:-3] + "002"
    treated = LedgerEntry.objects.get(site=site, kind=LedgerEntry.Kind.SELF_TREATED)
    assert treated.source_id == intake.id and ledger.batch_remaining(intake) == Decimal("0.25")


def test_received_records_that_do_not_match_an_accepted_manifest_are_refused() -> None:
    w = world()
    site, m, records = _operator_ledger(w)
    received, treated = records
    pending = _arrived(w, site, first=2)  # arrived, not accepted
    _empty(site)
    base = {**received, "batch_code": None}

    def refused(record: dict[str, Any]) -> set[tuple[int, str | None, str]]:
        report = run_import(jsonl(record))
        assert report.refused and not LedgerEntry.objects.filter(site=site).exists()
        return codes(report)

    report = run_import(jsonl({**base, "manifest_number": ""}))
    (problem,) = report.problems
    assert (problem.field, problem.code) == ("manifest_number", "manifest_number_required")
    assert "接收记录须由转移联单产生，或注明联单编号" in problem.message
    assert refused({k: v for k, v in base.items() if k != "manifest_number"}) == {
        (1, "manifest_number", "manifest_number_required")
    }
    assert refused({**base, "manifest_number": "12345"}) == {(1, "manifest_number", "manifest_number_format")}
    assert refused({**base, "manifest_number": "99999999999999"}) == {(1, "manifest_number", "manifest_not_found")}
    assert refused({**base, "manifest_number": pending.number}) == {(1, "manifest_number", "manifest_not_accepted")}
    assert refused({**base, "waste_code": "900-041-49"}) == {(1, "waste_code", "waste_code_not_on_manifest")}
    assert refused({**base, "source_batch": "X1"}) == {(1, "source_batch", "source_not_applicable")}
    # Another unit's manifest (the receiver is not the record's unit): the same message as unknown.
    other = registry.site_create(
        actor=SYSTEM, enterprise=w.receiver2, name="利用中心", address="四平市利用路1号", region_key="220302",
        roles=["operator"],
    )  # fmt: skip
    assert refused({**base, "enterprise": w.receiver2.credit_code, "site": other.name}) == {
        (1, "manifest_number", "manifest_not_found")
    }
    # Another site of the receiver, where the manifest names this one.
    second = registry.site_create(
        actor=SYSTEM, enterprise=w.receiver, name="二厂区", address="吉林市龙潭区处置路9号", region_key="220202",
        roles=["operator"],
    )  # fmt: skip
    assert refused({**base, "site": second.name}) == {(1, "site", "manifest_other_site")}
    # Other kinds carry neither field.
    gen = {**treated, "kind": "generated", "source_batch": None, "batch_code": "G1", "waste_code": CODE,
           "manifest_number": m.number}  # fmt: skip
    assert refused(gen) == {(1, "manifest_number", "manifest_number_not_applicable")}
    assert refused({**gen, "manifest_number": "", "container_codes": ["A"]}) == {
        (1, "container_codes", "container_codes_not_applicable")
    }

    # Once the intake is in the ledger, a second 接收 record for the manifest is refused.
    assert not run_import(jsonl(received)).problems
    report = run_import(jsonl({**received, "batch_code": "HWJS-OTHER"}))
    ((_, field, code),) = codes(report)
    assert (field, code) == ("manifest_number", "manifest_already_received")
    assert received["batch_code"] in report.problems[0].message
    assert LedgerEntry.objects.filter(kind=RECEIVED, manifest_number=m.number).count() == 1


def test_a_manifest_line_received_twice_in_one_file_is_refused() -> None:
    """Nothing in the ledger yet, but the file names the manifest's one line twice: the second
    record is refused (it would double the intake) and, the import being all or nothing, neither
    is written."""
    w = world()
    site, m, records = _operator_ledger(w)
    received = records[0]
    _empty(site)
    twice = {**received, "batch_code": received["batch_code"][:-3] + "009"}
    report = run_import(jsonl(received, twice))
    assert codes(report) == {(2, "manifest_number", "manifest_line_received_twice")}
    assert m.number in report.problems[0].message and "每条明细只能记一次接收" in report.problems[0].message
    assert report.refused and not LedgerEntry.objects.filter(site=site).exists()
    # Once alone, the same record imports.
    report = run_import(jsonl(received))
    assert not report.problems and LedgerEntry.objects.filter(kind=RECEIVED, manifest_number=m.number).count() == 1


def test_all_or_nothing_with_received_records() -> None:
    w = world()
    site, _, records = _operator_ledger(w)
    received, treated = records
    _empty(site)
    # The treatment takes more than the intake: the ledger refuses it, the intake is rolled back too.
    report = run_import(jsonl(received, {**treated, "quantity": "0.5"}))
    assert codes(report) == {(2, "quantity", "quantity_exceeds_source")}
    assert report.refused and not report.applied and not LedgerEntry.objects.filter(site=site).exists()
    # A received record that fails leaves the records taking from it unimported (partial import).
    report = run_import(jsonl({**received, "manifest_number": "99999999999999"}, treated), partial=True)
    assert codes(report) == {(1, "manifest_number", "manifest_not_found"), (2, "source_batch", "reference_invalid")}
    assert not LedgerEntry.objects.filter(site=site).exists()
