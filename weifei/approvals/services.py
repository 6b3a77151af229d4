"""Writes of the cross-province approval procedure (转移办法 第二十一条–第二十八条).

Every function takes the actor, checks its role, runs in one transaction and records an event on
the consignor's stream (incoming requests, which concern no Jilin unit, on ``region:220000``).
The consignor (its admin or member) drafts, submits and withdraws; only regulators of the origin
province (region 220000) act on steps; the sweep (system) deems silent completeness checks
accepted and raises findings for overdue steps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import validate_waste_code
from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.events import event_record
from weifei.core.identifiers import validate_credit_code
from weifei.core.permissions import require_enterprise_member, require_regulator_over
from weifei.core.workdays import WorkCalendar
from weifei.registry.models import Enterprise, Site

from . import messages, rules
from .models import (
    Application,
    ApplicationLine,
    Approval,
    ApprovalFinding,
    ApprovalLine,
    Attachment,
    Consumption,
    IncomingRequest,
    Step,
    WhitelistEntry,
)
from .rules import ORIGIN_PROVINCE

REGION_STREAM = f"region:{ORIGIN_PROVINCE}"
MAX_LINES = 50
MAX_ATTACHMENTS = 30


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _tonnes(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplicationError("数量应为数字（吨）", code="tonnes_invalid", field=field) from None
    if not amount.is_finite() or amount <= 0:
        raise ApplicationError("数量（吨）应大于 0", code="tonnes_not_positive", field=field)
    if amount.as_tuple().exponent < -6 or amount >= Decimal(10) ** 8:  # type: ignore[operator]
        raise ApplicationError("数量最多 6 位小数且小于 1 亿吨", code="tonnes_precision", field=field)
    return amount


def _province(value: str, field: str) -> str:
    value = (value or "").strip()
    if not rules.PROVINCE_RE.match(value):
        raise ApplicationError("接受地省份应为 6 位省级行政区划代码（如 210000）", code="province_invalid", field=field)
    if value == ORIGIN_PROVINCE:
        raise ApplicationError("接受地为吉林省，不是跨省转移，无需申请", code="same_province", field=field)
    return value


def _province_name(code: str) -> str:
    from weifei.catalog.models import Region

    return Region.objects.filter(key=code).values_list("name", flat=True).first() or code


def _locked(application_id: int) -> Application:
    found = Application.objects.select_for_update().filter(id=application_id).first()
    if found is None:
        raise NotFound("跨省转移申请不存在", field="application")
    return found


def _open_step(application: Application, kind: str, *, started_on: dt.date, now: dt.datetime) -> Step:
    n = rules.WORKING_DAYS[kind]
    return Step.objects.create(
        application=application,
        kind=kind,
        started_on=started_on,
        working_days=n,
        due_on=WorkCalendar().add_working_days(started_on, n),
        opened_at=now,
    )


def _open(application: Application) -> Step | None:
    return Step.objects.select_for_update().filter(application=application, outcome="").first()


def _close(step: Step, *, outcome: str, actor: Actor, comment: str, now: dt.datetime) -> None:
    step.outcome = outcome
    step.closed_at = now
    step.actor_user_id = actor.user_id
    step.actor_label = actor.label or actor.kind
    step.comment = comment
    step.save(update_fields=["outcome", "closed_at", "actor_user_id", "actor_label", "comment"])


def _record(application: Application, actor: Actor, kind: str, after: dict[str, Any], reason: str = "") -> None:
    event_record(
        subject=application, actor=actor, kind=kind, after=after, reason=reason, organisation=application.consignor_id
    )


# ---- the consignor: draft, attachments, submit, withdraw -----------------------------------------


@transaction.atomic
def application_create(
    *,
    actor: Actor,
    site_id: int,
    receiver_province: str,
    receiver_name: str,
    receiver_credit_code: str,
    receiver_licence_number: str,
    receiver_licence_valid_to: dt.date,
    method_code: str,
    period_from: dt.date,
    period_to: dt.date,
    lines: list[dict[str, Any]],
    attachments: list[dict[str, Any]] | None = None,
    note: str = "",
    today: dt.date | None = None,
) -> Application:
    """A draft application (第二十二条) for one of the consignor's sites."""
    site = Site.objects.select_related("enterprise").filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site_id")
    require_enterprise_member(actor, site.enterprise_id, action="申请跨省转移")
    today = today or timezone.localdate()
    province = _province(receiver_province, "receiver_province")
    name = (receiver_name or "").strip()
    if not name:
        raise ApplicationError("接受人名称不能为空", code="receiver_name_required", field="receiver_name")
    credit = validate_credit_code(receiver_credit_code, field="receiver_credit_code")
    if credit == site.enterprise.credit_code:
        raise ApplicationError("接受人不能是移出人本身", code="receiver_is_consignor", field="receiver_credit_code")
    registered = Enterprise.objects.select_related("region").filter(credit_code=credit).first()
    if (
        registered is not None
        and not registered.region.in_home_province
        and registered.region.province_code != province
    ):
        # An out-of-province receiver the province registered here names its own province.
        raise ApplicationError(
            f"接受人 {registered.name} 登记在{_province_name(registered.region.province_code)}，"
            f"与接受地省份 {province} 不符",
            code="receiver_province_mismatch",
            field="receiver_province",
        )
    licence = (receiver_licence_number or "").strip()
    if not licence:
        raise ApplicationError(
            "接受人危险废物经营许可证编号不能为空", code="licence_required", field="receiver_licence_number"
        )
    if receiver_licence_valid_to < today:
        raise ApplicationError(
            f"接受人经营许可证已于 {receiver_licence_valid_to} 到期",
            code="licence_expired",
            field="receiver_licence_valid_to",
        )
    method = (method_code or "").strip().upper()
    if not DisposalMethod.objects.filter(code=method).exists():
        raise ApplicationError(f"利用/处置方式代码 {method_code!r} 不存在", code="method_unknown", field="method_code")
    if period_to < period_from:
        raise ApplicationError("拟转移期限的结束日期早于开始日期", code="period_invalid", field="period_to")
    if period_to < today:
        raise ApplicationError("拟转移期限已经结束", code="period_past", field="period_to")
    if not lines:
        raise ApplicationError("至少填写一种危险废物", code="lines_required", field="lines")
    if len(lines) > MAX_LINES:
        raise ApplicationError(f"一份申请最多 {MAX_LINES} 种废物", code="too_many_lines", field="lines")
    clean: list[ApplicationLine] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        valid = validate_waste_code(str(line.get("waste_code", "")), on=today, field=f"lines[{i}].waste_code")
        if valid.code in seen:
            raise ApplicationError(
                f"废物代码 {valid.code} 重复填写", code="duplicate_code", field=f"lines[{i}].waste_code"
            )
        seen.add(valid.code)
        listed = valid.waste_code.description if valid.waste_code is not None else ""
        waste_name = str(line.get("waste_name") or "").strip() or listed
        if not waste_name:
            raise ApplicationError("须填写废物名称", code="waste_name_required", field=f"lines[{i}].waste_name")
        clean.append(
            ApplicationLine(
                waste_code=valid.code,
                category=valid.category,
                waste_name=waste_name[:200],
                tonnes=_tonnes(line.get("tonnes"), f"lines[{i}].tonnes"),
            )
        )
    application = Application.objects.create(
        consignor=site.enterprise,
        site=site,
        receiver_province=province,
        receiver_name=name[:200],
        receiver_credit_code=credit,
        receiver_licence_number=licence[:60],
        receiver_licence_valid_to=receiver_licence_valid_to,
        method_code=method,
        period_from=period_from,
        period_to=period_to,
        note=(note or "")[:1000],
        created_by_label=actor.label or actor.kind,
    )
    for line_row in clean:
        line_row.application = application
    ApplicationLine.objects.bulk_create(clean)
    for item in attachments or []:
        _attachment(application, item)
    _record(
        application,
        actor,
        "approval.application.created",
        {
            "site": site.id,
            "receiver": credit,
            "province": province,
            "method": method,
            "lines": [(x.waste_code, x.tonnes) for x in clean],
        },
    )
    return application


