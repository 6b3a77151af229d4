"""HJ 1259 Annex B export: the five sheets with their columns and figures, CSV per record kind,
the zip of all five, the date range, and who may export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from weifei.core.errors import NotFound
from weifei.plans import ledger, ledger_export, ledger_import
from weifei.plans.models import LedgerEntry

from .test_ledger_import import W, _client, _csv, chain_rows, world_build

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


@pytest.fixture
def w() -> W:
    return world_build()


SHEETS = ["B.1 产生", "B.2 入库", "B.3 出库", "B.4 自行利用处置", "B.5 委外利用处置"]


def _load(w: W) -> None:
    outcome = ledger_import.ledger_file_import(
        actor=w.actors["member"], data=_csv(chain_rows(w)), file_name="t.csv", site_id=w.site.id
    )
    assert outcome.imported == 7


def _export(w: W, actor: str = "reader", **kw: dt.date) -> bytes:
    r = ledger_export.export_range(
        actor=w.actors[actor], site_id=w.site.id, start=kw.get("start", dt.date(2026, 1, 1)), end=kw.get("end")
    )
    out = io.BytesIO()
    ledger_export.export_xlsx(out, r)
    return out.getvalue()


def test_workbook_sheets_headers_and_figures(w: W) -> None:
    _load(w)
    g2 = LedgerEntry.objects.get(site=w.site, batch_code="HWCS20260301001")
    ledger.ledger_reverse(actor=w.actors["admin"], entry_id=g2.id, reason="录错")
    wb = load_workbook(io.BytesIO(_export(w)))
    assert wb.sheetnames == SHEETS
    rows = {name: [list(r) for r in wb[name].iter_rows(values_only=True)] for name in SHEETS}
    b1 = rows["B.1 产生"]
    assert b1[0][:8] == [
        "产生批次编码",
        "产生时间",
        "废物名称",
        "废物俗称",
        "废物类别",
        "废物代码",
        "产生量",
        "计量单位",
    ]
    assert b1[0][-4:] == ["产生设施编码", "产生部门经办人", "去向", "备注"]
    assert len(b1) == 4  # header, G1, the kg record and its reversal
    first = dict(zip(b1[0], b1[1], strict=True))
    assert (
        first["产生批次编码"] == "G1" and first["产生时间"] == "2026-03-01 09:00" and first["废物代码"] == "900-249-08"
    )
    assert first["废物类别"] == "HW08" and Decimal(str(first["产生量"])) == 5 and first["计量单位"] == "吨"
    assert (
        first["容器/包装编码"] == "LBL-0001"
        and first["产生设施编码"] == w.gen.code
        and first["产生部门经办人"] == "张三"
    )
    assert first["废物名称"]  # the 名录 description
    kg = dict(zip(b1[0], b1[2], strict=True))
    assert Decimal(str(kg["产生量"])) == 1000 and kg["计量单位"] == "千克" and Decimal(str(kg["折合吨数"])) == 1
    reversal = dict(zip(b1[0], b1[3], strict=True))
    assert Decimal(str(reversal["折合吨数"])) == -1 and reversal["备注"] == "冲销 HWCS20260301001：录错"
    b2 = rows["B.2 入库"]
    assert b2[0][:2] == ["入库批次编码", "入库时间"] and b2[0][-2:] == ["产生批次编码", "备注"]
    stored = dict(zip(b2[0], b2[1], strict=True))
    assert (
        stored["产生批次编码"] == "G1"
        and stored["贮存设施编码"] == w.store.code
        and stored["贮存设施类型"] == "贮存设施"
    )
    b3 = rows["B.3 出库"]
    assert dict(zip(b3[0], b3[1], strict=True))["入库批次编码"] == "I1" and b3[0][0] == "出库批次编码"
    b4 = rows["B.4 自行利用处置"]
    treated = dict(zip(b4[0], b4[1], strict=True))
    assert (treated["出库批次编码"] == "O1" and treated["产生批次编码"] == "") or treated["产生批次编码"] is None
    assert treated["自行利用/处置方式"] == "D10" and treated["自行利用/处置完毕时间"] == "2026-03-02 12:00"
    b5 = rows["B.5 委外利用处置"]
    assert b5[0][0] == "委外利用/处置批次编码" and b5[0][1] == "出厂时间" and len(b5) == 3
    sent = [dict(zip(b5[0], r, strict=True)) for r in b5[1:]]
    assert {s["接收单位类型"] for s in sent} == {"经营许可证持有单位", "利用处置环节豁免管理单位"}
    licensed = next(s for s in sent if s["接收单位类型"] == "经营许可证持有单位")
    assert licensed["许可证编码/豁免条目/出口核准通知单编号"] == "吉危许导入01" and licensed["出库批次编码"] == "O1"
    assert licensed["利用/处置单位名称"] == w.operator.name
    direct = next(s for s in sent if s["接收单位类型"] != "经营许可证持有单位")
    assert direct["产生批次编码"] == "G1"
    # The figures add up like the stock: generated − self-treated − sent out.
    generated = sum(Decimal(str(r[b1[0].index("折合吨数")])) for r in b1[1:])
    treated_t = sum(Decimal(str(r[b4[0].index("折合吨数")])) for r in b4[1:])
    sent_t = sum(Decimal(str(r[b5[0].index("折合吨数")])) for r in b5[1:])
    (stock,) = ledger.site_stock(actor=w.actors["reader"], site_id=w.site.id)
    assert generated - treated_t - sent_t == stock["stock"] == Decimal(1)


def test_date_range_and_access(w: W) -> None:
    _load(w)
    wb = load_workbook(io.BytesIO(_export(w, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 2))))
    assert wb["B.1 产生"].max_row == 1 and wb["B.3 出库"].max_row == 2  # only 3-02 records
    assert load_workbook(io.BytesIO(_export(w, actor="county")))["B.1 产生"].max_row == 3  # the regulator sees it
    with pytest.raises(NotFound):
        _export(w, actor="other")


def test_csv_per_kind_and_zip(w: W) -> None:
    _load(w)
    r = ledger_export.export_range(actor=w.actors["reader"], site_id=w.site.id, start=dt.date(2026, 1, 1), end=None)
    text = "".join(ledger_export.export_csv(r, "stored_in"))
    assert text.startswith("\ufeff入库批次编码,入库时间")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 2 and rows[1][0] == "I1"
    out = io.BytesIO()
    ledger_export.export_csv_zip(out, r)
    names = zipfile.ZipFile(io.BytesIO(out.getvalue())).namelist()
    assert names == ["B1-产生.csv", "B2-入库.csv", "B3-出库.csv", "B4-自行利用处置.csv", "B5-委外利用处置.csv"]


def test_api_and_page_export(w: W) -> None:
    _load(w)
    client = _client(w, "reader")
    response = client.get(f"/api/v1/ledger-files/export?site_id={w.site.id}&from=2026-01-01&format=xlsx")
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    assert wb.sheetnames == SHEETS and wb["B.2 入库"].max_row == 2
    response = client.get(f"/api/v1/ledger-files/export?site_id={w.site.id}&from=2026-01-01&format=csv&kind=generated")
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    assert response.status_code == 200 and body.startswith("\ufeff产生批次编码") and body.count("\n") == 3
    assert client.get(f"/api/v1/ledger-files/export?site_id={w.site.id}&format=pdf").status_code == 400
    assert (
        client.get(f"/api/v1/ledger-files/export?site_id={w.site.id}&from=2026-03-02&to=2026-03-01").status_code == 400
    )
    assert _client(w, "other").get(f"/api/v1/ledger-files/export?site_id={w.site.id}").status_code == 404
    page = client.get(f"/plans/ledger/files/export/?site={w.site.id}&from=2026-01-01&format=csv")
    assert page.status_code == 200 and page["Content-Type"] == "application/zip"
    index = client.get(f"/plans/ledger/files/?site={w.site.id}").content.decode()
    assert 'data-testid="ledger-export-form"' in index and 'data-testid="ledger-import-form"' not in index  # reader
