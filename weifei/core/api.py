"""Shared-service endpoints: working-day calendar and identifier validation."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from weifei.core.identifiers import validate_credit_code
from weifei.core.workdays import WorkCalendar, is_authoritative

router = Router(tags=["calendar", "identifiers"])


class AddWorkingDaysOut(Schema):
    start: dt.date
    n: int
    result: dt.date
    authoritative: bool


class BetweenOut(Schema):
    a: dt.date
    b: dt.date
    working_days: int
    authoritative: bool


class CreditCodeIn(Schema):
    value: str


class CreditCodeOut(Schema):
    value: str
    valid: bool


@router.get("/calendar/add-working-days", response=AddWorkingDaysOut, tags=["calendar"])
def add_working_days(request: HttpRequest, start: dt.date, n: int) -> dict[str, object]:
    """The date ``n`` statutory working days after ``start`` (``start`` not counted)."""
    result = WorkCalendar().add_working_days(start, n)
    return {
        "start": start,
        "n": n,
        "result": result,
        "authoritative": is_authoritative(start.year) and is_authoritative(result.year),
    }


@router.get("/calendar/working-days-between", response=BetweenOut, tags=["calendar"])
def working_days_between(request: HttpRequest, a: dt.date, b: dt.date) -> dict[str, object]:
    """Working days d with a < d <= b."""
    return {
        "a": a,
        "b": b,
        "working_days": WorkCalendar().working_days_between(a, b),
        "authoritative": is_authoritative(a.year) and is_authoritative(b.year),
    }


@router.post("/identifiers/credit-code", response=CreditCodeOut, tags=["identifiers"])
def credit_code(request: HttpRequest, payload: CreditCodeIn) -> dict[str, object]:
    """Validate a 统一社会信用代码; an invalid one answers 400 naming the rule."""
    return {"value": validate_credit_code(payload.value, field="value"), "valid": True}
