"""``weifei catalogue stats --version 2021`` and ``weifei catalogue load ...``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from weifei.catalog.models import CatalogueVersion, Category, CodeMapping, ExemptionItem, WasteCode
from weifei.catalog.services import catalogue_version_load
from weifei.core.errors import ApplicationError


class Command(BaseCommand):
    help = "危险废物名录版本：统计（stats）与载入（load）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        stats = sub.add_parser("stats", help="统计一个名录版本")
        stats.add_argument("--version", dest="catalogue_version", required=True)
        load = sub.add_parser("load", help="从 CSV（与名录2021相同的列）载入一个名录版本")
        load.add_argument("--version", dest="catalogue_version", required=True, help="版本键，如 2025")
        load.add_argument("--name", required=True, help="如 国家危险废物名录（2025年版）")
        load.add_argument("--effective-from", required=True, help="施行日期 YYYY-MM-DD")
        load.add_argument("--csv", required=True)
        load.add_argument("--legal-basis", default="")
        load.add_argument("--source", default="")
        load.add_argument("--mapping", help="代码对照 CSV：from_code,to_code,relation,note")
        load.add_argument("--mapping-from", help="对照表的源版本键，如 2021")
        sub.add_parser("list", help="列出已载入的版本")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "stats":
            self._stats(options["catalogue_version"])
        elif action == "list":
            for v in CatalogueVersion.objects.annotate(n=Count("codes")).order_by("effective_from"):
                self.stdout.write(f"{v.key}\t{v.effective_from}\t{v.n}\t{v.name}")
        else:
            self._load(options)

    def _stats(self, key: str) -> None:
        version = CatalogueVersion.objects.filter(key=key).first()
        if version is None:
            raise CommandError(f"名录版本 {key} 尚未载入（先运行 weifei load-reference）")
        codes = WasteCode.objects.filter(version=version)
        self.stdout.write(f"version: {version.key} {version.name}")
        self.stdout.write(f"effective_from: {version.effective_from}")
        self.stdout.write(f"codes: {codes.count()}")
        self.stdout.write(f"categories: {Category.objects.filter(version=version).count()}")
        self.stdout.write(f"industry_900: {codes.filter(code__startswith='900-').count()}")
        items = ExemptionItem.objects.filter(version=version)
        self.stdout.write(f"exemption_items: {items.values('seq').distinct().count()} ({items.count()} rows)")
        self.stdout.write(f"mappings_from: {CodeMapping.objects.filter(from_version=version).count()}")

    def _load(self, options: dict[str, Any]) -> None:
        try:
            effective_from = dt.date.fromisoformat(options["effective_from"])
        except ValueError:
            raise CommandError("--effective-from 应为日期 YYYY-MM-DD") from None
        try:
            report = catalogue_version_load(
                key=options["catalogue_version"],
                name=options["name"],
                effective_from=effective_from,
                csv_path=Path(options["csv"]),
                legal_basis=options["legal_basis"],
                source=options["source"],
                mapping_path=Path(options["mapping"]) if options.get("mapping") else None,
                mapping_from=options.get("mapping_from"),
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"已载入 {options['catalogue_version']}：新增 {report.created}，"
            f"更新 {report.updated}，不变 {report.unchanged}"
        )
