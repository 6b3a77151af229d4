"""Registry writes. Pages, API, imports and the demo generator all come through here.

Every function: keyword-only, one transaction, checks the actor, validates with messages that
name the field and the rule, records an event with the changed fields.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from weifei.catalog.models import HOME_PROVINCE, Region
from weifei.catalog.validation import validate_category, validate_waste_code
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.events import event_record
from weifei.core.identifiers import validate_credit_code
from weifei.core.permissions import require_enterprise_member, require_kind, require_regulator_over

from . import rules
from .models import (
    Contract,
    Driver,
    EIAApproval,
    EmergencyPlanFiling,
    Enterprise,
    Facility,
    GenerationProfile,
    Insurance,
    Licence,
    LicenceAggregate,
    LicenceScope,
    LicenceVersion,
    ManagementClass,
    RoadTransportLicence,
    Site,
    Vehicle,
    Verification,
)

M = TypeVar("M", bound=models.Model)
PLATE_RE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")
ROLE_FIELDS = ("is_generator", "is_carrier", "is_operator", "is_collector")
LICENCE_METHODS = {"collection": "收集", "storage": "贮存", "utilization": "利用", "disposal": "处置"}
# GB 6944 / JT/T 617: classes 1–9, optionally with a division (2.1, 4.1, 6.1 …).
DANGEROUS_GOODS_CLASS_RE = re.compile(r"^[1-9](\.[1-6])?$")
# Roles an unverified (self-registered) enterprise may not act in (issue: verification queue).
VERIFIED_ROLES = ("is_collector", "is_carrier", "is_operator")
# Out-of-province units (辽宁、黑龙江、内蒙古) are registered only as the receivers and carriers of
# Jilin's cross-province transfers: what they generate is their own province's business.
OUT_OF_PROVINCE_ROLES = ("is_operator", "is_collector", "is_carrier")
OUT_OF_PROVINCE_SITE_ROLES = ("operator", "collector", "carrier_base")
# Rough bounding boxes (°N, °E) of the neighbouring provinces, to catch typing errors like Jilin's.
PROVINCE_BOUNDS = {
    "210000": (Decimal("38.5"), Decimal("43.6"), Decimal("118.5"), Decimal("125.9")),
    "230000": (Decimal("43.3"), Decimal("53.6"), Decimal("121.1"), Decimal("135.1")),
    "150000": (Decimal("37.3"), Decimal("53.4"), Decimal("97.1"), Decimal("126.1")),
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _region(key: str, *, field: str = "region", regions: Mapping[str, Region] | None = None) -> Region:
    # ``regions`` (key → Region, e.g. all regions loaded once) spares bulk callers a query per record.
    region = regions.get(key) if regions is not None else Region.objects.filter(key=key).first()
    if region is None:
        raise ApplicationError(f"行政区域 {key} 不存在", code="region_not_found", field=field)
    if not region.in_home_province:
        # Only the neighbours' province and prefecture levels are loaded: a unit names its prefecture.
        if region.level != Region.Level.PREFECTURE:
            raise ApplicationError(
                f"外省单位所在区域应为地级行政区（市、盟、地区），{region.name} 是{region.get_level_display()}",
                code="region_level",
                field=field,
            )
        return region
    if region.level in (Region.Level.PROVINCE, Region.Level.PREFECTURE, Region.Level.SPECIAL):
        raise ApplicationError(
            f"单位所在区域应为县级单位、功能区或管委会辖区，{region.name} 是{region.get_level_display()}",
            code="region_level",
            field=field,
        )
    return region


def _text(value: str, *, field: str, label: str, max_length: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ApplicationError(f"{label}不能为空", code=f"{field}_required", field=field)
    if len(text) > max_length:
        raise ApplicationError(f"{label}不能超过 {max_length} 个字符", code=f"{field}_too_long", field=field)
    return text


def _positive(value: Decimal | None, *, field: str, label: str, allow_zero: bool = False) -> Decimal:
    if value is None:
        raise ApplicationError(f"{label}不能为空", code=f"{field}_required", field=field)
    if value < 0 or (value == 0 and not allow_zero):
        raise ApplicationError(f"{label}必须大于 0", code=f"{field}_invalid", field=field)
    return value


def _industry_code(value: str) -> None:
    """GB/T 4754 industry codes: an optional section letter and 2–4 digits (e.g. 3610, C36)."""
    if value and not re.fullmatch(r"[A-Z]?\d{2,4}", value):
        raise ApplicationError(
            f"行业代码 {value!r} 应为 GB/T 4754 的 2–4 位数字", code="industry_code", field="industry_code"
        )


def _fits(model: type[models.Model], values: Mapping[str, Any]) -> None:
    """Refuse values the column cannot hold (length, digits) with a message naming the field,
    rather than letting the database raise (PostgreSQL would, SQLite would silently keep them)."""
    for name, value in values.items():
        try:
            field = model._meta.get_field(name)
        except Exception:
            continue
        label = str(getattr(field, "verbose_name", name))
        max_length = getattr(field, "max_length", None)
        if isinstance(value, str) and max_length and len(value) > max_length:
            raise ApplicationError(f"{label}不能超过 {max_length} 个字符", code=f"{name}_too_long", field=name)
        if isinstance(value, Decimal) and isinstance(field, models.DecimalField):
            limit = Decimal(10) ** (field.max_digits - field.decimal_places)
            if abs(value) >= limit:
                raise ApplicationError(f"{label}数值过大（应小于 {limit}）", code=f"{name}_too_large", field=name)
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and -exponent > field.decimal_places:
                raise ApplicationError(
                    f"{label}最多保留 {field.decimal_places} 位小数", code=f"{name}_precision", field=name
                )


def _create(model: type[M], **values: Any) -> M:
    _fits(model, values)
    return model.objects.create(**values)  # type: ignore[attr-defined]


def _period(valid_from: dt.date, valid_to: dt.date, *, field: str = "valid_to") -> None:
    if valid_to < valid_from:
        raise ApplicationError("有效期截止日期不能早于起始日期", code="period_invalid", field=field)


def _coords(latitude: Decimal | None, longitude: Decimal | None, region: Region | None = None) -> None:
    # Jilin spans roughly 40.8–46.3 °N, 121.6–131.3 °E; a point far outside is a typing error.
    if latitude is None and longitude is None:
        return
    if latitude is None or longitude is None:
        raise ApplicationError("经纬度应同时填写", code="coordinates_incomplete", field="latitude")
    if region is not None and not region.in_home_province:
        lat_min, lat_max, lng_min, lng_max = PROVINCE_BOUNDS.get(
            region.province_code, (Decimal("3.8"), Decimal("53.6"), Decimal("73.5"), Decimal("135.1"))
        )
        province = region.parent.name if region.parent else region.province_code
        if not lat_min <= latitude <= lat_max:
            raise ApplicationError(
                f"纬度 {latitude} 不在{province}范围内（{lat_min}–{lat_max}）", code="latitude_range", field="latitude"
            )
        if not lng_min <= longitude <= lng_max:
            raise ApplicationError(
                f"经度 {longitude} 不在{province}范围内（{lng_min}–{lng_max}）",
                code="longitude_range",
                field="longitude",
            )
        return
    if not (Decimal("40.5") <= latitude <= Decimal("46.5")):
        raise ApplicationError(
            f"纬度 {latitude} 不在吉林省范围内（40.5–46.5）", code="latitude_range", field="latitude"
        )
    if not (Decimal("121.3") <= longitude <= Decimal("131.5")):
        raise ApplicationError(
            f"经度 {longitude} 不在吉林省范围内（121.3–131.5）", code="longitude_range", field="longitude"
        )


def _snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, models.Model):
            value = value.pk
        elif isinstance(value, dt.date | Decimal):
            value = str(value)
        out[name] = value
    return out


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _require_verified(enterprise: Enterprise, *, as_role: str, field: str) -> None:
    if enterprise.verification != Verification.VERIFIED:
        raise ApplicationError(
            f"{enterprise.name} 尚未通过生态环境部门核验，不能以{as_role}身份办理", code="not_verified", field=field
        )


def province_regulator(actor: Actor) -> bool:
    """A Jilin province-level regulator account (the one that registers out-of-province units)."""
    return actor.is_regulator and actor.region_level == Region.Level.PROVINCE and HOME_PROVINCE in actor.region_codes


def _require_over(actor: Actor, region: Region, *, action: str) -> None:
    """``require_regulator_over`` for Jilin's regions. A region of another province is in no Jilin
    regulator's jurisdiction: there only the system or a writing Jilin province-level regulator acts
    (recording the receivers and carriers of cross-province transfers, 转移办法 第二十一条起)."""
    if region.in_home_province:
        require_regulator_over(actor, region.key, action=action)
        return
    if actor.kind == "system":
        return
    if actor.kind != "regulator":
        raise PermissionDenied(f"外省单位由省级生态环境部门登记和维护，当前身份不能{action}", code="out_of_province")
    if actor.read_only:
        raise PermissionDenied(f"只读账户（{actor.label}）不能{action}")
    if not province_regulator(actor):
        raise PermissionDenied(
            f"{region.name}不在本省辖区：外省单位只能由省级生态环境部门{action}", code="out_of_province"
        )


def _enterprise_writer(actor: Actor, enterprise: Enterprise, *, action: str) -> None:
    """The enterprise's own admin/member, a writing regulator over its region, or the system."""
    if actor.kind == "regulator":
        _require_over(actor, enterprise.region, action=action)
    else:
        require_enterprise_member(actor, enterprise.id, action=action)


