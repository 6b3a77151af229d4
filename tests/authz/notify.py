"""Authorization-matrix rows of notifications and webhooks: every user reads and marks only their
own notifications and sets their own preferences; only the organisation's admin manages its
webhooks (its other members are refused, everybody else does not see them)."""

from __future__ import annotations

from typing import Any

from tests.authz.base import LOGGED_IN, OWN_ADMIN, Cell, World, _reload, api, changed, has_id, page
from weifei.core.actors import SYSTEM
from weifei.notify import services
from weifei.notify.models import Notification, Webhook, WebhookDelivery

N = "/api/v1/notify"
OWN_MEMBER = frozenset({"own_member"})


def _read(key: str) -> Any:
    return changed(lambda w: _reload(Notification, w.ids[key]).read_at is not None)


def _page_shows(marker: Any) -> Any:
    def check(response: Any, world: World) -> bool:
        return response.status_code == 200 and marker(world) in response.content.decode()

    return check


def _redirect_to(path: str) -> Any:
    def check(response: Any, world: World) -> bool:
        return response.status_code == 302 and response["Location"] == path

    return check


def _active(key: str, value: bool) -> Any:
    return changed(lambda w: _reload(Webhook, w.ids[key]).active is value)


def _tested(w: World) -> bool:
    return WebhookDelivery.objects.filter(webhook_id=w.ids["webhook"], is_test=True).exists()


def _hook_url(w: World) -> str:
    return f"/notifications/webhooks/{w.ids['webhook']}/"


