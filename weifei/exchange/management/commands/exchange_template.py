"""``weifei exchange-template [--output registry.xlsx] [--type enterprise …]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from weifei.exchange.excel import workbook_write
from weifei.exchange.records import RECORD_TYPES


class Command(BaseCommand):
    help = "生成登记数据上传用的 Excel 模板（每种记录一个工作表，另有字段说明表）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", default="registry.xlsx", help="输出文件（默认 registry.xlsx）")
        parser.add_argument(
            "--type", action="append", choices=list(RECORD_TYPES), dest="types", help="只包含这些记录类型，可重复"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        types = [name for name in RECORD_TYPES if not options["types"] or name in options["types"]]
        workbook_write(options["output"], None, types=types)
        self.stdout.write(f"已生成模板 {options['output']}：{'、'.join(types)}")
