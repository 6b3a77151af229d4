"""Webhook delivery tasks. ``deliver`` makes one attempt and queues the next after the back-off;
``webhook_sweep`` requeues attempts whose task was lost; ``notify_purge`` trims old rows.

Schedule the periodic ones with beat (``CELERY_BEAT_SCHEDULE``): the sweep every few minutes,
the purge daily. Without a broker (the demo) tasks run eagerly, so a retry runs at once instead
of after its delay (the log still records when it was due).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import delivery, services
from .models import Notification, WebhookDelivery

READ_NOTIFICATIONS_KEPT_DAYS = 180
DELIVERIES_KEPT_DAYS = 30


@shared_task(name="weifei.notify.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    row = services.delivery_claim(delivery_id)
    if row is None:
        return "skipped"  # already taken by another worker, finished or cancelled
    if not row.webhook.active and not row.is_test:
        services.delivery_cancel(row.id, "Webhook 已停用")
        return "cancelled"
    outcome = delivery.attempt(row)
    try:
        services.delivery_record(
            delivery_id=row.id,
            ok=outcome.ok,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            response_excerpt=outcome.response_excerpt,
        )
    except WebhookDelivery.DoesNotExist:
        return "gone"  # the webhook was deleted (with its log) while the request was under way
    return "succeeded" if outcome.ok else "failed"


@shared_task(name="weifei.notify.tasks.webhook_sweep", ignore_result=True)
def webhook_sweep() -> int:
    due = services.deliveries_due()
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)


@shared_task(name="weifei.notify.tasks.notify_purge", ignore_result=True)
def notify_purge() -> tuple[int, int]:
    now = timezone.now()
    notes, _ = Notification.objects.filter(read_at__lt=now - dt.timedelta(days=READ_NOTIFICATIONS_KEPT_DAYS)).delete()
    attempts, _ = WebhookDelivery.objects.filter(
        created_at__lt=now - dt.timedelta(days=DELIVERIES_KEPT_DAYS),
        status__in=[WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED, WebhookDelivery.Status.CANCELLED],
    ).delete()
    return notes, attempts
