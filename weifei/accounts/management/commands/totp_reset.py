from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from weifei.accounts.services import totp_device_reset
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError


class Command(BaseCommand):
    help = "重置用户的动态口令设备（如手机遗失）；该用户下次登录时重新绑定。须说明原因，记入事件日志。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="重置原因（记入事件日志）")

    def handle(self, *args: Any, username: str, reason: str, **options: Any) -> None:
        try:
            totp_device_reset(actor=SYSTEM, username=username, reason=reason)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"已重置 {username} 的动态口令设备；下次登录时重新绑定。")