# --------------------------------------------------------------------------------------------
# enterprises
# --------------------------------------------------------------------------------------------

ENTERPRISE_FIELDS = (
    "name",
    "legal_representative",
    "address",
    "industry_code",
    "industry_name",
    "contact_name",
    "contact_phone",
    "contact_email",
    "latitude",
    "longitude",
    *ROLE_FIELDS,
)


@dataclass(frozen=True)
class EnterpriseClean:
    credit_code: str
    name: str
    region: Region


def enterprise_clean(
    *,
    actor: Actor,
    credit_code: str,
    name: str,
    region_key: str,
    roles: Iterable[str] = ("is_generator",),
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    industry_code: str = "",
    regions: Mapping[str, Region] | None = None,
) -> EnterpriseClean:
    """The checks of ``enterprise_create`` after the actor's kind and before the duplicate check,
    in its order (the bulk importer runs them on every record before it writes anything)."""
    code = validate_credit_code(credit_code)
    name = _text(name, field="name", label="单位名称", max_length=200)
    bad_roles = [r for r in roles if r not in ROLE_FIELDS]
    if bad_roles:
        raise ApplicationError(f"未知的单位角色：{', '.join(bad_roles)}", code="role_invalid", field="roles")
    region = _region(region_key, regions=regions)
    if not region.in_home_province:
        if actor.kind == "enterprise":
            raise PermissionDenied(
                "外省单位不能在本平台自行注册：跨省转移的外省接受人、承运人由吉林省生态环境厅登记",
                code="out_of_province",
                field="region",
            )
        _require_over(actor, region, action="登记外省单位")
        others = [r for r in roles if r not in OUT_OF_PROVINCE_ROLES]
        if others:
            raise ApplicationError(
                "外省单位只能登记为接受人（经营单位、收集单位）或承运人，不能登记为产废单位：其产生的危险废物由所在省份监管",
                code="out_of_province_role",
                field="roles",
            )
    elif actor.kind == "regulator":
        require_regulator_over(actor, region.key, action="在该区域登记单位")
    _coords(latitude, longitude, region)
    _industry_code(industry_code)
    return EnterpriseClean(credit_code=code, name=name, region=region)


@transaction.atomic
def enterprise_create(
    *,
    actor: Actor,
    credit_code: str,
    name: str,
    region_key: str,
    industry_code: str = "",
    industry_name: str = "",
    legal_representative: str = "",
    address: str = "",
    roles: tuple[str, ...] = ("is_generator",),
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    contact_phone: str = "",
    contact_name: str = "",
    contact_email: str = "",
    verification: str = Verification.VERIFIED,
    self_registration: bool = False,
) -> Enterprise:
    """Register a unit. Regulators and the system register verified units; a signed-in user
    registering its own unit (``registration.enterprise_self_register``) gets a pending one that a
    regulator of the supervising region must verify."""
    if self_registration:  # only registration.enterprise_self_register passes this
        verification = Verification.PENDING
    else:
        require_kind(actor, "system", "regulator", action="登记单位")
    cleaned = enterprise_clean(
        actor=actor,
        credit_code=credit_code,
        name=name,
        region_key=region_key,
        roles=roles,
        latitude=latitude,
        longitude=longitude,
        industry_code=industry_code,
    )
    code, name, region = cleaned.credit_code, cleaned.name, cleaned.region
    duplicate = ApplicationError(f"统一社会信用代码 {code} 已登记", code="duplicate_enterprise", field="credit_code")
    if Enterprise.objects.filter(credit_code=code).exists():
        raise duplicate
    try:
        with transaction.atomic():
            enterprise = _create(
                Enterprise,
                credit_code=code,
                name=name,
                region=region,
                industry_code=industry_code,
                industry_name=industry_name,
                legal_representative=legal_representative.strip(),
                address=address.strip(),
                latitude=latitude,
                longitude=longitude,
                contact_phone=contact_phone.strip(),
                contact_name=contact_name.strip(),
                contact_email=contact_email.strip(),
                verification=verification,
                **{r: (r in roles) for r in ROLE_FIELDS},
            )
    except IntegrityError:  # a concurrent registration won the race
        raise duplicate from None
    event_record(
        subject=enterprise,
        actor=actor,
        kind="registry.enterprise_created",
        after={
            "credit_code": code,
            "name": name,
            "region": region.key,
            "roles": list(roles),
            "verification": verification,
        },
    )
    return enterprise


@transaction.atomic
def enterprise_update(*, actor: Actor, enterprise_id: int, reason: str = "", **changes: Any) -> Enterprise:
    """Change an enterprise's descriptive fields (not its credit code or region)."""
    enterprise = Enterprise.objects.select_for_update().select_related("region").filter(id=enterprise_id).first()
    if enterprise is None:
        raise NotFound("单位不存在", field="enterprise")
    _enterprise_writer(actor, enterprise, action="修改单位信息")
    unknown = [k for k in changes if k not in ENTERPRISE_FIELDS]
    if unknown:
        raise ApplicationError(f"不能修改字段：{', '.join(unknown)}", code="field_not_editable", field=unknown[0])
    if "name" in changes:
        changes["name"] = _text(changes["name"], field="name", label="单位名称", max_length=200)
    _industry_code(changes.get("industry_code") or "")
    role_changes = [r for r in VERIFIED_ROLES if changes.get(r) and not getattr(enterprise, r)]
    if role_changes and actor.kind == "enterprise":
        # Becoming a carrier, collector or operator needs the regulator's verification again.
        changes["verification"] = Verification.PENDING
    _coords(
        changes.get("latitude", enterprise.latitude), changes.get("longitude", enterprise.longitude), enterprise.region
    )
    _fits(Enterprise, changes)
    fields = [*changes.keys()]
    before = _snapshot(enterprise, fields)
    for key, value in changes.items():
        setattr(enterprise, key, value)
    enterprise.save(update_fields=fields)
    old, new = _diff(before, _snapshot(enterprise, fields))
    if new:
        event_record(
            subject=enterprise, actor=actor, kind="registry.enterprise_updated", before=old, after=new, reason=reason
        )
    return enterprise


