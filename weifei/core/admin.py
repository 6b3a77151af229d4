"""The Django admin is a read-only window: every write goes through a service that checks the
actor and records an event, and the admin would bypass both."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import CalendarOverride, ChainRoot, Event, EventStream


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "stream", "seq", "kind", "subject_type", "subject_id", "actor_label")
    list_filter = ("kind",)
    search_fields = ("subject_id", "actor_label", "request_id", "stream")


@admin.register(EventStream)
class EventStreamAdmin(ReadOnlyAdmin):
    list_display = ("key", "head_seq", "head_hash", "updated_at")
    search_fields = ("key",)


@admin.register(ChainRoot)
class ChainRootAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "stream_count", "event_count", "root_hash")


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(ReadOnlyAdmin):
    list_display = ("date", "is_workday", "reason")
