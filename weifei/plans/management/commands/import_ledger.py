"""``weifei import-ledger FILE [--site ID] [--as USERNAME] [--dry-run] [--json]``: ledger records
from an .xlsx or .csv file in the template's layout, all or nothing (docs/ledger-import.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.exchange.sources import actor_by_username
from weifei.plans.ledger_import import ledger_file_import


class Command(BaseCommand):
    help = "导入危险废物管理台账记录（Excel 或 CSV，导入模板的列）；有任何错误则整个文件不导入并列出全部错误。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=".xlsx 或 .csv 文件")
        parser.add_argument("--site", type=int, help="场所编号；不填则每行须填写“场所编号”列")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME", help="以该用户身份导入（默认以系统身份）")
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        path = Path(options["file"])
        try:
            actor = actor_by_username(options["as_user"]) if options["as_user"] else SYSTEM
            data = path.read_bytes()
            outcome = ledger_file_import(
                actor=actor, data=data, file_name=path.name, site_id=options["site"], dry_run=options["dry_run"]
            )
        except OSError as exc:
            raise CommandError(f"无法读取 {path}：{exc.strerror}") from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        outcome.seconds["total"] = round(time.perf_counter() - started, 2)
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_dict(), ensure_ascii=False))
        else:
            for e in outcome.errors:
                self.stdout.write(f"第 {e['row']} 行 {e['column'] or e['field']}：{e['message']} ({e['code']})")
            state = "试运行，未写入" if outcome.dry_run else "已写入"
            if not outcome.refused:
                self.stdout.write(f"{outcome.imported} 条台账记录（{state}），用时 {outcome.seconds}")
        if outcome.refused:
            raise CommandError(f"文件未导入：{outcome.error_count} 处错误", returncode=1)
