"""Periodic supervision sweep of declarations and plans (the lead wires the beat schedule; daily
after midnight Asia/Shanghai is enough — due dates are whole days)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="weifei.plans.tasks_declarations.declarations_sweep")
def declarations_sweep() -> dict[str, int]:
    from .declarations import declarations_sweep as sweep

    return sweep()
