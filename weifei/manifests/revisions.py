"""Corrections (issue 5 scope 5). Before any party but the consignor has signed, the consignor's
unit edits directly (a new version). After a second party has signed, a change is a revision
request: the initial and proposed values are kept, every other party that has signed must approve,
and the approved change is applied as a new version. Any party to the manifest may request one;
any required party may refuse it (with a comment); the requester may withdraw it.

"Corrected promptly" (第二十九条第三款: a manifest filled or run irregularly but corrected promptly and
without harm is not penalised) is recorded on each applied request: applied within
``MANIFEST_PROMPT_CORRECTION_WORKING_DAYS`` (default 5) working days of the request. The window is
weifei's choice — the text gives no figure.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from weifei.core.events import event_record
from weifei.core.workdays import working_days_between

from . import lifecycle
from .lifecycle import Role
from .models import Manifest, ManifestLeg, ManifestLine, RevisionRequest, State
from .services import _locked, roles_of

# What may be revised, per target, with a parser for the proposed value.
LINE_FIELDS = ("common_name", "form", "packaging", "declared_tonnes", "dg_class", "un_number")
MANIFEST_FIELDS = ("emergency_measures",)
LEG_FIELDS = ("vehicle_id", "driver_id", "start_point", "end_point")
PARTY_ROLES = (Role.CONSIGNOR, Role.CARRIER, Role.NEXT_CARRIER, Role.RECEIVER)


def _party_orgs(actor: Actor, m: Manifest) -> list[int]:
    """The organisations the actor acts for on this manifest (as a writing member)."""
    roles = roles_of(actor, m)
    orgs: list[int] = []
    if Role.CONSIGNOR in roles:
        orgs.append(m.consignor_id)
    if Role.RECEIVER in roles:
        orgs.append(m.receiver_id)
    for leg in m.legs.all():
        if actor.kind == "enterprise" and actor.role_in(leg.carrier_id) in ("admin", "member"):
            orgs.append(leg.carrier_id)
    return orgs


def _signed_orgs(m: Manifest) -> set[int]:
    return {org for org in m.signatures.exclude(organisation__isnull=True).values_list("organisation_id", flat=True)}


def _target(m: Manifest, target: str) -> tuple[Any, tuple[str, ...]]:
    kind, _, ident = target.partition(":")
    if kind == "manifest":
        return m, MANIFEST_FIELDS
    if kind == "line":
        line = ManifestLine.objects.filter(manifest=m, id=int(ident or 0)).first() if ident.isdigit() else None
        if line is None:
            raise ApplicationError(f"联单没有明细 {ident}", code="revision_target", field="changes")
        return line, LINE_FIELDS
    if kind == "leg":
        leg = ManifestLeg.objects.filter(manifest=m, order=int(ident or 0)).first() if ident.isdigit() else None
        if leg is None:
            raise ApplicationError(f"联单没有第 {ident} 段运输", code="revision_target", field="changes")
        return leg, LEG_FIELDS
    raise ApplicationError("修改对象应为 manifest、line:<id> 或 leg:<顺序>", code="revision_target", field="changes")


def _proposed(obj: Any, name: str, value: Any) -> Any:
    if name == "declared_tonnes":
        try:
            tonnes = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise ApplicationError(f"{value!r} 不是数字", code="revision_value", field="changes") from None
        if not tonnes.is_finite() or tonnes <= 0 or tonnes > Decimal(100_000):
            raise ApplicationError("移出量应大于 0 且不超过 100000 吨", code="revision_value", field="changes")
        return tonnes.quantize(Decimal("0.000001"))
    if name in ("vehicle_id", "driver_id"):
        from weifei.registry.models import Driver, Vehicle

        model = Vehicle if name == "vehicle_id" else Driver
        if not model.objects.filter(id=int(value or 0), carrier_id=obj.carrier_id).exists():
            raise ApplicationError("车辆或驾驶员不属于该段承运人", code="revision_value", field="changes")
        return int(value)
    text = str(value or "").strip()
    if name == "emergency_measures" and not text:
        raise ApplicationError("突发环境事件防范措施不能为空", code="revision_value", field="changes")
    limit = obj._meta.get_field(name).max_length
    if limit and len(text) > limit:
        raise ApplicationError(f"{name} 不能超过 {limit} 个字符", code="revision_value", field="changes")
    return text


def _clean_changes(m: Manifest, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not changes or len(changes) > 20:
        raise ApplicationError("请列出 1–20 项修改", code="revision_empty", field="changes")
    out = []
    for change in changes:
        obj, allowed = _target(m, str(change.get("target", "")))
        name = str(change.get("field", ""))
        if name not in allowed:
            raise ApplicationError(f"{name} 不可修改（可修改：{'、'.join(allowed)}）", code="revision_field",
                                   field="changes")  # fmt: skip
        proposed = _proposed(obj, name, change.get("proposed"))
        initial = getattr(obj, name)
        if str(initial) == str(proposed):
            raise ApplicationError(f"{name} 的新值与原值相同", code="revision_unchanged", field="changes")
        before = "" if initial is None else str(initial)
        out.append({"target": str(change["target"]), "field": name, "initial": before, "proposed": str(proposed)})
    return out


def _apply(m: Manifest, changes: list[dict[str, Any]]) -> None:
    for change in changes:
        obj, _ = _target(m, change["target"])
        value = _proposed(obj, change["field"], change["proposed"])
        setattr(obj, change["field"], value)
        obj.save()
    m.version += 1
    m.save()


def _record(m: Manifest, actor: Actor, kind: str, request: RevisionRequest, reason: str = "") -> None:
    event_record(
        subject=m,
        actor=actor,
        kind=kind,
        after={"revision": request.id, "status": request.status, "changes": request.changes,
               "version": m.version, "corrected_promptly": request.corrected_promptly},
        reason=reason,
        organisation=m.consignor,
    )  # fmt: skip


@transaction.atomic
def revision_request(*, actor: Actor, manifest_id: int, changes: list[dict[str, Any]], reason: str) -> RevisionRequest:
    """Propose a change. Applied at once (and approved by itself) when nobody but the requester's
    own organisation has signed; otherwise pending until every other signed party approves."""
    m = _locked(manifest_id)
    if m.state in lifecycle.TERMINAL:
        raise Conflict(f"联单已{State(m.state).label}，不能修改", code="revision_closed", field="manifest")
    orgs = _party_orgs(actor, m)
    if not orgs:
        raise PermissionDenied("只有联单当事方可以申请修改")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("请填写修改理由", code="reason_required", field="reason")
    if m.revisions.filter(status=RevisionRequest.Status.PENDING).exists():
        raise Conflict("该联单已有待确认的修改申请", code="revision_pending", field="manifest")
    cleaned = _clean_changes(m, changes)
    now = timezone.now()
    required = sorted(_signed_orgs(m) - set(orgs))
    request = RevisionRequest.objects.create(
        manifest=m, requested_by_role=sorted(roles_of(actor, m))[0], requested_by_organisation_id=orgs[0],
        requested_by_id=actor.user_id, reason=reason[:300], changes=cleaned, required=required, approvals={},
        created_at=now, version_before=m.version,
    )  # fmt: skip
    _record(m, actor, "manifest.revision_requested", request, reason)
    if not required:
        _finish(m, actor, request, now)
    return request


def _finish(m: Manifest, actor: Actor, request: RevisionRequest, now: Any) -> None:
    _apply(m, request.changes)
    window = int(getattr(settings, "MANIFEST_PROMPT_CORRECTION_WORKING_DAYS", 5))
    waited = working_days_between(timezone.localdate(request.created_at), timezone.localdate(now))
    request.status = RevisionRequest.Status.APPROVED
    request.decided_at = now
    request.version_after = m.version
    request.corrected_promptly = waited <= window
    request.save()
    _record(m, actor, "manifest.revised", request)


@transaction.atomic
def revision_decide(*, actor: Actor, revision_id: int, approve: bool, comment: str = "") -> RevisionRequest:
    """A required party approves or refuses (refusal needs a comment). The last approval applies it."""
    request = RevisionRequest.objects.select_for_update().filter(id=revision_id).first()
    if request is None:
        raise NotFound("修改申请不存在", field="revision")
    m = _locked(request.manifest_id)
    if request.status != RevisionRequest.Status.PENDING:
        raise Conflict(f"修改申请已{request.get_status_display()}", code="revision_decided", field="revision")
    mine = [org for org in _party_orgs(actor, m) if org in request.required and str(org) not in request.approvals]
    if not mine:
        raise PermissionDenied("您的单位不需要确认该修改申请，或已确认")
    now = timezone.now()
    if not approve:
        comment = (comment or "").strip()
        if not comment:
            raise ApplicationError("拒绝修改须填写意见", code="comment_required", field="comment")
        request.status = RevisionRequest.Status.REFUSED
        request.decided_at = now
        request.decision_comment = comment[:300]
        request.save()
        _record(m, actor, "manifest.revision_refused", request, comment)
        return request
    request.approvals = {**request.approvals, **{str(org): now.isoformat() for org in mine}}
    request.save(update_fields=["approvals"])
    if all(str(org) in request.approvals for org in request.required):
        _finish(m, actor, request, now)
    else:
        _record(m, actor, "manifest.revision_approved_by_party", request)
    return request


@transaction.atomic
def revision_withdraw(*, actor: Actor, revision_id: int) -> RevisionRequest:
    request = RevisionRequest.objects.select_for_update().filter(id=revision_id).first()
    if request is None:
        raise NotFound("修改申请不存在", field="revision")
    m = _locked(request.manifest_id)
    if request.requested_by_organisation_id not in _party_orgs(actor, m):
        raise PermissionDenied("只有申请方可以撤回修改申请")
    if request.status != RevisionRequest.Status.PENDING:
        raise Conflict(f"修改申请已{request.get_status_display()}", code="revision_decided", field="revision")
    request.status = RevisionRequest.Status.WITHDRAWN
    request.decided_at = timezone.now()
    request.save()
    _record(m, actor, "manifest.revision_withdrawn", request)
    return request
