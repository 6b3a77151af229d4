"""A consignor with a site in 长春 (220102), its users, another unit, and regulators from the county
up to the province plus a liaison account; helpers that carry an application through its steps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.approvals import services
from weifei.approvals.models import Application
from weifei.core.actors import SYSTEM, Actor
from weifei.registry import services as registry
from weifei.registry.models import Enterprise, Site

SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "approvals-Pa55word!"
CODE = "900-249-08"
CODE2 = "900-041-49"
RECEIVER_CREDIT = "911302307808371268"


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SH)


class W:
    own: Enterprise
    other: Enterprise
    site: Site
    users: dict[str, Any]
    actors: dict[str, Actor]


@pytest.fixture
def w(reference: None) -> W:
    w = W()
    w.own = registry.enterprise_create(
        actor=SYSTEM,
        credit_code="91350100M000100Y43",
        name="跨省测试化工有限公司",
        region_key="220102",
        roles=("is_generator",),
    )
    w.other = registry.enterprise_create(
        actor=SYSTEM,
        credit_code="91130200699229617X",
        name="他单位测试有限公司",
        region_key="220202",
        roles=("is_generator",),
    )
    w.site = registry.site_create(
        actor=SYSTEM, enterprise=w.own, name="一厂", address="南关区跨省路1号", region_key="220102", roles=["generator"]
    )
    w.users, w.actors = {}, {}
    for role in ("admin", "member", "reader"):
        user = enterprise_user_create(
            actor=SYSTEM, enterprise=w.own, username=f"a_{role}", password=PASSWORD, full_name=role, role=role
        ).user
        w.users[role], w.actors[role] = user, actor_for(user)
    user = enterprise_user_create(
        actor=SYSTEM, enterprise=w.other, username="a_other", password=PASSWORD, full_name="他", role="admin"
    ).user
    w.users["other"], w.actors["other"] = user, actor_for(user)
    for name, region, role in (
        ("county", "220102", "regulator"),
        ("prefecture", "220100", "regulator"),
        ("province", "220000", "regulator"),
        ("liaison", "220000", "liaison"),
    ):
        user = regulator_account_create(
            actor=SYSTEM,
            username=f"a_{name}",
            password=PASSWORD,
            full_name=name,
            region_key=region,
            department="测试",
            role=role,
        ).user
        w.users[name], w.actors[name] = user, actor_for(user)
    return w


def draft(
    w: W,
    *,
    today: dt.date,
    period_to: dt.date | None = None,
    licence_to: dt.date | None = None,
    period_from: dt.date | None = None,
    tonnes: str = "10",
) -> Application:
    return services.application_create(
        actor=w.actors["admin"],
        site_id=w.site.id,
        receiver_province="210000",
        receiver_name="辽宁测试环保处置有限公司",
        receiver_credit_code=RECEIVER_CREDIT,
        receiver_licence_number="辽危废经许001",
        receiver_licence_valid_to=licence_to or today + dt.timedelta(days=900),
        method_code="D10",
        period_from=period_from or today,
        period_to=period_to or today + dt.timedelta(days=900),
        lines=[
            {"waste_code": CODE, "waste_name": "废矿物油", "tonnes": Decimal(tonnes)},
            {"waste_code": CODE2, "waste_name": "实验室废液", "tonnes": Decimal("2.5")},
        ],
        attachments=[{"name": "许可证.pdf", "sha256": "a" * 64, "size": 1024, "kind": "licence"}],
        today=today,
    )


def to_decision(w: W, day: dt.date, **kwargs: Any) -> Application:
    """Draft → submitted → accepted → preliminary agreed → receiving province agreed, all on ``day``."""
    app = draft(w, today=day, **kwargs)
    services.application_submit(actor=w.actors["admin"], application_id=app.id, now=at(day, 9))
    p = w.actors["province"]
    services.step_act(actor=p, application_id=app.id, action="accept", now=at(day, 10))
    services.step_act(actor=p, application_id=app.id, action="agree", now=at(day, 11))
    services.reply_record(
        actor=p,
        application_id=app.id,
        decision="agree",
        responder="辽宁省生态环境厅",
        responded_at=at(day, 12),
        now=at(day, 12),
    )
    return Application.objects.get(id=app.id)