@transaction.atomic
def enterprise_verify(*, actor: Actor, enterprise_id: int, approve: bool, note: str = "") -> Enterprise:
    """A regulator of the supervising region verifies (or rejects) a self-registered unit."""
    enterprise = Enterprise.objects.select_for_update().select_related("region").filter(id=enterprise_id).first()
    if enterprise is None:
        raise NotFound("单位不存在", field="enterprise")
    _require_over(actor, enterprise.region, action="核验单位")
    if enterprise.verification != Verification.PENDING:
        raise ApplicationError(
            f"{enterprise.name} 当前状态为“{enterprise.get_verification_display()}”，不在待核验队列中",
            code="not_pending",
            field="enterprise",
        )
    if not approve and not note.strip():
        raise ApplicationError("不予通过时必须填写核验意见", code="note_required", field="note")
    before = {"verification": enterprise.verification}
    enterprise.verification = Verification.VERIFIED if approve else Verification.REJECTED
    enterprise.verified_at = timezone.now()
    enterprise.verified_by_id = actor.user_id
    enterprise.verification_note = note.strip()[:500]
    enterprise.save(update_fields=["verification", "verified_at", "verified_by", "verification_note"])
    event_record(
        subject=enterprise,
        actor=actor,
        kind="registry.enterprise_verified" if approve else "registry.enterprise_rejected",
        before=before,
        after={"verification": enterprise.verification},
        reason=note,
    )
    return enterprise


# --------------------------------------------------------------------------------------------
# sites, facilities, management class
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteClean:
    name: str
    address: str
    region: Region
    roles: list[str]  # sorted, without repeats


def site_clean(
    *,
    name: str,
    address: str,
    region_key: str,
    roles: list[str],
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    eia_annual_tonnes: Decimal | None = None,
    permit_annual_tonnes: Decimal | None = None,
    regions: Mapping[str, Region] | None = None,
) -> SiteClean:
    """The checks of ``site_create`` between the actor check and the duplicate check, in its order."""
    name = _text(name, field="name", label="场所名称", max_length=200)
    address = _text(address, field="address", label="地址", max_length=300)
    region = _region(region_key, regions=regions)
    bad = [r for r in roles if r not in Site.Role.values]
    if not roles or bad:
        raise ApplicationError(
            f"场所角色应为 {'、'.join(Site.Role.labels)} 中的一种或多种", code="roles_invalid", field="roles"
        )
    _coords(latitude, longitude, region)
    for value, field, label in (
        (eia_annual_tonnes, "eia_annual_tonnes", "环评核算量"),
        (permit_annual_tonnes, "permit_annual_tonnes", "排污许可核算量"),
    ):
        if value is not None:
            _positive(value, field=field, label=label, allow_zero=True)
    return SiteClean(name=name, address=address, region=region, roles=sorted(set(roles)))


def _site_province(enterprise: Enterprise, region: Region, roles: list[str]) -> None:
    """A Jilin unit's sites lie in Jilin; an out-of-province unit's in its own province, and only as
    a place that receives (利用处置、收集) or parks vehicles — never a generating site here."""
    if region.province_code != enterprise.region.province_code:
        where = "吉林省" if enterprise.region.in_home_province else (enterprise.region.parent or enterprise.region).name
        raise ApplicationError(
            f"{enterprise.name} 的场所应位于{where}，{region.name}不在该省", code="site_province", field="region"
        )
    if not region.in_home_province:
        others = [r for r in roles if r not in OUT_OF_PROVINCE_SITE_ROLES]
        if others:
            raise ApplicationError(
                "外省单位的场所只能是利用处置、收集或运输车辆停放场所", code="out_of_province_role", field="roles"
            )


@transaction.atomic
def site_create(
    *,
    actor: Actor,
    enterprise: Enterprise,
    name: str,
    address: str,
    region_key: str,
    roles: list[str],
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    industry_code: str = "",
    industry_name: str = "",
    operation_started_on: dt.date | None = None,
    eia_annual_tonnes: Decimal | None = None,
    permit_annual_tonnes: Decimal | None = None,
) -> Site:
    _enterprise_writer(actor, enterprise, action="登记生产经营场所")
    _industry_code(industry_code)
    cleaned = site_clean(
        name=name,
        address=address,
        region_key=region_key,
        roles=roles,
        latitude=latitude,
        longitude=longitude,
        eia_annual_tonnes=eia_annual_tonnes,
        permit_annual_tonnes=permit_annual_tonnes,
    )
    name, address, region = cleaned.name, cleaned.address, cleaned.region
    _site_province(enterprise, region, cleaned.roles)
    if Site.objects.filter(enterprise=enterprise, name=name).exists():
        raise ApplicationError(f"本单位已有名为“{name}”的场所", code="duplicate_site", field="name")
    site = _create(
        Site,
        enterprise=enterprise,
        name=name,
        address=address,
        region=region,
        roles=sorted(set(roles)),
        latitude=latitude,
        longitude=longitude,
        industry_code=industry_code,
        industry_name=industry_name,
        operation_started_on=operation_started_on,
        eia_annual_tonnes=eia_annual_tonnes,
        permit_annual_tonnes=permit_annual_tonnes,
    )
    event_record(
        subject=site,
        actor=actor,
        kind="registry.site_created",
        organisation=enterprise,
        after={"name": name, "region": region.key, "roles": site.roles},
    )
    site_class_refresh(actor=actor, site_id=site.id)
    site.refresh_from_db()
    return site


def site_status_clean(
    *,
    current: str,
    status: str,
    suspended_from: dt.date | None = None,
    suspended_until: dt.date | None = None,
    closed_on: dt.date | None = None,
) -> None:
    """The checks of ``site_set_status`` after the actor check, in its order (``current`` is the
    site's status now)."""
    if status not in Site.Status.values:
        raise ApplicationError(f"场所状态 {status!r} 无效", code="status_invalid", field="status")
    if current == Site.Status.CLOSED:
        raise ApplicationError("场所已关闭，不能再变更状态", code="site_closed", field="status")
    if status == Site.Status.SUSPENDED:
        if suspended_from is None:
            raise ApplicationError("停产申报须填写停产起始日期", code="suspended_from_required", field="suspended_from")
        if suspended_until is not None and suspended_until < suspended_from:
            raise ApplicationError("停产截止日期不能早于起始日期", code="period_invalid", field="suspended_until")
    if status == Site.Status.CLOSED and closed_on is None:
        raise ApplicationError("关闭场所须填写关闭日期", code="closed_on_required", field="closed_on")


