"""Authorization-matrix rows of the labels capability: the public verification page and scan page,
the history only for who sees the site, the label PDFs, batch printing and the receipt PDF."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tests.authz.base import ALL, OWN_READ, Cell, World, api, page
from weifei.core.actors import SYSTEM


def _pdf(response: Any, world: World) -> bool:
    return response.status_code == 200 and response["Content-Type"] == "application/pdf"


def _history_page(response: Any, world: World) -> bool:
    return response.status_code == 200 and b'data-testid="label-history"' in response.content


def _public_page(response: Any, world: World) -> bool:
    return response.status_code == 200 and "在产生点" in response.content.decode()


def _history_api(response: Any, world: World) -> bool:
    return response.status_code == 200 and response.json()["history"] is not None


def _public_api(response: Any, world: World) -> bool:
    return response.status_code == 200 and response.json()["code"] == world.secrets["label_code"]


def _code(w: World) -> str:
    return w.secrets["label_code"]


CELLS: list[Cell] = [
    page("get", "labels/", ALL, "/labels/"),
    page("get", "labels/<str:code>/", ALL, lambda w: f"/labels/{_code(w)}/", ok=_public_page),
    page("get", "labels/<str:code>/", OWN_READ, lambda w: f"/labels/{_code(w)}/", ok=_history_page),
    page("get", "labels/<str:code>/label.pdf", OWN_READ, lambda w: f"/labels/{_code(w)}/label.pdf", ok=_pdf),
    page("get", "plans/print/labels/", OWN_READ, lambda w: f"/plans/print/labels/?site_id={w.ids['site']}"),
    page(
        "post",
        "plans/print/labels/",
        OWN_READ,
        "/plans/print/labels/",
        body=lambda w: {"site_id": w.ids["site"], "entry_ids": [w.ids["label_entry"]]},
        ok=_pdf,
    ),
    page(
        "get",
        "plans/print/plans/<int:plan_id>/receipt.pdf",
        OWN_READ,
        lambda w: f"/plans/print/plans/{w.ids['plan_filed']}/receipt.pdf",
        ok=_pdf,
    ),
    api("get", "/api/v1/labels/{code}", ALL, lambda w: f"/api/v1/labels/{_code(w)}", ok=_public_api),
    api("get", "/api/v1/labels/{code}", OWN_READ, lambda w: f"/api/v1/labels/{_code(w)}", ok=_history_api),
    api("get", "/api/v1/labels/{code}/pdf", OWN_READ, lambda w: f"/api/v1/labels/{_code(w)}/pdf", ok=_pdf),
    api(
        "post",
        "/api/v1/labels/print",
        OWN_READ,
        body=lambda w: {"entry_ids": [w.ids["label_entry"]]},
        ok=_pdf,
    ),
]


def extend(world: World) -> None:
    """A labelled 产生 record (a 1000 L drum: two label pages) at the own site."""
    from weifei.plans.ledger import ledger_generate

    entry = ledger_generate(
        actor=SYSTEM,
        site_id=world.site.id,
        occurred_at=timezone.now() - dt.timedelta(hours=1),
        waste_code="900-249-08",
        quantity=Decimal("180.5"),
        unit="kg",
        label=True,
        container_litres=Decimal(1000),
        common_name="废机油",
    )
    assert entry.container_code is not None
    world.ids["label_entry"] = entry.id
    world.secrets["label_code"] = entry.container_code
