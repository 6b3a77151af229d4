"""Scenarios, Trackdéchets-style: each test is a whole story through the HTTP API, told as the acting
users (a logged-in client per person), with what each party sees at the end."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.manifests.models import Manifest, Signature
from weifei.manifests.testing import CODE, World, world
from weifei.plans.models import LedgerEntry
from weifei.registry.models import Licence

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
API = "/api/v1/manifests"


class Party:
    """One person, logged in, speaking to the API."""

    def __init__(self, user: User) -> None:
        self.client = Client()
        force_login(self.client, user)

    def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> dict[str, Any]:
        r = self.client.post(path, json.dumps(body or {}), content_type="application/json")
        assert r.status_code == expect, (path, r.status_code, r.content[:300])
        return dict(r.json())

    def get(self, path: str, expect: int = 200) -> dict[str, Any]:
        r = self.client.get(path)
        assert r.status_code == expect, (path, r.status_code, r.content[:300])
        return dict(r.json())

    def files(self, w: World, *, containers: int = 2, legs: int = 1, tonnes: str | None = None,
              code: str = CODE, **extra: Any) -> dict[str, Any]:  # fmt: skip
        codes = w.containers[:containers]
        leg_list = [{"carrier_id": w.carrier1.id, "vehicle_id": w.vehicles["c1"].id, "driver_id": w.drivers["c1"].id}]
        if legs == 2:
            leg_list.append(
                {"carrier_id": w.carrier2.id, "vehicle_id": w.vehicles["c2"].id, "driver_id": w.drivers["c2"].id}
            )
        body = {
            "consignor_site_id": w.site.id,
            "receiver_id": w.receiver.id,
            "planned_method_code": "D10",
            "emergency_measures": "配备吸附棉和灭火器，泄漏时围堵并报告",
            "lines": [{"waste_code": code, "declared_tonnes": tonnes or str(Decimal("0.2") * len(codes)),
                       "packaging": "铁桶", "label_codes": codes, "dg_class": "9", "un_number": "3082"}],
            "legs": leg_list,
            **extra,
        }  # fmt: skip
        return self.post(f"{API}/", body, expect=201)

    def does(self, m: dict[str, Any], event: str, expect: int = 200, **payload: Any) -> dict[str, Any]:
        return self.post(f"{API}/{m['id']}/events/{event}", payload, expect=expect)


def cast(w: World) -> dict[str, Party]:
    return {name: Party(user) for name, user in w.users.items()}


def weights(m: dict[str, Any], factor: str = "1") -> dict[str, str]:
    return {str(line["id"]): str(Decimal(str(line["declared_tonnes"])) * Decimal(factor)) for line in m["lines"]}


def test_simple_in_province_transfer() -> None:
    """长春的工厂把两桶废矿物油交给吉林市的处置单位：提交、司机扫码装车、到达、过磅接收、处置、闭环。"""
    w = world()
    p = cast(w)
    m = p["consignor"].files(w)
    assert m["state"] == "draft" and len(m["number"]) == 14
    p["consignor"].does(m, "submit")
    p["driver1"].does(m, "pickup", scanned_labels=w.containers[:2])
    m = p["receiver"].does(m, "arrive")
    m = p["receiver"].does(m, "accept", weights=weights(m))
    assert m["receipt_due_on"] is not None
    p["receiver"].does(m, "treat", method_code="D10", result="回转窑焚烧完毕")
    m = p["consignor"].does(m, "close")
    assert m["state"] == "closed"
    # every party sees it; the signatures are in order
    for who in ("consignor", "driver1", "receiver", "regulator"):
        assert p[who].get(f"{API}/{m['id']}")["state"] == "closed"
    p["receiver2"].get(f"{API}/{m['id']}", expect=404)
    events = [s.event for s in Signature.objects.filter(manifest_id=m["id"]).order_by("signed_at", "id")]
    assert events == ["submit", "pickup", "arrive", "accept", "treat", "close"]
    # the consignor's ledger shows both drums sent out to the receiver
    sent = LedgerEntry.objects.filter(site=w.site, kind="sent_out", receiver=w.receiver)
    assert sent.count() == 2


def test_two_carrier_intermodal_transfer() -> None:
    """联运：长春的承运人运到交接点，吉林市的承运人确认上一段并接着运到接受人。"""
    w = world()
    p = cast(w)
    m = p["consignor"].files(w, legs=2)
    p["consignor"].does(m, "submit")
    p["driver1"].does(m, "pickup", scanned_labels=w.containers[:2])
    p["receiver"].does(m, "arrive", expect=400)  # the second leg has not started
    p["driver1"].does(m, "hand_over", expect=409, handover_place="长春东")  # only the NEXT carrier signs it
    m = p["carrier2"].does(m, "hand_over", handover_place="长春东收费站停车区")
    assert m["legs"][0]["handover_place"] == "长春东收费站停车区"
    m = p["carrier2"].does(m, "arrive")
    m = p["receiver"].does(m, "accept", weights=weights(m))
    assert m["state"] == "received"


def test_discrepancy_with_partial_acceptance() -> None:
    """过磅少了 15%，接受人报告差异（移出人和接受地生态环境部门收到通知），部分接受并说明拒收量。"""
    w = world()
    p = cast(w)
    m = p["consignor"].files(w)
    p["consignor"].does(m, "submit")
    p["driver1"].does(m, "pickup", scanned_labels=w.containers[:2])
    m = p["receiver"].does(m, "arrive")
    p["receiver"].does(m, "accept", expect=400, weights=weights(m, "0.85"))  # beyond the tolerance
    m = p["receiver"].does(m, "report_discrepancy", weights=weights(m, "0.85"), kinds=["quantity", "packaging"],
                           description="一桶渗漏，过磅少 0.06 吨")  # fmt: skip
    assert m["state"] == "discrepancy"
    m = p["receiver"].does(m, "accept_partially", refused_tonnes="0.06", reason="渗漏桶退回移出人")
    assert (m["state"], m["acceptance"]) == ("received", "partial")
    assert Decimal(str(m["refused_tonnes"])) == Decimal("0.06")


def test_full_refusal_and_return() -> None:
    """接受人整车拒收，移出人安排退回并确认收回：移出人台账中的委外记录被冲销，库存恢复。"""
    w = world()
    p = cast(w)
    m = p["consignor"].files(w)
    p["consignor"].does(m, "submit")
    p["driver1"].does(m, "pickup", scanned_labels=w.containers[:2])
    p["receiver"].does(m, "arrive")
    p["receiver"].does(m, "reject", expect=400)  # a reason is required
    p["receiver"].does(m, "reject", reason="废物与联单名称不符")
    p["consignor"].does(m, "return")
    m = p["consignor"].does(m, "confirm_return")
    assert m["state"] == "returned"
    assert LedgerEntry.objects.filter(site=w.site, kind="sent_out", reversal_of__isnull=False).count() == 2


def test_cross_province_with_approval_consumed_to_exhaustion() -> None:
    """跨省转移：省厅批准 0.5 吨；第一张联单用 0.4 吨，第二张 0.2 吨超出批准量被拒，作废后额度归还。"""
    from weifei.approvals import services as approvals

    w = world()
    p = cast(w)
    today = timezone.localdate()
    now = timezone.now()
    app = approvals.application_create(
        actor=w.actor("consignor"), site_id=w.site.id, receiver_province="210000", receiver_name=w.receiver.name,
        receiver_credit_code=w.receiver.credit_code, receiver_licence_number="吉危许联单04",
        receiver_licence_valid_to=today + dt.timedelta(days=300), method_code="D10", period_from=today,
        period_to=today + dt.timedelta(days=300),
        lines=[{"waste_code": CODE, "waste_name": "废矿物油", "tonnes": Decimal("0.5")}], attachments=[], today=today,
    )  # fmt: skip
    approvals.application_submit(actor=w.actor("consignor"), application_id=app.id, now=now)
    approvals.step_act(actor=SYSTEM, application_id=app.id, action="accept", now=now)
    approvals.step_act(actor=SYSTEM, application_id=app.id, action="agree", now=now)
    approvals.reply_record(actor=SYSTEM, application_id=app.id, decision="agree", responder="辽宁省生态环境厅",
                           responded_at=now, now=now)  # fmt: skip
    decided = approvals.application_decide(actor=SYSTEM, application_id=app.id, approve=True, now=now)
    number = decided.approval.number
    first = p["consignor"].files(w, containers=2, transfer_type="cross_province", approval_reference=number)
    p["consignor"].does(first, "submit")
    second = p["consignor"].files(w, containers=0, tonnes="0.2", transfer_type="cross_province",
                                  approval_reference=number)  # fmt: skip
    refused = p["consignor"].does(second, "submit", expect=400)
    assert refused["code"] == "approved_quantity_exceeded"
    p["consignor"].does(first, "cancel")  # the tonnes go back
    assert p["consignor"].does(second, "submit")["state"] == "submitted"


def test_licence_expired_between_submission_and_pickup() -> None:
    """提交时接受人许可证有效；装车前许可证被吊销，司机装载被拒，联单仍待运输。"""
    w = world()
    p = cast(w)
    m = p["consignor"].files(w)
    p["consignor"].does(m, "submit")
    Licence.objects.filter(holder=w.receiver).update(status="revoked")
    err = p["driver1"].does(m, "pickup", expect=400, scanned_labels=w.containers[:2])
    assert err["code"] == "receiver_licensed" and "许可证" in err["message"]
    assert Manifest.objects.get(id=m["id"]).state == "submitted"


def test_plan_does_not_cover_the_code() -> None:
    """管理计划 A.7 没有列出 900-041-49：提交被拒，说明依据第十四条。"""
    w = world()
    p = cast(w)
    body = p["consignor"].files(w, containers=0, tonnes="1", code="900-041-49")
    err = p["consignor"].does(body, "submit", expect=400)
    assert err["code"] == "plan_covers" and "第十四条" in err["message"]


def test_a_carrier_that_never_signs() -> None:
    """承运人装车后拒不签收；两个工作日后，辖区生态环境部门核实并代签，联单继续运行。"""
    w = world()
    p = cast(w)
    m = p["consignor"].files(w)
    p["consignor"].does(m, "submit")
    err = p["regulator"].does(m, "pickup", expect=400, reason="承运人拒不签收")
    assert err["code"] == "escalation_due"
    Manifest.objects.filter(id=m["id"]).update(state_changed_at=timezone.now() - dt.timedelta(days=10))
    m = p["regulator"].does(m, "pickup", reason="现场核实已装车，承运人拒不签收，监管代签")
    assert m["state"] == "in_transit"
    sig = Signature.objects.get(manifest_id=m["id"], event="pickup")
    assert sig.role == "regulator" and "代签" in sig.reason


def test_paper_fallback_entered_late() -> None:
    """系统故障时用了纸质联单；转移完成 12 个工作日后才补录电子联单：补录被接受但标记为逾期并记录事件。"""
    from weifei.core.models import Event as LogEvent
    from weifei.core.workdays import add_working_days

    w = world()
    p = cast(w)
    completed = add_working_days(timezone.localdate(), -12)
    m = p["consignor"].files(w, containers=0, tonnes="1", paper_completed_on=completed.isoformat())
    stored = Manifest.objects.get(id=m["id"])
    assert (stored.paper_fallback, stored.completed_on, stored.paper_entered_late) == (True, completed, True)
    assert LogEvent.objects.filter(kind="manifest.paper_entered_late", subject_id=str(m["id"])).exists()


def test_revision_request_approved() -> None:
    """装车后移出人发现申报量少填：提出修改申请（保留原值与新值），承运人确认后生成新版本，并记录“及时更正”。"""
    w = world()
    p = cast(w)
    m = p["consignor"].files(w)
    p["consignor"].does(m, "submit")
    m = p["driver1"].does(m, "pickup", scanned_labels=w.containers[:2])
    line = m["lines"][0]
    req = p["consignor"].post(f"{API}/{m['id']}/revisions", {
        "reason": "过磅单显示 0.42 吨，联单误填 0.4 吨",
        "changes": [{"target": f"line:{line['id']}", "field": "declared_tonnes", "proposed": "0.42"}],
    }, expect=201)  # fmt: skip
    assert req["status"] == "pending" and req["required"] == [w.carrier1.id]
    assert req["changes"][0]["initial"] == "0.400000" and req["changes"][0]["proposed"] == "0.420000"
    p["receiver"].post(f"{API}/revisions/{req['id']}/decide", {"approve": True}, expect=403)  # has not signed
    done = p["carrier1"].post(f"{API}/revisions/{req['id']}/decide", {"approve": True})
    assert (done["status"], done["version_after"], done["corrected_promptly"]) == ("approved", 2, True)
    after = p["receiver"].get(f"{API}/{m['id']}")
    assert Decimal(str(after["lines"][0]["declared_tonnes"])) == Decimal("0.42")