@transaction.atomic
def site_set_status(
    *,
    actor: Actor,
    site_id: int,
    status: str,
    suspended_from: dt.date | None = None,
    suspended_until: dt.date | None = None,
    closed_on: dt.date | None = None,
    reason: str = "",
) -> Site:
    """Active, suspended (停产申报: from/until dates) or closed."""
    site = Site.objects.select_for_update().select_related("enterprise__region").filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site")
    _enterprise_writer(actor, site.enterprise, action="变更场所状态")
    site_status_clean(
        current=site.status,
        status=status,
        suspended_from=suspended_from,
        suspended_until=suspended_until,
        closed_on=closed_on,
    )
    fields = ["status", "suspended_from", "suspended_until", "closed_on"]
    before = _snapshot(site, fields)
    site.status = status
    site.suspended_from = suspended_from if status == Site.Status.SUSPENDED else None
    site.suspended_until = suspended_until if status == Site.Status.SUSPENDED else None
    site.closed_on = closed_on if status == Site.Status.CLOSED else None
    site.save(update_fields=fields)
    old, new = _diff(before, _snapshot(site, fields))
    event_record(
        subject=site,
        actor=actor,
        kind="registry.site_status_changed",
        before=old,
        after=new,
        reason=reason,
        organisation=site.enterprise,
    )
    return site


def site_facts(site: Site, *, on: dt.date) -> rules.SiteFacts:
    yearly: dict[int, Decimal] = {}
    for year, tonnes in GenerationProfile.objects.filter(site=site).values_list("year", "annual_tonnes"):
        yearly[year] = yearly.get(year, Decimal(0)) + tonnes
    has_treatment = site.facilities.filter(
        kind__in=[Facility.Kind.UTILIZATION, Facility.Kind.DISPOSAL], in_service=True
    ).exists()
    holds_licence = Licence.objects.filter(
        holder_id=site.enterprise_id, status=Licence.Status.VALID, valid_from__lte=on, valid_to__gte=on
    ).exists()
    return rules.SiteFacts(
        yearly_tonnes=yearly,
        operation_started_on=site.operation_started_on,
        eia_annual_tonnes=site.eia_annual_tonnes,
        permit_annual_tonnes=site.permit_annual_tonnes,
        has_own_treatment=has_treatment,
        holds_licence=holds_licence and Site.Role.OPERATOR in site.roles,
    )


@transaction.atomic
def site_class_refresh(*, actor: Actor, site_id: int, today: dt.date | None = None) -> Site:
    """Recompute HJ 1259 4.2 for a site; an override by a regulator stays in force."""
    site = Site.objects.select_for_update().filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site")
    result = rules.management_class(
        site_facts(site, on=today or timezone.localdate()), today=today or timezone.localdate()
    )
    effective = site.management_class_override or result.management_class
    if (site.management_class_computed, site.management_class, site.management_class_basis) == (
        result.management_class,
        effective,
        result.basis,
    ):
        return site
    before = {"management_class": site.management_class, "computed": site.management_class_computed}
    site.management_class_computed = result.management_class
    site.management_class = effective
    site.management_class_basis = result.basis[:300]
    site.save(update_fields=["management_class_computed", "management_class", "management_class_basis"])
    event_record(
        subject=site,
        actor=actor,
        kind="registry.site_class_computed",
        organisation=site.enterprise_id,
        before=before,
        after={"management_class": effective, "computed": result.management_class, "basis": result.basis},
    )
    return site


@transaction.atomic
def site_class_override(*, actor: Actor, site_id: int, management_class: str | None, reason: str) -> Site:
    """HJ 1259 4.2.2: a prefecture-level or higher EPB may set a unit's class; audited, with a reason.
    ``management_class=None`` withdraws the override."""
    site = Site.objects.select_for_update().select_related("region").filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site")
    _require_over(actor, site.region, action="调整管理类别")
    if actor.kind == "regulator" and actor.region_level not in ("province", "prefecture", "special"):
        raise PermissionDenied("只有设区的市级以上生态环境部门可以调整管理类别（HJ 1259 4.2.2）")
    if management_class is not None and management_class not in ManagementClass.values:
        raise ApplicationError(f"管理类别 {management_class!r} 无效", code="class_invalid", field="management_class")
    reason = _text(reason, field="reason", label="调整理由", max_length=500)
    before = {"management_class": site.management_class, "override": site.management_class_override}
    site.management_class_override = management_class or ""
    site.management_class_override_reason = reason if management_class else ""
    site.management_class = management_class or site.management_class_computed
    site.save(update_fields=["management_class_override", "management_class_override_reason", "management_class"])
    event_record(
        subject=site,
        actor=actor,
        kind="registry.site_class_overridden",
        organisation=site.enterprise_id,
        before=before,
        after={"management_class": site.management_class, "override": management_class or ""},
        reason=reason,
    )
    return site


def facility_clean(
    *,
    kind: str,
    name: str,
    design_capacity_tonnes: Decimal | None = None,
    storage_capacity_tonnes: Decimal | None = None,
) -> str:
    """The checks of ``facility_create`` after the actor check, in its order; returns the name."""
    if kind not in Facility.Kind.values:
        raise ApplicationError(f"设施类型 {kind!r} 无效", code="kind_invalid", field="kind")
    name = _text(name, field="name", label="设施名称", max_length=200)
    if kind == Facility.Kind.STORAGE:
        _positive(storage_capacity_tonnes, field="storage_capacity_tonnes", label="贮存能力")
    if kind in (Facility.Kind.UTILIZATION, Facility.Kind.DISPOSAL):
        _positive(design_capacity_tonnes, field="design_capacity_tonnes", label="设计能力")
    return name


@transaction.atomic
def facility_create(
    *,
    actor: Actor,
    site: Site,
    kind: str,
    name: str,
    design_capacity_tonnes: Decimal | None = None,
    storage_capacity_tonnes: Decimal | None = None,
) -> Facility:
    """Facility code in HJ 608 style: the enterprise's credit code + 3-digit sequence + type letter."""
    _enterprise_writer(actor, site.enterprise, action="登记设施")
    name = facility_clean(
        kind=kind,
        name=name,
        design_capacity_tonnes=design_capacity_tonnes,
        storage_capacity_tonnes=storage_capacity_tonnes,
    )
    enterprise = Enterprise.objects.select_for_update().get(id=site.enterprise_id)  # serialise numbering
    seq = Facility.objects.filter(site__enterprise=enterprise).count() + 1
    if seq > 999:
        raise ApplicationError("设施编号已用尽（最多 999 个）", code="facility_seq_exhausted", field="kind")
    code = f"{enterprise.credit_code}{seq:03d}{Facility.KIND_LETTERS[kind]}"
    facility = _create(
        Facility,
        site=site,
        code=code,
        kind=kind,
        name=name,
        design_capacity_tonnes=design_capacity_tonnes,
        storage_capacity_tonnes=storage_capacity_tonnes,
    )
    event_record(
        subject=facility,
        actor=actor,
        kind="registry.facility_created",
        organisation=enterprise,
        after={"code": code, "kind": kind, "name": name, "site": site.id},
    )
    if kind in (Facility.Kind.UTILIZATION, Facility.Kind.DISPOSAL):
        site_class_refresh(actor=actor, site_id=site.id)
    return facility


@transaction.atomic
def generation_profile_set(
    *,
    actor: Actor,
    enterprise: Enterprise,
    year: int,
    waste_code: str,
    annual_tonnes: Decimal,
    site: Site | None = None,
) -> GenerationProfile:
    require_kind(actor, "system", "regulator", "enterprise", action="填报产废情况")
    if actor.kind == "enterprise":
        require_enterprise_member(actor, enterprise.id, action="填报产废情况")
    if not enterprise.is_generator:
        raise ApplicationError(f"{enterprise.name} 不是产废单位", code="not_generator", field="enterprise")
    if site is not None and site.enterprise_id != enterprise.id:
        raise ApplicationError("场所不属于该单位", code="site_mismatch", field="site")
    if not 2000 <= year <= timezone.localdate().year:
        raise ApplicationError(f"年度 {year} 超出范围", code="year_invalid", field="year")
    validate_waste_code(waste_code, on=dt.date(year, 12, 31))
    if annual_tonnes < 0:
        raise ApplicationError("年产生量不能为负数", code="quantity_negative", field="annual_tonnes")
    profile, _ = GenerationProfile.objects.update_or_create(
        enterprise=enterprise,
        year=year,
        waste_code=waste_code,
        defaults={"annual_tonnes": annual_tonnes, "site": site},
    )
    event_record(
        subject=profile,
        actor=actor,
        kind="registry.generation_profile_set",
        organisation=enterprise,
        after={
            "year": year,
            "waste_code": waste_code,
            "annual_tonnes": str(annual_tonnes),
            "site": site.id if site else None,
        },
    )
    return profile


