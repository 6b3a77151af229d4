"""Periodic storage sweep (schedule it with beat, e.g. hourly: medical waste limits are in hours)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="weifei.plans.tasks_stock.stock_ageing_sweep")
def stock_ageing_sweep() -> dict[str, int]:
    """Raise/resolve the storage findings of every site (``stock.stock_ageing_sweep``)."""
    from weifei.core.actors import SYSTEM

    from .stock import stock_ageing_sweep as sweep

    return sweep(actor=SYSTEM)
