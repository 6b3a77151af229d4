"""Registry reads, always scoped by the actor.

An enterprise member sees its own units' records; a regulator (or liaison) the records located
in its jurisdiction; the public none (public facts come through published projections). For
carriers and receivers a counterparty's basic record is visible through contracts, later
through manifests.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from weifei.catalog.models import HOME_PROVINCE, Region
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound

from .models import (
    Contract,
    Driver,
    EIAApproval,
    EmergencyPlanFiling,
    Enterprise,
    Facility,
    Insurance,
    Licence,
    ManagementClass,
    RoadTransportLicence,
    Site,
    Vehicle,
    Verification,
)


def sees_out_of_province(actor: Actor) -> bool:
    """Jilin's province-level accounts (regulator or liaison) see the out-of-province units they
    registered (receivers and carriers of cross-province transfers); no other Jilin regulator does."""
    return actor.is_regulator and actor.region_level == Region.Level.PROVINCE and HOME_PROVINCE in actor.region_codes


def _region_q(actor: Actor, region_path: str) -> Q:
    q = Q(**{f"{region_path}__key__in": actor.region_codes})
    if sees_out_of_province(actor):
        q |= ~Q(**{f"{region_path}__province_code": HOME_PROVINCE})
    return q


def _scope(qs: QuerySet[Any], actor: Actor, *, enterprise_path: str, region_path: str) -> QuerySet[Any]:
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(_region_q(actor, region_path))
    if actor.kind == "enterprise":
        return qs.filter(**{f"{enterprise_path}__in": actor.enterprise_ids})
    return qs.none()


def enterprises_visible(*, actor: Actor) -> QuerySet[Enterprise]:
    return _scope(Enterprise.objects.select_related("region"), actor, enterprise_path="id", region_path="region")


def enterprise_list(
    *,
    actor: Actor,
    q: str = "",
    region_key: str = "",
    role: str = "",
    verification: str = "",
    management_class: str = "",
) -> QuerySet[Enterprise]:
    """The registry of the actor's jurisdiction with filters (regulators' registry page and API)."""
    qs = enterprises_visible(actor=actor)
    q = (q or "").strip()
    if len(q) > 50:
        raise ApplicationError("搜索词不能超过 50 个字符", code="query_too_long", field="q")
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(credit_code__startswith=q.upper()))
    if region_key:
        region = Region.objects.filter(key=region_key).first()
        if region is None:
            raise ApplicationError(f"行政区域 {region_key} 不存在", code="region_not_found", field="region")
        qs = qs.filter(Q(region=region) | Q(region__parent=region) | Q(region__supervisor=region))
    if role:
        if role not in ("is_generator", "is_carrier", "is_operator", "is_collector"):
            raise ApplicationError(f"单位角色 {role!r} 无效", code="role_invalid", field="role")
        qs = qs.filter(**{role: True})
    if verification:
        if verification not in Verification.values:
            raise ApplicationError(f"核验状态 {verification!r} 无效", code="verification_invalid", field="verification")
        qs = qs.filter(verification=verification)
    if management_class:
        if management_class not in ManagementClass.values:
            raise ApplicationError(
                f"管理类别 {management_class!r} 无效", code="class_invalid", field="management_class"
            )
        qs = qs.filter(sites__management_class=management_class).distinct()
    return qs.order_by("region__key", "name")


def enterprise_get(*, actor: Actor, enterprise_id: int) -> Enterprise:
    found = enterprises_visible(actor=actor).filter(id=enterprise_id).first()
    if found is None:  # not found and not visible look the same: no existence leak
        raise NotFound("单位不存在或无权查看", field="enterprise")
    return found


def counterparty_get(*, actor: Actor, enterprise_id: int) -> Enterprise:
    """A contract's other party. A unit contracts with receivers and carriers outside its own
    visibility, so any signed-in actor may name a *verified* unit by id; the public may not."""
    if actor.is_public:
        raise NotFound("合同相对方不存在", field="party_b_id")
    found = Enterprise.objects.select_related("region").filter(id=enterprise_id, verification=Verification.VERIFIED)
    party = found.first()
    if party is None:
        raise NotFound("合同相对方不存在或尚未通过核验", field="party_b_id")
    return party


def verification_queue(*, actor: Actor) -> QuerySet[Enterprise]:
    if not actor.is_regulator:
        return Enterprise.objects.none()
    return enterprises_visible(actor=actor).filter(verification=Verification.PENDING).order_by("created_at")


def sites_visible(*, actor: Actor) -> QuerySet[Site]:
    return _scope(
        Site.objects.select_related("enterprise", "region"),
        actor,
        enterprise_path="enterprise_id",
        region_path="region",
    )


def site_get(*, actor: Actor, site_id: int) -> Site:
    found = sites_visible(actor=actor).filter(id=site_id).first()
    if found is None:
        raise NotFound("场所不存在或无权查看", field="site")
    return found


def facilities_visible(*, actor: Actor) -> QuerySet[Facility]:
    return _scope(
        Facility.objects.select_related("site"),
        actor,
        enterprise_path="site__enterprise_id",
        region_path="site__region",
    )


def licences_visible(*, actor: Actor) -> QuerySet[Licence]:
    qs = Licence.objects.select_related("holder", "holder__region").prefetch_related("scopes", "aggregates")
    return _scope(qs, actor, enterprise_path="holder_id", region_path="holder__region")


def licence_get(*, actor: Actor, licence_id: int) -> Licence:
    found = licences_visible(actor=actor).filter(id=licence_id).first()
    if found is None:
        raise NotFound("许可证不存在或无权查看", field="licence")
    return found


def vehicles_visible(*, actor: Actor) -> QuerySet[Vehicle]:
    return _scope(
        Vehicle.objects.select_related("carrier"), actor, enterprise_path="carrier_id", region_path="carrier__region"
    )


def vehicle_registration_queue(*, actor: Actor) -> QuerySet[Vehicle]:
    if not actor.is_regulator:
        return Vehicle.objects.none()
    return vehicles_visible(actor=actor).filter(registration=Vehicle.Registration.PENDING)


def drivers_visible(*, actor: Actor) -> QuerySet[Driver]:
    return _scope(
        Driver.objects.select_related("carrier"), actor, enterprise_path="carrier_id", region_path="carrier__region"
    )


def road_licences_visible(*, actor: Actor) -> QuerySet[RoadTransportLicence]:
    return _scope(
        RoadTransportLicence.objects.all(), actor, enterprise_path="carrier_id", region_path="carrier__region"
    )


def contracts_visible(*, actor: Actor) -> QuerySet[Contract]:
    """A contract is visible to both parties and to the regulators of either party's region."""
    qs = Contract.objects.select_related("party_a", "party_b")
    if actor.kind == "system":
        return qs
    if actor.is_regulator:
        return qs.filter(_region_q(actor, "party_a__region") | _region_q(actor, "party_b__region"))
    if actor.kind == "enterprise":
        return qs.filter(Q(party_a_id__in=actor.enterprise_ids) | Q(party_b_id__in=actor.enterprise_ids))
    return qs.none()


