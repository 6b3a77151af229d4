"""Pages of this capability, included from `weifei/plans/urls.py` under /plans/ (namespace `plans`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views_stock

urlpatterns: list[URLPattern] = [
    path("", views_stock.stock_index, name="stock_index"),
    path("sites/<int:site_id>/", views_stock.stock_site, name="stock_site"),
]
