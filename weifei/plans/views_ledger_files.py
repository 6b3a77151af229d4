"""Ledger files pages: upload a workbook for a site (row errors shown in a table, or the count
imported), download the template, export the HJ 1259 Annex B workbook or CSV for a date range."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from weifei.accounts.selectors import actor_for
from weifei.core.errors import ApplicationError
from weifei.registry.selectors import site_get, sites_visible

from . import ledger_import
from .api_ledger_files import XLSX, export_response
from .ledger_export import SHEETS

MAX_UPLOAD = 200 * 1024 * 1024


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def ledger_files_index(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    data = request.POST if request.method == "POST" else request.GET
    site_id = _int(data.get("site"))
    site = site_get(actor=actor, site_id=site_id) if site_id is not None else None
    outcome: ledger_import.ImportOutcome | None = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if site is None or upload is None:
            messages.error(request, _("请选择场所并选择要导入的文件"))
        elif upload.size is not None and upload.size > MAX_UPLOAD:
            messages.error(request, _("文件过大：请分成多个文件导入"))
        else:
            try:
                outcome = ledger_import.ledger_file_import(
                    actor=actor,
                    data=upload.read(),
                    file_name=upload.name or "",
                    site_id=site.id,
                    dry_run=bool(request.POST.get("dry_run")),
                )
            except ApplicationError as exc:
                if exc.status in (401, 403, 404):
                    raise
                messages.error(request, exc.message)
    today = timezone.localdate()
    role = actor.role_in(site.enterprise_id) if site is not None and actor.kind == "enterprise" else None
    context: dict[str, Any] = {
        "site": site,
        "sites": sites_visible(actor=actor).select_related("enterprise").order_by("enterprise__name", "name")[:200],
        "can_import": role in ("admin", "member") and not actor.read_only,
        "outcome": outcome,
        "from": dt.date(today.year, 1, 1),
        "to": today,
        "sheets": SHEETS,
    }
    return render(request, "plans/ledger_files/index.html", context)


@login_required
@require_GET
def ledger_files_template(request: HttpRequest) -> HttpResponse:
    out = io.BytesIO()
    ledger_import.template_workbook(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''ledger-template.xlsx"
    return response


@login_required
@require_GET
def ledger_files_export(request: HttpRequest) -> Any:
    actor = actor_for(request.user)
    site_id = _int(request.GET.get("site"))
    if site_id is None:
        raise ApplicationError(_("请选择场所"), code="site_required", field="site")
    return export_response(
        actor,
        site_id,
        _date(request.GET.get("from")),
        _date(request.GET.get("to")),
        request.GET.get("format", "xlsx"),
        request.GET.get("kind", ""),
    )
