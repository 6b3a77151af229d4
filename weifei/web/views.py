"""Pages of the shell: landing, login, the role-specific home pages and the dashboard."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from weifei.accounts import totp
from weifei.accounts.selectors import (
    actor_for,
    login_locked_until,
    memberships,
    regulator_assignment,
    second_factor_required,
    totp_device_confirmed,
)
from weifei.accounts.services import (
    AccountLocked,
    totp_enrolment_confirm,
    totp_enrolment_start,
    totp_verify,
)
from weifei.accounts.sessions import pending_login, pending_login_clear, pending_login_start, session_login
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.registry.selectors import enterprises_per_prefecture, enterprises_visible

from .selectors import catalogue_size


def landing(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    rows = enterprises_per_prefecture(actor=actor)
    return render(
        request,
        "web/landing.html",
        {
            "catalogue_size": catalogue_size(actor=actor),
            "enterprise_total": sum(int(r["count"]) for r in rows),  # type: ignore[call-overload]
            "prefecture_count": sum(1 for r in rows if r["code"]),
        },
    )


class WeifeiLoginView(LoginView):
    """Step one: user name and password. Regulators go on to the code (step two) without being
    logged in yet; everyone else is logged in here."""

    template_name = "web/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if second_factor_required(user):
            pending_login_start(self.request, user, next_url=self.get_success_url())
            return redirect("web:login_totp")
        session_login(self.request, user, backend=user.backend, second_factor="none")
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = context["form"]
        error = ""
        if form.errors:
            # One message for an unknown user name and a wrong password; the lock message
            # likewise appears for both (the counter is kept per name as typed).
            locked_until = login_locked_until(username=form.data.get("username", ""))
            error = AccountLocked(locked_until).message if locked_until else _("用户名或密码不正确，请重新输入。")
        elif self.request.GET.get("expired"):
            error = _("登录已超时（须在 5 分钟内输入动态口令），请重新输入用户名和密码。")
        context["login_error"] = error
        return context


def _second_step(request: HttpRequest, template: str) -> tuple[Any, dict[str, Any]] | HttpResponse:
    """The pending login, or the answer when there is none (expired) or the account is locked."""
    pending = pending_login(request)
    if pending is None:
        return redirect(reverse("web:login") + "?expired=1")
    locked_until = login_locked_until(username=pending[0].get_username())
    if locked_until is not None:
        pending_login_clear(request)
        return render(request, template, {"error": AccountLocked(locked_until).message, "locked": True}, status=403)
    return pending


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_totp(request: HttpRequest) -> HttpResponse:
    """Step two for regulators: the 6-digit code from the authenticator app."""
    pending = _second_step(request, "web/login_totp.html")
    if isinstance(pending, HttpResponse):
        return pending
    user, state = pending
    if totp_device_confirmed(user) is None:
        return redirect("web:login_totp_enrol")
    error, locked = "", False
    if request.method == "POST":
        try:
            totp_verify(user=user, code=request.POST.get("code", ""))
        except AccountLocked as exc:
            pending_login_clear(request)
            error, locked = exc.message, True
        except ApplicationError as exc:
            error = exc.message
        else:
            session_login(request, user, backend=state["backend"], second_factor="totp")
            return HttpResponseRedirect(state["next"])
    status = 403 if locked else 200
    return render(request, "web/login_totp.html", {"error": error, "locked": locked}, status=status)


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_totp_enrol(request: HttpRequest) -> HttpResponse:
    """A regulator without a confirmed device: show the new secret, confirm it with a code."""
    pending = _second_step(request, "web/login_totp_enrol.html")
    if isinstance(pending, HttpResponse):
        return pending
    user, state = pending
    if totp_device_confirmed(user) is not None:
        return redirect("web:login_totp")
    error, locked = "", False
    if request.method == "POST":
        try:
            totp_enrolment_confirm(user=user, code=request.POST.get("code", ""))
        except AccountLocked as exc:
            pending_login_clear(request)
            error, locked = exc.message, True
        except ApplicationError as exc:
            error = exc.message
        else:
            session_login(request, user, backend=state["backend"], second_factor="totp")
            return HttpResponseRedirect(state["next"])
    context: dict[str, Any] = {"error": error, "locked": locked}
    if not locked:
        _device, secret = totp_enrolment_start(user=user)
        context.update(
            secret=secret,
            secret_grouped=totp.grouped(secret),
            uri=totp.provisioning_uri(secret, username=user.get_username()),
        )
    return render(request, "web/login_totp_enrol.html", context, status=403 if locked else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:landing")


@login_required
def home(request: HttpRequest) -> HttpResponseRedirect:
    """Each account lands on its own page: regulators on the dashboard, units on their home."""
    actor = actor_for(request.user)
    if actor.is_regulator:
        return redirect("web:dashboard")
    if actor.enterprise_ids:
        return redirect("web:enterprise_home")
    if request.user.is_staff:
        return redirect("admin:index")
    return redirect("web:landing")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    if not actor.is_regulator:
        raise PermissionDenied("只有监管部门账户可以查看监管驾驶舱")
    assignment = regulator_assignment(actor=actor)
    rows = enterprises_per_prefecture(actor=actor)
    return render(
        request,
        "web/dashboard.html",
        {
            "assignment": assignment,
            "rows": rows,
            "rows_json": json.dumps(rows, ensure_ascii=False),
            "enterprise_total": sum(int(r["count"]) for r in rows),  # type: ignore[call-overload]
            "catalogue_size": catalogue_size(actor=actor),
            "geojson_url": "web/geo/jilin-prefectures.geojson",
        },
    )


@login_required
def enterprise_home(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    if actor.kind != "enterprise" or not actor.enterprise_ids:
        raise PermissionDenied("只有单位账户可以查看单位工作台")
    units = enterprises_visible(actor=actor).prefetch_related("vehicles", "licences", "generation")
    return render(request, "web/enterprise_home.html", {"units": units, "memberships": memberships(actor=actor)})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "web/error.html", {"status": 404, "message": "您访问的页面不存在。"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "web/error.html", {"status": 500, "message": "系统出错，已记录，请稍后重试。"}, status=500)
