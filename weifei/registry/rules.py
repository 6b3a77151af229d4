"""Pure rules of the registry: facts in, findings out. Each cites its legal source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .models import ManagementClass

KEY_THRESHOLD_T = Decimal(100)
SIMPLIFIED_THRESHOLD_T = Decimal(10)

# 许可办法 第三条: a 收集经营许可证 covers only waste mineral oil from motor-vehicle repair and
# waste Ni-Cd batteries from households; these are their 名录2021 codes.
COLLECTION_LICENCE_CODES = frozenset({"900-214-08", "900-044-49"})
LICENCE_YEARS = {"comprehensive": 5, "collection": 3}  # 第十三条


@dataclass(frozen=True)
class SiteFacts:
    """What HJ 1259 4.2 looks at for one production site."""

    yearly_tonnes: Mapping[int, Decimal]  # total generation per calendar year
    operation_started_on: dt.date | None
    eia_annual_tonnes: Decimal | None
    permit_annual_tonnes: Decimal | None
    has_own_treatment: bool  # own utilization/disposal facilities in service
    holds_licence: bool  # a 危险废物经营许可证 valid on the date


@dataclass(frozen=True)
class ClassResult:
    management_class: str
    annual_tonnes: Decimal | None
    basis: str


def annual_generation(facts: SiteFacts, *, today: dt.date) -> tuple[Decimal | None, str]:
    """HJ 1259—2022 4.2.3.

    ≥ 3 years of operation: the largest of the last 3 full years; 1–3 years: the largest since
    operation began; new (< 1 year, or no start date) or no generation on record: the larger of
    the EIA and permit figures.
    """
    started = facts.operation_started_on
    years_operating = (today - started).days / 365.25 if started else 0.0
    last_full_year = today.year - 1
    if years_operating >= 3:
        window = [last_full_year - 2, last_full_year - 1, last_full_year]
        basis = "近三年最大年产生量"
    elif years_operating >= 1:
        assert started is not None
        window = list(range(started.year, last_full_year + 1))
        basis = "投运以来最大年产生量"
    else:
        window = []
        basis = ""
    figures = [facts.yearly_tonnes[y] for y in window if y in facts.yearly_tonnes]
    if figures:
        return max(figures), f"{basis}（{window[0]}–{window[-1]}年）"
    planned = [v for v in (facts.eia_annual_tonnes, facts.permit_annual_tonnes) if v is not None]
    if planned:
        return max(planned), "环评文件与排污许可证核算量中的较大者"
    return None, "无产生量数据"


def management_class(facts: SiteFacts, *, today: dt.date) -> ClassResult:
    """HJ 1259—2022 4.2.1: 重点 if ≥ 100 t, own treatment facilities, or a licence; 简化 if ≥ 10 t;
    otherwise 登记."""
    tonnes, basis = annual_generation(facts, today=today)
    if facts.holds_licence:
        return ClassResult(ManagementClass.KEY, tonnes, "持有危险废物经营许可证")
    if facts.has_own_treatment:
        return ClassResult(ManagementClass.KEY, tonnes, "有自建危险废物利用处置设施")
    amount = tonnes if tonnes is not None else Decimal(0)
    if amount >= KEY_THRESHOLD_T:
        return ClassResult(ManagementClass.KEY, tonnes, f"{basis} {amount} 吨 ≥ 100 吨")
    if amount >= SIMPLIFIED_THRESHOLD_T:
        return ClassResult(ManagementClass.SIMPLIFIED, tonnes, f"{basis} {amount} 吨，10–100 吨")
    return ClassResult(ManagementClass.REGISTERED, tonnes, f"{basis} {amount} 吨 < 10 吨")


def licence_valid_to(kind: str, valid_from: dt.date) -> dt.date:
    """综合 5 years, 收集 3 years (许可办法 第十三条), ending the day before the anniversary."""
    years = LICENCE_YEARS[kind]
    try:
        anniversary = valid_from.replace(year=valid_from.year + years)
    except ValueError:  # 29 February
        anniversary = valid_from.replace(year=valid_from.year + years, month=3, day=1)
    return anniversary - dt.timedelta(days=1)


def licence_status_on(*, stored_status: str, valid_from: dt.date, valid_to: dt.date, on: dt.date) -> str:
    """The licence's status on a date: revoked/suspended as stored, else expired outside its dates."""
    if stored_status in ("revoked", "suspended"):
        return stored_status
    if on < valid_from:
        return "not_yet_valid"
    if on > valid_to:
        return "expired"
    return "valid"


ACTOR_LEVEL = {"province": "province", "prefecture": "prefecture", "special": "prefecture", "county": "county"}


def may_issue(*, actor_level: str, issuing_level: str) -> bool:
    """The issuing authority itself, or the province acting above it."""
    return ACTOR_LEVEL.get(actor_level) in (issuing_level, "province")


def issuing_level_for(kind: str, categories: set[str]) -> str:
    """许可办法 第七条: 收集 → county; medical-waste centralized disposal → prefecture; else province."""
    if kind == "collection":
        return "county"
    if categories == {"HW01"}:
        return "prefecture"
    return "province"
