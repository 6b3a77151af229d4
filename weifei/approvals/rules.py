"""Pure rules of the approval procedure: step timers, the flow after each outcome, validity."""

from __future__ import annotations

import calendar
import datetime as dt
import re

ORIGIN_PROVINCE = "220000"  # Jilin: the province-level regulator acts on every step
PROVINCE_RE = re.compile(r"^\d{2}0000$")

# Working days each step allows (转移办法): 第二十三条 5 (completeness, deemed accepted if silent),
# 第二十四条 5 (preliminary review), 第二十五条 10 (receiving province), 第二十六条 5 (decision).
# The simplified step (whitelist, Seed 十三) is weifei's own choice: both checks in 3 working days.
WORKING_DAYS = {
    "completeness": 5,
    "preliminary": 5,
    "simplified": 3,
    "receiving": 10,
    "decision": 5,
}
SOURCES = {
    "completeness": "转移办法 第二十三条",
    "preliminary": "转移办法 第二十四条",
    "simplified": "吉林省改革方案（十三）白名单简化程序（本平台规定）",
    "receiving": "转移办法 第二十五条",
    "decision": "转移办法 第二十六条",
}
INCOMING_WORKING_DAYS = 10  # 第二十五条: Jilin as the receiving province replies within 10 working days
VALIDITY_MONTHS = 12  # 第二十七条

# Which outcome an actor may give on which step, and where the application goes next:
# (step kind, outcome) -> (next step kind or None, application status).
FLOW: dict[tuple[str, str], tuple[str | None, str]] = {
    ("completeness", "accepted"): ("preliminary", "reviewing"),
    ("completeness", "returned"): (None, "returned"),
    ("preliminary", "agreed"): ("receiving", "requested"),
    ("preliminary", "disagreed"): (None, "refused"),
    ("simplified", "agreed"): ("receiving", "requested"),
    ("simplified", "disagreed"): (None, "refused"),
    ("simplified", "returned"): (None, "returned"),
    ("receiving", "agreed"): ("decision", "replied"),
    ("receiving", "disagreed"): ("decision", "replied"),
    ("decision", "approved"): (None, "approved"),
    ("decision", "refused"): (None, "refused"),
}
# Where the consignor may still withdraw (before the decision).
WITHDRAWABLE = ("draft", "submitted", "returned", "reviewing", "requested", "replied")


def is_overdue(due_on: dt.date, today: dt.date) -> bool:
    """A step is overdue the day after its last working day."""
    return today > due_on


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clipped to the month's end (2026-01-31 + 1 → 2026-02-28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def validity(
    *, decided_on: dt.date, period_from: dt.date, period_to: dt.date, licence_valid_to: dt.date
) -> tuple[dt.date, dt.date]:
    """第二十七条: 12 months from the decision, and no longer than the requested period or the
    receiver licence's remaining validity. Transfers start no earlier than the requested period.
    The result may be empty (``from > to``); the caller refuses such a decision."""
    twelve_months = add_months(decided_on, VALIDITY_MONTHS) - dt.timedelta(days=1)
    start = max(decided_on, period_from)
    end = min(twelve_months, period_to, licence_valid_to)
    return start, end
