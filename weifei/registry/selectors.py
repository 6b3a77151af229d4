"""Registry reads, always scoped by the actor."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from weifei.catalog.models import Region
from weifei.core.actors import Actor

from .models import Enterprise


def enterprises_visible(*, actor: Actor) -> QuerySet[Enterprise]:
    """An enterprise member sees its own units, a regulator its jurisdiction; the public none
    (public disclosure comes through published projections, not the registry)."""
    qs = Enterprise.objects.select_related("region")
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(region__key__in=actor.region_codes)
    if actor.kind == "enterprise":
        return qs.filter(id__in=actor.enterprise_ids)
    return qs.none()


def enterprises_per_prefecture(*, actor: Actor) -> list[dict[str, object]]:
    """Counts of the units the actor may see, grouped by statutory prefecture (and the special
    region), in prefecture code order. Public actors get province-wide totals: counts are
    published figures, individual units are not."""
    base = Enterprise.objects.all() if actor.is_public else enterprises_visible(actor=actor)
    by_region = dict(base.values_list("region_id").annotate(n=Count("id")).values_list("region_id", "n"))
    regions = {r.id: r for r in Region.objects.all()}
    totals: dict[int, int] = {}
    for region_id, n in by_region.items():
        region = regions[region_id]
        # Walk up the statutory tree to the prefecture (or the special region).
        while region.level not in (Region.Level.PREFECTURE, Region.Level.SPECIAL, Region.Level.PROVINCE):
            assert region.parent_id is not None
            region = regions[region.parent_id]
        totals[region.id] = totals.get(region.id, 0) + n
    tops = sorted(
        (r for r in regions.values() if r.level in (Region.Level.PREFECTURE, Region.Level.SPECIAL)),
        key=lambda r: (r.level != Region.Level.PREFECTURE, r.key),
    )
    return [{"code": r.code6, "name": r.name, "count": totals.get(r.id, 0)} for r in tops]
