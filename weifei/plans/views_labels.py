"""Label pages at /labels/: the scan page, the verification page (the QR target) and the label PDF.

The verification page is public: whoever holds the container (托运人/承运人 at loading, rule 25;
a passer-by) sees what the label shows and where the container is. Those who see the site see
its records and events too. A malformed code answers 400 with the segment's message, an unknown
one 404 "未找到该标签".
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from weifei.accounts.selectors import actor_for
from weifei.core.errors import ApplicationError, NotFound

from .labels import container_events, container_get, label_code_parse, label_pages, label_pdf, labels_pdf

_LABEL_PATH = re.compile(r"/labels/([^/?#]+)/?")


def base_url(request: HttpRequest) -> str:
    """The scheme and host of the request: where the QR code on a printed label points."""
    return request.build_absolute_uri("/").rstrip("/")


def scanned_code(value: str) -> str:
    """The label code in what was typed or scanned: the QR payload is the verification URL
    (``…/labels/<code>/``), a label or a person may give the bare code; NFKC and upper case."""
    value = unicodedata.normalize("NFKC", value or "").strip()
    if "/" in value:
        match = _LABEL_PATH.search(urlsplit(value).path or value)
        if match:
            value = unquote(match.group(1))
    return unicodedata.normalize("NFKC", value).strip().upper()


@require_GET
def label_scan(request: HttpRequest) -> HttpResponse:
    """Type a code or scan the QR code (the camera button appears where BarcodeDetector exists)."""
    raw = request.GET.get("code")
    error = ""
    if raw is not None:
        code = scanned_code(raw)
        try:
            parsed = label_code_parse(code)
        except ApplicationError as exc:
            error = exc.message
        else:
            return redirect(f"/labels/{parsed.code}/")
    status = 400 if error else 200
    return render(request, "plans/labels/scan.html", {"error": error, "value": raw or ""}, status=status)


@require_GET
def label_detail(request: HttpRequest, code: str) -> HttpResponse:
    actor = actor_for(request.user)
    try:
        container = container_get(actor=actor, code=code)
    except NotFound:
        return render(
            request, "plans/labels/error.html", {"status": 404, "message": "未找到该标签", "code": code}, status=404
        )
    except ApplicationError as exc:
        return render(
            request, "plans/labels/error.html", {"status": 400, "message": exc.message, "code": code}, status=400
        )
    if container.label.code != code:
        return redirect(f"/labels/{container.label.code}/")
    context = {
        "c": container,
        "g": container.generated,
        "weight": container.weight,
        "events": container_events(actor=actor, container=container)[:200],
        "verification_url": f"{base_url(request)}/labels/{container.label.code}/",
    }
    return render(request, "plans/labels/detail.html", context)


@login_required
@require_GET
def label_pdf_view(request: HttpRequest, code: str) -> HttpResponse:
    """The label of the container (two copies over 450 L), for those who see the site."""
    actor = actor_for(request.user)
    container = container_get(actor=actor, code=code)
    if not container.can_see_site:
        raise NotFound("未找到该标签", code="label_unknown", field="label_code")
    if container.reversed:
        raise ApplicationError("该容器的产生记录已冲销，不能打印标签", code="entry_reversed", field="label_code")
    pages = label_pages([container.generated], base_url=base_url(request))
    pdf = label_pdf(pages[0]) if len(pages) == 1 else labels_pdf(pages)
    return pdf_response(pdf, f"label-{container.label.code}.pdf")


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
