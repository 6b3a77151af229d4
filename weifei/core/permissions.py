"""Small checks services use before they write."""

from __future__ import annotations

from .actors import Actor
from .errors import PermissionDenied


def require_kind(actor: Actor, *kinds: str, action: str) -> None:
    if actor.kind not in kinds:
        raise PermissionDenied(f"当前身份（{actor.label or actor.kind}）无权{action}")
    if actor.read_only:
        raise PermissionDenied(f"只读账户（{actor.label}）不能{action}")


WRITING_ROLES = ("admin", "member")


def require_enterprise_member(
    actor: Actor, enterprise_id: int, *, action: str, roles: tuple[str, ...] = WRITING_ROLES
) -> None:
    """Only members of the enterprise with one of ``roles`` (admin and member write; drivers and
    readers do not) — or the system."""
    if actor.kind == "system":
        return
    role = actor.role_in(enterprise_id) if actor.kind == "enterprise" else None
    if role is None:
        raise PermissionDenied(f"只有本单位成员可以{action}")
    if actor.read_only:
        raise PermissionDenied(f"只读凭据不能{action}")
    if role not in roles:
        raise PermissionDenied(f"本单位{ROLE_NAMES.get(role, role)}账户不能{action}")


ROLE_NAMES = {"admin": "管理员", "member": "成员", "driver": "驾驶员", "reader": "只读"}


def require_regulator_over(actor: Actor, region_key: str, *, action: str) -> None:
    """A (writing) regulator whose jurisdiction contains ``region_key`` — or the system."""
    if actor.kind == "system":
        return
    if actor.kind != "regulator":
        raise PermissionDenied(f"只有生态环境部门可以{action}")
    if actor.read_only:
        raise PermissionDenied(f"只读账户（{actor.label}）不能{action}")
    if region_key not in actor.region_codes:
        raise PermissionDenied(f"该单位不在本部门辖区内，不能{action}")
