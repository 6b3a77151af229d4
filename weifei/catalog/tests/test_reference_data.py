"""Reference data: catalogue structure, exemptions, method codes, versions and mappings."""

from __future__ import annotations

import csv
import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from weifei.catalog.models import (
    CatalogueVersion,
    Category,
    CodeMapping,
    DisposalMethod,
    ExemptionItem,
    WasteCode,
)
from weifei.catalog.services import DATA_DIR, catalogue_version_load, reference_load
from weifei.catalog.validation import validate_waste_code
from weifei.core.errors import ApplicationError
from weifei.core.models import Event

pytestmark = pytest.mark.usefixtures("reference")


def test_catalogue_stats_command_prints_467_codes_and_46_categories() -> None:
    out = StringIO()
    call_command("catalogue", "stats", "--version", "2021", stdout=out)
    text = out.getvalue()
    assert "codes: 467" in text
    assert "categories: 46" in text
    assert "industry_900: 95" in text
    assert "exemption_items: 32 (57 rows)" in text


def test_categories_are_hw01_to_hw40_and_hw45_to_hw50() -> None:
    codes = set(Category.objects.filter(version__key="2021").values_list("code", flat=True))
    expected = {f"HW{n:02d}" for n in [*range(1, 41), *range(45, 51)]}
    assert codes == expected


def test_codes_per_category_match_the_pdf_counts() -> None:
    counts = {c.code: c.codes.count() for c in Category.objects.filter(version__key="2021")}
    assert counts["HW01"] == 5 and counts["HW08"] == 32 and counts["HW11"] == 85
    assert counts["HW49"] == 11 and counts["HW50"] == 44 and counts["HW48"] == 33


def test_hazard_characteristics_parsed_with_their_separator_meaning() -> None:
    oil = WasteCode.objects.get(version__key="2021", code="900-249-08")
    assert oil.hazard_raw == "T，I"
    assert oil.hazards == ["T", "I"] and oil.hazard_primary == "T"
    assert oil.hazard_semantics == "comma:has_first_may_have_others"
    packaging = WasteCode.objects.get(version__key="2021", code="900-041-49")
    assert packaging.hazards == ["T", "In"] and packaging.hazard_semantics == "slash:has_one_or_more_of"
    assert WasteCode.objects.get(version__key="2021", code="841-001-01").hazards == ["In"]
    allowed = {"T", "C", "I", "R", "In"}
    for hazards in WasteCode.objects.values_list("hazards", flat=True):
        assert hazards and set(hazards) <= allowed


def test_exemption_list_has_32_items_with_stages() -> None:
    items = ExemptionItem.objects.filter(version__key="2021")
    assert items.values("seq").distinct().count() == 32
    assert items.count() == 57
    assert set(items.values_list("stage", flat=True)) == {"全部环节", "收集", "运输", "利用", "处置", "利用、处置"}
    fly_ash = [i for i in items if "772-002-18" in i.codes]
    assert fly_ash and all(i.seq == 12 for i in fly_ash)


def test_method_codes_are_marked_provisional() -> None:
    assert DisposalMethod.objects.count() == 27
    assert DisposalMethod.objects.filter(provisional=False).count() == 0
    assert DisposalMethod.objects.get(code="D10").kind == "disposal"
    assert DisposalMethod.objects.get(code="R9").kind == "utilization"


def test_reference_load_is_idempotent() -> None:
    before = (WasteCode.objects.count(), Event.objects.count(), ExemptionItem.objects.count())
    reference_load()
    assert (WasteCode.objects.count(), Event.objects.count(), ExemptionItem.objects.count()) == before


def _write_catalogue(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(rows[0].keys())
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rows_2021() -> list[dict[str, str]]:
    with (DATA_DIR / "hazardous_waste_list_2021.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_another_version_loads_from_csv_with_a_mapping(tmp_path: Path) -> None:
    """A later version (名录2025 will arrive this way) takes over from its effective date."""
    rows = [r for r in _rows_2021() if r["code"] != "900-249-08"]
    new = dict(
        rows[0],
        code="321-035-48",
        category="HW48",
        category_name="有色金属采选和冶炼废物",
        industry_source="常用有色金属冶炼",
        description="锡冶炼过程中产生的废物（测试数据）",
    )
    rows.append(new)
    csv_path = _write_catalogue(tmp_path / "test_version.csv", rows)
    mapping = tmp_path / "mapping.csv"
    mapping.write_text(
        "from_code,to_code,relation,note\n"
        "900-249-08,900-200-08,merged,test merge\n"
        ",321-035-48,added,test add\n"
        "841-001-01,841-001-01,same,\n",
        encoding="utf-8",
    )
    out = StringIO()
    call_command(
        "catalogue",
        "load",
        "--version",
        "T25",
        "--name",
        "测试名录",
        "--effective-from",
        "2025-01-01",
        "--csv",
        str(csv_path),
        "--mapping",
        str(mapping),
        "--mapping-from",
        "2021",
        stdout=out,
    )
    assert "新增 467" in out.getvalue()
    assert WasteCode.objects.filter(version__key="T25").count() == 467
    assert CodeMapping.objects.filter(to_version__key="T25").count() == 3
    # 2021 stays in force before the new version's date, the new one from it.
    assert validate_waste_code("900-249-08", on=dt.date(2024, 12, 31)).version_key == "2021"
    with pytest.raises(ApplicationError) as exc:
        validate_waste_code("900-249-08", on=dt.date(2025, 1, 1))
    assert exc.value.code == "waste_code_not_listed"
    assert validate_waste_code("321-035-48", on=dt.date(2025, 6, 1)).version_key == "T25"
    with pytest.raises(ApplicationError):
        validate_waste_code("321-035-48", on=dt.date(2024, 6, 1))


def test_a_bad_catalogue_file_is_refused_whole_with_every_error(tmp_path: Path) -> None:
    rows = _rows_2021()[:5]
    rows[1] = dict(rows[1], code="841-002-02")  # category digits do not match HW01
    rows[2] = dict(rows[2], category="HW42")
    rows[3] = dict(rows[3], hazard_list="T;X")
    csv_path = _write_catalogue(tmp_path / "bad.csv", rows)
    with pytest.raises(ApplicationError) as exc:
        catalogue_version_load(key="BAD", name="坏文件", effective_from=dt.date(2030, 1, 1), csv_path=csv_path)
    message = exc.value.message
    assert "第 3 行 code" in message and "第 4 行 category" in message and "第 5 行 hazard_list" in message
    assert not CatalogueVersion.objects.filter(key="BAD").exists()


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("code,category\n900-249-08,HW08\n", encoding="utf-8")
    with pytest.raises(ApplicationError) as exc:
        catalogue_version_load(key="X", name="x", effective_from=dt.date(2030, 1, 1), csv_path=path)
    assert "缺少列" in exc.value.message and "description" in exc.value.message
