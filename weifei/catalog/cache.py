"""Per-process cache of catalogue reference data.

Catalogue versions change a few times a decade, yet every search, validation and import reads
them. Each process keeps the version list for ``TTL_SECONDS`` and each version's codes keyed by
(version id, loaded_at), so a reload in this process is seen at once (the loaders call
``invalidate``) and in other processes within the TTL.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from .models import CatalogueVersion, Category, DisposalMethod, WasteCode

TTL_SECONDS = 60.0
_lock = threading.Lock()
_versions: tuple[float, list[CatalogueVersion]] | None = None
_codes: dict[tuple[int, dt.datetime], dict[str, WasteCode]] = {}
_categories: dict[tuple[int, dt.datetime], frozenset[str]] = {}
_methods: tuple[float, dict[str, str]] | None = None


def invalidate() -> None:
    global _versions, _methods
    with _lock:
        _versions = None
        _methods = None
        _codes.clear()
        _categories.clear()


def versions() -> list[CatalogueVersion]:
    """All versions, oldest first."""
    global _versions
    now = time.monotonic()
    cached = _versions
    if cached is not None and cached[0] > now:
        return cached[1]
    rows = list(CatalogueVersion.objects.order_by("effective_from"))
    with _lock:
        _versions = (now + TTL_SECONDS, rows)
    return rows


def version_on(on: dt.date) -> CatalogueVersion | None:
    found = None
    for version in versions():
        if version.effective_from <= on:
            found = version
    return found


def codes(version: CatalogueVersion) -> dict[str, WasteCode]:
    """The version's codes by code, in code order, with their category loaded."""
    key = (version.pk, version.loaded_at)
    found = _codes.get(key)
    if found is None:
        found = {
            c.code: c for c in WasteCode.objects.filter(version=version).select_related("category").order_by("code")
        }
        with _lock:
            _codes[key] = found
    return found


def category_codes(version: CatalogueVersion) -> frozenset[str]:
    key = (version.pk, version.loaded_at)
    found = _categories.get(key)
    if found is None:
        found = frozenset(Category.objects.filter(version=version).values_list("code", flat=True))
        with _lock:
            _categories[key] = found
    return found


def method_kinds() -> dict[str, str]:
    """{method code: kind (utilization, disposal, other)} for the codes that exist (R1…, D1…, C1…)."""
    global _methods
    now = time.monotonic()
    cached = _methods
    if cached is not None and cached[0] > now:
        return cached[1]
    found = dict(DisposalMethod.objects.values_list("code", "kind"))
    with _lock:
        _methods = (now + TTL_SECONDS, found)
    return found


def method_exists(code: str) -> bool:
    """Whether the method code exists (codes are only ever added: a miss asks the database)."""
    return code in method_kinds() or DisposalMethod.objects.filter(code=code).exists()
