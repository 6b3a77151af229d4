"""Pages of cross-province approvals, included from weifei/urls.py under /approvals/."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views

app_name = "approvals"

urlpatterns: list[URLPattern] = [
    path("", views.application_list, name="list"),
    path("new/", views.application_new, name="new"),
    path("queue/", views.queue, name="queue"),
    path("whitelist/", views.whitelist, name="whitelist"),
    path("whitelist/<int:entry_id>/revoke/", views.whitelist_revoke, name="whitelist_revoke"),
    path("incoming/", views.incoming_list, name="incoming"),
    path("incoming/<int:incoming_id>/", views.incoming_detail, name="incoming_detail"),
    path("incoming/<int:incoming_id>/reply/", views.incoming_reply, name="incoming_reply"),
    path("<int:application_id>/", views.application_detail, name="detail"),
    path("<int:application_id>/submit/", views.application_submit, name="submit"),
    path("<int:application_id>/withdraw/", views.application_withdraw, name="withdraw"),
    path("<int:application_id>/attachments/", views.attachment_upload, name="attachment"),
    path("<int:application_id>/act/", views.application_act, name="act"),
]
