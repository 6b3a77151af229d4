"""Annex C export: the XLSX read back with openpyxl and the CSV (UTF-8 with BOM) parsed give the
declaration's own figures, with the catalogue's name and hazards and the ledger's common names."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from weifei.catalog import cache
from weifei.plans import declaration_export as export
from weifei.plans import declarations as decl
from weifei.plans.models import Declaration
from weifei.plans.tests import test_declarations as td
from weifei.plans.tests import test_ledger as tl
from weifei.plans.tests.test_declarations import MARCH
from weifei.plans.tests.test_ledger import CODE, W, _gen
from weifei.registry.models import Site

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]
w = tl.w
site = td.site
TITLES = [t for _, t in export.COLUMNS]


@pytest.fixture
def march(w: W, site: Site) -> Declaration:
    _gen(w, "0.5", at=td._at(2026, 3, 5, 9), common_name="废机油")
    d = decl.declaration_generate(actor=w.actors["member"], site_id=site.id, kind=Declaration.Kind.MONTHLY,
                                  period_start=MARCH)  # fmt: skip
    return decl.declaration_submit(actor=w.actors["member"], declaration_id=d.id)


def _catalogue_entry() -> object:
    version = cache.version_on(MARCH)
    assert version is not None
    return cache.codes(version)[CODE]


def test_csv_parses_back_to_the_content(march: Declaration, w: W) -> None:
    body = export.export_csv(march)
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == TITLES
    (line,) = rows[1:]
    got = dict(zip(TITLES, line, strict=True))
    (row,) = march.content["rows"]
    entry = _catalogue_entry()
    assert got["废物代码"] == CODE and got["废物类别"] == "HW08"
    assert got["废物名称（名录名称）"] == entry.description  # type: ignore[attr-defined]
    assert got["危险特性"] == "，".join(entry.hazards)  # type: ignore[attr-defined]
    assert got["行业俗称/单位内部名称"] == "废机油"
    assert got["有害成分"] == got["形态"] == ""
    assert got["上期末贮存量（吨）"] == row["opening"] == "1.500000"
    assert got["产生量（吨）"] == row["generated"] == "3.500000"
    assert got["自行利用/处置方式"] == "D10" and got["自行利用/处置量（吨）"] == row["self_treated"]["total"]
    assert got["委外接收单位所在省份"] == "吉林省"
    assert (
        got["委外接收单位名称"] == w.operator.name and got["许可证编号/豁免编号/出口核准通知单编号"] == "吉危许台账01"
    )
    assert got["委外利用/处置量（吨）"] == row["sent_out"]["total"] == "0.750000"
    assert got["本期末贮存量（吨）"] == row["closing"] == "3.250000"


def test_xlsx_reads_back_with_openpyxl(march: Declaration, w: W) -> None:
    wb = load_workbook(io.BytesIO(export.export_xlsx(march)))
    ws = wb.active
    assert ws is not None
    assert "表C.1" in str(ws["A1"].value)
    assert ws["B2"].value == w.own.name and ws["B3"].value == w.own.credit_code
    header = [c.value for c in ws[export.HEADER_ROW]]
    assert header == TITLES
    values = [c.value for c in ws[export.HEADER_ROW + 1]]
    got = dict(zip(TITLES, values, strict=True))
    (row,) = march.content["rows"]
    for title, key in (
        ("上期末贮存量（吨）", "opening"),
        ("产生量（吨）", "generated"),
        ("本期末贮存量（吨）", "closing"),
    ):
        assert Decimal(str(got[title])) == Decimal(row[key])
    assert Decimal(str(got["委外利用/处置量（吨）"])) == Decimal(row["sent_out"]["total"])
    assert ws.max_row == export.HEADER_ROW + 1


def test_several_methods_and_receivers_spread_over_lines(w: W, site: Site) -> None:
    content = {"rows": [{
        "waste_code": CODE, "category": "HW08", "opening": "1", "generated": "6", "closing": "1",
        "self_treated": {"total": "2", "by_method": [{"method_code": "D10", "tonnes": "1.5"},
                                                     {"method_code": "R9", "tonnes": "0.5"}]},
        "sent_out": {"total": "4", "by_receiver": [
            {"province": "220000", "receiver_name": "甲", "licence_number": "L1", "method_code": "D10", "tonnes": "1"},
            {"province": "境外", "receiver_name": "乙", "licence_number": "E1", "method_code": "R9", "tonnes": "2"},
            {"province": "", "receiver_name": "丙", "licence_number": "X1", "method_code": "", "tonnes": "1"}]},
    }]}  # fmt: skip
    d = Declaration(site=site, kind="annual", period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31),
                    due_on=dt.date(2026, 3, 31), generated_at=td._at(2026, 1, 5), content=content)  # fmt: skip
    lines = export.annex_c_lines(d)
    assert len(lines) == 3 and [x["seq"] for x in lines] == [1, 1, 1]
    assert [x["opening"] for x in lines] == [Decimal(1), None, None]
    assert sum(x["self_tonnes"] or 0 for x in lines) == Decimal(2)
    assert sum(x["sent_tonnes"] for x in lines) == Decimal(4)
    assert [x["province"] for x in lines] == ["吉林省", "境外", ""]
    rows = list(csv.reader(io.StringIO(export.export_csv(d).decode("utf-8-sig"))))
    assert len(rows) == 4 and rows[3][TITLES.index("自行利用/处置方式")] == ""
