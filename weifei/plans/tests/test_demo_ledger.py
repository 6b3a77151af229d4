"""The demo province's year of ledgers (plans.demo_ledger): every rule of plans.ledger holds on the
bulk-written rows, labels are valid and unique, the counters let the services continue, the audit
chain verifies, the same seed gives the same codes, and a site replayed through the real services
gets exactly the same records and figures. One demo (scale 0.05) is generated for the module."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Max, QuerySet
from django.utils import timezone

from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import validate_waste_code
from weifei.core.actors import SYSTEM
from weifei.core.chain import chain_verify
from weifei.core.models import Event
from weifei.plans import demo_ledger, ledger
from weifei.plans.declarations import check_content
from weifei.plans.labels import label_code_parse
from weifei.plans.models import Declaration, LabelCounter, LedgerCounter, LedgerEntry
from weifei.registry import services as registry
from weifei.registry.demo import DemoSummary
from weifei.registry.models import Enterprise, Facility, Licence, Site
from weifei.registry.rules import licence_status_on
from weifei.registry.tests.demo_support import assert_counters_continue_the_codes, demo_module_fixture
from weifei.registry.tests.factories import credit_code

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
TODAY = dt.date(2026, 6, 15)
SEED = 2021
Kind = LedgerEntry.Kind


demo = demo_module_fixture(seed=SEED, scale=0.05, today=TODAY)


def _own() -> QuerySet[LedgerEntry]:
    """The demo ledgers' own records: not the receivers' 接收 records the demo manifests add, nor
    the 自行利用/处置 records using them up (``test_demo.py`` in ``weifei.manifests`` checks those)."""
    return LedgerEntry.objects.exclude(kind=Kind.RECEIVED).exclude(source__kind=Kind.RECEIVED)


def _entries() -> list[dict[str, Any]]:
    return list(_own().order_by("id").values())


def test_every_generator_site_has_a_year_of_every_kind(demo: DemoSummary) -> None:
    by_kind = {k: LedgerEntry.objects.filter(kind=k).count() for k in Kind.values}
    print(f"demo ledger at scale 0.05: {by_kind}, total {sum(by_kind.values())}")
    # 接收 comes from transfer manifests only (the demo manifests are written after the ledgers).
    assert all(by_kind[k] > 0 for k in Kind.values if k != Kind.RECEIVED), by_kind
    assert demo.ledger_entries == _own().count()
    sites = demo_ledger.sites_load(fresh_only=False)
    assert len(sites) >= 60
    with_entries = set(LedgerEntry.objects.values_list("site_id", flat=True).distinct())
    assert {s.site_id for s in sites} <= with_entries
    assert not demo_ledger.sites_load()  # nothing left without a ledger
    # A year: from 12 months before today (kept containers a little earlier) up to today.
    first = LedgerEntry.objects.order_by("occurred_at").first()
    last = LedgerEntry.objects.order_by("-occurred_at").first()
    assert first and last
    assert timezone.localdate(last.occurred_at) <= TODAY
    assert timezone.localdate(first.occurred_at) >= TODAY - dt.timedelta(days=381)
    # Hospitals' boxes every day or two; big streams once a day, small ones in labelled containers.
    types = set(LedgerEntry.objects.filter(kind=Kind.GENERATED).values_list("container_type", flat=True))
    assert {"医疗废物专用包装箱", "200L铁桶", "吨袋"} <= types
    assert LedgerEntry.objects.filter(kind=Kind.GENERATED, container_code__isnull=True).exists()  # daily bulk
    assert LedgerEntry.objects.filter(kind=Kind.SENT_OUT, source__kind=Kind.GENERATED).exists()  # no store
    assert LedgerEntry.objects.filter(kind=Kind.SELF_TREATED).exists()


def test_every_rule_of_the_ledger_holds(demo: DemoSummary) -> None:
    """Rules 10, 12, 14, 15 and the chain, recomputed over every row."""
    rows = _entries()
    by_id = {r["id"]: r for r in rows}
    facilities = dict(Facility.objects.values_list("id", "kind"))
    facility_site = dict(Facility.objects.values_list("id", "site_id"))
    methods = dict(DisposalMethod.objects.values_list("code", "kind"))
    licences = {lic.number: lic for lic in Licence.objects.prefetch_related("scopes")}
    taken: dict[int, Decimal] = defaultdict(Decimal)
    reversal: dict[int, Decimal] = defaultdict(Decimal)
    codes: set[tuple[int, str]] = set()
    checked: dict[tuple[str, dt.date], bool] = {}
    for r in rows:
        day = timezone.localdate(r["occurred_at"])
        assert (r["site_id"], r["batch_code"]) not in codes
        codes.add((r["site_id"], r["batch_code"]))
        if (r["waste_code"], day) not in checked:
            checked[(r["waste_code"], day)] = validate_waste_code(r["waste_code"], on=day).category == r["category"]
        assert checked[(r["waste_code"], day)], r
        if r["reversal_of_id"] is not None:
            original = by_id[r["reversal_of_id"]]
            assert r["quantity_tonnes"] == -original["quantity_tonnes"] and r["reason"]
            assert r["batch_code"] == original["batch_code"] + "C" and r["source_id"] == original["source_id"]
            reversal[original["id"]] += r["quantity_tonnes"]
        else:
            assert r["quantity_tonnes"] > 0
            assert ledger.to_tonnes(r["entered_quantity"], r["entered_unit"])[0] == r["quantity_tonnes"]
            if r["kind"] == Kind.SELF_TREATED:
                prefix = ledger.SELF_PREFIXES[methods[r["method_code"]]]
            elif r["kind"] == Kind.SENT_OUT:
                prefix = ledger.SENT_PREFIXES[methods[r["method_code"]]]
            else:
                prefix = ledger.PREFIXES[r["kind"]]
            assert r["batch_code"][:-3] == f"{prefix}{day:%Y%m%d}", r["batch_code"]
        if r["source_id"] is not None:
            src = by_id[r["source_id"]]
            assert src["kind"] in ledger.ALLOWED_SOURCES[r["kind"]] and src["reversal_of_id"] is None
            assert src["site_id"] == r["site_id"] and src["waste_code"] == r["waste_code"]
            assert r["occurred_at"] >= src["occurred_at"]
            assert r["container_code"] == src["container_code"]
            taken[src["id"]] += r["quantity_tonnes"]
        else:
            assert r["kind"] == Kind.GENERATED
        if r["facility_id"] is not None:
            assert facility_site[r["facility_id"]] == r["site_id"]
            allowed = {
                Kind.GENERATED: ("generating",),
                Kind.STORED_IN: ("storage",),
                Kind.STORED_OUT: ("storage",),
                Kind.SELF_TREATED: ("utilization", "disposal"),
            }[r["kind"]]
            assert facilities[r["facility_id"]] in allowed
        if r["kind"] == Kind.SENT_OUT:
            lic = licences[r["licence_number"]]
            assert r["receiver_type"] == "licensed" and lic.holder_id == r["receiver_id"]
            assert licence_status_on(stored_status=lic.status, valid_from=lic.valid_from,
                                     valid_to=lic.valid_to, on=day) == "valid"  # fmt: skip
            assert any(
                s.waste_code == r["waste_code"] or (not s.waste_code and s.category == r["category"])
                for s in lic.scopes.all()
            )
        if r["kind"] == Kind.SELF_TREATED:
            assert r["method_code"] in methods and r["facility_id"] is not None
            assert r["finished_at"] is None or r["finished_at"] >= r["occurred_at"]
    # Remaining never below zero (the services' rule), and the stock invariant per site and code:
    # generated − self-treated − sent out = what the site's batches still hold.
    stock: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    held: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        key = (r["site_id"], r["waste_code"])
        if r["kind"] == Kind.GENERATED:
            stock[key] += r["quantity_tonnes"]
        elif r["kind"] in (Kind.SELF_TREATED, Kind.SENT_OUT):
            stock[key] -= r["quantity_tonnes"]
        if r["reversal_of_id"] is None:
            left = ledger.remaining(r["quantity_tonnes"] + reversal[r["id"]], [taken[r["id"]]])
            assert left >= 0, r["batch_code"]
            if r["kind"] in (Kind.GENERATED, Kind.STORED_IN, Kind.STORED_OUT):
                held[key] += left
            else:
                assert left == r["quantity_tonnes"]  # nothing takes from 自行/委外 records
    assert stock == held
    assert all(v >= 0 for v in stock.values()) and any(v > 0 for v in stock.values())
    # The selector agrees for every site.
    receiving = set(LedgerEntry.objects.filter(kind=Kind.RECEIVED).values_list("site_id", flat=True))
    for site_id in {s for s, _ in stock} - receiving:
        figures = {x["waste_code"]: x["stock"] for x in ledger.site_stock(actor=SYSTEM, site_id=site_id)}
        assert figures == {c: v for (s, c), v in stock.items() if s == site_id}


def test_labels_are_valid_unique_and_counted(demo: DemoSummary) -> None:
    credit = dict(Site.objects.values_list("id", "enterprise__credit_code"))
    gen = LedgerEntry.objects.filter(kind=Kind.GENERATED, container_code__isnull=False, reversal_of__isnull=True)
    gen = gen.exclude(reversed_by__isnull=False)
    seen: set[str] = set()
    highest: dict[tuple[str, str, dt.date], int] = {}
    for site_id, code, waste, at, litres in gen.values_list(
        "site_id", "container_code", "waste_code", "occurred_at", "container_litres"
    ):
        parsed = label_code_parse(code, today=TODAY)
        day = timezone.localdate(at)
        assert parsed.credit_code == credit[site_id] and parsed.waste_code == waste and parsed.date == day
        assert code not in seen and litres is not None
        seen.add(code)
        key = (credit[site_id], waste, day)
        highest[key] = max(highest.get(key, 0), parsed.seq)
    assert len(seen) > 100
    labels = {
        (c, w, d): n
        for c, w, d, n in LabelCounter.objects.values_list("enterprise__credit_code", "waste_code", "day", "last_seq")
    }
    for key, seq in highest.items():
        assert labels[key] >= seq  # a reversed duplicate may have used the last number


def test_counters_let_the_services_continue(demo: DemoSummary) -> None:
    counters = assert_counters_continue_the_codes()
    # A record added afterwards through the service on a busy day gets the next code and label.
    last = (
        LedgerEntry.objects.filter(kind=Kind.GENERATED, container_code__isnull=False, reversal_of__isnull=True)
        .order_by("-occurred_at")
        .first()
    )
    assert last is not None
    day = timezone.localdate(last.occurred_at)
    site = Site.objects.select_related("enterprise").get(id=last.site_id)
    hwcs = counters[(site.id, "HWCS", day)]
    label_seq = LabelCounter.objects.get(enterprise=site.enterprise, waste_code=last.waste_code, day=day).last_seq
    entry = ledger.ledger_generate(
        actor=SYSTEM, site_id=site.id, occurred_at=last.occurred_at + dt.timedelta(seconds=1),
        waste_code=last.waste_code, quantity=Decimal("0.1"), label=True,
    )  # fmt: skip
    assert entry.batch_code == ledger.batch_code("HWCS", day, hwcs + 1)
    assert entry.container_code is not None and label_code_parse(entry.container_code).seq == label_seq + 1


def test_one_import_event_per_site_and_the_audit_chain_verifies(demo: DemoSummary) -> None:
    events = list(Event.objects.filter(kind="ledger.imported"))
    events = [e for e in events if e.after["source"] == "demo"]
    per_site = dict(_own().values_list("site_id").annotate(n=Max("id")).values_list("site_id", "n"))
    assert len(events) == len(per_site)
    for event in events:
        site = Site.objects.get(id=int(event.subject_id))
        assert event.organisation_id == site.enterprise_id and event.actor_label == "系统"
        assert event.after["entries"] == _own().filter(site=site).count()
        codes = set(_own().filter(site=site).values_list("batch_code", flat=True))
        assert {event.after["first_batch_code"], event.after["last_batch_code"]} <= codes
    result = chain_verify()
    assert result.ok, [str(b) for b in result.breaks[:3]]


def test_same_seed_same_codes(demo: DemoSummary) -> None:
    """Planning again from the registry gives exactly the written records (codes, labels, times)."""
    names = {
        "auto": "长春汽车城整车制造有限公司",
        "petrochem": "吉林江城石油化工有限公司",
        "hospital": "长春市第一人民医院",
        "repair": "长春市南关区顺达汽车维修有限公司",
    }
    showcases = {tag: Enterprise.objects.get(name=name) for tag, name in names.items()}
    window = demo_ledger.Window.ending(TODAY)
    receivers = demo_ledger.receivers_load()
    methods = dict(DisposalMethod.objects.values_list("code", "kind"))
    sites = demo_ledger.sites_marked(demo_ledger.sites_load(fresh_only=False), showcases, SEED)
    assert {s.reversal for s in sites} >= {"generated", "stored_in"} and sum(bool(s.aged) for s in sites) >= 4
    labels: dict[tuple[int, str, dt.date], int] = {}
    for facts in sites[:25]:
        own = [r for r in receivers if r.enterprise_id == facts.enterprise_id]
        rows = demo_ledger.plan_site(facts, seed=SEED, window=window, receivers=receivers, own=own,
                                     method_kinds=methods, label_seqs=labels)  # fmt: skip
        planned = sorted((r.batch_code, r.container_code, r.tonnes, r.at) for r in rows)
        written = sorted(
            _own()
            .filter(site_id=facts.site_id)
            .values_list("batch_code", "container_code", "quantity_tonnes", "occurred_at")
        )
        assert planned == written, facts.site_id


def test_stock_ages_and_corrections_show(demo: DemoSummary) -> None:
    on_site = LedgerEntry.objects.filter(kind=Kind.GENERATED, reversal_of__isnull=True, reversed_by__isnull=True)
    left = [
        e for e in on_site.exclude(container_code__isnull=True) if not _left_site(e) and e.container_code is not None
    ]
    ages = [(TODAY - timezone.localdate(e.occurred_at)).days for e in left]
    assert any(a > 365 for a in ages) and any(335 < a <= 365 for a in ages) and any(270 < a <= 335 for a in ages)
    assert sum(a > 270 for a in ages) <= 12  # a few, not the whole stock
    reversals = LedgerEntry.objects.filter(reversal_of__isnull=False)
    assert {r.kind for r in reversals} == {Kind.GENERATED, Kind.STORED_IN}
    assert all(r.reason for r in reversals)


def _left_site(gen: LedgerEntry) -> bool:
    frontier = [gen]
    while frontier:
        entry = frontier.pop()
        for taker in LedgerEntry.objects.filter(source=entry, reversal_of__isnull=True, reversed_by__isnull=True):
            if taker.kind in (Kind.SELF_TREATED, Kind.SENT_OUT):
                return True
            frontier.append(taker)
    return False


def test_showcase_declarations(demo: DemoSummary) -> None:
    decls = list(Declaration.objects.select_related("site__enterprise"))
    assert demo.declarations == len(decls) > 0
    submitted = [d for d in decls if d.status == Declaration.Status.SUBMITTED]
    late = [d for d in submitted if d.late]
    assert len(late) == 2 and len(submitted) > 10
    for d in submitted:
        check_content(d.content)
        assert d.submitted_at is not None and d.submitted_at >= d.generated_at
        assert (timezone.localdate(d.submitted_at) > d.due_on) == d.late
        assert timezone.localdate(d.submitted_at) <= TODAY
    for d in decls:
        if d.status == Declaration.Status.DRAFT:
            assert d.due_on >= TODAY  # only what is not yet due is left as a draft
    assert any(r["generated"] != "0.000000" for d in submitted for r in d.content["rows"])
    # The hospital skipped one monthly period that is past due: the missing-declaration finding.
    hospital = Site.objects.get(enterprise__name="长春市第一人民医院")
    months = {d.period_start for d in decls if d.site_id == hospital.id and d.kind == "monthly"}
    first = dt.date(TODAY.year - (TODAY.month <= 1), (TODAY.month - 2) % 12 + 1, 1)
    expected = set()
    day = dt.date(TODAY.year - 1, TODAY.month, 1)
    while day < first:
        if day >= TODAY.replace(year=TODAY.year - 1):
            expected.add(day)
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    missing = expected - months
    assert len(missing) == 1
    assert Declaration.objects.filter(site=hospital).count() == len(months)
    events = Event.objects.filter(kind="declaration.submitted").count()
    assert events == len(submitted)


def test_a_site_replayed_through_the_services_gets_the_same_records(demo: DemoSummary) -> None:
    """The same plan written in bulk for one unit and through the services for another: same codes,
    quantities, chain, reversals, counters, remaining and stock."""
    pair = []
    for n in (990001, 990002):
        ent = registry.enterprise_create(actor=SYSTEM, credit_code=credit_code(n), name=f"台账重放测试{n}有限公司",
                                         region_key="220102", roles=("is_generator",))  # fmt: skip
        site = registry.site_create(actor=SYSTEM, enterprise=ent, name="一厂", address="南关区重放路1号",
                                    region_key="220102", roles=["generator"])  # fmt: skip
        store = registry.facility_create(actor=SYSTEM, site=site, kind="storage", name="贮存间",
                                         storage_capacity_tonnes=Decimal(10))  # fmt: skip
        facts = demo_ledger.SiteFacts(
            site_id=site.id, enterprise_id=ent.id, credit_code=ent.credit_code, industry_code="3670",
            prefecture="220100", lat=43.85, lng=125.33,
            profiles=(("900-041-49", Decimal("4.5")), ("900-249-08", Decimal("3.2"))),
            storage_id=store.id, treatment_id=None, rng_key="replay", aged=(300,), reversal="stored_in",
        )  # fmt: skip
        pair.append(facts)
    bulk, replayed = pair
    window = demo_ledger.Window.ending(TODAY)
    receivers = demo_ledger.receivers_load()
    summary = demo_ledger.ledgers_import([bulk], seed=SEED, window=window, receivers=receivers)
    methods = dict(DisposalMethod.objects.values_list("code", "kind"))
    rows = demo_ledger.plan_site(replayed, seed=SEED, window=window, receivers=receivers, method_kinds=methods,
                                 label_seqs={})  # fmt: skip
    assert summary.entries == len(rows) > 40
    assert {r.kind for r in rows} >= {Kind.GENERATED, Kind.STORED_IN, Kind.STORED_OUT, Kind.SENT_OUT}
    saved: dict[int, LedgerEntry] = {}
    for r in sorted(rows, key=lambda r: (r.at, r.n)):
        saved[id(r)] = _replay(r, replayed.site_id, saved)
        assert saved[id(r)].batch_code == r.batch_code
        assert saved[id(r)].container_code == r.container_code

    def records(site_id: int) -> list[tuple[Any, ...]]:
        out = []
        for e in LedgerEntry.objects.filter(site_id=site_id).select_related("source", "reversal_of", "facility"):
            out.append((
                e.batch_code, e.kind, e.occurred_at, e.waste_code, e.category, e.quantity_tonnes, e.entered_quantity,
                e.entered_unit, (e.container_code or "")[18:], e.container_type, e.container_count,
                e.container_litres, e.common_name, e.destination, e.finished_at, e.facility.kind if e.facility else "",
                e.source.batch_code if e.source else "", e.handler, e.method_code, e.receiver_type, e.receiver_id,
                e.receiver_name, e.licence_number, e.reversal_of.batch_code if e.reversal_of else "", e.reason,
                ledger.batch_remaining(e) if e.reversal_of_id is None else None,
            ))  # fmt: skip
        return sorted(out, key=lambda x: x[0])

    assert records(bulk.site_id) == records(replayed.site_id)
    stock = [ledger.site_stock(actor=SYSTEM, site_id=f.site_id) for f in pair]
    assert stock[0] == stock[1] and any(x["stock"] > 0 for x in stock[0])

    def counters(facts: demo_ledger.SiteFacts) -> list[tuple[Any, ...]]:
        ledger_rows = LedgerCounter.objects.filter(site_id=facts.site_id).values_list("prefix", "day", "last_seq")
        label_rows = LabelCounter.objects.filter(enterprise_id=facts.enterprise_id).values_list(
            "waste_code", "day", "last_seq"
        )
        return sorted(ledger_rows) + sorted(label_rows)

    assert counters(bulk) == counters(replayed)
    assert Event.objects.filter(kind="ledger.imported", organisation_id=bulk.enterprise_id).count() == 1
    assert Event.objects.filter(kind__startswith="ledger.", organisation_id=replayed.enterprise_id).count() == len(rows)


def _replay(r: demo_ledger.Row, site_id: int, saved: dict[int, LedgerEntry]) -> LedgerEntry:
    common: dict[str, Any] = {"actor": SYSTEM, "site_id": site_id, "occurred_at": r.at, "handler": r.handler}
    if r.reversal_of is not None:
        return ledger.ledger_reverse(actor=SYSTEM, entry_id=saved[id(r.reversal_of)].id, reason=r.reason)
    if r.kind == Kind.GENERATED:
        assert r.container is not None
        return ledger.ledger_generate(
            **common, waste_code=r.waste_code, quantity=r.entered, unit=r.unit, container_type=r.container.name,
            label=r.labelled, container_litres=r.container.litres, container_count=r.container_count,
            common_name=r.common_name, destination=r.destination,
        )  # fmt: skip
    assert r.source is not None
    moved: dict[str, Any] = {**common, "source_id": saved[id(r.source)].id, "quantity": r.entered, "unit": r.unit}
    if r.kind == Kind.STORED_IN:
        return ledger.ledger_store_in(**moved, facility_id=r.facility_id)
    if r.kind == Kind.STORED_OUT:
        return ledger.ledger_store_out(**moved, facility_id=r.facility_id, destination=r.destination)
    if r.kind == Kind.SELF_TREATED:
        return ledger.ledger_self_treat(**moved, method_code=r.method_code, facility_id=r.facility_id,
                                        finished_at=r.finished_at)  # fmt: skip
    assert r.receiver is not None
    return ledger.ledger_send_out(**moved, method_code=r.method_code, receiver_type="licensed",
                                  receiver_id=r.receiver.enterprise_id, licence_number=r.receiver.number)  # fmt: skip
