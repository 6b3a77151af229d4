from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "weifei.exchange"
    verbose_name = "数据交换"
