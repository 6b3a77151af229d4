"""Reads of reference data. Reference data is public, but selectors still take the actor
so that every read in weifei has the same shape."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound

from . import cache
from .models import CatalogueVersion, Category, DisposalMethod, ExemptionItem, Region, WasteCode
from .validation import CATEGORY_RE, version_in_force

MAX_QUERY_LENGTH = 50


def catalogue_versions(*, actor: Actor) -> QuerySet[CatalogueVersion]:
    return CatalogueVersion.objects.annotate(code_count=Count("codes", distinct=True)).order_by("effective_from")


def catalogue_version(*, actor: Actor, key: str | None = None, on: dt.date | None = None) -> CatalogueVersion:
    if key:
        version = CatalogueVersion.objects.filter(key=key).first()
        if version is None:
            raise NotFound(f"名录版本 {key} 不存在", code="version_not_found", field="version")
        return version
    return version_in_force(on or dt.date.today())


@dataclass
class SearchResult:
    total: int
    items: list[WasteCode]
    version: CatalogueVersion


def _rank(code: WasteCode, terms: list[str]) -> tuple[int, str]:
    first = terms[0] if terms else ""
    if code.code == first:
        score = 0
    elif first and code.code.startswith(first):
        score = 1
    elif first and code.category.code.lower() == first:
        score = 2
    elif first and first in code.description.lower():
        score = 3  # the waste itself named: what a user typing 废矿物油 or 飞灰 is after
    elif first and first in code.category.name.lower():
        score = 4
    else:
        score = 5
    return (score, code.code)


def catalogue_search(
    *,
    actor: Actor,
    q: str = "",
    version: CatalogueVersion,
    category: str = "",
    hazard: str = "",
    limit: int = 50,
    offset: int = 0,
) -> SearchResult:
    """Search codes by code, category, industry source or Chinese keyword.

    Every whitespace-separated term must match somewhere (code, category, category name,
    industry source or description). Results are ranked: exact code, code prefix, category,
    description, category name, industry source.
    """
    query = (q or "").strip().lower()
    if len(query) > MAX_QUERY_LENGTH:
        raise ApplicationError(f"搜索词不能超过 {MAX_QUERY_LENGTH} 个字符", code="query_too_long", field="q")
    terms = query.split()
    cat = category.strip().upper() if category else ""
    if cat and not CATEGORY_RE.match(cat):
        raise ApplicationError(
            f"废物类别 {category!r} 格式应为 HW 加两位数字", code="category_format", field="category"
        )
    if hazard and hazard not in {"T", "C", "I", "R", "In"}:
        raise ApplicationError("危险特性只能是 T、C、I、R、In 之一", code="hazard_invalid", field="hazard")
    # A version has a few hundred codes, cached per process: filtering in memory beats a query.
    items = [
        c
        for c in cache.codes(version).values()
        if all(term in c.search_text for term in terms)
        and (not cat or c.category.code == cat)
        and (not hazard or hazard in c.hazards)
    ]
    if terms:
        items.sort(key=lambda c: _rank(c, terms))
    return SearchResult(total=len(items), items=items[offset : offset + limit], version=version)


def waste_code_detail(*, actor: Actor, code: str, version: CatalogueVersion) -> WasteCode:
    found = WasteCode.objects.select_related("category", "version").filter(version=version, code=code).first()
    if found is None:
        raise NotFound(f"废物代码 {code} 不在{version.name}中", code="waste_code_not_listed", field="code")
    return found


def exemptions_mentioning(*, actor: Actor, waste_code: WasteCode) -> list[ExemptionItem]:
    """Exemption rows that name this code or its category."""
    rows = ExemptionItem.objects.filter(version=waste_code.version)
    return [
        row
        for row in rows
        if waste_code.code in row.codes
        or waste_code.category.code in row.codes
        or waste_code.code in row.category_or_code
    ]


def categories(*, actor: Actor, version: CatalogueVersion) -> QuerySet[Category]:
    return Category.objects.filter(version=version).annotate(code_count=Count("codes")).order_by("code")


def exemption_items(*, actor: Actor, version: CatalogueVersion) -> QuerySet[ExemptionItem]:
    return ExemptionItem.objects.filter(version=version)


def disposal_methods(*, actor: Actor) -> QuerySet[DisposalMethod]:
    return DisposalMethod.objects.all()


def regions(*, actor: Actor, level: str = "", province: str = "") -> QuerySet[Region]:
    """Jilin's regions by default; ``province`` = a neighbouring province's code (``210000``) for its
    regions, or ``all`` for every loaded region (the out-of-province receivers' pickers)."""
    qs = Region.objects.select_related("parent", "supervisor", "carved_from")
    province = (province or "").strip()
    if not province:
        qs = qs.home()
    elif province != "all":
        if not re.fullmatch(r"\d{2}0000", province):
            raise ApplicationError(
                f"省份代码 {province!r} 无效：应为 6 位省级代码（如 210000）或 all",
                code="province_invalid",
                field="province",
            )
        qs = qs.filter(province_code=province)
    if level:
        if level not in Region.Level.values:
            raise ApplicationError(f"区域级别 {level!r} 无效", code="level_invalid", field="level")
        qs = qs.filter(level=level)
    return qs


def prefectures(*, actor: Actor) -> QuerySet[Region]:
    """Jilin's prefectures (other provinces' are not Jilin's divisions)."""
    return Region.objects.home().filter(Q(level=Region.Level.PREFECTURE)).order_by("key")


def jurisdiction_region_ids(region: Region) -> set[int]:
    """The region itself and every region whose chain of supervising authorities reaches it.

    A county sees itself; a prefecture its counties and zones (not 梅河口市, which the province
    supervises); 长白山管委会 its three areas; the province everything in Jilin — never a region of
    another province (those are supervised by their own province, outside this platform).
    """
    rows = list(Region.objects.filter(province_code=region.province_code).values_list("id", "supervisor_id"))
    children: dict[int | None, list[int]] = {}
    for rid, sup in rows:
        children.setdefault(sup, []).append(rid)
    result = {region.id}
    stack = [region.id]
    while stack:
        current = stack.pop()
        for child in children.get(current, []):
            if child not in result:
                result.add(child)
                stack.append(child)
    return result
