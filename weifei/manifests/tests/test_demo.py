"""The demo province's manifests (manifests.demo): one per 委外 shipment and waste class, every row
as the services would have written it — lines, containers, legs and signatures consistent with the
ledger and the lifecycle table, numbers valid and continued by the service, the refused load's
ledger reversed, the audit chain intact, the same seed giving the same manifests. One demo (scale
0.05) is generated for the module; the determinism test runs two more, each rolled back."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create
from weifei.catalog import cache
from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import validate_waste_code
from weifei.core.actors import SYSTEM
from weifei.core.chain import chain_verify
from weifei.core.models import Event
from weifei.core.workdays import add_working_days
from weifei.manifests import ledger_link, lifecycle, services
from weifei.manifests.models import (
    Manifest,
    ManifestContainer,
    ManifestCounter,
    ManifestLeg,
    ManifestLine,
    Signature,
    State,
)
from weifei.manifests.numbering import NUMBER_RE, number_valid, prefecture_of
from weifei.plans import ledger
from weifei.plans.models import LedgerEntry
from weifei.registry.demo import DemoSummary, demo_province_generate
from weifei.registry.models import Driver, Site, Vehicle
from weifei.registry.tests.demo_support import assert_counters_continue_the_codes, demo_module_fixture

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
TODAY = dt.date(2026, 6, 15)
SEED = 2021
Kind = LedgerEntry.Kind
ROWS = {(t.state, t.event, t.role, t.next_state) for t in lifecycle.TABLE}


def _digest() -> list[tuple[Any, ...]]:
    """What the demo wrote, without database ids (they differ between runs)."""
    from weifei.approvals.models import Approval

    # Approval numbers carry a database id: compare what they approve instead.
    approved = {
        a.number: (a.application.receiver_credit_code, a.valid_from, a.valid_to)
        for a in Approval.objects.select_related("application")
    }
    out = []
    manifests = Manifest.objects.select_related("consignor", "receiver").prefetch_related(
        "lines", "containers", "legs__carrier", "legs__vehicle", "signatures"
    )
    for m in manifests.order_by("number"):
        out.append((
            m.number, m.consignor.credit_code, m.receiver.credit_code, m.state, m.transfer_type,
            approved.get(m.approval_reference, m.approval_reference), m.created_at, m.accepted_on, m.refused_tonnes,
            tuple((x.waste_code, x.declared_tonnes, x.received_tonnes) for x in m.lines.all()),
            tuple(sorted(c.label_code for c in m.containers.all())),
            tuple((g.carrier.credit_code, g.vehicle.plate if g.vehicle else "") for g in m.legs.all()),
            tuple((s.event, s.role, s.signed_at, s.from_state, s.to_state) for s in m.signatures.all()),
        ))  # fmt: skip
    return out


def test_same_seed_same_manifests() -> None:
    """Two demos from the same seed write the same manifests (numbers, states, times, labels)."""
    digests = []
    for _ in range(2):
        with transaction.atomic():
            cache.invalidate()
            demo_province_generate(seed=SEED, scale=0.05, today=TODAY)
            digests.append(_digest())
            transaction.set_rollback(True)
        cache.invalidate()
    assert digests[0] and digests[0] == digests[1]


demo = demo_module_fixture(seed=SEED, scale=0.05, today=TODAY)


def test_counts_per_state(demo: DemoSummary) -> None:
    states = Counter(Manifest.objects.values_list("state", flat=True))
    assert demo.manifests == sum(states.values()) > 100
    assert set(states) <= {State.IN_TRANSIT, State.ARRIVED, State.RECEIVED, State.TREATED, State.CLOSED,
                           State.RETURNING, State.REJECTED}  # fmt: skip
    assert states[State.CLOSED] > 0.8 * demo.manifests
    assert states[State.RECEIVED] + states[State.TREATED] > 0
    assert states[State.REJECTED] == 1 and states[State.RETURNING] == 1
    partial = Manifest.objects.filter(acceptance=Manifest.Acceptance.PARTIAL)
    assert all(m.discrepancy["kinds"] and m.refused_tonnes and m.refused_tonnes > 0 for m in partial)
    # The open ones are the last weeks' loads; everything older than two months is closed.
    old = timezone.make_aware(dt.datetime.combine(TODAY - dt.timedelta(days=60), dt.time(0)))
    assert not Manifest.objects.filter(created_at__lt=old).exclude(state=State.CLOSED).exists()
    cross = Manifest.objects.filter(transfer_type=Manifest.TransferType.CROSS_PROVINCE)
    assert cross.exists() and all(m.approval_reference.startswith("吉跨转审") for m in cross)
    assert demo.manifests == Manifest.objects.count()


def test_every_shipment_has_its_manifests(demo: DemoSummary) -> None:
    """Each 委外 record with a label is a container of exactly one manifest, to its receiver; each
    (site, receiver, day, category) of 委外 records is one manifest with the shipment's tonnes."""
    sent = LedgerEntry.objects.filter(kind=Kind.SENT_OUT, reversal_of__isnull=True, reversed_by__isnull=True)
    shipments: dict[tuple[int, int, dt.date, str], Decimal] = defaultdict(Decimal)
    for site_id, receiver_id, at, category, tonnes in sent.values_list(
        "site_id", "receiver_id", "occurred_at", "category", "quantity_tonnes"
    ):
        shipments[(site_id, receiver_id, timezone.localdate(at), category)] += tonnes
    written: dict[tuple[int, int, dt.date, str], Decimal] = defaultdict(Decimal)
    for m in Manifest.objects.prefetch_related("lines", "legs"):
        pickup = m.legs.all()[0].picked_up_at
        for line in m.lines.all():
            written[(m.consignor_site_id, m.receiver_id, timezone.localdate(pickup), line.category)] += (
                line.declared_tonnes
            )
    assert written == shipments
    on_manifests = Counter(
        i for ids in ManifestContainer.objects.values_list("ledger_entry_ids", flat=True) for i in ids
    )
    assert all(n == 1 for n in on_manifests.values())
    labelled = set(sent.filter(container_code__isnull=False).values_list("id", flat=True))
    assert labelled <= set(on_manifests)


