"""Importing exchange-format files: all or nothing with every error listed, --partial,
--dry-run, idempotency by natural keys, updates, and the acting user's permissions."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.catalog.models import Region
from weifei.core.actors import SYSTEM
from weifei.core.errors import PermissionDenied
from weifei.core.models import Event
from weifei.exchange.synthetic import registry_records
from weifei.registry.models import Enterprise, Facility, Licence, Site, Vehicle, Verification

from .conftest import TODAY, World, codes, enterprise, export_text, jsonl, run_import, site, vehicle

pytestmark = pytest.mark.usefixtures("reference")


def _rows() -> tuple[int, int, int, int]:
    return Enterprise.objects.count(), Site.objects.count(), Vehicle.objects.count(), Event.objects.count()


def test_a_file_with_errors_is_refused_whole_with_every_error_listed() -> None:
    carrier = enterprise(1, roles=["is_carrier"])
    good = enterprise(2)
    bad_check = enterprise(3)
    bad_check["credit_code"] = bad_check["credit_code"][:-1] + ("1" if bad_check["credit_code"][-1] != "1" else "2")
    text = jsonl(
        carrier,  # 1
        good,  # 2
        bad_check,  # 3: check character
        enterprise(4, region="999999"),  # 4: unknown region
        enterprise(5, region="220100"),  # 5: a prefecture is not a county-level place
        {**good, "name": "重复"},  # 6: the same credit code again
        site(good["credit_code"]),  # 7: fine
        site(bad_check["credit_code"]),  # 8: refers to the record with an error
        vehicle(carrier["credit_code"], "吉A1234"),  # 9: plate format
        vehicle(carrier["credit_code"], "吉A54321", valid_until=(TODAY - dt.timedelta(days=1)).isoformat()),  # 10
        vehicle("91220101MA0000000X", "吉A54322"),  # 11: unknown carrier
        vehicle(good["credit_code"], "吉A54323"),  # 12: not a carrier
        {"type": "truck", "version": 1},  # 13
        {"type": "site", "version": 2},  # 14
        '{"type": "enterprise", "version": 1, "credit_code": ',  # 15: malformed JSON
        {**enterprise(6), "colour": "red", "latitude": "43.1234567"},  # 16: unknown field, too many places
        enterprise(7, latitude="50.0", longitude="125.0"),  # 17: outside Jilin
    )
    before = _rows()
    report = run_import(text)
    assert report.refused and not report.applied
    found = codes(report)
    expected = {
        (3, "credit_code", "credit_code_checksum"),
        (4, "region", "region_not_found"),
        (5, "region", "region_level"),
        (6, "credit_code", "duplicate_in_file"),
        (8, "enterprise", "reference_invalid"),
        (9, "plate", "plate_format"),
        (10, "valid_until", "vehicle_expired"),
        (11, "carrier", "reference_not_found"),
        (12, "carrier", "not_carrier"),
        (13, "type", "unknown_type"),
        (14, "version", "unsupported_version"),
        (15, None, "json_invalid"),
        (16, "colour", "unknown_field"),
        (16, "latitude", "decimal_places"),
        (17, "latitude", "latitude_range"),
    }
    assert found == expected, found ^ expected
    assert _rows() == before
    # Messages are the services' own, in Chinese, naming the rule.
    by_line = {p.line: p for p in report.problems}
    assert by_line[9].message == "车牌号 '吉A1234' 格式不正确（如 吉A12345）"
    assert str(by_line[3]).startswith("第 3 行 credit_code：统一社会信用代码校验位错误")
    assert str(by_line[3]).endswith("(credit_code_checksum)")
    assert report.summary().startswith("文件未导入：共 15 处错误")


def test_partial_writes_the_valid_records_and_reports_the_rest() -> None:
    carrier = enterprise(1, roles=["is_carrier"])
    text = jsonl(
        carrier,
        enterprise(2, region="999999"),
        site(carrier["credit_code"]),
        site(enterprise(2)["credit_code"]),  # its enterprise has an error: not imported either
        vehicle(carrier["credit_code"], "吉B12345"),
        vehicle(carrier["credit_code"], "吉B1"),
    )
    report = run_import(text, partial=True)
    assert report.applied and not report.refused
    assert codes(report) == {
        (2, "region", "region_not_found"),
        (4, "enterprise", "reference_invalid"),
        (6, "plate", "plate_format"),
    }
    assert report.created == {"enterprise": 1, "site": 1, "vehicle": 1}
    assert Enterprise.objects.filter(credit_code=carrier["credit_code"]).exists()
    assert Vehicle.objects.get(plate="吉B12345").registration == Vehicle.Registration.APPROVED
    call_command("audit", "verify", stdout=io.StringIO())


def test_dry_run_reports_what_would_happen_and_writes_nothing() -> None:
    text = jsonl(enterprise(1), site(enterprise(1)["credit_code"]))
    before = _rows()
    report = run_import(text, dry_run=True)
    assert report.created == {"enterprise": 1, "site": 1} and not report.problems
    assert not report.applied and "试运行" in report.summary()
    assert _rows() == before


def test_a_second_import_changes_nothing(world: World) -> None:
    text = export_text()
    before = _rows()
    report = run_import(text)
    assert not report.problems and report.applied
    assert sum(report.created.values()) == 0 and sum(report.updated.values()) == 0
    assert report.unchanged == {
        "enterprise": 3,
        "site": 3,
        "facility": 3,
        "licence": 1,
        "vehicle": 1,
        "driver": 1,
        "contract": 2,
    }
    assert _rows() == before


def test_small_bulk_import_is_idempotent_and_its_chains_verify() -> None:
    regions = list(Region.objects.filter(level__in=["county", "zone", "area"]).values_list("key", "code6"))
    records = list(registry_records(regions=regions, enterprises=300, sites=600, vehicles=150, today=TODAY, seed=7))
    text = jsonl(*records)
    events = Event.objects.count()
    report = run_import(text)
    assert not report.problems, report.problems[:5]
    assert report.created == {"enterprise": 300, "site": 600, "vehicle": 150}
    # One event per enterprise and vehicle, two per site (created, class computed).
    assert Event.objects.count() - events == 300 + 2 * 600 + 150
    assert Site.objects.exclude(management_class="").count() == Site.objects.count()
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "OK:" in out.getvalue()

    before = _rows()
    again = run_import(text)
    assert not again.problems and sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    assert again.unchanged == {"enterprise": 300, "site": 600, "vehicle": 150}
    assert _rows() == before


def test_a_changed_enterprise_is_updated_through_the_service(world: World) -> None:
    record = json.loads(export_text(types=["enterprise"]).splitlines()[0])
    assert record["credit_code"] == world.generator.credit_code
    record.update(
        name="长春测试汽车零部件股份有限公司", contact_phone="0431-87654321", roles=["is_generator", "is_carrier"]
    )
    report = run_import(jsonl(record))
    assert not report.problems and report.updated == {"enterprise": 1}
    world.generator.refresh_from_db()
    assert world.generator.name == "长春测试汽车零部件股份有限公司" and world.generator.is_carrier
    event = Event.objects.filter(kind="registry.enterprise_updated", subject_id=str(world.generator.id)).get()
    assert event.after == {
        "name": "长春测试汽车零部件股份有限公司",
        "contact_phone": "0431-87654321",
        "is_carrier": True,
    }
    assert event.reason == "数据交换导入"


def test_other_changes_are_refused_with_a_clear_message(world: World) -> None:
    lines = export_text(types=["enterprise", "site", "vehicle"]).splitlines()
    records = [json.loads(line) for line in lines]
    records[0]["region"] = "220104"  # the generator moves: not through an import
    first_site = next(r for r in records if r["type"] == "site")
    first_site["address"] = "新地址"
    vehicle_record = next(r for r in records if r["type"] == "vehicle")
    vehicle_record["payload_tonnes"] = "20.000"
    report = run_import(jsonl(*records))
    assert report.refused
    problems = {(p.field, p.code) for p in report.problems}
    assert problems == {
        ("region", "region_not_editable"),
        ("address", "change_not_supported"),
        ("payload_tonnes", "change_not_supported"),
    }
    message = next(p.message for p in report.problems if p.field == "payload_tonnes")
    assert message.startswith("运输车辆 吉A12345 已存在") and "现为 10.500，文件为 20.000" in message


def test_an_absent_field_keeps_its_value_and_null_empties_it(world: World) -> None:
    minimal = {"type": "enterprise", "version": 1, "credit_code": world.generator.credit_code}
    minimal.update(name=world.generator.name, region="220102")  # the required fields
    assert run_import(jsonl(minimal)).unchanged == {"enterprise": 1}
    report = run_import(jsonl({**minimal, "contact_email": None}))
    assert report.updated == {"enterprise": 1}
    world.generator.refresh_from_db()
    assert world.generator.contact_email == "" and world.generator.contact_phone == "0431-81234567"


def test_records_refer_to_each_other_by_natural_key_across_types(world: World) -> None:
    new = enterprise(1, roles=["is_operator"])
    text = jsonl(
        {
            "type": "contract",
            "version": 1,
            "party_a": world.generator.credit_code,
            "number": "HT-2026-9",
            "kind": "disposal",
            "party_b": new["credit_code"],
            "waste_codes": ["900-041-49"],
            "planned_tonnes": "5",
            "valid_from": "2025-03-01",
            "valid_to": "2026-02-28",
        },
        {
            "type": "facility",
            "version": 1,
            "enterprise": new["credit_code"],
            "site": "处置中心",
            "kind": "disposal",
            "name": "回转窑",
            "design_capacity_tonnes": "1000",
        },
        site(new["credit_code"], "处置中心", roles=["operator"]),
        new,  # after the records that need it: the import orders by type
    )
    report = run_import(text)
    assert not report.problems, report.problems
    assert report.created == {"enterprise": 1, "site": 1, "facility": 1, "contract": 1}
    facility = Facility.objects.get(name="回转窑")
    assert facility.code == f"{new['credit_code']}001D"
    # Own disposal facility: 重点 (HJ 1259 4.2.1), recomputed by facility_create.
    assert facility.site.management_class == "key"


def test_facility_codes_are_the_systems(world: World) -> None:
    text = jsonl(
        {
            "type": "facility",
            "version": 1,
            "code": f"{world.generator.credit_code}007S",
            "enterprise": world.generator.credit_code,
            "site": "一厂区",
            "kind": "storage",
            "name": "新贮存间",
            "storage_capacity_tonnes": "3",
        }
    )
    report = run_import(text)
    assert codes(report) == {(1, "code", "facility_code_mismatch")}
    assert f"{world.generator.credit_code}002S" in report.problems[0].message


def test_licences_follow_the_licensing_rules(world: World) -> None:
    base = {
        "type": "licence",
        "version": 1,
        "holder": world.operator.credit_code,
        "methods": ["collection", "storage"],
        "annual_capacity_tonnes": "100",
        "valid_from": "2025-01-01",
    }
    text = jsonl(
        {**base, "number": "L1", "kind": "collection", "scopes": [{"item": "HW08", "annual_tonnes": "100"}]},
        {
            **base,
            "number": "L2",
            "kind": "collection",
            "scopes": [{"item": "900-214-08", "annual_tonnes": "100"}],
            "valid_to": "2029-12-31",
        },
        {**base, "number": "L3", "holder": world.generator.credit_code, "kind": "comprehensive", "scopes": []},
    )
    report = run_import(text)
    assert codes(report) == {
        (1, "scopes[0]", "collection_scope"),
        (2, "valid_to", "valid_to_mismatch"),
        (3, "holder", "not_operator"),
    }
    assert "2027-12-31" in next(p.message for p in report.problems if p.line == 2)


def test_licence_with_status_and_class_refresh(world: World) -> None:
    new = enterprise(1, roles=["is_operator"])
    text = jsonl(
        new,
        site(new["credit_code"], "处置中心", roles=["operator"]),
        {
            "type": "licence",
            "version": 1,
            "number": "吉环危许2026009",
            "holder": new["credit_code"],
            "kind": "comprehensive",
            "methods": ["disposal"],
            "annual_capacity_tonnes": "800",
            "valid_from": (TODAY - dt.timedelta(days=10)).isoformat(),
            "scopes": [{"item": "HW49", "annual_tonnes": "800"}],
            "status": "suspended",
        },
    )
    report = run_import(text)
    assert not report.problems, report.problems
    licence = Licence.objects.get(number="吉环危许2026009")
    assert licence.status == "suspended" and licence.issuing_level == "province"
    assert licence.versions.count() == 1


def test_sites_keep_their_status(world: World) -> None:
    report = run_import(
        jsonl(site(world.generator.credit_code, "三厂区", status="closed", closed_on="2025-02-01")),
    )
    assert not report.problems
    closed = Site.objects.get(name="三厂区")
    assert closed.status == "closed" and closed.closed_on == dt.date(2025, 2, 1)
    refused = run_import(jsonl(site(world.generator.credit_code, "四厂区", status="suspended")))
    assert codes(refused) == {(1, "suspended_from", "suspended_from_required")}


def test_an_enterprise_user_imports_only_its_own_records(world: World) -> None:
    member = enterprise_user_create(
        actor=SYSTEM,
        enterprise=world.carrier,
        username="carrier1",
        password="x-long-password-1",
        full_name="赵",
        role="member",
    ).user
    actor = actor_for(member)
    text = jsonl(
        enterprise(1),  # units register themselves through registration, not imports
        vehicle(world.carrier.credit_code, "吉C11111"),
        vehicle(world.operator.credit_code, "吉C22222"),  # another unit: not visible
        site(world.generator.credit_code, "五厂区"),  # nor this one
        {  # a counterparty need not be visible (as in the contracts API)
            "type": "contract",
            "version": 1,
            "party_a": world.carrier.credit_code,
            "number": "YS-9",
            "kind": "disposal",
            "party_b": world.operator.credit_code,
            "waste_codes": ["900-041-49"],
            "planned_tonnes": "1",
            "valid_from": "2025-01-01",
            "valid_to": "2025-12-31",
        },
    )
    report = run_import(text, actor=actor, partial=True)
    assert codes(report) == {
        (1, None, "forbidden"),
        (3, "carrier", "reference_not_found"),
        (4, "enterprise", "reference_not_found"),
    }
    assert report.created == {"vehicle": 1, "contract": 1}
    # Its own vehicle waits for the regulator's 备案 (seed 十三), as through the pages.
    assert Vehicle.objects.get(plate="吉C11111").registration == Vehicle.Registration.PENDING
    # Someone else's existing record is not matched (that would reveal its fields): it is taken.
    taken = run_import(export_text(types=["enterprise"]).splitlines()[0] + "\n", actor=actor)
    assert {(p.field, p.code) for p in taken.problems} == {("credit_code", "duplicate_enterprise")}


def test_a_regulator_imports_in_its_jurisdiction_only() -> None:
    county = regulator_account_create(
        actor=SYSTEM,
        username="nanguan",
        password="x-long-password-2",
        full_name="南关区局",
        region_key="220102",
        department="固废科",
    ).user
    actor = actor_for(county)
    report = run_import(jsonl(enterprise(1), enterprise(2, region="220203")), actor=actor)
    assert codes(report) == {(2, None, "forbidden")}
    assert Enterprise.objects.count() == 0
    report = run_import(jsonl(enterprise(1)), actor=actor)
    assert report.created == {"enterprise": 1}
    assert Enterprise.objects.get().verification == Verification.VERIFIED
    events = Event.objects.filter(kind="registry.enterprise_created").get()
    assert events.actor_user_id == county.id and events.stream == f"org:{Enterprise.objects.get().id}"


def test_read_only_actors_cannot_import() -> None:
    liaison = regulator_account_create(
        actor=SYSTEM,
        username="jiaotong",
        password="x-long-password-3",
        full_name="交通",
        region_key="220000",
        department="交通运输厅",
        role="liaison",
    ).user
    with pytest.raises(PermissionDenied):
        run_import(jsonl(enterprise(1)), actor=actor_for(liaison))


def test_quantities_are_exact_decimal_strings(world: World) -> None:
    report = run_import(jsonl(vehicle(world.carrier.credit_code, "吉D12345", payload_tonnes=12.25)))
    assert not report.problems  # a JSON number is read exactly (never through a float)
    assert Vehicle.objects.get(plate="吉D12345").payload_tonnes == Decimal("12.250")
    report = run_import(jsonl(vehicle(world.carrier.credit_code, "吉D12346", payload_tonnes="12,5")))
    assert codes(report) == {(1, "payload_tonnes", "decimal_format")}
