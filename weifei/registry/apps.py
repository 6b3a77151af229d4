from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "weifei.registry"
    verbose_name = "单位登记"
