"""``weifei audit verify [--stream KEY]`` and ``weifei audit root``."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from weifei.core.chain import chain_root_create, chain_verify
from weifei.core.models import Event, EventStream


class Command(BaseCommand):
    help = "事件记录审计：校验 SM3 哈希链（verify），生成链根（root）。"
    requires_system_checks: list[str] = []  # an audit must run even when, say, a URLconf is broken

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="重新计算每条事件链，报告每条链第一处断裂")
        verify.add_argument("--stream", help="只校验这一条链，如 org:12、system")
        sub.add_parser("root", help="对所有链头生成一个链根（各链没有新事件时沿用上一个）")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            self._verify(options.get("stream"))
        else:
            self._root()

    def _verify(self, stream: str | None) -> None:
        if stream is not None and not (
            EventStream.objects.filter(key=stream).exists() or Event.objects.filter(stream=stream).exists()
        ):
            raise CommandError(f"没有名为 {stream} 的事件链")
        started = time.perf_counter()
        result = chain_verify(stream=stream)
        elapsed = time.perf_counter() - started
        for broken in result.breaks:
            self.stdout.write(str(broken))
        root = result.root
        if root is not None:
            label = f"root {root.id} of {timezone.localtime(root.created_at):%Y-%m-%d %H:%M:%S}"
            for problem in result.root_problems:
                self.stdout.write(f"BROKEN: {label}: {problem}")
            if not result.root_problems:
                self.stdout.write(f"{label} ({root.root_hash}): consistent with the chains")
        else:
            self.stdout.write("root: none yet (weifei audit root)")
        if not result.ok:
            streams = len({b.stream for b in result.breaks})
            raise CommandError(
                f"事件链校验未通过：{streams} 条链断裂"
                + (f"，链根不一致 {len(result.root_problems)} 处" if result.root_problems else "")
                + f"（共 {result.events} 条事件，{result.streams} 条链）"
            )
        self.stdout.write(f"OK: {result.events} events in {result.streams} streams ({elapsed:.1f} s)")

    def _root(self) -> None:
        root, created = chain_root_create()
        when = timezone.localtime(root.created_at)
        state = "new" if created else "unchanged since"
        self.stdout.write(
            f"root {root.id} ({state} {when:%Y-%m-%d %H:%M:%S}): {root.root_hash} "
            f"over {root.stream_count} streams, {root.event_count} events"
        )
