from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def highlight(value: object, query: str) -> SafeString:
    """Escape ``value`` and wrap each search term in <mark>."""
    text = str(escape(str(value)))
    for term in sorted({t for t in (query or "").split() if t}, key=len, reverse=True):
        safe_term = str(escape(term))
        if safe_term and safe_term in text:
            text = text.replace(safe_term, f"<mark>{safe_term}</mark>")
    return mark_safe(text)
