"""Reads of notifications and webhooks; every read takes the actor. A user sees only their own
notifications; a webhook and its log only the admins of its organisation."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When

from weifei.core.actors import Actor
from weifei.core.errors import NotFound, PermissionDenied

from . import kinds
from .models import Notification, NotificationPreference, Webhook, WebhookDelivery


def notifications_for(*, actor: Actor, unread: bool | None = None) -> QuerySet[Notification]:
    """The actor's notifications, unread first, newest first within each group."""
    if actor.user_id is None:
        return Notification.objects.none()
    qs = Notification.objects.filter(user_id=actor.user_id)
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    unread_first = Case(When(read_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField())
    return qs.order_by(unread_first, "-created_at", "-id")


def unread_count(*, actor: Actor) -> int:
    if actor.user_id is None:
        return 0
    return Notification.objects.filter(user_id=actor.user_id, read_at__isnull=True).count()


def preferences_for(*, actor: Actor) -> list[dict[str, Any]]:
    """Every known kind (and any other kind the user has a choice or a notification for), with
    the user's in-app choice (default on)."""
    if actor.user_id is None:
        return []
    chosen = dict(NotificationPreference.objects.filter(user_id=actor.user_id).values_list("event", "in_app"))
    seen = set(Notification.objects.filter(user_id=actor.user_id).values_list("event", flat=True).distinct()[:200])
    ordered = list(kinds.KINDS) + sorted((set(chosen) | seen) - set(kinds.KINDS))
    return [{"event": k, "label": kinds.kind_label(k), "in_app": chosen.get(k, True)} for k in ordered]


def _administered(actor: Actor) -> list[int]:
    if actor.kind != "enterprise":
        return []
    return sorted(eid for eid, role in actor.memberships if role == "admin")


def webhooks_visible(*, actor: Actor, organisation_id: int | None = None) -> QuerySet[Webhook]:
    """Webhooks of the organisations the actor administers (the system: all)."""
    qs = Webhook.objects.select_related("organisation")
    if actor.kind != "system":
        qs = qs.filter(organisation_id__in=_administered(actor))
    if organisation_id is not None:
        qs = qs.filter(organisation_id=organisation_id)
    return qs.order_by("organisation_id", "id")


def webhook_get(*, actor: Actor, webhook_id: int) -> Webhook:
    hook = Webhook.objects.select_related("organisation").filter(id=webhook_id).first()
    if hook is None or (actor.kind != "system" and hook.organisation_id not in actor.enterprise_ids):
        raise NotFound("Webhook 不存在", field="webhook_id")
    if actor.kind != "system" and hook.organisation_id not in _administered(actor):
        raise PermissionDenied("只有本单位管理员可以查看 Webhook")
    return hook


def deliveries_of(*, actor: Actor, webhook_id: int) -> QuerySet[WebhookDelivery]:
    hook = webhook_get(actor=actor, webhook_id=webhook_id)
    return WebhookDelivery.objects.filter(webhook=hook).order_by("-created_at", "-id")


def organisations_administered(*, actor: Actor) -> list[int]:
    return _administered(actor)
