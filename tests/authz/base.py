"""Shared pieces of the authorization matrix: the callers, the world the cells run against, and
how a cell is described. Feature modules in this package add their own world objects (``extend``)
and cells (``CELLS``, ``PAGES``); ``tests/test_authorization_matrix.py`` runs them all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User

from weifei.registry.models import Enterprise, Site, Vehicle

ACTORS = (
    "anonymous",
    "other_member",
    "own_admin",
    "own_member",
    "own_driver",
    "own_reader",
    "county_elsewhere",
    "county_here",
    "prefecture",
    "province",
    "liaison",
)
ALL = frozenset(ACTORS)
LOGGED_IN = ALL - {"anonymous"}
OWN_MEMBERS = frozenset({"own_admin", "own_member", "own_driver", "own_reader"})
ENTERPRISE_USERS = OWN_MEMBERS | {"other_member"}
REGULATORS = frozenset({"county_elsewhere", "county_here", "prefecture", "province", "liaison"})
OWN_READ = OWN_MEMBERS | {"county_here", "prefecture", "province", "liaison"}
OWN_WRITE = frozenset({"own_admin", "own_member", "county_here", "prefecture", "province"})
REG_WRITE = frozenset({"county_here", "prefecture", "province"})
PLAN_WRITE = frozenset({"own_admin", "own_member"})  # HJ 1259: the unit itself files its plan
REG_SEE_HERE = REG_WRITE | {"liaison"}
PREFECTURE_UP = frozenset({"prefecture", "province"})
PROVINCE = frozenset({"province"})
OWN_ADMIN = frozenset({"own_admin"})
NOBODY: frozenset[str] = frozenset()
PASSWORD = "matrix-Pa55word!"
TODAY = dt.date.today()


@dataclass
class World:
    users: dict[str, User]
    own: Enterprise
    other: Enterprise
    pending: Enterprise
    site: Site
    vehicle_pending: Vehicle
    ids: dict[str, int]
    secrets: dict[str, str] = field(default_factory=dict)  # plaintexts (the invitation link's token)


# ---- what a cell does ----------------------------------------------------------------------

Check = Callable[[Any, World], bool]


@dataclass
class Cell:
    method: str
    route: str  # the URL pattern, as Django lists it (or the OpenAPI path for the API)
    allowed: frozenset[str]
    url: Callable[[World], str]
    body: Callable[[World], Any] | None = None
    ok: Check | None = None  # allowed ⇔ ok(response, world); default: a 2xx answer
    form: bool = False


def ok_2xx(response: Any, world: World) -> bool:
    return 200 <= response.status_code < 300


def has_id(key: str, field: str = "id", list_key: str | None = "items") -> Check:
    def check(response: Any, world: World) -> bool:
        if response.status_code != 200:
            return False
        data = response.json()
        rows = data[list_key] if list_key else data
        return any(row.get(field) == world.ids[key] for row in rows)

    return check


def page_200(response: Any, world: World) -> bool:
    return response.status_code == 200


def changed(predicate: Callable[[World], bool]) -> Check:
    def check(response: Any, world: World) -> bool:
        return response.status_code < 400 and not _to_login(response) and predicate(world)

    return check


def _to_login(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(("/login/", "/admin/login/"))


def _reload(model: Any, pk: int) -> Any:
    return model.objects.get(pk=pk)


def api(
    method: str,
    path: str,
    allowed: frozenset[str],
    url: Callable[[World], str] | None = None,
    body: Callable[[World], Any] | None = None,
    ok: Check | None = None,
) -> Cell:
    def fixed(w: World) -> str:
        return path

    return Cell(method, path, allowed, url or fixed, body, ok)


def page(
    method: str,
    route: str,
    allowed: frozenset[str],
    url: Callable[[World], str] | str,
    body: Callable[[World], Any] | None = None,
    ok: Check | None = page_200,
) -> Cell:
    def fixed(w: World) -> str:
        assert isinstance(url, str)
        return url

    return Cell(method, route, allowed, url if callable(url) else fixed, body, ok, form=True)


def no_server_error(response: Any, world: World) -> bool:
    return response.status_code < 500