# --------------------------------------------------------------------------------------------
# licences
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeIn:
    """One covered category (``HW08``) or code (``900-214-08``) with its annual scale; codes
    sharing a facility scale name the same ``aggregate``."""

    item: str
    annual_tonnes: Decimal
    aggregate: str = ""


def _check_scopes(
    kind: str, scopes: list[ScopeIn], aggregates: dict[str, Decimal], on: dt.date
) -> list[tuple[str, str, ScopeIn]]:
    if not scopes:
        raise ApplicationError("许可证至少应核准一个废物类别或代码", code="scopes_required", field="scopes")
    checked: list[tuple[str, str, ScopeIn]] = []
    seen: set[str] = set()
    for i, scope in enumerate(scopes):
        field = f"scopes[{i}]"
        item = (scope.item or "").strip().upper()
        if item.startswith("HW"):
            category, code = validate_category(item, field=field), ""
        else:
            valid = validate_waste_code(item, on=on, field=field)
            category, code = valid.category, valid.code
        if kind == Licence.Kind.COLLECTION and code not in rules.COLLECTION_LICENCE_CODES:
            raise ApplicationError(
                "收集经营许可证只能核准机动车维修活动中产生的废矿物油（900-214-08）和居民日常生活中产生的"
                f"废镉镍电池（900-044-49），不能核准 {item}（许可办法 第三条）",
                code="collection_scope",
                field=field,
            )
        key = code or category
        if key in seen:
            raise ApplicationError(f"{key} 重复核准", code="duplicate_scope", field=field)
        seen.add(key)
        _positive(scope.annual_tonnes, field=field, label=f"{key} 的核准规模")
        if scope.aggregate and scope.aggregate not in aggregates:
            raise ApplicationError(f"共用设施“{scope.aggregate}”未定义规模", code="aggregate_unknown", field=field)
        checked.append((category, code, scope))
    for name, tonnes in aggregates.items():
        _positive(tonnes, field="aggregates", label=f"共用设施“{name}”的规模")
    return checked


