"""Jilin's regions: statutory tree and supervising authorities (regulations.md §10)."""

from __future__ import annotations

import pytest

from weifei.catalog.models import Region
from weifei.catalog.selectors import jurisdiction_region_ids

pytestmark = pytest.mark.usefixtures("reference")


def region(key: str) -> Region:
    return Region.objects.get(key=key)


def test_nine_prefectures_and_sixty_county_level_units() -> None:
    prefectures = Region.objects.home().filter(level="prefecture")
    assert prefectures.count() == 9
    assert {p.parent.key for p in prefectures} == {"220000"}  # type: ignore[union-attr]
    counties = Region.objects.filter(level="county", official=True)
    assert counties.count() == 60
    assert Region.objects.filter(level="zone", official=False).count() == 9
    assert region("220184").parent == region("220100")  # 公主岭市 moved to 长春 in 2020


def test_changbaishan_committee_is_a_configurable_special_region() -> None:
    cbs = region("changbaishan")
    assert cbs.level == "special" and not cbs.official and cbs.code6 == ""
    assert cbs.parent == region("220000")
    areas = Region.objects.filter(parent=cbs)
    assert {a.name for a in areas} == {"池北区", "池西区", "池南区"}
    assert {a.carved_from.key for a in areas if a.carved_from} == {"222426", "220621", "220623"}
    assert all(a.supervisor == cbs for a in areas)


def test_meihekou_is_coded_under_tonghua_but_supervised_by_the_province() -> None:
    mhk = region("220581")
    assert mhk.name == "梅河口市"
    assert mhk.parent == region("220500")
    assert mhk.supervisor == region("220000")


def test_jurisdictions_follow_the_supervising_authority() -> None:
    province = jurisdiction_region_ids(region("220000"))
    assert province == set(Region.objects.home().values_list("id", flat=True))  # never another province's
    tonghua = jurisdiction_region_ids(region("220500"))
    assert region("220581").id not in tonghua  # 梅河口 belongs to the province's own list
    assert region("220582").id in tonghua
    cbs = jurisdiction_region_ids(region("changbaishan"))
    assert len(cbs) == 4
    assert jurisdiction_region_ids(region("220102")) == {region("220102").id}
    changchun = jurisdiction_region_ids(region("220100"))
    assert region("220173").id in changchun  # functional zones under their prefecture
    assert len(changchun) == 1 + 11 + 4
