"""Exchange messages: approval_request.v1 / approval_response.v1 round trips, the strict parsers'
refusals naming the field, importing a response as the reply step, and the other direction (an
incoming request to Jilin answered within 10 working days)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from weifei.approvals import messages, services
from weifei.approvals.models import ApprovalFinding, IncomingRequest, Step
from weifei.approvals.tests.conftest import CODE, RECEIVER_CREDIT, SH, W, at, draft
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
DAY = dt.date(2026, 3, 2)


def _requested(w: W) -> Any:
    app = draft(w, today=DAY)
    p = w.actors["province"]
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="accept", now=at(DAY))
    services.step_act(actor=p, application_id=app.id, action="agree", now=at(DAY))
    return app


def test_request_round_trip(w: W) -> None:
    app = _requested(w)
    built = messages.request_build(app, sent_at=at(DAY, 11))
    parsed = messages.request_parse(json.loads(json.dumps(built)))
    assert parsed.request_id == str(app.exchange_id)
    assert parsed.origin_province == "220000" and parsed.receiver_province == "210000"
    assert parsed.consignor_credit_code == "91350100M000100Y43"
    assert parsed.receiver_credit_code == RECEIVER_CREDIT
    assert parsed.lines == [
        {"waste_code": CODE, "waste_name": "废矿物油", "tonnes": "10"},
        {"waste_code": "900-041-49", "waste_name": "实验室废液", "tonnes": "2.5"},
    ]
    assert parsed.attachments == [{"name": "许可证.pdf", "sha256": "a" * 64}]
    assert (parsed.period_from, parsed.method_code) == (DAY, "D10")


def _request(w: W) -> dict[str, Any]:
    return messages.request_build(_requested(w), sent_at=at(DAY, 11))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m.pop("lines"), "lines"),
        (lambda m: m.update(extra=1), "extra"),
        (lambda m: m.update(type="approval_request.v2"), "type"),
        (lambda m: m["receiver"].pop("licence_number"), "receiver.licence_number"),
        (lambda m: m["receiver"].update(province="22000"), "receiver.province"),
        (lambda m: m["consignor"].update(credit_code="91350100M000100Y44"), "consignor.credit_code"),
        (lambda m: m["lines"][1].update(tonnes=3), "lines[1].tonnes"),
        (lambda m: m["lines"][0].update(tonnes="-1"), "lines[0].tonnes"),
        (lambda m: m["lines"][0].update(waste_code="HW08"), "lines[0].waste_code"),
        (lambda m: m.update(lines=[]), "lines"),
        (lambda m: m["attachments"][0].update(sha256="xyz"), "attachments[0].sha256"),
        (lambda m: m["period"].update(to="2026-02-30"), "period.to"),
        (lambda m: m["period"].update(to="2026-01-01"), "period.to"),
        (lambda m: m.update(sent_at="2026-03-02T10:00:00"), "sent_at"),
        (lambda m: m.update(origin_province="210000"), "receiver.province"),
    ],
)
def test_request_parser_refuses_naming_the_field(w: W, mutate: Any, field: str) -> None:
    message = copy.deepcopy(_request(w))
    mutate(message)
    with pytest.raises(ApplicationError) as exc:
        messages.request_parse(message)
    assert (exc.value.code, exc.value.field) == ("message_invalid", field)
    assert field in exc.value.message


def test_request_parser_refuses_a_non_object() -> None:
    with pytest.raises(ApplicationError) as exc:
        messages.request_parse([1])
    assert "JSON 对象" in exc.value.message


def _response(request_id: str, **change: Any) -> dict[str, Any]:
    base = messages.response_build(
        request_id=request_id,
        decision="agree",
        comment="同意接受",
        responded_at=at(dt.date(2026, 3, 10), 15),
        responder="辽宁省生态环境厅",
    )
    base.update(change)
    return base


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"decision": "disagree", "comment": ""}, "comment"),
        ({"responded_at": "yesterday"}, "responded_at"),
        ({"responder": ""}, "responder"),
        ({"type": "approval_request.v1"}, "type"),
        ({"foo": "bar"}, "foo"),
    ],
)
def test_response_parser_refuses_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        messages.response_parse(_response("abc", **change))
    assert exc.value.field == field


def test_importing_a_response_records_the_reply_step(w: W) -> None:
    app = _requested(w)
    message = json.loads(json.dumps(_response(str(app.exchange_id))))
    assert messages.response_parse(message).responded_at == at(dt.date(2026, 3, 10), 15)
    with pytest.raises(PermissionDenied):
        services.response_import(actor=w.actors["liaison"], message=message)
    with pytest.raises(NotFound):
        services.response_import(actor=w.actors["province"], message=_response("00000000-0000-0000-0000-000000000000"))
    services.response_import(actor=w.actors["province"], message=message, now=at(dt.date(2026, 3, 11)))
    reply, decision = Step.objects.filter(application=app).order_by("id")[2:]
    assert (reply.kind, reply.outcome, reply.comment) == ("receiving", "agreed", "辽宁省生态环境厅：同意接受")
    assert (decision.kind, decision.started_on, decision.due_on) == (
        "decision",
        dt.date(2026, 3, 10),
        dt.date(2026, 3, 17),
    )
    with pytest.raises(ApplicationError) as exc:  # a second import finds no open request
        services.response_import(actor=w.actors["province"], message=message)
    assert exc.value.code == "wrong_step"


# ---- the other direction: Jilin is the receiving province ------------------------------------------


def _incoming_message(**change: Any) -> dict[str, Any]:
    message = {
        "type": "approval_request.v1",
        "request_id": "liaoning-2026-0042",
        "application_id": "42",
        "origin_province": "210000",
        "consignor": {"name": "辽宁测试产废有限公司", "credit_code": RECEIVER_CREDIT},
        "receiver": {
            "province": "220000",
            "name": "吉林测试处置有限公司",
            "credit_code": "91350100M000100Y43",
            "licence_number": "吉危许001",
        },
        "lines": [{"waste_code": CODE, "waste_name": "废矿物油", "tonnes": "20"}],
        "method_code": "D10",
        "period": {"from": "2026-04-01", "to": "2026-12-31"},
        "attachments": [{"name": "合同.pdf", "sha256": "b" * 64}],
        "sent_at": "2026-03-02T09:00:00+08:00",
    }
    message.update(change)
    return message


def test_incoming_request_recorded_and_answered_with_a_response_message(w: W) -> None:
    for who in ("county", "prefecture", "liaison", "admin"):
        with pytest.raises(PermissionDenied):
            services.incoming_record(actor=w.actors[who], message=_incoming_message())
    with pytest.raises(ApplicationError) as exc:
        services.incoming_record(
            actor=w.actors["province"],
            message=_incoming_message(receiver={**_incoming_message()["receiver"], "province": "230000"}),
        )
    assert exc.value.code == "not_for_jilin"
    incoming = services.incoming_record(actor=w.actors["province"], message=_incoming_message(), now=at(DAY))
    assert (incoming.received_on, incoming.due_on) == (DAY, dt.date(2026, 3, 16))  # 10 working days
    with pytest.raises(ApplicationError) as exc:
        services.incoming_record(actor=w.actors["province"], message=_incoming_message(), now=at(DAY))
    assert exc.value.code == "already_recorded"
    with pytest.raises(PermissionDenied):
        services.incoming_reply(actor=w.actors["liaison"], incoming_id=incoming.id, decision="agree")
    with pytest.raises(ApplicationError) as exc:
        services.incoming_reply(actor=w.actors["province"], incoming_id=incoming.id, decision="disagree")
    assert (exc.value.code, exc.value.field) == ("reason_required", "comment")
    response = services.incoming_reply(
        actor=w.actors["province"],
        incoming_id=incoming.id,
        decision="disagree",
        comment="接受人年度经营规模已满",
        now=at(dt.date(2026, 3, 5)),
    )
    parsed = messages.response_parse(json.loads(json.dumps(response)))
    assert (parsed.request_id, parsed.decision, parsed.comment) == (
        "liaoning-2026-0042",
        "disagree",
        "接受人年度经营规模已满",
    )
    assert parsed.responded_at == dt.datetime(2026, 3, 5, 10, tzinfo=SH)
    assert IncomingRequest.objects.get().status == "replied"
    with pytest.raises(ApplicationError) as exc:
        services.incoming_reply(actor=w.actors["province"], incoming_id=incoming.id, decision="agree")
    assert exc.value.code == "already_replied"
    assert Event.objects.filter(kind__startswith="approval.incoming.", stream="region:220000").count() == 2


def test_unanswered_incoming_request_raises_a_finding_once(w: W) -> None:
    services.incoming_record(actor=w.actors["province"], message=_incoming_message(), now=at(DAY))
    assert services.approvals_sweep(at(dt.date(2026, 3, 16), 23))["findings"] == 0
    assert services.approvals_sweep(at(dt.date(2026, 3, 17), 0))["findings"] == 1
    assert services.approvals_sweep(at(dt.date(2026, 3, 18), 0))["findings"] == 0
    assert ApprovalFinding.objects.get().rule == "incoming_overdue"
