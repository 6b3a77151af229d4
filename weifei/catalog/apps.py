from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "weifei.catalog"
    verbose_name = "名录与参考数据"
