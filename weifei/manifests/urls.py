"""Manifest pages at /manifests/ (namespace ``manifests``)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "manifests"

urlpatterns = [
    path("", views.manifest_list, name="list"),
    path("new/", views.manifest_new, name="new"),
    path("road/<str:token>/", views.manifest_road, name="road"),
    path("<int:manifest_id>/", views.manifest_detail, name="detail"),
    path("<int:manifest_id>/events/<str:event>/", views.manifest_event, name="event"),
    path("<int:manifest_id>/driver/", views.manifest_driver, name="driver"),
    path("<int:manifest_id>/receive/", views.manifest_receive, name="receive"),
    path("<int:manifest_id>/pdf", views.manifest_pdf_view, name="pdf"),
    path("<int:manifest_id>/road-link/", views.manifest_road_link, name="road_link"),
    path("<int:manifest_id>/road-links/", views.manifest_road_links, name="road_links"),
    path(
        "<int:manifest_id>/road-links/<int:link_id>/revoke/",
        views.manifest_road_link_revoke,
        name="road_link_revoke",
    ),
]
