"""/account/tokens/: a person's API tokens — create (the plaintext shown once), list, revoke.
/account/enterprises/<id>/members/: a unit's members and invitations (its administrators manage
them); /account/invitations/<token>/: where the invited person joins (or first creates an account)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from weifei.core.errors import ApplicationError
from weifei.registry.selectors import enterprise_get

from . import services
from .models import Membership
from .selectors import (
    actor_for,
    api_tokens_visible,
    invitation_by_token,
    invitation_get,
    invitations_of,
    is_enterprise_admin,
    members_of,
    membership_get,
    memberships,
)
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


# ---- members and invitations ----------------------------------------------------------------

INVITATION_DAY_CHOICES = [("7", "7 天"), ("3", "3 天"), ("1", "1 天"), ("30", "30 天")]


def _refusal_message(exc: ApplicationError) -> dict[str, str]:
    """A refusal the person can act on stays on the page; 403/404 become the error page."""
    if exc.status in (401, 403, 404):
        raise exc
    return {exc.field or "form": exc.message}


def _members_page(
    request: HttpRequest, enterprise_id: int, *, errors: dict[str, str] | None = None, link: str = ""
) -> HttpResponse:
    actor = actor_for(request.user)
    enterprise = enterprise_get(actor=actor, enterprise_id=enterprise_id)
    admin = is_enterprise_admin(actor, enterprise.id)
    context = {
        "e": enterprise,
        "members": members_of(actor=actor, enterprise_id=enterprise.id),
        "invitations": invitations_of(actor=actor, enterprise_id=enterprise.id) if admin else [],
        "can_manage": admin and not actor.read_only,
        "me": actor.user_id,
        "roles": Membership.Role.choices,
        "day_choices": INVITATION_DAY_CHOICES,
        "errors": errors or {},
        "form": request.POST if errors else {},
        "link": link,
    }
    response = render(request, "accounts/members.html", context, status=400 if errors else 200)
    if link:
        response["Cache-Control"] = "no-store"  # the invitation link must not sit in a cache
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    """The members of a unit (its members and its regulators see them); its administrators
    change roles, remove members and invite (POST here: the link is shown once)."""
    if request.method == "GET":
        return _members_page(request, enterprise_id)
    days = request.POST.get("expires_in_days", "7")
    try:
        if days not in {value for value, _ in INVITATION_DAY_CHOICES}:
            raise ApplicationError("请选择邀请有效期", code="expires_in_days_invalid", field="expires_in_days")
        _invitation, plaintext = services.invitation_create(
            actor=actor_for(request.user),
            enterprise_id=enterprise_id,
            role=request.POST.get("role", ""),
            email_or_username_hint=request.POST.get("email_or_username_hint", ""),
            expires_in_days=int(days),
        )
    except ApplicationError as exc:
        return _members_page(request, enterprise_id, errors=_refusal_message(exc))
    link = request.build_absolute_uri(reverse("accounts:invitation", args=[plaintext]))
    return _members_page(request, enterprise_id, link=link)


def _back_to_members(request: HttpRequest, enterprise_id: int, *, done: str = "") -> HttpResponse:
    """To the members page, or — for an admin who just left the unit or gave up the role — to
    their home page (which shows no messages, so none is queued for a later page)."""
    if not is_enterprise_admin(actor_for(request.user), enterprise_id):
        return redirect("web:home")
    if done:
        messages.success(request, done)
    return redirect("accounts:members", enterprise_id=enterprise_id)


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    enterprise_id = membership_get(actor=actor, membership_id=membership_id).enterprise_id
    try:
        m = services.membership_change_role(actor=actor, membership_id=membership_id, role=request.POST.get("role", ""))
    except ApplicationError as exc:
        messages.error(request, next(iter(_refusal_message(exc).values())))
        return _back_to_members(request, enterprise_id)
    return _back_to_members(
        request, enterprise_id, done=f"{m.user.get_username()} 的角色已改为{m.get_role_display()}。"
    )


@login_required
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    m = membership_get(actor=actor, membership_id=membership_id)
    try:
        services.membership_remove(actor=actor, membership_id=membership_id)
    except ApplicationError as exc:
        messages.error(request, next(iter(_refusal_message(exc).values())))
        return _back_to_members(request, m.enterprise_id)
    done = f"已将 {m.user.get_username()} 移出本单位，其代表本单位的 API 令牌已撤销。"
    return _back_to_members(request, m.enterprise_id, done=done)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    enterprise_id = invitation_get(actor=actor, invitation_id=invitation_id).enterprise_id
    try:
        services.invitation_revoke(actor=actor, invitation_id=invitation_id)
    except ApplicationError as exc:
        messages.error(request, next(iter(_refusal_message(exc).values())))
    else:
        messages.success(request, "邀请已撤销。")
    return redirect("accounts:members", enterprise_id=enterprise_id)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: a logged-in person joins with one click; somebody without an
    account creates one here (and is logged in). Anybody holding the link may open it."""
    found = invitation_by_token(token)
    user = request.user if request.user.is_authenticated else None
    refusal = services.invitation_refusal(found, user=user)
    if found is None:
        assert refusal is not None
        raise refusal  # 404 page: an unknown link says nothing more
    errors: dict[str, str] = {}
    if request.method == "POST" and refusal is None:
        try:
            if user is not None:
                membership = services.invitation_accept(token=token, user=user)
            else:
                membership = services.invitation_accept_new_user(
                    token=token,
                    username=request.POST.get("username", ""),
                    password=request.POST.get("password", ""),
                    full_name=request.POST.get("full_name", ""),
                )
                login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
        except ApplicationError as exc:
            errors = _refusal_message(exc)
        else:
            messages.success(request, f"已加入{found.enterprise.name}，角色：{membership.get_role_display()}。")
            return redirect("registry:detail", enterprise_id=found.enterprise_id)
    elif request.method == "POST" and refusal is not None and refusal.status in (401, 403, 404):
        raise refusal
    context = {
        "invitation": found,
        "refusal": refusal.message if refusal is not None else "",
        "errors": errors,
        "form": request.POST if errors else {},
    }
    status = 400 if request.method == "POST" and (errors or refusal is not None) else 200
    return render(request, "accounts/invitation.html", context, status=status)
