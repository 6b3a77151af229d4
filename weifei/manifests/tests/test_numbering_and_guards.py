"""Manifest numbers (第十五条) and one test per guard of the lifecycle table: each refusal names its
rule, writes nothing, and the same step succeeds once the cause is gone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from weifei.catalog.models import Region
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.manifests.lifecycle import Event
from weifei.manifests.models import Manifest, ManifestLine, Signature, State
from weifei.manifests.numbering import manifest_number, number_valid, prefecture_of
from weifei.manifests.services import manifest_transition
from weifei.manifests.testing import World, world
from weifei.plans.models import LedgerEntry
from weifei.registry.models import Driver, Licence

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("key", "prefecture"),
    [("220102", "01"), ("222401", "24"), ("220581", "05"), ("changbaishan-chibei", "24"),
     ("changbaishan-chixi", "06"), ("changbaishan-chinan", "06")],
)  # fmt: skip
def test_prefecture_of_each_kind_of_region(key: str, prefecture: str) -> None:
    assert prefecture_of(Region.objects.get(key=key)) == prefecture


def test_changbaishan_itself_and_the_province_are_not_numbered() -> None:
    for key in ("changbaishan", "220000"):
        with pytest.raises(ApplicationError) as exc:
            prefecture_of(Region.objects.get(key=key))
        assert exc.value.code == "region_not_numbered"


def test_number_format() -> None:
    assert manifest_number(2026, "01", 1) == "20262201000001"
    assert number_valid("20262224999999") and not number_valid("20262209000001") and not number_valid("2026220100001")
    with pytest.raises(ApplicationError):
        manifest_number(2026, "01", 1_000_000)


def test_numbers_run_per_prefecture_and_year() -> None:
    w = world()
    first, second = w.manifest(containers=1), w.manifest(containers=0, tonnes="1")
    year = timezone.localdate().year
    assert (first.number, second.number) == (f"{year}2201000001", f"{year}2201000002")


# ---------------------------------------------------------------- guards


def _refused(w: World, m: Manifest, event: str, who: str, code: str, payload: dict | None = None) -> None:
    before = (Manifest.objects.get(id=m.id).state, Signature.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(ApplicationError) as exc:
        manifest_transition(actor=w.actor(who), manifest_id=m.id, event=event, payload=payload or {})
    assert exc.value.code == code, exc.value.message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)
    assert (Manifest.objects.get(id=m.id).state, Signature.objects.count(), LedgerEntry.objects.count()) == before


def _go(w: World, m: Manifest, event: str, who: str, **payload: object) -> Manifest:
    return manifest_transition(actor=w.actor(who), manifest_id=m.id, event=event, payload=payload)


def _arrived(w: World) -> Manifest:
    m = w.manifest(containers=2)
    _go(w, m, Event.SUBMIT, "consignor")
    _go(w, m, Event.PICKUP, "driver1", scanned_labels=w.containers[:2])
    return _go(w, m, Event.ARRIVE, "receiver")


def test_submit_guards_plan_contract_licence_and_carrier() -> None:
    w = world(plan_tonnes="0.3")
    m = w.manifest(containers=2)  # 0.4 t, the plan's A.7 allows 0.3 t
    _refused(w, m, Event.SUBMIT, "consignor", "plan_covers")
    with override_settings(MANIFEST_PLAN_POLICY="warn"):
        _go(w, m, Event.SUBMIT, "consignor")
    m.refresh_from_db()
    assert m.state == State.SUBMITTED and "管理计划" in m.warnings[0]


def test_submit_refused_with_an_expired_driver_certificate() -> None:
    w2 = world()
    Driver.objects.filter(id=w2.drivers["c1"].id).update(certificate_valid_until=dt.date(2020, 1, 1))
    m2 = w2.manifest(containers=1)
    _refused(w2, m2, Event.SUBMIT, "consignor", "carrier_permits_valid")


def test_contract_and_receiver_licence_guards() -> None:
    w = world()
    from weifei.registry.models import Contract

    Contract.objects.filter(party_b=w.receiver).update(valid_to=dt.date(2020, 12, 31))
    m = w.manifest(containers=1)
    _refused(w, m, Event.SUBMIT, "consignor", "contract_valid")
    Contract.objects.filter(party_b=w.receiver).update(valid_to=timezone.localdate() + dt.timedelta(days=30))
    Licence.objects.filter(holder=w.receiver).update(status="suspended")
    _refused(w, m, Event.SUBMIT, "consignor", "receiver_licensed")


def test_licence_lapsing_between_submission_and_pickup_refuses_loading() -> None:
    w = world()
    m = w.manifest(containers=1)
    _go(w, m, Event.SUBMIT, "consignor")
    Licence.objects.filter(holder=w.receiver).update(status="revoked")
    _refused(w, m, Event.PICKUP, "driver1", "receiver_licensed", {"scanned_labels": w.containers[:1]})


def test_receiver_scale_counts_manifests_in_flight() -> None:
    w = world(plan_tonnes="5000")
    Licence.objects.filter(holder=w.receiver).update(annual_capacity_tonnes=Decimal("1.5"))
    first = w.manifest(containers=0, tonnes="1")
    _go(w, first, Event.SUBMIT, "consignor")
    second = w.manifest(containers=0, tonnes="1")
    _refused(w, second, Event.SUBMIT, "consignor", "receiver_licensed")
    _go(w, first, Event.CANCEL, "consignor")  # a cancelled manifest no longer counts
    _go(w, second, Event.SUBMIT, "consignor")


def test_loading_check_labels_and_payload() -> None:
    w = world(plan_tonnes="100")
    m = w.manifest(containers=2)
    _go(w, m, Event.SUBMIT, "consignor")
    _refused(w, m, Event.PICKUP, "driver1", "labels_match", {"scanned_labels": w.containers[:1]})
    _refused(w, m, Event.PICKUP, "driver1", "labels_match", {"scanned_labels": w.containers[:3]})
    heavy = w.manifest(containers=0, tonnes="12")  # the vehicle carries 10 t
    _go(w, heavy, Event.SUBMIT, "consignor")
    _refused(w, heavy, Event.PICKUP, "driver1", "within_payload")
    after = _go(w, m, Event.PICKUP, "driver1", scanned_labels=[c.lower() for c in w.containers[:2]])
    assert after.state == State.IN_TRANSIT


def test_pickup_writes_the_consignors_ledger_and_a_return_reverses_it() -> None:
    w = world()
    m = w.manifest(containers=2)
    _go(w, m, Event.SUBMIT, "consignor")
    _go(w, m, Event.PICKUP, "driver1", scanned_labels=w.containers[:2])
    sent = LedgerEntry.objects.filter(site=w.site, kind="sent_out", reversal_of__isnull=True)
    assert sent.count() == 2 and {e.receiver_id for e in sent} == {w.receiver.id}
    assert {e.licence_number for e in sent} == {"吉危许联单04"}
    assert sum(e.quantity_tonnes for e in sent) == Decimal("0.4")
    _go(w, m, Event.ARRIVE, "receiver")
    _go(w, m, Event.REJECT, "receiver", reason="包装严重破损")
    _go(w, m, Event.RETURN, "consignor")
    _go(w, m, Event.CONFIRM_RETURN, "consignor")
    assert LedgerEntry.objects.filter(site=w.site, kind="sent_out", reversal_of__isnull=False).count() == 2
    from weifei.plans.ledger import site_stock

    stock = {r["waste_code"]: r["stock"] for r in site_stock(actor=SYSTEM, site_id=w.site.id)}
    assert stock["900-249-08"] == Decimal("1.2")  # all six drums back on site


def test_handover_and_arrival_guards() -> None:
    w = world()
    m = w.manifest(legs=2, containers=1)
    _go(w, m, Event.SUBMIT, "consignor")
    _go(w, m, Event.PICKUP, "driver1", scanned_labels=w.containers[:1])
    _refused(w, m, Event.ARRIVE, "receiver", "on_last_leg")
    _refused(w, m, Event.HAND_OVER, "carrier2", "handover_place_given", {"handover_place": " "})
    _go(w, m, Event.HAND_OVER, "carrier2", handover_place="长春东收费站")
    _refused(w, m, Event.HAND_OVER, "carrier2", "transition_not_allowed", {"handover_place": "x"})
    assert _go(w, m, Event.ARRIVE, "carrier2").state == State.ARRIVED


def test_receiving_guards_weights_tolerance_discrepancy_refusal() -> None:
    w = world()
    m = _arrived(w)
    line = ManifestLine.objects.get(manifest=m)
    _refused(w, m, Event.ACCEPT, "receiver", "weights_given", {"weights": {}})
    _refused(w, m, Event.ACCEPT, "receiver", "weights_given", {"weights": {str(line.id): "-1"}})
    _refused(w, m, Event.ACCEPT, "receiver", "within_tolerance", {"weights": {str(line.id): "0.45"}})  # +12.5 %
    _refused(w, m, Event.REPORT_DISCREPANCY, "receiver", "discrepancy_described",
             {"weights": {str(line.id): "0.45"}, "kinds": ["colour"], "description": "x"})  # fmt: skip
    _go(w, m, Event.REPORT_DISCREPANCY, "receiver", weights={str(line.id): "0.45"}, kinds=["quantity"],
        description="过磅比联单多 0.05 吨")  # fmt: skip
    _refused(w, m, Event.ACCEPT_PARTIALLY, "receiver", "refusal_valid", {"refused_tonnes": "0.45", "reason": "超量"})
    done = _go(w, m, Event.ACCEPT_PARTIALLY, "receiver", refused_tonnes="0.05", reason="超出合同量部分拒收")
    assert (done.state, done.acceptance, done.refused_tonnes) == (State.RECEIVED, "partial", Decimal("0.05"))
    assert done.receipt_due_on is not None and done.accepted_on is not None
    assert done.receipt_due_on > done.accepted_on
    _refused(w, m, Event.TREAT, "receiver", "method_valid", {"method_code": "Z99", "result": "x"})
    _go(w, m, Event.TREAT, "receiver", method_code="D10", result="焚烧完毕")
    assert _go(w, m, Event.CLOSE, "consignor").state == State.CLOSED


def test_escalation_after_the_waiting_time_only() -> None:
    w = world()
    m = w.manifest(containers=1)
    _go(w, m, Event.SUBMIT, "consignor")
    _refused(w, m, Event.PICKUP, "regulator", "reason_given")
    _refused(w, m, Event.PICKUP, "regulator", "escalation_due", {"reason": "承运人拒不签收"})
    Manifest.objects.filter(id=m.id).update(state_changed_at=timezone.now() - dt.timedelta(days=10))
    done = _go(w, m, Event.PICKUP, "regulator", reason="承运人已实际装载但拒不签收，现场核实后代签")
    assert done.state == State.IN_TRANSIT
    sig = Signature.objects.get(manifest=m, event=Event.PICKUP)
    assert (sig.role, sig.reason) == ("regulator", "承运人已实际装载但拒不签收，现场核实后代签")


def test_cross_province_needs_its_approval_reference() -> None:
    w = world()
    m = w.manifest(containers=1, transfer_type="cross_province")
    _refused(w, m, Event.SUBMIT, "consignor", "approval_valid")


# ---------------------------------------------------------------- deadlines in working days


def test_paper_fallback_entered_late_after_ten_working_days() -> None:
    from weifei.core.models import Event as LogEvent
    from weifei.core.workdays import add_working_days

    w = world()
    today = timezone.localdate()
    on_time = w.manifest(containers=0, tonnes="1", paper_completed_on=add_working_days(today, -10))
    late = w.manifest(containers=0, tonnes="1", paper_completed_on=add_working_days(today, -11))
    assert (on_time.paper_fallback, on_time.paper_entered_late) == (True, False)
    assert (late.paper_fallback, late.paper_entered_late) == (True, True)
    assert LogEvent.objects.filter(kind="manifest.paper_entered_late").count() == 1
    with pytest.raises(ApplicationError) as exc:
        w.manifest(containers=0, tonnes="1", paper_completed_on=today + dt.timedelta(days=1))
    assert exc.value.code == "completed_in_future"


def test_receipt_overdue_after_five_working_days_once() -> None:
    from weifei.core.models import Event as LogEvent
    from weifei.core.workdays import add_working_days
    from weifei.manifests.services import manifests_sweep

    w = world()
    m = _arrived(w)
    arrived = timezone.localdate(Manifest.objects.get(id=m.id).state_changed_at)
    due = add_working_days(arrived, 5)
    at_due = dt.datetime.combine(due, dt.time(23, 0), tzinfo=timezone.get_current_timezone())
    assert manifests_sweep(actor=SYSTEM, now=at_due) == {"raised": 0}
    after = at_due + dt.timedelta(days=1, hours=2)
    while add_working_days(timezone.localdate(after), 0) != timezone.localdate(after):
        after += dt.timedelta(days=1)  # the first working day after the due date
    assert manifests_sweep(actor=SYSTEM, now=after) == {"raised": 1}
    assert manifests_sweep(actor=SYSTEM, now=after) == {"raised": 0}
    event = LogEvent.objects.get(kind="manifest.receipt_overdue")
    assert event.after["due_on"] == due.isoformat()


def test_every_party_is_notified_at_each_hand_off_and_the_receiving_region_on_a_discrepancy() -> None:
    from weifei.notify.models import Notification

    w = world()
    m = w.manifest(containers=1)
    _go(w, m, Event.SUBMIT, "consignor")
    told = set(Notification.objects.filter(event="manifest.submitted").values_list("user__username", flat=True))
    assert {"m_carrier1", "m_driver1", "m_receiver", "m_receiver_b"} <= told
    assert "m_consignor" not in told  # not told about what one did oneself
    assert "m_receiver2" not in told and "m_regulator" not in told
    _go(w, m, Event.PICKUP, "driver1", scanned_labels=w.containers[:1])
    _go(w, m, Event.ARRIVE, "receiver")
    line = ManifestLine.objects.get(manifest=m)
    _go(w, m, Event.REPORT_DISCREPANCY, "receiver", weights={str(line.id): "0.1"}, kinds=["quantity"],
        description="少了一半")  # fmt: skip
    reported = Notification.objects.filter(event="manifest.discrepancy_reported")
    assert reported.filter(user__username="m_consignor").exists()
    # the receiver is in 220202; the regulator of 220102 (the consignor's county) is not its authority
    assert not reported.filter(user__username="m_regulator").exists()
