"""Test helpers for the reference data."""

from __future__ import annotations


def reference_ensure() -> None:
    """Reference data (regions, 名录2021, exemptions, methods) present in the database: loaded
    again when a transactional test flushed the tables before (whatever ran earlier on this
    test process, so that a module-scoped fixture does not depend on the order of the tests)."""
    from weifei.catalog.models import Region, WasteCode
    from weifei.catalog.services import reference_load

    if not (Region.objects.exists() and WasteCode.objects.exists()):
        reference_load()
