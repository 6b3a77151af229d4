"""Printing under /plans/print/: batch label printing for a site, and the plan receipt PDF.

Both produce PDFs with the Noto Sans SC fonts (fpdf2). Who may print is who may read: the site's
unit and the regulators over its region (``site_get``, ``plan_get``); others get 404.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from weifei.accounts.selectors import actor_for
from weifei.core.errors import ApplicationError
from weifei.registry.selectors import site_get, sites_visible

from . import selectors
from .labels import label_pages, label_size_for, labelled_entries, labels_pdf, print_entries_get
from .receipt_pdf import receipt_pdf
from .views_labels import base_url, pdf_response

LIST_LIMIT = 500
WASTE_CODE_RE = re.compile(r"^\d{3}-\d{3}-\d{2}$")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApplicationError(f"日期 {value!r} 无效：应为 YYYY-MM-DD", code="date_invalid", field=field) from None


def _waste_code(value: str) -> str:
    """The format only: records keep the code of the catalogue in force when they were written."""
    code = unicodedata.normalize("NFKC", value).strip()
    if not WASTE_CODE_RE.match(code):
        raise ApplicationError(
            f"废物代码 {value!r} 格式不正确：应写作 NNN-NNN-NN（如 900-249-08）",
            code="waste_code_format",
            field="waste_code",
        )
    return code


@login_required
@require_http_methods(["GET", "POST"])
def print_labels(request: HttpRequest) -> HttpResponse:
    """GET: the site's labelled 产生 containers with checkboxes (filters: date range, waste code).
    POST ``entry_ids``: one PDF with the selected labels (two pages for containers over 450 L)."""
    actor = actor_for(request.user)
    if request.method == "POST":
        site_id = _int(request.POST.get("site_id"))
        ids = [i for i in (_int(v) for v in request.POST.getlist("entry_ids")) if i is not None]
        back = f"{request.path}?site_id={site_id or ''}"
        if site_id is not None:
            site_get(actor=actor, site_id=site_id)
        try:
            entries = print_entries_get(actor=actor, entry_ids=ids)
            if site_id is not None and any(e.site_id != site_id for e in entries):
                raise ApplicationError("所选记录不属于该场所", code="entry_other_site", field="entry_ids")
            pdf = labels_pdf(label_pages(entries, base_url=base_url(request)))
        except ApplicationError as exc:
            if exc.status in (401, 403, 404):
                raise
            messages.error(request, exc.message)
            return redirect(back)
        return pdf_response(pdf, f"labels-{timezone.localdate():%Y%m%d}-{len(entries)}.pdf")

    site_id = _int(request.GET.get("site_id"))
    if site_id is None:
        sites = sites_visible(actor=actor).order_by("enterprise__name", "name")[:200]
        return render(request, "plans/labels/print.html", {"site": None, "sites": sites})
    site = site_get(actor=actor, site_id=site_id)
    listed = labelled_entries(actor=actor, site_id=site.id)
    error = ""
    date_from = date_to = None
    waste_code = (request.GET.get("waste_code") or "").strip()
    try:
        date_from = _date(request.GET.get("date_from"), "date_from")
        date_to = _date(request.GET.get("date_to"), "date_to")
        if waste_code:
            waste_code = _waste_code(waste_code)
    except ApplicationError as exc:
        error = exc.message
    if date_from:
        listed = listed.filter(occurred_at__date__gte=date_from)
    if date_to:
        listed = listed.filter(occurred_at__date__lte=date_to)
    if waste_code and not error:
        listed = listed.filter(waste_code=waste_code)
    total = listed.count()
    rows = [{"entry": e, "size": label_size_for(e)} for e in listed[:LIST_LIMIT]]
    context = {
        "site": site,
        "rows": rows,
        "total": total,
        "limit": LIST_LIMIT,
        "error": error,
        "date_from": request.GET.get("date_from", ""),
        "date_to": request.GET.get("date_to", ""),
        "waste_code": request.GET.get("waste_code", ""),
    }
    return render(request, "plans/labels/print.html", context, status=400 if error else 200)


@login_required
@require_GET
def print_receipt(request: HttpRequest, plan_id: int) -> HttpResponse:
    """备案回执 as PDF (HJ 1259 5.2.2): filed or accepted plans only (others 400)."""
    actor = actor_for(request.user)
    plan = selectors.plan_get(actor=actor, plan_id=plan_id)
    url = f"{base_url(request)}{reverse('plans:receipt', args=[plan.id])}"
    pdf = receipt_pdf(plan, receipt_url=url)
    return pdf_response(pdf, f"receipt-{plan.filing_number}.pdf")
