from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("login/", views.WeifeiLoginView.as_view(), name="login"),
    path("login/totp/", views.login_totp, name="login_totp"),
    path("login/totp/enrol/", views.login_totp_enrol, name="login_totp_enrol"),
    path("logout/", views.logout_view, name="logout"),
    path("home/", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("enterprise/", views.enterprise_home, name="enterprise_home"),
]