def _tonnes(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.001")))


def _licence_snapshot(licence: Licence) -> dict[str, Any]:
    return {
        "number": licence.number,
        "kind": licence.kind,
        "issuing_level": licence.issuing_level,
        "issuing_authority": licence.issuing_authority,
        "methods": licence.methods,
        "annual_capacity_tonnes": _tonnes(licence.annual_capacity_tonnes),
        "valid_from": str(licence.valid_from),
        "valid_to": str(licence.valid_to),
        "status": licence.status,
        "scopes": [
            {
                "category": s.category,
                "waste_code": s.waste_code,
                "annual_tonnes": _tonnes(s.annual_tonnes),
                "aggregate": s.aggregate.name if s.aggregate else "",
            }
            for s in licence.scopes.select_related("aggregate").order_by("category", "waste_code")
        ],
        "aggregates": {a.name: _tonnes(a.annual_tonnes) for a in licence.aggregates.all()},
    }


@dataclass(frozen=True)
class LicenceClean:
    number: str
    checked: list[tuple[str, str, ScopeIn]]  # (category, code, scope) per covered item
    aggregates: dict[str, Decimal]


def licence_clean(
    *,
    holder: Enterprise,
    number: str,
    kind: str,
    methods: list[str],
    annual_capacity_tonnes: Decimal,
    valid_from: dt.date,
    scopes: list[ScopeIn] | None = None,
    categories: list[str] | None = None,
    aggregates: dict[str, Decimal] | None = None,
) -> LicenceClean:
    """The checks of ``licence_create`` between the actor checks and the duplicate check, in its order."""
    number = _text(number, field="number", label="许可证编号", max_length=40)
    if kind not in Licence.Kind.values:
        raise ApplicationError(f"许可证类别 {kind!r} 无效", code="licence_kind", field="kind")
    if not (holder.is_operator or holder.is_collector):
        raise ApplicationError(
            f"{holder.name} 不是经营单位或收集单位，不能持有经营许可证", code="not_operator", field="holder"
        )
    _require_verified(holder, as_role="经营单位", field="holder")
    bad_methods = [m for m in methods if m not in LICENCE_METHODS]
    if not methods or bad_methods:
        raise ApplicationError(
            f"经营方式应为 {'、'.join(LICENCE_METHODS.values())} 中的一种或多种",
            code="methods_invalid",
            field="methods",
        )
    _positive(annual_capacity_tonnes, field="annual_capacity_tonnes", label="核准经营规模")
    if scopes is None:
        if categories is None:
            raise ApplicationError("许可证至少应核准一个废物类别或代码", code="scopes_required", field="scopes")
        scopes = [ScopeIn(c, annual_capacity_tonnes) for c in categories]
    aggregates = aggregates or {}
    checked = _check_scopes(kind, scopes, aggregates, valid_from)
    return LicenceClean(number=number, checked=checked, aggregates=aggregates)


@transaction.atomic
def licence_create(
    *,
    actor: Actor,
    holder: Enterprise,
    number: str,
    kind: str,
    methods: list[str],
    annual_capacity_tonnes: Decimal,
    valid_from: dt.date,
    scopes: list[ScopeIn] | None = None,
    categories: list[str] | None = None,
    aggregates: dict[str, Decimal] | None = None,
    facility_addresses: str = "",
    issuing_authority: str = "",
) -> Licence:
    """Issue a 危险废物经营许可证 (许可办法): 综合 5 years, 收集 3 years; a 收集 licence covers only
    900-214-08 and 900-044-49; the issuing level follows 第七条. ``categories`` is shorthand for
    category scopes sharing the total scale.

    An out-of-province holder's licence is issued by its own province: Jilin records it (the system
    or a Jilin province-level regulator), ``issuing_authority`` naming the issuer, so the manifest's
    receiver-licence guard can check it; Jilin's 第七条 levels do not limit who records it."""
    require_kind(actor, "system", "regulator", action="登记经营许可证")
    out_of_province = not holder.region.in_home_province
    authority = _text(
        issuing_authority, field="issuing_authority", label="发证机关", max_length=100, required=out_of_province
    )
    if out_of_province:
        _require_over(actor, holder.region, action="登记外省核发的经营许可证")
    elif actor.kind == "regulator":
        require_regulator_over(actor, holder.region.key, action="核发经营许可证")
    cleaned = licence_clean(
        holder=holder,
        number=number,
        kind=kind,
        methods=methods,
        annual_capacity_tonnes=annual_capacity_tonnes,
        valid_from=valid_from,
        scopes=scopes,
        categories=categories,
        aggregates=aggregates,
    )
    number, checked, aggregates = cleaned.number, cleaned.checked, cleaned.aggregates
    if Licence.objects.filter(number=number).exists():
        raise ApplicationError(f"许可证编号 {number} 已登记", code="duplicate_licence", field="number")
    level = rules.issuing_level_for(kind, {c for c, _, _ in checked})
    if (
        not out_of_province
        and actor.kind == "regulator"
        and not rules.may_issue(actor_level=actor.region_level, issuing_level=level)
    ):
        raise PermissionDenied(
            f"该许可证应由{Licence.Level(level).label}生态环境部门核发（许可办法 第七条）", code="wrong_issuing_level"
        )
    licence = _create(
        Licence,
        holder=holder,
        number=number,
        kind=kind,
        issuing_level=level,
        issuing_authority=authority,
        methods=sorted(set(methods)),
        annual_capacity_tonnes=annual_capacity_tonnes,
        valid_from=valid_from,
        valid_to=rules.licence_valid_to(kind, valid_from),
        facility_addresses=facility_addresses.strip(),
    )
    _write_scopes(licence, checked, aggregates)
    snapshot = _licence_snapshot(licence)
    LicenceVersion.objects.create(licence=licence, version=1, snapshot=snapshot, reason="核发")
    event_record(subject=licence, actor=actor, kind="registry.licence_created", organisation=holder, after=snapshot)
    _refresh_holder_sites(actor, holder.id)
    return licence


def _write_scopes(licence: Licence, checked: list[tuple[str, str, ScopeIn]], aggregates: dict[str, Decimal]) -> None:
    by_name = {
        name: LicenceAggregate.objects.create(licence=licence, name=name, annual_tonnes=t)
        for name, t in aggregates.items()
    }
    LicenceScope.objects.bulk_create(
        LicenceScope(
            licence=licence,
            category=category,
            waste_code=code,
            annual_tonnes=scope.annual_tonnes,
            aggregate=by_name.get(scope.aggregate),
        )
        for category, code, scope in checked
    )


def _refresh_holder_sites(actor: Actor, holder_id: int) -> None:
    """A valid licence makes an operator site 重点 (HJ 1259 4.2.1): recompute the holder's sites."""
    for site_id in Site.objects.filter(enterprise_id=holder_id).values_list("id", flat=True):
        site_class_refresh(actor=actor, site_id=site_id)


def _require_issuer(actor: Actor, licence: Licence) -> None:
    if not rules.may_issue(actor_level=actor.region_level, issuing_level=licence.issuing_level):
        raise PermissionDenied(
            f"该许可证由{licence.get_issuing_level_display()}生态环境部门核发，只有发证机关可以变更（许可办法 第七条）",
            code="wrong_issuing_level",
        )


@transaction.atomic
def licence_change(
    *,
    actor: Actor,
    licence_id: int,
    reason: str,
    annual_capacity_tonnes: Decimal | None = None,
    methods: list[str] | None = None,
    scopes: list[ScopeIn] | None = None,
    aggregates: dict[str, Decimal] | None = None,
    facility_addresses: str | None = None,
) -> Licence:
    """A change of the licence's content: a new version, the previous kept as a snapshot."""
    licence = Licence.objects.select_for_update().select_related("holder__region").filter(id=licence_id).first()
    if licence is None:
        raise NotFound("许可证不存在", field="licence")
    require_kind(actor, "system", "regulator", action="变更经营许可证")
    if actor.kind == "regulator":
        _require_over(actor, licence.holder.region, action="变更经营许可证")
        _require_issuer(actor, licence)
    reason = _text(reason, field="reason", label="变更理由", max_length=500)
    before = _licence_snapshot(licence)
    if annual_capacity_tonnes is not None:
        licence.annual_capacity_tonnes = _positive(
            annual_capacity_tonnes, field="annual_capacity_tonnes", label="核准经营规模"
        )
    if methods is not None:
        if not methods or any(m not in LICENCE_METHODS for m in methods):
            raise ApplicationError("经营方式无效", code="methods_invalid", field="methods")
        licence.methods = sorted(set(methods))
    if facility_addresses is not None:
        licence.facility_addresses = facility_addresses.strip()
    if scopes is not None:
        checked = _check_scopes(licence.kind, scopes, aggregates or {}, licence.valid_from)
        licence.scopes.all().delete()
        licence.aggregates.all().delete()
        _write_scopes(licence, checked, aggregates or {})
    licence.version += 1
    licence.save()
    after = _licence_snapshot(licence)
    LicenceVersion.objects.create(licence=licence, version=licence.version, snapshot=after, reason=reason)
    old, new = _diff(before, after)
    event_record(
        subject=licence,
        actor=actor,
        kind="registry.licence_changed",
        organisation=licence.holder,
        before=old,
        after={**new, "version": licence.version},
        reason=reason,
    )
    return licence


@transaction.atomic
def licence_set_status(*, actor: Actor, licence_id: int, status: str, reason: str) -> Licence:
    """Suspend (暂扣), revoke (吊销) or reinstate a licence. Expiry is never stored: it follows the dates."""
    licence = Licence.objects.select_for_update().select_related("holder__region").filter(id=licence_id).first()
    if licence is None:
        raise NotFound("许可证不存在", field="licence")
    require_kind(actor, "system", "regulator", action="变更许可证状态")
    if actor.kind == "regulator":
        _require_over(actor, licence.holder.region, action="变更许可证状态")
        _require_issuer(actor, licence)
    if status not in (Licence.Status.VALID, Licence.Status.SUSPENDED, Licence.Status.REVOKED):
        raise ApplicationError(f"许可证状态 {status!r} 无效", code="status_invalid", field="status")
    if licence.status == Licence.Status.REVOKED:
        raise ApplicationError("许可证已吊销，不能恢复（许可办法 第二十九条）", code="licence_revoked", field="status")
    reason = _text(reason, field="reason", label="理由", max_length=500)
    before = {"status": licence.status}
    licence.status = status
    licence.save(update_fields=["status"])
    event_record(
        subject=licence,
        actor=actor,
        kind="registry.licence_status_changed",
        organisation=licence.holder,
        before=before,
        after={"status": status},
        reason=reason,
    )
    _refresh_holder_sites(actor, licence.holder_id)
    return licence


# --------------------------------------------------------------------------------------------
# carriers: road licence, vehicles, drivers
# --------------------------------------------------------------------------------------------


@transaction.atomic
def road_licence_create(
    *, actor: Actor, carrier: Enterprise, number: str, scope: str, valid_from: dt.date, valid_to: dt.date
) -> RoadTransportLicence:
    _enterprise_writer(actor, carrier, action="登记道路运输经营许可证")
    if not carrier.is_carrier:
        raise ApplicationError(f"{carrier.name} 不是承运人", code="not_carrier", field="carrier")
    number = _text(number, field="number", label="许可证号", max_length=40)
    scope = _text(scope, field="scope", label="经营范围", max_length=200)
    _period(valid_from, valid_to)
    if RoadTransportLicence.objects.filter(number=number).exists():
        raise ApplicationError(f"道路运输经营许可证 {number} 已登记", code="duplicate_road_licence", field="number")
    lic = _create(
        RoadTransportLicence, carrier=carrier, number=number, scope=scope, valid_from=valid_from, valid_to=valid_to
    )
    event_record(
        subject=lic,
        actor=actor,
        kind="registry.road_licence_created",
        organisation=carrier,
        after={"number": number, "valid_to": str(valid_to)},
    )
    return lic


@dataclass(frozen=True)
class VehicleClean:
    plate: str
    transport_certificate: str
    dangerous_goods_classes: list[str]


def vehicle_clean(
    *,
    carrier: Enterprise,
    plate: str,
    transport_certificate: str,
    payload_tonnes: Decimal,
    valid_until: dt.date,
    dangerous_goods_classes: list[str] | None = None,
    inspection_valid_until: dt.date | None = None,
    today: dt.date | None = None,
) -> VehicleClean:
    """The checks of ``vehicle_create`` between the actor check and the duplicate check, in its order."""
    plate = (plate or "").strip().upper()
    if not PLATE_RE.match(plate):
        raise ApplicationError(f"车牌号 {plate!r} 格式不正确（如 吉A12345）", code="plate_format", field="plate")
    if not carrier.is_carrier:
        raise ApplicationError(f"{carrier.name} 不是承运人，不能登记运输车辆", code="not_carrier", field="carrier")
    _require_verified(carrier, as_role="承运人", field="carrier")
    transport_certificate = _text(
        transport_certificate, field="transport_certificate", label="道路运输证号", max_length=30
    )
    if payload_tonnes is None or payload_tonnes <= 0:
        raise ApplicationError("核定载质量必须大于 0", code="payload_invalid", field="payload_tonnes")
    today = today or timezone.localdate()
    if valid_until < today:
        raise ApplicationError(f"道路运输证已于 {valid_until} 过期", code="vehicle_expired", field="valid_until")
    if inspection_valid_until is not None and inspection_valid_until < today:
        raise ApplicationError(
            f"车辆检验已于 {inspection_valid_until} 过期", code="inspection_expired", field="inspection_valid_until"
        )
    classes = dangerous_goods_classes or ["9"]
    bad = [c for c in classes if not DANGEROUS_GOODS_CLASS_RE.match(str(c))]
    if bad:
        raise ApplicationError(
            f"危险货物类别 {', '.join(bad)} 无效", code="dg_class_invalid", field="dangerous_goods_classes"
        )
    return VehicleClean(plate=plate, transport_certificate=transport_certificate, dangerous_goods_classes=classes)


@transaction.atomic
def vehicle_create(
    *,
    actor: Actor,
    carrier: Enterprise,
    plate: str,
    transport_certificate: str,
    payload_tonnes: Decimal,
    valid_until: dt.date,
    dangerous_goods_classes: list[str] | None = None,
    gps_terminal_id: str = "",
    inspection_valid_until: dt.date | None = None,
    today: dt.date | None = None,
) -> Vehicle:
    """Register a vehicle; it needs the regulator's 备案 (seed 十三) before it may carry waste.
    Vehicles registered by the system or a regulator are approved at once."""
    _enterprise_writer(actor, carrier, action="登记车辆")
    cleaned = vehicle_clean(
        carrier=carrier,
        plate=plate,
        transport_certificate=transport_certificate,
        payload_tonnes=payload_tonnes,
        valid_until=valid_until,
        dangerous_goods_classes=dangerous_goods_classes,
        inspection_valid_until=inspection_valid_until,
        today=today,
    )
    plate, transport_certificate, classes = (
        cleaned.plate,
        cleaned.transport_certificate,
        cleaned.dangerous_goods_classes,
    )
    duplicate = ApplicationError(f"车牌号 {plate} 已登记", code="duplicate_vehicle", field="plate")
    if Vehicle.objects.filter(plate=plate).exists():
        raise duplicate
    registration = Vehicle.Registration.PENDING if actor.kind == "enterprise" else Vehicle.Registration.APPROVED
    try:
        with transaction.atomic():
            vehicle = _create(
                Vehicle,
                carrier=carrier,
                plate=plate,
                transport_certificate=transport_certificate,
                payload_tonnes=payload_tonnes,
                valid_until=valid_until,
                dangerous_goods_classes=classes,
                gps_terminal_id=gps_terminal_id,
                inspection_valid_until=inspection_valid_until,
                registration=registration,
            )
    except IntegrityError:  # a concurrent registration of the same plate won the race
        raise duplicate from None
    event_record(
        subject=vehicle,
        actor=actor,
        kind="registry.vehicle_created",
        organisation=carrier,
        after={"plate": plate, "registration": registration},
    )
    return vehicle


@transaction.atomic
def vehicle_registration_decide(*, actor: Actor, vehicle_id: int, approve: bool, note: str = "") -> Vehicle:
    """Seed (十三): the regulator approves a carrier's vehicle registration (备案)."""
    vehicle = Vehicle.objects.select_for_update().select_related("carrier__region").filter(id=vehicle_id).first()
    if vehicle is None:
        raise NotFound("车辆不存在", field="vehicle")
    _require_over(actor, vehicle.carrier.region, action="车辆备案")
    if not approve and not note.strip():
        raise ApplicationError("不予备案时必须填写意见", code="note_required", field="note")
    before = {"registration": vehicle.registration}
    vehicle.registration = Vehicle.Registration.APPROVED if approve else Vehicle.Registration.REJECTED
    vehicle.registration_note = note.strip()[:500]
    vehicle.save(update_fields=["registration", "registration_note"])
    event_record(
        subject=vehicle,
        actor=actor,
        kind="registry.vehicle_registration_decided",
        organisation=vehicle.carrier,
        before=before,
        after={"registration": vehicle.registration},
        reason=note,
    )
    return vehicle


@dataclass(frozen=True)
class DriverClean:
    name: str
    certificate_number: str


def driver_clean(
    *,
    carrier: Enterprise,
    name: str,
    role: str,
    certificate_number: str,
    certificate_valid_until: dt.date,
    today: dt.date | None = None,
) -> DriverClean:
    """The checks of ``driver_create`` between the actor check and the duplicate check, in its order."""
    if not carrier.is_carrier:
        raise ApplicationError(f"{carrier.name} 不是承运人", code="not_carrier", field="carrier")
    name = _text(name, field="name", label="姓名", max_length=50)
    if role not in Driver.Role.values:
        raise ApplicationError(f"岗位 {role!r} 无效（驾驶员或押运员）", code="role_invalid", field="role")
    certificate_number = _text(certificate_number, field="certificate_number", label="从业资格证号", max_length=40)
    if certificate_valid_until < (today or timezone.localdate()):
        raise ApplicationError(
            f"从业资格证已于 {certificate_valid_until} 过期",
            code="certificate_expired",
            field="certificate_valid_until",
        )
    return DriverClean(name=name, certificate_number=certificate_number)


@transaction.atomic
def driver_create(
    *,
    actor: Actor,
    carrier: Enterprise,
    name: str,
    role: str,
    certificate_number: str,
    certificate_valid_until: dt.date,
    phone: str = "",
    today: dt.date | None = None,
) -> Driver:
    _enterprise_writer(actor, carrier, action="登记驾驶员和押运员")
    cleaned = driver_clean(
        carrier=carrier,
        name=name,
        role=role,
        certificate_number=certificate_number,
        certificate_valid_until=certificate_valid_until,
        today=today,
    )
    name, certificate_number = cleaned.name, cleaned.certificate_number
    if Driver.objects.filter(certificate_number=certificate_number).exists():
        raise ApplicationError(
            f"从业资格证号 {certificate_number} 已登记", code="duplicate_driver", field="certificate_number"
        )
    driver = _create(
        Driver,
        carrier=carrier,
        name=name,
        role=role,
        certificate_number=certificate_number,
        certificate_valid_until=certificate_valid_until,
        phone=phone.strip(),
    )
    event_record(
        subject=driver,
        actor=actor,
        kind="registry.driver_created",
        organisation=carrier,
        after={"name": name, "role": role, "certificate_number": certificate_number},
    )
    return driver


# --------------------------------------------------------------------------------------------
# contracts, EIA approvals, insurance, emergency plans
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractClean:
    number: str
    waste_codes: list[str]


def contract_clean(
    *,
    kind: str,
    number: str,
    party_a: Enterprise,
    party_b: Enterprise,
    waste_codes: list[str],
    planned_tonnes: Decimal,
    valid_from: dt.date,
    valid_to: dt.date,
) -> ContractClean:
    """The checks of ``contract_create`` between the actor check and the duplicate check, in its
    order. Unsaved parties (an importer's records not written yet) are the same party when they
    are the same object."""
    if kind not in Contract.Kind.values:
        raise ApplicationError(f"合同类型 {kind!r} 无效", code="kind_invalid", field="kind")
    number = _text(number, field="number", label="合同编号", max_length=60)
    if party_a is party_b or (party_a.pk is not None and party_a.pk == party_b.pk):
        raise ApplicationError("合同双方不能是同一单位", code="same_party", field="party_b")
    if kind == Contract.Kind.TRANSPORT and not party_b.is_carrier:
        raise ApplicationError(f"{party_b.name} 不是承运人", code="not_carrier", field="party_b")
    if kind == Contract.Kind.DISPOSAL and not (party_b.is_operator or party_b.is_collector):
        raise ApplicationError(f"{party_b.name} 不是经营单位或收集单位", code="not_operator", field="party_b")
    if not waste_codes:
        raise ApplicationError("合同至少应列明一个废物代码", code="codes_required", field="waste_codes")
    codes = [validate_waste_code(c, on=valid_from, field=f"waste_codes[{i}]").code for i, c in enumerate(waste_codes)]
    _positive(planned_tonnes, field="planned_tonnes", label="计划量")
    _period(valid_from, valid_to)
    return ContractClean(number=number, waste_codes=codes)


@transaction.atomic
def contract_create(
    *,
    actor: Actor,
    kind: str,
    number: str,
    party_a: Enterprise,
    party_b: Enterprise,
    waste_codes: list[str],
    planned_tonnes: Decimal,
    valid_from: dt.date,
    valid_to: dt.date,
) -> Contract:
    """Party A is the consignor (委托利用处置) or shipper (委托运输); party B the receiver or carrier."""
    _enterprise_writer(actor, party_a, action="登记合同")
    cleaned = contract_clean(
        kind=kind,
        number=number,
        party_a=party_a,
        party_b=party_b,
        waste_codes=waste_codes,
        planned_tonnes=planned_tonnes,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    number, codes = cleaned.number, cleaned.waste_codes
    if Contract.objects.filter(party_a=party_a, number=number).exists():
        raise ApplicationError(f"合同编号 {number} 已登记", code="duplicate_contract", field="number")
    contract = _create(
        Contract,
        kind=kind,
        number=number,
        party_a=party_a,
        party_b=party_b,
        waste_codes=codes,
        planned_tonnes=planned_tonnes,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    event_record(
        subject=contract,
        actor=actor,
        kind="registry.contract_created",
        organisation=party_a,
        after={
            "kind": kind,
            "number": number,
            "party_b": party_b.credit_code,
            "waste_codes": codes,
            "planned_tonnes": str(planned_tonnes),
            "valid_to": str(valid_to),
        },
    )
    return contract


@transaction.atomic
def eia_approval_create(
    *,
    actor: Actor,
    enterprise: Enterprise,
    project: str,
    approval_number: str,
    approved_on: dt.date,
    authority: str,
    expected_wastes: list[dict[str, Any]],
    site: Site | None = None,
) -> EIAApproval:
    _enterprise_writer(actor, enterprise, action="登记环评批复")
    project = _text(project, field="project", label="项目名称", max_length=200)
    approval_number = _text(approval_number, field="approval_number", label="批复文号", max_length=80)
    authority = _text(authority, field="authority", label="审批部门", max_length=100)
    if site is not None and site.enterprise_id != enterprise.id:
        raise ApplicationError("场所不属于该单位", code="site_mismatch", field="site")
    cleaned = []
    for i, row in enumerate(expected_wastes):
        field = f"expected_wastes[{i}]"
        code = validate_waste_code(str(row.get("waste_code", "")), on=approved_on, field=field).code
        try:
            tonnes = Decimal(str(row.get("annual_tonnes")))
        except ArithmeticError:
            raise ApplicationError("预计年产生量应为数字（吨）", code="quantity_invalid", field=field) from None
        _positive(tonnes, field=field, label="预计年产生量", allow_zero=True)
        cleaned.append(
            {"waste_code": code, "annual_tonnes": str(tonnes), "destination": str(row.get("destination", ""))[:200]}
        )
    if EIAApproval.objects.filter(approval_number=approval_number).exists():
        raise ApplicationError(f"批复文号 {approval_number} 已登记", code="duplicate_eia", field="approval_number")
    eia = _create(
        EIAApproval,
        enterprise=enterprise,
        site=site,
        project=project,
        approval_number=approval_number,
        approved_on=approved_on,
        authority=authority,
        expected_wastes=cleaned,
    )
    event_record(
        subject=eia,
        actor=actor,
        kind="registry.eia_approval_created",
        organisation=enterprise,
        after={"approval_number": approval_number, "expected_wastes": cleaned},
    )
    return eia


@transaction.atomic
def insurance_create(
    *,
    actor: Actor,
    enterprise: Enterprise,
    insurer: str,
    policy_number: str,
    coverage_yuan: Decimal,
    valid_from: dt.date,
    valid_to: dt.date,
) -> Insurance:
    _enterprise_writer(actor, enterprise, action="登记环境污染责任保险")
    insurer = _text(insurer, field="insurer", label="保险公司", max_length=100)
    policy_number = _text(policy_number, field="policy_number", label="保单号", max_length=60)
    _positive(coverage_yuan, field="coverage_yuan", label="保险金额")
    _period(valid_from, valid_to)
    if Insurance.objects.filter(policy_number=policy_number).exists():
        raise ApplicationError(f"保单号 {policy_number} 已登记", code="duplicate_policy", field="policy_number")
    policy = _create(
        Insurance,
        enterprise=enterprise,
        insurer=insurer,
        policy_number=policy_number,
        coverage_yuan=coverage_yuan,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    event_record(
        subject=policy,
        actor=actor,
        kind="registry.insurance_created",
        organisation=enterprise,
        after={"policy_number": policy_number, "valid_to": str(valid_to)},
    )
    return policy


@transaction.atomic
def emergency_plan_create(
    *,
    actor: Actor,
    enterprise: Enterprise,
    filing_number: str,
    filed_on: dt.date,
    authority: str,
    valid_until: dt.date | None = None,
    site: Site | None = None,
) -> EmergencyPlanFiling:
    _enterprise_writer(actor, enterprise, action="登记应急预案备案")
    filing_number = _text(filing_number, field="filing_number", label="备案编号", max_length=60)
    authority = _text(authority, field="authority", label="备案部门", max_length=100)
    if valid_until is not None:
        _period(filed_on, valid_until, field="valid_until")
    if site is not None and site.enterprise_id != enterprise.id:
        raise ApplicationError("场所不属于该单位", code="site_mismatch", field="site")
    if EmergencyPlanFiling.objects.filter(filing_number=filing_number).exists():
        raise ApplicationError(f"备案编号 {filing_number} 已登记", code="duplicate_filing", field="filing_number")
    plan = _create(
        EmergencyPlanFiling,
        enterprise=enterprise,
        site=site,
        filing_number=filing_number,
        filed_on=filed_on,
        authority=authority,
        valid_until=valid_until,
    )
    event_record(
        subject=plan,
        actor=actor,
        kind="registry.emergency_plan_created",
        organisation=enterprise,
        after={"filing_number": filing_number, "filed_on": str(filed_on)},
    )
    return plan
