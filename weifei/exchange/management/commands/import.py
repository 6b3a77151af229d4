"""``weifei import FILE [--dry-run] [--partial] [--as USERNAME] [--json]``.

(The module is named ``import``: Django finds commands by file name and loads them with
``importlib.import_module``, which takes the keyword-named module as a plain string.)
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.exchange.importer import import_records
from weifei.exchange.sources import actor_by_username, read_path


class Command(BaseCommand):
    help = (
        "导入数据交换格式 v1 的记录（JSON Lines 或 Excel 模板）。默认先检查整个文件，有任何错误则"
        "整个文件不导入并列出全部错误（行、字段、规则）；记录已存在且内容相同则不作改动。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON Lines 文件、Excel 工作簿（.xlsx），或 - 读标准输入")
        parser.add_argument("--dry-run", action="store_true", help="只检查并报告将要写入的内容，不写入")
        parser.add_argument("--partial", action="store_true", help="写入没有错误的记录，报告其余记录的错误")
        parser.add_argument(
            "--as", dest="as_user", metavar="USERNAME", help="以该用户身份导入（默认以系统身份）；权限同页面和接口"
        )
        parser.add_argument("--json", action="store_true", help="以 JSON 输出报告")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            actor = actor_by_username(options["as_user"]) if options["as_user"] else SYSTEM
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        try:
            records, problems = read_path(options["file"])
        except OSError as exc:
            raise CommandError(f"无法读取 {options['file']}：{exc.strerror}") from None
        read_s = round(time.perf_counter() - started, 2)
        report = import_records(records, problems, actor=actor, partial=options["partial"], dry_run=options["dry_run"])
        elapsed = time.perf_counter() - started
        if options["json"]:
            seconds = {"read": read_s, **report.seconds, "total": round(elapsed, 2)}
            self.stdout.write(json.dumps({**report.as_dict(), "seconds": seconds}, ensure_ascii=False))
        else:
            for problem in report.problems:
                self.stdout.write(str(problem))
            self.stdout.write(f"{report.summary()}（{elapsed:.1f} 秒）")
        if report.refused:
            raise CommandError(f"文件未导入：{len(report.problems)} 处错误", returncode=1)
        if report.problems:
            raise CommandError(f"部分导入：{len(report.problems)} 处错误的记录未导入", returncode=2)
