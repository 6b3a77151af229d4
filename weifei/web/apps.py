from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "weifei.web"
    verbose_name = "页面"
