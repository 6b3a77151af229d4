"""The waste-code validation service used by every later capability.

Rules (regulations.md §4.1–4.2, §13 rules 1–2; 名录 第五条(三), 第六条):
- the code is 8 digits written ``NNN-NNN-NN``;
- its last two digits are the category number, and HW41–HW44 do not exist;
- when a category is claimed with the code, the two must agree;
- it exists in the catalogue version in force on the record's date;
- ``900-000-xx`` stands for a waste found hazardous by identification (鉴别) and is
  accepted when ``HWxx`` is a category of that version.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from weifei.core.errors import ApplicationError

from . import cache
from .models import CatalogueVersion, WasteCode

CODE_RE = re.compile(r"^[0-9]{3}-[0-9]{3}-[0-9]{2}$")
CATEGORY_RE = re.compile(r"^HW([0-9]{2})$")
VALID_CATEGORY_NUMBERS = frozenset([*range(1, 41), *range(45, 51)])
IDENTIFIED_PREFIX = "900-000-"


@dataclass(frozen=True)
class ValidCode:
    code: str
    category: str
    version_key: str
    identified: bool  # 900-000-xx: classified by identification, not listed
    waste_code: WasteCode | None


def version_in_force(on: dt.date) -> CatalogueVersion:
    version = cache.version_on(on)
    if version is None:
        loaded = cache.versions()
        first = loaded[0] if loaded else None
        hint = f"（最早的{first.name}自 {first.effective_from} 起施行）" if first else "（尚未载入任何名录）"
        raise ApplicationError(f"{on} 没有施行中的国家危险废物名录{hint}", code="no_catalogue_in_force", field="date")
    return version


def validate_category(category: str, *, field: str = "category") -> str:
    value = unicodedata.normalize("NFKC", category or "").strip().upper()
    match = CATEGORY_RE.match(value)
    if not match:
        raise ApplicationError(
            f"废物类别 {category!r} 格式应为 HW 加两位数字（如 HW08）", code="category_format", field=field
        )
    number = int(match.group(1))
    if 41 <= number <= 44:
        raise ApplicationError(
            f"废物类别 {value} 不存在：名录中没有 HW41–HW44", code="category_not_listed", field=field
        )
    if number not in VALID_CATEGORY_NUMBERS:
        raise ApplicationError(
            f"废物类别 {value} 不存在：有效类别为 HW01–HW40、HW45–HW50", code="category_not_listed", field=field
        )
    return value


def validate_waste_code(
    code: str,
    *,
    on: dt.date,
    category: str | None = None,
    field: str = "waste_code",
) -> ValidCode:
    """Validate ``code`` for a record dated ``on``; raise ``ApplicationError`` naming the rule."""
    # NFKC folds full-width digits and hyphens typed with a Chinese IME into ASCII.
    value = unicodedata.normalize("NFKC", code or "").strip()
    if not CODE_RE.match(value):
        raise ApplicationError(
            f"废物代码 {code!r} 格式不正确：应为 8 位数字，写作 NNN-NNN-NN（如 900-249-08）",
            code="waste_code_format",
            field=field,
        )
    code_category = validate_category(f"HW{value[-2:]}", field=field)
    if category is not None:
        claimed = validate_category(category, field="category")
        if claimed != code_category:
            raise ApplicationError(
                f"废物代码 {value} 与类别 {claimed} 不符：代码末两位应为类别编号",
                code="waste_code_category_mismatch",
                field=field,
            )
    version = version_in_force(on)
    if value.startswith(IDENTIFIED_PREFIX):
        if code_category not in cache.category_codes(version):
            raise ApplicationError(
                f"经鉴别的危险废物代码 {value}：{version.name}中没有类别 {code_category}",
                code="category_not_listed",
                field=field,
            )
        return ValidCode(value, code_category, version.key, identified=True, waste_code=None)
    waste_code = cache.codes(version).get(value)
    if waste_code is None:
        raise ApplicationError(
            f"废物代码 {value} 不在{on}施行的{version.name}中",
            code="waste_code_not_listed",
            field=field,
        )
    return ValidCode(value, code_category, version.key, identified=False, waste_code=waste_code)
