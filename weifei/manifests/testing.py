"""A small world for manifest tests and scenarios: a generator with labelled containers and a filed
plan, two carriers (联运), two licensed receivers with contracts, and the users acting for each.
Built through the services (the system actor), so every object is as the platform makes it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.core.actors import SYSTEM, Actor
from weifei.core.identifiers import credit_code_check_char
from weifei.registry import services as registry
from weifei.registry.models import Driver, Enterprise, Site, Vehicle

from .services import LegIn, LineIn, manifest_create

PASSWORD = "Manifest-Pa55word!"
CODE = "900-249-08"


def credit_code(n: int) -> str:
    body = f"91220101MA{n:07d}"
    return body + credit_code_check_char(body)


@dataclass
class World:
    consignor: Enterprise
    site: Site
    carrier1: Enterprise
    carrier2: Enterprise
    receiver: Enterprise
    receiver2: Enterprise
    vehicles: dict[str, Vehicle]
    drivers: dict[str, Driver]
    containers: list[str]
    users: dict[str, User] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        return actor_for(self.users[name])

    def manifest(self, *, legs: int = 1, tonnes: str | None = None, containers: int = 2, **kw: Any) -> Any:
        """A draft manifest of ``containers`` labelled drums (0.2 t each) to ``receiver``."""
        codes = tuple(self.containers[:containers])
        total = Decimal(tonnes) if tonnes else Decimal("0.2") * len(codes)
        leg_specs = [
            LegIn(
                carrier_id=self.carrier1.id,
                vehicle_id=self.vehicles["c1"].id,
                driver_id=self.drivers["c1"].id,
                start_point=self.site.address,
                end_point="交接点",
            )
        ]
        if legs == 2:
            leg_specs.append(
                LegIn(
                    carrier_id=self.carrier2.id,
                    vehicle_id=self.vehicles["c2"].id,
                    driver_id=self.drivers["c2"].id,
                    start_point="交接点",
                    end_point="接受人",
                )
            )
        args: dict[str, Any] = {
            "actor": self.actor("consignor"),
            "consignor_site_id": self.site.id,
            "receiver_id": self.receiver.id,
            "lines": [
                LineIn(
                    waste_code=CODE,
                    declared_tonnes=total,
                    packaging="铁桶",
                    label_codes=codes,
                    dg_class="9",
                    un_number="3082",
                )
            ],
            "legs": leg_specs,
            "emergency_measures": "配备吸附棉、灭火器；泄漏时围堵并报告当地生态环境部门",
            "planned_method_code": "D10",
        }
        args.update(kw)
        return manifest_create(**args)


def _unit(n: int, name: str, region: str, roles: tuple[str, ...]) -> Enterprise:
    return registry.enterprise_create(
        actor=SYSTEM, credit_code=credit_code(n), name=name, region_key=region, roles=roles
    )


def _carrier(
    n: int, name: str, region: str, plate: str, cert: str, today: dt.date
) -> tuple[Enterprise, Vehicle, Driver]:
    carrier = _unit(n, name, region, ("is_carrier",))
    registry.road_licence_create(
        actor=SYSTEM,
        carrier=carrier,
        number=f"吉交运管{n}",
        scope="危险货物运输（9类）",
        valid_from=today - dt.timedelta(days=400),
        valid_to=today + dt.timedelta(days=700),
    )
    vehicle = registry.vehicle_create(
        actor=SYSTEM,
        carrier=carrier,
        plate=plate,
        transport_certificate=f"吉运{n}",
        payload_tonnes=Decimal(10),
        valid_until=today + dt.timedelta(days=365),
        dangerous_goods_classes=["9", "8", "3"],
    )
    driver = registry.driver_create(
        actor=SYSTEM,
        carrier=carrier,
        name=f"驾驶员{n}",
        role="driver",
        certificate_number=cert,
        certificate_valid_until=today + dt.timedelta(days=700),
    )
    return carrier, vehicle, driver


def world(*, containers: int = 6, plan_tonnes: str = "50") -> World:
    """Build the world (call inside a test with database access)."""
    from weifei.plans import ledger
    from weifei.plans import services as plans

    now = timezone.now()
    today = timezone.localdate(now)
    consignor = _unit(1, "长春示范机械制造有限公司", "220102", ("is_generator",))
    site = registry.site_create(
        actor=SYSTEM,
        enterprise=consignor,
        name="一厂",
        address="南关区联单路1号",
        region_key="220102",
        roles=["generator"],
    )
    gen = registry.facility_create(actor=SYSTEM, site=site, kind="generating", name="机加工车间")
    carrier1, v1, d1 = _carrier(2, "长春危货运输有限公司", "220102", "吉A10001", "220100000000000011J", today)
    carrier2, v2, d2 = _carrier(3, "吉林市危货联运有限公司", "220202", "吉B20002", "220200000000000022J", today)
    receiver = _unit(4, "吉林省示范危废处置有限公司", "220202", ("is_operator",))
    receiver2 = _unit(5, "四平市示范危废利用有限公司", "220302", ("is_operator",))
    for n, holder in ((4, receiver), (5, receiver2)):
        registry.licence_create(
            actor=SYSTEM,
            holder=holder,
            number=f"吉危许联单0{n}",
            kind="comprehensive",
            methods=["storage", "disposal"],
            annual_capacity_tonnes=Decimal(1000),
            valid_from=today - dt.timedelta(days=100),
            categories=["HW08"],
        )
        registry.contract_create(
            actor=SYSTEM,
            kind="disposal",
            number=f"HT-联单-{n}",
            party_a=consignor,
            party_b=holder,
            waste_codes=[CODE],
            planned_tonnes=Decimal(100),
            valid_from=today - dt.timedelta(days=100),
            valid_to=today + dt.timedelta(days=265),
        )
    plan = plans.plan_draft(actor=SYSTEM, site_id=site.id, year=today.year)
    plans.plan_line_add(actor=SYSTEM, plan_id=plan.id, section="A3", waste_code=CODE, tonnes=Decimal(plan_tonnes))
    for holder in (receiver, receiver2):
        plans.plan_line_add(
            actor=SYSTEM,
            plan_id=plan.id,
            section="A7",
            waste_code=CODE,
            tonnes=Decimal(plan_tonnes),
            transfer_type="in_province",
            receiver_type="licensed",
            receiver_id=holder.id,
            method_code="D10",
        )
    plans.plan_file(actor=SYSTEM, plan_id=plan.id)
    codes = []
    for _ in range(containers):
        entry = ledger.ledger_generate(
            actor=SYSTEM,
            site_id=site.id,
            occurred_at=now - dt.timedelta(minutes=30),
            waste_code=CODE,
            quantity=Decimal("0.2"),
            label=True,
            container_litres=Decimal(200),
            facility_id=gen.id,
        )
        codes.append(str(entry.container_code))
    w = World(
        consignor=consignor,
        site=site,
        carrier1=carrier1,
        carrier2=carrier2,
        receiver=receiver,
        receiver2=receiver2,
        vehicles={"c1": v1, "c2": v2},
        drivers={"c1": d1, "c2": d2},
        containers=codes,
    )
    for name, unit, role in (
        ("consignor", consignor, "admin"),
        ("consignor_reader", consignor, "reader"),
        ("carrier1", carrier1, "member"),
        ("driver1", carrier1, "driver"),
        ("carrier2", carrier2, "member"),
        ("receiver", receiver, "admin"),
        ("receiver_b", receiver, "member"),
        ("receiver2", receiver2, "admin"),
    ):
        w.users[name] = enterprise_user_create(
            actor=SYSTEM, enterprise=unit, username=f"m_{name}", password=PASSWORD, full_name=name, role=role
        ).user
    for name, region in (("regulator", "220102"), ("regulator_elsewhere", "220802")):
        w.users[name] = regulator_account_create(
            actor=SYSTEM,
            username=f"m_{name}",
            password=PASSWORD,
            full_name=name,
            region_key=region,
            department="固体废物科",
            role="regulator",
        ).user
    return w
