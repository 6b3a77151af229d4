"""Housekeeping: idempotency records after 24 hours, stale login-failure counts."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="weifei.accounts.tasks.purge_expired")
def purge_expired() -> dict[str, int]:
    from .idempotency import idempotency_purge
    from .services import login_throttles_purge

    return {"idempotency_records": idempotency_purge(), "login_throttles": login_throttles_purge()}
