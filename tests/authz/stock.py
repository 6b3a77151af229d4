"""Authorization-matrix rows of this capability (see tests/authz/__init__.py): stock is read by
whoever sees the site (its unit's users, regulators over its region); findings lists are scoped to
the sites the caller sees."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tests.authz.base import LOGGED_IN, OWN_READ, Cell, World, api, page
from weifei.core.actors import SYSTEM
from weifei.plans import ledger, stock

S = "/api/v1/stock"


def _has_finding(response: Any, world: World) -> bool:
    if response.status_code != 200:
        return False
    return any(row["id"] == world.ids["stock_finding"] for row in response.json()["items"])


def _has_container(response: Any, world: World) -> bool:
    if response.status_code != 200:
        return False
    return any(row["entry_id"] == world.ids["stock_entry"] for row in response.json()["items"])


def _page_mentions_entry(response: Any, world: World) -> bool:
    return (
        response.status_code == 200
        and f"/plans/ledger/entries/{world.ids['stock_entry']}/" in response.content.decode()
    )


CELLS: list[Cell] = [
    api("get", f"{S}/sites/{{site_id}}", OWN_READ, lambda w: f"{S}/sites/{w.ids['site']}"),
    api("get", f"{S}/sites/{{site_id}}/facilities", OWN_READ, lambda w: f"{S}/sites/{w.ids['site']}/facilities"),
    api(
        "get",
        f"{S}/sites/{{site_id}}/containers",
        OWN_READ,
        lambda w: f"{S}/sites/{w.ids['site']}/containers",
        ok=_has_container,
    ),
    api("get", f"{S}/findings", OWN_READ, lambda w: f"{S}/findings?open=true", ok=_has_finding),
    # Every signed-in user may open the index; it lists only the sites (or jurisdiction) they see.
    page("get", "plans/stock/", LOGGED_IN, "/plans/stock/"),
    page(
        "get",
        "plans/stock/sites/<int:site_id>/",
        OWN_READ,
        lambda w: f"/plans/stock/sites/{w.ids['site']}/",
        ok=_page_mentions_entry,
    ),
]


def extend(world: World) -> None:
    """A labelled container stored in the world's storage facility (50 t) for over a year, and the
    storage findings the sweep raises for it (the facility is over capacity too)."""
    when = timezone.now() - dt.timedelta(days=400)
    entry = ledger.ledger_generate(actor=SYSTEM, site_id=world.site.id, occurred_at=when, waste_code="900-249-08",
                                   quantity=Decimal(60), label=True)  # fmt: skip
    ledger.ledger_store_in(actor=SYSTEM, site_id=world.site.id, source_id=entry.id, occurred_at=when,
                           quantity=Decimal(60), facility_id=world.ids["facility"])  # fmt: skip
    stock.stock_ageing_sweep(actor=SYSTEM, site_ids=[world.site.id])
    finding = stock.stock_findings(actor=SYSTEM, site_id=world.site.id, open_only=True).first()
    assert finding is not None
    world.ids["stock_entry"] = entry.id
    world.ids["stock_finding"] = finding.id
