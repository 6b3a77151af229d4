"""Writes of notifications and webhooks. ``notify`` is the entry point other capabilities call at
every hand-off; the rest serve the inbox, the preference page and the webhook management.

Configuration writes (webhooks, preferences) record events; ``notify`` itself does not — the
hand-off that calls it has recorded its own event in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from weifei.accounts.models import Membership
from weifei.accounts.sealing import seal
from weifei.core import fastsql
from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.events import event_record
from weifei.core.permissions import require_enterprise_member, require_kind
from weifei.registry.models import Enterprise

from . import kinds
from .destinations import url_check
from .models import Notification, NotificationPreference, Webhook, WebhookDelivery

MAX_WEBHOOKS_PER_ORGANISATION = 10
MAX_FILTER_ITEMS = 50
SECRET_PREFIX = "whsec_"

# Seconds before attempts 2, 3, … of a message (1 min, 5 min, 25 min, 2 h, 10 h): six attempts over
# about 12.5 hours. Settings may override both.
DEFAULT_BACKOFF = (60, 300, 1500, 7200, 36000)
DEFAULT_MAX_FAILURES = 5


def backoff_schedule() -> tuple[int, ...]:
    return tuple(getattr(settings, "NOTIFY_WEBHOOK_BACKOFF", DEFAULT_BACKOFF))


def max_failures() -> int:
    return int(getattr(settings, "NOTIFY_WEBHOOK_MAX_FAILURES", DEFAULT_MAX_FAILURES))


def _schedule(delivery_id: int, *, at: dt.datetime | None = None) -> None:
    """Queue the attempt once the surrounding transaction has committed (never before: a rolled
    back hand-off must send nothing)."""

    def send() -> None:
        from .tasks import deliver

        # A dedicated queue (NOTIFY_WEBHOOK_QUEUE) keeps slow endpoints from holding up other work.
        queue = getattr(settings, "NOTIFY_WEBHOOK_QUEUE", "")
        deliver.apply_async((delivery_id,), eta=at, **({"queue": queue} if queue else {}))

    transaction.on_commit(send)


# ---------------------------------------------------------------------------------------------
# notify(): the fan-out
# ---------------------------------------------------------------------------------------------


def _check_notify_input(event: str, subject_ref: str, link: str, title: str) -> None:
    if not kinds.KIND_PATTERN.match(event or "") or len(event) > 64:
        raise ValueError(f"event kind should look like 'manifest.submitted', got {event!r}")
    kinds.subject_parts(subject_ref)
    if not title or len(title) > 200:
        raise ValueError("title should have 1 to 200 characters")
    if link and (not link.startswith("/") or link.startswith("//") or len(link) > 500):
        raise ValueError(f"link should be a path inside the site, got {link!r}")


@functools.cache
def _members_sql(count: int) -> str:
    """Active members of ``count`` organisations who did not switch the event off, first membership
    by organisation id first (the ORM query this replaces, written out: it runs on every hand-off)."""
    m, u, p = (x._meta.db_table for x in (Membership, get_user_model(), NotificationPreference))
    marks = ", ".join(["%s"] * count)
    return (
        f"SELECT m.user_id, m.enterprise_id FROM {m} m INNER JOIN {u} u ON u.id = m.user_id "
        f"WHERE m.enterprise_id IN ({marks}) AND u.is_active = %s AND NOT EXISTS "
        f"(SELECT 1 FROM {p} p WHERE p.user_id = m.user_id AND p.event = %s AND p.in_app = %s) "
        "ORDER BY m.enterprise_id, m.id"
    )


def _recipients(*, org_ids: list[int], user_ids: Iterable[int], event: str, actor: Actor) -> dict[int, int | None]:
    """{user id: the organisation it hears as (None for extra users)}: the active members of the
    organisations (the first membership by organisation id wins) and the extra users, minus those
    who switched the kind off and minus the actor. One query per group, whatever their size."""
    user_orgs: dict[int, int | None] = {}
    if org_ids:
        with connection.cursor() as cursor:  # on every hand-off: SQL written once (core.fastsql)
            cursor.execute(_members_sql(len(org_ids)), [*org_ids, True, event, False])
            for uid, eid in cursor.fetchall():
                user_orgs.setdefault(uid, eid)
    extra = sorted({int(uid) for uid in user_ids} - set(user_orgs))
    if extra:
        users = get_user_model().objects.filter(id__in=extra, is_active=True)
        prefs = NotificationPreference.objects.filter(user_id=OuterRef("id"), event=event, in_app=False)
        for uid in users.exclude(Exists(prefs)).values_list("id", flat=True):
            user_orgs.setdefault(uid, None)
    if actor.user_id is not None:
        user_orgs.pop(actor.user_id, None)  # people are not told about what they did themselves
    return user_orgs


def _create_notifications(
    *,
    user_orgs: dict[int, int | None],
    event: str,
    subject_ref: str,
    link: str,
    title: str,
    actor: Actor,
    data: dict[str, Any],
) -> list[Notification]:
    now = timezone.now()
    rows = [
        Notification(
            user_id=uid,
            organisation_id=org,
            event=event,
            subject_ref=subject_ref,
            title=title,
            link=link,
            actor_label=actor.label or actor.kind,
            data=data,
            created_at=now,
        )
        for uid, org in user_orgs.items()
    ]
    return fastsql.insert_many(rows)  # on every hand-off: one statement, built once per row count


def notify(
    *,
    event: str,
    subject_ref: str,
    organisation_ids: Iterable[int],
    link: str,
    title: str,
    actor: Actor = SYSTEM,
    data: dict[str, Any] | None = None,
    user_ids: Iterable[int] = (),
) -> tuple[list[Notification], list[WebhookDelivery]]:
    """Tell the organisations about ``event`` on ``subject_ref`` (``manifest:<number>``).

    In-app: one notification per active member of those organisations (admins, members, drivers
    and readers alike) and per extra ``user_ids`` (for example the regulators concerned), once
    per user, unless the user switched the kind off; never to the actor who caused it.
    Webhooks: one delivery per active webhook of those organisations whose filter takes the kind,
    queued after commit. Call it inside the hand-off's transaction: if that rolls back, nothing
    is written and nothing is sent.
    """
    _check_notify_input(event, subject_ref, link, title)
    org_ids = sorted({int(i) for i in organisation_ids})
    # Inside the hand-off's transaction (the usual case) no savepoint of its own: if the hand-off
    # rolls back, so does this.
    with transaction.atomic(savepoint=False):
        user_orgs = _recipients(org_ids=org_ids, user_ids=user_ids, event=event, actor=actor)
        notifications = _create_notifications(
            user_orgs=user_orgs,
            event=event,
            subject_ref=subject_ref,
            link=link,
            title=title,
            actor=actor,
            data=data or {},
        )
        deliveries: list[WebhookDelivery] = []
        if event not in kinds.INTERNAL_KINDS and org_ids:
            body = json.dumps(kinds.payload_for(event, subject_ref), ensure_ascii=False, separators=(",", ":"))
            now = timezone.now()
            marks = ", ".join(["%s"] * len(org_ids))
            hooks = fastsql.select(
                Webhook, f"organisation_id IN ({marks}) AND active = %s", [*org_ids, True], order_by="id"
            )
            for hook in hooks:
                if not kinds.filter_matches(hook.events, event):
                    continue
                delivery = WebhookDelivery.objects.create(
                    webhook=hook, event=event, subject_ref=subject_ref, body=body, next_attempt_at=now, created_at=now
                )
                deliveries.append(delivery)
                _schedule(delivery.id)
    return notifications, deliveries


# ---------------------------------------------------------------------------------------------
# The inbox and preferences
# ---------------------------------------------------------------------------------------------


def _require_user(actor: Actor, action: str) -> int:
    if actor.user_id is None:
        raise PermissionDenied(f"请先登录后再{action}")
    return actor.user_id


@transaction.atomic
def notification_read(*, actor: Actor, notification_id: int) -> Notification:
    """Mark one of the actor's own notifications read (idempotent). Others' are not found."""
    user_id = _require_user(actor, "标记通知")
    notification = Notification.objects.select_for_update().filter(id=notification_id, user_id=user_id).first()
    if notification is None:
        raise NotFound("通知不存在", field="notification_id")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_read_all(*, actor: Actor) -> int:
    user_id = _require_user(actor, "标记通知")
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def preferences_update(*, actor: Actor, preferences: dict[str, bool]) -> dict[str, bool]:
    """Set the actor's in-app choice per event kind; returns what changed (kind → new value)."""
    # Read-only accounts (liaisons) choose their own notifications too: this is no supervision data.
    # (A read-only API token cannot get here: the authentication refuses its writes.)
    user_id = _require_user(actor, "修改通知偏好")
    if len(preferences) > 200:
        raise ApplicationError("一次最多设置 200 种事件", code="too_many_preferences", field="items")
    for kind, value in preferences.items():
        if not isinstance(kind, str) or not kinds.KIND_PATTERN.match(kind) or len(kind) > 64:
            raise ApplicationError(
                f"事件类型 {kind!r} 格式无效（应如 manifest.submitted）", code="event_invalid", field="event"
            )
        if not isinstance(value, bool):
            raise ApplicationError(f"事件 {kind} 的站内通知设置应为开或关", code="in_app_invalid", field="in_app")
    current = dict(
        NotificationPreference.objects.filter(user_id=user_id, event__in=list(preferences)).values_list(
            "event", "in_app"
        )
    )
    changed: dict[str, bool] = {}
    for kind, value in preferences.items():
        if current.get(kind, True) != value:
            changed[kind] = value
        NotificationPreference.objects.update_or_create(user_id=user_id, event=kind, defaults={"in_app": value})
    if changed:
        user = get_user_model().objects.get(id=user_id)
        event_record(
            subject=user,
            actor=actor,
            kind="notify.preferences_updated",
            before={k: current.get(k, True) for k in changed},
            after=changed,
        )
    return changed


