from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("", views.registry_list, name="list"),
    path("register/", views.register, name="register"),
    path("verification/", views.verification_queue, name="verification"),
    path("enterprises/<int:enterprise_id>/", views.enterprise_detail, name="detail"),
    path("enterprises/<int:enterprise_id>/verify/", views.verify, name="verify"),
    path("enterprises/<int:enterprise_id>/sites/new/", views.site_new, name="site_new"),
    path("enterprises/<int:enterprise_id>/vehicles/new/", views.vehicle_new, name="vehicle_new"),
    path("sites/<int:site_id>/class/", views.class_override, name="class_override"),
    path("vehicles/<int:vehicle_id>/registration/", views.vehicle_decide, name="vehicle_decide"),
]
