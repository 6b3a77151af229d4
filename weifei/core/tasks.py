"""Core tasks. ``ping`` lets health checks and tests prove a worker consumes the broker;
``chain_root`` commits to every event stream head (schedule it, e.g. hourly, with beat)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="weifei.core.tasks.ping")
def ping(text: str = "") -> str:
    return f"pong {text}".strip()


@shared_task(name="weifei.core.tasks.chain_root")
def chain_root() -> str:
    from .chain import chain_root_create

    root, _created = chain_root_create()
    return root.root_hash
