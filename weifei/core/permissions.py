"""Small checks services use before they write."""

from __future__ import annotations

from .actors import Actor
from .errors import PermissionDenied


def require_kind(actor: Actor, *kinds: str, action: str) -> None:
    if actor.kind not in kinds:
        raise PermissionDenied(f"当前身份（{actor.label or actor.kind}）无权{action}")
    if actor.read_only:
        raise PermissionDenied(f"只读账户（{actor.label}）不能{action}")


def require_enterprise_member(actor: Actor, enterprise_id: int, *, action: str) -> None:
    if actor.kind == "system":
        return
    if actor.kind != "enterprise" or enterprise_id not in actor.enterprise_ids:
        raise PermissionDenied(f"只有本单位成员可以{action}")
