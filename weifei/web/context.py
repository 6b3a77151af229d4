"""Navigation shown in the base layout, by who is looking."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    items = [(_("首页"), reverse("web:landing")), (_("名录查询"), reverse("catalog:search"))]
    if user is not None and user.is_authenticated:
        items.insert(1, (_("工作台"), reverse("web:home")))
    return {"nav_items": items}
