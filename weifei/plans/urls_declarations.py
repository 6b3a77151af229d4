"""Declaration pages, included from `weifei/plans/urls.py` under /plans/declarations/ (namespace `plans`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views_declarations as v

urlpatterns: list[URLPattern] = [
    path("", v.declaration_index, name="declaration_index"),
    path("generate/", v.declaration_generate, name="declaration_generate"),
    path("mandates/", v.declaration_mandates, name="declaration_mandates"),
    path("mandates/new/", v.declaration_mandate_create, name="declaration_mandate_create"),
    path("mandates/<int:mandate_id>/approve/", v.declaration_mandate_approve, name="declaration_mandate_approve"),
    path("mandates/<int:mandate_id>/revoke/", v.declaration_mandate_revoke, name="declaration_mandate_revoke"),
    path("<int:declaration_id>/", v.declaration_detail, name="declaration_detail"),
    path("<int:declaration_id>/submit/", v.declaration_submit, name="declaration_submit"),
    path("<int:declaration_id>/correct/", v.declaration_correct, name="declaration_correct"),
    path("<int:declaration_id>/export/", v.declaration_export, name="declaration_export"),
]
