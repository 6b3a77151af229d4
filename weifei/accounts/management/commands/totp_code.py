from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from weifei.accounts import totp
from weifei.accounts.models import TotpDevice
from weifei.accounts.services import totp_device_secret


class Command(BaseCommand):
    help = (
        "演示环境专用：打印演示监管账户当前的 6 位动态口令（省去认证器应用）。"
        "只在 DEBUG 开启时可用，且只对以演示密钥绑定的账户（见 weifei demo-logins）。"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("totp-code 只能在开启 DEBUG 的演示环境使用")
        user = get_user_model().objects.filter(username=username).first()
        device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first() if user else None
        if device is None:
            raise CommandError(f"{username} 没有已绑定的动态口令设备（先运行 weifei demo-logins）")
        secret = totp_device_secret(device)
        if secret != totp.demo_secret(username):
            raise CommandError(f"{username} 不是以演示密钥绑定的账户，不能代为生成口令")
        now = timezone.now()
        remaining = totp.STEP_SECONDS - int(now.timestamp()) % totp.STEP_SECONDS
        self.stdout.write(f"{totp.code_at(secret, totp.time_step(now))}  （{remaining} 秒内有效）")