def _attachment(application: Application, item: dict[str, Any]) -> Attachment:
    if application.attachments.count() >= MAX_ATTACHMENTS:
        raise ApplicationError(f"附件最多 {MAX_ATTACHMENTS} 个", code="too_many_attachments", field="attachments")
    name = str(item.get("name") or "").strip()
    if not name:
        raise ApplicationError("附件名称不能为空", code="attachment_name_required", field="attachments.name")
    digest = str(item.get("sha256") or "").strip().lower()
    if not messages.SHA256_RE.match(digest):
        raise ApplicationError("附件 SHA-256 摘要应为 64 位十六进制", code="sha256_invalid", field="attachments.sha256")
    size = item.get("size")
    if not isinstance(size, int) or size <= 0:
        raise ApplicationError("附件大小（字节）应为正整数", code="size_invalid", field="attachments.size")
    kind = str(item.get("kind") or Attachment.Kind.OTHER)
    if kind not in Attachment.Kind.values:
        raise ApplicationError(f"附件类型 {kind!r} 无效", code="attachment_kind", field="attachments.kind")
    return Attachment.objects.create(application=application, kind=kind, name=name[:200], sha256=digest, size=size)


@transaction.atomic
def attachment_add(
    *, actor: Actor, application_id: int, name: str, sha256: str, size: int, kind: str = "other"
) -> Attachment:
    """Materials may be added to a draft, or supplemented after a 补正 notice (第二十三条)."""
    application = _locked(application_id)
    require_enterprise_member(actor, application.consignor_id, action="补充申请材料")
    if application.status not in ("draft", "returned"):
        raise ApplicationError("只有草稿或退回补正的申请可以补充材料", code="not_editable", field="status")
    attachment = _attachment(application, {"name": name, "sha256": sha256, "size": size, "kind": kind})
    _record(application, actor, "approval.attachment.added", {"name": attachment.name, "sha256": attachment.sha256})
    return attachment


