"""``weifei export --type enterprise [--type site …] | --all [--output FILE] [--as USERNAME]``."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.exchange.exporter import export_jsonl, export_workbook
from weifei.exchange.records import RECORD_TYPES
from weifei.exchange.sources import actor_by_username


class Command(BaseCommand):
    help = "按数据交换格式 v1 导出登记记录（JSON Lines；--output 以 .xlsx 结尾时导出 Excel 工作簿）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type", action="append", choices=list(RECORD_TYPES), dest="types", help="记录类型，可重复"
        )
        parser.add_argument("--all", action="store_true", help="导出全部记录类型")
        parser.add_argument("--output", default="-", help="输出文件（默认标准输出）；.xlsx 为 Excel 工作簿")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME", help="只导出该用户可见的记录（默认系统，全部）")

    def handle(self, *args: Any, **options: Any) -> None:
        types = list(RECORD_TYPES) if options["all"] else (options["types"] or [])
        if not types:
            raise CommandError("请用 --type 指定记录类型，或用 --all 导出全部类型")
        try:
            actor = actor_by_username(options["as_user"]) if options["as_user"] else SYSTEM
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        output = options["output"]
        if output.lower().endswith(".xlsx"):
            counts = export_workbook(output, actor=actor, types=types)
        elif output == "-":
            try:
                counts = export_jsonl(self.stdout, actor=actor, types=types)  # type: ignore[arg-type]
            except BrokenPipeError:  # `weifei export … | head`: the reader has what it wanted
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
                return
        else:
            with open(output, "w", encoding="utf-8", newline="\n") as handle:
                counts = export_jsonl(handle, actor=actor, types=types)
        summary = "、".join(f"{RECORD_TYPES[name].label} {counts[name]}" for name in RECORD_TYPES if name in types)
        if output != "-":
            self.stdout.write(f"已导出到 {output}：{summary}")
        else:
            sys.stderr.write(f"已导出：{summary}\n")
