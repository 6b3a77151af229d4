from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


def plain(value: Decimal) -> str:
    """Tonnes without trailing zeros and never in exponent form (10, 2.5, 0.001)."""
    return f"{value.normalize():f}"


@register.filter
def tonnes(value: object) -> str:
    return plain(value) if isinstance(value, Decimal) else str(value)