CELLS: list[Cell] = [
    # notifications: one's own only
    api(
        "get",
        f"{N}/notifications",
        OWN_MEMBER,
        lambda w: f"{N}/notifications?unread=true",
        ok=has_id("notification_member"),
    ),
    api(
        "post",
        f"{N}/notifications/{{notification_id}}/read",
        OWN_MEMBER,
        lambda w: f"{N}/notifications/{w.ids['notification_member']}/read",
        ok=_read("notification_member"),
    ),
    api("post", f"{N}/notifications/read-all", OWN_MEMBER, ok=_read("notification_member")),
    api("get", f"{N}/preferences", LOGGED_IN),
    api(
        "put", f"{N}/preferences", LOGGED_IN, body=lambda w: {"items": [{"event": "manifest.closed", "in_app": False}]}
    ),
    # webhooks: the organisation's admin
    api("get", f"{N}/webhooks", OWN_ADMIN, ok=has_id("webhook")),
    api(
        "post",
        f"{N}/webhooks",
        OWN_ADMIN,
        body=lambda w: {"organisation_id": w.ids["own"], "url": "https://hooks.example.com/matrix-new"},
    ),
    api("get", f"{N}/webhooks/{{webhook_id}}", OWN_ADMIN, lambda w: f"{N}/webhooks/{w.ids['webhook']}"),
    api(
        "put",
        f"{N}/webhooks/{{webhook_id}}",
        OWN_ADMIN,
        lambda w: f"{N}/webhooks/{w.ids['webhook']}",
        body=lambda w: {"description": "矩阵"},
        ok=changed(lambda w: _reload(Webhook, w.ids["webhook"]).description == "矩阵"),
    ),
    api(
        "delete",
        f"{N}/webhooks/{{webhook_id}}",
        OWN_ADMIN,
        lambda w: f"{N}/webhooks/{w.ids['webhook']}",
        ok=changed(lambda w: not Webhook.objects.filter(id=w.ids["webhook"]).exists()),
    ),
    api(
        "get",
        f"{N}/webhooks/{{webhook_id}}/deliveries",
        OWN_ADMIN,
        lambda w: f"{N}/webhooks/{w.ids['webhook']}/deliveries",
        ok=has_id("delivery"),
    ),
    api(
        "post",
        f"{N}/webhooks/{{webhook_id}}/test",
        OWN_ADMIN,
        lambda w: f"{N}/webhooks/{w.ids['webhook']}/test",
        ok=changed(_tested),
    ),
    api(
        "post",
        f"{N}/webhooks/{{webhook_id}}/enable",
        OWN_ADMIN,
        lambda w: f"{N}/webhooks/{w.ids['webhook_off']}/enable",
        ok=_active("webhook_off", True),
    ),
    api(
        "post",
        f"{N}/webhooks/{{webhook_id}}/disable",
        OWN_ADMIN,
        lambda w: f"{N}/webhooks/{w.ids['webhook']}/disable",
        ok=_active("webhook", False),
    ),
    # pages
    page(
        "get",
        "notifications/",
        OWN_MEMBER,
        "/notifications/",
        ok=_page_shows(lambda w: f'data-testid="notification-{w.ids["notification_member"]}"'),
    ),
    page(
        "post",
        "notifications/<int:notification_id>/read/",
        OWN_MEMBER,
        lambda w: f"/notifications/{w.ids['notification_member']}/read/",
        ok=_read("notification_member"),
    ),
    page("post", "notifications/read-all/", OWN_MEMBER, "/notifications/read-all/", ok=_read("notification_member")),
    page("get", "notifications/preferences/", LOGGED_IN, "/notifications/preferences/"),
    page(
        "post",
        "notifications/preferences/",
        LOGGED_IN,
        "/notifications/preferences/",
        body=lambda w: {"event": ["manifest.closed"]},
        ok=_redirect_to("/notifications/preferences/"),
    ),
    page(
        "get",
        "notifications/webhooks/",
        OWN_ADMIN,
        "/notifications/webhooks/",
        ok=_page_shows(lambda w: f'data-testid="webhook-{w.ids["webhook"]}"'),
    ),
    page(
        "post",
        "notifications/webhooks/",
        OWN_ADMIN,
        "/notifications/webhooks/",
        body=lambda w: {"organisation_id": w.ids["own"], "url": "https://hooks.example.com/matrix-page"},
        ok=changed(lambda w: Webhook.objects.filter(url="https://hooks.example.com/matrix-page").exists()),
    ),
    page("get", "notifications/webhooks/<int:webhook_id>/", OWN_ADMIN, _hook_url),
    page(
        "post",
        "notifications/webhooks/<int:webhook_id>/",
        OWN_ADMIN,
        _hook_url,
        body=lambda w: {"url": "https://hooks.example.com/matrix", "events": "", "description": "页面"},
        ok=changed(lambda w: _reload(Webhook, w.ids["webhook"]).description == "页面"),
    ),
    page(
        "post",
        "notifications/webhooks/<int:webhook_id>/delete/",
        OWN_ADMIN,
        lambda w: f"/notifications/webhooks/{w.ids['webhook']}/delete/",
        ok=changed(lambda w: not Webhook.objects.filter(id=w.ids["webhook"]).exists()),
    ),
    page(
        "post",
        "notifications/webhooks/<int:webhook_id>/test/",
        OWN_ADMIN,
        lambda w: f"/notifications/webhooks/{w.ids['webhook']}/test/",
        ok=changed(_tested),
    ),
    page(
        "post",
        "notifications/webhooks/<int:webhook_id>/enable/",
        OWN_ADMIN,
        lambda w: f"/notifications/webhooks/{w.ids['webhook_off']}/enable/",
        ok=_active("webhook_off", True),
    ),
    page(
        "post",
        "notifications/webhooks/<int:webhook_id>/disable/",
        OWN_ADMIN,
        lambda w: f"/notifications/webhooks/{w.ids['webhook']}/disable/",
        ok=_active("webhook", False),
    ),
]


def extend(world: World) -> None:
    """A hand-off told to the own unit's members (each gets a notification; the cells use the
    member's), an active webhook of the own unit with one queued delivery (the matrix runs inside
    a transaction, so nothing is ever sent), and a switched-off one."""
    own = world.ids["own"]
    _notes, deliveries = services.notify(
        event="manifest.submitted",
        subject_ref="manifest:20262201000099",
        organisation_ids=[own],
        link="/",
        title="矩阵联单已提交",
    )
    hook, _secret = services.webhook_create(actor=SYSTEM, organisation_id=own, url="https://hooks.example.com/matrix")
    off, _secret = services.webhook_create(actor=SYSTEM, organisation_id=own, url="https://hooks.example.com/off")
    services.webhook_disable(actor=SYSTEM, webhook_id=off.id, reason="矩阵")
    _notes, deliveries = services.notify(
        event="manifest.closed",
        subject_ref="manifest:20262201000099",
        organisation_ids=[own],
        link="/",
        title="矩阵联单已闭环",
    )
    member = world.users["own_member"]
    world.ids["notification_member"] = Notification.objects.get(user=member, event="manifest.submitted").id
    world.ids["webhook"] = hook.id
    world.ids["webhook_off"] = off.id
    world.ids["delivery"] = next(d.id for d in deliveries if d.webhook_id == hook.id)
