"""Manifest pages: list and registers, the wizard, detail with the allowed actions, the driver's
scan page, the receiver's weigh-in page — each for the right roles, refusals shown, nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.core.models import Event as LogEvent
from weifei.manifests.models import Manifest, Signature, State
from weifei.manifests.services import manifest_transition
from weifei.manifests.testing import CODE, World, world
from weifei.registry import services as registry
from weifei.registry.models import Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


@pytest.fixture
def w() -> World:
    return world()


def _client(w: World, name: str) -> Client:
    c = Client()
    force_login(c, w.users[name])
    return c


def _messages(response: object) -> list[str]:
    return [str(m) for m in response.context["messages"]]  # type: ignore[attr-defined]


def test_list_filters_and_registers(w: World) -> None:
    m1 = w.manifest(containers=2)
    m2 = w.manifest(containers=0, tonnes="0.2")
    manifest_transition(actor=w.actor("consignor"), manifest_id=m2.id, event="cancel")
    c = _client(w, "consignor")
    page = c.get("/manifests/").content.decode()
    assert m1.number in page and m2.number in page
    page = c.get("/manifests/?state=draft").content.decode()
    assert m1.number in page and m2.number not in page
    page = c.get(f"/manifests/?q={m2.number}").content.decode()
    assert m2.number in page and m1.number not in page
    assert m1.number in c.get("/manifests/?role=consignor").content.decode()
    assert m1.number not in c.get("/manifests/?role=receiver").content.decode()
    assert m1.number in c.get("/manifests/?register=outgoing").content.decode()
    assert m1.number not in c.get("/manifests/?register=incoming").content.decode()
    # the receiver's incoming register holds it; the carrier's transported one too
    assert m1.number in _client(w, "receiver").get("/manifests/?register=incoming").content.decode()
    assert m1.number in _client(w, "driver1").get("/manifests/?register=transported").content.decode()
    # an uninvolved receiver and a regulator elsewhere see nothing
    assert m1.number not in _client(w, "receiver2").get("/manifests/").content.decode()
    assert m1.number not in _client(w, "regulator_elsewhere").get("/manifests/").content.decode()
    assert m1.number in _client(w, "regulator").get("/manifests/").content.decode()


def _wizard_post(w: World, **over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "site_id": w.site.id,
        "receiver_id": w.receiver.id,
        "transfer_type": "in_province",
        "shipper": "consignor",
        "planned_method_code": "D10",
        "line-0-waste_code": CODE,
        "line-0-tonnes": "",
        "line-0-packaging": "铁桶",
        "labels": w.containers[:2],
        "labels_text": "",
        "leg-0-carrier": w.carrier1.id,
        "leg-0-vehicle": w.vehicles["c1"].id,
        "leg-0-driver": w.drivers["c1"].id,
        "emergency_measures": "吸附棉、灭火器",
    }
    data.update(over)
    return data


def test_wizard_lists_containers_and_creates_a_draft(w: World) -> None:
    c = _client(w, "consignor")
    page = c.get(f"/manifests/new/?site_id={w.site.id}").content.decode()
    for code in w.containers:
        assert code in page
    assert w.receiver.name in page and w.carrier1.name in page
    response = c.post("/manifests/new/", _wizard_post(w))
    m = Manifest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/manifests/{m.id}/"
    assert m.state == State.DRAFT and m.consignor_site_id == w.site.id
    line = m.lines.get()
    assert line.declared_tonnes == Decimal("0.4")  # summed from the two picked containers
    assert sorted(m.containers.values_list("label_code", flat=True)) == sorted(w.containers[:2])
    # picked containers are no longer offered; typed codes (QR URLs) are accepted
    page = c.get(f"/manifests/new/?site_id={w.site.id}").content.decode()
    assert w.containers[0] not in page and w.containers[2] in page
    response = c.post(
        "/manifests/new/",
        _wizard_post(w, labels=[], labels_text=f"http://x/labels/{w.containers[2]}/ {w.containers[3].lower()}"),
    )
    assert response.status_code == 302
    assert Manifest.objects.count() == 2
    m2 = Manifest.objects.exclude(id=m.id).get()
    assert set(m2.containers.values_list("label_code", flat=True)) == {w.containers[2], w.containers[3]}


def test_wizard_refusals_are_shown_and_nothing_written(w: World) -> None:
    c = _client(w, "consignor")
    response = c.post("/manifests/new/", _wizard_post(w, emergency_measures=""))
    assert response.status_code == 400
    assert any("突发环境事件防范措施" in x for x in _messages(response))
    response = c.post(
        "/manifests/new/", _wizard_post(w, labels=[], labels_text="NOT-A-LABEL", **{"line-0-tonnes": "0.2"})
    )
    assert response.status_code == 400
    assert any("不是本场所台账中的容器" in x for x in _messages(response))
    assert "NOT-A-LABEL" in response.content.decode()  # the form keeps what was typed
    assert not Manifest.objects.exists()
    # readers, drivers and regulators cannot create
    for name in ("consignor_reader", "regulator"):
        assert _client(w, name).get("/manifests/new/").status_code == 403
        assert _client(w, name).post("/manifests/new/", _wizard_post(w)).status_code == 403
    # a receiver's admin cannot create from the consignor's site: the site is not offered
    response = _client(w, "receiver").post("/manifests/new/", _wizard_post(w))
    assert response.status_code == 302 and not Manifest.objects.exists()


def test_detail_shows_actions_per_role_and_submit_works(w: World) -> None:
    m = w.manifest()
    c = _client(w, "consignor")
    page = c.get(f"/manifests/{m.id}/").content.decode()
    assert 'data-testid="event-submit"' in page and 'data-testid="event-cancel"' in page
    assert w.consignor.credit_code in page and w.receiver.credit_code in page and "废矿物油" in page
    assert w.containers[0] in page
    # the reader sees the manifest but no actions
    page = _client(w, "consignor_reader").get(f"/manifests/{m.id}/").content.decode()
    assert m.number in page and 'data-testid="event-submit"' not in page
    # a reader's POST is refused (403), nothing written
    assert _client(w, "consignor_reader").post(f"/manifests/{m.id}/events/submit/").status_code == 403
    # a stranger gets 404
    assert _client(w, "receiver2").get(f"/manifests/{m.id}/").status_code == 404
    assert _client(w, "receiver2").post(f"/manifests/{m.id}/events/submit/").status_code == 404
    # the receiver may not submit: a Chinese message, state unchanged
    response = _client(w, "receiver").post(f"/manifests/{m.id}/events/submit/", follow=True)
    assert any("不能进行“提交”" in x for x in _messages(response))
    m.refresh_from_db()
    assert m.state == State.DRAFT and not Signature.objects.exists()
    response = c.post(f"/manifests/{m.id}/events/submit/", follow=True)
    assert any("已提交" in x for x in _messages(response))
    m.refresh_from_db()
    assert m.state == State.SUBMITTED
    page = response.content.decode()
    assert "manifest.submit" in page  # the history
    assert Signature.objects.get().role == "consignor"
    assert 'data-testid="signatures"' in page and "移出人" in page


def test_driver_scans_and_signs_pickup(w: World) -> None:
    m = w.manifest(containers=2)
    manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event="submit")
    d = _client(w, "driver1")
    page = d.get(f"/manifests/{m.id}/driver/").content.decode()
    assert 'data-testid="pickup-form"' in page and w.containers[0] in page and w.containers[1] in page
    # one label missing: refused with the rule, nothing written
    response = d.post(
        f"/manifests/{m.id}/events/pickup/", {"scanned_text": w.containers[0], "next": "driver"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/manifests/{m.id}/driver/"
    assert any("标签与联单不符" in x for x in _messages(response))
    m.refresh_from_db()
    assert m.state == State.SUBMITTED and not m.legs.get().picked_up_at
    # a scanned URL and a typed code together
    scanned = f"http://testserver/labels/{w.containers[0]}/ {w.containers[1]}"
    response = d.post(f"/manifests/{m.id}/events/pickup/", {"scanned_text": scanned, "next": "driver"}, follow=True)
    assert any("已装载签收" in x for x in _messages(response))
    m.refresh_from_db()
    assert m.state == State.IN_TRANSIT
    assert LogEvent.objects.filter(kind="manifest.pickup", subject_id=str(m.id)).count() == 1
    # the consignor has nothing to sign on the driver page now
    assert 'data-testid="driver-nothing"' in _client(w, "consignor").get(f"/manifests/{m.id}/driver/").content.decode()


def test_handover_shown_to_the_next_carrier(w: World) -> None:
    m = w.manifest(legs=2, containers=1)
    manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event="submit")
    manifest_transition(
        actor=w.actor("driver1"), manifest_id=m.id, event="pickup", payload={"scanned_labels": w.containers[:1]}
    )
    assert 'data-testid="handover-form"' not in _client(w, "driver1").get(f"/manifests/{m.id}/driver/").content.decode()
    c2 = _client(w, "carrier2")
    assert 'data-testid="handover-form"' in c2.get(f"/manifests/{m.id}/driver/").content.decode()
    response = c2.post(f"/manifests/{m.id}/events/hand_over/", {"handover_place": "", "next": "driver"}, follow=True)
    assert any("交接地点" in x for x in _messages(response))
    c2.post(f"/manifests/{m.id}/events/hand_over/", {"handover_place": "长春东收费站", "next": "driver"})
    assert m.legs.get(order=1).handover_place == "长春东收费站"


def _arrived(w: World) -> Manifest:
    m = w.manifest(containers=2)
    manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event="submit")
    manifest_transition(
        actor=w.actor("driver1"), manifest_id=m.id, event="pickup", payload={"scanned_labels": w.containers[:2]}
    )
    manifest_transition(actor=w.actor("driver1"), manifest_id=m.id, event="arrive")
    m.refresh_from_db()
    return m


def test_receiver_weighs_reports_discrepancy_and_accepts_partially(w: World) -> None:
    m = _arrived(w)
    line = m.lines.get()
    r = _client(w, "receiver")
    page = r.get(f"/manifests/{m.id}/receive/").content.decode()
    assert 'data-testid="weigh-form"' in page and 'data-testid="kind-quantity"' in page
    # outside the tolerance: plain acceptance refused
    response = r.post(f"/manifests/{m.id}/events/accept/", {f"weight-{line.id}": "0.3", "next": "receive"}, follow=True)
    assert any("相差超过" in x for x in _messages(response))
    m.refresh_from_db()
    assert m.state == State.ARRIVED and line.__class__.objects.get(id=line.id).received_tonnes is None
    # discrepancy without kinds: refused
    response = r.post(
        f"/manifests/{m.id}/events/report_discrepancy/",
        {f"weight-{line.id}": "0.3", "description": "少一桶的量", "next": "receive"},
        follow=True,
    )
    assert any("请选择差异类型" in x for x in _messages(response))
    r.post(
        f"/manifests/{m.id}/events/report_discrepancy/",
        {f"weight-{line.id}": "0.3", "kinds": ["quantity", "packaging"], "description": "桶体破损", "next": "receive"},
    )
    m.refresh_from_db()
    assert m.state == State.DISCREPANCY and m.discrepancy["kinds"] == ["quantity", "packaging"]
    page = r.get(f"/manifests/{m.id}/receive/").content.decode()
    assert 'data-testid="partial-form"' in page and "数量、包装" in page
    response = r.post(
        f"/manifests/{m.id}/events/accept_partially/", {"refused_tonnes": "0.5", "reason": "破损"}, follow=True
    )
    assert any("拒收量应大于 0 且小于" in x for x in _messages(response))
    r.post(f"/manifests/{m.id}/events/accept_partially/", {"refused_tonnes": "0.1", "reason": "破损桶拒收"})
    m.refresh_from_db()
    assert m.state == State.RECEIVED and m.acceptance == "partial" and m.refused_tonnes == Decimal("0.1")
    # then treatment from the receive page
    response = r.post(f"/manifests/{m.id}/events/treat/", {"method_code": "D10", "result": "焚烧完成"}, follow=True)
    m.refresh_from_db()
    assert m.state == State.TREATED and m.treatment_result == "焚烧完成"
    # the driver cannot accept: 409 message, state unchanged
    response = _client(w, "driver1").post(f"/manifests/{m.id}/events/close/", follow=True)
    assert any("不能进行“闭环”" in x for x in _messages(response))


def test_regulator_sees_history_and_map(w: World) -> None:
    m = _arrived(w)
    page = _client(w, "regulator").get(f"/manifests/{m.id}/").content.decode()
    assert "manifest.pickup" in page and "manifest.arrive" in page
    assert 'data-testid="map-none"' in page  # no coordinates registered
    w.site.latitude, w.site.longitude = Decimal("43.88"), Decimal("125.32")
    w.site.save()
    w.receiver.latitude, w.receiver.longitude = Decimal("43.84"), Decimal("126.55")
    w.receiver.save()
    page = _client(w, "regulator").get(f"/manifests/{m.id}/").content.decode()
    assert 'id="manifest-map"' in page and "125.32" in page and "vendor/leaflet/leaflet.js" in page
    # enterprises do not get the map
    assert 'id="manifest-map"' not in _client(w, "consignor").get(f"/manifests/{m.id}/").content.decode()
    assert _client(w, "regulator_elsewhere").get(f"/manifests/{m.id}/").status_code == 404


def test_unknown_event_is_a_message(w: World) -> None:
    m = w.manifest()
    response = _client(w, "consignor").post(f"/manifests/{m.id}/events/fly/", follow=True)
    assert any("未知的联单事项" in x for x in _messages(response))
    assert not Signature.objects.exists()


def _receiver_sites(w: World) -> tuple[Site, Site, Site]:
    """Two sites of the receiver and one of the other receiver (利用处置场所)."""
    made = []
    for unit, name in ((w.receiver, "焚烧车间"), (w.receiver, "暂存库"), (w.receiver2, "四平利用线")):
        made.append(
            registry.site_create(
                actor=SYSTEM,
                enterprise=unit,
                name=name,
                address=f"{name}路 1 号",
                region_key="220202",
                roles=["operator"],
            )
        )
    return made[0], made[1], made[2]


def test_wizard_offers_the_receivers_sites_and_saves_the_chosen_one(w: World) -> None:
    kiln, store, other = _receiver_sites(w)
    c = _client(w, "consignor")
    page = c.get(f"/manifests/new/?site_id={w.site.id}").content.decode()
    assert 'data-testid="receiver-site"' in page
    # grouped by receiver (the page's script narrows them to the chosen one)
    assert f'data-receiver="{w.receiver.id}"' in page and f'data-receiver="{w.receiver2.id}"' in page
    assert "焚烧车间" in page and "四平利用线" in page
    # filtered on the server once a receiver is known
    page = c.get(f"/manifests/new/?site_id={w.site.id}&receiver_id={w.receiver.id}").content.decode()
    assert "焚烧车间" in page and "暂存库" in page and "四平利用线" not in page
    response = c.post("/manifests/new/", _wizard_post(w, receiver_site_id=str(store.id)))
    assert response.status_code == 302
    m = Manifest.objects.get()
    assert m.receiver_id == w.receiver.id and m.receiver_site_id == store.id
    assert "暂存库" in c.get(f"/manifests/{m.id}/").content.decode()
    # no site chosen: allowed, the manifest names only the receiver
    response = c.post("/manifests/new/", _wizard_post(w, labels=[], receiver_site_id="", **{"line-0-tonnes": "0.1"}))
    assert response.status_code == 302
    assert Manifest.objects.filter(receiver_site__isnull=True).count() == 1
    assert kiln.id != other.id


def test_wizard_receiver_site_refusals_under_the_field(w: World) -> None:
    kiln, _, other = _receiver_sites(w)
    c = _client(w, "consignor")
    # a site of another receiver: the service refuses; the message is under the picker, status 400
    response = c.post("/manifests/new/", _wizard_post(w, receiver_site_id=str(other.id)))
    assert response.status_code == 400
    page = response.content.decode()
    assert response.context["errors"] == {"receiver_site": "接收场所不属于接受人"}
    assert 'data-testid="error-receiver_site"' in page and "接收场所不属于接受人" in page
    # re-rendered for the chosen receiver only, with what was typed kept
    assert "焚烧车间" in page and "四平利用线" not in page
    assert 'value="铁桶"' in page and "吸附棉、灭火器" in page
    # a tampered value and ids out of range: 400 with a message, never 500
    for bad in ("abc", "99999999999999999999", "-1"):
        response = c.post("/manifests/new/", _wizard_post(w, receiver_site_id=bad))
        assert response.status_code == 400, bad
        assert "receiver_site" in response.context["errors"], bad
    response = c.post("/manifests/new/", _wizard_post(w, receiver_id="99999999999999999999"))
    assert response.status_code == 400 and "receiver" in response.context["errors"]
    assert not Manifest.objects.exists()
    assert kiln.enterprise_id == w.receiver.id


def test_wizard_errors_are_shown_under_their_fields(w: World) -> None:
    c = _client(w, "consignor")
    response = c.post("/manifests/new/", _wizard_post(w, emergency_measures=" "))
    assert response.status_code == 400
    assert 'data-testid="error-emergency_measures"' in response.content.decode()
    # the second filled line has an unknown code: the message is under that line
    response = c.post("/manifests/new/", _wizard_post(w, **{"line-2-waste_code": "999-999-99", "line-2-tonnes": "0.1"}))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="error-line-2"' in page and 'value="999-999-99"' in page
    response = c.post("/manifests/new/", _wizard_post(w, **{"line-0-tonnes": "abc"}))
    assert response.status_code == 400 and 'data-testid="error-line-0"' in response.content.decode()
    response = c.post("/manifests/new/", _wizard_post(w, **{"leg-0-carrier": str(w.receiver.id)}))
    assert response.status_code == 400
    assert "legs" in response.context["errors"] and 'data-testid="error-legs"' in response.content.decode()
    assert not Manifest.objects.exists()
