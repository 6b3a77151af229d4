"""Ledger import (Excel/CSV → ledger_bulk): the happy path over every record kind, chains within
the file and to existing entries, one row-level error per rule with nothing written, permissions,
equivalence with the one-record services, the API and the page."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from openpyxl import Workbook, load_workbook

from weifei.accounts.selectors import actor_for
from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import NotFound, PermissionDenied
from weifei.core.models import Event
from weifei.plans import ledger, ledger_import
from weifei.plans.ledger_bulk import LedgerRow, ledger_bulk_import
from weifei.plans.models import LabelCounter, LedgerCounter, LedgerEntry
from weifei.registry import services as registry
from weifei.registry.models import Enterprise, Facility, Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "ledger-Pa55word!"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=SH)
CODE = "900-249-08"
CODE2 = "900-041-49"
CREDIT = "91350100M000100Y43"


class W:
    own: Enterprise
    other: Enterprise
    operator: Enterprise
    site: Site
    other_site: Site
    gen: Facility
    store: Facility
    disp: Facility
    actors: dict[str, Actor]
    users: dict[str, Any]


@pytest.fixture
def w() -> W:
    return world_build()


def world_build() -> W:
    """Three units (ours, another, a licensed operator), a site with its facilities, users."""
    w = W()
    w.own = registry.enterprise_create(actor=SYSTEM, credit_code=CREDIT, name="台账导入测试有限公司",
                                       region_key="220102", roles=("is_generator",))  # fmt: skip
    w.other = registry.enterprise_create(actor=SYSTEM, credit_code="91130200699229617X", name="他单位导入测试有限公司",
                                         region_key="220202", roles=("is_generator",))  # fmt: skip
    w.operator = registry.enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="导入处置有限公司",
                                            region_key="220102", roles=("is_operator",))  # fmt: skip
    registry.licence_create(actor=SYSTEM, holder=w.operator, number="吉危许导入01", kind="comprehensive",
                            methods=["disposal"], annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2025, 1, 1),
                            categories=["HW08"])  # fmt: skip
    w.site = registry.site_create(actor=SYSTEM, enterprise=w.own, name="一厂", address="南关区导入路1号",
                                  region_key="220102", roles=["generator"])  # fmt: skip
    w.other_site = registry.site_create(actor=SYSTEM, enterprise=w.other, name="他厂", address="吉林市导入路1号",
                                        region_key="220202", roles=["generator"])  # fmt: skip
    w.gen = registry.facility_create(actor=SYSTEM, site=w.site, kind="generating", name="机加工线")
    w.store = registry.facility_create(actor=SYSTEM, site=w.site, kind="storage", name="贮存库",
                                       storage_capacity_tonnes=Decimal(20))  # fmt: skip
    w.disp = registry.facility_create(actor=SYSTEM, site=w.site, kind="disposal", name="焚烧炉",
                                      design_capacity_tonnes=Decimal(100))  # fmt: skip
    w.actors, w.users = {}, {}
    for role in ("admin", "member", "driver", "reader"):
        user = enterprise_user_create(actor=SYSTEM, enterprise=w.own, username=f"li_{role}", password=PASSWORD,
                                      full_name=role, role=role).user  # fmt: skip
        w.actors[role], w.users[role] = actor_for(user), user
    other_user = enterprise_user_create(actor=SYSTEM, enterprise=w.other, username="li_other", password=PASSWORD,
                                        full_name="他", role="admin").user  # fmt: skip
    w.actors["other"], w.users["other"] = actor_for(other_user), other_user
    user = regulator_account_create(actor=SYSTEM, username="li_county", password=PASSWORD, full_name="县",
                                    region_key="220102", department="测试", role="regulator").user  # fmt: skip
    w.actors["county"], w.users["county"] = actor_for(user), user
    return w


def chain_rows(w: W) -> list[dict[str, Any]]:
    """Every kind, chained within the file: 产生 → 入库 → 出库 → 自行 / 委外, and 委外 from 产生."""
    return [
        {"kind": "产生", "batch_code": "G1", "occurred_at": "2026-03-01 09:00", "waste_code": CODE, "quantity": "5",
         "container_code": "LBL-0001", "container_type": "桶", "facility_code": w.gen.code, "handler": "张三"},
        {"kind": "产生", "occurred_at": "2026-03-01 10:00", "waste_code": CODE, "quantity": "1000", "unit": "kg",
         "label": "是"},
        {"kind": "入库", "batch_code": "I1", "occurred_at": "2026-03-01 10:00", "source_batch": "G1", "quantity": "4",
         "facility_code": w.store.code},
        {"kind": "出库", "batch_code": "O1", "occurred_at": "2026-03-02 09:00", "source_batch": "I1", "quantity": "3"},
        {"kind": "自行利用/处置", "occurred_at": "2026-03-02 09:00", "source_batch": "O1", "quantity": "1",
         "method_code": "D10", "facility_code": w.disp.code, "finished_at": "2026-03-02 12:00"},
        {"kind": "委外利用/处置", "occurred_at": "2026-03-02 09:00", "source_batch": "O1", "quantity": "2",
         "method_code": "D10", "receiver_type": "经营许可证持有单位", "licence_number": "吉危许导入01"},
        {"kind": "委外", "occurred_at": "2026-03-01 11:00", "source_batch": "G1", "quantity": "1",
         "method_code": "D10", "receiver_type": "豁免管理单位", "receiver_name": "某豁免单位",
         "licence_number": "豁免清单第8项"},
    ]  # fmt: skip


def _csv(rows: list[dict[str, Any]]) -> bytes:
    return ledger_import.rows_csv(rows).encode("utf-8-sig")


def _xlsx(rows: list[dict[str, Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = ledger_import.SHEET
    ws.append([c.header for c in ledger_import.COLUMNS])
    for row in rows:
        ws.append([row.get(c.field) for c in ledger_import.COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _import(w: W, rows: list[dict[str, Any]], actor: str = "member", **kw: Any) -> ledger_import.ImportOutcome:
    return ledger_import.ledger_file_import(
        actor=w.actors[actor], data=_csv(rows), file_name="台账.csv", site_id=w.site.id, **kw
    )


def _snapshot() -> tuple[Any, ...]:
    return (
        LedgerEntry.objects.count(),
        Event.objects.count(),
        sorted(LedgerCounter.objects.values_list("prefix", "day", "last_seq")),
        sorted(LabelCounter.objects.values_list("waste_code", "day", "last_seq")),
    )


def _refused(w: W, rows: list[dict[str, Any]], field: str, code: str, row: int | None = None) -> dict[str, Any]:
    before = _snapshot()
    outcome = _import(w, rows)
    assert outcome.imported == 0 and outcome.refused
    assert _snapshot() == before  # nothing written, no event, no counter moved
    found = [e for e in outcome.errors if e["code"] == code]
    assert found, outcome.errors
    error = found[0]
    assert error["field"] == field, error
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])
    if row is not None:
        assert error["row"] == row
    return error


# ------------------------------------------------------------------ happy path


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_every_kind_with_chain_in_file(w: W, fmt: str) -> None:
    rows = chain_rows(w)
    data = _csv(rows) if fmt == "csv" else _xlsx(rows)
    outcome = ledger_import.ledger_file_import(
        actor=w.actors["member"], data=data, file_name=f"台账.{fmt}", site_id=w.site.id
    )
    assert outcome.errors == [] and outcome.imported == 7
    entries = list(LedgerEntry.objects.filter(site=w.site).order_by("id"))
    codes = [e.batch_code for e in entries]
    assert codes[0] == "G1" and codes[1] == "HWCS20260301001" and codes[2:4] == ["I1", "O1"]
    assert codes[4] == "HWZXCZ20260302001" and codes[5] == "HWWWCZ20260302001" and codes[6] == "HWWWCZ20260301001"
    g1, g2, i1, o1, s1, x1, x2 = entries
    assert g2.quantity_tonnes == Decimal(1) and g2.entered_unit == "kg" and g2.category == "HW08"
    assert g2.container_code == f"{CREDIT}90024908" + "20260301001"  # HJ 1276 label allocated
    assert i1.source_id == g1.id and o1.source_id == i1.id and s1.source_id == o1.id and x2.source_id == g1.id
    assert i1.container_code == "LBL-0001" and i1.facility_id == w.store.id and g1.handler == "张三"
    assert s1.finished_at == dt.datetime(2026, 3, 2, 12, 0, tzinfo=SH) and s1.method_code == "D10"
    assert x1.receiver_id == w.operator.id and x1.receiver_name == w.operator.name
    assert x2.receiver_type == "exempt" and x2.licence_number == "豁免清单第8项"
    assert ledger.batch_remaining(g1) == Decimal(0) and ledger.batch_remaining(i1) == Decimal(1)
    # Counters continue: the services number after the import.
    assert LedgerCounter.objects.get(site=w.site, prefix="HWCS", day=dt.date(2026, 3, 1)).last_seq == 1
    assert LabelCounter.objects.get(enterprise=w.own, waste_code=CODE, day=dt.date(2026, 3, 1)).last_seq == 1
    assert not Event.objects.filter(subject_type="plans.ledgerentry").exists()  # one event, not seven
    nxt = ledger.ledger_generate(actor=w.actors["admin"], site_id=w.site.id, occurred_at=T0, waste_code=CODE,
                                 quantity=Decimal(1), label=True)  # fmt: skip
    assert nxt.batch_code == "HWCS20260301002" and str(nxt.container_code).endswith("20260301002")
    (event,) = Event.objects.filter(kind="ledger.imported")
    assert event.organisation_id == w.own.id and event.subject_type == "registry.site"
    assert event.after["count"] == 7 and event.after["first_batch_code"] == "G1"
    assert event.after["last_batch_code"] == "HWWWCZ20260301001" and len(event.after["sha256"]) == 64
    assert event.after["file_name"] == f"台账.{fmt}" and event.after["kinds"]["generated"] == 2


def test_chain_to_existing_entries_and_dry_run(w: W) -> None:
    g = ledger.ledger_generate(actor=w.actors["admin"], site_id=w.site.id, occurred_at=T0, waste_code=CODE,
                               quantity=Decimal(3))  # fmt: skip
    ledger.ledger_store_in(actor=w.actors["admin"], site_id=w.site.id, source_id=g.id, occurred_at=T0,
                           quantity=Decimal(1))  # fmt: skip
    rows = [{"kind": "入库", "occurred_at": "2026-03-01 12:00", "source_batch": g.batch_code, "quantity": "2"}]
    before = _snapshot()
    dry = _import(w, rows, dry_run=True)
    assert dry.imported == 1 and dry.errors == [] and _snapshot() == before
    # What the database says the batch still has (2 t) is the limit.
    _refused(w, [{**rows[0], "quantity": "2.5"}], "quantity", "quantity_exceeds_source", 2)
    outcome = _import(w, rows)
    assert outcome.imported == 1
    entry = LedgerEntry.objects.get(site=w.site, batch_code="HWRK20260301002")  # after the service's 001
    assert entry.source_id == g.id and ledger.batch_remaining(g) == Decimal(0)


def test_row_errors_for_each_rule_nothing_written(w: W) -> None:
    base = {"kind": "产生", "occurred_at": "2026-03-01 09:00", "waste_code": CODE, "quantity": "1"}
    _refused(w, [{**base, "waste_code": "999-999-08"}], "waste_code", "waste_code_not_listed", 2)
    _refused(w, [{**base, "category": "HW49"}], "waste_code", "waste_code_category_mismatch", 2)
    _refused(w, [{**base, "quantity": "-1"}], "quantity", "quantity_not_positive", 2)
    _refused(w, [{**base, "quantity": "5000000"}], "quantity", "quantity_too_large", 2)
    _refused(w, [{**base, "quantity": "十"}], "quantity", "decimal_format", 2)
    _refused(w, [{**base, "occurred_at": "2026-13-01"}], "occurred_at", "datetime_format", 2)
    future = (dt.datetime.now(SH) + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    _refused(w, [{**base, "occurred_at": future}], "occurred_at", "time_in_future", 2)
    _refused(w, [{**base, "kind": "报废"}], "kind", "kind_unknown", 2)
    _refused(w, [{**base, "unit": "bag"}], "unit", "unit_unknown", 2)
    _refused(w, [{**base, "unit": "L"}], "density", "density_required", 2)
    _refused(w, [{**base, "facility_code": w.store.code}], "facility", "facility_wrong_kind", 2)
    # A bad label code: another unit's, another waste code, another date.
    other_label = "91130200699229617X" + "90024908" + "20260301" + "001"
    error = _refused(w, [{**base, "container_code": other_label}], "container_code", "label_not_own", 2)
    assert error["column"] == "容器/包装编码"
    _refused(w, [{**base, "container_code": f"{CREDIT}90004149" + "20260301001"}], "container_code",
             "label_waste_code_mismatch", 2)  # fmt: skip
    _refused(w, [{**base, "container_code": f"{CREDIT}90024908" + "20260228001"}], "container_code",
             "label_date_mismatch", 2)  # fmt: skip
    # The chain.
    gen = {**base, "batch_code": "G1", "quantity": "2"}
    stored = {"kind": "入库", "batch_code": "I1", "occurred_at": "2026-03-01 10:00", "source_batch": "G1",
              "quantity": "2"}  # fmt: skip
    out = {"kind": "出库", "occurred_at": "2026-03-01 11:00", "source_batch": "I1", "quantity": "3"}
    error = _refused(w, [gen, stored, out], "quantity", "quantity_exceeds_source", 4)  # 出库 larger than stock
    assert error["column"] == "数量" and "剩余量 2.000000" in error["message"]
    _refused(w, [gen, {**stored, "source_batch": "NOPE"}], "source", "source_missing", 3)
    _refused(w, [gen, {**stored, "occurred_at": "2026-03-01 08:00"}], "occurred_at", "time_before_source", 3)
    _refused(w, [gen, {**out, "source_batch": "G1", "quantity": "1"}], "source", "source_wrong_kind", 3)
    _refused(w, [stored, gen], "source", "source_later_in_file", 2)
    _refused(w, [{**gen, "waste_code": "bad"}, stored], "source", "reference_invalid", 3)
    _refused(w, [gen, {**gen, "quantity": "1"}], "batch_code", "batch_code_duplicate", 3)
    _refused(w, [{**gen, "container_code": "C1"}, {**gen, "batch_code": "G2", "container_code": "C1"}],
             "container_code", "container_taken", 3)  # fmt: skip
    # A batch from another site is not a source of this site.
    other = ledger.ledger_generate(actor=w.actors["other"], site_id=w.other_site.id, occurred_at=T0, waste_code=CODE,
                                   quantity=Decimal(1))  # fmt: skip
    _refused(w, [{**stored, "source_batch": other.batch_code}], "source", "source_missing", 2)
    _refused(w, [{**base, "site_id": w.other_site.id}], "site", "site_mismatch", 2)
    # 委外: receiver rules.
    send = {"kind": "委外", "occurred_at": "2026-03-01 10:00", "source_batch": "G1", "quantity": "1",
            "method_code": "D10", "receiver_type": "licensed", "licence_number": "吉危许导入01"}  # fmt: skip
    _refused(w, [gen, {**send, "licence_number": "吉危许不存在"}], "licence_number", "licence_not_receivers", 3)
    _refused(w, [gen, {**send, "receiver_type": ""}], "receiver_type", "receiver_type_required", 3)
    _refused(w, [gen, {**send, "method_code": "Z99"}], "method_code", "method_unknown", 3)
    _refused(w, [{**gen, "waste_code": CODE2}, send], "licence_number", "licence_not_covering", 3)
    _refused(w, [{**gen, "occurred_at": "2024-06-01 09:00"}, {**send, "occurred_at": "2024-06-01 10:00"}],
             "licence_number", "licence_not_valid", 3)  # fmt: skip
    # Every error of a file is listed, not just the first.
    outcome = _import(w, [{**base, "waste_code": "999-999-08"}, {**base, "quantity": "-1"}, {**base, "kind": "x"}])
    assert outcome.error_count == 3 and [e["row"] for e in outcome.errors] == [2, 3, 4]
    assert LedgerEntry.objects.count() == 1  # only the other site's service entry


def test_permissions(w: W) -> None:
    rows = chain_rows(w)[:1]
    for role in ("driver", "reader", "county"):
        with pytest.raises(PermissionDenied):
            _import(w, rows, actor=role)
    with pytest.raises(NotFound):
        _import(w, rows, actor="other")  # another unit's site: not even visible
    with pytest.raises(PermissionDenied):  # the bulk path checks each site's unit too
        ledger_bulk_import(actor=w.actors["other"], rows=[LedgerRow(row=2, kind="generated", occurred_at=T0,
                           quantity=Decimal(1), site_id=w.site.id, waste_code=CODE)])  # fmt: skip
    assert LedgerEntry.objects.count() == 0
    assert _import(w, rows, actor="admin").imported == 1
    result = ledger_bulk_import(actor=SYSTEM, rows=[LedgerRow(row=2, kind="generated", occurred_at=T0,
                                quantity=Decimal(1), site_id=w.site.id, waste_code=CODE)])  # fmt: skip
    assert result.imported == 1


def test_same_stock_as_the_services(w: W) -> None:
    """The same records imported and entered one by one through ledger.py give the same stock."""
    _import(w, chain_rows(w))
    imported = ledger.site_stock(actor=w.actors["reader"], site_id=w.site.id)
    site2 = registry.site_create(actor=SYSTEM, enterprise=w.own, name="二厂", address="南关区导入路2号",
                                 region_key="220102", roles=["generator"])  # fmt: skip
    a = w.actors["admin"]
    at = dt.datetime(2026, 3, 1, 9, 0, tzinfo=SH)
    g1 = ledger.ledger_generate(actor=a, site_id=site2.id, occurred_at=at, waste_code=CODE, quantity=Decimal(5))
    ledger.ledger_generate(actor=a, site_id=site2.id, occurred_at=at + dt.timedelta(hours=1), waste_code=CODE,
                           quantity=Decimal(1000), unit="kg", label=True)  # fmt: skip
    i1 = ledger.ledger_store_in(actor=a, site_id=site2.id, source_id=g1.id, occurred_at=at + dt.timedelta(hours=1),
                                quantity=Decimal(4))  # fmt: skip
    o1 = ledger.ledger_store_out(actor=a, site_id=site2.id, source_id=i1.id, occurred_at=at + dt.timedelta(days=1),
                                 quantity=Decimal(3))  # fmt: skip
    ledger.ledger_self_treat(actor=a, site_id=site2.id, source_id=o1.id, occurred_at=at + dt.timedelta(days=1),
                             quantity=Decimal(1), method_code="D10")  # fmt: skip
    ledger.ledger_send_out(actor=a, site_id=site2.id, source_id=o1.id, occurred_at=at + dt.timedelta(days=1),
                           quantity=Decimal(2), method_code="D10", receiver_type="licensed",
                           receiver_id=w.operator.id, licence_number="吉危许导入01")  # fmt: skip
    ledger.ledger_send_out(actor=a, site_id=site2.id, source_id=g1.id, occurred_at=at + dt.timedelta(hours=2),
                           quantity=Decimal(1), method_code="D10", receiver_type="exempt", receiver_name="某豁免单位",
                           licence_number="豁免清单第8项")  # fmt: skip
    entered = ledger.site_stock(actor=w.actors["reader"], site_id=site2.id)
    assert imported == entered
    assert imported[0]["generated"] == Decimal(6) and imported[0]["stock"] == Decimal(2)
    keep = ("kind", "waste_code", "category", "quantity_tonnes", "entered_unit", "method_code", "receiver_type",
            "receiver_name", "licence_number")  # fmt: skip
    assert sorted(LedgerEntry.objects.filter(site=w.site).values_list(*keep)) == sorted(
        LedgerEntry.objects.filter(site=site2).values_list(*keep))  # fmt: skip


def test_read_rows_file_problems(w: W) -> None:
    rows, errors = ledger_import.read_rows("乱码列,记录类型\n1,产生\n".encode(), file_name="x.csv")
    assert [e.code for e in errors] == ["column_unknown"]
    rows, errors = ledger_import.read_rows(b"a,b\n", file_name="x.csv")
    assert "column_missing" in [e.code for e in errors]
    gbk = "记录类型,时间,废物代码,数量\n产生,2026-03-01 09:00,900-249-08,1\n".encode("gb18030")
    rows, errors = ledger_import.read_rows(gbk, file_name="x.csv", site_id=w.site.id)
    assert errors == [] and rows[0].kind == "generated" and rows[0].occurred_at == T0


def test_template_has_the_columns() -> None:
    out = io.BytesIO()
    ledger_import.template_workbook(out)
    wb = load_workbook(io.BytesIO(out.getvalue()))
    assert wb.sheetnames == ["台账记录", "填写说明"]
    headers = [c.value for c in wb["台账记录"][1]]
    assert headers[:4] == ["记录类型", "场所编号", "批次编码", "时间"] and "来源批次编码" in headers
    assert wb["填写说明"].max_row > len(ledger_import.COLUMNS)


# ------------------------------------------------------------------ API, page, command


def _client(w: W, role: str) -> Client:
    client = Client()
    client.force_login(w.users[role])
    return client


def test_api_import(w: W) -> None:
    client = _client(w, "member")
    upload = io.BytesIO(_csv(chain_rows(w)))
    upload.name = "台账.csv"
    response = client.post("/api/v1/ledger-files/import", {"file": upload, "site_id": w.site.id, "dry_run": "true"})
    assert response.status_code == 200, response.content
    assert response.json()["imported"] == 7 and LedgerEntry.objects.count() == 0
    bad = chain_rows(w)
    bad[3]["quantity"] = "30"
    upload = io.BytesIO(_csv(bad))
    upload.name = "bad.csv"
    response = client.post("/api/v1/ledger-files/import", {"file": upload, "site_id": w.site.id})
    assert response.status_code == 422
    body = response.json()
    assert body["total"] == 3 and body["errors"][0]["code"] == "quantity_exceeds_source"  # + 2 rows taking from it
    assert [e["code"] for e in body["errors"][1:]] == ["reference_invalid"] * 2
    assert body["errors"][0]["row"] == 5 and body["errors"][0]["column"] == "数量"
    upload = io.BytesIO(_csv(chain_rows(w)))
    upload.name = "台账.csv"
    response = client.post("/api/v1/ledger-files/import", {"file": upload, "site_id": w.site.id})
    assert response.status_code == 200 and response.json()["imported"] == 7
    assert LedgerEntry.objects.count() == 7
    reader = _client(w, "reader")
    upload = io.BytesIO(_csv(chain_rows(w)))
    upload.name = "台账.csv"
    assert reader.post("/api/v1/ledger-files/import", {"file": upload, "site_id": w.site.id}).status_code == 403
    response = client.get("/api/v1/ledger-files/template")
    assert response.status_code == 200 and response.content[:2] == b"PK"


def test_page_upload_shows_errors_and_success(w: W) -> None:
    client = _client(w, "member")
    page = client.get(f"/plans/ledger/files/?site={w.site.id}")
    assert page.status_code == 200 and 'data-testid="ledger-import-form"' in page.content.decode()
    bad = chain_rows(w)
    bad[0]["waste_code"] = "999-999-08"
    upload = io.BytesIO(_csv(bad))
    upload.name = "bad.csv"
    response = client.post("/plans/ledger/files/", {"site": w.site.id, "file": upload})
    text = response.content.decode()
    assert (
        response.status_code == 200 and 'data-testid="ledger-import-errors"' in text and "waste_code_not_listed" in text
    )
    assert LedgerEntry.objects.count() == 0
    upload = io.BytesIO(_csv(chain_rows(w)))
    upload.name = "good.csv"
    response = client.post("/plans/ledger/files/", {"site": w.site.id, "file": upload}, follow=True)
    assert response.status_code == 200 and LedgerEntry.objects.count() == 7
    assert 'data-testid="ledger-import-done"' in response.content.decode()


def test_api_import_xlsx_upload(w: W) -> None:
    upload = io.BytesIO(_xlsx(chain_rows(w)))
    upload.name = "台账.xlsx"
    response = _client(w, "member").post("/api/v1/ledger-files/import", {"file": upload, "site_id": w.site.id})
    assert response.status_code == 200, response.content


def test_management_command(w: W, tmp_path: Any) -> None:
    from django.core.management import call_command

    path = tmp_path / "ledger.csv"
    rows = [{**r, "site_id": w.site.id} for r in chain_rows(w)]
    path.write_bytes(_csv(rows))
    out = io.StringIO()
    call_command("import_ledger", str(path), stdout=out)
    assert "7" in out.getvalue() and LedgerEntry.objects.count() == 7
