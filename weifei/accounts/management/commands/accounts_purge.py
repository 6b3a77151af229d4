from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from weifei.accounts.tasks import purge_expired


class Command(BaseCommand):
    help = "删除过期的幂等记录（24 小时）和已无意义的登录失败计数。可由定时任务每小时运行。"

    def handle(self, *args: Any, **options: Any) -> None:
        counts = purge_expired()
        self.stdout.write(
            f"已删除幂等记录 {counts['idempotency_records']} 条，登录失败计数 {counts['login_throttles']} 条。"
        )
