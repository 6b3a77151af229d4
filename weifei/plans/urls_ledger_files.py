"""Pages of this capability, included from `weifei/plans/urls.py` under /plans/ (namespace `plans`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views_ledger_files as views

urlpatterns: list[URLPattern] = [
    path("", views.ledger_files_index, name="ledger_files_index"),
    path("template/", views.ledger_files_template, name="ledger_files_template"),
    path("export/", views.ledger_files_export, name="ledger_files_export"),
]