# ---------------------------------------------------------------------------------------------
# Webhooks (the organisation's admins)
# ---------------------------------------------------------------------------------------------


def _require_admin(actor: Actor, organisation_id: int, action: str) -> None:
    require_kind(actor, "enterprise", "system", action=action)
    require_enterprise_member(actor, organisation_id, action=action, roles=(Membership.Role.ADMIN,))


def _webhook_locked(actor: Actor, webhook_id: int, action: str) -> Webhook:
    """The webhook, locked, for an admin of its organisation: members of that organisation are
    refused (403); everybody else is told it does not exist (404)."""
    hook = Webhook.objects.select_for_update().filter(id=webhook_id).first()
    if hook is None or (actor.kind != "system" and hook.organisation_id not in actor.enterprise_ids):
        raise NotFound("Webhook 不存在", field="webhook_id")
    _require_admin(actor, hook.organisation_id, action)
    return hook


def _clean_filter(events: Iterable[str] | None) -> list[str]:
    items: list[str] = []
    for raw in events or []:
        item = str(raw).strip()
        if not item:
            continue
        if item == "*":
            return []
        if len(item) > 64 or not (kinds.KIND_PATTERN.match(item) or kinds.FILTER_PATTERN.match(item)):
            raise ApplicationError(
                f"事件过滤项 {item!r} 格式无效（应如 manifest.submitted 或 manifest.*）",
                code="events_invalid",
                field="events",
            )
        if item in kinds.INTERNAL_KINDS:
            raise ApplicationError(f"事件 {item} 不会发送到 Webhook", code="events_invalid", field="events")
        if item not in items:
            items.append(item)
    if len(items) > MAX_FILTER_ITEMS:
        raise ApplicationError(f"事件过滤最多 {MAX_FILTER_ITEMS} 项", code="events_too_many", field="events")
    return items


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise ApplicationError("说明不能超过 200 个字符", code="description_too_long", field="description")
    return description


