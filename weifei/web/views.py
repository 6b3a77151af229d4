"""Pages of the shell: landing, login, the role-specific home pages and the dashboard."""

from __future__ import annotations

import json

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from weifei.accounts.selectors import actor_for, memberships, regulator_assignment
from weifei.core.errors import PermissionDenied
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
    template_name = "web/login.html"
    redirect_authenticated_user = True


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
