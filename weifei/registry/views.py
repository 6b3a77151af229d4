"""Registry pages: the regulator's registry with filters and a map, an enterprise's profile with
its history, self-registration, the verification queue, and forms to add a site or a vehicle.

Pages parse input and call the same services as the API; a refused write re-renders the form
with the service's message next to the field it names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from weifei.accounts.selectors import actor_for
from weifei.catalog.models import Region
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.selectors import events_for_organisation

from . import selectors, services
from .models import ManagementClass, Site, Verification
from .registration import enterprise_self_register

ROLE_CHOICES = [("is_generator", "产废单位"), ("is_carrier", "承运人"), ("is_collector", "收集单位"),
                ("is_operator", "经营单位")]  # fmt: skip


def _decimal(value: str, field: str, label: str) -> Decimal | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ApplicationError(f"{label}应为数字", code="number_invalid", field=field) from None


def _date(value: str, field: str, label: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApplicationError(f"{label}应为日期（YYYY-MM-DD）", code="date_invalid", field=field) from None


def _required_date(value: str, field: str, label: str) -> dt.date:
    found = _date(value, field, label)
    if found is None:
        raise ApplicationError(f"{label}不能为空", code=f"{field}_required", field=field)
    return found


def _attempt(request: HttpRequest, action: Callable[[], Any]) -> tuple[Any, dict[str, str]]:
    """Run a service; on a refusal return the message keyed by the field it names."""
    try:
        return action(), {}
    except ApplicationError as exc:
        if exc.status in (401, 403, 404):
            raise
        return None, {exc.field or "form": exc.message}


def _county_regions(enterprise: Any = None) -> list[Region]:
    """Jilin's county-level regions (never another province's); for an out-of-province unit's site,
    the prefectures of its own province instead."""
    if enterprise is not None and not enterprise.region.in_home_province:
        qs = Region.objects.filter(province_code=enterprise.region.province_code, level=Region.Level.PREFECTURE)
    else:
        qs = Region.objects.home().filter(level__in=[Region.Level.COUNTY, Region.Level.ZONE, Region.Level.AREA])
    return list(qs.select_related("parent").order_by("key"))


@login_required
def registry_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    params = {k: request.GET.get(k, "") for k in ("q", "region", "role", "verification", "management_class")}
    qs = selectors.enterprise_list(
        actor=actor, q=params["q"], region_key=params["region"], role=params["role"],
        verification=params["verification"], management_class=params["management_class"],
    )  # fmt: skip
    try:
        page_number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        raise ApplicationError("页码应为正整数", code="page_invalid", field="page") from None
    page = Paginator(qs, 50).get_page(page_number)
    regions = Region.objects.home().filter(level__in=["prefecture", "special", "county", "zone"]).order_by("key")
    if actor.is_regulator:
        regions = regions.filter(key__in=actor.region_codes)
        if selectors.sees_out_of_province(actor):  # the province also filters by a neighbouring province
            regions = regions | Region.objects.out_of_province().filter(level=Region.Level.PROVINCE)
    return render(request, "registry/list.html", {
        "page": page, "params": params, "regions": regions, "roles": ROLE_CHOICES,
        "classes": ManagementClass.choices, "verifications": Verification.choices,
        "is_regulator": actor.is_regulator, "pending": selectors.verification_queue(actor=actor).count(),
    })  # fmt: skip


@login_required
def enterprise_detail(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    enterprise = selectors.enterprise_get(actor=actor, enterprise_id=enterprise_id)
    sites = selectors.sites_visible(actor=actor).filter(enterprise=enterprise).prefetch_related("facilities")
    can_write = actor.kind == "system" or (
        actor.kind == "enterprise" and actor.role_in(enterprise.id) in ("admin", "member")
    ) or (actor.is_regulator and not actor.read_only)  # fmt: skip
    return render(request, "registry/detail.html", {
        "e": enterprise,
        "sites": sites,
        "licences": selectors.licences_visible(actor=actor).filter(holder=enterprise),
        "vehicles": selectors.vehicles_visible(actor=actor).filter(carrier=enterprise),
        "drivers": selectors.drivers_visible(actor=actor).filter(carrier=enterprise),
        "road_licences": selectors.road_licences_visible(actor=actor).filter(carrier=enterprise),
        "contracts": selectors.contracts_visible(actor=actor).filter(party_a=enterprise)
        | selectors.contracts_visible(actor=actor).filter(party_b=enterprise),
        "eias": selectors.eia_approvals_visible(actor=actor).filter(enterprise=enterprise),
        "insurances": selectors.insurances_visible(actor=actor).filter(enterprise=enterprise),
        "emergency_plans": selectors.emergency_plans_visible(actor=actor).filter(enterprise=enterprise),
        # The unit's own history and that of its sites, licences, vehicles … (one stream per unit).
        "events": events_for_organisation(actor=actor, organisation_id=enterprise.id)[:200],
        "can_write": can_write,
        "can_manage_members": actor.kind == "enterprise" and actor.role_in(enterprise.id) == "admin",
        "can_verify": actor.is_regulator and not actor.read_only and enterprise.verification == "pending",
        "can_override": actor.is_regulator and not actor.read_only
        and actor.region_level in ("province", "prefecture", "special"),
        "classes": ManagementClass.choices,
        "today": dt.date.today(),
    })  # fmt: skip


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Public self-registration; the new unit waits in the verification queue."""
    errors: dict[str, str] = {}
    data = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        result, errors = _attempt(request, lambda: enterprise_self_register(
            username=data.get("username", ""), password=data.get("password", ""),
            full_name=data.get("full_name", ""), credit_code=data.get("credit_code", ""), name=data.get("name", ""),
            region_key=data.get("region", ""), roles=tuple(request.POST.getlist("roles")) or ("is_generator",),
            address=data.get("address", ""), legal_representative=data.get("legal_representative", ""),
            contact_phone=data.get("contact_phone", ""), contact_email=data.get("contact_email", ""),
        ))  # fmt: skip
        if result is not None:
            user, enterprise = result
            login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
            messages.success(request, f"{enterprise.name} 已提交登记，等待生态环境部门核验。")
            return redirect("registry:detail", enterprise_id=enterprise.id)
    return render(request, "registry/register.html", {
        "errors": errors, "data": data, "regions": _county_regions(), "roles": ROLE_CHOICES,
        "chosen_roles": request.POST.getlist("roles") if request.method == "POST" else ["is_generator"],
    }, status=400 if errors else 200)  # fmt: skip


