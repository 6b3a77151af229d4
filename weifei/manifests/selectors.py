"""Who sees which manifests: every party (the consignor, each leg's carrier, the receiver and the
first receiver of a redirected load) — all its members, drivers and readers included —, regulators
and liaison accounts whose jurisdiction holds the consignor's site or the receiver, and the system.
Everyone else gets "not found"."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from weifei.core.actors import Actor
from weifei.core.errors import NotFound

from .models import Manifest


def manifests_visible(*, actor: Actor) -> QuerySet[Manifest]:
    qs = Manifest.objects.select_related(
        "consignor", "consignor_site__region", "receiver__region", "receiver_site__region"
    )
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        regions = actor.region_codes
        return qs.filter(
            Q(consignor_site__region__key__in=regions)
            | Q(receiver__region__key__in=regions)
            | Q(receiver_site__region__key__in=regions)
        )
    if actor.kind == "enterprise":
        ids = actor.enterprise_ids
        return qs.filter(
            Q(consignor_id__in=ids)
            | Q(receiver_id__in=ids)
            | Q(original_receiver_id__in=ids)
            | Q(id__in=Manifest.objects.filter(legs__carrier_id__in=ids).values("id"))
        )
    return qs.none()


def manifest_get(*, actor: Actor, manifest_id: int) -> Manifest:
    found = manifests_visible(actor=actor).filter(id=manifest_id).first()
    if found is None:
        raise NotFound("联单不存在或无权查看", field="manifest")
    return found


def manifest_by_number(*, actor: Actor, number: str) -> Manifest:
    found = manifests_visible(actor=actor).filter(number=(number or "").strip()).first()
    if found is None:
        raise NotFound("联单不存在或无权查看", field="number")
    return found


def manifests_updated_after(*, actor: Actor, after: dt.datetime, limit: int = 100) -> QuerySet[Manifest]:
    """The polling feed: manifests the actor sees changed after ``after``, oldest change first."""
    return manifests_visible(actor=actor).filter(updated_at__gt=after).order_by("updated_at", "id")[:limit]


def register(*, actor: Actor, enterprise_id: int, kind: str) -> QuerySet[Manifest]:
    """A party's register (projection): ``outgoing`` (as consignor), ``transported`` (as a carrier
    of some leg) or ``incoming`` (as receiver), among the manifests the actor sees."""
    qs = manifests_visible(actor=actor)
    if kind == "outgoing":
        return qs.filter(consignor_id=enterprise_id)
    if kind == "transported":
        return qs.filter(id__in=Manifest.objects.filter(legs__carrier_id=enterprise_id).values("id"))
    if kind == "incoming":
        return qs.filter(receiver_id=enterprise_id)
    raise NotFound("登记簿类型应为 outgoing、transported 或 incoming", field="kind")
