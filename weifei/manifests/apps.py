from django.apps import AppConfig


class ManifestsConfig(AppConfig):
    name = "weifei.manifests"
    label = "manifests"
    verbose_name = "电子转移联单"
