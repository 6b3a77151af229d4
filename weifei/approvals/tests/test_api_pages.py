"""The API (every step, actor-scoped lists, error envelopes) and the pages (form and list, detail with
the steps timeline, the regulator queue with overdue highlighting, the whitelist, incoming requests)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from weifei.accounts.testing import force_login
from weifei.approvals import services
from weifei.approvals.models import Application, Attachment, IncomingRequest, Step, WhitelistEntry
from weifei.approvals.tests.conftest import CODE, RECEIVER_CREDIT, W
from weifei.approvals.tests.test_messages import _incoming_message

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
A = "/api/v1/approvals"


def _client(w: W, who: str) -> Client:
    client = Client()
    force_login(client, w.users[who])
    return client


def _post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def _body(w: W, **change: Any) -> dict[str, Any]:
    today = timezone.localdate()
    body = {
        "site_id": w.site.id,
        "receiver_province": "210000",
        "receiver_name": "辽宁测试环保处置有限公司",
        "receiver_credit_code": RECEIVER_CREDIT,
        "receiver_licence_number": "辽危001",
        "receiver_licence_valid_to": (today + dt.timedelta(days=200)).isoformat(),
        "method_code": "D10",
        "period_from": today.isoformat(),
        "period_to": (today + dt.timedelta(days=300)).isoformat(),
        "lines": [{"waste_code": CODE, "waste_name": "废矿物油", "tonnes": "5"}],
        "attachments": [{"name": "许可证.pdf", "sha256": "d" * 64, "size": 10, "kind": "licence"}],
    }
    body.update(change)
    return body


def test_api_walks_every_step(w: W) -> None:
    admin, province = _client(w, "admin"), _client(w, "province")
    r = _post(admin, f"{A}/", _body(w))
    assert r.status_code == 201, r.content
    app_id = r.json()["id"]
    assert r.json()["status"] == "draft" and r.json()["lines"][0]["tonnes"] == "5.000000"
    assert (
        _post(admin, f"{A}/{app_id}/attachments", {"name": "合同.pdf", "sha256": "e" * 64, "size": 3}).status_code
        == 201
    )
    assert _post(admin, f"{A}/{app_id}/submit", {}).json()["current_step"] == "completeness"
    r = _post(admin, f"{A}/{app_id}/steps", {"action": "accept"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert _post(province, f"{A}/{app_id}/steps", {"action": "accept"}).json()["current_step"] == "preliminary"
    assert province.get(f"{A}/{app_id}/request-message").json()["code"] == "not_requested"
    assert _post(province, f"{A}/{app_id}/steps", {"action": "agree"}).json()["status"] == "requested"
    message = admin.get(f"{A}/{app_id}/request-message").json()
    assert message["type"] == "approval_request.v1" and len(message["attachments"]) == 2
    response = {
        "type": "approval_response.v1",
        "request_id": message["request_id"],
        "decision": "agree",
        "comment": "",
        "responded_at": timezone.now().isoformat(),
        "responder": "辽宁省生态环境厅",
    }
    r = _post(province, f"{A}/responses", {**response, "decision": "perhaps"})
    assert (r.status_code, r.json()["field"]) == (400, "decision")
    assert _post(province, f"{A}/responses", response).json()["current_step"] == "decision"
    r = _post(province, f"{A}/{app_id}/decision", {"approve": True, "tonnes": {CODE: "4.5"}})
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["status"] == "approved"
    assert data["approval"]["lines"][0]["remaining_tonnes"] == "4.500000"
    assert data["approval"]["valid_to"] == (timezone.localdate() + dt.timedelta(days=200)).isoformat()  # the licence
    assert [s["outcome"] for s in data["steps"]] == ["accepted", "agreed", "agreed", "approved"]


def test_api_refusals_use_the_envelope_and_write_nothing(w: W) -> None:
    admin = _client(w, "admin")
    r = _post(admin, f"{A}/", _body(w, receiver_province="220000"))
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (400, "same_province", "receiver_province")
    r = _post(admin, f"{A}/", _body(w, lines=[{"waste_code": "123", "tonnes": "1"}]))
    assert (r.json()["code"], r.json()["field"]) == ("waste_code_format", "lines[0].waste_code")
    r = _post(_client(w, "other"), f"{A}/", _body(w))
    assert r.status_code == 404
    assert not Application.objects.exists()


def test_api_lists_are_actor_scoped(w: W) -> None:
    r = _post(_client(w, "admin"), f"{A}/", _body(w))
    app_id = r.json()["id"]
    for who, sees in (("reader", True), ("other", False), ("county", True), ("province", True), ("liaison", True)):
        items = _client(w, who).get(f"{A}/").json()["items"]
        assert (app_id in [x["id"] for x in items]) is sees, who
        assert _client(w, who).get(f"{A}/{app_id}").status_code == (200 if sees else 404), who
    r = _post(_client(w, "liaison"), f"{A}/{app_id}/withdraw", {})
    assert r.status_code == 403


def test_api_whitelist_and_incoming(w: W) -> None:
    province, liaison = _client(w, "province"), _client(w, "liaison")
    today = timezone.localdate()
    body = {
        "enterprise_id": w.own.id,
        "basis": "环境信用A级",
        "valid_from": today.isoformat(),
        "valid_to": (today + dt.timedelta(days=365)).isoformat(),
    }
    assert _post(liaison, f"{A}/whitelist", body).status_code == 403
    r = _post(province, f"{A}/whitelist", body)
    assert r.status_code == 201 and r.json()["current"] is True
    exported = liaison.get(f"{A}/whitelist/export").json()
    assert exported["type"] == "whitelist.v1"
    assert exported["entries"][0]["credit_code"] == "91350100M000100Y43"
    assert _client(w, "admin").get(f"{A}/whitelist/export").status_code == 403
    assert _client(w, "admin").get(f"{A}/whitelist").json()["total"] == 0
    r = _post(province, f"{A}/whitelist/{r.json()['id']}/revoke", {"reason": "信用降级"})
    assert r.json()["current"] is False
    r = _post(province, f"{A}/incoming", _incoming_message())
    assert r.status_code == 201, r.content
    incoming_id = r.json()["id"]
    assert liaison.get(f"{A}/incoming/{incoming_id}").status_code == 200
    assert _client(w, "county").get(f"{A}/incoming/{incoming_id}").status_code == 404
    r = _post(province, f"{A}/incoming/{incoming_id}/reply", {"decision": "agree", "comment": "同意"})
    assert r.json()["type"] == "approval_response.v1" and r.json()["decision"] == "agree"


def test_pages_form_detail_queue_whitelist(w: W) -> None:
    admin = _client(w, "admin")
    assert "申请跨省转移" in admin.get("/approvals/").content.decode()
    assert 'data-testid="application-form"' in admin.get("/approvals/new/").content.decode()
    today = timezone.localdate()
    form = {
        "site_id": w.site.id,
        "receiver_province": "210000",
        "receiver_name": "辽宁测试处置",
        "receiver_credit_code": RECEIVER_CREDIT,
        "receiver_licence_number": "辽危001",
        "receiver_licence_valid_to": (today + dt.timedelta(days=200)).isoformat(),
        "method_code": "D10",
        "period_from": today.isoformat(),
        "period_to": (today + dt.timedelta(days=100)).isoformat(),
        "waste_code": [CODE, "", ""],
        "waste_name": ["废矿物油", "", ""],
        "tonnes": ["3", "", ""],
    }
    r = admin.post("/approvals/new/", {**form, "receiver_province": "220000"})
    assert r.status_code == 200 and "不是跨省转移" in r.content.decode()
    assert not Application.objects.exists()
    r = admin.post("/approvals/new/", form)
    app = Application.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/approvals/{app.id}/"
    upload = SimpleUploadedFile("合同.pdf", b"%PDF-1.4 test")
    admin.post(f"/approvals/{app.id}/attachments/", {"file": upload, "kind": "contract"})
    attachment = Attachment.objects.get()
    assert (attachment.size, attachment.sha256[:8]) == (
        13,
        __import__("hashlib").sha256(b"%PDF-1.4 test").hexdigest()[:8],
    )
    admin.post(f"/approvals/{app.id}/submit/")
    page = admin.get(f"/approvals/{app.id}/").content.decode()
    assert 'data-testid="steps"' in page and "受理（材料齐全性审查）" in page and 'data-testid="act-form"' not in page
    province = _client(w, "province")
    assert 'data-testid="act-form"' in province.get(f"/approvals/{app.id}/").content.decode()
    province.post(f"/approvals/{app.id}/act/", {"action": "accept"})
    assert Step.objects.filter(application=app, outcome="").get().kind == "preliminary"
    assert _client(w, "county").post(f"/approvals/{app.id}/act/", {"action": "agree"}).status_code == 403
    # an overdue step is highlighted in the queue
    Step.objects.filter(application=app, outcome="").update(due_on=today - dt.timedelta(days=1))
    queue = province.get("/approvals/queue/").content.decode()
    assert 'data-testid="queue-overdue"' in queue and 'data-testid="overdue-count"' in queue
    assert admin.get("/approvals/queue/").status_code == 403
    # whitelist page: the province adds; the liaison reads and exports
    r = province.post(
        "/approvals/whitelist/",
        {
            "enterprise_id": w.own.id,
            "basis": "信用A级",
            "valid_from": today.isoformat(),
            "valid_to": (today + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert r.status_code == 302 and WhitelistEntry.objects.count() == 1
    liaison = _client(w, "liaison")
    assert "跨省测试化工有限公司" in liaison.get("/approvals/whitelist/").content.decode()
    assert liaison.get("/approvals/whitelist/?format=json").json()["entries"][0]["basis"] == "信用A级"
    assert admin.get("/approvals/whitelist/").status_code == 403
    assert liaison.post("/approvals/whitelist/", {"enterprise_id": w.own.id}).status_code == 403


def test_incoming_pages(w: W) -> None:
    province = _client(w, "province")
    r = province.post("/approvals/incoming/", {"message": "{not json"})
    assert "JSON" in r.content.decode() and not IncomingRequest.objects.exists()
    r = province.post("/approvals/incoming/", {"message": json.dumps(_incoming_message())})
    incoming = IncomingRequest.objects.get()
    assert r["Location"] == f"/approvals/incoming/{incoming.id}/"
    province.post(f"/approvals/incoming/{incoming.id}/reply/", {"decision": "agree"})
    page = province.get(f"/approvals/incoming/{incoming.id}/").content.decode()
    assert 'data-testid="response-message"' in page and "approval_response.v1" in page
    assert _client(w, "county").get("/approvals/incoming/").status_code == 403
    services.approvals_sweep()  # nothing overdue today: harmless
