"""Label pages at /labels/ (namespace ``labels``): the QR target and the scan page."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "labels"

urlpatterns: list[URLPattern] = []
