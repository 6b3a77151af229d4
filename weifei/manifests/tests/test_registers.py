"""Registers per party (outgoing / transported / incoming) through the API: JSON rows, CSV (UTF-8
with BOM) and XLSX read back, the period filter, drafts left out, who may read which register."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from weifei.accounts.testing import force_login
from weifei.manifests.registers import COLUMNS, register_csv
from weifei.manifests.services import manifest_transition
from weifei.manifests.testing import World, world

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]

M = "/api/v1/manifests"


def _client(w: World, name: str) -> Client:
    client = Client()
    force_login(client, w.users[name])
    return client


@pytest.fixture
def w() -> World:
    w = world()
    received = w.manifest(containers=2)
    for actor, event, payload in (
        ("consignor", "submit", {}),
        ("driver1", "pickup", {"scanned_labels": w.containers[:2]}),
        ("driver1", "arrive", {}),
        ("receiver", "accept", {"weights": {str(received.lines.get().id): "0.395"}}),
    ):
        manifest_transition(actor=w.actor(actor), manifest_id=received.id, event=event, payload=payload)
    submitted = w.manifest(containers=0, tonnes="1.25", receiver_id=w.receiver2.id)
    manifest_transition(actor=w.actor("consignor"), manifest_id=submitted.id, event="submit")
    w.manifest(containers=0, tonnes="3")  # a draft: in no register
    w.numbers = [received.number, submitted.number]  # type: ignore[attr-defined]
    return w


def test_registers_as_json(w: World) -> None:
    numbers = w.numbers  # type: ignore[attr-defined]
    out = _client(w, "consignor").get(f"{M}/registers/outgoing", {"enterprise_id": w.consignor.id}).json()
    assert out["kind"] == "outgoing" and out["total"] == 2
    assert [r["number"] for r in out["items"]] == numbers  # oldest first, no draft
    first, second = out["items"]
    assert (first["state_label"], first["acceptance"], first["received_tonnes"]) == ("已接收", "全部接受", "0.395")
    assert first["declared_tonnes"] == "0.4" and first["container_count"] == 2 and first["waste_code"] == "900-249-08"
    assert first["carriers"] == w.carrier1.name and first["vehicles"] == "吉A10001"
    assert first["picked_up_on"] == first["accepted_on"] == timezone.localdate().isoformat()
    assert second["receiver"] == w.receiver2.name and second["received_tonnes"] == "" and second["state"] == "submitted"

    transported = _client(w, "carrier1").get(f"{M}/registers/transported", {"enterprise_id": w.carrier1.id}).json()
    assert [r["number"] for r in transported["items"]] == numbers
    incoming = _client(w, "receiver").get(f"{M}/registers/incoming", {"enterprise_id": w.receiver.id}).json()
    assert [r["number"] for r in incoming["items"]] == numbers[:1]
    incoming2 = _client(w, "receiver2").get(f"{M}/registers/incoming", {"enterprise_id": w.receiver2.id}).json()
    assert [r["number"] for r in incoming2["items"]] == numbers[1:]
    # the regulator over the consignor's region reads the consignor's register
    regulator = _client(w, "regulator").get(f"{M}/registers/outgoing", {"enterprise_id": w.consignor.id}).json()
    assert regulator["total"] == 2

    # period: the day the manifest was made
    today = timezone.localdate()
    consignor = _client(w, "consignor")
    q = {"enterprise_id": w.consignor.id}
    assert consignor.get(f"{M}/registers/outgoing", {**q, "from": today, "to": today}).json()["total"] == 2
    tomorrow = today + dt.timedelta(days=1)
    assert consignor.get(f"{M}/registers/outgoing", {**q, "from": tomorrow}).json()["total"] == 0
    r = consignor.get(f"{M}/registers/outgoing", {**q, "from": tomorrow, "to": today})
    assert r.status_code == 400 and (r.json()["code"], r.json()["field"]) == ("period_invalid", "from")


def test_register_refusals(w: World) -> None:
    consignor = _client(w, "consignor")
    r = consignor.get(f"{M}/registers/sideways", {"enterprise_id": w.consignor.id})
    assert r.status_code == 400 and (r.json()["code"], r.json()["field"]) == ("kind_invalid", "kind")
    r = consignor.get(f"{M}/registers/outgoing", {"enterprise_id": w.consignor.id, "format": "pdf"})
    assert r.status_code == 400 and r.json()["field"] == "format"
    # another unit, or a regulator elsewhere, does not see the consignor: 404
    for name in ("receiver2", "regulator_elsewhere"):
        r = _client(w, name).get(f"{M}/registers/outgoing", {"enterprise_id": w.consignor.id})
        assert r.status_code == 404, name
    assert Client().get(f"{M}/registers/outgoing", {"enterprise_id": w.consignor.id}).status_code == 401


def test_register_csv_and_xlsx_read_back(w: World) -> None:
    consignor = _client(w, "consignor")
    q = {"enterprise_id": w.consignor.id}
    r = consignor.get(f"{M}/registers/outgoing", {**q, "format": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"] and r["Content-Disposition"].endswith('.csv"')
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == [header for _, header in COLUMNS] and rows[0][0] == "联单编号"
    assert [row[0] for row in rows[1:]] == w.numbers  # type: ignore[attr-defined]
    assert rows[1][rows[0].index("移出人")] == w.consignor.name
    assert rows[1][rows[0].index("接受量（吨）")] == "0.395"

    r = consignor.get(f"{M}/registers/outgoing", {**q, "format": "xlsx"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content), read_only=True).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "联单编号" and len(values) == 3
    header = values[0]
    assert [row[0] for row in values[1:]] == w.numbers  # type: ignore[attr-defined]
    assert Decimal(str(values[1][header.index("移出量（吨）")])) == Decimal("0.4")  # a number, not text
    assert values[2][header.index("接受量（吨）")] in ("", None)


def test_csv_neutralises_formulas() -> None:
    row = {key: "" for key, _ in COLUMNS} | {"number": "1", "consignor": '=HYPERLINK("x")', "container_count": 0}
    text = register_csv([row]).decode("utf-8-sig")
    assert "'=HYPERLINK" in text
