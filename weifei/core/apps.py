from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "weifei.core"
    verbose_name = "核心"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import workdays
        from .models import CalendarOverride

        def forget(**_kwargs: object) -> None:
            workdays.invalidate()

        post_save.connect(forget, sender=CalendarOverride, dispatch_uid="workdays-overrides-saved", weak=False)
        post_delete.connect(forget, sender=CalendarOverride, dispatch_uid="workdays-overrides-deleted", weak=False)
