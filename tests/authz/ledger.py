"""Authorization-matrix rows of the ledger (管理台账) API and pages (see tests/authz/__init__.py).

Who sees the site (its unit's every role, regulators over its region, liaison accounts) reads its
ledger; only the unit's admins and members write (HJ 1259 6.1: the unit keeps its own ledger).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tests.authz.base import LOGGED_IN, OWN_READ, PLAN_WRITE, Cell, World, api, changed, has_id, page
from weifei.core.actors import SYSTEM
from weifei.plans import ledger
from weifei.plans.models import LedgerEntry

L = "/api/v1/ledger"
CODE = "900-249-08"


def _ago(minutes: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def extend(world: World) -> None:
    """A chain on the own site: 产生 5 t → 入库 3 → 出库 2 → 自行 0.5 (all by the system)."""
    site = world.ids["site"]
    gen = ledger.ledger_generate(actor=SYSTEM, site_id=site, occurred_at=_ago(180), waste_code=CODE,
                                 quantity=Decimal(5), container_code="矩阵桶-1")  # fmt: skip
    stored = ledger.ledger_store_in(actor=SYSTEM, site_id=site, source_id=gen.id, occurred_at=_ago(150),
                                    quantity=Decimal(3), facility_id=world.ids["facility"])  # fmt: skip
    out = ledger.ledger_store_out(actor=SYSTEM, site_id=site, source_id=stored.id, occurred_at=_ago(120),
                                  quantity=Decimal(2), facility_id=world.ids["facility"])  # fmt: skip
    treated = ledger.ledger_self_treat(actor=SYSTEM, site_id=site, source_id=out.id, occurred_at=_ago(90),
                                       quantity=Decimal("0.5"), method_code="D10")  # fmt: skip
    world.ids |= {"ledger_gen": gen.id, "ledger_in": stored.id, "ledger_out": out.id, "ledger_self": treated.id}


def _down(w: World, source: str, **kw: Any) -> dict[str, Any]:
    return {"site_id": w.ids["site"], "source_id": w.ids[source], "occurred_at": _ago(30).isoformat(),
            "quantity": "0.5"} | kw  # fmt: skip


def _new(kind: str) -> Any:
    return lambda w: f"/plans/ledger/sites/{w.ids['site']}/new/{kind}/"


CELLS: list[Cell] = [
    # reads
    api("get", f"{L}/entries", OWN_READ, ok=has_id("ledger_gen")),
    api(
        "get",
        f"{L}/entries",
        OWN_READ,
        lambda w: f"{L}/entries?site_id={w.ids['site']}&kind=generated",
        ok=has_id("ledger_gen"),
    ),
    api("get", f"{L}/entries/{{entry_id}}", OWN_READ, lambda w: f"{L}/entries/{w.ids['ledger_out']}"),
    api(
        "get",
        f"{L}/sites/{{site_id}}/open-batches",
        OWN_READ,
        lambda w: f"{L}/sites/{w.ids['site']}/open-batches?for_kind=stored_in",
        ok=has_id("ledger_gen"),
    ),
    # writes: the unit's admins and members only
    api(
        "post",
        f"{L}/generated",
        PLAN_WRITE,
        body=lambda w: {
            "site_id": w.ids["site"],
            "occurred_at": _ago(30).isoformat(),
            "waste_code": CODE,
            "quantity": "0.2",
            "container_litres": 200,
        },
    ),
    api("post", f"{L}/stored-in", PLAN_WRITE, body=lambda w: _down(w, "ledger_gen")),
    api("post", f"{L}/stored-out", PLAN_WRITE, body=lambda w: _down(w, "ledger_in")),
    api("post", f"{L}/self-treated", PLAN_WRITE, body=lambda w: _down(w, "ledger_out", method_code="D10")),
    api(
        "post",
        f"{L}/sent-out",
        PLAN_WRITE,
        body=lambda w: _down(
            w,
            "ledger_out",
            method_code="D10",
            receiver_type="licensed",
            receiver_id=w.ids["own"],
            licence_number="吉危许矩阵01",
        ),
    ),
    api(
        "post",
        f"{L}/entries/{{entry_id}}/reverse",
        PLAN_WRITE,
        lambda w: f"{L}/entries/{w.ids['ledger_self']}/reverse",
        body=lambda w: {"reason": "矩阵冲销"},
    ),
    # pages
    page("get", "plans/ledger/", LOGGED_IN, "/plans/ledger/"),
    page("get", "plans/ledger/", OWN_READ, lambda w: f"/plans/ledger/?site_id={w.ids['site']}"),
    page("get", "plans/ledger/sites/<int:site_id>/new/<str:kind>/", PLAN_WRITE, _new("stored_out")),
    page("get", "plans/ledger/sites/<int:site_id>/new/<str:kind>/", PLAN_WRITE, _new("generated")),
    page(
        "post",
        "plans/ledger/sites/<int:site_id>/new/<str:kind>/",
        PLAN_WRITE,
        _new("generated"),
        body=lambda w: {
            "waste_code": CODE,
            "occurred_at": timezone.localtime(_ago(30)).strftime("%Y-%m-%dT%H:%M"),
            "quantity": "0.3",
            "unit": "t",
            "label": "on",
            "handler": "矩阵经办",
        },
        ok=changed(lambda w: LedgerEntry.objects.filter(site_id=w.ids["site"], handler="矩阵经办").exists()),
    ),
    page(
        "post",
        "plans/ledger/sites/<int:site_id>/new/<str:kind>/",
        PLAN_WRITE,
        _new("stored_out"),
        body=lambda w: {
            "source_id": w.ids["ledger_in"],
            "quantity": "0.4",
            "handler": "矩阵出库",
            "occurred_at": timezone.localtime(_ago(30)).strftime("%Y-%m-%dT%H:%M"),
        },
        ok=changed(lambda w: LedgerEntry.objects.filter(source_id=w.ids["ledger_in"], handler="矩阵出库").exists()),
    ),
    page(
        "get",
        "plans/ledger/entries/<int:entry_id>/",
        OWN_READ,
        lambda w: f"/plans/ledger/entries/{w.ids['ledger_gen']}/",
    ),
    page(
        "post",
        "plans/ledger/entries/<int:entry_id>/reverse/",
        PLAN_WRITE,
        lambda w: f"/plans/ledger/entries/{w.ids['ledger_self']}/reverse/",
        body=lambda w: {"reason": "矩阵冲销"},
        ok=changed(lambda w: LedgerEntry.objects.filter(reversal_of_id=w.ids["ledger_self"]).exists()),
    ),
]