@login_required
def verification_queue(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    if not actor.is_regulator:
        raise PermissionDenied("只有生态环境部门可以查看核验队列")
    return render(request, "registry/verification.html", {
        "pending": selectors.verification_queue(actor=actor),
        "vehicles": selectors.vehicle_registration_queue(actor=actor).select_related("carrier"),
        "read_only": actor.read_only,
    })  # fmt: skip


@login_required
@require_POST
def verify(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.enterprise_get(actor=actor, enterprise_id=enterprise_id)
    approve = request.POST.get("decision") == "approve"
    _, errors = _attempt(request, lambda: services.enterprise_verify(
        actor=actor, enterprise_id=enterprise_id, approve=approve, note=request.POST.get("note", "")))  # fmt: skip
    for message in errors.values():
        messages.error(request, message)
    if not errors:
        messages.success(request, "已核验通过。" if approve else "已退回。")
    return redirect(request.POST.get("next") or "registry:verification")


@login_required
@require_POST
def vehicle_decide(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    if not selectors.vehicles_visible(actor=actor).filter(id=vehicle_id).exists():
        raise PermissionDenied("车辆不在本部门辖区内")
    approve = request.POST.get("decision") == "approve"
    _, errors = _attempt(request, lambda: services.vehicle_registration_decide(
        actor=actor, vehicle_id=vehicle_id, approve=approve, note=request.POST.get("note", "")))  # fmt: skip
    for message in errors.values():
        messages.error(request, message)
    return redirect("registry:verification")


@login_required
@require_POST
def class_override(request: HttpRequest, site_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    site = selectors.site_get(actor=actor, site_id=site_id)
    chosen = request.POST.get("management_class") or None
    _, errors = _attempt(request, lambda: services.site_class_override(
        actor=actor, site_id=site.id, management_class=chosen, reason=request.POST.get("reason", "")))  # fmt: skip
    for message in errors.values():
        messages.error(request, message)
    return redirect("registry:detail", enterprise_id=site.enterprise_id)


@login_required
@require_http_methods(["GET", "POST"])
def site_new(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    enterprise = selectors.enterprise_get(actor=actor, enterprise_id=enterprise_id)
    errors: dict[str, str] = {}
    data = request.POST if request.method == "POST" else {}
    if request.method == "POST":

        def create() -> Site:
            return services.site_create(
                actor=actor, enterprise=enterprise, name=data.get("name", ""), address=data.get("address", ""),
                region_key=data.get("region", ""), roles=request.POST.getlist("roles"),
                latitude=_decimal(data.get("latitude", ""), "latitude", "纬度"),
                longitude=_decimal(data.get("longitude", ""), "longitude", "经度"),
                industry_code=data.get("industry_code", ""), industry_name=data.get("industry_name", ""),
                operation_started_on=_date(data.get("operation_started_on", ""), "operation_started_on", "投产日期"),
                eia_annual_tonnes=_decimal(data.get("eia_annual_tonnes", ""), "eia_annual_tonnes", "环评核算量"),
            )  # fmt: skip

        site, errors = _attempt(request, create)
        if site is not None:
            messages.success(request, f"已登记场所“{site.name}”，管理类别：{site.get_management_class_display()}。")
            return redirect("registry:detail", enterprise_id=enterprise.id)
    return render(request, "registry/site_form.html", {
        "e": enterprise, "errors": errors, "data": data, "regions": _county_regions(enterprise),
        "site_roles": Site.Role.choices,
        "chosen_roles": request.POST.getlist("roles") if request.method == "POST" else ["generator"],
    }, status=400 if errors else 200)  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def vehicle_new(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    carrier = selectors.enterprise_get(actor=actor, enterprise_id=enterprise_id)
    errors: dict[str, str] = {}
    data = request.POST if request.method == "POST" else {}
    if request.method == "POST":

        def create() -> Any:
            payload = _decimal(data.get("payload_tonnes", ""), "payload_tonnes", "核定载质量")
            if payload is None:
                raise ApplicationError("核定载质量不能为空", code="payload_required", field="payload_tonnes")
            return services.vehicle_create(
                actor=actor, carrier=carrier, plate=data.get("plate", ""),
                transport_certificate=data.get("transport_certificate", ""), payload_tonnes=payload,
                valid_until=_required_date(data.get("valid_until", ""), "valid_until", "道路运输证有效期"),
                inspection_valid_until=_date(data.get("inspection_valid_until", ""), "inspection_valid_until",
                                             "检验有效期"),
                dangerous_goods_classes=[c.strip() for c in data.get("dangerous_goods_classes", "9").split(",")
                                         if c.strip()],
                gps_terminal_id=data.get("gps_terminal_id", ""),
            )  # fmt: skip

        vehicle, errors = _attempt(request, create)
        if vehicle is not None:
            messages.success(request, f"已登记车辆 {vehicle.plate}，状态：{vehicle.get_registration_display()}。")
            return redirect("registry:detail", enterprise_id=carrier.id)
    return render(request, "registry/vehicle_form.html", {"e": carrier, "errors": errors, "data": data},
                  status=400 if errors else 200)  # fmt: skip
