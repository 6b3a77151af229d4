"""Label pages at /labels/ (namespace ``labels``): the scan page, the QR target and the label PDF."""

from __future__ import annotations

from django.urls import path

from . import views_labels

app_name = "labels"

urlpatterns = [
    path("", views_labels.label_scan, name="scan"),
    path("<str:code>/", views_labels.label_detail, name="detail"),
    path("<str:code>/label.pdf", views_labels.label_pdf_view, name="pdf"),
]
