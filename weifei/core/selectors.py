"""Core reads."""

from __future__ import annotations

from django.db import models
from django.db.models import QuerySet

from .actors import Actor
from .models import Event


def events_for(*, actor: Actor, subject: models.Model) -> QuerySet[Event]:
    """The history of one object, newest first, for its page (``core/_history.html``).

    The caller must already have checked that ``actor`` may see ``subject``: this selector
    does not know every subject's visibility rules. It only withholds the history from the
    public, since histories name people and carry unpublished before/after values.
    """
    if actor.is_public:
        return Event.objects.none()
    return (
        Event.objects.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk))
        .select_related("actor_user")
        .order_by("-occurred_at", "-id")
    )


def events_for_organisation(*, actor: Actor, organisation_id: int) -> QuerySet[Event]:
    """Everything recorded about an organisation's records (its sites, licences, vehicles …),
    newest first. As with ``events_for``, the caller has checked the actor may see the unit."""
    if actor.is_public:
        return Event.objects.none()
    return (
        Event.objects.filter(organisation_id=organisation_id)
        .select_related("actor_user")
        .order_by("-occurred_at", "-id")
    )
