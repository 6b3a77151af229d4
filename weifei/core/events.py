"""Recording events: called by services inside their transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from .actors import Actor
from .models import Event


def event_record(
    *,
    subject: models.Model,
    actor: Actor,
    kind: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    request_id: str = "",
) -> Event:
    return Event.objects.create(
        actor_user_id=actor.user_id,
        actor_label=actor.label or actor.kind,
        kind=kind,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        before=before or {},
        after=after or {},
        reason=reason,
        request_id=request_id,
    )