def test_lines_containers_legs_signatures_consistent(demo: DemoSummary) -> None:
    entries = {e.id: e for e in LedgerEntry.objects.all()}
    generated = {
        (e.site_id, e.container_code): e
        for e in entries.values()
        if e.kind == Kind.GENERATED and e.container_code and e.reversal_of_id is None
    }
    vehicles = dict(Vehicle.objects.values_list("id", "carrier_id"))
    drivers = dict(Driver.objects.values_list("id", "carrier_id"))
    checked_hash = 0
    manifests = Manifest.objects.select_related("consignor_site").prefetch_related(
        "lines", "containers", "legs", "signatures"
    )
    for m in manifests:
        lines = list(m.lines.all())
        assert lines and len({line.category for line in lines}) == 1, m.number  # one waste class (第十六条)
        for line in lines:
            valid = validate_waste_code(line.waste_code, on=timezone.localdate(m.created_at))
            assert line.category == valid.category and valid.waste_code is not None
            assert line.waste_name == valid.waste_code.description[:200]
            assert line.hazards == ",".join(valid.waste_code.hazards)
            assert line.declared_tonnes > 0
            if m.acceptance in (Manifest.Acceptance.FULL, Manifest.Acceptance.PARTIAL):
                assert line.received_tonnes is not None
                if m.acceptance == Manifest.Acceptance.FULL:
                    assert abs(line.received_tonnes - line.declared_tonnes) <= line.declared_tonnes * Decimal("0.05")
            else:
                assert line.received_tonnes is None
        by_line = {line.id: line for line in lines}
        for c in m.containers.all():
            line = by_line[c.line_id]
            root = generated[(m.consignor_site_id, c.label_code)]  # a 产生 record of the consignor site
            assert root.waste_code == line.waste_code and root.quantity_tonnes == c.tonnes
            last = entries[c.ledger_entry_ids[-1]]
            assert last.kind == Kind.SENT_OUT and last.receiver_id == m.receiver_id
            assert last.container_code == c.label_code and last.site_id == m.consignor_site_id
            assert last.licence_number == m.receiver_licence_number and last.method_code == m.planned_method_code
            if len(c.ledger_entry_ids) == 2:
                assert entries[c.ledger_entry_ids[0]].kind == Kind.STORED_OUT
        legs = list(m.legs.all())
        assert len(legs) == 1 and legs[0].order == 1
        leg = legs[0]
        assert leg.vehicle_id is not None and leg.driver_id is not None
        assert vehicles[leg.vehicle_id] == leg.carrier_id and drivers[leg.driver_id] == leg.carrier_id
        signatures = list(m.signatures.all())
        state: str = State.DRAFT
        for before, s in zip([None, *signatures], signatures, strict=False):
            assert (s.from_state, s.event, s.role, s.to_state) in ROWS, (m.number, s.event)
            assert s.from_state == state and (before is None or before.signed_at <= s.signed_at)
            expected_org = {"consignor": m.consignor_id, "receiver": m.receiver_id, "carrier": leg.carrier_id}
            assert s.organisation_id == expected_org[s.role]
            state = s.to_state
        assert state == m.state and m.state_changed_at == signatures[-1].signed_at
        assert signatures[0].signed_at >= m.created_at
        pickup = next(s for s in signatures if s.event == "pickup")
        assert leg.picked_up_at == pickup.signed_at
        if m.accepted_on is not None:
            assert m.receipt_due_on == add_working_days(m.accepted_on, 5)
        if m.state in (State.TREATED, State.CLOSED):
            assert m.treatment_method == m.planned_method_code and m.treatment_result
        if checked_hash < 60 or m.state != State.CLOSED:  # the service's hash of the final content
            assert signatures[-1].content_hash == services.content_hash(m), m.number
            checked_hash += 1


