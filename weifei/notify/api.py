"""Notifications and webhooks API under /api/v1/notify/. Lists answer ``{"total": n, "items": [...]}``.

A webhook's secret is in the create (and rotate) response only, marked ``Cache-Control: no-store``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from weifei.accounts.auth import ACTOR_AUTH, request_actor

from . import kinds, selectors, services
from .models import Notification, Webhook, WebhookDelivery

router = Router(tags=["notify"], auth=ACTOR_AUTH)


class NotificationOut(Schema):
    id: int
    event: str
    event_label: str
    subject_ref: str
    title: str
    link: str
    organisation_id: int | None
    actor_label: str
    data: dict[str, Any]
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationList(Schema):
    total: int
    unread: int
    items: list[NotificationOut]


class NotificationFilters(Schema):
    unread: bool | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class ReadAllOut(Schema):
    updated: int


class PreferenceOut(Schema):
    event: str
    label: str
    in_app: bool


class PreferenceList(Schema):
    total: int
    items: list[PreferenceOut]


class PreferenceIn(Schema):
    event: str = Field(..., max_length=64)
    in_app: bool


class PreferencesIn(Schema):
    items: list[PreferenceIn] = Field(..., max_length=200)


class WebhookOut(Schema):
    id: int
    organisation_id: int
    organisation_name: str
    url: str
    description: str
    events: list[str]
    secret_hint: str
    active: bool
    consecutive_failures: int
    disabled_at: dt.datetime | None
    disabled_reason: str
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    created_at: dt.datetime


class WebhookCreatedOut(WebhookOut):
    secret: str


class WebhookUpdatedOut(WebhookOut):
    secret: str | None


class WebhookList(Schema):
    total: int
    items: list[WebhookOut]


class WebhookFilters(Schema):
    organisation_id: int | None = None


class WebhookIn(Schema):
    organisation_id: int
    url: str = Field(..., max_length=500)
    events: list[str] = Field(default_factory=list, max_length=50)
    description: str = Field("", max_length=200)


class WebhookChangeIn(Schema):
    url: str | None = Field(None, max_length=500)
    events: list[str] | None = Field(None, max_length=50)
    description: str | None = Field(None, max_length=200)
    rotate_secret: bool = False


class DisableIn(Schema):
    reason: str = Field("", max_length=200)


class DeliveryOut(Schema):
    id: int
    message_id: uuid.UUID
    event: str
    subject_ref: str
    body: str
    attempt: int
    is_test: bool
    status: str
    status_code: int | None
    duration_ms: int | None
    error: str
    response_excerpt: str
    created_at: dt.datetime
    attempted_at: dt.datetime | None
    next_attempt_at: dt.datetime | None


class DeliveryList(Schema):
    total: int
    items: list[DeliveryOut]


class Page(Schema):
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


def _notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "event": n.event,
        "event_label": kinds.kind_label(n.event),
        "subject_ref": n.subject_ref,
        "title": n.title,
        "link": n.link,
        "organisation_id": n.organisation_id,
        "actor_label": n.actor_label,
        "data": n.data,
        "created_at": n.created_at,
        "read_at": n.read_at,
    }


def _webhook_out(h: Webhook) -> dict[str, Any]:
    return {
        "id": h.id,
        "organisation_id": h.organisation_id,
        "organisation_name": h.organisation.name,
        "url": h.url,
        "description": h.description,
        "events": list(h.events),
        "secret_hint": h.secret_hint,
        "active": h.active,
        "consecutive_failures": h.consecutive_failures,
        "disabled_at": h.disabled_at,
        "disabled_reason": h.disabled_reason,
        "last_success_at": h.last_success_at,
        "last_failure_at": h.last_failure_at,
        "created_at": h.created_at,
    }


# ---- notifications -----------------------------------------------------------------------------


@router.get("/notifications", response=NotificationList)
def notifications(request: HttpRequest, filters: Query[NotificationFilters]) -> dict[str, Any]:
    """The caller's own notifications, unread first (``unread=true`` for unread only)."""
    actor = request_actor(request)
    qs = selectors.notifications_for(actor=actor, unread=filters.unread)
    return {
        "total": qs.count(),
        "unread": selectors.unread_count(actor=actor),
        "items": [_notification_out(n) for n in qs[filters.offset : filters.offset + filters.limit]],
    }


@router.post("/notifications/read-all", response=ReadAllOut)
def notifications_read_all(request: HttpRequest) -> dict[str, int]:
    return {"updated": services.notifications_read_all(actor=request_actor(request))}


@router.post("/notifications/{notification_id}/read", response=NotificationOut)
def notification_read(request: HttpRequest, notification_id: int) -> dict[str, Any]:
    """Mark one of the caller's notifications read (idempotent; another user's is not found)."""
    return _notification_out(services.notification_read(actor=request_actor(request), notification_id=notification_id))


