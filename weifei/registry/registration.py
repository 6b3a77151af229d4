"""Enterprise self-registration: a person creates an account and registers a unit, which waits
in the supervising regulator's verification queue; the person becomes the unit's admin."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from weifei.accounts.models import Membership
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.core.events import event_record

from .models import Enterprise
from .services import enterprise_create

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.-@")


@transaction.atomic
def enterprise_self_register(
    *,
    username: str,
    password: str,
    full_name: str,
    credit_code: str,
    name: str,
    region_key: str,
    roles: tuple[str, ...],
    address: str = "",
    legal_representative: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    industry_code: str = "",
    industry_name: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> tuple[User, Enterprise]:
    username = (username or "").strip().lower()
    if not 3 <= len(username) <= 50 or set(username) - USERNAME_CHARS:
        raise ApplicationError(
            "用户名应为 3–50 个字符，只能包含小写字母、数字和 _ . - @", code="username_invalid", field="username"
        )
    if User.objects.filter(username=username).exists():
        raise ApplicationError(f"用户名 {username} 已被使用", code="duplicate_username", field="username")
    full_name = (full_name or "").strip()
    if not full_name:
        raise ApplicationError("联系人姓名不能为空", code="full_name_required", field="full_name")
    user = User(username=username, first_name=full_name[:150], email=contact_email.strip())
    from weifei.accounts.services import password_validate  # accounts imports the registry

    password_validate(password, user=user)
    user.set_password(password)
    user.save()
    registrant = Actor(kind="enterprise", user_id=user.pk, label=full_name)
    enterprise = enterprise_create(
        actor=registrant,
        credit_code=credit_code,
        name=name,
        region_key=region_key,
        roles=roles,
        address=address,
        legal_representative=legal_representative,
        contact_phone=contact_phone,
        contact_name=full_name,
        contact_email=contact_email,
        industry_code=industry_code,
        industry_name=industry_name,
        latitude=latitude,
        longitude=longitude,
        self_registration=True,
    )
    membership = Membership.objects.create(user=user, enterprise=enterprise, role=Membership.Role.ADMIN)
    event_record(
        subject=membership,
        actor=registrant,
        kind="accounts.member_added",
        organisation=enterprise,
        after={"username": username, "role": "admin", "via": "self_registration"},
    )
    return user, enterprise
