from __future__ import annotations

import unicodedata
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from weifei.accounts import totp
from weifei.accounts.models import Membership, RegulatorAssignment
from weifei.accounts.services import totp_demo_enrol
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.registry.demo import DEMO_PASSWORD, demo_logins

ROLE_LABELS = {
    "regulator": "监管部门",
    "liaison": "联络（只读）",
    **{value: f"单位{label}" for value, label in Membership.Role.choices},
}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = (
        "列出演示账户：用户名、密码、身份、登录后进入的页面，以及监管账户的动态口令密钥（仅限演示库）。"
        "尚未绑定动态口令的演示监管账户会用演示专用密钥绑定（只对仍使用演示密码的账户）。"
    )

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_logins()
        users = {u.username: u for u in get_user_model().objects.filter(username__in=[x.username for x in logins])}
        if not users:
            raise CommandError("库中没有演示账户。请先运行 weifei load-reference 和 weifei demo-data")
        assignments = {
            a.user_id: a for a in RegulatorAssignment.objects.select_related("region").filter(user__in=users.values())
        }
        memberships = {
            m.user_id: m for m in Membership.objects.select_related("enterprise").filter(user__in=users.values())
        }
        rows = [("用户名", "密码", "角色", "单位 / 辖区", "登录后进入", "动态口令密钥")]
        for login in logins:
            user = users.get(login.username)
            if user is None:
                continue
            who = login.who
            if user.pk in assignments:
                who = assignments[user.pk].department
            elif user.pk in memberships:
                who = memberships[user.pk].enterprise.name
            role = ROLE_LABELS.get(login.role, login.role)
            rows.append((login.username, login.password, role, who, login.landing, self._secret(user, assignments)))
        widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
        for n, row in enumerate(rows):
            self.stdout.write("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        missing = [x.username for x in logins if x.username not in users]
        if missing:
            self.stdout.write(self.style.WARNING(f"未找到的演示账户：{', '.join(missing)}"))
        self.stdout.write(f"所有演示账户的密码都是 {DEMO_PASSWORD}。仅用于演示数据库，切勿在真实部署中使用。")
        self.stdout.write(
            "监管账户登录还须输入动态口令：把上表的密钥加入认证器应用（TOTP，6 位，30 秒），"
            "或在开启 DEBUG 的演示环境运行 weifei totp-code 用户名 查看当前口令。"
        )

    def _secret(self, user: Any, assignments: dict[int, RegulatorAssignment]) -> str:
        """Regulators need a TOTP device: enrol demo ones with the re-derivable demo secret."""
        if user.pk not in assignments:
            return ""
        try:
            return totp.grouped(totp_demo_enrol(actor=SYSTEM, user=user))
        except ApplicationError as exc:
            return f"（{exc.message}）"
