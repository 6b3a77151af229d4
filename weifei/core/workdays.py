"""Statutory working days of mainland China (工作日), for every legal deadline.

The national schedule (holidays and make-up working days, 调休) comes from the maintained
``chinesecalendar`` package, which follows the State Council's annual notices. Local
exceptions live in ``CalendarOverride``. Years the package does not yet cover fall back to
Monday–Friday plus overrides, and ``is_authoritative(year)`` says so, so that callers and
pages can warn instead of silently mis-computing a deadline.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import lru_cache

import chinese_calendar

from .errors import ApplicationError

MAX_SPAN_DAYS = 3660  # deadlines are at most a few years out; refuse absurd inputs


# The overrides change a few times a year; each process keeps them for OVERRIDES_TTL seconds, and a
# change saved in this process is seen at once (signals in apps.py call ``invalidate``).
OVERRIDES_TTL = 60.0
_cached: tuple[float, dict[dt.date, bool]] | None = None


def invalidate() -> None:
    global _cached
    _cached = None


def _overrides() -> dict[dt.date, bool]:
    global _cached
    from .models import CalendarOverride

    now = time.monotonic()
    found = _cached
    if found is not None and found[0] > now:
        return found[1]
    rows = dict(CalendarOverride.objects.values_list("date", "is_workday"))
    _cached = (now + OVERRIDES_TTL, rows)
    return rows


@lru_cache(maxsize=64)
def is_authoritative(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _national_is_workday(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


class WorkCalendar:
    """A calendar snapshot: national schedule plus the overrides read once at creation."""

    def __init__(self, overrides: dict[dt.date, bool] | None = None) -> None:
        self.overrides = _overrides() if overrides is None else dict(overrides)

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return _national_is_workday(day)

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The date that is ``n`` working days after ``start`` (``start`` itself not counted).

        ``n == 0`` returns ``start`` rolled forward to a working day. Negative ``n`` counts back.
        """
        if abs(n) > MAX_SPAN_DAYS:
            raise ApplicationError(f"工作日数 {n} 超出允许范围（±{MAX_SPAN_DAYS}）", field="n")
        day = start
        if n == 0:
            while not self.is_workday(day):
                day += dt.timedelta(days=1)
            return day
        step = dt.timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Working days ``d`` with ``a < d <= b`` (negative when ``b`` is before ``a``)."""
        if abs((b - a).days) > MAX_SPAN_DAYS:
            raise ApplicationError("日期区间过长", field="b")
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        day = a
        while day < b:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count


def add_working_days(start: dt.date, n: int) -> dt.date:
    return WorkCalendar().add_working_days(start, n)


def working_days_between(a: dt.date, b: dt.date) -> int:
    return WorkCalendar().working_days_between(a, b)


def is_workday(day: dt.date) -> bool:
    return WorkCalendar().is_workday(day)
