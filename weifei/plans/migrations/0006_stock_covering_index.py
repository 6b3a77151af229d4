"""Indexes for the stock selectors (weifei/plans/stock.py, docs/stock.md).

- ``ledger_stock_cover``: per site and record kind, with the waste code in the key and the columns
  the stock sums read in INCLUDE, so that per-code stock, per-facility stock and the 出库 → 入库
  facility join are index-only scans (PostgreSQL; elsewhere a plain (site, kind, waste code) index).
- ``ledger_site_id``: (site, id), so that the rows a site gained since a cached sum (id > m) are one
  short range scan.

Raw SQL on purpose: they are read-path details of the stock capability and are not declared on
the model (whose Meta belongs to the ledger).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

NAME = "ledger_stock_cover"
SITE_ID = "ledger_site_id"


def create(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {SITE_ID} ON plans_ledgerentry (site_id, id)")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON plans_ledgerentry (site_id, kind, waste_code) "
            "INCLUDE (quantity_tonnes, occurred_at, facility_id, source_id, id)"
        )
    else:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON plans_ledgerentry (site_id, kind, waste_code)")


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")
    schema_editor.execute(f"DROP INDEX IF EXISTS {SITE_ID}")


class Migration(migrations.Migration):
    dependencies = [("plans", "0005_finding")]

    operations = [migrations.RunPython(create, drop)]
