"""Registry writes. Pages, API, imports and the demo generator all come through here."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.db import IntegrityError, transaction

from weifei.catalog.models import Region
from weifei.catalog.validation import validate_category, validate_waste_code
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.events import event_record
from weifei.core.identifiers import validate_credit_code
from weifei.core.permissions import require_kind

from .models import Enterprise, GenerationProfile, Licence, Vehicle

PLATE_RE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")
ROLE_FIELDS = ("is_generator", "is_carrier", "is_operator", "is_collector")
LICENCE_METHODS = {"collection": "收集", "storage": "贮存", "utilization": "利用", "disposal": "处置"}


def _region(key: str) -> Region:
    region = Region.objects.filter(key=key).first()
    if region is None:
        raise ApplicationError(f"行政区域 {key} 不存在", code="region_not_found", field="region")
    if region.level in (Region.Level.PROVINCE, Region.Level.PREFECTURE, Region.Level.SPECIAL):
        raise ApplicationError(
            f"单位所在区域应为县级单位、功能区或管委会辖区，{region.name} 是{region.get_level_display()}",
            code="region_level",
            field="region",
        )
    return region


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
) -> Enterprise:
    require_kind(actor, "system", "regulator", action="登记单位")
    code = validate_credit_code(credit_code)
    name = (name or "").strip()
    if not name:
        raise ApplicationError("单位名称不能为空", code="name_required", field="name")
    bad_roles = [r for r in roles if r not in ROLE_FIELDS]
    if bad_roles:
        raise ApplicationError(f"未知的单位角色：{', '.join(bad_roles)}", code="role_invalid", field="roles")
    region = _region(region_key)
    if Enterprise.objects.filter(credit_code=code).exists():
        raise ApplicationError(f"统一社会信用代码 {code} 已登记", code="duplicate_enterprise", field="credit_code")
    try:
        with transaction.atomic():
            enterprise = Enterprise.objects.create(
                credit_code=code,
                name=name,
                region=region,
                industry_code=industry_code,
                industry_name=industry_name,
                legal_representative=legal_representative,
                address=address,
                latitude=latitude,
                longitude=longitude,
                contact_phone=contact_phone,
                **{r: (r in roles) for r in ROLE_FIELDS},
            )
    except IntegrityError:  # a concurrent registration won the race
        raise ApplicationError(
            f"统一社会信用代码 {code} 已登记", code="duplicate_enterprise", field="credit_code"
        ) from None
    event_record(
        subject=enterprise,
        actor=actor,
        kind="registry.enterprise_created",
        after={"credit_code": code, "name": name, "region": region.key, "roles": list(roles)},
    )
    return enterprise


@transaction.atomic
def generation_profile_set(
    *, actor: Actor, enterprise: Enterprise, year: int, waste_code: str, annual_tonnes: Decimal
) -> GenerationProfile:
    require_kind(actor, "system", "regulator", "enterprise", action="填报产废情况")
    if actor.kind == "enterprise" and enterprise.id not in actor.enterprise_ids:
        raise PermissionDenied("只能填报本单位的产废情况")
    if not enterprise.is_generator:
        raise ApplicationError(f"{enterprise.name} 不是产废单位", code="not_generator", field="enterprise")
    validate_waste_code(waste_code, on=dt.date(year, 12, 31))
    if annual_tonnes < 0:
        raise ApplicationError("年产生量不能为负数", code="quantity_negative", field="annual_tonnes")
    profile, _ = GenerationProfile.objects.update_or_create(
        enterprise=enterprise, year=year, waste_code=waste_code, defaults={"annual_tonnes": annual_tonnes}
    )
    event_record(
        subject=profile,
        actor=actor,
        kind="registry.generation_profile_set",
        after={"year": year, "waste_code": waste_code, "annual_tonnes": str(annual_tonnes)},
    )
    return profile


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
    today: dt.date | None = None,
) -> Vehicle:
    require_kind(actor, "system", "regulator", action="登记车辆")
    plate = (plate or "").strip().upper()
    if not PLATE_RE.match(plate):
        raise ApplicationError(f"车牌号 {plate!r} 格式不正确（如 吉A12345）", code="plate_format", field="plate")
    if not carrier.is_carrier:
        raise ApplicationError(f"{carrier.name} 不是承运人，不能登记运输车辆", code="not_carrier", field="carrier")
    if payload_tonnes <= 0:
        raise ApplicationError("核定载质量必须大于 0", code="payload_invalid", field="payload_tonnes")
    if valid_until < (today or dt.date.today()):
        raise ApplicationError(f"道路运输证已于 {valid_until} 过期", code="vehicle_expired", field="valid_until")
    duplicate = ApplicationError(f"车牌号 {plate} 已登记", code="duplicate_vehicle", field="plate")
    if Vehicle.objects.filter(plate=plate).exists():
        raise duplicate
    try:
        with transaction.atomic():
            vehicle = Vehicle.objects.create(
                carrier=carrier,
                plate=plate,
                transport_certificate=transport_certificate,
                payload_tonnes=payload_tonnes,
                valid_until=valid_until,
                dangerous_goods_classes=dangerous_goods_classes or ["9"],
                gps_terminal_id=gps_terminal_id,
            )
    except IntegrityError:  # a concurrent registration of the same plate won the race
        raise duplicate from None
    event_record(subject=vehicle, actor=actor, kind="registry.vehicle_created", after={"plate": plate})
    return vehicle


@transaction.atomic
def licence_create(
    *,
    actor: Actor,
    holder: Enterprise,
    number: str,
    kind: str,
    categories: list[str],
    methods: list[str],
    annual_capacity_tonnes: Decimal,
    valid_from: dt.date,
) -> Licence:
    """Licence validity is 5 years for 综合, 3 years for 收集 (许可办法 第十二条)."""
    require_kind(actor, "system", "regulator", action="登记经营许可证")
    if kind not in Licence.Kind.values:
        raise ApplicationError(f"许可证类别 {kind!r} 无效", code="licence_kind", field="kind")
    if not (holder.is_operator or holder.is_collector):
        raise ApplicationError(
            f"{holder.name} 不是经营单位或收集单位，不能持有经营许可证", code="not_operator", field="holder"
        )
    bad_methods = [m for m in methods if m not in LICENCE_METHODS]
    if not methods or bad_methods:
        raise ApplicationError(
            f"经营方式应为 {'、'.join(LICENCE_METHODS.values())} 中的一种或多种",
            code="methods_invalid",
            field="methods",
        )
    if annual_capacity_tonnes <= 0:
        raise ApplicationError("核准经营规模必须大于 0", code="capacity_invalid", field="annual_capacity_tonnes")
    cats = [validate_category(c, field="categories") for c in categories]
    if not cats:
        raise ApplicationError("许可证至少应核准一个废物类别", code="categories_required", field="categories")
    if Licence.objects.filter(number=number).exists():
        raise ApplicationError(f"许可证编号 {number} 已登记", code="duplicate_licence", field="number")
    years = 5 if kind == Licence.Kind.COMPREHENSIVE else 3
    try:
        valid_to = valid_from.replace(year=valid_from.year + years) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        valid_to = valid_from.replace(year=valid_from.year + years, day=28)
    licence = Licence.objects.create(
        holder=holder,
        number=number,
        kind=kind,
        categories=cats,
        methods=methods,
        annual_capacity_tonnes=annual_capacity_tonnes,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    event_record(
        subject=licence,
        actor=actor,
        kind="registry.licence_created",
        after={"number": number, "kind": kind, "categories": cats, "valid_to": valid_to.isoformat()},
    )
    return licence
