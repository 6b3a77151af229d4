"""Periodic manifest supervision (wired in CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="weifei.manifests.tasks.manifests_sweep")
def manifests_sweep() -> dict[str, int]:
    from weifei.core.actors import SYSTEM

    from .services import manifests_sweep as sweep

    return sweep(actor=SYSTEM)