def _new_secret(hook: Webhook) -> str:
    plaintext = SECRET_PREFIX + secrets.token_urlsafe(32)
    hook.secret_sealed = seal(plaintext, purpose=f"webhook:{hook.id}")
    hook.secret_hint = plaintext[-4:]
    return plaintext


def _snapshot(hook: Webhook) -> dict[str, Any]:
    return {"url": hook.url, "events": list(hook.events), "description": hook.description, "active": hook.active}


@transaction.atomic
def webhook_create(
    *, actor: Actor, organisation_id: int, url: str, events: Iterable[str] | None = None, description: str = ""
) -> tuple[Webhook, str]:
    """A new webhook and its signing secret — returned here only, to be shown once."""
    _require_admin(actor, organisation_id, "管理 Webhook")
    organisation = Enterprise.objects.filter(id=organisation_id).first()
    if organisation is None:
        raise NotFound("单位不存在", field="organisation_id")
    url_check(url)
    filters = _clean_filter(events)
    description = _clean_description(description)
    Enterprise.objects.select_for_update().filter(id=organisation_id).first()  # counts the limit race-free
    if Webhook.objects.filter(organisation_id=organisation_id).count() >= MAX_WEBHOOKS_PER_ORGANISATION:
        raise ApplicationError(
            f"每个单位最多 {MAX_WEBHOOKS_PER_ORGANISATION} 个 Webhook",
            code="too_many_webhooks",
            field="organisation_id",
        )
    hook = Webhook.objects.create(
        organisation=organisation,
        url=url.strip(),
        events=filters,
        description=description,
        created_by_id=actor.user_id,
    )
    plaintext = _new_secret(hook)
    hook.save(update_fields=["secret_sealed", "secret_hint"])
    event_record(subject=hook, actor=actor, kind="webhook.created", after=_snapshot(hook), organisation=organisation)
    return hook, plaintext


