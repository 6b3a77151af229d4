"""Printing pages, included from `weifei/plans/urls.py` under /plans/print/ (namespace `plans`)."""

from __future__ import annotations

from django.urls import path

from . import views_print

urlpatterns = [
    path("labels/", views_print.print_labels, name="print_labels"),
    path("plans/<int:plan_id>/receipt.pdf", views_print.print_receipt, name="print_receipt"),
]
