"""Waste-code validation (regulations.md §13 rules 1–2)."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weifei.catalog.services import DATA_DIR
from weifei.catalog.validation import validate_category, validate_waste_code
from weifei.core.errors import ApplicationError

ON = dt.date(2022, 6, 1)
ALL_CODES = [row["code"] for row in csv.DictReader((DATA_DIR / "hazardous_waste_list_2021.csv").open())]

pytestmark = pytest.mark.usefixtures("reference")


def test_bundled_catalogue_has_467_codes() -> None:
    assert len(ALL_CODES) == 467
    assert len(set(ALL_CODES)) == 467


def test_every_2021_code_is_valid_on_2022_06_01() -> None:
    for code in ALL_CODES:
        result = validate_waste_code(code, on=ON)
        assert result.code == code
        assert result.version_key == "2021"
        assert result.category == f"HW{code[-2:]}"
        assert result.waste_code is not None and not result.identified


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "900-249-8",
        "9002490-8",
        "900249-08",
        "900-249-088",
        "abc-def-gh",
        "900 249 08",
        "900-249-0８8",
        "٩٠٠-٢٤٩-٠٨",
    ],
)
def test_malformed_codes_are_refused(bad: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_waste_code(bad, on=ON)
    assert exc.value.code == "waste_code_format"
    assert exc.value.field == "waste_code"
    assert "NNN-NNN-NN" in exc.value.message


def test_category_digits_must_match_claimed_category() -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_waste_code("900-041-48", on=ON, category="HW49")
    assert exc.value.code == "waste_code_category_mismatch"
    assert "900-041-48 与类别 HW49 不符" in exc.value.message
    assert validate_waste_code("900-041-49", on=ON, category="hw49").category == "HW49"


@pytest.mark.parametrize("number", [41, 42, 43, 44])
def test_hw41_to_hw44_are_refused(number: int) -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_waste_code(f"900-001-{number}", on=ON)
    assert exc.value.code == "category_not_listed"
    assert "HW41–HW44" in exc.value.message
    with pytest.raises(ApplicationError):
        validate_category(f"HW{number}")
    with pytest.raises(ApplicationError):  # not even as an identified waste
        validate_waste_code(f"900-000-{number}", on=ON)


@pytest.mark.parametrize("code", ["900-001-00", "900-001-51", "900-001-99"])
def test_categories_outside_the_list_are_refused(code: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_waste_code(code, on=ON)
    assert exc.value.code == "category_not_listed"


@pytest.mark.parametrize("code", ["900-999-08", "841-006-01", "251-099-11"])
def test_unknown_codes_are_refused(code: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_waste_code(code, on=ON)
    assert exc.value.code == "waste_code_not_listed"
    assert code in exc.value.message and "名录" in exc.value.message


def test_full_width_input_from_a_chinese_ime_is_normalised() -> None:
    assert validate_waste_code("９００－２４９－０８", on=ON).code == "900-249-08"


def test_identified_waste_900_000_xx() -> None:
    result = validate_waste_code("900-000-49", on=ON)
    assert result.identified and result.category == "HW49" and result.waste_code is None


@pytest.mark.parametrize("code", ["900-249-08", "841-001-01", "900-000-08"])
def test_codes_dated_before_the_version_starts_are_refused(code: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_waste_code(code, on=dt.date(2020, 12, 31))
    assert exc.value.code == "no_catalogue_in_force"
    assert "2021-01-01" in exc.value.message
    assert validate_waste_code(code, on=dt.date(2021, 1, 1)).version_key == "2021"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=14))
def test_arbitrary_text_never_crashes(text: str) -> None:
    """Either a valid result or an ApplicationError, never anything else."""
    try:
        result = validate_waste_code(text, on=ON)
    except ApplicationError as exc:
        assert exc.message and exc.field == "waste_code"
    else:
        assert result.code in ALL_CODES or result.identified
