"""The authorization matrix: every API operation and every page, against every kind of caller.

Callers: anonymous; a member of another enterprise; the own enterprise's admin, member, driver
and reader; a county regulator elsewhere and here; the prefecture; the province; a liaison.
Each cell asserts *allowed* (the operation succeeded, or the record is in the answer) or
*denied* (401/403/404, a redirect to the login page, or the record absent from a list).
The test fails when an operation in the OpenAPI document or a URL pattern is not in the
matrix, so a new endpoint cannot ship without its row.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.authz import PARTS
from tests.authz.base import (  # noqa: F401
    ACTORS,
    ALL,
    ENTERPRISE_USERS,
    LOGGED_IN,
    NOBODY,
    OWN_ADMIN,
    OWN_MEMBERS,
    OWN_READ,
    OWN_WRITE,
    PASSWORD,
    PLAN_WRITE,
    PREFECTURE_UP,
    PROVINCE,
    REG_SEE_HERE,
    REG_WRITE,
    REGULATORS,
    TODAY,
    Cell,
    Check,
    World,
    _reload,
    _to_login,
    api,
    changed,
    has_id,
    no_server_error,
    ok_2xx,
    page,
    page_200,
)
from weifei.accounts.models import ApiToken, Invitation, Membership
from weifei.accounts.services import (
    api_token_create,
    enterprise_user_create,
    invitation_create,
    regulator_account_create,
)
from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.plans import services as plan_services
from weifei.plans.models import ManagementPlan, PlanLine
from weifei.registry import services
from weifei.registry.models import Enterprise, Site, Vehicle
from weifei.registry.registration import enterprise_self_register

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


def _world() -> World:
    own = services.enterprise_create(
        actor=SYSTEM,
        credit_code="91350100M000100Y43",
        name="本单位测试环保有限公司",
        region_key="220102",
        roles=("is_generator", "is_carrier", "is_operator"),
        latitude=Decimal("43.86"),
        longitude=Decimal("125.33"),
    )
    other = services.enterprise_create(
        actor=SYSTEM,
        credit_code="91130200699229617X",
        name="他单位测试处置有限公司",
        region_key="220202",
        roles=("is_generator", "is_carrier", "is_operator"),
    )
    site = services.site_create(
        actor=SYSTEM,
        enterprise=own,
        name="一厂",
        address="南关区测试路1号",
        region_key="220102",
        roles=["generator", "operator"],
        latitude=Decimal("43.86"),
        longitude=Decimal("125.33"),
    )
    facility = services.facility_create(
        actor=SYSTEM, site=site, kind="storage", name="贮存库", storage_capacity_tonnes=Decimal(50)
    )
    licence = services.licence_create(
        actor=SYSTEM,
        holder=own,
        number="吉危许矩阵01",
        kind="comprehensive",
        methods=["storage", "disposal"],
        annual_capacity_tonnes=Decimal(1000),
        valid_from=dt.date(2026, 1, 1),
        categories=["HW08"],
    )
    road = services.road_licence_create(
        actor=SYSTEM,
        carrier=own,
        number="吉交运矩阵01",
        scope="危险货物运输",
        valid_from=dt.date(2025, 1, 1),
        valid_to=TODAY + dt.timedelta(days=700),
    )
    driver = services.driver_create(
        actor=SYSTEM,
        carrier=own,
        name="张师傅",
        role="driver",
        certificate_number="220100000000000001J",
        certificate_valid_until=TODAY + dt.timedelta(days=700),
    )
    services.vehicle_create(
        actor=SYSTEM,
        carrier=own,
        plate="吉A00001",
        transport_certificate="吉交运证1",
        payload_tonnes=Decimal(10),
        valid_until=TODAY + dt.timedelta(days=365),
    )
    contract = services.contract_create(
        actor=SYSTEM,
        kind="disposal",
        number="HT-矩阵-1",
        party_a=own,
        party_b=other,
        waste_codes=["900-249-08"],
        planned_tonnes=Decimal(10),
        valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2026, 12, 31),
    )
    eia = services.eia_approval_create(
        actor=SYSTEM,
        enterprise=own,
        project="扩建",
        approval_number="长环审矩阵1",
        approved_on=dt.date(2024, 5, 1),
        authority="长春市生态环境局",
        expected_wastes=[{"waste_code": "900-249-08", "annual_tonnes": "5"}],
    )
    insurance = services.insurance_create(
        actor=SYSTEM,
        enterprise=own,
        insurer="测试保险",
        policy_number="BD-矩阵-1",
        coverage_yuan=Decimal(1000000),
        valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2026, 12, 31),
    )
    plan = services.emergency_plan_create(
        actor=SYSTEM,
        enterprise=own,
        filing_number="220102-2026-矩阵",
        filed_on=dt.date(2026, 2, 1),
        authority="南关区分局",
    )

    # management plans of the own site: this year's filed, next year's a complete draft
    def plan_ready(year: int) -> tuple[ManagementPlan, PlanLine]:
        draft = plan_services.plan_draft(actor=SYSTEM, site_id=site.id, year=year)
        line = plan_services.plan_line_add(
            actor=SYSTEM, plan_id=draft.id, section="A3", waste_code="900-249-08", tonnes=Decimal(5)
        )
        plan_services.plan_line_add(
            actor=SYSTEM,
            plan_id=draft.id,
            section="A7",
            waste_code="900-249-08",
            tonnes=Decimal(5),
            transfer_type="in_province",
            receiver_type="licensed",
            receiver_id=own.id,
            method_code="D10",
        )
        return draft, line

    plan_filed, _ = plan_ready(TODAY.year)
    plan_services.plan_file(actor=SYSTEM, plan_id=plan_filed.id)
    plan_draft, plan_line = plan_ready(TODAY.year + 1)
    _, pending = enterprise_self_register(
        username="registrant",
        password=PASSWORD,
        full_name="注册人",
        credit_code="911302307808371268",
        name="待核验测试有限公司",
        region_key="220102",
        roles=("is_generator",),
    )
    users: dict[str, User] = {}
    for role in ("admin", "member", "driver", "reader"):
        users[f"own_{role}"] = enterprise_user_create(
            actor=SYSTEM, enterprise=own, username=f"own_{role}", password=PASSWORD, full_name=role, role=role
        ).user
    users["other_member"] = enterprise_user_create(
        actor=SYSTEM, enterprise=other, username="other_member", password=PASSWORD, full_name="他人", role="admin"
    ).user
    for name, region, role in (
        ("county_elsewhere", "220202", "regulator"),
        ("county_here", "220102", "regulator"),
        ("prefecture", "220100", "regulator"),
        ("province", "220000", "regulator"),
        ("liaison", "220000", "liaison"),
    ):
        users[name] = regulator_account_create(
            actor=SYSTEM,
            username=name,
            password=PASSWORD,
            full_name=name,
            region_key=region,
            department="测试",
            role=role,
        ).user
    from weifei.accounts.selectors import actor_for

    own_admin_actor = actor_for(users["own_admin"])
    vehicle_pending = services.vehicle_create(
        actor=own_admin_actor,
        carrier=own,
        plate="吉A00002",
        transport_certificate="吉交运证2",
        payload_tonnes=Decimal(8),
        valid_until=TODAY + dt.timedelta(days=365),
    )
    token, _plain = api_token_create(actor=own_admin_actor, name="矩阵", scopes=["read"])
    invitation, invitation_token = invitation_create(
        actor=own_admin_actor, enterprise_id=own.id, role="member", email_or_username_hint="invitee@example.com"
    )
    membership_ids = dict(Membership.objects.filter(enterprise=own).values_list("user__username", "id"))
    ids = {
        "own": own.id,
        "other": other.id,
        "pending": pending.id,
        "site": site.id,
        "facility": facility.id,
        "licence": licence.id,
        "road": road.id,
        "driver": driver.id,
        "contract": contract.id,
        "eia": eia.id,
        "insurance": insurance.id,
        "plan": plan.id,
        "vehicle_pending": vehicle_pending.id,
        "plan_filed": plan_filed.id,
        "plan_draft": plan_draft.id,
        "plan_line": plan_line.id,
        "token": token.id,
        "invitation": invitation.id,
        "membership_admin": membership_ids["own_admin"],
        "membership_member": membership_ids["own_member"],
    }
    world = World(
        users=users,
        own=own,
        other=other,
        pending=pending,
        site=site,
        vehicle_pending=vehicle_pending,
        ids=ids,
        secrets={"invitation": invitation_token},
    )
    for part in PARTS:
        part.extend(world)
    return world


R = "/api/v1/registry"
P = "/api/v1/plans"
A = "/api/v1/accounts"
CELLS: list[Cell] = [
    # public reference data and tools
    api("get", "/healthz", ALL),
    api("get", "/api/v1/openapi.json", ALL),
    api("get", "/api/v1/docs", ALL),
    api("get", "/api/v1/catalog/versions", ALL),
    api("get", "/api/v1/catalog/codes", ALL, lambda w: "/api/v1/catalog/codes?q=飞灰"),
    api("get", "/api/v1/catalog/codes/{code}", ALL, lambda w: "/api/v1/catalog/codes/900-249-08"),
    api("post", "/api/v1/catalog/validate", ALL, body=lambda w: {"code": "900-249-08", "date": "2026-01-01"}),
    api("get", "/api/v1/catalog/categories", ALL),
    api("get", "/api/v1/catalog/exemptions", ALL),
    api("get", "/api/v1/catalog/methods", ALL),
    api("get", "/api/v1/catalog/regions", ALL),
    api(
        "get",
        "/api/v1/calendar/add-working-days",
        ALL,
        lambda w: "/api/v1/calendar/add-working-days?start=2026-01-05&n=3",
    ),
    api(
        "get",
        "/api/v1/calendar/working-days-between",
        ALL,
        lambda w: "/api/v1/calendar/working-days-between?a=2026-01-05&b=2026-01-09",
    ),
    api("post", "/api/v1/identifiers/credit-code", ALL, body=lambda w: {"value": "91350100M000100Y43"}),
    # the public sees published totals; a unit its own; a regulator its jurisdiction
    api("get", "/api/v1/stats/overview", ALL),
    # accounts
    api("get", "/api/v1/accounts/me", ALL),
    api("get", "/api/v1/accounts/tokens", LOGGED_IN),
    api("post", "/api/v1/accounts/tokens", LOGGED_IN, body=lambda w: {"name": "新令牌", "scopes": ["read"]}),
    api(
        "delete",
        "/api/v1/accounts/tokens/{token_id}",
        frozenset({"own_admin"}),
        lambda w: f"/api/v1/accounts/tokens/{w.ids['token']}",
    ),
    # accounts: members and invitations (the unit's admin manages; members and regulators read)
    api(
        "get",
        f"{A}/enterprises/{{enterprise_id}}/members",
        OWN_READ,
        lambda w: f"{A}/enterprises/{w.ids['own']}/members",
        ok=has_id("membership_admin", list_key=None),
    ),
    api(
        "patch",
        f"{A}/members/{{membership_id}}",
        OWN_ADMIN,
        lambda w: f"{A}/members/{w.ids['membership_member']}",
        body=lambda w: {"role": "reader"},
    ),
    api("delete", f"{A}/members/{{membership_id}}", OWN_ADMIN, lambda w: f"{A}/members/{w.ids['membership_member']}"),
    api(
        "get",
        f"{A}/enterprises/{{enterprise_id}}/invitations",
        OWN_ADMIN,
        lambda w: f"{A}/enterprises/{w.ids['own']}/invitations",
        ok=has_id("invitation", list_key=None),
    ),
    api(
        "post",
        f"{A}/enterprises/{{enterprise_id}}/invitations",
        OWN_ADMIN,
        lambda w: f"{A}/enterprises/{w.ids['own']}/invitations",
        body=lambda w: {"role": "driver", "email_or_username_hint": "新司机"},
    ),
    api("delete", f"{A}/invitations/{{invitation_id}}", OWN_ADMIN, lambda w: f"{A}/invitations/{w.ids['invitation']}"),
    # Accepting: a logged-in unit user not yet a member joins (own members: "already a member",
    # regulators: refused); anybody with the link may create a new account through it.
    api(
        "post",
        f"{A}/invitations/accept",
        frozenset({"other_member"}),
        body=lambda w: {"token": w.secrets["invitation"]},
        ok=lambda r, w: (
            r.status_code == 201 and Membership.objects.filter(enterprise=w.own, user__username="other_member").exists()
        ),
    ),
    api(
        "post",
        f"{A}/invitations/accept-new",
        ALL,
        body=lambda w: {
            "token": w.secrets["invitation"],
            "username": "invitee",
            "password": PASSWORD,
            "full_name": "受邀人",
        },
    ),
    # registry: reads
    api("get", f"{R}/enterprises", OWN_READ, ok=has_id("own")),
    api("get", f"{R}/enterprises/{{enterprise_id}}", OWN_READ, lambda w: f"{R}/enterprises/{w.ids['own']}"),
    api("get", f"{R}/verification-queue", REG_SEE_HERE, ok=has_id("pending")),
    api("get", f"{R}/sites", OWN_READ, ok=has_id("site")),
    api("get", f"{R}/sites/{{site_id}}", OWN_READ, lambda w: f"{R}/sites/{w.ids['site']}"),
    api(
        "get",
        f"{R}/facilities",
        OWN_READ,
        lambda w: f"{R}/facilities?site_id={w.ids['site']}",
        ok=has_id("facility", list_key=None),
    ),
    api("get", f"{R}/licences", OWN_READ, ok=has_id("licence")),
    api("get", f"{R}/licences/{{licence_id}}", OWN_READ, lambda w: f"{R}/licences/{w.ids['licence']}"),
    api("get", f"{R}/vehicles", OWN_READ, ok=has_id("vehicle_pending")),
    api("get", f"{R}/vehicle-registrations", REG_SEE_HERE, ok=has_id("vehicle_pending")),
    api(
        "get",
        f"{R}/drivers",
        OWN_READ,
        lambda w: f"{R}/drivers?carrier_id={w.ids['own']}",
        ok=has_id("driver", list_key=None),
    ),
    api(
        "get",
        f"{R}/road-licences",
        OWN_READ,
        lambda w: f"{R}/road-licences?carrier_id={w.ids['own']}",
        ok=has_id("road", list_key=None),
    ),
    api(
        "get",
        f"{R}/contracts",
        OWN_READ | {"other_member", "county_elsewhere"},
        lambda w: f"{R}/contracts?enterprise_id={w.ids['own']}",
        ok=has_id("contract", list_key=None),
    ),
    api(
        "get",
        f"{R}/eia-approvals",
        OWN_READ,
        lambda w: f"{R}/eia-approvals?enterprise_id={w.ids['own']}",
        ok=has_id("eia", list_key=None),
    ),
    api(
        "get",
        f"{R}/insurances",
        OWN_READ,
        lambda w: f"{R}/insurances?enterprise_id={w.ids['own']}",
        ok=has_id("insurance", list_key=None),
    ),
    api(
        "get",
        f"{R}/emergency-plans",
        OWN_READ,
        lambda w: f"{R}/emergency-plans?enterprise_id={w.ids['own']}",
        ok=has_id("plan", list_key=None),
    ),
    api("get", f"{R}/map", OWN_READ, ok=has_id("site", field="site_id", list_key=None)),
    # registry: writes
    api(
        "post",
        f"{R}/register",
        ALL,
        body=lambda w: {
            "username": "newcomer",
            "password": PASSWORD,
            "full_name": "新人",
            "credit_code": "91512081MA62K0260E",
            "name": "新注册测试有限公司",
            "region": "220102",
        },
    ),
    api(
        "post",
        f"{R}/enterprises",
        REG_WRITE,
        body=lambda w: {"credit_code": "91512081MA62K0260E", "name": "监管登记测试有限公司", "region": "220102"},
    ),
    api(
        "patch",
        f"{R}/enterprises/{{enterprise_id}}",
        OWN_WRITE,
        lambda w: f"{R}/enterprises/{w.ids['own']}",
        body=lambda w: {"contact_phone": "0431-88888888"},
    ),
    api(
        "post",
        f"{R}/enterprises/{{enterprise_id}}/verify",
        REG_WRITE,
        lambda w: f"{R}/enterprises/{w.ids['pending']}/verify",
        body=lambda w: {"approve": True},
    ),
    api(
        "post",
        f"{R}/enterprises/{{enterprise_id}}/sites",
        OWN_WRITE,
        lambda w: f"{R}/enterprises/{w.ids['own']}/sites",
        body=lambda w: {"name": "二厂", "address": "南关区测试路2号", "region": "220102", "roles": ["generator"]},
    ),
    api(
        "post",
        f"{R}/sites/{{site_id}}/status",
        OWN_WRITE,
        lambda w: f"{R}/sites/{w.ids['site']}/status",
        body=lambda w: {"status": "suspended", "suspended_from": "2026-12-01", "reason": "检修"},
    ),
    api(
        "post",
        f"{R}/sites/{{site_id}}/class-override",
        PREFECTURE_UP,
        lambda w: f"{R}/sites/{w.ids['site']}/class-override",
        body=lambda w: {"management_class": "key", "reason": "辖区重点"},
    ),
    api(
        "post",
        f"{R}/sites/{{site_id}}/facilities",
        OWN_WRITE,
        lambda w: f"{R}/sites/{w.ids['site']}/facilities",
        body=lambda w: {"kind": "storage", "name": "二号贮存库", "storage_capacity_tonnes": "20"},
    ),
    api(
        "post",
        f"{R}/licences",
        PROVINCE,
        body=lambda w: {
            "holder_id": w.ids["own"],
            "number": "吉危许矩阵02",
            "kind": "comprehensive",
            "methods": ["disposal"],
            "annual_capacity_tonnes": "500",
            "valid_from": "2026-01-01",
            "scopes": [{"item": "HW49", "annual_tonnes": "500"}],
        },
    ),
    api(
        "post",
        f"{R}/licences/{{licence_id}}/change",
        PROVINCE,
        lambda w: f"{R}/licences/{w.ids['licence']}/change",
        body=lambda w: {"reason": "扩能", "annual_capacity_tonnes": "1200"},
    ),
    api(
        "post",
        f"{R}/licences/{{licence_id}}/status",
        PROVINCE,
        lambda w: f"{R}/licences/{w.ids['licence']}/status",
        body=lambda w: {"status": "suspended", "reason": "整改"},
    ),
    api(
        "post",
        f"{R}/vehicles",
        OWN_WRITE,
        body=lambda w: {
            "carrier_id": w.ids["own"],
            "plate": "吉A00003",
            "transport_certificate": "吉交运证3",
            "payload_tonnes": "5",
            "valid_until": str(TODAY + dt.timedelta(days=300)),
        },
    ),
    api(
        "post",
        f"{R}/vehicles/{{vehicle_id}}/registration",
        REG_WRITE,
        lambda w: f"{R}/vehicles/{w.ids['vehicle_pending']}/registration",
        body=lambda w: {"approve": True},
    ),
    api(
        "post",
        f"{R}/drivers",
        OWN_WRITE,
        body=lambda w: {
            "carrier_id": w.ids["own"],
            "name": "李押运",
            "role": "escort",
            "certificate_number": "220100000000000002Y",
            "certificate_valid_until": str(TODAY + dt.timedelta(days=300)),
        },
    ),
    api(
        "post",
        f"{R}/road-licences",
        OWN_WRITE,
        body=lambda w: {
            "carrier_id": w.ids["own"],
            "number": "吉交运矩阵02",
            "scope": "危险货物运输",
            "valid_from": "2026-01-01",
            "valid_to": "2029-12-31",
        },
    ),
    api(
        "post",
        f"{R}/contracts",
        OWN_WRITE,
        body=lambda w: {
            "kind": "disposal",
            "number": "HT-矩阵-2",
            "party_a_id": w.ids["own"],
            "party_b_id": w.ids["other"],
            "waste_codes": ["900-041-49"],
            "planned_tonnes": "3",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
        },
    ),
    api(
        "post",
        f"{R}/eia-approvals",
        OWN_WRITE,
        body=lambda w: {
            "enterprise_id": w.ids["own"],
            "project": "二期",
            "approval_number": "长环审矩阵2",
            "approved_on": "2025-03-01",
            "authority": "长春市生态环境局",
            "expected_wastes": [{"waste_code": "900-249-08", "annual_tonnes": "2"}],
        },
    ),
    api(
        "post",
        f"{R}/insurances",
        OWN_WRITE,
        body=lambda w: {
            "enterprise_id": w.ids["own"],
            "insurer": "测试保险",
            "policy_number": "BD-矩阵-2",
            "coverage_yuan": "500000",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
        },
    ),
    api(
        "post",
        f"{R}/emergency-plans",
        OWN_WRITE,
        body=lambda w: {
            "enterprise_id": w.ids["own"],
            "filing_number": "220102-2026-矩阵2",
            "filed_on": "2026-03-01",
            "authority": "南关区分局",
        },
    ),
    # management plans: the unit's admins and members write; regulators of the site's region
    # review; everyone who sees the site reads
    api("get", f"{P}/", OWN_READ, ok=has_id("plan_filed")),
    api("post", f"{P}/", PLAN_WRITE, body=lambda w: {"site_id": w.ids["site"], "year": TODAY.year + 2}),
    api("get", f"{P}/review-queue", REG_SEE_HERE, ok=has_id("plan_filed")),
    api(
        "get",
        f"{P}/missing",
        REG_SEE_HERE,
        lambda w: f"{P}/missing?year={TODAY.year + 1}",
        ok=has_id("site", field="site_id", list_key=None),
    ),
    api("get", f"{P}/{{plan_id}}", OWN_READ, lambda w: f"{P}/{w.ids['plan_filed']}"),
    api(
        "post",
        f"{P}/{{plan_id}}/lines",
        PLAN_WRITE,
        lambda w: f"{P}/{w.ids['plan_draft']}/lines",
        body=lambda w: {"section": "A3", "waste_code": "900-041-49", "tonnes": "1"},
    ),
    api(
        "delete",
        f"{P}/{{plan_id}}/lines/{{line_id}}",
        PLAN_WRITE,
        lambda w: f"{P}/{w.ids['plan_draft']}/lines/{w.ids['plan_line']}",
    ),
    api("post", f"{P}/{{plan_id}}/file", PLAN_WRITE, lambda w: f"{P}/{w.ids['plan_draft']}/file"),
    # ledger stock: whoever sees the site (its unit's users, regulators over its region)
    api("get", f"{P}/sites/{{site_id}}/stock", OWN_READ, lambda w: f"{P}/sites/{w.ids['site']}/stock"),
    api(
        "post",
        f"{P}/{{plan_id}}/change",
        PLAN_WRITE,
        lambda w: f"{P}/{w.ids['plan_filed']}/change",
        body=lambda w: {"reason": "新增转移去向"},
    ),
    api(
        "post",
        f"{P}/{{plan_id}}/review",
        REG_WRITE,
        lambda w: f"{P}/{w.ids['plan_filed']}/review",
        body=lambda w: {"accept": True},
    ),
    # exchange: an import writes what the caller could write through the pages (a one-line file:
    # a site of the own unit); others' files are refused (400 with the errors) or denied
    api(
        "post",
        "/api/v1/exchange/import",
        OWN_WRITE,
        body=lambda w: {
            "type": "site",
            "version": 1,
            "enterprise": w.own.credit_code,
            "name": "矩阵导入场所",
            "address": "长春市南关区矩阵路 1 号",
            "region": "220102",
            "roles": ["generator"],
        },
        ok=lambda r, w: r.status_code == 200 and Site.objects.filter(enterprise=w.own, name="矩阵导入场所").exists(),
    ),
]


PAGES: list[Cell] = [
    page("get", "", ALL, "/"),
    page("get", "login/", ALL, "/login/", ok=lambda r, w: r.status_code in (200, 302)),
    # The login flow's second step: anyone may reach it; it sends those with nothing pending back
    # to the login page. Its authorization lives in the flow (tests in weifei/accounts).
    page("get", "login/totp/", ALL, "/login/totp/", ok=no_server_error),
    page("get", "login/totp/enrol/", ALL, "/login/totp/enrol/", ok=no_server_error),
    page("post", "logout/", ALL, "/logout/", ok=lambda r, w: r.status_code == 302),
    page(
        "post",
        "i18n/setlang/",
        ALL,
        "/i18n/setlang/",
        body=lambda w: {"language": "en"},
        ok=lambda r, w: r.status_code == 302,
    ),
    page("get", "catalog/", ALL, "/catalog/?q=飞灰"),
    page("get", "catalog/<str:code>/", ALL, "/catalog/900-249-08/"),
    page("get", "home/", LOGGED_IN, "/home/", ok=lambda r, w: r.status_code == 302 and not _to_login(r)),
    page("get", "dashboard/", REGULATORS, "/dashboard/"),
    page("get", "enterprise/", ENTERPRISE_USERS, "/enterprise/"),
    page("get", "account/tokens/", LOGGED_IN, "/account/tokens/"),
    page(
        "post",
        "account/tokens/<int:token_id>/revoke/",
        frozenset({"own_admin"}),
        lambda w: f"/account/tokens/{w.ids['token']}/revoke/",
        ok=changed(lambda w: ApiToken.objects.get(pk=w.ids["token"]).revoked_at is not None),
    ),
    page(
        "get",
        "account/enterprises/<int:enterprise_id>/members/",
        OWN_READ,
        lambda w: f"/account/enterprises/{w.ids['own']}/members/",
    ),
    page(
        "post",
        "account/enterprises/<int:enterprise_id>/members/",
        OWN_ADMIN,
        lambda w: f"/account/enterprises/{w.ids['own']}/members/",
        body=lambda w: {"role": "driver", "email_or_username_hint": "页面邀请", "expires_in_days": "7"},
        ok=changed(lambda w: Invitation.objects.filter(enterprise_id=w.ids["own"], hint="页面邀请").exists()),
    ),
    page(
        "post",
        "account/members/<int:membership_id>/role/",
        OWN_ADMIN,
        lambda w: f"/account/members/{w.ids['membership_member']}/role/",
        body=lambda w: {"role": "reader"},
        ok=changed(lambda w: _reload(Membership, w.ids["membership_member"]).role == "reader"),
    ),
    page(
        "post",
        "account/members/<int:membership_id>/remove/",
        OWN_ADMIN,
        lambda w: f"/account/members/{w.ids['membership_member']}/remove/",
        ok=changed(lambda w: not Membership.objects.filter(pk=w.ids["membership_member"]).exists()),
    ),
    page(
        "post",
        "account/invitations/<int:invitation_id>/revoke/",
        OWN_ADMIN,
        lambda w: f"/account/invitations/{w.ids['invitation']}/revoke/",
        ok=changed(lambda w: _reload(Invitation, w.ids["invitation"]).revoked_at is not None),
    ),
    # The link itself is the credential: anybody holding it sees the invitation; a unit user not
    # yet a member joins, somebody logged out creates an account; members and regulators cannot.
    page("get", "account/invitations/<str:token>/", ALL, lambda w: f"/account/invitations/{w.secrets['invitation']}/"),
    page(
        "post",
        "account/invitations/<str:token>/",
        frozenset({"anonymous", "other_member"}),
        lambda w: f"/account/invitations/{w.secrets['invitation']}/",
        body=lambda w: {"username": "invitee", "password": PASSWORD, "full_name": "受邀人"},
        ok=changed(lambda w: _reload(Invitation, w.ids["invitation"]).accepted_at is not None),
    ),
    page("get", "registry/", LOGGED_IN, "/registry/"),
    page("get", "registry/register/", ALL, "/registry/register/"),
    page("get", "registry/verification/", REGULATORS, "/registry/verification/"),
    page(
        "get", "registry/enterprises/<int:enterprise_id>/", OWN_READ, lambda w: f"/registry/enterprises/{w.ids['own']}/"
    ),
    page(
        "post",
        "registry/enterprises/<int:enterprise_id>/verify/",
        REG_WRITE,
        lambda w: f"/registry/enterprises/{w.ids['pending']}/verify/",
        body=lambda w: {"decision": "approve"},
        ok=changed(lambda w: _reload(Enterprise, w.ids["pending"]).verification == "verified"),
    ),
    page(
        "get",
        "registry/enterprises/<int:enterprise_id>/sites/new/",
        OWN_READ,
        lambda w: f"/registry/enterprises/{w.ids['own']}/sites/new/",
    ),
    page(
        "post",
        "registry/enterprises/<int:enterprise_id>/sites/new/",
        OWN_WRITE,
        lambda w: f"/registry/enterprises/{w.ids['own']}/sites/new/",
        body=lambda w: {"name": "三厂", "address": "南关区测试路3号", "region": "220102", "roles": ["generator"]},
        ok=changed(lambda w: Site.objects.filter(enterprise_id=w.ids["own"], name="三厂").exists()),
    ),
    page(
        "get",
        "registry/enterprises/<int:enterprise_id>/vehicles/new/",
        OWN_READ,
        lambda w: f"/registry/enterprises/{w.ids['own']}/vehicles/new/",
    ),
    page(
        "post",
        "registry/enterprises/<int:enterprise_id>/vehicles/new/",
        OWN_WRITE,
        lambda w: f"/registry/enterprises/{w.ids['own']}/vehicles/new/",
        body=lambda w: {
            "plate": "吉A00004",
            "transport_certificate": "吉交运证4",
            "payload_tonnes": "6",
            "valid_until": str(TODAY + dt.timedelta(days=200)),
        },
        ok=changed(lambda w: Vehicle.objects.filter(plate="吉A00004").exists()),
    ),
    page(
        "post",
        "registry/sites/<int:site_id>/class/",
        PREFECTURE_UP,
        lambda w: f"/registry/sites/{w.ids['site']}/class/",
        body=lambda w: {"management_class": "key", "reason": "辖区重点"},
        ok=changed(lambda w: _reload(Site, w.ids["site"]).management_class_override == "key"),
    ),
    page(
        "post",
        "registry/vehicles/<int:vehicle_id>/registration/",
        REG_WRITE,
        lambda w: f"/registry/vehicles/{w.ids['vehicle_pending']}/registration/",
        body=lambda w: {"decision": "approve"},
        ok=changed(lambda w: _reload(Vehicle, w.ids["vehicle_pending"]).registration == "approved"),
    ),
    # management plans
    page("get", "plans/", LOGGED_IN, "/plans/"),
    page(
        "post",
        "plans/new/",
        PLAN_WRITE,
        "/plans/new/",
        body=lambda w: {"site_id": w.ids["site"], "year": TODAY.year + 2},
        ok=changed(lambda w: ManagementPlan.objects.filter(site_id=w.ids["site"], year=TODAY.year + 2).exists()),
    ),
    page("get", "plans/<int:plan_id>/", OWN_READ, lambda w: f"/plans/{w.ids['plan_filed']}/"),
    page(
        "post",
        "plans/<int:plan_id>/lines/",
        PLAN_WRITE,
        lambda w: f"/plans/{w.ids['plan_draft']}/lines/",
        body=lambda w: {"section": "A3", "waste_code": "900-041-49", "tonnes": "1"},
        ok=changed(lambda w: PlanLine.objects.filter(plan_id=w.ids["plan_draft"], waste_code="900-041-49").exists()),
    ),
    page(
        "post",
        "plans/<int:plan_id>/lines/<int:line_id>/remove/",
        PLAN_WRITE,
        lambda w: f"/plans/{w.ids['plan_draft']}/lines/{w.ids['plan_line']}/remove/",
        ok=changed(lambda w: not PlanLine.objects.filter(pk=w.ids["plan_line"]).exists()),
    ),
    page(
        "post",
        "plans/<int:plan_id>/file/",
        PLAN_WRITE,
        lambda w: f"/plans/{w.ids['plan_draft']}/file/",
        ok=changed(lambda w: _reload(ManagementPlan, w.ids["plan_draft"]).status == "filed"),
    ),
    page(
        "post",
        "plans/<int:plan_id>/change/",
        PLAN_WRITE,
        lambda w: f"/plans/{w.ids['plan_filed']}/change/",
        body=lambda w: {"reason": "新增转移去向"},
        ok=changed(lambda w: _reload(ManagementPlan, w.ids["plan_filed"]).version == 2),
    ),
    page(
        "post",
        "plans/<int:plan_id>/review/",
        REG_WRITE,
        lambda w: f"/plans/{w.ids['plan_filed']}/review/",
        body=lambda w: {"decision": "accept"},
        ok=changed(lambda w: _reload(ManagementPlan, w.ids["plan_filed"]).status == "accepted"),
    ),
    page("get", "plans/<int:plan_id>/receipt/", OWN_READ, lambda w: f"/plans/{w.ids['plan_filed']}/receipt/"),
]
for _part in PARTS:
    CELLS += [c for c in _part.CELLS if c.route.startswith("/")]
    PAGES += [c for c in _part.CELLS if not c.route.startswith("/")]

# Not authorization surfaces of their own: the API root (ninja's 404 for the bare prefix) and
# the Django admin (read-only, staff only — checked separately below).
UNLISTED_ROUTES = {"api/v1/"}
SPEC_PAGES = {("get", "/api/v1/docs"), ("get", "/api/v1/openapi.json")}  # the spec does not list itself


def _client_for(world: World, actor: str) -> Client:
    client = Client()
    if actor != "anonymous":
        force_login(client, world.users[actor])
    return client


def _send(client: Client, cell: Cell, world: World) -> Any:
    url = cell.url(world)
    if cell.method == "get":
        return client.get(url)
    body = cell.body(world) if cell.body else {}
    if cell.form:
        return client.post(url, body)
    return client.generic(cell.method.upper(), url, json.dumps(body), content_type="application/json")


def _denied(response: Any) -> bool:
    return response.status_code in (401, 403, 404) or _to_login(response)


def _run(cells: list[Cell], world: World) -> tuple[int, list[str]]:
    failures: list[str] = []
    count = 0
    # One logged-in session per actor, created outside the cells' savepoints so that it
    # survives their rollback; each cell starts from the session cookie as it was.
    clients = {actor: _client_for(world, actor) for actor in ACTORS}
    cookies = {actor: clients[actor].cookies.output() for actor in ACTORS}
    for cell in cells:
        for actor in ACTORS:
            count += 1
            expected = actor in cell.allowed
            client = clients[actor]
            client.cookies.clear()
            client.cookies.load(cookies[actor].replace("Set-Cookie: ", "").replace("\r\n", ";"))
            with transaction.atomic():
                response = _send(client, cell, world)
                succeeded = (cell.ok or ok_2xx)(response, world)
                transaction.set_rollback(True)
            if response.status_code >= 500:
                failures.append(f"{cell.method.upper()} {cell.route} as {actor}: {response.status_code}")
            elif expected and not succeeded:
                failures.append(
                    f"{cell.method.upper()} {cell.route} as {actor}: expected allowed, got "
                    f"{response.status_code} {response.content[:160]!r}"
                )
            elif not expected and succeeded:
                failures.append(
                    f"{cell.method.upper()} {cell.route} as {actor}: LEAK, expected denied, got {response.status_code}"
                )
            elif not expected and not _denied(response) and cell.ok is None:
                failures.append(f"{cell.method.upper()} {cell.route} as {actor}: denied with {response.status_code}")
    return count, failures


def test_every_endpoint_is_in_the_matrix(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    operations = {(m, p) for p, item in spec["paths"].items() for m in item}
    listed = {(c.method, c.route) for c in CELLS if c.route.startswith("/api/")} - SPEC_PAGES
    assert operations - listed == set(), "API operations missing from the matrix"
    assert listed - operations == set(), "matrix rows for operations that no longer exist"

    def walk(resolver: URLResolver, prefix: str = "") -> list[str]:
        routes = []
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                routes += walk(p, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                routes.append(prefix + str(p.pattern))
        return routes

    routes = {r for r in walk(get_resolver()) if not r.startswith(("admin/", "api/v1/")) and r != "healthz"}
    page_routes = {c.route for c in PAGES}
    assert routes - page_routes - UNLISTED_ROUTES == set(), "pages missing from the matrix"
    assert page_routes - routes == set(), "matrix rows for pages that no longer exist"


def test_authorization_matrix() -> None:
    world = _world()
    count, failures = _run(CELLS + PAGES, world)
    print(f"authorization matrix: {count} cells, {len(failures)} failures")
    assert count == len(CELLS + PAGES) * len(ACTORS)
    assert not failures, "\n".join(failures)


def test_admin_is_staff_only_and_read_only() -> None:
    world = _world()
    for actor in ACTORS:
        client = _client_for(world, actor)
        response = client.get("/admin/")
        assert _to_login(response), actor
