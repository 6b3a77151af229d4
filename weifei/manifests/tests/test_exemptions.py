"""豁免清单 on manifests (regulations.md §4.3): a line may cite an item and stage of the exemption list
in force; only the guards of that stage are relaxed, and the manifest says so in its warnings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings

from weifei.core.errors import ApplicationError
from weifei.manifests.lifecycle import Event
from weifei.manifests.models import Manifest, State
from weifei.manifests.services import LineIn, manifest_transition
from weifei.manifests.testing import CODE, World, world
from weifei.registry.models import Contract, Driver, Licence, LicenceScope

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


def _line(code: str = CODE, seq: int | None = None, stage: str = "", tonnes: str = "1") -> LineIn:
    return LineIn(waste_code=code, declared_tonnes=Decimal(tonnes), exemption_seq=seq, exemption_stage=stage)


def _submit(w: World, m: Manifest) -> Manifest:
    return manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event=Event.SUBMIT, payload={})


@pytest.mark.parametrize(
    ("seq", "stage", "says"),
    [
        (8, "运输", "没有“运输”环节"),  # item 8 (iron oil drums) exempts utilization only
        (18, "运输", "不适用于 900-249-08"),  # item 18 is lead-acid batteries
        (1, "全部环节", "未列代码"),  # household waste names no code
        (8, "", "同时填写"),
        (None, "利用", "同时填写"),
        (8, "回收", "同时填写"),
    ],
)
def test_a_claim_must_name_an_item_and_stage_that_cover_the_code(seq: int | None, stage: str, says: str) -> None:
    w = world()
    with pytest.raises(ApplicationError) as exc:
        w.manifest(containers=0, lines=[_line(seq=seq, stage=stage)])
    assert exc.value.code == "exemption_claim"
    assert exc.value.field == "lines[0].exemption_seq"
    assert says in exc.value.message
    assert not Manifest.objects.exists()


def test_a_valid_claim_is_stored_on_the_line() -> None:
    w = world()
    m = w.manifest(containers=0, lines=[_line(seq=8, stage="利用")])
    (line,) = m.lines.all()
    assert (line.exemption_seq, line.exemption_stage) == (8, "利用")


def test_utilization_exemption_relaxes_the_receiver_licence_only_for_utilization() -> None:
    w = world()
    Licence.objects.filter(holder=w.receiver).update(status="suspended")
    # Disposal (D10) is not the exempted stage: the licence is still required.
    disposal = w.manifest(containers=0, lines=[_line(seq=8, stage="利用")])
    with pytest.raises(ApplicationError) as exc:
        _submit(w, disposal)
    assert exc.value.code == "receiver_licensed"
    # Utilization (R4): exempt, submitted with a warning naming the item.
    use = w.manifest(containers=0, lines=[_line(seq=8, stage="利用")], planned_method_code="R4")
    use = _submit(w, use)
    use.refresh_from_db()
    assert use.state == State.SUBMITTED
    assert any("豁免清单第 8 项" in warning for warning in use.warnings)
    # The other guards still hold: without a contract the exempt line is refused all the same.
    Contract.objects.filter(party_b=w.receiver).update(valid_to=dt.date(2020, 12, 31))
    again = w.manifest(containers=0, lines=[_line(seq=8, stage="利用")], planned_method_code="R4")
    with pytest.raises(ApplicationError) as exc:
        _submit(w, again)
    assert exc.value.code == "contract_valid"


@override_settings(MANIFEST_PLAN_POLICY="warn")
def test_transport_exemption_relaxes_carrier_permits_only() -> None:
    w = world()
    batteries = "900-052-31"  # item 18: unbroken lead-acid batteries, exempt for transport
    Contract.objects.filter(party_b=w.receiver).update(waste_codes=[CODE, batteries])
    licence = Licence.objects.get(holder=w.receiver)
    LicenceScope.objects.create(licence=licence, category="HW31", annual_tonnes=Decimal(100))
    Driver.objects.filter(id=w.drivers["c1"].id).update(certificate_valid_until=dt.date(2020, 1, 1))

    plain = w.manifest(containers=0, lines=[_line(batteries)])
    with pytest.raises(ApplicationError) as exc:
        _submit(w, plain)
    assert exc.value.code == "carrier_permits_valid"

    exempt = _submit(w, w.manifest(containers=0, lines=[_line(batteries, seq=18, stage="运输")]))
    exempt = manifest_transition(
        actor=w.actor("driver1"), manifest_id=exempt.id, event=Event.PICKUP, payload={"scanned_labels": []}
    )
    exempt.refresh_from_db()
    assert exempt.state == State.IN_TRANSIT
    notes = [x for x in exempt.warnings if "运输环节" in x]
    assert len(notes) == 1 and "第 18 项" in notes[0]  # said once, though both steps checked it

    # One line not exempt for transport: the vehicle carries hazardous waste, permits are checked.
    mixed = w.manifest(containers=0, lines=[_line(batteries, seq=18, stage="运输"), _line(CODE)])
    with pytest.raises(ApplicationError) as exc:
        _submit(w, mixed)
    assert exc.value.code == "carrier_permits_valid"
