from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "weifei.core"
    verbose_name = "核心"
