"""统一社会信用代码 (GB 32100-2015) validation through python-stdnum."""

from __future__ import annotations

from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from .errors import ApplicationError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def credit_code_check_char(first17: str) -> str:
    """GB 32100-2015 check character: weights 3^(i-1) mod 31 over the first 17 characters."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(value: str, *, field: str = "credit_code") -> str:
    """Return the normalised code or raise ``ApplicationError`` naming the broken rule."""
    raw = (value or "").strip().upper()
    if not raw:
        raise ApplicationError("统一社会信用代码不能为空", code="credit_code_required", field=field)
    try:
        return str(uscc.validate(raw))
    except InvalidLength:
        raise ApplicationError(
            f"统一社会信用代码应为 18 位，当前为 {len(raw)} 位", code="credit_code_length", field=field
        ) from None
    except (InvalidFormat, InvalidComponent):
        raise ApplicationError(
            "统一社会信用代码含有不允许的字符（只允许数字和除 I、O、Z、S、V 以外的大写字母）",
            code="credit_code_format",
            field=field,
        ) from None
    except InvalidChecksum:
        raise ApplicationError(
            "统一社会信用代码校验位错误（GB 32100-2015 第 18 位校验码不符）",
            code="credit_code_checksum",
            field=field,
        ) from None
