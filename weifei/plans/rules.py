"""Pure rules of the management plan: facts in, findings out. Each cites its source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# HJ 1259—2022 5.3 (regulations §3.2 and §13 rule 9).
SECTIONS_BY_CLASS: dict[str, tuple[str, ...]] = {
    "key": ("A1", "A2", "A3", "A4", "A5", "A6", "A7"),
    "simplified": ("A1", "A3", "A4", "A6", "A7"),
    "registered": ("A1", "A3", "A7"),
}
CLASS_NAMES = {"key": "重点监管单位", "simplified": "简化管理单位", "registered": "登记管理单位"}
SECTION_NAMES = {
    "A1": "A.1 单位基本信息",
    "A2": "A.2 设施信息",
    "A3": "A.3 产生情况",
    "A4": "A.4 贮存情况",
    "A5": "A.5 自行利用/处置情况",
    "A6": "A.6 减量化计划和措施",
    "A7": "A.7 转移情况",
}
LINE_SECTIONS = ("A3", "A4", "A5", "A6", "A7")
DEADLINE_MONTH_DAY = (3, 31)  # HJ 1259 5.2.2: submitted before 31 March


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    source: str


def sections_for(management_class: str) -> tuple[str, ...]:
    """The Annex A tables a unit of this class fills in (HJ 1259 5.3)."""
    return SECTIONS_BY_CLASS[management_class]


def section_allowed(management_class: str, section: str) -> bool:
    return section in SECTIONS_BY_CLASS[management_class]


def filing_deadline(year: int) -> dt.date:
    return dt.date(year, *DEADLINE_MONTH_DAY)


def filed_late(*, year: int, filed_on_local: dt.date) -> bool:
    """HJ 1259 5.2.2: the year's plan is filed by 31 March (Asia/Shanghai date); later is late."""
    return filed_on_local > filing_deadline(year)


def missing_sections(*, management_class: str, content: Mapping[str, Any], line_counts: Mapping[str, int]) -> list[str]:
    """What a plan must hold before it may be filed (weifei's reading of HJ 1259 5.3–5.5):

    - A.1 always, with the unit's name and 统一社会信用代码;
    - A.2 for 重点 units: at least one facility (5.4: the facility codes the other tables cite);
    - A.3 at least one waste line (a plan without waste has nothing to manage);
    - where the waste goes: at least one A.5 (own utilization/disposal) or A.7 (transfer) line.
    A.4 and A.6 may be empty: a unit without storage or without reduction measures says so by
    leaving the table empty.
    """
    missing = []
    a1 = content.get("A1") or {}
    if not a1.get("name") or not a1.get("credit_code"):
        missing.append("A1")
    if management_class == "key" and not (content.get("A2") or {}).get("facilities"):
        missing.append("A2")
    if not line_counts.get("A3"):
        missing.append("A3")
    destinations = [s for s in ("A5", "A7") if section_allowed(management_class, s)]
    if not any(line_counts.get(s) for s in destinations):
        missing.append("/".join(destinations))
    return missing


@dataclass(frozen=True)
class SitePlanFacts:
    site_id: int
    site_name: str
    status: str  # the site's status: active / suspended / closed
    has_filed_plan: bool  # a plan for the year that is filed (or accepted, or returned after filing)


def plan_missing(facts: SitePlanFacts, *, year: int, today: dt.date) -> Finding | None:
    """固废法 第七十八条 and HJ 1259 5.2.2: each production site files its plan before 31 March;
    from 1 April a site in operation without a filed plan is a violation
    (固废法 第一百一十二条(二): 未按照国家有关规定制定危险废物管理计划或者申报危险废物有关资料).
    Closed sites owe no plan."""
    if facts.status == "closed" or facts.has_filed_plan:
        return None
    if today <= filing_deadline(year):
        return None
    return Finding(
        rule="plan_missing",
        message=f"{facts.site_name} 截至 {today} 未备案 {year} 年度危险废物管理计划",
        source="固废法 第一百一十二条(二)；HJ 1259—2022 5.2.2",
    )


def filing_number(region_code: str, year: int, serial: int) -> str:
    """``220102-2026-000123``: the site's region code (220000 without one), year, 6-digit serial."""
    return f"{region_code}-{year}-{serial:06d}"


LINE_FIELDS = (
    "waste_code",
    "waste_name",
    "tonnes",
    "facility_code",
    "method_code",
    "measures",
    "transfer_type",
    "receiver_type",
    "receiver_id",
    "receiver_name",
    "licence_number",
)


def _key(line: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        line["section"],
        line["waste_code"],
        line.get("facility_code", ""),
        line.get("receiver_id"),
        line.get("transfer_type", ""),
        line.get("method_code", ""),
    )


def lines_diff(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What changed between two versions' lines: ``added`` / ``removed`` / ``changed`` entries.

    A line is the same line across versions when its section, waste code, facility, receiver,
    transfer type and method agree; other columns (tonnes, names, measures) are compared."""
    before = {_key(x): x for x in old}
    after = {_key(x): x for x in new}
    diff: list[dict[str, Any]] = []
    for key, line in after.items():
        if key not in before:
            diff.append({"change": "added", "section": key[0], "waste_code": key[1], "after": dict(line)})
            continue
        fields = {
            f: {"before": before[key].get(f), "after": line.get(f)}
            for f in LINE_FIELDS
            if str(before[key].get(f) or "") != str(line.get(f) or "")
        }
        if fields:
            diff.append({"change": "changed", "section": key[0], "waste_code": key[1], "fields": fields})
    for key, line in before.items():
        if key not in after:
            diff.append({"change": "removed", "section": key[0], "waste_code": key[1], "before": dict(line)})
    diff.sort(key=lambda d: (d["section"], d["waste_code"], d["change"]))
    return diff