def test_numbers_valid_unique_and_the_service_continues(demo: DemoSummary) -> None:
    numbers = list(Manifest.objects.order_by("created_at", "id").values_list("number", "consignor_site_id"))
    assert len({n for n, _ in numbers}) == len(numbers) and all(number_valid(n) for n, _ in numbers)
    sites = {s.id: s for s in Site.objects.select_related("region__carved_from")}
    serials: dict[tuple[int, str], list[int]] = defaultdict(list)
    for number, site_id in numbers:
        match = NUMBER_RE.match(number)
        assert match is not None and match.group(2) == prefecture_of(sites[site_id].region)
        serials[(int(match.group(1)), match.group(2))].append(int(match.group(3)))
    for key, values in serials.items():
        assert values == list(range(1, len(values) + 1)), key  # in creation order, no gaps
    counters = {(c.year, c.prefecture): c.last_serial for c in ManifestCounter.objects.all()}
    assert counters == {k: len(v) for k, v in serials.items()}
    # A manifest created afterwards through the service continues its prefecture's serial.
    m = Manifest.objects.filter(state=State.CLOSED).select_related("consignor_site__region__carved_from").first()
    assert m is not None
    year, pref = timezone.localdate().year, prefecture_of(m.consignor_site.region)
    before = counters.get((year, pref), 0)
    carrier = m.legs.get().carrier
    new = services.manifest_create(
        actor=SYSTEM, consignor_site_id=m.consignor_site_id, receiver_id=m.receiver_id,
        lines=[services.LineIn(waste_code=m.lines.all()[0].waste_code, declared_tonnes=Decimal("0.5"))],
        legs=[services.LegIn(carrier_id=carrier.id)], emergency_measures="配备吸附棉", planned_method_code="D10",
    )  # fmt: skip
    assert new.number == f"{year}22{pref}{before + 1:06d}"


