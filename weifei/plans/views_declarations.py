"""Declaration pages (申报, HJ 1259 7): a site's periods for a year with status chips and actions
(regulators also see their jurisdiction's overdue periods), one declaration as its Annex C table
with the rule-12 check, submit/correct forms, revisions, history and exports, and mandates
(委托申报). Pages parse input and call the same services as the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from weifei.accounts.selectors import actor_for
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound
from weifei.core.selectors import events_for
from weifei.registry.models import Enterprise, Site
from weifei.registry.selectors import sites_visible

from . import declaration_export as export
from . import declarations as svc
from .api_declarations import export_response
from .models import Declaration, DeclarationMandate
from .views import _attempt, _int


def _date(value: str | None, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise ApplicationError("日期格式应为 YYYY-MM-DD", code="date_invalid", field=field) from None


def _sites(actor: Actor) -> list[Site]:
    """The sites the actor may pick: its own (registry scope) and those of units it is an agent for."""
    today = svc.today_local()
    own = list(sites_visible(actor=actor).exclude(status=Site.Status.CLOSED).order_by("enterprise__name", "id")[:300])
    units = svc.agent_unit_ids(actor, today)
    if units:
        seen = {s.id for s in own}
        own += [
            s
            for s in Site.objects.select_related("enterprise").filter(enterprise_id__in=units).order_by("id")[:300]
            if s.id not in seen
        ]
    return own


def _can_declare(actor: Actor, site: Site) -> bool:
    if actor.kind != "enterprise" or actor.read_only:
        return False
    if actor.role_in(site.enterprise_id) in ("admin", "member"):
        return True
    return svc.mandate_agent_for(actor, site.enterprise_id, svc.today_local()) is not None


@login_required
@require_GET
def declaration_index(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    this_year = svc.today_local().year
    year = _int(request.GET.get("year")) or this_year
    if not 2000 <= year <= 2100:
        year = this_year
    sites = _sites(actor) if actor.kind == "enterprise" else []
    site_id = _int(request.GET.get("site_id")) or (sites[0].id if len(sites) == 1 else None)
    site, rows = None, []
    if site_id is not None:
        site = svc.declarable_site_get(actor=actor, site_id=site_id)
        rows = svc.site_periods(actor=actor, site_id=site_id, year=year)
    overdue = []
    if actor.is_regulator:
        overdue = list(
            svc.findings_visible(actor=actor, rules=("declaration_missing",))
            .filter(resolved_at__isnull=True)
            .order_by("site__region__key", "site__enterprise__name", "key")[:500]
        )
    context = {
        "year": year,
        "sites": sites,
        "site": site,
        "rows": rows,
        "can_declare": site is not None and _can_declare(actor, site),
        "overdue": overdue,
        "is_regulator": actor.is_regulator,
    }
    return render(request, "plans/declarations/index.html", context)


@login_required
@require_POST
def declaration_generate(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    site_id = _int(request.POST.get("site_id"))
    if site_id is None:
        messages.error(request, "请选择场所")
        return redirect("plans:declaration_index")
    svc.declarable_site_get(actor=actor, site_id=site_id)
    kind = request.POST.get("kind", "")

    def generate() -> Declaration:
        start = _date(request.POST.get("period_start"), "period_start")
        return svc.declaration_generate(actor=actor, site_id=site_id, kind=kind, period_start=start)

    d = _attempt(request, generate, "已根据台账生成申报，请核对后提交。")
    if d is not None:
        return redirect("plans:declaration_detail", declaration_id=d.id)
    return redirect(f"/plans/declarations/?site_id={site_id}")


@login_required
@require_GET
def declaration_detail(request: HttpRequest, declaration_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    d = svc.declaration_get(actor=actor, declaration_id=declaration_id)
    can = _can_declare(actor, d.site)
    stale = d.status == Declaration.Status.SUBMITTED and svc.rows_changed(
        d.content, svc.build_content(d.site_id, d.period_start, d.period_end)
    )
    context = {
        "d": d,
        "table": export.TABLES[Declaration.Kind(d.kind)],
        "columns": export.COLUMNS,
        "lines": [[line[k] for k, _ in export.COLUMNS] for line in export.annex_c_lines(d)],
        "breaks": svc.invariant_breaks(d.content.get("rows", [])),
        "stale": stale,
        "can_submit": can and d.status == Declaration.Status.DRAFT,
        "can_correct": can and stale,
        "revisions": d.revisions.select_related("declared_by_enterprise").order_by("-revision"),
        "history": events_for(actor=actor, subject=d)[:50],
    }
    return render(request, "plans/declarations/detail.html", context)


@login_required
@require_POST
def declaration_submit(request: HttpRequest, declaration_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    svc.declaration_get(actor=actor, declaration_id=declaration_id)
    _attempt(request, lambda: svc.declaration_submit(actor=actor, declaration_id=declaration_id), "已申报。")
    return redirect("plans:declaration_detail", declaration_id=declaration_id)


@login_required
@require_POST
def declaration_correct(request: HttpRequest, declaration_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    svc.declaration_get(actor=actor, declaration_id=declaration_id)
    reason = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: svc.declaration_correct(actor=actor, declaration_id=declaration_id, reason=reason),
        "已更正申报。",
    )
    return redirect("plans:declaration_detail", declaration_id=declaration_id)


@login_required
@require_GET
def declaration_export(request: HttpRequest, declaration_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    d = svc.declaration_get(actor=actor, declaration_id=declaration_id)
    fmt = request.GET.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        fmt = "xlsx"
    return export_response(d, fmt)


@login_required
@require_GET
def declaration_mandates(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    admin_of = [eid for eid, role in actor.memberships if role == "admin"] if not actor.read_only else []
    mandates = list(svc.mandates_visible(actor=actor).order_by("-created_at", "-id")[:500])
    rows: list[dict[str, Any]] = []
    for m in mandates:
        live = m.status != DeclarationMandate.Status.REVOKED
        rows.append(
            {
                "m": m,
                "can_approve": actor.is_regulator and not actor.read_only and m.status == "pending",
                "can_revoke": live and (m.unit_id in admin_of or (actor.is_regulator and not actor.read_only)),
            }
        )
    context = {
        "rows": rows,
        "units": Enterprise.objects.filter(id__in=admin_of).order_by("name"),
        "bases": DeclarationMandate.Basis.choices,
        "today": svc.today_local(),
    }
    return render(request, "plans/declarations/mandates.html", context)


@login_required
@require_POST
def declaration_mandate_create(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    post = request.POST
    unit_id, agent_id = _int(post.get("unit_id")), _int(post.get("agent_id"))
    code = (post.get("agent_credit_code") or "").strip().upper()
    if agent_id is None and code:
        # The unit knows its agent by 统一社会信用代码, not by weifei's id.
        agent_id = Enterprise.objects.filter(credit_code=code).values_list("id", flat=True).first()
        if agent_id is None:
            messages.error(request, f"统一社会信用代码为 {code[:18]} 的受托单位未登记")
            return redirect("plans:declaration_mandates")
    if unit_id is None or agent_id is None:
        messages.error(request, "请选择委托单位并填写受托单位的统一社会信用代码")
        return redirect("plans:declaration_mandates")

    def create() -> DeclarationMandate:
        return svc.mandate_create(
            actor=actor,
            unit_id=unit_id,
            agent_id=agent_id,
            basis=post.get("basis", ""),
            valid_from=_date(post.get("valid_from"), "valid_from"),
            valid_to=_date(post.get("valid_to"), "valid_to"),
        )

    _attempt(request, create, "已创建委托。")
    return redirect("plans:declaration_mandates")


@login_required
@require_POST
def declaration_mandate_approve(request: HttpRequest, mandate_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    _visible(actor, mandate_id)
    _attempt(request, lambda: svc.mandate_approve(actor=actor, mandate_id=mandate_id), "已认可该委托。")
    return redirect("plans:declaration_mandates")


@login_required
@require_POST
def declaration_mandate_revoke(request: HttpRequest, mandate_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    _visible(actor, mandate_id)
    reason = request.POST.get("reason", "")
    _attempt(request, lambda: svc.mandate_revoke(actor=actor, mandate_id=mandate_id, reason=reason), "已撤销委托。")
    return redirect("plans:declaration_mandates")


def _visible(actor: Actor, mandate_id: int) -> None:
    if not svc.mandates_visible(actor=actor).filter(id=mandate_id).exists():
        raise NotFound("委托不存在或无权查看", field="mandate")
