"""Navigation shown in the base layout, by who is looking."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    path = request.path
    items = [(_("首页"), reverse("web:landing"), path == "/")]
    if user is not None and user.is_authenticated:
        workbench = (reverse("web:home"), reverse("web:dashboard"), reverse("web:enterprise_home"))
        items.append((_("工作台"), reverse("web:home"), path.startswith(workbench)))
        registry = reverse("registry:list")
        items.append((_("单位登记"), registry, path.startswith(registry)))
        plans = reverse("plans:list")
        items.append((_("管理计划"), plans, path.startswith(plans)))
        tokens = reverse("accounts:tokens")
        items.append((_("API 令牌"), tokens, path.startswith(tokens)))
    catalog = reverse("catalog:search")
    items.append((_("名录查询"), catalog, path.startswith(catalog)))
    return {"nav_items": items}
