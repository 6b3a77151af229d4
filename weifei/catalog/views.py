"""Catalogue browser: search as you type (htmx), and a detail page per code."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from weifei.accounts.selectors import actor_for
from weifei.core.errors import ApplicationError

from . import selectors
from .models import HAZARD_CHARACTERISTICS

QUICK_TERMS = ["废矿物油", "飞灰", "铅蓄电池", "医疗废物", "废催化剂", "HW49", "900-041-49", "含汞"]
PAGE_SIZE = 50


def search(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    q = request.GET.get("q", "")
    category = request.GET.get("category", "")
    version_key = request.GET.get("version", "")
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        raise ApplicationError("页码应为正整数", code="page_invalid", field="page") from None
    version = selectors.catalogue_version(actor=actor, key=version_key or None, on=dt.date.today())
    result = selectors.catalogue_search(
        actor=actor, q=q, version=version, category=category, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    context = {
        "q": q,
        "category": category,
        "version": version,
        "versions": selectors.catalogue_versions(actor=actor),
        "categories": selectors.categories(actor=actor, version=version),
        "result": result,
        "page": page,
        "has_next": page * PAGE_SIZE < result.total,
        "quick_terms": QUICK_TERMS,
    }
    template = "catalog/_results.html" if request.headers.get("HX-Request") else "catalog/search.html"
    return render(request, template, context)


def detail(request: HttpRequest, code: str) -> HttpResponse:
    actor = actor_for(request.user)
    version = selectors.catalogue_version(actor=actor, key=request.GET.get("version") or None, on=dt.date.today())
    waste_code = selectors.waste_code_detail(actor=actor, code=code, version=version)
    return render(
        request,
        "catalog/detail.html",
        {
            "c": waste_code,
            "hazard_names": [(h, HAZARD_CHARACTERISTICS.get(h, h)) for h in waste_code.hazards],
            "exemptions": selectors.exemptions_mentioning(actor=actor, waste_code=waste_code),
            "siblings": selectors.catalogue_search(
                actor=actor, version=version, category=waste_code.category.code, limit=100
            ).items,
        },
    )
