from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "weifei.notify"
    label = "notify"
    verbose_name = "通知与 Webhook"
