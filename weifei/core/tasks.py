"""Core tasks. ``ping`` lets health checks and tests prove a worker consumes the broker."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="weifei.core.tasks.ping")
def ping(text: str = "") -> str:
    return f"pong {text}".strip()
