"""Corrections: direct while only the consignor has signed; afterwards a revision request that keeps
initial and proposed values, needs every other signed party, and applies as a new version."""

from __future__ import annotations

from decimal import Decimal

import pytest

from weifei.core.errors import ApplicationError
from weifei.core.models import Event as LogEvent
from weifei.manifests.lifecycle import Event
from weifei.manifests.models import ManifestLine, RevisionRequest
from weifei.manifests.revisions import revision_decide, revision_request, revision_withdraw
from weifei.manifests.services import manifest_transition
from weifei.manifests.testing import world

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


def test_before_a_second_signature_the_consignor_corrects_directly() -> None:
    w = world()
    m = w.manifest(containers=1)
    manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event=Event.SUBMIT)
    line = ManifestLine.objects.get(manifest=m)
    req = revision_request(
        actor=w.actor("consignor"),
        manifest_id=m.id,
        reason="包装方式填错",
        changes=[{"target": f"line:{line.id}", "field": "packaging", "proposed": "吨袋"}],
    )
    assert (req.status, req.required, req.version_after, req.corrected_promptly) == ("approved", [], 2, True)
    line.refresh_from_db()
    assert line.packaging == "吨袋"
    assert req.changes == [{"target": f"line:{line.id}", "field": "packaging", "initial": "铁桶", "proposed": "吨袋"}]


def test_after_pickup_every_other_signed_party_approves_then_a_new_version() -> None:
    w = world()
    m = w.manifest(containers=1)
    manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event=Event.SUBMIT)
    manifest_transition(
        actor=w.actor("driver1"), manifest_id=m.id, event=Event.PICKUP, payload={"scanned_labels": w.containers[:1]}
    )
    line = ManifestLine.objects.get(manifest=m)
    req = revision_request(
        actor=w.actor("consignor"),
        manifest_id=m.id,
        reason="过磅后更正移出量",
        changes=[{"target": f"line:{line.id}", "field": "declared_tonnes", "proposed": "0.21"}],
    )
    assert req.status == "pending" and req.required == [w.carrier1.id]
    line.refresh_from_db()
    assert line.declared_tonnes == Decimal("0.2")  # nothing applied yet
    with pytest.raises(ApplicationError) as exc:  # the requester cannot approve its own request
        revision_decide(actor=w.actor("consignor"), revision_id=req.id, approve=True)
    assert exc.value.status == 403
    with pytest.raises(ApplicationError) as exc:  # a second request waits for the first
        revision_request(
            actor=w.actor("consignor"),
            manifest_id=m.id,
            reason="x",
            changes=[{"target": "manifest", "field": "emergency_measures", "proposed": "新措施"}],
        )
    assert exc.value.code == "revision_pending"
    done = revision_decide(actor=w.actor("carrier1"), revision_id=req.id, approve=True)
    assert (done.status, done.version_before, done.version_after, done.corrected_promptly) == ("approved", 1, 2, True)
    line.refresh_from_db()
    assert line.declared_tonnes == Decimal("0.21")
    kinds = list(
        LogEvent.objects.filter(kind__startswith="manifest.revis").order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["manifest.revision_requested", "manifest.revised"]


def test_refusal_needs_a_comment_and_withdrawal_by_the_requester_only() -> None:
    w = world()
    m = w.manifest(containers=1)
    manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event=Event.SUBMIT)
    manifest_transition(
        actor=w.actor("driver1"), manifest_id=m.id, event=Event.PICKUP, payload={"scanned_labels": w.containers[:1]}
    )
    change = [{"target": "leg:1", "field": "end_point", "proposed": "吉林市危废处置中心"}]
    req = revision_request(actor=w.actor("carrier1"), manifest_id=m.id, reason="终点写错", changes=change)
    assert req.required == [w.consignor.id]
    with pytest.raises(ApplicationError) as exc:
        revision_decide(actor=w.actor("consignor"), revision_id=req.id, approve=False)
    assert exc.value.code == "comment_required"
    refused = revision_decide(actor=w.actor("consignor"), revision_id=req.id, approve=False, comment="终点无误")
    assert refused.status == "refused"
    again = revision_request(actor=w.actor("carrier1"), manifest_id=m.id, reason="再次申请", changes=change)
    with pytest.raises(ApplicationError):
        revision_withdraw(actor=w.actor("consignor"), revision_id=again.id)
    assert revision_withdraw(actor=w.actor("carrier1"), revision_id=again.id).status == "withdrawn"
    assert RevisionRequest.objects.filter(manifest=m).count() == 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"target": "line:999999", "field": "packaging", "proposed": "x"}, "revision_target"),
        ({"target": "manifest", "field": "number", "proposed": "x"}, "revision_field"),
        ({"target": "manifest", "field": "emergency_measures", "proposed": " "}, "revision_value"),
        ({"target": "leg:1", "field": "vehicle_id", "proposed": "0"}, "revision_value"),
    ],
)
def test_bad_revisions_are_refused(change: dict[str, str], code: str) -> None:
    w = world()
    m = w.manifest(containers=1)
    with pytest.raises(ApplicationError) as exc:
        revision_request(actor=w.actor("consignor"), manifest_id=m.id, reason="x", changes=[change])
    assert exc.value.code == code
    assert not RevisionRequest.objects.exists()
