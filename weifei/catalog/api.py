"""Catalogue API: versions, search, detail, validation, exemptions, methods, regions."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from weifei.accounts.selectors import actor_for

from . import selectors
from .models import HAZARD_CHARACTERISTICS
from .validation import validate_waste_code

router = Router(tags=["catalog"])


class VersionOut(Schema):
    key: str
    name: str
    effective_from: dt.date
    legal_basis: str
    code_count: int


class CodeOut(Schema):
    code: str
    category: str
    category_name: str
    industry_source: str
    description: str
    hazard: str
    hazards: list[str]
    hazard_semantics: str


class ExemptionOut(Schema):
    seq: int
    category_or_code: str
    codes: list[str]
    waste: str
    stage: str
    condition: str
    exemption: str


class CodeDetailOut(CodeOut):
    version: str
    hazard_meaning: str
    hazard_names: dict[str, str]
    exemptions: list[ExemptionOut]


class SearchOut(Schema):
    version: str
    total: int
    items: list[CodeOut]


class SearchParams(Schema):
    q: str = Field("", max_length=50, description="代码、类别（HW08）、行业来源或中文关键词")
    category: str = Field("", max_length=4)
    hazard: str = Field("", max_length=2)
    version: str = Field("", max_length=16, description="名录版本；缺省为 date 当日施行的版本")
    date: dt.date | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=100000)


class CategoryOut(Schema):
    code: str
    name: str
    code_count: int


class MethodOut(Schema):
    code: str
    kind: str
    name: str
    provisional: bool


class RegionOut(Schema):
    key: str
    code6: str
    name: str
    level: str
    official: bool
    parent: str | None
    supervisor: str | None
    carved_from: str | None
    province_code: str


class ValidateIn(Schema):
    code: str = Field(..., max_length=20)
    date: dt.date
    category: str | None = Field(None, max_length=4)


class ValidateOut(Schema):
    code: str
    category: str
    version: str
    identified: bool
    description: str | None


def _code_out(c: object) -> dict[str, object]:
    from .models import WasteCode

    assert isinstance(c, WasteCode)
    return {
        "code": c.code,
        "category": c.category.code,
        "category_name": c.category.name,
        "industry_source": c.industry_source,
        "description": c.description,
        "hazard": c.hazard_raw,
        "hazards": c.hazards,
        "hazard_semantics": c.hazard_semantics,
    }


@router.get("/versions", response=list[VersionOut])
def versions(request: HttpRequest) -> list[object]:
    return list(selectors.catalogue_versions(actor=actor_for(request.user)))


@router.get("/codes", response=SearchOut)
def search(request: HttpRequest, params: Query[SearchParams]) -> dict[str, object]:
    """Search 名录 codes by code, category, industry source or Chinese keyword (废矿物油, 飞灰…)."""
    actor = actor_for(request.user)
    version = selectors.catalogue_version(actor=actor, key=params.version or None, on=params.date)
    result = selectors.catalogue_search(
        actor=actor,
        q=params.q,
        version=version,
        category=params.category,
        hazard=params.hazard,
        limit=params.limit,
        offset=params.offset,
    )
    return {"version": version.key, "total": result.total, "items": [_code_out(c) for c in result.items]}


@router.get("/codes/{code}", response=CodeDetailOut)
def detail(request: HttpRequest, code: str, version: str = "") -> dict[str, object]:
    actor = actor_for(request.user)
    v = selectors.catalogue_version(actor=actor, key=version or None)
    c = selectors.waste_code_detail(actor=actor, code=code, version=v)
    return {
        **_code_out(c),
        "version": v.key,
        "hazard_meaning": c.hazard_meaning,
        "hazard_names": {h: HAZARD_CHARACTERISTICS[h] for h in c.hazards if h in HAZARD_CHARACTERISTICS},
        "exemptions": selectors.exemptions_mentioning(actor=actor, waste_code=c),
    }


@router.post("/validate", response=ValidateOut)
def validate(request: HttpRequest, payload: ValidateIn) -> dict[str, object]:
    """Validate a waste code for a record dated ``date``; 400 with the broken rule otherwise."""
    result = validate_waste_code(payload.code, on=payload.date, category=payload.category, field="code")
    return {
        "code": result.code,
        "category": result.category,
        "version": result.version_key,
        "identified": result.identified,
        "description": result.waste_code.description if result.waste_code else None,
    }


@router.get("/categories", response=list[CategoryOut])
def categories(request: HttpRequest, version: str = "") -> list[object]:
    actor = actor_for(request.user)
    return list(
        selectors.categories(actor=actor, version=selectors.catalogue_version(actor=actor, key=version or None))
    )


@router.get("/exemptions", response=list[ExemptionOut])
def exemptions(request: HttpRequest, version: str = "") -> list[object]:
    actor = actor_for(request.user)
    v = selectors.catalogue_version(actor=actor, key=version or None)
    return list(selectors.exemption_items(actor=actor, version=v))


@router.get("/methods", response=list[MethodOut])
def methods(request: HttpRequest) -> list[object]:
    return list(selectors.disposal_methods(actor=actor_for(request.user)))


@router.get("/regions", response=list[RegionOut])
def regions(request: HttpRequest, level: str = "", province: str = "") -> list[dict[str, object]]:
    """Jilin's regions; ``province=210000`` (or ``all``) for a neighbouring province's."""
    rows = selectors.regions(actor=actor_for(request.user), level=level, province=province[:10])
    return [
        {
            "key": r.key,
            "code6": r.code6,
            "name": r.name,
            "level": r.level,
            "official": r.official,
            "parent": r.parent.key if r.parent else None,
            "supervisor": r.supervisor.key if r.supervisor else None,
            "carved_from": r.carved_from.key if r.carved_from else None,
            "province_code": r.province_code,
        }
        for r in rows
    ]
