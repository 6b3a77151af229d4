"""Periodic approvals sweep (schedule it with beat, e.g. hourly; deadlines are whole days, so it is
idempotent and cheap to run often)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="weifei.approvals.tasks.approvals_sweep")
def approvals_sweep() -> dict[str, int]:
    """Deem silent completeness checks accepted and raise findings for overdue steps (``services.approvals_sweep``)."""
    from .services import approvals_sweep as sweep

    return sweep()
