"""API of this capability; mounted in `weifei/api.py`."""

from __future__ import annotations

from ninja import Router

from weifei.accounts.auth import ACTOR_AUTH

router = Router(tags=["labels"], auth=ACTOR_AUTH)
