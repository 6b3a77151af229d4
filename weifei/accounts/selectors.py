"""Turning a request's user into the ``Actor`` every selector and service takes."""

from __future__ import annotations

from typing import Any

from weifei.catalog.models import Region
from weifei.catalog.selectors import jurisdiction_region_ids
from weifei.core.actors import PUBLIC, Actor

from .models import Membership, RegulatorAssignment


def actor_for(user: Any) -> Actor:
    if user is None or not getattr(user, "is_authenticated", False):
        return PUBLIC
    assignment = RegulatorAssignment.objects.select_related("region").filter(user=user).first()
    label = user.get_full_name() or user.get_username()
    if assignment is not None:
        ids = jurisdiction_region_ids(assignment.region)
        keys = frozenset(Region.objects.filter(id__in=ids).values_list("key", flat=True))
        return Actor(
            kind="regulator",
            user_id=user.pk,
            label=label,
            region_codes=keys,
            region_level=assignment.region.level,
            read_only=assignment.role == RegulatorAssignment.Role.LIAISON,
        )
    enterprise_ids = frozenset(Membership.objects.filter(user=user).values_list("enterprise_id", flat=True))
    return Actor(kind="enterprise", user_id=user.pk, label=label, enterprise_ids=enterprise_ids)


def regulator_assignment(*, actor: Actor) -> RegulatorAssignment | None:
    if not actor.is_regulator or actor.user_id is None:
        return None
    return RegulatorAssignment.objects.select_related("region").filter(user_id=actor.user_id).first()


def memberships(*, actor: Actor) -> list[Membership]:
    if actor.user_id is None:
        return []
    return list(Membership.objects.select_related("enterprise", "enterprise__region").filter(user_id=actor.user_id))
