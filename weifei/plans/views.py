"""Management-plan pages: the list (with the review queue and missing plans for regulators), a
plan with its lines and forms, and the printable filing receipt (备案回执).

Pages parse input and call the same services as the API; a refusal shows the service's message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from weifei.accounts.selectors import actor_for
from weifei.catalog.models import DisposalMethod
from weifei.core.errors import ApplicationError, NotFound
from weifei.core.selectors import events_for
from weifei.registry.selectors import site_get, sites_visible

from . import rules, selectors, services
from .models import ManagementPlan, PlanLine


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> Any:
    """Run a service; a refusal the user can act on becomes a message (401/403/404 propagate)."""
    try:
        result = action()
    except ApplicationError as exc:
        if exc.status in (401, 403, 404):
            raise
        messages.error(request, exc.message)
        return None
    messages.success(request, success)
    return result


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    year = _int(request.GET.get("year"))
    status = request.GET.get("status", "")
    if status not in ManagementPlan.Status.values:
        status = ""
    plans = selectors.plan_list(actor=actor, year=year, status=status)[:500]
    this_year = timezone.localdate().year
    context = {
        "plans": plans,
        "year": year,
        "status": status,
        "statuses": ManagementPlan.Status.choices,
        "queue": selectors.review_queue(actor=actor)[:200],
        "missing": selectors.sites_without_plan(actor=actor, year=year or this_year)[:500]
        if actor.is_regulator
        else [],
        "missing_year": year or this_year,
        "sites": sites_visible(actor=actor)[:200] if actor.kind == "enterprise" else [],
        "this_year": this_year,
        "is_regulator": actor.is_regulator,
    }
    return render(request, "plans/list.html", context)


@login_required
@require_POST
def plan_new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    site_id = _int(request.POST.get("site_id"))
    year = _int(request.POST.get("year"))
    if site_id is None or year is None:
        messages.error(request, "请选择场所并填写计划年度")
        return redirect("plans:list")
    site_get(actor=actor, site_id=site_id)
    plan = _attempt(
        request, lambda: services.plan_draft(actor=actor, site_id=site_id, year=year), "已创建管理计划草稿。"
    )
    return redirect("plans:detail", plan_id=plan.id) if plan else redirect("plans:list")


def _sections(plan: ManagementPlan) -> list[dict[str, Any]]:
    lines = list(plan.lines.select_related("receiver"))
    return [
        {"key": s, "name": rules.SECTION_NAMES[s], "lines": [x for x in lines if x.section == s]}
        for s in rules.sections_for(plan.management_class)
        if s in rules.LINE_SECTIONS
    ]


@login_required
@require_GET
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    plan = selectors.plan_get(actor=actor, plan_id=plan_id)
    role = actor.role_in(plan.site.enterprise_id) if actor.kind == "enterprise" else None
    can_write = role in ("admin", "member") and not actor.read_only
    context = {
        "plan": plan,
        "a1": plan.content.get("A1", {}),
        "a2": (plan.content.get("A2") or {}).get("facilities", []),
        "sections": _sections(plan),
        "line_sections": [
            (s, rules.SECTION_NAMES[s]) for s in rules.sections_for(plan.management_class) if s in rules.LINE_SECTIONS
        ],
        "class_name": rules.CLASS_NAMES.get(plan.management_class, ""),
        "editable": can_write and plan.status in ("draft", "returned"),
        "can_change": can_write and plan.status in ("filed", "accepted"),
        "can_review": actor.is_regulator and not actor.read_only and plan.status == "filed",
        "diff": selectors.plan_diff(plan=plan) if plan.status in ("draft", "returned") else [],
        "versions": selectors.plan_versions(plan=plan),
        "methods": DisposalMethod.objects.all(),
        "transfer_types": PlanLine.TransferType.choices,
        "receiver_types": PlanLine.ReceiverType.choices,
        "history": events_for(actor=actor, subject=plan)[:50],
    }
    return render(request, "plans/detail.html", context)


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal((value or "").strip()) if (value or "").strip() else None
    except InvalidOperation:
        raise ApplicationError("数量应为数字（吨）", code="number_invalid", field="tonnes") from None


@login_required
@require_POST
def line_add(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    post = request.POST

    def add() -> PlanLine:
        return services.plan_line_add(
            actor=actor,
            plan_id=plan_id,
            section=post.get("section", ""),
            waste_code=post.get("waste_code", ""),
            tonnes=_decimal(post.get("tonnes")),
            waste_name=post.get("waste_name", ""),
            facility_code=post.get("facility_code", ""),
            method_code=post.get("method_code", ""),
            measures=post.get("measures", ""),
            transfer_type=post.get("transfer_type", ""),
            receiver_type=post.get("receiver_type", ""),
            receiver_id=_int(post.get("receiver_id")),
            receiver_name=post.get("receiver_name", ""),
            licence_number=post.get("licence_number", ""),
        )

    _attempt(request, add, "已添加。")
    return redirect("plans:detail", plan_id=plan_id)


@login_required
@require_POST
def line_remove(request: HttpRequest, plan_id: int, line_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    _attempt(request, lambda: services.plan_line_remove(actor=actor, plan_id=plan_id, line_id=line_id), "已删除。")
    return redirect("plans:detail", plan_id=plan_id)


@login_required
@require_POST
def plan_file(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    _attempt(request, lambda: services.plan_file(actor=actor, plan_id=plan_id), "已备案。")
    return redirect("plans:detail", plan_id=plan_id)


@login_required
@require_POST
def plan_change(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    _attempt(
        request,
        lambda: services.plan_change(actor=actor, plan_id=plan_id, reason=request.POST.get("reason", "")),
        "已开始变更，修改后请重新备案。",
    )
    return redirect("plans:detail", plan_id=plan_id)


@login_required
@require_POST
def plan_review(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.plan_get(actor=actor, plan_id=plan_id)
    accept = request.POST.get("decision") == "accept"
    _attempt(
        request,
        lambda: services.plan_review(
            actor=actor, plan_id=plan_id, accept=accept, comment=request.POST.get("comment", "")
        ),
        "已审核通过。" if accept else "已退回。",
    )
    return redirect("plans:detail", plan_id=plan_id)


@login_required
@require_GET
def receipt(request: HttpRequest, plan_id: int) -> HttpResponse:
    """备案回执 (HJ 1259 5.2.2): printable; a PDF with embedded CJK fonts is a later step."""
    actor = actor_for(request.user)
    plan = selectors.plan_get(actor=actor, plan_id=plan_id)
    if not plan.filing_number or plan.filed_at is None:
        raise NotFound("该管理计划尚未备案，没有备案回执", field="plan")
    context = {
        "plan": plan,
        "a1": plan.content.get("A1", {}),
        "a2": (plan.content.get("A2") or {}).get("facilities", []),
        "sections": _sections(plan),
        "class_name": rules.CLASS_NAMES.get(plan.management_class, ""),
        "filed_local": timezone.localtime(plan.filed_at),
        "printed": timezone.localtime(timezone.now()),
        "deadline": rules.filing_deadline(plan.year),
        "today": dt.date.today(),
    }
    return render(request, "plans/receipt.html", context)
