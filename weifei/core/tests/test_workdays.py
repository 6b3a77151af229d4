"""Working days follow the State Council's published schedules (国务院办公厅关于部分节假日安排的通知)
for 2024, 2025 and 2026, including make-up working days (调休) on weekends."""

from __future__ import annotations

import datetime as dt

import pytest

from weifei.core.errors import ApplicationError
from weifei.core.models import CalendarOverride
from weifei.core.workdays import WorkCalendar, add_working_days, is_authoritative, working_days_between

D = dt.date
CAL = WorkCalendar(overrides={})

# Holidays on weekdays (rest days) from the published notices.
HOLIDAYS = [
    D(2024, 1, 1),
    D(2024, 2, 12),
    D(2024, 2, 16),
    D(2024, 4, 4),
    D(2024, 4, 5),
    D(2024, 5, 1),
    D(2024, 5, 3),
    D(2024, 6, 10),
    D(2024, 9, 16),
    D(2024, 9, 17),
    D(2024, 10, 1),
    D(2024, 10, 7),
    D(2025, 1, 1),
    D(2025, 1, 28),
    D(2025, 2, 4),
    D(2025, 4, 4),
    D(2025, 5, 1),
    D(2025, 5, 5),
    D(2025, 6, 2),
    D(2025, 10, 1),
    D(2025, 10, 6),
    D(2025, 10, 8),
    D(2026, 1, 1),
    D(2026, 1, 2),
    D(2026, 2, 16),
    D(2026, 2, 20),
    D(2026, 2, 23),
    D(2026, 4, 6),
    D(2026, 5, 1),
    D(2026, 5, 5),
    D(2026, 6, 19),
    D(2026, 9, 25),
    D(2026, 10, 1),
    D(2026, 10, 7),
]
# Make-up working days (调休上班) that fall on a Saturday or Sunday.
MAKE_UP_WORKDAYS = [
    D(2024, 2, 4),
    D(2024, 2, 18),
    D(2024, 4, 7),
    D(2024, 4, 28),
    D(2024, 5, 11),
    D(2024, 9, 14),
    D(2024, 9, 29),
    D(2024, 10, 12),
    D(2025, 1, 26),
    D(2025, 2, 8),
    D(2025, 4, 27),
    D(2025, 9, 28),
    D(2025, 10, 11),
    D(2026, 1, 4),
    D(2026, 2, 14),
    D(2026, 2, 28),
    D(2026, 5, 9),
    D(2026, 9, 20),
    D(2026, 10, 10),
]


@pytest.mark.parametrize("day", HOLIDAYS)
def test_statutory_holidays_are_rest_days(day: dt.date) -> None:
    assert day.weekday() < 5, "the fixture lists weekday holidays only"
    assert not CAL.is_workday(day)


@pytest.mark.parametrize("day", MAKE_UP_WORKDAYS)
def test_make_up_working_days_on_weekends_are_working_days(day: dt.date) -> None:
    assert day.weekday() >= 5, "make-up days in the fixture fall on weekends"
    assert CAL.is_workday(day)


def test_years_2024_to_2026_are_covered_by_the_library() -> None:
    assert all(is_authoritative(y) for y in (2024, 2025, 2026))


def test_add_working_days_across_spring_festival_2026() -> None:
    # Fri 13 Feb 2026 + 1 → Sat 14 Feb (make-up day); + 2 → Tue 24 Feb (after 15–23 Feb holiday).
    assert CAL.add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert CAL.add_working_days(D(2026, 2, 13), 2) == D(2026, 2, 24)
    # 转移办法 第十八条: 5 working days to confirm receipt; accepted on 30 Sep 2025 (Tue).
    # 1–8 Oct off; 9, 10, 11 (Sat, make-up), 13, 14 Oct.
    assert CAL.add_working_days(D(2025, 9, 30), 5) == D(2025, 10, 14)


def test_add_working_days_zero_and_negative() -> None:
    assert CAL.add_working_days(D(2026, 10, 1), 0) == D(2026, 10, 8)
    assert CAL.add_working_days(D(2026, 10, 9), 0) == D(2026, 10, 9)
    assert CAL.add_working_days(D(2026, 10, 8), -1) == D(2026, 9, 30)


def test_working_days_between_counts_the_half_open_interval() -> None:
    assert CAL.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2
    assert CAL.working_days_between(D(2026, 2, 24), D(2026, 2, 13)) == -2
    assert CAL.working_days_between(D(2025, 1, 1), D(2025, 1, 1)) == 0
    # 2024: 366 days, 251 working days (the published total).
    assert CAL.working_days_between(D(2023, 12, 31), D(2024, 12, 31)) == 251


def test_absurd_spans_are_refused() -> None:
    with pytest.raises(ApplicationError):
        CAL.add_working_days(D(2026, 1, 1), 100000)
    with pytest.raises(ApplicationError):
        CAL.working_days_between(D(1900, 1, 1), D(2026, 1, 1))


@pytest.mark.django_db
def test_local_overrides_win_over_the_national_schedule() -> None:
    CalendarOverride.objects.create(date=D(2026, 11, 30), is_workday=False, reason="测试：临时停工")
    CalendarOverride.objects.create(date=D(2026, 11, 29), is_workday=True, reason="测试：周日补班")
    assert not WorkCalendar().is_workday(D(2026, 11, 30))
    assert WorkCalendar().is_workday(D(2026, 11, 29))
    assert add_working_days(D(2026, 11, 27), 1) == D(2026, 11, 29)
    assert working_days_between(D(2026, 11, 27), D(2026, 12, 1)) == 2


def test_years_the_library_does_not_know_fall_back_to_weekdays() -> None:
    assert not is_authoritative(2099)
    assert CAL.is_workday(D(2099, 1, 2))  # a Friday
    assert not CAL.is_workday(D(2099, 1, 3))  # a Saturday
