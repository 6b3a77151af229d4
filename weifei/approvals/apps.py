from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "weifei.approvals"
    verbose_name = "跨省转移审批"
    default_auto_field = "django.db.models.BigAutoField"