def whitelisted(*, enterprise_id: int, on: dt.date) -> WhitelistEntry | None:
    return WhitelistEntry.objects.filter(
        enterprise_id=enterprise_id, revoked_at__isnull=True, valid_from__lte=on, valid_to__gte=on
    ).first()


@transaction.atomic
def application_submit(*, actor: Actor, application_id: int, now: dt.datetime | None = None) -> Application:
    """Submit (or resubmit after 补正): opens the completeness check (5 working days), or for a
    whitelisted consignor the simplified step (3 working days)."""
    now = _now(now)
    application = _locked(application_id)
    require_enterprise_member(actor, application.consignor_id, action="提交跨省转移申请")
    if application.status not in ("draft", "returned"):
        raise ApplicationError("申请已提交，不能重复提交", code="already_submitted", field="status")
    today = timezone.localdate(now)
    if application.period_to < today:
        raise ApplicationError("拟转移期限已经结束", code="period_past", field="period_to")
    entry = whitelisted(enterprise_id=application.consignor_id, on=today)
    kind = "simplified" if entry else "completeness"
    application.procedure = "simplified" if entry else "standard"
    application.status = "submitted"
    application.submitted_at = now
    application.save(update_fields=["procedure", "status", "submitted_at"])
    step = _open_step(application, kind, started_on=today, now=now)
    _record(
        application,
        actor,
        "approval.application.submitted",
        {
            "procedure": application.procedure,
            "step": kind,
            "due_on": step.due_on,
            "whitelist_entry": entry.id if entry else None,
        },
    )
    return application


@transaction.atomic
def application_withdraw(
    *, actor: Actor, application_id: int, reason: str = "", now: dt.datetime | None = None
) -> Application:
    now = _now(now)
    application = _locked(application_id)
    require_enterprise_member(actor, application.consignor_id, action="撤回跨省转移申请")
    if application.status not in rules.WITHDRAWABLE:
        raise ApplicationError("审批决定已作出或申请已结束，不能撤回", code="not_withdrawable", field="status")
    step = _open(application)
    if step is not None:
        _close(step, outcome="withdrawn", actor=actor, comment=reason[:1000], now=now)
    application.status = "withdrawn"
    application.closed_at = now
    application.outcome_comment = reason[:1000]
    application.save(update_fields=["status", "closed_at", "outcome_comment"])
    _record(application, actor, "approval.application.withdrawn", {"status": "withdrawn"}, reason=reason[:500])
    return application


# ---- the origin province: steps --------------------------------------------------------------------


def _advance(
    application: Application,
    step: Step,
    *,
    outcome: str,
    actor: Actor,
    comment: str,
    now: dt.datetime,
    next_start: dt.date | None = None,
) -> Step | None:
    """Close ``step`` with ``outcome`` and open what the flow table says comes next."""
    if (step.kind, outcome) not in rules.FLOW:
        raise ApplicationError(
            f"“{step.get_kind_display()}”环节不能作出“{outcome}”的结论", code="outcome_invalid", field="outcome"
        )
    next_kind, status = rules.FLOW[(step.kind, outcome)]
    _close(step, outcome=outcome, actor=actor, comment=comment, now=now)
    following = None
    if next_kind is not None:
        following = _open_step(application, next_kind, started_on=next_start or timezone.localdate(now), now=now)
    application.status = status
    fields = ["status"]
    if next_kind is None:
        application.closed_at = now
        application.outcome_comment = comment
        fields += ["closed_at", "outcome_comment"]
    application.save(update_fields=fields)
    _record(
        application,
        actor,
        f"approval.step.{outcome}",
        {"step": step.kind, "status": status, "next": next_kind, "due_on": following.due_on if following else None},
        reason=comment[:500],
    )
    return following


