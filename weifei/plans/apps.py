from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "weifei.plans"
    verbose_name = "管理计划"
