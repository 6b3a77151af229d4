from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


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


GENESIS_HASH = "0" * 64  # prev_hash of the first event in every stream


class Event(models.Model):
    """The legal record of a change: one row per service write, in the same transaction.

    Append-only (database triggers refuse UPDATE and DELETE) and hash-chained with SM3 per
    stream: ``hash`` = SM3 over the canonical serialisation of the row including ``prev_hash``
    (see ``weifei.core.chain`` and docs/audit.md). Rows are written by
    ``weifei.core.events.event_record`` only.
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)  # set before hashing
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    # The organisation whose record this is; PROTECT: an enterprise with history stays.
    organisation = models.ForeignKey(
        "registry.Enterprise", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=80, db_index=True)
    subject_type = models.CharField(max_length=80)
    subject_id = models.CharField(max_length=64)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # The chain: ``org:<enterprise id>``, ``region:<key>`` or ``system``; 1-based position.
    stream = models.CharField(max_length=100)
    seq = models.PositiveBigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject_id", "occurred_at"])]
        constraints = [models.UniqueConstraint(fields=["stream", "seq"], name="uniq_event_stream_seq")]
        verbose_name = "事件"
        verbose_name_plural = "事件"

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}#{self.subject_id}"

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for every field named in either side, for history tables."""
        before, after = self.before or {}, self.after or {}
        names = list(before) + [k for k in after if k not in before]
        return [(name, before.get(name), after.get(name)) for name in names]


class EventStream(models.Model):
    """The head of one event chain. ``event_record`` locks this row (``SELECT ... FOR UPDATE``)
    so writers to the same stream take turns while writers to other streams do not wait."""

    key = models.CharField(max_length=100, unique=True)
    head_seq = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "事件链"
        verbose_name_plural = "事件链"

    def __str__(self) -> str:
        return f"{self.key} @{self.head_seq}"


class ChainRoot(models.Model):
    """A periodic commitment to every stream head (Certificate-Transparency style): SM3 over
    the sorted (key, head_seq, head_hash) list. Append-only like the events."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    stream_count = models.PositiveIntegerField()
    event_count = models.PositiveBigIntegerField()
    root_hash = models.CharField(max_length=64)
    heads = models.JSONField(default=list)  # [[key, head_seq, head_hash], ...] sorted by key

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "链根"
        verbose_name_plural = "链根"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.root_hash[:12]}"