def test_refused_loads_and_a_return_confirmed_through_the_service(demo: DemoSummary) -> None:
    """The two refused loads are as the service leaves them; confirming the return through the
    service reverses exactly the pickup's ledger records and the site's stock adds up again."""
    rejected = Manifest.objects.get(state=State.REJECTED)
    assert [s.event for s in rejected.signatures.all()] == ["submit", "pickup", "arrive", "reject"]
    returning = Manifest.objects.select_related("consignor").get(state=State.RETURNING)
    assert [s.event for s in returning.signatures.all()] == ["submit", "pickup", "arrive", "reject", "return"]
    for m in (rejected, returning):
        assert m.acceptance == Manifest.Acceptance.REJECTED and m.refusal_reason and m.containers.exists()
        assert all(c.ledger_entry_ids for c in m.containers.all())  # reversed only when back
    pickup_ids = [i for c in returning.containers.all() for i in c.ledger_entry_ids]
    user = enterprise_user_create(actor=SYSTEM, enterprise=returning.consignor, username="demo-return-admin",
                                  password="Demo-Return-Pa55!", full_name="退回确认", role="admin").user  # fmt: skip
    services.manifest_transition(actor=actor_for(user), manifest_id=returning.id, event="confirm_return")
    returning.refresh_from_db()
    assert returning.state == State.RETURNED
    assert all(c.ledger_entry_ids == [] for c in returning.containers.all())
    reversals = LedgerEntry.objects.filter(reversal_of_id__in=pickup_ids).select_related("reversal_of")
    assert reversals.count() == len(pickup_ids)
    for r in reversals:
        original = r.reversal_of
        assert original is not None
        assert r.quantity_tonnes == -original.quantity_tonnes and r.batch_code == f"{original.batch_code}C"
        assert original.kind in {Kind.SENT_OUT.value, Kind.STORED_OUT.value} and r.reason
        assert r.site_id == returning.consignor_site_id
    # The containers are back in the site's stock, and the stock figures still add up.
    for c in returning.containers.all():
        root = LedgerEntry.objects.get(site=returning.consignor_site, kind=Kind.GENERATED,
                                       container_code=c.label_code, reversal_of__isnull=True)  # fmt: skip
        holders = [root, *LedgerEntry.objects.filter(source=root, kind=Kind.STORED_IN, reversal_of__isnull=True)]
        assert sum((ledger.batch_remaining(h) for h in holders), Decimal(0)) == c.tonnes
    flows = LedgerEntry.objects.filter(site_id=returning.consignor_site_id)
    for row in ledger.site_stock(actor=SYSTEM, site_id=returning.consignor_site_id):
        code = row["waste_code"]

        def total(kinds: tuple[str, ...], code: str = code) -> Decimal:
            return flows.filter(waste_code=code, kind__in=kinds).aggregate(t=Sum("quantity_tonnes"))["t"] or Decimal(0)

        assert row["stock"] == total((Kind.GENERATED, Kind.RECEIVED)) - total((Kind.SENT_OUT, Kind.SELF_TREATED))
    assert chain_verify().ok


def test_one_import_event_per_site_and_the_audit_chain_verifies(demo: DemoSummary) -> None:
    events = list(Event.objects.filter(kind="manifest.imported"))
    per_site = Counter(Manifest.objects.values_list("consignor_site_id", flat=True))
    assert {int(e.subject_id): e.after["manifests"] for e in events} == dict(per_site)
    for e in events:
        site = Site.objects.get(id=int(e.subject_id))
        assert e.organisation_id == site.enterprise_id and e.actor_label == "系统"
        numbers = set(Manifest.objects.filter(consignor_site=site).values_list("number", flat=True))
        assert {e.after["first_number"], e.after["last_number"]} <= numbers
    result = chain_verify()
    assert result.ok, [str(b) for b in result.breaks[:3]]
    assert ManifestLine.objects.count() == sum(1 for _ in ManifestLine.objects.values_list("id"))
    assert ManifestLeg.objects.count() == demo.manifests
    assert Signature.objects.filter(user__isnull=False).count() == 0


