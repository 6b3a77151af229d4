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
        ledger = reverse("plans:ledger_list")
        stock = reverse("plans:stock_index")
        declarations = reverse("plans:declaration_index")
        in_plans = path.startswith(plans) and not path.startswith((ledger, stock, declarations))
        items.append((_("管理计划"), plans, in_plans))
        items.append((_("台账"), ledger, path.startswith(ledger)))
        items.append((_("库存"), stock, path.startswith(stock)))
        items.append((_("申报"), declarations, path.startswith(declarations)))
        manifests = reverse("manifests:list")
        items.append((_("转移联单"), manifests, path.startswith(manifests)))
        approvals = reverse("approvals:list")
        items.append((_("跨省转移"), approvals, path.startswith(approvals)))
        tokens = reverse("accounts:tokens")
        items.append((_("API 令牌"), tokens, path.startswith(tokens)))
    labels = reverse("labels:scan")
    items.append((_("标签核验"), labels, path.startswith(labels)))
    catalog = reverse("catalog:search")
    items.append((_("名录查询"), catalog, path.startswith(catalog)))
    return {"nav_items": items}
