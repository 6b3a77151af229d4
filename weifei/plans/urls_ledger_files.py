"""Pages of this capability, included from `weifei/plans/urls.py` under /plans/ (namespace `plans`)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
