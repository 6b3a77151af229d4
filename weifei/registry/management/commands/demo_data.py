from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from weifei.core.errors import ApplicationError
from weifei.registry.demo import (
    DEMO_PASSWORD,
    MAX_SCALE,
    REFERENCE_MISSING,
    demo_logins,
    demo_province_generate,
    demo_reference_ready,
)
from weifei.registry.models import Enterprise


class Command(BaseCommand):
    help = (
        "生成演示用的吉林省数据（单位、产废情况、车辆、经营许可证、监管与单位账户），"
        "同一 --seed 生成同样的数据。需先运行 weifei load-reference。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2021, help="随机种子（默认 2021）")
        parser.add_argument(
            "--scale", type=float, default=1.0, help=f"规模系数，1 约为 600 个单位（0 < S ≤ {MAX_SCALE:g}）"
        )
        parser.add_argument("--if-empty", action="store_true", help="库中已有单位时什么也不做")

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_reference_ready():
            raise CommandError(REFERENCE_MISSING)
        existing = Enterprise.objects.count()
        if existing and options["if_empty"]:
            self.stdout.write(f"库中已有 {existing} 个单位，未生成演示数据（--if-empty）。")
            return
        taken = list(
            get_user_model()
            .objects.filter(username__in=[x.username for x in demo_logins()])
            .values_list("username", flat=True)
        )
        if taken:
            raise CommandError(
                f"库中已有演示账户（{', '.join(sorted(taken)[:3])} 等），演示数据已经生成过。"
                "要重新生成，请换一个空库（例如设置 WEIFEI_VAR_DIR 后运行 weifei migrate 和 weifei load-reference），"
                "或加 --if-empty 跳过。"
            )
        started = time.perf_counter()
        try:
            summary = demo_province_generate(seed=options["seed"], scale=options["scale"])
        except ApplicationError as exc:
            raise CommandError(f"演示数据未生成（已全部回滚）：{exc.message}") from exc
        elapsed = time.perf_counter() - started
        out = self.stdout.write
        out(
            self.style.SUCCESS(f"演示数据已生成（seed {summary.seed}，scale {summary.scale:g}，用时 {elapsed:.1f} 秒）")
        )
        out(
            f"单位 {summary.enterprises} 个：产废单位 {summary.generators}，承运人 {summary.carriers}，"
            f"经营单位 {summary.operators}，收集单位 {summary.collectors}"
        )
        out(
            f"运输车辆 {summary.vehicles} 辆，经营许可证 {summary.licences} 份，"
            f"产废情况 {summary.profiles} 条（{summary.year} 年合计 {summary.tonnes:,.1f} 吨）"
        )
        out("各地单位数：" + "，".join(f"{name} {count}" for name, count in summary.per_group))
        out(f"台账记录 {summary.ledger_entries:,} 条（近 12 个月），申报 {summary.declarations} 份")
        out(
            f"电子转移联单 {summary.manifests:,} 张（对应台账的委外记录），"
            f"接受单位的接收与利用处置记录 {summary.intake_entries:,} 条"
        )
        out(
            f"账户：监管 {summary.regulator_accounts} 个，单位 {summary.enterprise_accounts} 个，"
            f"演示密码 {DEMO_PASSWORD}（仅限演示）。运行 weifei demo-logins 查看登录名。"
        )
