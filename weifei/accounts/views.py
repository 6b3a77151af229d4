"""/account/tokens/: a person's API tokens — create (the plaintext shown once), list, revoke."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from weifei.core.errors import ApplicationError

from .selectors import actor_for, api_tokens_visible, memberships
from .services import api_token_create, api_token_revoke

EXPIRY_CHOICES = [("", "永不过期"), ("30", "30 天"), ("90", "90 天"), ("365", "一年")]


def _page(request: HttpRequest, *, error: str = "", created: tuple[Any, str] | None = None) -> HttpResponse:
    actor = actor_for(request.user)
    context = {
        "tokens": api_tokens_visible(actor=actor),
        "memberships": memberships(actor=actor),
        "expiry_choices": EXPIRY_CHOICES,
        "error": error,
        "created": created[0] if created else None,
        "plaintext": created[1] if created else "",
        "form": request.POST if error else {},
    }
    response = render(request, "accounts/tokens.html", context, status=400 if error else 200)
    if created:
        response["Cache-Control"] = "no-store"  # the plaintext must not sit in a cache
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    days = request.POST.get("expires_days", "")
    org = request.POST.get("organisation", "")
    try:
        if days not in {value for value, _ in EXPIRY_CHOICES} or (org and not org.isdigit()):
            raise ApplicationError("表单内容无效", code="form_invalid")
        token, plaintext = api_token_create(
            actor=actor_for(request.user),
            name=request.POST.get("name", ""),
            scopes=["read", *(["write"] if request.POST.get("write") else [])],
            organisation_id=int(org) if org else None,
            expires_at=timezone.now() + dt.timedelta(days=int(days)) if days else None,
        )
    except ApplicationError as exc:
        return _page(request, error=exc.message)
    return _page(request, created=(token, plaintext))


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    api_token_revoke(actor=actor_for(request.user), token_id=token_id)
    return redirect("accounts:tokens")
