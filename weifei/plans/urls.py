from django.urls import include, path

from . import views

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="list"),
    path("new/", views.plan_new, name="new"),
    path("<int:plan_id>/", views.plan_detail, name="detail"),
    path("<int:plan_id>/lines/", views.line_add, name="line_add"),
    path("<int:plan_id>/lines/<int:line_id>/remove/", views.line_remove, name="line_remove"),
    path("<int:plan_id>/file/", views.plan_file, name="file"),
    path("<int:plan_id>/change/", views.plan_change, name="change"),
    path("<int:plan_id>/review/", views.plan_review, name="review"),
    path("<int:plan_id>/receipt/", views.receipt, name="receipt"),
    path("ledger/", include("weifei.plans.urls_ledger")),
    path("ledger/files/", include("weifei.plans.urls_ledger_files")),
    path("stock/", include("weifei.plans.urls_stock")),
    path("declarations/", include("weifei.plans.urls_declarations")),
    path("print/", include("weifei.plans.urls_print")),
]