@router.get("/preferences", response=PreferenceList)
def preferences(request: HttpRequest) -> dict[str, Any]:
    """In-app on/off per event kind (default on)."""
    items = selectors.preferences_for(actor=request_actor(request))
    return {"total": len(items), "items": items}


@router.put("/preferences", response=PreferenceList)
def preferences_put(request: HttpRequest, payload: PreferencesIn) -> dict[str, Any]:
    """Set the listed kinds; kinds not listed keep their setting."""
    actor = request_actor(request)
    services.preferences_update(actor=actor, preferences={p.event: p.in_app for p in payload.items})
    items = selectors.preferences_for(actor=actor)
    return {"total": len(items), "items": items}


# ---- webhooks ----------------------------------------------------------------------------------


@router.get("/webhooks", response=WebhookList)
def webhooks(request: HttpRequest, filters: Query[WebhookFilters]) -> dict[str, Any]:
    """The webhooks of the organisations the caller administers."""
    qs = selectors.webhooks_visible(actor=request_actor(request), organisation_id=filters.organisation_id)
    return {"total": qs.count(), "items": [_webhook_out(h) for h in qs[:100]]}


@router.post("/webhooks", response={201: WebhookCreatedOut})
def webhook_create(request: HttpRequest, payload: WebhookIn, response: HttpResponse) -> Status[dict[str, Any]]:
    """A new webhook (the organisation's admins). The signing secret is in this response only."""
    hook, secret = services.webhook_create(
        actor=request_actor(request),
        organisation_id=payload.organisation_id,
        url=payload.url,
        events=payload.events,
        description=payload.description,
    )
    response["Cache-Control"] = "no-store"
    return Status(201, {**_webhook_out(hook), "secret": secret})


@router.get("/webhooks/{webhook_id}", response=WebhookOut)
def webhook(request: HttpRequest, webhook_id: int) -> dict[str, Any]:
    return _webhook_out(selectors.webhook_get(actor=request_actor(request), webhook_id=webhook_id))


@router.put("/webhooks/{webhook_id}", response=WebhookUpdatedOut)
def webhook_update(
    request: HttpRequest, webhook_id: int, payload: WebhookChangeIn, response: HttpResponse
) -> dict[str, Any]:
    """Change the address, filter or description; ``rotate_secret`` returns a new secret once."""
    hook, secret = services.webhook_update(
        actor=request_actor(request),
        webhook_id=webhook_id,
        url=payload.url,
        events=payload.events,
        description=payload.description,
        rotate_secret=payload.rotate_secret,
    )
    if secret is not None:
        response["Cache-Control"] = "no-store"
    return {**_webhook_out(hook), "secret": secret}


@router.delete("/webhooks/{webhook_id}", response={204: None})
def webhook_delete(request: HttpRequest, webhook_id: int) -> Status[None]:
    services.webhook_delete(actor=request_actor(request), webhook_id=webhook_id)
    return Status(204, None)


@router.get("/webhooks/{webhook_id}/deliveries", response=DeliveryList)
def webhook_deliveries(request: HttpRequest, webhook_id: int, page: Query[Page]) -> dict[str, Any]:
    """Every attempt, newest first: status code, duration, error, attempt, next attempt."""
    qs = selectors.deliveries_of(actor=request_actor(request), webhook_id=webhook_id)
    return {"total": qs.count(), "items": list(qs[page.offset : page.offset + page.limit])}


@router.post("/webhooks/{webhook_id}/test", response={202: DeliveryOut})
def webhook_test(request: HttpRequest, webhook_id: int) -> Status[WebhookDelivery]:
    """Send a ``webhook.test`` message (one attempt). Without a broker it is sent before this
    answers; with one, poll the deliveries."""
    delivery = services.webhook_test(actor=request_actor(request), webhook_id=webhook_id)
    delivery.refresh_from_db()
    return Status(202, delivery)


@router.post("/webhooks/{webhook_id}/enable", response=WebhookOut)
def webhook_enable(request: HttpRequest, webhook_id: int) -> dict[str, Any]:
    hook = services.webhook_enable(actor=request_actor(request), webhook_id=webhook_id)
    return _webhook_out(selectors.webhook_get(actor=request_actor(request), webhook_id=hook.id))


@router.post("/webhooks/{webhook_id}/disable", response=WebhookOut)
def webhook_disable(request: HttpRequest, webhook_id: int, payload: DisableIn | None = None) -> dict[str, Any]:
    hook = services.webhook_disable(
        actor=request_actor(request), webhook_id=webhook_id, reason=payload.reason if payload else ""
    )
    return _webhook_out(selectors.webhook_get(actor=request_actor(request), webhook_id=hook.id))
