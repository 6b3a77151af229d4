"""``flush`` with the event log's SQLite triggers lifted for the duration.

Emptying the whole database (what ``flush`` does, and what the test suite does between
transactional tests) is not tampering with a record. PostgreSQL flushes with TRUNCATE, which
row triggers do not see; SQLite flushes with ``DELETE FROM``, which the append-only DELETE
triggers refuse. So on SQLite this drops those triggers, flushes and recreates them from
their stored definitions, all in one transaction: if anything fails, the triggers are back.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction

APPEND_ONLY_TABLES = ("core_event", "core_chainroot")


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            super().handle(**options)
            return
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                placeholders = ", ".join("%s" for _ in APPEND_ONLY_TABLES)
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    f"AND tbl_name IN ({placeholders}) AND upper(sql) LIKE '%%BEFORE DELETE%%'",
                    APPEND_ONLY_TABLES,
                )
                triggers = cursor.fetchall()
                for name, _sql in triggers:
                    cursor.execute(f'DROP TRIGGER "{name}"')
            super().handle(**options)
            with connection.cursor() as cursor:
                for _name, sql in triggers:
                    cursor.execute(sql)
