from __future__ import annotations

from django.conf import settings
from django.db import models


class CalendarOverride(models.Model):
    """A local exception to the national working-day calendar (e.g. a provincial notice)."""

    date = models.DateField(unique=True)
    is_workday = models.BooleanField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date"]
        verbose_name = "工作日调整"
        verbose_name_plural = "工作日调整"

    def __str__(self) -> str:
        return f"{self.date} {'工作日' if self.is_workday else '休息日'} ({self.reason})"


class Event(models.Model):
    """The legal record of a change: one row per service write, in the same transaction.

    Append-only. The hash chain over these rows and its verification command come with
    the registry/accounts issue; the columns are already the ones it needs.
    """

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    kind = models.CharField(max_length=80, db_index=True)
    subject_type = models.CharField(max_length=80)
    subject_id = models.CharField(max_length=64)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject_id", "occurred_at"])]
        verbose_name = "事件"
        verbose_name_plural = "事件"

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}#{self.subject_id}"
