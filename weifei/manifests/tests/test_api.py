"""The manifest HTTP API as the acting users: a whole in-province lifecycle (create, submit, pickup
with scanned labels, arrive, accept with weights, treat, close), signatures and their method,
history, allowed events, error envelopes (unknown code, negative tonnes, wrong event, not a party),
the ``updated_after`` feed and the Idempotency-Key on creation."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from weifei.accounts.services import api_token_create
from weifei.accounts.testing import force_login
from weifei.core.models import Event as LogEvent
from weifei.manifests.models import Manifest, ManifestCounter, Signature
from weifei.manifests.testing import CODE, World, world

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]

M = "/api/v1/manifests"


@pytest.fixture
def w() -> World:
    return world()


def client_as(w: World, name: str) -> Client:
    client = Client()
    force_login(client, w.users[name])
    return client


def post(client: Client, url: str, body: Any = None, **headers: str) -> Any:
    return client.post(url, json.dumps(body if body is not None else {}), content_type="application/json", **headers)


def create_body(w: World, *, containers: int = 2, tonnes: str | None = None, **kw: Any) -> dict[str, Any]:
    codes = w.containers[:containers]
    body: dict[str, Any] = {
        "consignor_site_id": w.site.id,
        "receiver_id": w.receiver.id,
        "planned_method_code": "D10",
        "emergency_measures": "配备吸附棉、灭火器；泄漏时围堵并报告当地生态环境部门",
        "lines": [
            {
                "waste_code": CODE,
                "declared_tonnes": tonnes or str(Decimal("0.2") * len(codes)),
                "packaging": "铁桶",
                "label_codes": codes,
                "dg_class": "9",
                "un_number": "3082",
            }
        ],
        "legs": [
            {
                "carrier_id": w.carrier1.id,
                "vehicle_id": w.vehicles["c1"].id,
                "driver_id": w.drivers["c1"].id,
                "start_point": w.site.address,
                "end_point": "接受人",
            }
        ],
    }
    body.update(kw)
    return body


def test_whole_in_province_lifecycle_through_the_api(w: World) -> None:
    consignor, driver, receiver = client_as(w, "consignor"), client_as(w, "driver1"), client_as(w, "receiver")

    r = post(consignor, f"{M}/", create_body(w))
    assert r.status_code == 201, r.content
    m = r.json()
    assert m["state"] == "draft" and m["state_label"] == "草稿"
    assert len(m["number"]) == 14 and m["number"][4:6] == "22" and m["number"][6:8] == "01"  # 长春 (220102)
    assert m["consignor"] == {"id": w.consignor.id, "name": w.consignor.name}
    assert m["receiver"]["id"] == w.receiver.id and m["consignor_site"]["id"] == w.site.id
    assert m["containers"] == 2 and m["transfer_type"] == "in_province" and m["transfer_type_label"] == "省内转移"
    (line,) = m["lines"]
    assert (
        line["waste_code"] == CODE and line["category"] == "HW08" and Decimal(line["declared_tonnes"]) == Decimal("0.4")
    )
    assert line["container_count"] == 2 and line["dg_class"] == "9" and line["un_number"] == "3082"
    assert [(leg["order"], leg["carrier"]["id"], leg["vehicle_plate"]) for leg in m["legs"]] == [
        (1, w.carrier1.id, "吉A10001")
    ]
    mid = m["id"]

    allowed = consignor.get(f"{M}/{mid}/allowed-events").json()
    assert allowed["roles"] == ["consignor"] and [e["event"] for e in allowed["events"]] == ["submit", "cancel"]
    assert driver.get(f"{M}/{mid}/allowed-events").json()["events"] == []  # not its turn yet

    assert post(consignor, f"{M}/{mid}/events/submit").json()["state"] == "submitted"
    assert [e["event"] for e in driver.get(f"{M}/{mid}/allowed-events").json()["events"]] == ["pickup"]

    # The loading check (第十三条): one label missing → refused, nothing written.
    r = post(driver, f"{M}/{mid}/events/pickup", {"scanned_labels": w.containers[:1]})
    assert r.status_code == 400 and r.json()["code"] == "labels_match" and r.json()["field"] == "scanned_labels"
    assert Manifest.objects.get(id=mid).state == "submitted" and Signature.objects.filter(manifest_id=mid).count() == 1

    # The driver signs with an API token on the phone app: the signature records "api_token".
    _, plaintext = api_token_create(actor=w.actor("driver1"), name="手机", scopes=["read", "write"])
    r = Client().post(
        f"{M}/{mid}/events/pickup",
        json.dumps({"scanned_labels": [c.lower() for c in w.containers[:2]]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plaintext}",
    )
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "in_transit" and r.json()["legs"][0]["picked_up_at"] is not None

    assert post(driver, f"{M}/{mid}/events/arrive").json()["state"] == "arrived"

    # Outside the tolerance: the receiver must report a discrepancy instead.
    r = post(receiver, f"{M}/{mid}/events/accept", {"weights": {str(line["id"]): "0.3"}})
    assert r.status_code == 400 and r.json()["code"] == "within_tolerance" and r.json()["field"] == "weights"
    r = post(receiver, f"{M}/{mid}/events/accept", {"weights": {str(line["id"]): "0.398"}})
    assert r.status_code == 200, r.content
    m = r.json()
    assert m["state"] == "received" and m["acceptance"] == "full"
    assert Decimal(m["lines"][0]["received_tonnes"]) == Decimal("0.398")
    assert m["accepted_on"] == timezone.localdate().isoformat() and m["receipt_due_on"] > m["accepted_on"]

    r = post(receiver, f"{M}/{mid}/events/treat", {"method_code": "D10", "result": "焚烧处置完毕"})
    assert r.json()["state"] == "treated" and r.json()["treatment_method"] == "D10"
    r = post(consignor, f"{M}/{mid}/events/close")
    assert r.status_code == 200 and r.json()["state"] == "closed" and r.json()["state_label"] == "已闭环"
    assert consignor.get(f"{M}/{mid}/allowed-events").json()["events"] == []

    sigs = consignor.get(f"{M}/{mid}/signatures").json()
    assert sigs["total"] == 6
    assert [(s["event"], s["role"], s["method"]) for s in sigs["items"]] == [
        ("submit", "consignor", "session"),
        ("pickup", "carrier", "api_token"),
        ("arrive", "carrier", "session"),
        ("accept", "receiver", "session"),
        ("treat", "receiver", "session"),
        ("close", "consignor", "session"),
    ]
    assert sigs["items"][1]["organisation"]["id"] == w.carrier1.id
    assert sigs["items"][1]["user_id"] == w.users["driver1"].id
    assert all(len(s["content_hash"]) == 64 for s in sigs["items"])
    assert [(s["from_state"], s["to_state"]) for s in sigs["items"]][3] == ("arrived", "received")

    history = receiver.get(f"{M}/{mid}/history").json()
    kinds = [e["kind"] for e in history["items"]]
    assert kinds[0] == "manifest.close" and kinds[-1] == "manifest.created" and len(kinds) == 7
    assert LogEvent.objects.filter(subject_type="manifests.manifest", subject_id=str(mid)).count() == 7

    # Every party (and the regulator over the consignor's region) reads it, by id and by number.
    for name in ("consignor_reader", "carrier1", "driver1", "receiver_b", "regulator"):
        assert client_as(w, name).get(f"{M}/{mid}").status_code == 200, name
        assert client_as(w, name).get(f"{M}/by-number/{m['number']}").json()["id"] == mid, name


def test_create_refusals_are_envelopes_and_write_nothing(w: World) -> None:
    consignor = client_as(w, "consignor")
    before = (Manifest.objects.count(), ManifestCounter.objects.count())

    def refused(body: dict[str, Any]) -> dict[str, Any]:
        r = post(consignor, f"{M}/", body)
        assert r.status_code == 400, r.content
        assert (Manifest.objects.count(), ManifestCounter.objects.count()) == before
        return dict(r.json())

    bad_code = create_body(w, containers=0, tonnes="1")
    bad_code["lines"][0]["waste_code"] = "900-999-08"
    e = refused(bad_code)
    assert e["field"] == "lines[0].waste_code" and "900-999-08" in e["message"]

    negative = create_body(w, containers=0, tonnes="-1")
    e = refused(negative)
    assert e == {"code": "tonnes_range", "field": "lines[0].declared_tonnes", "message": e["message"]}
    assert "大于 0" in e["message"]

    e = refused(create_body(w, containers=0, tonnes="1", planned_method_code="X99"))
    assert (e["code"], e["field"]) == ("method_unknown", "planned_method_code")
    e = refused(create_body(w, containers=0, tonnes="1", emergency_measures=" "))
    assert (e["code"], e["field"]) == ("emergency_required", "emergency_measures")
    e = refused(create_body(w, containers=0, tonnes="1", lines=[]))
    assert (e["code"], e["field"]) == ("lines_count", "lines")
    e = refused(create_body(w, containers=0, tonnes="1", shipper="carrier"))
    assert (e["code"], e["field"]) == ("shipper_invalid", "shipper")
    e = refused({"consignor_site_id": w.site.id})
    assert (e["code"], e["field"]) == ("validation_error", "receiver_id")
    e = refused(create_body(w, containers=0, tonnes="abc"))
    assert (e["code"], e["field"]) == ("validation_error", "lines.0.declared_tonnes")
    labelled = create_body(w, containers=1)
    labelled["lines"][0]["label_codes"] = ["NOT-A-LABEL"]
    e = refused(labelled)
    assert (e["code"], e["field"]) == ("container_unknown", "label_codes")


def test_who_may_create(w: World) -> None:
    body = create_body(w, containers=0, tonnes="1")
    # another unit's user does not see the site: 404; a reader or driver of the unit: 403
    assert post(client_as(w, "receiver"), f"{M}/", body).status_code == 404
    for name in ("consignor_reader",):
        r = post(client_as(w, name), f"{M}/", body)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", name
    r = post(client_as(w, "regulator"), f"{M}/", body)
    assert r.status_code == 403
    assert Manifest.objects.count() == 0
    assert Client().post(f"{M}/", json.dumps(body), content_type="application/json").status_code == 401


def test_event_refusals(w: World) -> None:
    mid = w.manifest(containers=0, tonnes="1").id
    consignor, receiver = client_as(w, "consignor"), client_as(w, "receiver")

    r = post(consignor, f"{M}/{mid}/events/fly")
    assert r.status_code == 400 and (r.json()["code"], r.json()["field"]) == ("event_unknown", "event")
    r = post(receiver, f"{M}/{mid}/events/accept", {"weights": {}})
    assert r.status_code == 409 and r.json()["code"] == "transition_not_allowed"
    assert "草稿" in r.json()["message"] and "接受" in r.json()["message"]
    r = post(consignor, f"{M}/{mid}/events/treat", {"method_code": "D10", "result": "x"})
    assert r.status_code == 409
    # not a party: writes 403, reads 404
    outsider = client_as(w, "receiver2")
    r = post(outsider, f"{M}/{mid}/events/cancel")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    for path in ("", "/signatures", "/history", "/allowed-events"):
        assert outsider.get(f"{M}/{mid}{path}").status_code == 404, path
    assert client_as(w, "regulator_elsewhere").get(f"{M}/{mid}").status_code == 404
    # a reader of the consignor reads but does not sign
    reader = client_as(w, "consignor_reader")
    assert reader.get(f"{M}/{mid}").status_code == 200
    assert reader.get(f"{M}/{mid}/allowed-events").json() == {
        "state": "draft",
        "state_label": "草稿",
        "roles": [],
        "events": [],
    }
    assert post(reader, f"{M}/{mid}/events/cancel").status_code == 403
    # a read-only token of the consignor's admin cannot sign either
    _, plain = api_token_create(actor=w.actor("consignor"), name="只读", scopes=["read"])
    r = Client().post(
        f"{M}/{mid}/events/cancel", "{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {plain}"
    )
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    # malformed payloads are 400 envelopes, not 500s
    r = post(consignor, f"{M}/{mid}/events/accept", {"weights": {"x": "1"}})
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    r = post(consignor, f"{M}/{mid}/events/accept", {"weights": {"1": "lots"}})
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    assert post(consignor, f"{M}/999999999/events/cancel").status_code == 404
    assert Signature.objects.count() == 0 and Manifest.objects.get(id=mid).state == "draft"
    r = post(consignor, f"{M}/{mid}/events/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"


def test_list_filters_and_updated_after_feed(w: World) -> None:
    first = w.manifest(containers=0, tonnes="1")
    second = w.manifest(containers=0, tonnes="2")
    third = w.manifest(containers=0, tonnes="3", receiver_id=w.receiver2.id)
    consignor = client_as(w, "consignor")

    all_ = consignor.get(f"{M}/").json()
    assert all_["total"] == 3 and [i["id"] for i in all_["items"]] == [third.id, second.id, first.id]
    assert client_as(w, "receiver").get(f"{M}/").json()["total"] == 2  # not the one to receiver2
    assert client_as(w, "receiver2").get(f"{M}/").json()["total"] == 1
    assert client_as(w, "carrier1").get(f"{M}/?role=carrier").json()["total"] == 3
    assert client_as(w, "carrier1").get(f"{M}/?role=consignor").json()["total"] == 0
    assert client_as(w, "receiver").get(f"{M}/?role=receiver").json()["total"] == 2
    assert consignor.get(f"{M}/?limit=1&offset=1").json()["items"][0]["id"] == second.id
    r = consignor.get(f"{M}/?role=driver")
    assert r.status_code == 400 and r.json()["field"] == "role"
    assert consignor.get(f"{M}/?state=nowhere").status_code == 400

    # The feed: a client polls with the last updated_at it saw and gets only what changed since.
    feed = consignor.get(f"{M}/", {"updated_after": "2000-01-01T00:00:00+08:00"}).json()
    assert [i["id"] for i in feed["items"]] == [first.id, second.id, third.id]  # oldest change first
    cursor = feed["items"][-1]["updated_at"]
    assert consignor.get(f"{M}/", {"updated_after": cursor}).json() == {"total": 0, "items": []}
    post(consignor, f"{M}/{first.id}/events/submit")
    changed = consignor.get(f"{M}/", {"updated_after": cursor}).json()
    assert [(i["id"], i["state"]) for i in changed["items"]] == [(first.id, "submitted")]
    assert changed["items"][0]["updated_at"] > cursor
    assert consignor.get(f"{M}/", {"updated_after": cursor, "state": "draft"}).json()["total"] == 0
    # a naive time is read as Beijing time
    later = (timezone.localtime() + dt.timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    assert consignor.get(f"{M}/", {"updated_after": later}).json()["total"] == 0
    assert consignor.get(f"{M}/", {"updated_after": "yesterday"}).status_code == 400


def test_same_post_with_the_same_idempotency_key_creates_one_manifest(w: World) -> None:
    consignor = client_as(w, "consignor")
    body = create_body(w, containers=0, tonnes="1")
    first = post(consignor, f"{M}/", body, HTTP_IDEMPOTENCY_KEY="create-1")
    again = post(consignor, f"{M}/", body, HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["number"] == first.json()["number"]
    assert Manifest.objects.count() == 1
    assert ManifestCounter.objects.get().last_serial == 1
    # the same key with another body is refused; a new key creates a second manifest
    other = post(consignor, f"{M}/", {**body, "emergency_measures": "另一份"}, HTTP_IDEMPOTENCY_KEY="create-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert post(consignor, f"{M}/", body, HTTP_IDEMPOTENCY_KEY="create-2").status_code == 201
    assert Manifest.objects.count() == 2
    # the same for a lifecycle step: the repeat is replayed, not signed twice
    mid = first.json()["id"]
    a = post(consignor, f"{M}/{mid}/events/submit", {}, HTTP_IDEMPOTENCY_KEY="submit-1")
    b = post(consignor, f"{M}/{mid}/events/submit", {}, HTTP_IDEMPOTENCY_KEY="submit-1")
    assert a.status_code == b.status_code == 200 and b["Idempotent-Replayed"] == "true"
    assert Signature.objects.filter(manifest_id=mid, event="submit").count() == 1


def test_two_carriers_discrepancy_partial_acceptance_and_redirect_payloads(w: World) -> None:
    """The other steps' payloads through the API: 联运 hand-over, discrepancy with partial acceptance;
    and on a second manifest a refusal redirected to another licensed receiver."""
    consignor, receiver = client_as(w, "consignor"), client_as(w, "receiver")
    m = w.manifest(legs=2, containers=2)
    line_id = m.lines.get().id
    post(consignor, f"{M}/{m.id}/events/submit")
    post(client_as(w, "driver1"), f"{M}/{m.id}/events/pickup", {"scanned_labels": w.containers[:2]})
    carrier2 = client_as(w, "carrier2")
    assert [e["event"] for e in carrier2.get(f"{M}/{m.id}/allowed-events").json()["events"]] == ["hand_over"]
    r = post(carrier2, f"{M}/{m.id}/events/hand_over", {})
    assert r.status_code == 400 and r.json()["field"] == "handover_place"
    r = post(carrier2, f"{M}/{m.id}/events/hand_over", {"handover_place": "长春东收费站"})
    assert r.status_code == 200 and r.json()["legs"][0]["handover_place"] == "长春东收费站"
    assert post(carrier2, f"{M}/{m.id}/events/arrive").json()["state"] == "arrived"
    r = post(receiver, f"{M}/{m.id}/events/report_discrepancy",
             {"weights": {str(line_id): "0.3"}, "kinds": ["quantity"], "description": "少一桶的量"})  # fmt: skip
    assert r.status_code == 200 and r.json()["state"] == "discrepancy"
    assert r.json()["discrepancy"]["kinds"] == ["quantity"]
    r = post(receiver, f"{M}/{m.id}/events/accept_partially", {"refused_tonnes": "0.5", "reason": "超量"})
    assert r.status_code == 400 and r.json()["code"] == "refusal_valid"
    r = post(receiver, f"{M}/{m.id}/events/accept_partially", {"refused_tonnes": "0.1", "reason": "一桶渗漏"})
    assert r.status_code == 200, r.content
    assert (r.json()["state"], r.json()["acceptance"], Decimal(r.json()["refused_tonnes"])) == (
        "received",
        "partial",
        Decimal("0.1"),
    )
    sigs = consignor.get(f"{M}/{m.id}/signatures").json()["items"]
    assert [(s["event"], s["role"]) for s in sigs][2] == ("hand_over", "next_carrier")
    assert sigs[2]["organisation"]["id"] == w.carrier2.id

    second = w.manifest(containers=0, tonnes="1")
    post(consignor, f"{M}/{second.id}/events/submit")
    post(client_as(w, "driver1"), f"{M}/{second.id}/events/pickup", {"scanned_labels": []})
    post(client_as(w, "driver1"), f"{M}/{second.id}/events/arrive")
    r = post(receiver, f"{M}/{second.id}/events/reject", {"reason": "包装破损严重"})
    assert r.json()["state"] == "rejected" and r.json()["refusal_reason"] == "包装破损严重"
    r = post(consignor, f"{M}/{second.id}/events/redirect",
             {"receiver_id": w.receiver2.id, "carrier_id": w.carrier1.id, "start_point": "接受人门口"})  # fmt: skip
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["state"] == "in_transit" and body["receiver"]["id"] == w.receiver2.id
    assert body["original_receiver"]["id"] == w.receiver.id and len(body["legs"]) == 2
    # the first receiver still reads it; the new one now does too
    assert receiver.get(f"{M}/{second.id}").status_code == 200
    assert client_as(w, "receiver2").get(f"{M}/{second.id}").status_code == 200


def test_updated_after_with_an_extreme_offset_is_not_a_server_error() -> None:
    """Found by schemathesis: ISO 8601 allows offsets PostgreSQL refuses (+20:58)."""
    w = world()
    w.manifest(containers=1)
    client = Client()
    force_login(client, w.users["consignor"])
    r = client.get("/api/v1/manifests/", {"updated_after": "0082-12-10T01:56:17.866+20:58"})
    assert r.status_code == 200 and r.json()["total"] == 1