def eia_approvals_visible(*, actor: Actor) -> QuerySet[EIAApproval]:
    return _scope(EIAApproval.objects.all(), actor, enterprise_path="enterprise_id", region_path="enterprise__region")


def insurances_visible(*, actor: Actor) -> QuerySet[Insurance]:
    return _scope(Insurance.objects.all(), actor, enterprise_path="enterprise_id", region_path="enterprise__region")


def emergency_plans_visible(*, actor: Actor) -> QuerySet[EmergencyPlanFiling]:
    return _scope(
        EmergencyPlanFiling.objects.all(), actor, enterprise_path="enterprise_id", region_path="enterprise__region"
    )


def enterprises_per_prefecture(*, actor: Actor) -> list[dict[str, object]]:
    """Counts of the units the actor may see, grouped by statutory prefecture (and the special
    region), in prefecture code order. Public actors get province-wide totals: counts are
    published figures, individual units are not. Jilin's units only: out-of-province receivers and
    carriers are not Jilin's statistics."""
    base = Enterprise.objects.all() if actor.is_public else enterprises_visible(actor=actor)
    base = base.filter(region__province_code=HOME_PROVINCE)
    by_region = dict(base.values_list("region_id").annotate(n=Count("id")).values_list("region_id", "n"))
    regions = {r.id: r for r in Region.objects.home()}
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