@transaction.atomic
def webhook_update(
    *,
    actor: Actor,
    webhook_id: int,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
    rotate_secret: bool = False,
) -> tuple[Webhook, str | None]:
    """Change the address, filter or description; ``rotate_secret`` makes a new secret (returned
    once; the old one stops signing at once)."""
    hook = _webhook_locked(actor, webhook_id, "管理 Webhook")
    before = _snapshot(hook)
    if url is not None:
        url_check(url)
        hook.url = url.strip()
    if events is not None:
        hook.events = _clean_filter(events)
    if description is not None:
        hook.description = _clean_description(description)
    plaintext = _new_secret(hook) if rotate_secret else None
    hook.save()
    after = _snapshot(hook)
    changed = {k: v for k, v in after.items() if before[k] != v}
    if changed:
        event_record(
            subject=hook,
            actor=actor,
            kind="webhook.updated",
            before={k: before[k] for k in changed},
            after=changed,
            organisation=hook.organisation_id,
        )
    if rotate_secret:
        event_record(subject=hook, actor=actor, kind="webhook.secret_rotated", organisation=hook.organisation_id)
    return hook, plaintext


@transaction.atomic
def webhook_delete(*, actor: Actor, webhook_id: int) -> None:
    """Delete the webhook with its delivery log (the event keeps what it was)."""
    hook = _webhook_locked(actor, webhook_id, "管理 Webhook")
    event_record(
        subject=hook, actor=actor, kind="webhook.deleted", before=_snapshot(hook), organisation=hook.organisation_id
    )
    hook.delete()


def _cancel_pending(hook: Webhook) -> int:
    return WebhookDelivery.objects.filter(webhook=hook, status=WebhookDelivery.Status.PENDING, is_test=False).update(
        status=WebhookDelivery.Status.CANCELLED, next_attempt_at=None, error="Webhook 已停用"
    )


@transaction.atomic
def webhook_enable(*, actor: Actor, webhook_id: int) -> Webhook:
    """Switch a webhook on again (the failure count starts afresh). Messages missed while it was
    off are not replayed: poll the ``updated_after`` feeds to catch up."""
    hook = _webhook_locked(actor, webhook_id, "启用 Webhook")
    if hook.active:
        return hook
    hook.active = True
    hook.consecutive_failures = 0
    hook.disabled_at = None
    hook.disabled_reason = ""
    hook.save(update_fields=["active", "consecutive_failures", "disabled_at", "disabled_reason", "updated_at"])
    event_record(subject=hook, actor=actor, kind="webhook.enabled", organisation=hook.organisation_id)
    return hook


@transaction.atomic
def webhook_disable(*, actor: Actor, webhook_id: int, reason: str = "") -> Webhook:
    """The admin switches the webhook off (pending messages are cancelled)."""
    hook = _webhook_locked(actor, webhook_id, "停用 Webhook")
    if not hook.active:
        return hook
    _switch_off(hook, actor=actor, reason=(reason or "管理员停用").strip()[:200])
    return hook


def _switch_off(hook: Webhook, *, actor: Actor, reason: str) -> None:
    hook.active = False
    hook.disabled_at = timezone.now()
    hook.disabled_reason = reason
    hook.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    _cancel_pending(hook)
    event_record(
        subject=hook,
        actor=actor,
        kind="webhook.disabled",
        reason=reason,
        after={"consecutive_failures": hook.consecutive_failures},
        organisation=hook.organisation_id,
    )


@transaction.atomic
def webhook_test(*, actor: Actor, webhook_id: int) -> WebhookDelivery:
    """Queue one ``webhook.test`` message (one attempt, no retries, not counted as a failure; a
    switched-off webhook may be tested before it is enabled again)."""
    hook = _webhook_locked(actor, webhook_id, "测试 Webhook")
    url_check(hook.url)
    body = json.dumps({"event": "webhook.test", "ref": f"webhook:{hook.id}"}, separators=(",", ":"))
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        webhook=hook,
        event="webhook.test",
        subject_ref=f"webhook:{hook.id}",
        body=body,
        is_test=True,
        next_attempt_at=now,
        created_at=now,
    )
    event_record(
        subject=hook,
        actor=actor,
        kind="webhook.test_sent",
        after={"message_id": str(delivery.message_id)},
        organisation=hook.organisation_id,
    )
    _schedule(delivery.id)
    return delivery


