"""Exchange messages between provinces' platforms (docs/approvals.md):

- ``approval_request.v1``: the origin province asks the receiving province (the 商请函, 第二十四条);
- ``approval_response.v1``: the receiving province agrees or not (第二十五条).

Builders return plain JSON-able dicts; parsers are strict: an unknown or missing field, a wrong
type, or a bad value raises ``ApplicationError`` whose message names the field (``field`` is the
dotted path, e.g. ``lines[0].tonnes``)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from weifei.core.errors import ApplicationError
from weifei.core.identifiers import validate_credit_code

from .rules import PROVINCE_RE

REQUEST_TYPE = "approval_request.v1"
RESPONSE_TYPE = "approval_response.v1"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CODE_RE = re.compile(r"^\d{3}-\d{3}-\d{2}$")
DECISIONS = ("agree", "disagree")


def _bad(field: str, message: str) -> ApplicationError:
    return ApplicationError(f"消息字段 {field}：{message}", code="message_invalid", field=field)


def _obj(value: Any, field: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(field or "(消息)", "应为 JSON 对象")
    prefix = f"{field}." if field else ""
    for key in sorted(keys):
        if key not in value:
            raise _bad(prefix + key, "缺少该字段")
    for key in sorted(set(value) - keys):
        raise _bad(prefix + key, "不是该消息的字段")
    return value


def _str(value: Any, field: str, *, max_length: int = 200, blank: bool = False) -> str:
    if not isinstance(value, str):
        raise _bad(field, "应为字符串")
    value = value.strip()
    if not value and not blank:
        raise _bad(field, "不能为空")
    if len(value) > max_length:
        raise _bad(field, f"长度不能超过 {max_length}")
    return value


def _date(value: Any, field: str) -> dt.date:
    text = _str(value, field, max_length=10)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _bad(field, "日期格式应为 YYYY-MM-DD") from None


def _datetime(value: Any, field: str) -> dt.datetime:
    text = _str(value, field, max_length=40)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _bad(field, "时间格式应为 ISO 8601（含时区）") from None
    if parsed.tzinfo is None:
        raise _bad(field, "时间须带时区")
    return parsed


def _province(value: Any, field: str) -> str:
    text = _str(value, field, max_length=6)
    if not PROVINCE_RE.match(text):
        raise _bad(field, "应为 6 位省级行政区划代码（如 210000）")
    return text


def _credit(value: Any, field: str) -> str:
    text = _str(value, field, max_length=18)
    try:
        return validate_credit_code(text, field=field)
    except ApplicationError as exc:
        raise _bad(field, exc.message) from None


def _tonnes(value: Any, field: str) -> Decimal:
    if not isinstance(value, str):
        raise _bad(field, "应为十进制数字字符串（吨）")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _bad(field, "应为十进制数字字符串（吨）") from None
    if not amount.is_finite() or amount <= 0:
        raise _bad(field, "应大于 0")
    return amount


def _type(data: dict[str, Any], expected: str) -> None:
    if data.get("type") != expected:
        raise _bad("type", f"应为 {expected}")


# ---- approval_request.v1 ------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedRequest:
    request_id: str
    application_id: str
    origin_province: str
    consignor_name: str
    consignor_credit_code: str
    receiver_name: str
    receiver_credit_code: str
    receiver_licence_number: str
    receiver_province: str
    lines: list[dict[str, str]]
    method_code: str
    period_from: dt.date
    period_to: dt.date
    attachments: list[dict[str, str]]
    sent_at: dt.datetime


def request_build(application: Any, *, sent_at: dt.datetime) -> dict[str, Any]:
    """The 商请函 of an application (origin province → receiving province)."""
    return {
        "type": REQUEST_TYPE,
        "request_id": str(application.exchange_id),
        "application_id": str(application.id),
        "origin_province": "220000",
        "consignor": {"name": application.consignor.name, "credit_code": application.consignor.credit_code},
        "receiver": {
            "province": application.receiver_province,
            "name": application.receiver_name,
            "credit_code": application.receiver_credit_code,
            "licence_number": application.receiver_licence_number,
        },
        "lines": [
            {"waste_code": x.waste_code, "waste_name": x.waste_name, "tonnes": f"{x.tonnes.normalize():f}"}
            for x in application.lines.all()
        ],
        "method_code": application.method_code,
        "period": {"from": application.period_from.isoformat(), "to": application.period_to.isoformat()},
        "attachments": [{"name": a.name, "sha256": a.sha256} for a in application.attachments.all()],
        "sent_at": sent_at.isoformat(),
    }


def request_parse(data: Any) -> ParsedRequest:
    keys = {
        "type",
        "request_id",
        "application_id",
        "origin_province",
        "consignor",
        "receiver",
        "lines",
        "method_code",
        "period",
        "attachments",
        "sent_at",
    }
    data = _obj(data, "", keys)
    _type(data, REQUEST_TYPE)
    consignor = _obj(data["consignor"], "consignor", {"name", "credit_code"})
    receiver = _obj(data["receiver"], "receiver", {"province", "name", "credit_code", "licence_number"})
    period = _obj(data["period"], "period", {"from", "to"})
    if not isinstance(data["lines"], list) or not data["lines"]:
        raise _bad("lines", "应为非空数组")
    lines = []
    seen: set[str] = set()
    for i, raw in enumerate(data["lines"]):
        row = _obj(raw, f"lines[{i}]", {"waste_code", "waste_name", "tonnes"})
        code = _str(row["waste_code"], f"lines[{i}].waste_code", max_length=10)
        if not CODE_RE.match(code):
            raise _bad(f"lines[{i}].waste_code", "格式应为 NNN-NNN-NN")
        if code in seen:
            raise _bad(f"lines[{i}].waste_code", f"废物代码 {code} 重复")
        seen.add(code)
        tonnes = _tonnes(row["tonnes"], f"lines[{i}].tonnes")
        lines.append(
            {
                "waste_code": code,
                "waste_name": _str(row["waste_name"], f"lines[{i}].waste_name"),
                "tonnes": f"{tonnes.normalize():f}",
            }
        )
    if not isinstance(data["attachments"], list):
        raise _bad("attachments", "应为数组")
    attachments = []
    for i, raw in enumerate(data["attachments"]):
        row = _obj(raw, f"attachments[{i}]", {"name", "sha256"})
        digest = _str(row["sha256"], f"attachments[{i}].sha256", max_length=64).lower()
        if not SHA256_RE.match(digest):
            raise _bad(f"attachments[{i}].sha256", "应为 64 位十六进制 SHA-256 摘要")
        attachments.append({"name": _str(row["name"], f"attachments[{i}].name"), "sha256": digest})
    period_from = _date(period["from"], "period.from")
    period_to = _date(period["to"], "period.to")
    if period_to < period_from:
        raise _bad("period.to", "拟转移期限的结束日期早于开始日期")
    origin = _province(data["origin_province"], "origin_province")
    receiver_province = _province(receiver["province"], "receiver.province")
    if origin == receiver_province:
        raise _bad("receiver.province", "接受地与移出地为同一省份，不是跨省转移")
    return ParsedRequest(
        request_id=_str(data["request_id"], "request_id", max_length=64),
        application_id=_str(data["application_id"], "application_id", max_length=64),
        origin_province=origin,
        consignor_name=_str(consignor["name"], "consignor.name"),
        consignor_credit_code=_credit(consignor["credit_code"], "consignor.credit_code"),
        receiver_name=_str(receiver["name"], "receiver.name"),
        receiver_credit_code=_credit(receiver["credit_code"], "receiver.credit_code"),
        receiver_licence_number=_str(receiver["licence_number"], "receiver.licence_number", max_length=60),
        receiver_province=receiver_province,
        lines=lines,
        method_code=_str(data["method_code"], "method_code", max_length=8),
        period_from=period_from,
        period_to=period_to,
        attachments=attachments,
        sent_at=_datetime(data["sent_at"], "sent_at"),
    )


# ---- approval_response.v1 -----------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedResponse:
    request_id: str
    decision: str
    comment: str
    responded_at: dt.datetime
    responder: str


def response_build(
    *, request_id: str, decision: str, comment: str, responded_at: dt.datetime, responder: str
) -> dict[str, Any]:
    return {
        "type": RESPONSE_TYPE,
        "request_id": request_id,
        "decision": decision,
        "comment": comment,
        "responded_at": responded_at.isoformat(),
        "responder": responder,
    }


def response_parse(data: Any) -> ParsedResponse:
    data = _obj(data, "", {"type", "request_id", "decision", "comment", "responded_at", "responder"})
    _type(data, RESPONSE_TYPE)
    decision = _str(data["decision"], "decision", max_length=10)
    if decision not in DECISIONS:
        raise _bad("decision", "应为 agree 或 disagree")
    comment = _str(data["comment"], "comment", max_length=1000, blank=True)
    if decision == "disagree" and not comment:
        raise _bad("comment", "不同意时须说明理由（转移办法 第二十五条）")
    return ParsedResponse(
        request_id=_str(data["request_id"], "request_id", max_length=64),
        decision=decision,
        comment=comment,
        responded_at=_datetime(data["responded_at"], "responded_at"),
        responder=_str(data["responder"], "responder", max_length=150),
    )
