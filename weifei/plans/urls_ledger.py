"""Ledger (管理台账) pages, included from `weifei/plans/urls.py` under /plans/ledger/ (namespace `plans`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views_ledger as views

urlpatterns: list[URLPattern] = [
    path("", views.ledger_list, name="ledger_list"),
    path("sites/<int:site_id>/new/<str:kind>/", views.ledger_new, name="ledger_new"),
    path("entries/<int:entry_id>/", views.ledger_entry, name="ledger_entry"),
    path("entries/<int:entry_id>/reverse/", views.ledger_reverse, name="ledger_reverse"),
]