# ---------------------------------------------------------------------------------------------
# Delivery outcomes (called by the task)
# ---------------------------------------------------------------------------------------------


def delivery_claim(delivery_id: int) -> WebhookDelivery | None:
    """Take a due pending attempt (one worker wins when a broker delivers the task twice)."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(id=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.SENDING, attempted_at=now
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("webhook").filter(id=delivery_id).first()


@transaction.atomic
def delivery_record(
    *,
    delivery_id: int,
    ok: bool,
    status_code: int | None,
    duration_ms: int | None,
    error: str = "",
    response_excerpt: str = "",
    now: Callable[[], dt.datetime] = timezone.now,
) -> WebhookDelivery:
    """Log an attempt's outcome; on failure queue the next attempt after the back-off, or count a
    failed message and switch the webhook off after ``max_failures()`` in a row."""
    delivery = WebhookDelivery.objects.select_for_update().get(id=delivery_id)
    hook = Webhook.objects.select_for_update().get(id=delivery.webhook_id)
    at = now()
    delivery.status_code = status_code
    delivery.duration_ms = duration_ms
    delivery.error = error[:500]
    delivery.response_excerpt = response_excerpt[:500]
    if ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.next_attempt_at = None
        delivery.save()
        if not delivery.is_test:
            hook.consecutive_failures = 0
        hook.last_success_at = at
        hook.save(update_fields=["consecutive_failures", "last_success_at"])
        return delivery
    delivery.status = WebhookDelivery.Status.FAILED
    hook.last_failure_at = at
    schedule = backoff_schedule()
    if not delivery.is_test and hook.active and delivery.attempt <= len(schedule):
        due = at + dt.timedelta(seconds=schedule[delivery.attempt - 1])
        delivery.next_attempt_at = due
        delivery.save()
        retry = WebhookDelivery.objects.create(
            webhook=hook,
            message_id=delivery.message_id,
            event=delivery.event,
            subject_ref=delivery.subject_ref,
            body=delivery.body,
            attempt=delivery.attempt + 1,
            next_attempt_at=due,
            created_at=at,
        )
        hook.save(update_fields=["last_failure_at"])
        _schedule(retry.id, at=due)
        return delivery
    delivery.next_attempt_at = None
    delivery.save()
    if delivery.is_test:
        hook.save(update_fields=["last_failure_at"])
        return delivery
    hook.consecutive_failures += 1
    hook.save(update_fields=["consecutive_failures", "last_failure_at"])
    if hook.active and hook.consecutive_failures >= max_failures():
        reason = f"连续 {hook.consecutive_failures} 条消息投递失败（每条重试 {len(schedule)} 次）"
        _switch_off(hook, actor=SYSTEM, reason=reason)
        admins = list(
            Membership.objects.filter(enterprise_id=hook.organisation_id, role=Membership.Role.ADMIN).values_list(
                "user_id", flat=True
            )
        )
        _create_notifications(
            user_orgs=dict.fromkeys(admins, hook.organisation_id),
            event="webhook.disabled",
            subject_ref=f"webhook:{hook.id}",
            link=f"/notifications/webhooks/{hook.id}/",
            title=f"Webhook {hook.url} 因连续投递失败已停用，请检查接收端后重新启用",
            actor=SYSTEM,
            data={"webhook_id": hook.id, "reason": reason},
        )
    return delivery


def delivery_cancel(delivery_id: int, reason: str) -> None:
    WebhookDelivery.objects.filter(id=delivery_id).update(
        status=WebhookDelivery.Status.CANCELLED, next_attempt_at=None, error=reason[:500]
    )


def deliveries_due(*, older_than: dt.timedelta = dt.timedelta(minutes=2), limit: int = 500) -> list[int]:
    """Pending attempts overdue (their queued task was lost: a crash between commit and queueing,
    a broker restart) and attempts stuck in ``sending`` (a worker died mid-request) — requeued by
    the sweep. Stuck ones are put back to pending first."""
    now = timezone.now()
    stale = now - dt.timedelta(minutes=15)
    WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SENDING, attempted_at__lt=stale).update(
        status=WebhookDelivery.Status.PENDING
    )
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lt=now - older_than)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
