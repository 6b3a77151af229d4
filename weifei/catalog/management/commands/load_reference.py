from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from weifei.catalog.services import reference_load


class Command(BaseCommand):
    help = "载入内置参考数据（名录2021、豁免清单、利用处置方式、吉林省行政区域），可重复执行。"

    def handle(self, *args: Any, **options: Any) -> None:
        counts = reference_load()
        self.stdout.write("参考数据已载入：" + "，".join(f"{k} {v}" for k, v in counts.items()))
