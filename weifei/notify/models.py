"""In-app notifications, per-user preferences, organisation webhooks and their delivery log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from weifei.registry.models import Enterprise


class Notification(models.Model):
    """One message in one user's inbox. ``link`` is a path inside the site."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # The organisation through which the user was told (a user in two parties of one manifest is
    # told once).
    organisation = models.ForeignKey(Enterprise, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField("事件", max_length=64)
    subject_ref = models.CharField(max_length=100)
    title = models.CharField("标题", max_length=200)
    link = models.CharField(max_length=500, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notify_user_created"),
            models.Index(fields=["user"], name="notify_user_unread", condition=models.Q(read_at__isnull=True)),
        ]
        verbose_name = "站内通知"
        verbose_name_plural = "站内通知"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"


class NotificationPreference(models.Model):
    """A user's choice for one event kind. No row means the default: in-app on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=64)
    in_app = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="uniq_notify_pref_user_event")]
        verbose_name = "通知偏好"
        verbose_name_plural = "通知偏好"

    def __str__(self) -> str:
        return f"{self.user_id} {self.event}: {'on' if self.in_app else 'off'}"


class Webhook(models.Model):
    """An organisation's HTTPS endpoint that receives signed, minimal event payloads.

    The signing secret is sealed (``weifei.accounts.sealing``, purpose ``webhook:<id>``): the
    platform must be able to sign with it, so it cannot be hashed like an API token.
    """

    organisation = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField("地址", max_length=500)
    description = models.CharField("说明", max_length=200, blank=True)
    events = models.JSONField("事件过滤", default=list, blank=True)  # [] = every kind
    secret_sealed = models.CharField(max_length=255, blank=True)
    secret_hint = models.CharField(max_length=16, blank=True)  # the last characters, to tell secrets apart
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "Webhook"
        verbose_name_plural = "Webhook"

    def __str__(self) -> str:
        return f"{self.organisation_id} → {self.url}"


class WebhookDelivery(models.Model):
    """One attempt to deliver one message. The attempts of a message share ``message_id`` (sent
    as ``X-Weifei-Delivery`` so that receivers can drop duplicates)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待发送"
        SENDING = "sending", "发送中"
        SUCCEEDED = "succeeded", "成功"
        FAILED = "failed", "失败"
        CANCELLED = "cancelled", "已取消"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.UUIDField(default=uuid.uuid4)
    event = models.CharField(max_length=64)
    subject_ref = models.CharField(max_length=100)
    body = models.TextField()  # the exact bytes (UTF-8) that are signed and sent
    attempt = models.PositiveSmallIntegerField(default=1)
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # pending: when the attempt is due; failed: when the retry is due (None: no retry — gave up)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="notify_delivery_webhook"),
            models.Index(
                fields=["next_attempt_at"],
                name="notify_delivery_due",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
        ]
        verbose_name = "Webhook 投递"
        verbose_name_plural = "Webhook 投递"

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event} #{self.attempt} {self.status}"
