"""Excel: the upload template, filling it in, exports, and errors that name sheet, row, column."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from weifei.core.actors import SYSTEM
from weifei.exchange.excel import NOTES, workbook_read, workbook_write
from weifei.exchange.exporter import export_workbook
from weifei.exchange.importer import import_records
from weifei.exchange.records import RECORD_TYPES
from weifei.registry.models import Enterprise, Site, Vehicle
from weifei.registry.tests.factories import credit_code

from .conftest import TODAY, export_text, in_rolled_back_transaction, world_build

pytestmark = pytest.mark.usefixtures("reference")


def _import(data: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
    records, problems = workbook_read(io.BytesIO(data))
    return import_records(records, problems, actor=SYSTEM, today=TODAY, **kwargs)  # type: ignore[arg-type]


def _template() -> bytes:
    out = io.BytesIO()
    workbook_write(out, None)
    return out.getvalue()


def test_the_template_has_a_sheet_per_type_with_chinese_labels_and_field_names() -> None:
    wb = load_workbook(io.BytesIO(_template()))
    assert wb.sheetnames == [NOTES, *RECORD_TYPES]
    ws = wb["enterprise"]
    assert ws["A1"].value == "统一社会信用代码 *" and ws["A2"].value == "credit_code"
    assert [c.value for c in ws[2]][:3] == ["credit_code", "name", "region"]
    notes = [row for row in wb[NOTES].iter_rows(values_only=True)]
    assert ("格式版本", 1) in [tuple(r[:2]) for r in notes]
    assert any(r[0] == "plate" and "吉A12345" in (r[4] or "") for r in notes)


def test_a_filled_in_template_imports_like_json_lines() -> None:
    wb = load_workbook(io.BytesIO(_template()))
    carrier, generator = credit_code(201), credit_code(202)
    wb["enterprise"].append([carrier, "表格导入运输公司", "220102", "is_carrier、is_generator"])
    wb["enterprise"].append([generator, "表格导入产废单位", 220102])  # a region typed as a number
    ws = wb["site"]
    ws.append([generator, "一厂区", "长春市测试路", "220102", "generator", 43.8, 125.3])
    # Excel numbers (a double) and dates (a datetime) are read as the exact decimal and the date.
    wb["vehicle"].append(["吉A65432", carrier, "吉交运管1", 12.5, TODAY + dt.timedelta(days=90), "3、8"])
    out = io.BytesIO()
    wb.save(out)
    report = _import(out.getvalue())
    assert not report.problems, [str(p) for p in report.problems]
    assert report.created == {"enterprise": 2, "site": 1, "vehicle": 1}
    vehicle = Vehicle.objects.get(plate="吉A65432")
    assert vehicle.dangerous_goods_classes == ["3", "8"] and str(vehicle.payload_tonnes) == "12.500"
    assert Site.objects.get().latitude is not None
    assert Enterprise.objects.get(credit_code=carrier).is_carrier


def test_excel_errors_name_the_sheet_row_column_and_rule() -> None:
    wb = load_workbook(io.BytesIO(_template()))
    wb["enterprise"].append(["91350100M000100Y44", "坏代码", "220102"])
    wb["enterprise"].append([credit_code(203), "好单位", "999999"])
    wb["vehicle"].append(["吉A1", credit_code(203), "x", "ten", "2020-01-01"])
    wb.create_sheet("trucks")
    out = io.BytesIO()
    wb.save(out)
    report = _import(out.getvalue())
    assert report.refused
    found = {(p.sheet, p.line, p.column, p.field, p.code) for p in report.problems}
    assert found == {
        ("enterprise", 3, "A", "credit_code", "credit_code_checksum"),
        ("enterprise", 4, "C", "region", "region_not_found"),
        ("vehicle", 3, "D", "payload_tonnes", "decimal_format"),
        ("trucks", 1, None, None, "unknown_type"),
    }
    text = {str(p) for p in report.problems}
    assert "工作表 enterprise 第 4 行 C 列（region）：行政区域 999999 不存在 (region_not_found)" in text


def test_a_wrong_header_or_version_is_reported() -> None:
    wb = load_workbook(io.BytesIO(_template()))
    wb["site"]["B2"] = "nom"
    wb[NOTES]["B2"] = 2
    out = io.BytesIO()
    wb.save(out)
    _records, problems = workbook_read(io.BytesIO(out.getvalue()))
    assert [(p.sheet, p.code) for p in problems] == [(NOTES, "unsupported_version")]
    wb[NOTES]["B2"] = 1
    out = io.BytesIO()
    wb.save(out)
    _records, problems = workbook_read(io.BytesIO(out.getvalue()))
    assert [(p.sheet, p.line, p.column, p.code) for p in problems] == [("site", 2, "B", "unknown_field")]
    _records, problems = workbook_read(io.BytesIO(b"not a workbook"))
    assert [p.code for p in problems] == ["workbook_invalid"]


def test_an_excel_export_imports_back_into_an_empty_registry(tmp_path: Path) -> None:
    target = tmp_path / "registry.xlsx"

    def build() -> str:
        world_build()
        export_workbook(str(target), actor=SYSTEM, types=list(RECORD_TYPES))
        return export_text()

    text = in_rolled_back_transaction(build)
    assert Enterprise.objects.count() == 0
    report = _import(target.read_bytes())
    assert not report.problems, [str(p) for p in report.problems]
    assert sum(report.created.values()) == 14
    assert export_text() == text
