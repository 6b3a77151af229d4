from __future__ import annotations

import pytest

from weifei.core.errors import ApplicationError
from weifei.core.identifiers import validate_credit_code


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y43", "91130200699229617X", "911302307808371268", "91512081MA62K0260E", " 91350100m000100y43 "],
)
def test_valid_credit_codes(code: str) -> None:
    assert validate_credit_code(code) == code.strip().upper()


def test_the_reference_example_with_a_wrong_check_character_is_refused_in_chinese() -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_credit_code("91350100M000100Y4Z")
    assert exc.value.field == "credit_code"
    assert "统一社会信用代码" in exc.value.message
    assert "Z" in exc.value.message  # Z is never used in the code set


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("", "credit_code_required"),
        ("91350100M000100Y4", "credit_code_length"),
        ("91350100M000100Y433", "credit_code_length"),
        ("91350100M000100Y44", "credit_code_checksum"),
        ("91350100M0001O0Y43", "credit_code_format"),
    ],
)
def test_invalid_credit_codes_name_the_rule(code: str, rule: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_credit_code(code)
    assert exc.value.code == rule
    assert "统一社会信用代码" in exc.value.message