def test_cross_province_manifests_use_real_approvals(demo: DemoSummary) -> None:
    """Every cross-province manifest goes to an out-of-province receiver (辽宁、黑龙江) with a licence
    its province issued, and names an existing approval of its consignor and receiver, valid on its
    submission day, whose consumption is exactly the manifests' tonnes, within the approved ones."""
    from weifei.approvals.models import Application, Approval, ApprovalLine, Consumption

    cross = list(
        Manifest.objects.filter(transfer_type=Manifest.TransferType.CROSS_PROVINCE)
        .select_related("receiver__region")
        .prefetch_related("lines", "signatures")
    )
    assert cross
    home = Manifest.objects.exclude(transfer_type=Manifest.TransferType.CROSS_PROVINCE)
    assert not home.exclude(receiver__region__province_code="220000").exists()
    approvals = {a.number: a for a in Approval.objects.select_related("application")}
    consumed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in Consumption.objects.filter(released_at__isnull=True).select_related("line__approval"):
        consumed[(row.line.approval.number, row.line.waste_code)] += row.tonnes
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for m in cross:
        assert m.receiver.region.province_code in ("210000", "230000")
        licence = m.receiver.licences.get()
        assert licence.issuing_authority in ("辽宁省生态环境厅", "黑龙江省生态环境厅")
        assert m.receiver_licence_number == licence.number
        approval = approvals[m.approval_reference]
        app = approval.application
        assert app.status == Application.Status.APPROVED and app.consignor_id == m.consignor_id
        assert app.receiver_credit_code == m.receiver.credit_code
        assert [s.kind for s in app.steps.all()] == ["completeness", "preliminary", "receiving", "decision"]
        submitted = timezone.localdate(next(s.signed_at for s in m.signatures.all() if s.event == "submit"))
        assert approval.valid_from <= submitted <= approval.valid_to
        for line in m.lines.all():
            expected[(approval.number, line.waste_code)] += line.declared_tonnes
    assert consumed == expected
    for approved in ApprovalLine.objects.filter(approval__number__in={m.approval_reference for m in cross}):
        key = (approved.approval.number, approved.waste_code)
        assert approved.consumed_tonnes == expected[key] <= approved.approved_tonnes
    assert demo.manifests > 0 and Approval.objects.count() == len({m.approval_reference for m in cross})


def test_accepted_manifests_have_the_receivers_intake(demo: DemoSummary) -> None:
    """Every accepted manifest (full or partial) whose receiver has a site has its 接收 records on
    ``ledger_link.receiver_site_id``, one per line with ``accepted_tonnes`` (adding up to received,
    or received − refused), at the acceptance, with its number, handler and label codes; refused
    ones and those not accepted yet have none. A treated or closed manifest's intake is used up by
    one 自行利用/处置 record per line at the treatment with the manifest's method; a received one's
    is still in the receiver's stock."""
    intake: dict[str, list[LedgerEntry]] = defaultdict(list)
    for e in LedgerEntry.objects.filter(kind=Kind.RECEIVED).order_by("id"):
        intake[e.manifest_number].append(e)
    used: dict[int, list[LedgerEntry]] = defaultdict(list)
    for e in LedgerEntry.objects.filter(kind=Kind.SELF_TREATED, source__kind=Kind.RECEIVED):
        assert e.source_id is not None
        used[e.source_id].append(e)
    assert demo.ledger_entries <= LedgerEntry.objects.count()
    seen = Counter[str]()
    manifests = Manifest.objects.prefetch_related("lines", "containers", "signatures")
    for m in manifests:
        entries = intake.pop(m.number, [])
        site_id = ledger_link.receiver_site_id(m)
        if m.acceptance not in (Manifest.Acceptance.FULL, Manifest.Acceptance.PARTIAL) or site_id is None:
            assert not entries, m.number
            continue
        seen[m.acceptance] += 1
        lines = m.line_rows()
        received = sum((line.received_tonnes or line.declared_tonnes for line in lines), Decimal(0))
        expected = received - (m.refused_tonnes or 0) if m.acceptance == Manifest.Acceptance.PARTIAL else received
        assert sum((e.quantity_tonnes for e in entries), Decimal(0)) == expected, m.number
        accepted = [(line, t) for line, t in zip(lines, ledger_link.accepted_tonnes(m, lines), strict=True) if t > 0]
        assert len(entries) == len(accepted)
        signed = {s.event: s.signed_at for s in m.signatures.all()}
        accept_at = signed.get("accept") or signed["accept_partially"]
        for e, (line, tonnes) in zip(entries, accepted, strict=True):
            labels = sorted(c.label_code for c in m.containers.all() if c.line_id == line.id)
            assert (e.site_id, e.waste_code, e.category, e.quantity_tonnes) == (
                site_id, line.waste_code, line.category, tonnes,
            )  # fmt: skip
            assert e.occurred_at == accept_at and e.handler == f"联单 {m.number}" and e.source_id is None
            assert e.batch_code[:-3] == f"HWJS{timezone.localdate(accept_at):%Y%m%d}"
            assert (e.container_codes or []) == labels and e.container_code == (labels[0] if len(labels) == 1 else None)
            assert e.container_count == (len(labels) or line.container_count or 1)
            assert e.container_type == line.packaging and e.entered_quantity == tonnes
            if m.state in (State.TREATED, State.CLOSED):
                (treated,) = used[e.id]
                assert treated.occurred_at == signed["treat"] and treated.quantity_tonnes == e.quantity_tonnes
                assert treated.method_code == m.treatment_method and treated.site_id == site_id
                assert treated.batch_code[:6] in ("HWZXLY", "HWZXCZ")
            else:
                assert m.state == State.RECEIVED and not used[e.id] and ledger.batch_remaining(e) == tonnes
    assert not intake  # no 接收 record without its manifest
    assert seen[Manifest.Acceptance.FULL] > 100 and seen[Manifest.Acceptance.PARTIAL] > 0
    assert LedgerEntry.objects.filter(kind=Kind.RECEIVED).count() == _intake_count()