STEP_ACTIONS = {
    # action -> (step kinds it applies to, outcome)
    "accept": (("completeness",), "accepted"),
    "return": (("completeness", "simplified"), "returned"),
    "agree": (("preliminary", "simplified"), "agreed"),
    "disagree": (("preliminary", "simplified"), "disagreed"),
}
NEEDS_REASON = {
    "returned": "退回补正须一次性告知需要补正的全部内容（第二十三条）",
    "disagreed": "不同意须书面说明理由（第二十四条）",
}


@transaction.atomic
def step_act(
    *, actor: Actor, application_id: int, action: str, comment: str = "", now: dt.datetime | None = None
) -> Application:
    """The origin province's completeness check and preliminary review (第二十三条、第二十四条)."""
    now = _now(now)
    require_regulator_over(actor, ORIGIN_PROVINCE, action="办理跨省转移审批")
    application = _locked(application_id)
    if action not in STEP_ACTIONS:
        raise ApplicationError(f"操作 {action!r} 无效", code="action_invalid", field="action")
    kinds, outcome = STEP_ACTIONS[action]
    step = _open(application)
    if step is None or step.kind not in kinds:
        current = step.get_kind_display() if step else application.get_status_display()
        raise ApplicationError(f"当前环节为“{current}”，不能执行该操作", code="wrong_step", field="action")
    comment = (comment or "").strip()[:1000]
    if outcome in NEEDS_REASON and not comment:
        raise ApplicationError(NEEDS_REASON[outcome], code="reason_required", field="comment")
    _advance(application, step, outcome=outcome, actor=actor, comment=comment, now=now)
    return application


