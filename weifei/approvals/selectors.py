"""Reads of the approval procedure, scoped by the actor: a consignor sees its own applications; a
regulator those of sites in its jurisdiction (the province, and liaison accounts bound to it, all of
them; liaison read-only); the whitelist is read by every regulator account (neighbours' liaison
accounts included); incoming requests by the province level."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from weifei.core.actors import Actor
from weifei.core.errors import NotFound, PermissionDenied

from .models import Application, Approval, ApprovalFinding, IncomingRequest, Step, WhitelistEntry
from .rules import ORIGIN_PROVINCE, is_overdue


def applications_visible(*, actor: Actor) -> QuerySet[Application]:
    qs = Application.objects.select_related("consignor", "site", "site__region")
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(site__region__key__in=actor.region_codes)
    if actor.kind == "enterprise":
        return qs.filter(consignor_id__in=actor.enterprise_ids)
    return qs.none()


def application_list(*, actor: Actor, status: str = "") -> QuerySet[Application]:
    qs = applications_visible(actor=actor)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def application_get(*, actor: Actor, application_id: int) -> Application:
    found = applications_visible(actor=actor).filter(id=application_id).first()
    if found is None:
        raise NotFound("跨省转移申请不存在或无权查看", field="application")
    return found


def approval_of(application: Application) -> Approval | None:
    return Approval.objects.filter(application=application).prefetch_related("lines").first()


def open_step(application: Application) -> Step | None:
    return application.steps.filter(outcome="").first()


def step_rows(application: Application, *, today: dt.date | None = None) -> list[dict[str, Any]]:
    today = today or timezone.localdate()
    return [
        {
            "step": s,
            "overdue": s.outcome == "" and is_overdue(s.due_on, today),
            "late": s.closed_at is not None and timezone.localdate(s.closed_at) > s.due_on,
        }
        for s in application.steps.all()
    ]


def queue(*, actor: Actor) -> list[dict[str, Any]]:
    """Open steps of the visible applications, earliest due first, overdue ones flagged."""
    if not actor.is_regulator and actor.kind != "system":
        raise PermissionDenied("只有生态环境部门可以查看审批待办")
    today = timezone.localdate()
    ids = applications_visible(actor=actor).values("id")
    steps = Step.objects.filter(outcome="", application_id__in=ids).select_related(
        "application", "application__consignor"
    )
    return [
        {"step": s, "application": s.application, "overdue": is_overdue(s.due_on, today)}
        for s in steps.order_by("due_on", "id")[:500]
    ]


def whitelist(*, actor: Actor, current_only: bool = False, on: dt.date | None = None) -> QuerySet[WhitelistEntry]:
    if not actor.is_regulator and actor.kind != "system":
        return WhitelistEntry.objects.none()
    qs = WhitelistEntry.objects.select_related("enterprise", "enterprise__region")
    if current_only:
        day = on or timezone.localdate()
        qs = qs.filter(revoked_at__isnull=True, valid_from__lte=day, valid_to__gte=day)
    return qs.order_by("-id")


def whitelist_export(*, actor: Actor) -> dict[str, Any]:
    """``whitelist.v1``: the current entries, for neighbouring provinces."""
    if not actor.is_regulator and actor.kind != "system":
        raise PermissionDenied("只有生态环境部门（含联络账户）可以导出白名单")
    today = timezone.localdate()
    return {
        "type": "whitelist.v1",
        "province": ORIGIN_PROVINCE,
        "exported_on": today.isoformat(),
        "entries": [
            {
                "credit_code": e.enterprise.credit_code,
                "name": e.enterprise.name,
                "basis": e.basis,
                "valid_from": e.valid_from.isoformat(),
                "valid_to": e.valid_to.isoformat(),
            }
            for e in whitelist(actor=actor, current_only=True, on=today)
        ],
    }


def _province_level(actor: Actor) -> bool:
    return actor.kind == "system" or (actor.is_regulator and ORIGIN_PROVINCE in actor.region_codes)


def incoming_list(*, actor: Actor) -> QuerySet[IncomingRequest]:
    if not _province_level(actor):
        return IncomingRequest.objects.none()
    return IncomingRequest.objects.order_by("-id")


def incoming_get(*, actor: Actor, incoming_id: int) -> IncomingRequest:
    found = incoming_list(actor=actor).filter(id=incoming_id).first()
    if found is None:
        raise NotFound("商请函不存在或无权查看", field="incoming")
    return found


def findings(*, actor: Actor) -> QuerySet[ApprovalFinding]:
    if not actor.is_regulator and actor.kind != "system":
        return ApprovalFinding.objects.none()
    visible = applications_visible(actor=actor).values("id")
    qs = ApprovalFinding.objects.filter(application_id__in=visible)
    if _province_level(actor):
        qs = ApprovalFinding.objects.filter(application_id__in=visible) | ApprovalFinding.objects.filter(
            incoming__isnull=False
        )
    return qs.order_by("-id")


def approvals_usable(
    *, actor: Actor, consignor_id: int, receiver_credit_code: str, waste_code: str, on: dt.date
) -> QuerySet[Approval]:
    """Approvals a cross-province manifest of ``consignor_id`` to the receiver (by credit code) may
    consume for ``waste_code`` on ``on``, with tonnes left — for the manifest core's pickers."""
    from django.db.models import F

    visible = applications_visible(actor=actor).filter(consignor_id=consignor_id, status="approved")
    return (
        Approval.objects.filter(
            application__in=visible,
            application__receiver_credit_code=receiver_credit_code,
            revoked_at__isnull=True,
            valid_from__lte=on,
            valid_to__gte=on,
            lines__waste_code=waste_code,
            lines__consumed_tonnes__lt=F("lines__approved_tonnes"),
        )
        .select_related("application")
        .distinct()
        .order_by("valid_to", "id")
    )