def _intake_count() -> int:
    return sum(
        1
        for m in Manifest.objects.filter(acceptance__in=("full", "partial")).prefetch_related("lines")
        if ledger_link.receiver_site_id(m) is not None
        for t in ledger_link.accepted_tonnes(m, list(m.lines.order_by("id")))
        if t > 0
    )


def test_the_ledger_rules_hold_with_the_intake(demo: DemoSummary) -> None:
    """Rules 12 and 14 recomputed over every row, the 接收 records as roots: batch codes unique and
    of the right prefix and day, sources allowed, on the same site and code and not later; nothing
    taken beyond what a batch holds; per site and code, generated + received − self-treated − sent
    out = what the batches still hold, never negative, as ``site_stock`` says."""
    rows = list(LedgerEntry.objects.order_by("id").values())
    by_id = {r["id"]: r for r in rows}
    methods = {m: k for m, k in DisposalMethod.objects.values_list("code", "kind")}
    taken: dict[int, Decimal] = defaultdict(Decimal)
    reversal: dict[int, Decimal] = defaultdict(Decimal)
    codes: set[tuple[int, str]] = set()
    for r in rows:
        assert (r["site_id"], r["batch_code"]) not in codes
        codes.add((r["site_id"], r["batch_code"]))
        if r["reversal_of_id"] is not None:
            reversal[r["reversal_of_id"]] += r["quantity_tonnes"]
        else:
            prefix = {Kind.SELF_TREATED: ledger.SELF_PREFIXES, Kind.SENT_OUT: ledger.SENT_PREFIXES}.get(r["kind"])
            expected = prefix[methods[r["method_code"]]] if prefix else ledger.PREFIXES[r["kind"]]
            assert r["batch_code"][:-3] == f"{expected}{timezone.localdate(r['occurred_at']):%Y%m%d}"
        if r["source_id"] is not None:
            src = by_id[r["source_id"]]
            assert src["kind"] in ledger.ALLOWED_SOURCES[r["kind"]] and src["reversal_of_id"] is None
            assert src["site_id"] == r["site_id"] and src["waste_code"] == r["waste_code"]
            assert r["occurred_at"] >= src["occurred_at"]
            taken[src["id"]] += r["quantity_tonnes"]
        else:
            assert r["kind"] in ledger.INTAKE_KINDS
    stock: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    held: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        key = (r["site_id"], r["waste_code"])
        if r["kind"] in ledger.INTAKE_KINDS:
            stock[key] += r["quantity_tonnes"]
        elif r["kind"] in (Kind.SELF_TREATED, Kind.SENT_OUT):
            stock[key] -= r["quantity_tonnes"]
        if r["reversal_of_id"] is None:
            left = ledger.remaining(r["quantity_tonnes"] + reversal[r["id"]], [taken[r["id"]]])
            assert left >= 0, r["batch_code"]
            if r["kind"] in (*ledger.INTAKE_KINDS, Kind.STORED_IN, Kind.STORED_OUT):
                held[key] += left
    assert stock == held and all(v >= 0 for v in stock.values())
    receiver_sites = {r["site_id"] for r in rows if r["kind"] == Kind.RECEIVED}
    assert receiver_sites
    for site_id in receiver_sites:
        figures = {x["waste_code"]: x["stock"] for x in ledger.site_stock(actor=SYSTEM, site_id=site_id)}
        assert figures == {c: v for (s, c), v in stock.items() if s == site_id}
    # One ledger.imported event per receiver site, counting its intake and what treated it.
    events = {int(e.subject_id): e.after for e in Event.objects.filter(kind="ledger.imported")
              if e.after.get("source") == "demo-manifests"}  # fmt: skip
    assert set(events) == receiver_sites
    for site_id, after in events.items():
        written = LedgerEntry.objects.filter(site_id=site_id).filter(
            Q(kind=Kind.RECEIVED) | Q(kind=Kind.SELF_TREATED, source__kind=Kind.RECEIVED)
        )
        assert after["entries"] == written.count()
        assert after["received"] == written.filter(kind=Kind.RECEIVED).count()
    assert chain_verify().ok


