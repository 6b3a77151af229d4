from django.contrib import admin
from django.urls import include, path

from weifei.api import api
from weifei.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("catalog/", include("weifei.catalog.urls")),
    path("account/", include("weifei.accounts.urls")),
    path("registry/", include("weifei.registry.urls")),
    path("plans/", include("weifei.plans.urls")),
    path("labels/", include("weifei.plans.urls_labels")),
    path("approvals/", include("weifei.approvals.urls")),
    path("notifications/", include("weifei.notify.urls")),
    path("manifests/", include("weifei.manifests.urls")),
    path("", include("weifei.web.urls")),
]

handler404 = "weifei.web.views.not_found"
handler500 = "weifei.web.views.server_error"
