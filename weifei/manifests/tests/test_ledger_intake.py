"""The receiver's intake (接收): accepting a manifest writes one 接收 entry per line on the receiver's site
with the accepted tonnes; the consignor's 委外 and the receiver's 接收 reconcile; stock, declarations
and the Annex B export count it. The acceptance itself writes the intake (services._apply calls
``ledger_link.receive`` on accept / accept_partially); calling it again writes nothing."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.manifests import ledger_link
from weifei.manifests.lifecycle import Event
from weifei.manifests.models import Manifest, ManifestLine, State
from weifei.manifests.services import manifest_transition
from weifei.manifests.testing import CODE, World, world
from weifei.plans import ledger, ledger_export
from weifei.plans.declarations import build_content, invariant_breaks
from weifei.plans.models import LedgerEntry
from weifei.plans.stock import stock_ageing_sweep, stock_by_code, stock_containers, stock_findings
from weifei.registry import services as registry
from weifei.registry.models import Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
RECEIVED = LedgerEntry.Kind.RECEIVED


def _go(w: World, m: Manifest, event: str, who: str, **payload: object) -> Manifest:
    return manifest_transition(actor=w.actor(who), manifest_id=m.id, event=event, payload=payload)


def _site(w: World, name: str = "处置中心", roles: tuple[str, ...] = ("operator",)) -> Site:
    return registry.site_create(
        actor=SYSTEM, enterprise=w.receiver, name=name, address="吉林市龙潭区处置路8号", region_key="220202",
        roles=list(roles),
    )  # fmt: skip


def _arrived(w: World, *, containers: int = 2, site: Site | None = None) -> Manifest:
    m = w.manifest(containers=containers, receiver_site_id=site.id if site else None)
    _go(w, m, Event.SUBMIT, "consignor")
    _go(w, m, Event.PICKUP, "driver1", scanned_labels=w.containers[:containers])
    return _go(w, m, Event.ARRIVE, "receiver")


def _intake(m: Manifest) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(kind=RECEIVED, manifest_number=m.number).order_by("id"))


def _sent_for(m: Manifest) -> Decimal:
    ids = [i for c in m.containers.all() for i in c.ledger_entry_ids]
    sent = LedgerEntry.objects.filter(id__in=ids, kind=LedgerEntry.Kind.SENT_OUT)
    return sum((e.quantity_tonnes for e in sent), Decimal(0))


def test_full_acceptance_writes_the_weighed_tonnes_and_reconciles_with_the_consignor() -> None:
    w = world()
    site = _site(w)
    m = _arrived(w, site=site)
    line = ManifestLine.objects.get(manifest=m)
    m = _go(w, m, Event.ACCEPT, "receiver", weights={str(line.id): "0.4"})
    assert (m.state, m.acceptance) == (State.RECEIVED, Manifest.Acceptance.FULL)
    assert ledger_link.receive(m, timezone.now()) == 0  # the acceptance wrote it
    [entry] = _intake(m)
    assert (entry.site_id, entry.kind, entry.waste_code, entry.category) == (site.id, RECEIVED, CODE, "HW08")
    assert entry.quantity_tonnes == Decimal("0.4") == line.declared_tonnes
    assert entry.batch_code.startswith("HWJS") and entry.manifest_number == m.number
    assert entry.container_codes == w.containers[:2] and entry.container_code is None  # two drums on the line
    assert (entry.container_count, entry.container_type) == (2, "铁桶")
    # The consignor's 委外 for this manifest equals the receiver's 接收.
    assert _sent_for(m) == sum(e.quantity_tonnes for e in _intake(m)) == Decimal("0.4")
    # The receiver's stock holds it (an operator's intake) until treated.
    stock = stock_by_code(actor=SYSTEM, site_id=site.id)
    [row] = stock["items"]
    assert (row["received"], row["generated"], row["stock"]) == (Decimal("0.4"), 0, Decimal("0.4"))
    assert stock["totals"]["received"] == Decimal("0.4")
    page = stock_containers(actor=SYSTEM, site_id=site.id)
    assert [i["entry_id"] for i in page["items"]] == [entry.id]
    # Looking a drum up by its label finds the 接收 row that lists it among several.
    found = ledger.entry_list(actor=SYSTEM, site_id=site.id, container_code=w.containers[1].lower())
    assert [e.id for e in found] == [entry.id]
    assert not ledger.entry_list(actor=SYSTEM, site_id=site.id, container_code=w.containers[1][:-1])
    # Kept past the operators' 12-month limit, the finding says when it was received, not generated.
    stock_ageing_sweep(now=timezone.now() + dt.timedelta(days=400), site_ids=[site.id])
    [finding] = stock_findings(actor=SYSTEM, site_id=site.id)
    assert "接收）" in finding.message and "产生）" not in finding.message
    # …and treating it from the 接收 batch (rule 14 now allows it as a source) empties the stock.
    ledger.ledger_self_treat(
        actor=SYSTEM, site_id=site.id, source_id=entry.id, occurred_at=timezone.now(), quantity=Decimal("0.4"),
        method_code="D10",
    )  # fmt: skip
    assert stock_by_code(actor=SYSTEM, site_id=site.id)["items"][0]["stock"] == 0
    assert stock_containers(actor=SYSTEM, site_id=site.id)["items"] == []


def test_weighed_quantity_not_declared_and_a_single_container_code() -> None:
    w = world()
    site = _site(w)
    m = _arrived(w, containers=1, site=site)
    line = ManifestLine.objects.get(manifest=m)
    m = _go(w, m, Event.ACCEPT, "receiver", weights={str(line.id): "0.195"})  # within the 5 % tolerance
    assert ledger_link.receive(m, timezone.now()) == 0  # the acceptance wrote it
    [entry] = _intake(m)
    assert entry.quantity_tonnes == Decimal("0.195")  # what was weighed, not the declared 0.2
    assert (entry.container_code, entry.container_codes, entry.container_count) == (
        w.containers[0], [w.containers[0]], 1,
    )  # fmt: skip


def test_partial_acceptance_writes_received_minus_refused() -> None:
    w = world()
    site = _site(w)
    m = _arrived(w, site=site)
    line = ManifestLine.objects.get(manifest=m)
    _go(w, m, Event.REPORT_DISCREPANCY, "receiver", weights={str(line.id): "0.45"}, kinds=["quantity"],
        description="过磅比联单多 0.05 吨")  # fmt: skip
    m = _go(w, m, Event.ACCEPT_PARTIALLY, "receiver", refused_tonnes="0.05", reason="超出合同量部分拒收")
    assert ledger_link.receive(m, timezone.now()) == 0  # the acceptance wrote it
    assert [e.quantity_tonnes for e in _intake(m)] == [Decimal("0.40")]


def test_accepting_a_discrepancy_in_full_writes_the_weighed_tonnes() -> None:
    w = world()
    site = _site(w)
    m = _arrived(w, site=site)
    line = ManifestLine.objects.get(manifest=m)
    _go(w, m, Event.REPORT_DISCREPANCY, "receiver", weights={str(line.id): "0.36"}, kinds=["quantity"],
        description="过磅比联单少 0.04 吨")  # fmt: skip
    m = _go(w, m, Event.ACCEPT, "receiver")
    assert ledger_link.receive(m, timezone.now()) == 0  # the acceptance wrote it
    assert sum(e.quantity_tonnes for e in _intake(m)) == Decimal("0.36")


def test_receive_is_idempotent() -> None:
    w = world()
    _site(w)
    m = _arrived(w)
    line = ManifestLine.objects.get(manifest=m)
    m = _go(w, m, Event.ACCEPT, "receiver", weights={str(line.id): "0.4"})
    now = timezone.now()
    assert len(_intake(m)) == 1  # written by the acceptance
    assert ledger_link.receive(m, now) == 0
    count, events = LedgerEntry.objects.count(), LedgerEntry.objects.filter(kind=RECEIVED).count()
    assert ledger_link.receive(m, now) == 0
    assert ledger_link.receive(Manifest.objects.get(id=m.id), now) == 0
    assert (LedgerEntry.objects.count(), LedgerEntry.objects.filter(kind=RECEIVED).count()) == (count, events)
    # Reversed (a correction), it may be written again; a reversal is refused once waste was taken from it.
    assert ledger_link.unreceive(m, "更正接受量") == 1
    assert ledger_link.receive(m, now) == 1
    entry = _intake(m)[-1]
    ledger.ledger_store_in(
        actor=SYSTEM, site_id=entry.site_id, source_id=entry.id, occurred_at=timezone.now(), quantity=Decimal("0.1")
    )
    with pytest.raises(ApplicationError) as exc:
        ledger_link.unreceive(m, "更正")
    assert exc.value.code == "entry_consumed"


def test_a_receiver_without_a_site_gets_nothing_written() -> None:
    w = world()  # the world's receivers are registered without sites
    m = _arrived(w)
    line = ManifestLine.objects.get(manifest=m)
    m = _go(w, m, Event.ACCEPT, "receiver", weights={str(line.id): "0.4"})
    before = LedgerEntry.objects.count()
    assert ledger_link.receiver_site_id(m) is None
    assert ledger_link.receive(m, timezone.now()) == 0
    assert LedgerEntry.objects.count() == before
    # A closed site does not count either.
    closed = _site(w, "旧厂区")
    Site.objects.filter(id=closed.id).update(status=Site.Status.CLOSED)
    assert ledger_link.receive(m, timezone.now()) == 0


def test_site_rule_without_a_receiver_site_on_the_manifest() -> None:
    w = world()
    office = _site(w, "办公区", roles=("generator",))
    m = _arrived(w)
    assert m.receiver_site_id is None
    assert ledger_link.receiver_site_id(m) == office.id  # the only active site
    plant = _site(w, "处置中心", roles=("operator",))
    assert ledger_link.receiver_site_id(m) == plant.id  # of several: the first with the 利用处置/收集 role
    m.receiver_site_id = office.id
    assert ledger_link.receiver_site_id(m) == office.id  # the manifest's receiver site wins


def test_a_refused_load_writes_nothing() -> None:
    w = world()
    _site(w)
    m = _go(w, _arrived(w), Event.REJECT, "receiver", reason="包装严重破损")
    assert m.acceptance == Manifest.Acceptance.REJECTED
    assert ledger_link.receive(m, timezone.now()) == 0
    assert _intake(m) == []


def test_refused_tonnes_shared_over_lines_add_up_exactly() -> None:
    m = Manifest(acceptance=Manifest.Acceptance.PARTIAL, refused_tonnes=Decimal("0.1"))
    lines = [
        ManifestLine(declared_tonnes=Decimal(1), received_tonnes=Decimal("1")),
        ManifestLine(declared_tonnes=Decimal(2), received_tonnes=Decimal("2")),
        ManifestLine(declared_tonnes=Decimal(0), received_tonnes=Decimal("0")),
    ]
    accepted = ledger_link.accepted_tonnes(m, lines)
    assert sum(accepted) == Decimal("2.9")
    assert accepted[:2] == [Decimal("0.966667"), Decimal("1.933333")] and accepted[2] == 0
    m.acceptance = Manifest.Acceptance.FULL
    assert ledger_link.accepted_tonnes(m, lines) == [Decimal(1), Decimal(2), Decimal(0)]
    m.acceptance = ""
    assert ledger_link.accepted_tonnes(m, lines) == [0, 0, 0]


def test_declaration_and_annex_export_of_an_operator_with_intake() -> None:
    w = world()
    site = _site(w)
    m = _arrived(w, site=site)
    line = ManifestLine.objects.get(manifest=m)
    m = _go(w, m, Event.ACCEPT, "receiver", weights={str(line.id): "0.4"})
    ledger_link.receive(m, timezone.now())
    today = timezone.localdate()
    content = build_content(site.id, today.replace(day=1), today)
    [row] = content["rows"]
    assert (row["received"], row["generated"], row["opening"], row["closing"]) == (
        "0.400000", "0.000000", "0.000000", "0.400000",
    )  # fmt: skip
    assert invariant_breaks(content["rows"]) == []
    # A producer's rows carry no "received" key (declarations submitted earlier are not made stale).
    assert all("received" not in r for r in build_content(w.site.id, today.replace(day=1), today)["rows"])
    r = ledger_export.ExportRange(site, today - dt.timedelta(days=1), today)
    assert [s.title for s in ledger_export.sheets_for(r)][-1] == "接收"
    counts = ledger_export.export_xlsx(io.BytesIO(), r)
    assert counts["接收"] == 1
    csv_text = "".join(ledger_export.export_csv(r, RECEIVED))
    assert m.number in csv_text and w.containers[0] in csv_text
    producer = ledger_export.ExportRange(w.site, today - dt.timedelta(days=1), today)
    assert "接收" not in [s.title for s in ledger_export.sheets_for(producer)]


def test_receipts_cannot_be_typed_or_imported() -> None:
    w = world()
    site = _site(w)
    with pytest.raises(ApplicationError) as exc:
        ledger.ledger_receive(
            actor=SYSTEM, site_id=site.id, occurred_at=timezone.now(), waste_code=CODE, tonnes=Decimal(1),
            manifest_number=" ",
        )  # fmt: skip
    assert exc.value.code == "manifest_number_required"
    from weifei.plans.ledger_bulk import KINDS

    assert RECEIVED not in KINDS
