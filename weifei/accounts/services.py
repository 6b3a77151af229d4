"""Account writes: users bound to an enterprise or to a regulator's jurisdiction."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from weifei.catalog.models import Region
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.core.events import event_record
from weifei.core.permissions import require_kind
from weifei.registry.models import Enterprise

from .models import Membership, RegulatorAssignment


def _new_user(username: str, password: str, full_name: str) -> User:
    if User.objects.filter(username=username).exists():
        raise ApplicationError(f"用户名 {username} 已被使用", code="duplicate_username", field="username")
    user = User(username=username, first_name=full_name[:150])
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def regulator_account_create(
    *,
    actor: Actor,
    username: str,
    password: str,
    full_name: str,
    region_key: str,
    department: str,
    role: str = RegulatorAssignment.Role.REGULATOR,
) -> RegulatorAssignment:
    require_kind(actor, "system", action="创建监管账户")
    region = Region.objects.filter(key=region_key).first()
    if region is None:
        raise ApplicationError(f"行政区域 {region_key} 不存在", code="region_not_found", field="region")
    if region.level == Region.Level.AREA:
        raise ApplicationError("监管账户不能绑定到管委会辖区，应绑定到管委会", code="region_level", field="region")
    user = _new_user(username, password, full_name)
    assignment = RegulatorAssignment.objects.create(user=user, region=region, department=department, role=role)
    event_record(
        subject=assignment,
        actor=actor,
        kind="accounts.regulator_created",
        after={"username": username, "region": region.key, "role": role},
    )
    return assignment


@transaction.atomic
def enterprise_user_create(
    *, actor: Actor, enterprise: Enterprise, username: str, password: str, full_name: str, role: str
) -> Membership:
    require_kind(actor, "system", action="创建单位账户")
    if role not in Membership.Role.values:
        raise ApplicationError(f"成员角色 {role!r} 无效", code="role_invalid", field="role")
    user = _new_user(username, password, full_name)
    membership = Membership.objects.create(user=user, enterprise=enterprise, role=role)
    event_record(
        subject=membership,
        actor=actor,
        kind="accounts.member_added",
        after={"username": username, "enterprise": enterprise.credit_code, "role": role},
    )
    return membership
