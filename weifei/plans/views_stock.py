"""Stock pages: /plans/stock/ (choose a site; regulators see their jurisdiction's open storage
findings) and /plans/stock/sites/<id>/ (per-code stock now or at the end of a past date, storage
facilities against their capacity, containers by ageing level with the oldest listed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from weifei.accounts.selectors import actor_for
from weifei.core.errors import ApplicationError
from weifei.registry.selectors import sites_visible

from . import stock

PAGE = 50


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@login_required
@require_GET
def stock_index(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    go = _int(request.GET.get("site_id"))
    if go > 0:  # the regulators' site-number box
        return redirect("plans:stock_site", site_id=go)
    context: dict[str, Any] = {"is_regulator": actor.is_regulator}
    if actor.is_regulator:
        context["summary"] = stock.findings_summary(actor=actor)
        context["recent"] = list(stock.stock_findings(actor=actor, open_only=True)[:50])
    else:
        context["sites"] = list(sites_visible(actor=actor).order_by("enterprise__name", "name")[:500])
    return render(request, "plans/stock/index.html", context)


def _end_of_day(text: str) -> dt.datetime:
    """Stock "on" a date is the stock at the end of that day (Asia/Shanghai)."""
    day = dt.date.fromisoformat(text)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=stock.SH) - dt.timedelta(microseconds=1)


@login_required
@require_GET
def stock_site(request: HttpRequest, site_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    at_text = request.GET.get("at", "").strip()
    at = None
    if at_text:
        try:
            at = _end_of_day(at_text)
        except (ValueError, OverflowError):
            messages.error(request, _("日期格式应为 YYYY-MM-DD，已显示当前库存"))
            at_text = ""
    by_code = stock.stock_by_code(actor=actor, site_id=site_id, at=at)  # 404 for a site not visible
    level = request.GET.get("level", "")
    offset = max(0, _int(request.GET.get("offset")))
    if level not in stock.LEVELS:
        level = ""
    try:
        containers = stock.stock_containers(actor=actor, site_id=site_id, level=level, limit=PAGE, offset=offset)
    except ApplicationError as exc:
        if exc.status in (401, 403, 404):
            raise
        messages.error(request, exc.message)
        containers = stock.stock_containers(actor=actor, site_id=site_id, limit=PAGE)
    facilities = stock.stock_by_facility(actor=actor, site_id=site_id, at=at)
    levels = [
        {"key": lv, "label": stock.LEVEL_LABELS[lv], "count": containers["counts"][lv],
         "tonnes": containers["tonnes"][lv], "severity": stock.SEVERITY[lv]}
        for lv in stock.LEVELS
        if lv == stock.OK or containers["counts"][lv] or not lv.startswith("medical")
    ]  # fmt: skip
    context = {
        "site": by_code["site"],
        "at": at,
        "at_text": at_text,
        "today": timezone.localdate().isoformat(),
        "by_code": by_code,
        "facilities": facilities,
        "containers": containers,
        "levels": levels,
        "all_count": sum(containers["counts"].values()),
        "level": level,
        "offset": offset,
        "next_offset": offset + PAGE if offset + PAGE < containers["total"] else None,
        "prev_offset": max(0, offset - PAGE) if offset else None,
        "findings": list(stock.stock_findings(actor=actor, site_id=site_id, open_only=True)[:100]),
        "rule_labels": stock.RULE_LABELS,
    }
    return render(request, "plans/stock/site.html", context)
