"""Out-of-province receivers (辽宁、黑龙江、内蒙古): registered by Jilin's province regulator (refused
for a prefecture regulator and for an enterprise, in Chinese), with the licence their own province
issued; Jilin's pickers and jurisdictions never list their regions; a cross-province manifest to
such a receiver is created and submitted against an approval, consuming it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import regulator_account_create
from weifei.approvals import services as approvals
from weifei.approvals.models import ApprovalLine
from weifei.catalog import selectors as catalog
from weifei.catalog.models import HOME_PROVINCE, Region
from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.identifiers import credit_code_check_char
from weifei.manifests import services as manifests
from weifei.manifests.lifecycle import Event
from weifei.manifests.models import Manifest, State
from weifei.manifests.testing import CODE, world
from weifei.registry import selectors as registry_selectors
from weifei.registry import services as registry
from weifei.registry.models import Enterprise

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
PASSWORD = "Out-of-Province-Pa55!"


def _code(region: str, n: int) -> str:
    body = f"91{region}MA{n:07d}"
    return body + credit_code_check_char(body)


def _regulator(name: str, region: str) -> Actor:
    user = regulator_account_create(
        actor=SYSTEM, username=f"oop_{name}", password=PASSWORD, full_name=name, region_key=region,
        department="固体废物与化学品处", role="regulator",
    ).user  # fmt: skip
    return actor_for(user)


def _register(
    actor: Actor, n: int = 1, region: str = "210100", roles: tuple[str, ...] = ("is_operator",)
) -> Enterprise:
    return registry.enterprise_create(
        actor=actor, credit_code=_code(region, n), name=f"沈阳测试危废处置有限公司{n}", region_key=region, roles=roles,
        latitude=Decimal("41.80"), longitude=Decimal("123.43"),
    )  # fmt: skip


def test_neighbouring_provinces_are_loaded_outside_jilin() -> None:
    for key, name in (("210000", "辽宁省"), ("230000", "黑龙江省"), ("150000", "内蒙古自治区")):
        province = Region.objects.get(key=key)
        assert province.name == name and province.level == "province" and province.province_code == key
    assert Region.objects.filter(province_code="210000", level="prefecture").count() == 14
    assert Region.objects.filter(province_code="230000", level="prefecture").count() == 13
    assert Region.objects.filter(province_code="150000", level="prefecture").count() == 12
    assert Region.objects.get(key="231000").name == "牡丹江市"
    jilin = Region.objects.get(key=HOME_PROVINCE)
    ids = catalog.jurisdiction_region_ids(jilin)
    assert ids == set(Region.objects.home().values_list("id", flat=True))
    assert not Region.objects.out_of_province().filter(id__in=ids).exists()


def test_loading_again_changes_nothing() -> None:
    from weifei.catalog.services import regions_load

    before = list(Region.objects.order_by("key").values_list("key", "name", "province_code", "parent_id"))
    regions_load()
    assert list(Region.objects.order_by("key").values_list("key", "name", "province_code", "parent_id")) == before


def test_jilin_pickers_do_not_list_other_provinces(client: Client) -> None:
    assert not catalog.regions(actor=SYSTEM).exclude(province_code=HOME_PROVINCE).exists()
    assert catalog.prefectures(actor=SYSTEM).count() == 9
    api = client.get("/api/v1/catalog/regions", {"level": "prefecture"}).json()
    assert len(api) == 9 and {r["province_code"] for r in api} == {HOME_PROVINCE}
    liaoning = client.get("/api/v1/catalog/regions", {"province": "210000", "level": "prefecture"}).json()
    assert len(liaoning) == 14 and liaoning[0]["key"] == "210100"
    assert client.get("/api/v1/catalog/regions", {"province": "21"}).status_code == 400
    page = client.get("/registry/register/").content.decode()
    assert "南关区" in page and "沈阳市" not in page and "辽宁省" not in page


def test_province_regulator_registers_an_out_of_province_receiver_and_its_licence() -> None:
    province = _regulator("province", "220000")
    unit = _register(province)
    assert unit.region.key == "210100" and unit.verification == "verified"
    site = registry.site_create(
        actor=province, enterprise=unit, name="处置中心", address="沈阳市测试路1号", region_key="210100",
        roles=["operator"],
    )  # fmt: skip
    assert site.region.province_code == "210000"
    with pytest.raises(ApplicationError) as missing:
        registry.licence_create(
            actor=province, holder=unit, number="辽危废经字测试01", kind="comprehensive", methods=["disposal"],
            annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2026, 1, 1), categories=["HW08"],
        )  # fmt: skip
    assert missing.value.code == "issuing_authority_required" and "发证机关" in missing.value.message
    licence = registry.licence_create(
        actor=province, holder=unit, number="辽危废经字测试01", kind="comprehensive", methods=["disposal"],
        annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2026, 1, 1), categories=["HW08"],
        issuing_authority="辽宁省生态环境厅",
    )  # fmt: skip
    assert licence.issuing_authority == "辽宁省生态环境厅"
    # The province sees it; a prefecture regulator does not; the public statistics leave it out.
    assert registry_selectors.enterprises_visible(actor=province).filter(id=unit.id).exists()
    prefecture = _regulator("prefecture", "220100")
    assert not registry_selectors.enterprises_visible(actor=prefecture).filter(id=unit.id).exists()
    rows = registry_selectors.enterprises_per_prefecture(actor=province)
    assert all(str(r["code"]).startswith("22") for r in rows if r["code"])
    assert sum(int(r["count"]) for r in rows) == 0  # type: ignore[call-overload]


def test_prefecture_regulator_and_enterprise_are_refused_in_chinese() -> None:
    prefecture = _regulator("prefecture", "220100")
    with pytest.raises(PermissionDenied) as refused:
        _register(prefecture)
    assert refused.value.code == "out_of_province" and "省级生态环境部门" in refused.value.message
    from weifei.registry.registration import enterprise_self_register

    with pytest.raises(PermissionDenied) as self_registered:
        enterprise_self_register(
            username="oop_self", password=PASSWORD, full_name="张三", credit_code=_code("210100", 7),
            name="外省自助注册有限公司", region_key="210100", roles=("is_operator",),
        )  # fmt: skip
    assert "不能在本平台自行注册" in self_registered.value.message
    assert not Enterprise.objects.filter(credit_code=_code("210100", 7)).exists()
    province = _regulator("province", "220000")
    with pytest.raises(ApplicationError) as generator:
        _register(province, roles=("is_generator",))
    assert generator.value.code == "out_of_province_role"
    with pytest.raises(ApplicationError) as level:
        _register(province, region="210000")
    assert level.value.code == "region_level" and "地级" in level.value.message
    with pytest.raises(ApplicationError) as far:
        registry.enterprise_create(
            actor=province, credit_code=_code("230100", 3), name="哈尔滨坐标错误有限公司", region_key="230100",
            roles=("is_operator",), latitude=Decimal("30.0"), longitude=Decimal("126.5"),
        )  # fmt: skip
    assert far.value.code == "latitude_range" and "黑龙江省" in far.value.message


def test_cross_province_manifest_to_an_out_of_province_receiver_is_submitted_against_its_approval(
    settings: Any,
) -> None:
    w = world(containers=2)
    now = timezone.now()
    today = timezone.localdate(now)
    province = _regulator("province", "220000")
    receiver = _register(province, n=11)
    registry.site_create(
        actor=province, enterprise=receiver, name="处置中心", address="沈阳市测试路2号", region_key="210100",
        roles=["operator"],
    )  # fmt: skip
    licence = registry.licence_create(
        actor=province, holder=receiver, number="辽危废经字测试11", kind="comprehensive",
        methods=["storage", "disposal"], annual_capacity_tonnes=Decimal(1000),
        valid_from=today - dt.timedelta(days=30), categories=["HW08"], issuing_authority="辽宁省生态环境厅",
    )  # fmt: skip
    registry.contract_create(
        actor=SYSTEM, kind="disposal", number="HT-跨省-1", party_a=w.consignor, party_b=receiver,
        waste_codes=[CODE], planned_tonnes=Decimal(10), valid_from=today - dt.timedelta(days=10),
        valid_to=today + dt.timedelta(days=300),
    )  # fmt: skip
    settings.MANIFEST_PLAN_POLICY = "warn"  # the filed plan names Jilin receivers only: recorded as a warning
    consignor = w.actor("consignor")
    # A registered out-of-province receiver must be named with its own province.
    with pytest.raises(ApplicationError) as mismatch:
        approvals.application_create(
            actor=consignor, site_id=w.site.id, receiver_province="230000", receiver_name=receiver.name,
            receiver_credit_code=receiver.credit_code, receiver_licence_number=licence.number,
            receiver_licence_valid_to=licence.valid_to, method_code="D10", period_from=today,
            period_to=today + dt.timedelta(days=200), lines=[{"waste_code": CODE, "tonnes": "0.5"}],
        )  # fmt: skip
    assert mismatch.value.code == "receiver_province_mismatch"
    app = approvals.application_create(
        actor=consignor, site_id=w.site.id, receiver_province="210000", receiver_name=receiver.name,
        receiver_credit_code=receiver.credit_code, receiver_licence_number=licence.number,
        receiver_licence_valid_to=licence.valid_to, method_code="D10", period_from=today,
        period_to=today + dt.timedelta(days=200), lines=[{"waste_code": CODE, "tonnes": "0.5"}],
    )  # fmt: skip
    approvals.application_submit(actor=consignor, application_id=app.id, now=now)
    approvals.step_act(actor=province, application_id=app.id, action="accept", now=now)
    approvals.step_act(actor=province, application_id=app.id, action="agree", now=now)
    approvals.reply_record(actor=province, application_id=app.id, decision="agree", responder="辽宁省生态环境厅",
                           now=now)  # fmt: skip
    decided = approvals.application_decide(actor=province, application_id=app.id, approve=True, now=now)
    number = decided.approval.number
    m = w.manifest(containers=2, receiver_id=receiver.id, transfer_type="cross_province", approval_reference=number)
    m = manifests.manifest_transition(actor=consignor, manifest_id=m.id, event=Event.SUBMIT)
    assert m.state == State.SUBMITTED and m.receiver_licence_number == licence.number
    line = ApprovalLine.objects.get(approval=decided.approval, waste_code=CODE)
    assert line.consumed_tonnes == Decimal("0.4")
    assert Manifest.objects.get(id=m.id).transfer_type == Manifest.TransferType.CROSS_PROVINCE
    # A discrepancy report (第十八条) goes to the 接受地 authority: for a receiver in another province,
    # Jilin's province regulators, who carry it over; Liaoning has no accounts here.
    told = manifests._receiving_regulators(Manifest.objects.select_related("receiver__region").get(id=m.id))
    assert province.user_id in told


def test_no_regulator_account_is_bound_to_another_province() -> None:
    with pytest.raises(ApplicationError) as exc:
        _regulator("辽宁监管", "210100")
    assert exc.value.code == "region_out_of_province" and exc.value.field == "region"
    assert "吉林省" in exc.value.message
