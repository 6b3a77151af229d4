"""The ledger API (/api/v1/ledger/): every record kind through HTTP, the chain, every refusal of
the issue with its code and field (nothing written), permissions, and the open-batch figures."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.core.models import Event
from weifei.plans import ledger
from weifei.plans.models import LabelCounter, LedgerCounter, LedgerEntry
from weifei.registry import services as registry
from weifei.registry.models import Enterprise, Facility, Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "ledger-api-Pa55word!"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=SH)
CODE = "900-249-08"
CODE2 = "900-041-49"
URL = "/api/v1/ledger"


class W:
    own: Enterprise
    other: Enterprise
    operator: Enterprise
    site: Site
    other_site: Site
    gen: Facility
    store: Facility
    disp: Facility
    users: dict[str, User]


@pytest.fixture
def w() -> W:
    w = W()
    w.own = registry.enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="台账接口测试有限公司",
                                       region_key="220102", roles=("is_generator",))  # fmt: skip
    w.other = registry.enterprise_create(actor=SYSTEM, credit_code="91130200699229617X", name="他单位接口测试有限公司",
                                         region_key="220202", roles=("is_generator",))  # fmt: skip
    w.operator = registry.enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="接口处置有限公司",
                                            region_key="220102", roles=("is_operator",))  # fmt: skip
    registry.licence_create(actor=SYSTEM, holder=w.operator, number="吉危许接口01", kind="comprehensive",
                            methods=["disposal"], annual_capacity_tonnes=Decimal(1000), valid_from=dt.date(2025, 1, 1),
                            categories=["HW08"])  # fmt: skip
    w.site = registry.site_create(actor=SYSTEM, enterprise=w.own, name="一厂", address="南关区接口路1号",
                                  region_key="220102", roles=["generator"])  # fmt: skip
    w.other_site = registry.site_create(actor=SYSTEM, enterprise=w.other, name="他厂", address="吉林市接口路1号",
                                        region_key="220202", roles=["generator"])  # fmt: skip
    w.gen = registry.facility_create(actor=SYSTEM, site=w.site, kind="generating", name="机加工线")
    w.store = registry.facility_create(actor=SYSTEM, site=w.site, kind="storage", name="贮存库",
                                       storage_capacity_tonnes=Decimal(20))  # fmt: skip
    w.disp = registry.facility_create(actor=SYSTEM, site=w.site, kind="disposal", name="焚烧炉",
                                      design_capacity_tonnes=Decimal(100))  # fmt: skip
    w.users = {}
    for role in ("admin", "member", "driver", "reader"):
        w.users[role] = enterprise_user_create(actor=SYSTEM, enterprise=w.own, username=f"la_{role}",
                                               password=PASSWORD, full_name=role, role=role).user  # fmt: skip
    w.users["other"] = enterprise_user_create(actor=SYSTEM, enterprise=w.other, username="la_other",
                                              password=PASSWORD, full_name="他", role="admin").user  # fmt: skip
    for name, region in (("county", "220102"), ("elsewhere", "220202"), ("prefecture", "220100")):
        w.users[name] = regulator_account_create(actor=SYSTEM, username=f"la_{name}", password=PASSWORD,
                                                 full_name=name, region_key=region, department="测试",
                                                 role="regulator").user  # fmt: skip
    return w


def client_for(w: W, who: str) -> Client:
    client = Client()
    force_login(client, w.users[who])
    return client


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{URL}{path}", json.dumps(body, default=str), content_type="application/json")


def gen_body(w: W, **kw: Any) -> dict[str, Any]:
    return {"site_id": w.site.id, "occurred_at": T0.isoformat(), "waste_code": CODE, "quantity": "2",
            "unit": "t", "facility_id": w.gen.id, "container_type": "桶", "container_litres": "200",
            "common_name": "废机油", "handler": "张三"} | kw  # fmt: skip


def at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).isoformat()


def written() -> tuple[int, int, int, int]:
    return (
        LedgerEntry.objects.count(),
        Event.objects.count(),
        LedgerCounter.objects.count(),
        LabelCounter.objects.count(),
    )


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def build_chain(w: W, c: Client) -> dict[str, dict[str, Any]]:
    """产生 2 t → 入库 1.5 (by batch code) → 出库 1 → 自行 0.4 + 委外 0.5; 委外 0.5 straight from 产生."""
    r = post(c, "/generated", gen_body(w))
    assert r.status_code == 201, r.content
    g = r.json()
    r = post(c, "/stored-in", {"site_id": w.site.id, "source_batch_code": g["batch_code"].lower(), "unit": "kg",
                               "occurred_at": at(1), "quantity": 1500, "facility_id": w.store.id})  # fmt: skip
    assert r.status_code == 201, r.content
    i = r.json()
    r = post(c, "/stored-out", {"site_id": w.site.id, "source_id": i["id"], "occurred_at": at(24), "quantity": "1",
                                "facility_id": w.store.id, "destination": "焚烧车间"})  # fmt: skip
    assert r.status_code == 201, r.content
    o = r.json()
    r = post(c, "/self-treated", {"site_id": w.site.id, "source_id": o["id"], "occurred_at": at(25),
                                  "quantity": "0.4", "method_code": "D10", "facility_id": w.disp.id,
                                  "finished_at": at(26)})  # fmt: skip
    assert r.status_code == 201, r.content
    s = r.json()
    sent = {"site_id": w.site.id, "occurred_at": at(27), "quantity": "0.5", "method_code": "D10",
            "receiver_type": "licensed", "receiver_id": w.operator.id, "licence_number": "吉危许接口01"}  # fmt: skip
    r = post(c, "/sent-out", sent | {"source_id": o["id"]})
    assert r.status_code == 201, r.content
    x = r.json()
    r = post(c, "/sent-out", sent | {"source_id": g["id"]})
    assert r.status_code == 201, r.content
    y = r.json()
    return {"g": g, "i": i, "o": o, "s": s, "x": x, "y": y}


# ------------------------------------------------------------------ round trip and chain


def test_every_kind_round_trip_and_chain(w: W) -> None:
    c = client_for(w, "member")
    e = build_chain(w, c)
    g, i, o, s, x, y = e["g"], e["i"], e["o"], e["s"], e["x"], e["y"]
    # 产生: the label code was allocated (label defaults to true), the Annex B fields kept.
    assert g["batch_code"] == "HWCS20260301001" and g["kind_label"] == "产生"
    assert g["container_code"] == "91350100M000100Y43" + "90024908" + "20260301" + "001"
    assert (g["category"], g["container_type"], g["common_name"], g["handler"]) == ("HW08", "桶", "废机油", "张三")
    assert Decimal(g["container_litres"]) == 200 and g["facility_code"] == w.gen.code
    assert Decimal(g["remaining_tonnes"]) == 2 and g["sources"] == [] and g["consumers"] == []
    # 入库 in kg, stored in tonnes; the container code follows the chain.
    assert i["batch_code"] == "HWRK20260301001" and i["source_batch_code"] == g["batch_code"]
    assert (Decimal(i["quantity_tonnes"]), Decimal(i["entered_quantity"]), i["entered_unit"]) == (
        Decimal("1.5"), Decimal(1500), "kg")  # fmt: skip
    assert i["container_code"] == g["container_code"]
    assert o["batch_code"] == "HWCK20260302001" and o["destination"] == "焚烧车间"
    assert s["batch_code"] == "HWZXCZ20260302001" and s["method_code"] == "D10" and s["finished_at"]
    assert x["batch_code"] == "HWWWCZ20260302001" and x["receiver_name"] == "接口处置有限公司"
    assert y["source_id"] == g["id"] and y["licence_number"] == "吉危许接口01"
    # The chain: from a 自行 record up to the 产生 record; consumers of the 产生 record.
    detail = c.get(f"{URL}/entries/{s['id']}").json()
    assert [d["batch_code"] for d in detail["sources"]] == [o["batch_code"], i["batch_code"], g["batch_code"]]
    detail = c.get(f"{URL}/entries/{g['id']}").json()
    assert [d["id"] for d in detail["consumers"]] == [i["id"], y["id"]]
    assert Decimal(detail["remaining_tonnes"]) == 0  # 2 − 1.5 − 0.5
    assert Decimal(c.get(f"{URL}/entries/{i['id']}").json()["remaining_tonnes"]) == Decimal("0.5")
    assert Decimal(c.get(f"{URL}/entries/{o['id']}").json()["remaining_tonnes"]) == Decimal("0.1")
    # One event per entry, on the enterprise's stream.
    kinds = list(Event.objects.filter(subject_type="plans.ledgerentry").order_by("seq").values_list("kind", flat=True))
    assert kinds == ["ledger.generated", "ledger.stored_in", "ledger.stored_out", "ledger.self_treated",
                     "ledger.sent_out", "ledger.sent_out"]  # fmt: skip
    # Reversal through the API: 201 with the reversing entry; the original shows it.
    r = post(c, f"/entries/{x['id']}/reverse", {"reason": "委外量录错"})
    assert r.status_code == 201, r.content
    rev = r.json()
    assert rev["reversal_of_id"] == x["id"] and Decimal(rev["quantity_tonnes"]) == Decimal("-0.5")
    assert (
        rev["batch_code"] == x["batch_code"] + "C" and rev["reason"] == "委外量录错" and rev["remaining_tonnes"] is None
    )
    again = c.get(f"{URL}/entries/{x['id']}").json()
    assert again["reversal"]["id"] == rev["id"] and again["reversed_by_id"] == rev["id"]
    assert Decimal(c.get(f"{URL}/entries/{o['id']}").json()["remaining_tonnes"]) == Decimal("0.6")
    assert Event.objects.filter(kind="ledger.reversed", subject_id=str(rev["id"])).exists()


def test_list_filters_and_paging(w: W) -> None:
    c = client_for(w, "admin")
    e = build_chain(w, c)
    post(c, "/generated", gen_body(w, waste_code=CODE2, occurred_at=(T0 + dt.timedelta(days=5)).isoformat(),
                                   label=False))  # fmt: skip
    everything = c.get(f"{URL}/entries").json()
    assert everything["total"] == 7
    assert [x["id"] for x in everything["items"]][-1] == e["g"]["id"]  # newest first
    mine = c.get(f"{URL}/entries", {"site_id": w.site.id, "kind": "sent_out"}).json()
    assert mine["total"] == 2 and {x["id"] for x in mine["items"]} == {e["x"]["id"], e["y"]["id"]}
    by_code = c.get(f"{URL}/entries", {"waste_code": CODE2}).json()
    assert by_code["total"] == 1 and by_code["items"][0]["container_code"] is None
    assert c.get(f"{URL}/entries", {"waste_code": "900-249"}).json()["total"] == 6  # a prefix
    container = c.get(f"{URL}/entries", {"container_code": e["g"]["container_code"].lower()}).json()
    assert container["total"] == 6  # the container's whole chain
    day1 = c.get(f"{URL}/entries", {"from": "2026-03-01", "to": "2026-03-01"}).json()
    assert {x["id"] for x in day1["items"]} == {e["g"]["id"], e["i"]["id"]}
    assert c.get(f"{URL}/entries", {"from": "2026-03-02"}).json()["total"] == 5
    page = c.get(f"{URL}/entries", {"limit": 2, "offset": 2}).json()
    assert page["total"] == 7 and [x["id"] for x in page["items"]] == [x["id"] for x in everything["items"][2:4]]
    for params, field in (({"kind": "burned"}, "kind"), ({"from": "2026-03-05", "to": "2026-03-01"}, "to"),
                          ({"limit": 501}, "limit"), ({"from": "x"}, "from")):  # fmt: skip
        r = c.get(f"{URL}/entries", params)
        assert r.status_code == 400 and r.json()["field"] == field, (params, r.content)


def test_list_query_count_does_not_grow_with_rows(w: W) -> None:
    c = client_for(w, "admin")
    build_chain(w, c)
    with CaptureQueriesContext(connection) as few:
        assert c.get(f"{URL}/entries").status_code == 200
    build_chain(w, c)
    with CaptureQueriesContext(connection) as more:
        assert c.get(f"{URL}/entries").json()["total"] == 12
    assert len(more) == len(few)


# ------------------------------------------------------------------ refusals


def _refused(c: Client, path: str, body: dict[str, Any], code: str, field: str, status: int = 400) -> None:
    before = written()
    r = post(c, path, body)
    assert r.status_code == status, (path, body, r.content)
    data = r.json()
    assert (data["code"], data["field"]) == (code, field), data
    assert chinese(data["message"])
    assert written() == before  # nothing written: no entry, no event, no counter moved


def test_refusals_name_the_field_and_write_nothing(w: W) -> None:
    c = client_for(w, "admin")
    e = build_chain(w, c)
    o, g = e["o"], e["g"]
    other = ledger.ledger_generate(actor=SYSTEM, site_id=w.other_site.id, occurred_at=T0 - dt.timedelta(days=1),
                                   waste_code=CODE,
                                   quantity=Decimal(1))  # fmt: skip
    future = (dt.datetime.now(SH) + dt.timedelta(hours=2)).isoformat()
    _refused(c, "/generated", gen_body(w, waste_code="900-999-08"), "waste_code_not_listed", "waste_code")
    _refused(c, "/generated", gen_body(w, waste_code="HW08"), "waste_code_format", "waste_code")
    _refused(c, "/generated", gen_body(w, category="HW49"), "waste_code_category_mismatch", "waste_code")
    _refused(c, "/generated", gen_body(w, quantity="-1"), "quantity_not_positive", "quantity")
    _refused(c, "/generated", gen_body(w, quantity=0), "quantity_not_positive", "quantity")
    _refused(c, "/generated", gen_body(w, quantity="1000000"), "quantity_too_large", "quantity")
    _refused(c, "/generated", gen_body(w, quantity="1e12", unit="L", density="0.0000001"), "quantity_too_large",
             "quantity")  # fmt: skip
    _refused(c, "/generated", gen_body(w, quantity="100", unit="L"), "density_required", "density")
    _refused(c, "/generated", gen_body(w, unit="bag"), "unit_unknown", "unit")
    _refused(c, "/generated", gen_body(w, occurred_at=future), "time_in_future", "occurred_at")
    _refused(c, "/generated", gen_body(w, occurred_at="2026-03-01T09:00:00"), "time_naive", "occurred_at")
    _refused(c, "/generated", gen_body(w, facility_id=w.store.id), "facility_wrong_kind", "facility")
    _refused(c, "/generated", gen_body(w, container_count=0), "container_count_range", "container_count")
    _refused(c, "/generated", gen_body(w, container_code=g["container_code"]), "container_taken", "container_code")
    down = {"site_id": w.site.id, "occurred_at": at(30), "quantity": "0.05"}
    _refused(c, "/stored-out", down | {"source_id": e["i"]["id"], "quantity": "0.6"}, "quantity_exceeds_source",
             "quantity")  # fmt: skip
    _refused(c, "/stored-out", down | {"source_id": g["id"]}, "source_wrong_kind", "source")
    _refused(c, "/stored-in", down | {"source_id": other.id}, "source_missing", "source")  # another site's batch
    _refused(c, "/stored-in", down | {"source_batch_code": other.batch_code}, "source_missing", "source")
    _refused(c, "/stored-in", down, "source_required", "source")
    _refused(c, "/stored-in", down | {"source_id": g["id"], "occurred_at": at(-1)}, "time_before_source",
             "occurred_at")  # fmt: skip
    _refused(c, "/stored-in", down | {"source_id": g["id"], "occurred_at": future}, "time_in_future", "occurred_at")
    self_body = down | {"source_id": o["id"], "method_code": "D10"}
    _refused(c, "/self-treated", self_body | {"method_code": "Z99"}, "method_unknown", "method_code")
    _refused(c, "/self-treated", self_body | {"finished_at": "2026-03-02T12:00:00"}, "time_naive", "finished_at")
    _refused(c, "/self-treated", self_body | {"facility_id": w.gen.id}, "facility_wrong_kind", "facility")
    sent = down | {"source_id": o["id"], "method_code": "D10", "receiver_type": "licensed",
                   "receiver_id": w.operator.id, "licence_number": "吉危许接口01"}  # fmt: skip
    _refused(c, "/sent-out", sent | {"receiver_type": ""}, "receiver_type_required", "receiver_type")
    _refused(c, "/sent-out", sent | {"licence_number": ""}, "licence_required", "licence_number")
    _refused(c, "/sent-out", sent | {"receiver_id": w.other.id}, "licence_not_receivers", "licence_number")
    _refused(c, "/sent-out", sent | {"quantity": "5"}, "quantity_exceeds_source", "quantity")
    _refused(c, f"/entries/{g['id']}/reverse", {"reason": "录错"}, "entry_consumed", "entry")
    _refused(c, f"/entries/{e['s']['id']}/reverse", {"reason": "  "}, "reason_required", "reason")
    # Malformed input is a 400 envelope too, never a 500.
    for body in (gen_body(w, quantity="NaN"), gen_body(w, quantity="abc"), gen_body(w, occurred_at="yesterday"),
                 {"site_id": w.site.id}):  # fmt: skip
        before = written()
        r = post(c, "/generated", body)
        assert r.status_code == 400 and r.json()["code"] == "validation_error", (body, r.content)
        assert written() == before


# ------------------------------------------------------------------ permissions


def test_permissions(w: W) -> None:
    e = build_chain(w, client_for(w, "admin"))
    g = e["g"]
    sent = {"site_id": w.site.id, "source_id": g["id"], "occurred_at": at(1), "quantity": "0.1"}
    for who, status in (("driver", 403), ("reader", 403), ("county", 403), ("prefecture", 403), ("other", 404),
                        ("elsewhere", 404)):  # fmt: skip
        c = client_for(w, who)
        before = written()
        assert post(c, "/generated", gen_body(w)).status_code == status, who
        assert post(c, "/stored-in", sent).status_code == status, who
        assert post(c, f"/entries/{e['s']['id']}/reverse", {"reason": "x"}).status_code == status, who
        assert written() == before
    # Readers of the site: its unit's every role, regulators over its region.
    for who in ("reader", "driver", "county", "prefecture"):
        c = client_for(w, who)
        assert c.get(f"{URL}/entries/{g['id']}").status_code == 200, who
        assert c.get(f"{URL}/entries").json()["total"] == 6, who
        assert c.get(f"{URL}/entries", {"site_id": w.site.id}).json()["total"] == 6, who
        assert c.get(f"{URL}/sites/{w.site.id}/open-batches", {"for_kind": "stored_in"}).status_code == 200
    # Another unit, another county: 404 for the site and its entries, nothing in their lists.
    for who in ("other", "elsewhere"):
        c = client_for(w, who)
        assert c.get(f"{URL}/entries/{g['id']}").status_code == 404, who
        assert c.get(f"{URL}/entries").json()["total"] == 0, who
        assert c.get(f"{URL}/entries", {"site_id": w.site.id}).status_code == 404, who
        assert c.get(f"{URL}/sites/{w.site.id}/open-batches", {"for_kind": "stored_in"}).status_code == 404
    assert Client().get(f"{URL}/entries").status_code == 401


# ------------------------------------------------------------------ open batches


def test_open_batches_figures_in_one_query(w: W) -> None:
    c = client_for(w, "admin")
    e = build_chain(w, c)
    g2 = post(c, "/generated", gen_body(w, quantity="3")).json()
    g3 = post(c, "/generated", gen_body(w, quantity="1")).json()
    post(c, f"/entries/{g3['id']}/reverse", {"reason": "重复录入"})  # reversed: nothing left

    def batches(for_kind: str) -> list[tuple[str, Decimal]]:
        r = c.get(f"{URL}/sites/{w.site.id}/open-batches", {"for_kind": for_kind})
        assert r.status_code == 200, r.content
        data = r.json()
        assert data["total"] == len(data["items"])
        return [(x["batch_code"], Decimal(x["remaining_tonnes"])) for x in data["items"]]

    # g: 2 − 1.5 − 0.5 = 0 (not listed); g2 untouched; g3 reversed; i: 1.5 − 1 = 0.5; o: 1 − 0.4 − 0.5 = 0.1
    assert batches("stored_in") == [(g2["batch_code"], Decimal(3))]
    assert batches("stored_out") == [(e["i"]["batch_code"], Decimal("0.5"))]
    assert batches("self_treated") == [(g2["batch_code"], Decimal(3)), (e["o"]["batch_code"], Decimal("0.1"))]
    assert batches("sent_out") == batches("self_treated")
    item = c.get(f"{URL}/sites/{w.site.id}/open-batches", {"for_kind": "stored_out"}).json()["items"][0]
    assert (item["container_code"], item["waste_code"], item["kind"]) == (e["g"]["container_code"], CODE, "stored_in")
    # The figures agree with the services' own selector.
    assert Decimal(item["remaining_tonnes"]) == ledger.batch_remaining(LedgerEntry.objects.get(id=e["i"]["id"]))
    # One query for the batches, however many there are.
    for _ in range(5):
        post(c, "/generated", gen_body(w, quantity="1"))
    from weifei.core.actors import SYSTEM as system

    with CaptureQueriesContext(connection) as queries:
        rows = ledger.open_batches(actor=system, site_id=w.site.id, for_kind="self_treated")
    assert len(rows) == 7 and len(queries) == 2  # the site lookup and the batches
    r = c.get(f"{URL}/sites/{w.site.id}/open-batches", {"for_kind": "generated"})
    assert r.status_code == 400 and r.json()["field"] == "for_kind"