def test_the_services_continue_after_the_intake(demo: DemoSummary) -> None:
    """The counters hold the last sequence of every site, prefix and day; a 接收 written afterwards
    through ``ledger_link.receive`` on a busy day, and a 自行利用/处置 of a received load, get the
    next codes."""
    counters = assert_counters_continue_the_codes()
    # The busiest intake day: a manifest accepted again that day (its intake removed) gets the next code.
    busiest = max((k for k in counters if k[1] == "HWJS"), key=lambda k: (counters[k], k[2]))
    site_id, _, day = busiest
    last = LedgerEntry.objects.filter(site_id=site_id, kind=Kind.RECEIVED, batch_code__startswith=f"HWJS{day:%Y%m%d}")
    entry = last.order_by("-batch_code").first()
    assert entry is not None
    m = Manifest.objects.get(number=entry.manifest_number)
    before = {e.id for e in LedgerEntry.objects.filter(kind=Kind.RECEIVED, manifest_number=m.number)}
    m.number = "2026220100999999"  # a new manifest with the same lines and containers
    written = ledger_link.receive(m, entry.occurred_at + dt.timedelta(seconds=1))
    assert written == len(before)
    new = list(LedgerEntry.objects.filter(manifest_number=m.number).order_by("id"))
    assert [e.batch_code for e in new] == [
        ledger.batch_code("HWJS", day, counters[busiest] + 1 + i) for i in range(len(new))
    ]
    # A load received but not yet treated: its receiver treats it through the service.
    open_load = (
        Manifest.objects.filter(state=State.RECEIVED, acceptance=Manifest.Acceptance.FULL)
        .exclude(receiver_site__isnull=True)
        .first()
    )
    assert open_load is not None
    src = LedgerEntry.objects.filter(kind=Kind.RECEIVED, manifest_number=open_load.number).first()
    assert src is not None
    at = src.occurred_at + dt.timedelta(hours=1)
    method = DisposalMethod.objects.get(code=open_load.planned_method_code)
    prefix = ledger.SELF_PREFIXES[method.kind]
    seq = counters.get((src.site_id, prefix, timezone.localdate(at)), 0)
    treated = ledger.ledger_self_treat(
        actor=SYSTEM, site_id=src.site_id, source_id=src.id, occurred_at=at, quantity=src.quantity_tonnes,
        method_code=method.code,
    )  # fmt: skip
    assert treated.batch_code == ledger.batch_code(prefix, timezone.localdate(at), seq + 1)
    assert ledger.batch_remaining(src) == 0