@transaction.atomic
def reply_record(
    *,
    actor: Actor,
    application_id: int,
    decision: str,
    comment: str = "",
    responder: str = "",
    responded_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Application:
    """The receiving province's reply (第二十五条), entered by the origin province or imported from
    an ``approval_response.v1`` message. The decision timer starts on the reply's date."""
    now = _now(now)
    require_regulator_over(actor, ORIGIN_PROVINCE, action="登记接受地省份复函")
    application = _locked(application_id)
    if decision not in messages.DECISIONS:
        raise ApplicationError(
            "复函意见应为 agree（同意）或 disagree（不同意）", code="decision_invalid", field="decision"
        )
    step = _open(application)
    if step is None or step.kind != "receiving":
        raise ApplicationError("该申请没有待接受地复函的商请", code="wrong_step", field="request_id")
    comment = (comment or "").strip()[:1000]
    if decision == "disagree" and not comment:
        raise ApplicationError("接受地不同意时须说明理由（第二十五条）", code="reason_required", field="comment")
    responded_at = responded_at or now
    if responded_at > now + dt.timedelta(minutes=5):
        raise ApplicationError("复函时间不能晚于当前时间", code="responded_in_future", field="responded_at")
    label = "：".join(part for part in (responder.strip()[:100], comment) if part)
    _advance(
        application,
        step,
        outcome="agreed" if decision == "agree" else "disagreed",
        actor=actor,
        comment=label[:1000],
        now=now,
        next_start=max(timezone.localdate(responded_at), step.started_on),
    )
    return application


def response_import(*, actor: Actor, message: Any, now: dt.datetime | None = None) -> Application:
    """Import an ``approval_response.v1`` message: records the reply step of the matching request."""
    require_regulator_over(actor, ORIGIN_PROVINCE, action="导入接受地省份复函")
    parsed = messages.response_parse(message)
    application = (
        Application.objects.filter(exchange_id__iexact=parsed.request_id).first() if _uuid(parsed.request_id) else None
    )
    if application is None:
        raise NotFound(f"没有商请标识为 {parsed.request_id} 的申请", field="request_id")
    return reply_record(
        actor=actor,
        application_id=application.id,
        decision=parsed.decision,
        comment=parsed.comment,
        responder=parsed.responder,
        responded_at=parsed.responded_at,
        now=now,
    )


def _uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@transaction.atomic
def application_decide(
    *,
    actor: Actor,
    application_id: int,
    approve: bool,
    comment: str = "",
    tonnes: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Application:
    """The decision (第二十六条): approval with the approved tonnes per code (at most those applied
    for) and the validity of 第二十七条; a refusal gives reasons."""
    now = _now(now)
    require_regulator_over(actor, ORIGIN_PROVINCE, action="作出跨省转移审批决定")
    application = _locked(application_id)
    step = _open(application)
    if step is None or step.kind != "decision":
        raise ApplicationError("该申请尚未进入审批决定环节", code="wrong_step", field="approve")
    comment = (comment or "").strip()[:1000]
    if not approve:
        if not comment:
            raise ApplicationError("不予批准须说明理由（第二十六条）", code="reason_required", field="comment")
        _advance(application, step, outcome="refused", actor=actor, comment=comment, now=now)
        return application
    reply = application.steps.filter(kind="receiving").exclude(outcome="").order_by("-id").first()
    if reply is None or reply.outcome != "agreed":
        raise ApplicationError("接受地省份未同意接受，不能批准", code="receiving_disagreed", field="approve")
    today = timezone.localdate(now)
    valid_from, valid_to = rules.validity(
        decided_on=today,
        period_from=application.period_from,
        period_to=application.period_to,
        licence_valid_to=application.receiver_licence_valid_to,
    )
    if valid_from > valid_to:
        raise ApplicationError(
            f"批准后的有效期为空（自 {valid_from} 至 {valid_to}）：拟转移期限或接受人经营许可证有效期已不足",
            code="validity_empty",
            field="approve",
        )
    requested = {x.waste_code: x for x in application.lines.all()}
    chosen = dict(tonnes or {})
    for code in chosen:
        if code not in requested:
            raise ApplicationError(f"废物代码 {code} 不在申请中", code="code_not_applied", field=f"tonnes.{code}")
    approval = Approval.objects.create(
        application=application,
        number=f"pending-{application.id}",
        decided_on=today,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    approval.number = f"吉跨转审{today.year}{approval.id:06d}"
    approval.save(update_fields=["number"])
    rows = []
    for code, line in requested.items():
        amount = _tonnes(chosen[code], f"tonnes.{code}") if code in chosen else line.tonnes
        if amount > line.tonnes:
            raise ApplicationError(
                f"废物代码 {code} 的批准量 {amount} 吨超过申请量 {line.tonnes} 吨",
                code="approved_exceeds_applied",
                field=f"tonnes.{code}",
            )
        rows.append(
            ApprovalLine(approval=approval, waste_code=code, waste_name=line.waste_name, approved_tonnes=amount)
        )
    ApprovalLine.objects.bulk_create(rows)
    _advance(application, step, outcome="approved", actor=actor, comment=comment, now=now)
    _record(
        application,
        actor,
        "approval.approved",
        {
            "number": approval.number,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "lines": [(x.waste_code, x.approved_tonnes) for x in rows],
        },
    )
    return application


# ---- consumption by manifests -------------------------------------------------------------------------


def _consumer(actor: Actor, approval: Approval, action: str) -> None:
    if actor.kind == "system":
        return
    require_enterprise_member(actor, approval.application.consignor_id, action=action)


@transaction.atomic
def approval_consume(
    *, actor: Actor, approval_id: int, waste_code: str, tonnes: Decimal, manifest_number: str, on: dt.date
) -> Consumption:
    """A cross-province manifest takes ``tonnes`` of ``waste_code`` (第二十七条、第二十八条): refused
    when the code is not approved, ``on`` is outside the validity, or the cumulative quantity would
    exceed the approved one. The approval line is row-locked, so concurrent manifests queue."""
    approval = Approval.objects.select_related("application").filter(id=approval_id).first()
    if approval is None:
        raise NotFound("跨省转移审批不存在", field="approval_id")
    _consumer(actor, approval, "使用跨省转移审批")
    amount = _tonnes(tonnes, "tonnes")
    number = (manifest_number or "").strip()
    if not number:
        raise ApplicationError("联单编号不能为空", code="manifest_number_required", field="manifest_number")
    line = ApprovalLine.objects.select_for_update().filter(approval=approval, waste_code=waste_code).first()
    if line is None:
        raise ApplicationError(
            f"审批 {approval.number} 未批准废物代码 {waste_code}，须重新申请（第二十八条）",
            code="code_not_approved",
            field="waste_code",
        )
    if approval.revoked_at is not None:
        raise ApplicationError(f"审批 {approval.number} 已撤销", code="approval_revoked", field="approval_id")
    if not approval.valid_from <= on <= approval.valid_to:
        raise ApplicationError(
            f"转移日期 {on} 不在审批 {approval.number} 的有效期（{approval.valid_from} 至 {approval.valid_to}）内",
            code="outside_validity",
            field="on",
        )
    if line.consumed_tonnes + amount > line.approved_tonnes:
        left = line.approved_tonnes - line.consumed_tonnes
        raise ApplicationError(
            f"废物代码 {waste_code} 累计转移量将超过批准量 {line.approved_tonnes.normalize():f} 吨"
            f"（剩余 {left.normalize():f} 吨），须重新申请（第二十八条）",
            code="approved_quantity_exceeded",
            field="tonnes",
        )
    if line.consumptions.filter(manifest_number=number, released_at__isnull=True).exists():
        raise ApplicationError(
            f"联单 {number} 已使用该审批的 {waste_code} 额度", code="already_consumed", field="manifest_number"
        )
    consumption = Consumption.objects.create(
        line=line, manifest_number=number, tonnes=amount, on=on, consumed_at=timezone.now()
    )
    ApprovalLine.objects.filter(id=line.id).update(consumed_tonnes=F("consumed_tonnes") + amount)
    _record(
        approval.application,
        actor,
        "approval.consumed",
        {"approval": approval.number, "waste_code": waste_code, "tonnes": amount, "manifest": number},
    )
    return consumption


@transaction.atomic
def approval_release(*, actor: Actor, approval_id: int, waste_code: str, manifest_number: str) -> Consumption:
    """A cancelled manifest gives its tonnes back."""
    approval = Approval.objects.select_related("application").filter(id=approval_id).first()
    if approval is None:
        raise NotFound("跨省转移审批不存在", field="approval_id")
    _consumer(actor, approval, "释放跨省转移审批额度")
    line = ApprovalLine.objects.select_for_update().filter(approval=approval, waste_code=waste_code).first()
    consumption = (
        line.consumptions.filter(manifest_number=manifest_number, released_at__isnull=True).first() if line else None
    )
    if line is None or consumption is None:
        raise ApplicationError(
            f"联单 {manifest_number} 没有使用该审批的 {waste_code} 额度", code="not_consumed", field="manifest_number"
        )
    consumption.released_at = timezone.now()
    consumption.save(update_fields=["released_at"])
    ApprovalLine.objects.filter(id=line.id).update(consumed_tonnes=F("consumed_tonnes") - consumption.tonnes)
    _record(
        approval.application,
        actor,
        "approval.released",
        {
            "approval": approval.number,
            "waste_code": waste_code,
            "tonnes": consumption.tonnes,
            "manifest": manifest_number,
        },
    )
    return consumption


# ---- whitelist ---------------------------------------------------------------------------------------


@transaction.atomic
def whitelist_add(
    *, actor: Actor, enterprise_id: int, basis: str, valid_from: dt.date, valid_to: dt.date
) -> WhitelistEntry:
    require_regulator_over(actor, ORIGIN_PROVINCE, action="维护跨省转移白名单")
    enterprise = Enterprise.objects.filter(id=enterprise_id).first()
    if enterprise is None:
        raise NotFound("单位不存在", field="enterprise_id")
    basis = (basis or "").strip()
    if not basis:
        raise ApplicationError("须写明列入白名单的依据（信用评价、风险等级）", code="basis_required", field="basis")
    if valid_to < valid_from:
        raise ApplicationError("有效期结束日期早于开始日期", code="period_invalid", field="valid_to")
    overlapping = WhitelistEntry.objects.filter(
        enterprise=enterprise, revoked_at__isnull=True, valid_from__lte=valid_to, valid_to__gte=valid_from
    )
    if overlapping.exists():
        raise ApplicationError(
            f"{enterprise.name} 在该期间已在白名单中", code="already_whitelisted", field="enterprise_id"
        )
    entry = WhitelistEntry.objects.create(
        enterprise=enterprise,
        basis=basis[:500],
        added_by_user_id=actor.user_id,
        added_by_label=actor.label or actor.kind,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    event_record(
        subject=entry,
        actor=actor,
        kind="approval.whitelist.added",
        after={"enterprise": enterprise.id, "basis": entry.basis, "valid_from": valid_from, "valid_to": valid_to},
        organisation=enterprise,
    )
    return entry


@transaction.atomic
def whitelist_revoke(*, actor: Actor, entry_id: int, reason: str, now: dt.datetime | None = None) -> WhitelistEntry:
    require_regulator_over(actor, ORIGIN_PROVINCE, action="维护跨省转移白名单")
    entry = WhitelistEntry.objects.select_for_update().filter(id=entry_id).first()
    if entry is None:
        raise NotFound("白名单记录不存在", field="entry_id")
    if entry.revoked_at is not None:
        raise ApplicationError("该白名单记录已撤销", code="already_revoked", field="entry_id")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("须说明撤销理由", code="reason_required", field="reason")
    entry.revoked_at = _now(now)
    entry.revoked_reason = reason[:500]
    entry.save(update_fields=["revoked_at", "revoked_reason"])
    event_record(
        subject=entry,
        actor=actor,
        kind="approval.whitelist.revoked",
        after={"revoked": True},
        reason=reason[:500],
        organisation=entry.enterprise_id,
    )
    return entry


# ---- incoming requests (Jilin as the receiving province) ---------------------------------------------


@transaction.atomic
def incoming_record(*, actor: Actor, message: Any, now: dt.datetime | None = None) -> IncomingRequest:
    """Record another province's 商请函 to Jilin; the reply is due in 10 working days (第二十五条)."""
    require_regulator_over(actor, ORIGIN_PROVINCE, action="登记外省商请函")
    now = _now(now)
    parsed = messages.request_parse(message)
    if parsed.receiver_province != ORIGIN_PROVINCE:
        raise ApplicationError("该商请函的接受地不是吉林省（220000）", code="not_for_jilin", field="receiver.province")
    if IncomingRequest.objects.filter(request_id=parsed.request_id).exists():
        raise ApplicationError(f"商请函 {parsed.request_id} 已登记", code="already_recorded", field="request_id")
    received_on = timezone.localdate(now)
    try:
        with transaction.atomic():
            incoming = IncomingRequest.objects.create(
                request_id=parsed.request_id,
                origin_province=parsed.origin_province,
                application_ref=parsed.application_id,
                consignor_name=parsed.consignor_name,
                consignor_credit_code=parsed.consignor_credit_code,
                receiver_name=parsed.receiver_name,
                receiver_credit_code=parsed.receiver_credit_code,
                receiver_licence_number=parsed.receiver_licence_number,
                method_code=parsed.method_code,
                period_from=parsed.period_from,
                period_to=parsed.period_to,
                lines=parsed.lines,
                attachments=parsed.attachments,
                message=message,
                received_on=received_on,
                due_on=WorkCalendar().add_working_days(received_on, rules.INCOMING_WORKING_DAYS),
                recorded_at=now,
                recorded_by_label=actor.label or actor.kind,
            )
    except IntegrityError:
        raise ApplicationError(
            f"商请函 {parsed.request_id} 已登记", code="already_recorded", field="request_id"
        ) from None
    event_record(
        subject=incoming,
        actor=actor,
        kind="approval.incoming.recorded",
        after={"request_id": incoming.request_id, "origin": incoming.origin_province, "due_on": incoming.due_on},
        stream=REGION_STREAM,
    )
    return incoming


@transaction.atomic
def incoming_reply(
    *, actor: Actor, incoming_id: int, decision: str, comment: str = "", now: dt.datetime | None = None
) -> dict[str, Any]:
    """Jilin's reply to an incoming request; returns the ``approval_response.v1`` message."""
    require_regulator_over(actor, ORIGIN_PROVINCE, action="答复外省商请函")
    now = _now(now)
    incoming = IncomingRequest.objects.select_for_update().filter(id=incoming_id).first()
    if incoming is None:
        raise NotFound("商请函不存在", field="incoming_id")
    if incoming.status != "open":
        raise ApplicationError("该商请函已答复", code="already_replied", field="decision")
    if decision not in messages.DECISIONS:
        raise ApplicationError(
            "复函意见应为 agree（同意）或 disagree（不同意）", code="decision_invalid", field="decision"
        )
    comment = (comment or "").strip()[:1000]
    if decision == "disagree" and not comment:
        raise ApplicationError("不同意时须说明理由（第二十五条）", code="reason_required", field="comment")
    incoming.status = "replied"
    incoming.decision = decision
    incoming.comment = comment
    incoming.responded_at = now
    incoming.responder = f"吉林省生态环境厅（{actor.label or actor.kind}）"[:150]
    incoming.save(update_fields=["status", "decision", "comment", "responded_at", "responder"])
    event_record(
        subject=incoming,
        actor=actor,
        kind="approval.incoming.replied",
        after={"request_id": incoming.request_id, "decision": decision},
        reason=comment[:500],
        stream=REGION_STREAM,
    )
    return incoming_response(incoming)


def incoming_response(incoming: IncomingRequest) -> dict[str, Any]:
    if incoming.responded_at is None:
        raise ApplicationError("该商请函尚未答复", code="not_replied", field="decision")
    return messages.response_build(
        request_id=incoming.request_id,
        decision=incoming.decision,
        comment=incoming.comment,
        responded_at=incoming.responded_at,
        responder=incoming.responder,
    )


# ---- the sweep ------------------------------------------------------------------------------------------


def _finding(
    *,
    rule: str,
    key: str,
    message: str,
    now: dt.datetime,
    application: Application | None = None,
    incoming: IncomingRequest | None = None,
) -> bool:
    if ApprovalFinding.objects.filter(key=key).exists():
        return False
    try:
        with transaction.atomic():
            finding = ApprovalFinding.objects.create(
                rule=rule, key=key, application=application, incoming=incoming, message=message[:300], raised_at=now
            )
    except IntegrityError:
        return False
    if application is not None:
        event_record(
            subject=finding,
            actor=SYSTEM,
            kind="approval.finding.raised",
            after={"rule": rule, "key": key, "message": message},
            organisation=application.consignor_id,
        )
    else:
        event_record(
            subject=finding,
            actor=SYSTEM,
            kind="approval.finding.raised",
            after={"rule": rule, "key": key, "message": message},
            stream=REGION_STREAM,
        )
    return True


def approvals_sweep(now: dt.datetime | None = None, *, actor: Actor = SYSTEM) -> dict[str, int]:
    """Deem silent completeness checks accepted (第二十三条: from the day the application was
    received) and raise one finding per overdue step or unanswered incoming request. Idempotent."""
    if actor.kind != "system":
        raise PermissionDenied("只有系统可以运行审批时限检查", field="actor")
    now = _now(now)
    today = timezone.localdate(now)
    counts = {"deemed": 0, "findings": 0}
    for step_id in list(Step.objects.filter(outcome="", due_on__lt=today).values_list("id", flat=True)):
        with transaction.atomic():
            step = Step.objects.select_for_update().select_related("application").filter(id=step_id, outcome="").first()
            if step is None:
                continue
            application = Application.objects.select_for_update().get(id=step.application_id)
            label = step.get_kind_display()
            if _finding(
                rule="step_overdue",
                key=f"step:{step.id}",
                application=application,
                now=now,
                message=f"跨省转移申请 {application.id} 的“{label}”环节已超过 {step.working_days} 个工作日"
                f"（应于 {step.due_on} 前办结，{rules.SOURCES[step.kind]}）",
            ):
                counts["findings"] += 1
            if step.kind in ("completeness", "simplified"):
                # Silence within the time limit counts as acceptance from the day of receipt.
                _close(
                    step,
                    outcome="deemed_accepted",
                    actor=actor,
                    now=now,
                    comment=f"{step.due_on} 前未告知补正，视为自收到申请之日起受理（第二十三条）",
                )
                _open_step(application, "preliminary", started_on=step.started_on, now=now)
                application.status = "reviewing"
                application.save(update_fields=["status"])
                _record(
                    application,
                    actor,
                    "approval.step.deemed_accepted",
                    {"step": step.kind, "received_on": step.started_on, "due_on": step.due_on},
                )
                counts["deemed"] += 1
    for incoming_id in list(
        IncomingRequest.objects.filter(status="open", due_on__lt=today).values_list("id", flat=True)
    ):
        with transaction.atomic():
            incoming = IncomingRequest.objects.get(id=incoming_id)
            if _finding(
                rule="incoming_overdue",
                key=f"incoming:{incoming.id}",
                incoming=incoming,
                now=now,
                message=f"{incoming.origin_province} 的商请函 {incoming.request_id} 未在 10 个工作日内答复"
                f"（应于 {incoming.due_on} 前，转移办法 第二十五条）",
            ):
                counts["findings"] += 1
    return counts
