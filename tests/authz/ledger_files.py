"""Authorization-matrix rows of the ledger files API and pages: import (Excel/CSV), the template,
the HJ 1259 Annex B export (see tests/authz/__init__.py).

Who sees the site reads and exports its ledger; only the unit's admins and members import into it
(HJ 1259 6.1: the unit keeps its own ledger); the template is for every logged-in user.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from tests.authz.base import LOGGED_IN, OWN_READ, PLAN_WRITE, TODAY, Cell, World, api, changed, page
from weifei.plans.ledger_import import rows_csv
from weifei.plans.models import LedgerEntry

F = "/api/v1/ledger-files"
BATCH = "MATRIX-IMPORT-1"


def extend(world: World) -> None:
    """Nothing to create: the cells import into and export the own site (world.ids["site"])."""


def _upload(world: World) -> io.BytesIO:
    day = TODAY - dt.timedelta(days=1)
    row = {"kind": "产生", "batch_code": BATCH, "occurred_at": f"{day:%Y-%m-%d} 09:00", "waste_code": "900-249-08",
           "quantity": "1.5"}  # fmt: skip
    upload = io.BytesIO(rows_csv([row]).encode("utf-8-sig"))
    upload.name = "matrix.csv"
    return upload


def _imported(world: World) -> bool:
    return LedgerEntry.objects.filter(site_id=world.ids["site"], batch_code=BATCH).exists()


def _api_body(world: World) -> dict[str, Any]:
    return {"file": _upload(world), "site_id": world.ids["site"]}


def _page_body(world: World) -> dict[str, Any]:
    return {"file": _upload(world), "site": world.ids["site"]}


def _api_import_ok(response: Any, world: World) -> bool:
    return response.status_code == 200 and response.json()["imported"] == 1 and _imported(world)


def _export_ok(response: Any, world: World) -> bool:
    return response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")


CELLS: list[Cell] = [
    # A multipart upload: sent as a form (``form=True``), like the pages.
    Cell("post", f"{F}/import", PLAN_WRITE, lambda w: f"{F}/import", _api_body, _api_import_ok, form=True),
    api("get", f"{F}/template", LOGGED_IN),
    api("get", f"{F}/export", OWN_READ, lambda w: f"{F}/export?site_id={w.ids['site']}", ok=_export_ok),
    page("get", "plans/ledger/files/", OWN_READ, lambda w: f"/plans/ledger/files/?site={w.ids['site']}"),
    page("post", "plans/ledger/files/", PLAN_WRITE, "/plans/ledger/files/", body=_page_body, ok=changed(_imported)),
    page("get", "plans/ledger/files/template/", LOGGED_IN, "/plans/ledger/files/template/"),
    page(
        "get",
        "plans/ledger/files/export/",
        OWN_READ,
        lambda w: f"/plans/ledger/files/export/?site={w.ids['site']}",
        ok=_export_ok,
    ),
]
