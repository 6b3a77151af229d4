"""Catalogue search: the keywords users of peer systems could not find codes with."""

from __future__ import annotations

import pytest

from weifei.catalog.models import CatalogueVersion
from weifei.catalog.selectors import catalogue_search
from weifei.core.actors import PUBLIC
from weifei.core.errors import ApplicationError

pytestmark = pytest.mark.usefixtures("reference")


def codes(q: str, category: str = "", hazard: str = "") -> list[str]:
    version = CatalogueVersion.objects.get(key="2021")
    result = catalogue_search(actor=PUBLIC, q=q, version=version, category=category, hazard=hazard, limit=500)
    return [c.code for c in result.items]


def test_keywords_find_the_right_codes() -> None:
    assert "900-249-08" in codes("废矿物油")
    assert "772-002-18" in codes("飞灰")
    assert "900-052-31" in codes("铅蓄电池")
    assert {"841-001-01", "841-002-01", "841-003-01"} <= set(codes("医疗废物"))


def test_codes_naming_the_waste_rank_before_category_name_matches() -> None:
    ranked = codes("废矿物油")
    first_category_only = next(i for i, c in enumerate(ranked) if c in {"071-001-08", "251-001-08"})
    assert ranked.index("900-249-08") < first_category_only
    assert ranked.index("900-199-08") < first_category_only


def test_exact_code_ranks_first_and_prefix_matches() -> None:
    assert codes("900-041-49")[0] == "900-041-49"
    assert all(c.startswith("772-") for c in codes("772-")[:3])


def test_category_and_terms_combine() -> None:
    hw08 = codes("HW08")
    assert len(hw08) == 32 and all(c.endswith("-08") for c in hw08)
    both = codes("废 油")
    assert both and all(c in codes("废") for c in both)
    assert codes("", category="HW01") == ["841-001-01", "841-002-01", "841-003-01", "841-004-01", "841-005-01"]
    # In alone (3 codes), T/In (2) and T/C/I/R/In (1): the PDF's hazard-string counts.
    assert len(codes("", hazard="In")) == 6


def test_bad_filters_name_the_field() -> None:
    with pytest.raises(ApplicationError) as exc:
        codes("", category="HX01")
    assert exc.value.field == "category"
    with pytest.raises(ApplicationError) as exc:
        codes("", hazard="Z")
    assert exc.value.field == "hazard"
    with pytest.raises(ApplicationError) as exc:
        codes("废" * 51)
    assert exc.value.field == "q"
