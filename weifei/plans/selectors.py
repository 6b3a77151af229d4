"""Management-plan reads, always scoped by the actor: an enterprise sees its own sites' plans
(every membership role reads), a regulator or liaison the plans of sites in its jurisdiction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound
from weifei.registry.models import Site

from . import rules
from .models import ManagementPlan, ManagementPlanVersion

FILED_STATES = (ManagementPlan.Status.FILED, ManagementPlan.Status.ACCEPTED, ManagementPlan.Status.RETURNED)


def plans_visible(*, actor: Actor) -> QuerySet[ManagementPlan]:
    qs = ManagementPlan.objects.select_related("site__enterprise", "site__region")
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(site__region__key__in=actor.region_codes)
    if actor.kind == "enterprise":
        return qs.filter(site__enterprise_id__in=actor.enterprise_ids)
    return qs.none()


def plan_list(
    *, actor: Actor, year: int | None = None, status: str = "", site_id: int | None = None
) -> QuerySet[ManagementPlan]:
    qs = plans_visible(actor=actor)
    if year is not None:
        qs = qs.filter(year=year)
    if status:
        if status not in ManagementPlan.Status.values:
            raise ApplicationError(f"状态 {status!r} 无效", code="status_invalid", field="status")
        qs = qs.filter(status=status)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    return qs.order_by("-year", "site_id")


def plan_get(*, actor: Actor, plan_id: int) -> ManagementPlan:
    found = plans_visible(actor=actor).filter(id=plan_id).first()
    if found is None:
        raise NotFound("管理计划不存在或无权查看", field="plan")
    return found


def review_queue(*, actor: Actor) -> QuerySet[ManagementPlan]:
    """Filed plans awaiting review in the regulator's jurisdiction, oldest first."""
    if not actor.is_regulator:
        return ManagementPlan.objects.none()
    return plans_visible(actor=actor).filter(status=ManagementPlan.Status.FILED).order_by("filed_at")


def sites_without_plan(*, actor: Actor, year: int, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Sites in the regulator's jurisdiction (in operation or suspended) without a filed plan for
    ``year``, each with the ``plan_missing`` finding once 31 March has passed."""
    if not actor.is_regulator and actor.kind != "system":
        return []
    today = today or dt.date.today()
    sites = Site.objects.select_related("enterprise", "region").exclude(status=Site.Status.CLOSED)
    if actor.kind != "system":
        sites = sites.filter(region__key__in=actor.region_codes)
    filed = set(
        ManagementPlan.objects.filter(year=year, status__in=FILED_STATES).values_list("site_id", flat=True)
    ) | set(ManagementPlanVersion.objects.filter(plan__year=year).values_list("plan__site_id", flat=True))
    out = []
    for site in sites.order_by("region__key", "enterprise__name", "id"):
        if site.id in filed:
            continue
        facts = rules.SitePlanFacts(site.id, str(site), site.status, False)
        finding = rules.plan_missing(facts, year=year, today=today)
        out.append({"site": site, "finding": finding})
    return out


def plan_versions(*, plan: ManagementPlan) -> QuerySet[ManagementPlanVersion]:
    return plan.versions.order_by("version")


def plan_diff(*, plan: ManagementPlan) -> list[dict[str, Any]]:
    """The current lines against the last filed version (empty when nothing changed)."""
    from .services import line_dict

    last = plan.versions.order_by("-version").first()
    if last is None:
        return []
    return rules.lines_diff(last.snapshot.get("lines", []), [line_dict(x) for x in plan.lines.all()])


def version_diff(*, plan: ManagementPlan, old: int, new: int) -> list[dict[str, Any]]:
    versions = {v.version: v for v in plan.versions.filter(version__in=[old, new])}
    if old not in versions or new not in versions:
        raise NotFound("版本不存在", field="version")
    return rules.lines_diff(versions[old].snapshot["lines"], versions[new].snapshot["lines"])
