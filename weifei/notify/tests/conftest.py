"""A small world: two units (the consignor and the receiver of a manifest) with admins, members,
a driver and a reader, a user in both units, a regulator — and a fake network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.core.actors import SYSTEM as SYSTEM_ACTOR
from weifei.core.actors import Actor
from weifei.notify import delivery, destinations
from weifei.registry import services as registry
from weifei.registry.models import Enterprise

PASSWORD = "notify-Pa55word!"
PUBLIC_ADDRESS = "93.184.216.34"  # what the fake resolver answers; no packet is ever sent


class W:
    a: Enterprise
    b: Enterprise
    users: dict[str, Any]
    actors: dict[str, Actor]


@pytest.fixture
def w(db: None) -> W:
    w = W()
    w.a = registry.enterprise_create(
        actor=SYSTEM_ACTOR,
        credit_code="91350100M000100Y43",
        name="移出测试有限公司",
        region_key="220102",
        roles=("is_generator",),
    )
    w.b = registry.enterprise_create(
        actor=SYSTEM_ACTOR,
        credit_code="91130200699229617X",
        name="接受测试处置有限公司",
        region_key="220202",
        roles=("is_operator", "is_carrier"),
    )
    w.users, w.actors = {}, {}
    for name, org, role in (
        ("a_admin", w.a, "admin"),
        ("a_member", w.a, "member"),
        ("a_driver", w.a, "driver"),
        ("a_reader", w.a, "reader"),
        ("b_admin", w.b, "admin"),
        ("b_member", w.b, "member"),
    ):
        w.users[name] = enterprise_user_create(
            actor=SYSTEM_ACTOR, enterprise=org, username=name, password=PASSWORD, full_name=name, role=role
        ).user
    both = enterprise_user_create(
        actor=SYSTEM_ACTOR, enterprise=w.b, username="both", password=PASSWORD, full_name="两单位", role="member"
    ).user
    from weifei.accounts.models import Membership

    Membership.objects.create(user=both, enterprise=w.a, role="member")
    w.users["both"] = both
    w.users["county"] = regulator_account_create(
        actor=SYSTEM_ACTOR,
        username="n_county",
        password=PASSWORD,
        full_name="县",
        region_key="220102",
        department="测试",
        role="regulator",
    ).user
    w.actors = {name: actor_for(user) for name, user in w.users.items()}
    return w


class FakeNetwork:
    """An ``httpx.MockTransport`` answering from a list of status codes (the last repeats)."""

    def __init__(self) -> None:
        self.codes: list[int | Exception] = [200]
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        code = self.codes[min(len(self.requests), len(self.codes)) - 1]
        if isinstance(code, Exception):
            raise code
        return httpx.Response(code, text="ok" if code < 300 else "nope")


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNetwork]:
    fake = FakeNetwork()
    monkeypatch.setattr(delivery, "TRANSPORT", httpx.MockTransport(fake.handler))
    monkeypatch.setattr(destinations, "resolve", lambda host, port: [PUBLIC_ADDRESS])
    yield fake


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[..., Any]:
    return lambda: django_capture_on_commit_callbacks(execute=True)
