from __future__ import annotations

import datetime as dt

from weifei.catalog.models import CatalogueVersion, WasteCode
from weifei.core.actors import Actor


def catalogue_size(*, actor: Actor, on: dt.date | None = None) -> int:
    """Codes in the catalogue version in force today (0 before reference data is loaded)."""
    version = (
        CatalogueVersion.objects.filter(effective_from__lte=on or dt.date.today()).order_by("-effective_from").first()
    )
    return WasteCode.objects.filter(version=version).count() if version else 0
