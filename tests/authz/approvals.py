"""Authorization-matrix rows of cross-province approvals (see tests/authz/__init__.py): the consignor's
admin and member apply, submit, withdraw and upload; its readers and the regulators over its site read;
only the province level acts on steps, keeps the whitelist and answers incoming requests; every
regulator account (liaison included) reads the whitelist; incoming requests are read by the
province level (the province and the liaison bound to it)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.authz.base import (
    LOGGED_IN,
    OWN_READ,
    PLAN_WRITE,
    PROVINCE,
    REG_SEE_HERE,
    REGULATORS,
    Cell,
    World,
    api,
    changed,
    has_id,
    page,
)
from weifei.approvals import messages, services
from weifei.approvals.models import Application, IncomingRequest, Step, WhitelistEntry
from weifei.core.actors import SYSTEM

A = "/api/v1/approvals"
PROVINCE_READ = frozenset({"province", "liaison"})
RECEIVER = "911302307808371268"


def _body(w: World) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "site_id": w.ids["site"],
        "receiver_province": "210000",
        "receiver_name": "辽宁矩阵处置有限公司",
        "receiver_credit_code": RECEIVER,
        "receiver_licence_number": "辽危矩阵01",
        "receiver_licence_valid_to": (today + dt.timedelta(days=400)).isoformat(),
        "method_code": "D10",
        "period_from": today.isoformat(),
        "period_to": (today + dt.timedelta(days=300)).isoformat(),
        "lines": [{"waste_code": "900-249-08", "waste_name": "废矿物油", "tonnes": "5"}],
    }


def _form(w: World) -> dict[str, Any]:
    body = _body(w)
    line = body.pop("lines")[0]
    return {**body, "waste_code": [line["waste_code"]], "waste_name": [line["waste_name"]], "tonnes": ["5"]}


def _incoming(request_id: str) -> dict[str, Any]:
    return {
        "type": "approval_request.v1",
        "request_id": request_id,
        "application_id": "7",
        "origin_province": "210000",
        "consignor": {"name": "辽宁矩阵产废有限公司", "credit_code": RECEIVER},
        "receiver": {
            "province": "220000",
            "name": "本单位测试环保有限公司",
            "credit_code": "91350100M000100Y43",
            "licence_number": "吉危许矩阵01",
        },
        "lines": [{"waste_code": "900-249-08", "waste_name": "废矿物油", "tonnes": "3"}],
        "method_code": "D10",
        "period": {"from": "2026-01-01", "to": "2027-12-31"},
        "attachments": [],
        "sent_at": "2026-01-05T09:00:00+08:00",
    }


def _response(w: World) -> dict[str, Any]:
    app = Application.objects.get(id=w.ids["appr_requested"])
    return messages.response_build(
        request_id=str(app.exchange_id),
        decision="agree",
        comment="",
        responded_at=timezone.now(),
        responder="辽宁省生态环境厅",
    )


def _status(key: str, status: str) -> Any:
    return changed(lambda w: Application.objects.get(id=w.ids[key]).status == status)


def _queued(response: Any, w: World) -> bool:
    return response.status_code == 200 and any(
        row["application_id"] == w.ids["appr_submitted"] for row in response.json()["items"]
    )


def _count(model: Any, before_key: str) -> Any:
    return changed(lambda w: model.objects.count() > w.ids[before_key])


CELLS: list[Cell] = [
    api("get", f"{A}/", OWN_READ, ok=has_id("appr_draft")),
    api("post", f"{A}/", PLAN_WRITE, body=_body),
    api("get", f"{A}/queue", REG_SEE_HERE, ok=_queued),
    api("post", f"{A}/responses", PROVINCE, body=_response),
    api("get", f"{A}/whitelist", REGULATORS, ok=has_id("whitelist_entry")),
    api("get", f"{A}/whitelist/export", REGULATORS),
    api(
        "post",
        f"{A}/whitelist",
        PROVINCE,
        body=lambda w: {
            "enterprise_id": w.ids["other"],
            "basis": "信用A级",
            "valid_from": "2026-01-01",
            "valid_to": "2027-12-31",
        },
    ),
    api(
        "post",
        f"{A}/whitelist/{{entry_id}}/revoke",
        PROVINCE,
        lambda w: f"{A}/whitelist/{w.ids['whitelist_entry']}/revoke",
        body=lambda w: {"reason": "信用降级"},
    ),
    api("get", f"{A}/incoming", PROVINCE_READ, ok=has_id("incoming")),
    api("post", f"{A}/incoming", PROVINCE, body=lambda w: _incoming("matrix-incoming-2")),
    api("get", f"{A}/incoming/{{incoming_id}}", PROVINCE_READ, lambda w: f"{A}/incoming/{w.ids['incoming']}"),
    api(
        "post",
        f"{A}/incoming/{{incoming_id}}/reply",
        PROVINCE,
        lambda w: f"{A}/incoming/{w.ids['incoming']}/reply",
        body=lambda w: {"decision": "agree", "comment": ""},
    ),
    api("get", f"{A}/{{application_id}}", OWN_READ, lambda w: f"{A}/{w.ids['appr_draft']}"),
    api(
        "post",
        f"{A}/{{application_id}}/attachments",
        PLAN_WRITE,
        lambda w: f"{A}/{w.ids['appr_draft']}/attachments",
        body=lambda w: {"name": "合同.pdf", "sha256": "f" * 64, "size": 10, "kind": "contract"},
    ),
    api("post", f"{A}/{{application_id}}/submit", PLAN_WRITE, lambda w: f"{A}/{w.ids['appr_draft']}/submit"),
    api(
        "post",
        f"{A}/{{application_id}}/withdraw",
        PLAN_WRITE,
        lambda w: f"{A}/{w.ids['appr_submitted']}/withdraw",
        body=lambda w: {"reason": "改为省内处置"},
    ),
    api(
        "post",
        f"{A}/{{application_id}}/steps",
        PROVINCE,
        lambda w: f"{A}/{w.ids['appr_submitted']}/steps",
        body=lambda w: {"action": "accept"},
    ),
    api(
        "get",
        f"{A}/{{application_id}}/request-message",
        OWN_READ,
        lambda w: f"{A}/{w.ids['appr_requested']}/request-message",
    ),
    api(
        "post",
        f"{A}/{{application_id}}/reply",
        PROVINCE,
        lambda w: f"{A}/{w.ids['appr_requested']}/reply",
        body=lambda w: {"decision": "agree"},
    ),
    api(
        "post",
        f"{A}/{{application_id}}/decision",
        PROVINCE,
        lambda w: f"{A}/{w.ids['appr_decision']}/decision",
        body=lambda w: {"approve": True},
    ),
    # pages
    page("get", "approvals/", LOGGED_IN, "/approvals/"),
    page("get", "approvals/new/", LOGGED_IN, "/approvals/new/"),
    page("post", "approvals/new/", PLAN_WRITE, "/approvals/new/", body=_form, ok=_count(Application, "appr_count")),
    page("get", "approvals/queue/", REGULATORS, "/approvals/queue/"),
    page("get", "approvals/whitelist/", REGULATORS, "/approvals/whitelist/"),
    page(
        "post",
        "approvals/whitelist/",
        PROVINCE,
        "/approvals/whitelist/",
        body=lambda w: {
            "enterprise_id": w.ids["other"],
            "basis": "信用A级",
            "valid_from": "2026-01-01",
            "valid_to": "2027-12-31",
        },
        ok=_count(WhitelistEntry, "whitelist_count"),
    ),
    page(
        "post",
        "approvals/whitelist/<int:entry_id>/revoke/",
        PROVINCE,
        lambda w: f"/approvals/whitelist/{w.ids['whitelist_entry']}/revoke/",
        body=lambda w: {"reason": "信用降级"},
        ok=changed(lambda w: WhitelistEntry.objects.get(id=w.ids["whitelist_entry"]).revoked_at is not None),
    ),
    page("get", "approvals/incoming/", PROVINCE_READ, "/approvals/incoming/"),
    page(
        "post",
        "approvals/incoming/",
        PROVINCE,
        "/approvals/incoming/",
        body=lambda w: {"message": json.dumps(_incoming("matrix-incoming-3"))},
        ok=_count(IncomingRequest, "incoming_count"),
    ),
    page(
        "get",
        "approvals/incoming/<int:incoming_id>/",
        PROVINCE_READ,
        lambda w: f"/approvals/incoming/{w.ids['incoming']}/",
    ),
    page(
        "post",
        "approvals/incoming/<int:incoming_id>/reply/",
        PROVINCE,
        lambda w: f"/approvals/incoming/{w.ids['incoming']}/reply/",
        body=lambda w: {"decision": "agree"},
        ok=changed(lambda w: IncomingRequest.objects.get(id=w.ids["incoming"]).status == "replied"),
    ),
    page("get", "approvals/<int:application_id>/", OWN_READ, lambda w: f"/approvals/{w.ids['appr_draft']}/"),
    page(
        "post",
        "approvals/<int:application_id>/submit/",
        PLAN_WRITE,
        lambda w: f"/approvals/{w.ids['appr_draft']}/submit/",
        ok=_status("appr_draft", "submitted"),
    ),
    page(
        "post",
        "approvals/<int:application_id>/withdraw/",
        PLAN_WRITE,
        lambda w: f"/approvals/{w.ids['appr_submitted']}/withdraw/",
        body=lambda w: {"reason": "改为省内处置"},
        ok=_status("appr_submitted", "withdrawn"),
    ),
    page(
        "post",
        "approvals/<int:application_id>/attachments/",
        PLAN_WRITE,
        lambda w: f"/approvals/{w.ids['appr_draft']}/attachments/",
        body=lambda w: {"file": SimpleUploadedFile("合同.pdf", b"%PDF-1.4 matrix"), "kind": "contract"},
        ok=changed(lambda w: Application.objects.get(id=w.ids["appr_draft"]).attachments.count() == 1),
    ),
    page(
        "post",
        "approvals/<int:application_id>/act/",
        PROVINCE,
        lambda w: f"/approvals/{w.ids['appr_submitted']}/act/",
        body=lambda w: {"action": "accept"},
        ok=changed(lambda w: Step.objects.filter(application_id=w.ids["appr_submitted"], outcome="accepted").exists()),
    ),
]


def extend(world: World) -> None:
    """Applications of the world's site at four stages (draft; submitted; requested from the receiving
    province; awaiting the decision), a whitelist entry for the own unit (added after the
    applications were submitted), and an incoming request from Liaoning."""
    body = _body(world)
    body["lines"] = [{**body["lines"][0], "tonnes": Decimal(5)}]
    for key in ("appr_draft", "appr_submitted", "appr_requested", "appr_decision"):
        app = services.application_create(
            actor=SYSTEM,
            **{
                **body,
                "receiver_licence_valid_to": dt.date.fromisoformat(body["receiver_licence_valid_to"]),
                "period_from": dt.date.fromisoformat(body["period_from"]),
                "period_to": dt.date.fromisoformat(body["period_to"]),
            },
        )
        world.ids[key] = app.id
        if key == "appr_draft":
            continue
        services.application_submit(actor=SYSTEM, application_id=app.id)
        if key == "appr_submitted":
            continue
        services.step_act(actor=SYSTEM, application_id=app.id, action="accept")
        services.step_act(actor=SYSTEM, application_id=app.id, action="agree")
        if key == "appr_decision":
            services.reply_record(actor=SYSTEM, application_id=app.id, decision="agree", responder="辽宁省生态环境厅")
    today = timezone.localdate()
    entry = services.whitelist_add(
        actor=SYSTEM,
        enterprise_id=world.ids["own"],
        basis="环境信用A级",
        valid_from=today,
        valid_to=today + dt.timedelta(days=365),
    )
    world.ids["whitelist_entry"] = entry.id
    world.ids["incoming"] = services.incoming_record(actor=SYSTEM, message=_incoming("matrix-incoming-1")).id
    world.ids["appr_count"] = Application.objects.count()
    world.ids["whitelist_count"] = WhitelistEntry.objects.count()
    world.ids["incoming_count"] = IncomingRequest.objects.count()
