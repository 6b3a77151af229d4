"""Template context for the header: the unread count and the inbox link (register
``weifei.notify.context.notifications`` in TEMPLATES' context processors). The count is a
callable, so pages that do not show it do not query it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from .models import Notification

        return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()

    return {"notifications_url": "/notifications/", "notifications_unread": count}
