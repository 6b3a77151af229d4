"""Account writes: users bound to an enterprise or to a regulator's jurisdiction, members and
invitations, the login second factor and lockout, and API tokens."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import string
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from weifei.catalog.models import Region
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.events import event_record
from weifei.core.permissions import ROLE_NAMES, require_enterprise_member, require_kind
from weifei.registry.models import Enterprise
from weifei.registry.registration import USERNAME_CHARS
from weifei.registry.selectors import enterprise_get

from . import totp
from .models import ApiToken, Invitation, LoginThrottle, Membership, RegulatorAssignment, TotpDevice
from .sealing import seal, unseal
from .selectors import (
    actor_for,
    api_token_hash,
    invitation_get,
    invitation_token_hash,
    login_locked_until,
    membership_get,
)


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
    if not region.in_home_province:
        # Neighbouring provinces' regions exist for their units (cross-province receivers); their
        # authorities work on their own platforms and exchange messages (docs/approvals.md).
        raise ApplicationError(
            f"{region.name}不在本省：监管账户只能绑定到吉林省内的区域", code="region_out_of_province", field="region"
        )
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


# ---------------------------------------------------------------------------------------
# Members and invitations: an enterprise's administrators manage its members
# ---------------------------------------------------------------------------------------

INVITATION_DAYS_DEFAULT = 7
INVITATION_DAYS_MAX = 30
MAX_PENDING_INVITATIONS = 100
_ROLE_RULE = "应为 admin（管理员）、member（成员）、driver（驾驶员）或 reader（只读）"


def _role_checked(role: str) -> str:
    if role not in Membership.Role.values:
        raise ApplicationError(f"成员角色 {role!r} 无效：{_ROLE_RULE}", code="role_invalid", field="role")
    return role


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment, SHANGHAI):%Y-%m-%d %H:%M}（北京时间）"


def _require_admin_of(actor: Actor, enterprise_id: int, *, action: str) -> Enterprise:
    """The unit, for one of its administrators (or the system). Those who cannot see the unit
    get the same 404 as for a unit that does not exist; those who can see it but do not
    administer it (its other members, regulators) get 403."""
    if actor.kind == "system":
        enterprise = Enterprise.objects.filter(id=enterprise_id).first()
        if enterprise is None:
            raise NotFound("单位不存在", field="enterprise")
        return enterprise
    enterprise = enterprise_get(actor=actor, enterprise_id=enterprise_id)
    require_enterprise_member(actor, enterprise.id, action=action, roles=(Membership.Role.ADMIN,))
    return enterprise


@transaction.atomic
def invitation_create(
    *,
    actor: Actor,
    enterprise_id: int,
    role: str,
    email_or_username_hint: str = "",
    expires_in_days: int = INVITATION_DAYS_DEFAULT,
) -> tuple[Invitation, str]:
    """A one-time invitation to join the unit with ``role``, and its token — which goes into the
    link, is shown once and is stored nowhere (only its SHA-256)."""
    enterprise = _require_admin_of(actor, enterprise_id, action="邀请成员")
    _role_checked(role)
    hint = (email_or_username_hint or "").strip()
    if len(hint) > 150:
        raise ApplicationError(
            "邀请对象（邮箱或用户名）不能超过 150 个字符", code="hint_too_long", field="email_or_username_hint"
        )
    if (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not (1 <= expires_in_days <= INVITATION_DAYS_MAX)
    ):
        raise ApplicationError(
            f"邀请有效期应为 1 到 {INVITATION_DAYS_MAX} 天", code="expires_in_days_invalid", field="expires_in_days"
        )
    now = timezone.now()
    pending = Invitation.objects.filter(
        enterprise=enterprise, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    )
    if pending.count() >= MAX_PENDING_INVITATIONS:
        raise ApplicationError(
            f"每个单位最多 {MAX_PENDING_INVITATIONS} 个待接受的邀请，请先撤销不用的邀请", code="too_many_invitations"
        )
    plaintext = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        enterprise=enterprise,
        role=role,
        hint=hint,
        token_hash=invitation_token_hash(plaintext),
        created_by_id=actor.user_id,
        created_at=now,
        expires_at=now + dt.timedelta(days=expires_in_days),
    )
    event_record(
        subject=invitation,
        actor=actor,
        kind="accounts.invitation_created",
        organisation=enterprise,
        after={"role": role, "hint": hint, "expires_at": invitation.expires_at.isoformat()},
    )
    return invitation, plaintext


def invitation_refusal(invitation: Invitation | None, *, user: Any = None) -> ApplicationError | None:
    """Why this invitation cannot be used (by ``user``, when one is logged in), or None.
    The accept services raise it; the invitation page shows it before anybody fills a form."""
    if invitation is None:
        return NotFound(
            "邀请链接无效：请核对链接，或向单位管理员索取新的邀请", code="invitation_invalid", field="token"
        )
    if invitation.accepted_at is not None:
        return ApplicationError("该邀请已被使用：每个邀请只能使用一次", code="invitation_used", field="token")
    if invitation.revoked_at is not None:
        return ApplicationError("该邀请已被单位管理员撤销", code="invitation_revoked", field="token")
    if invitation.expires_at <= timezone.now():
        return ApplicationError(
            f"该邀请已于 {_local(invitation.expires_at)}过期，请向单位管理员索取新的邀请",
            code="invitation_expired",
            field="token",
        )
    if user is not None and getattr(user, "is_authenticated", False):
        if RegulatorAssignment.objects.filter(user_id=user.pk).exists():
            # A regulator's actor ignores memberships: the account would look joined and not be.
            return PermissionDenied("监管部门账户不能加入单位，请使用单位账户接受邀请", code="regulator_cannot_join")
        if Membership.objects.filter(user_id=user.pk, enterprise_id=invitation.enterprise_id).exists():
            return ApplicationError(f"你已是{invitation.enterprise.name}的成员", code="already_member")
    return None


def _invitation_locked(token: str) -> Invitation | None:
    """The invitation behind ``token``, locked so that two people cannot both use it."""
    if not isinstance(token, str) or not token:
        return None
    return Invitation.objects.select_for_update().filter(token_hash=invitation_token_hash(token.strip())).first()


def _invitation_use(invitation: Invitation, *, user: User, actor: Actor, via: str) -> Membership:
    enterprise = invitation.enterprise
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=user, enterprise=enterprise, role=invitation.role)
    except IntegrityError:  # joined by another way at the same moment
        raise ApplicationError(f"你已是{enterprise.name}的成员", code="already_member") from None
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    event_record(
        subject=invitation,
        actor=actor,
        kind="accounts.invitation_accepted",
        organisation=enterprise,
        before={"status": Invitation.Status.PENDING},
        after={"status": Invitation.Status.ACCEPTED, "username": user.get_username()},
    )
    event_record(
        subject=membership,
        actor=actor,
        kind="accounts.member_added",
        organisation=enterprise,
        after={"username": user.get_username(), "role": invitation.role, "via": via, "invitation_id": invitation.id},
    )
    return membership


@transaction.atomic
def invitation_accept(*, token: str, user: Any) -> Membership:
    """A logged-in person joins the unit with the invited role."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied("请先登录，再接受邀请", code="login_required")
    invitation = _invitation_locked(token)
    refusal = invitation_refusal(invitation, user=user)
    if refusal is not None:
        raise refusal
    assert invitation is not None
    return _invitation_use(invitation, user=user, actor=actor_for(user), via="invitation")


def _password_rule(error: ValidationError) -> str:
    """One validator's complaint, in Chinese by its code: Django 5.2's zh_Hans catalogue lags
    behind some of its messages (the minimum length comes out in English)."""
    params = error.params or {}
    if error.code == "password_too_short":
        return f"至少需要 {params.get('min_length', 8)} 个字符"
    if error.code == "password_too_common":
        return "过于常见，容易被猜中"
    if error.code == "password_entirely_numeric":
        return "不能全是数字"
    if error.code == "password_too_similar":
        return "与用户名或姓名过于相似"
    return " ".join(error.messages)


def password_validate(password: str, *, user: User) -> None:
    """Django's password validators (settings.AUTH_PASSWORD_VALIDATORS), refused with one
    message naming the field and every rule broken."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        rules = "；".join(_password_rule(e) for e in exc.error_list)
        raise ApplicationError(f"密码不符合要求：{rules}", code="password_weak", field="password") from None


@transaction.atomic
def invitation_accept_new_user(*, token: str, username: str, password: str, full_name: str) -> Membership:
    """Somebody without an account creates one through the invitation and joins the unit.
    The token is checked first; nothing is kept when anything is refused."""
    invitation = _invitation_locked(token)
    refusal = invitation_refusal(invitation)
    if refusal is not None:
        raise refusal
    assert invitation is not None
    username = (username or "").strip().lower()
    if not 3 <= len(username) <= 50 or set(username) - USERNAME_CHARS:
        raise ApplicationError(
            "用户名应为 3–50 个字符，只能包含小写字母、数字和 _ . - @", code="username_invalid", field="username"
        )
    if User.objects.filter(username=username).exists():
        raise ApplicationError(f"用户名 {username} 已被使用", code="duplicate_username", field="username")
    full_name = (full_name or "").strip()
    if not full_name:
        raise ApplicationError("姓名不能为空", code="full_name_required", field="full_name")
    if len(full_name) > 150:
        raise ApplicationError("姓名不能超过 150 个字符", code="full_name_too_long", field="full_name")
    user = User(username=username, first_name=full_name)
    password_validate(password, user=user)
    user.set_password(password)
    user.save()
    newcomer = Actor(kind="enterprise", user_id=user.pk, label=full_name)
    event_record(
        subject=user,
        actor=newcomer,
        kind="accounts.user_created",
        organisation=invitation.enterprise,
        after={"username": username, "via": "invitation", "invitation_id": invitation.id},
    )
    return _invitation_use(invitation, user=user, actor=newcomer, via="invitation_new_user")


@transaction.atomic
def invitation_revoke(*, actor: Actor, invitation_id: int) -> Invitation:
    """An administrator withdraws an invitation not yet used. Revoking it again changes nothing."""
    found = invitation_get(actor=actor, invitation_id=invitation_id)
    enterprise = _require_admin_of(actor, found.enterprise_id, action="撤销邀请")
    invitation = Invitation.objects.select_for_update().get(id=found.id)
    if invitation.accepted_at is not None:
        raise ApplicationError("该邀请已被接受，不能撤销；如需移出该成员，请在成员列表中操作", code="invitation_used")
    if invitation.revoked_at is not None:
        return invitation
    before = invitation.status
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    event_record(
        subject=invitation,
        actor=actor,
        kind="accounts.invitation_revoked",
        organisation=enterprise,
        before={"status": before},
        after={"status": Invitation.Status.REVOKED},
    )
    return invitation


def _membership_locked(*, actor: Actor, membership_id: int, action: str) -> tuple[Membership, Enterprise]:
    """The membership, for an administrator of its unit, with the unit's row locked: changes
    to one unit's members take turns, so that two admins demoting each other at the same
    moment cannot leave the unit without one."""
    if actor.kind == "system":
        enterprise_id = Membership.objects.filter(id=membership_id).values_list("enterprise_id", flat=True).first()
        if enterprise_id is None:
            raise NotFound("成员不存在", code="membership_not_found")
    else:
        enterprise_id = membership_get(actor=actor, membership_id=membership_id).enterprise_id
    enterprise = _require_admin_of(actor, enterprise_id, action=action)
    Enterprise.objects.select_for_update().filter(id=enterprise.id).values_list("id", flat=True).first()
    # The actor's roles were read when its request began; another admin may have demoted it since.
    still_admin = Membership.objects.filter(
        user_id=actor.user_id or 0, enterprise_id=enterprise.id, role=Membership.Role.ADMIN
    ).exists()
    if actor.kind != "system" and not still_admin:
        raise PermissionDenied(f"你已不是本单位管理员，不能{action}")
    membership = Membership.objects.select_for_update().filter(id=membership_id).first()
    if membership is None:  # removed meanwhile
        raise NotFound("成员不存在", code="membership_not_found")
    return membership, enterprise


def _another_admin_remains(membership: Membership) -> bool:
    return (
        Membership.objects.filter(
            enterprise_id=membership.enterprise_id, role=Membership.Role.ADMIN, user__is_active=True
        )
        .exclude(id=membership.id)
        .exists()
    )


@transaction.atomic
def membership_change_role(*, actor: Actor, membership_id: int, role: str) -> Membership:
    """An administrator changes a member's role. The last (active) administrator cannot be
    demoted: a unit always keeps one who can manage it."""
    membership, enterprise = _membership_locked(actor=actor, membership_id=membership_id, action="调整成员角色")
    _role_checked(role)
    if membership.role == role:
        return membership
    username = membership.user.get_username()
    if membership.role == Membership.Role.ADMIN and not _another_admin_remains(membership):
        raise ApplicationError(
            f"{username} 是本单位唯一的管理员，不能改为{ROLE_NAMES[role]}：请先指定另一名管理员",
            code="last_admin",
            field="role",
        )
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    event_record(
        subject=membership,
        actor=actor,
        kind="accounts.member_role_changed",
        organisation=enterprise,
        before={"username": username, "role": before},
        after={"username": username, "role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: Actor, membership_id: int) -> None:
    """An administrator removes a member (itself too, when another administrator remains).
    The member's organisation API tokens for this unit are revoked with it."""
    membership, enterprise = _membership_locked(actor=actor, membership_id=membership_id, action="移出成员")
    username = membership.user.get_username()
    if membership.role == Membership.Role.ADMIN and not _another_admin_remains(membership):
        raise ApplicationError(f"{username} 是本单位唯一的管理员，不能移出：请先指定另一名管理员", code="last_admin")
    # Such a token already stops acting for the unit once the membership is gone (the actor is
    # narrowed to current memberships), but it would come back to life if the person were
    # invited again: revoke it for good. Personal tokens need nothing: they follow memberships.
    now = timezone.now()
    tokens = ApiToken.objects.select_for_update().filter(
        user_id=membership.user_id, organisation_id=enterprise.id, revoked_at__isnull=True
    )
    for token in tokens:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        event_record(
            subject=token,
            actor=actor,
            kind="accounts.api_token_revoked",
            organisation=enterprise,
            before={"revoked_at": None},
            after={"revoked_at": now.isoformat()},
            reason=f"{username} 已被移出单位",
        )
    # Recorded before the delete: the event names the row by its id.
    event_record(
        subject=membership,
        actor=actor,
        kind="accounts.member_removed",
        organisation=enterprise,
        before={"username": username, "role": membership.role},
    )
    membership.delete()


# ---------------------------------------------------------------------------------------
# Lockout: 5 consecutive failures (password or code) within 15 minutes lock for 15 minutes
# ---------------------------------------------------------------------------------------

LOCK_AFTER_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCK_DURATION = dt.timedelta(minutes=15)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Who an event names when nobody is logged in: the person at the login form.
LOGIN_ATTEMPT = Actor(kind="public", label="登录尝试")


class AccountLocked(ApplicationError):
    status = 403

    def __init__(self, locked_until: dt.datetime) -> None:
        local = timezone.localtime(locked_until, SHANGHAI)
        super().__init__(
            f"账户已锁定：连续 {LOCK_AFTER_FAILURES} 次登录失败。请于 {local:%Y-%m-%d %H:%M}（北京时间）之后再试。",
            code="account_locked",
        )
        self.locked_until = locked_until


def login_refuse_if_locked(*, username: str, now: dt.datetime | None = None) -> None:
    until = login_locked_until(username=username, now=now)
    if until is not None:
        raise AccountLocked(until)


@transaction.atomic
def login_failure_record(*, username: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """Count one failed password or code for ``username`` (whether or not such a user exists);
    returns the end of the lock when this failure locks the account."""
    now = now or timezone.now()
    throttle, _ = LoginThrottle.objects.select_for_update().get_or_create(username=username[:150])
    if throttle.locked_until is not None and throttle.locked_until > now:
        return throttle.locked_until  # already locked: attempts while locked do not extend it
    if throttle.window_started_at is None or now - throttle.window_started_at > FAILURE_WINDOW:
        throttle.failures, throttle.window_started_at = 0, now
    throttle.failures += 1
    throttle.locked_until = None
    if throttle.failures < LOCK_AFTER_FAILURES:
        throttle.save()
        return None
    throttle.locked_until = now + LOCK_DURATION
    throttle.failures, throttle.window_started_at = 0, None
    throttle.save()
    user = User.objects.filter(username=throttle.username).first()
    event_record(
        subject=user or throttle,
        actor=LOGIN_ATTEMPT,
        kind="accounts.login_locked",
        after={"username": throttle.username, "locked_until": throttle.locked_until.isoformat()},
        reason=f"连续 {LOCK_AFTER_FAILURES} 次登录失败",
    )
    return throttle.locked_until


@transaction.atomic
def login_succeeded(*, user: User, second_factor: str) -> None:
    """A complete login (password, and the code where one is required): the failure count
    starts again, and the login is recorded."""
    LoginThrottle.objects.filter(username=user.get_username()).delete()
    event_record(subject=user, actor=actor_for(user), kind="accounts.logged_in", after={"second_factor": second_factor})


# ---------------------------------------------------------------------------------------
# TOTP second factor
# ---------------------------------------------------------------------------------------


def _purpose(user_id: int) -> str:
    return f"totp:{user_id}"


def totp_device_secret(device: TotpDevice) -> str:
    return unseal(device.secret_sealed, purpose=_purpose(device.user_id))


@transaction.atomic
def totp_enrolment_start(*, user: User) -> tuple[TotpDevice, str]:
    """The device being enrolled and its secret, to show once on the enrolment page. Showing
    the page again shows the same secret until it is confirmed."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed:
        raise ApplicationError("该账户已绑定动态口令设备", code="totp_already_enrolled")
    if device is not None:
        return device, totp_device_secret(device)
    secret = totp.new_secret()
    device = TotpDevice.objects.create(user=user, secret_sealed=seal(secret, purpose=_purpose(user.pk)))
    event_record(subject=user, actor=actor_for(user), kind="accounts.totp_enrolment_started")
    return device, secret


def _totp_check(*, user: User, code: str, confirmed: bool, now: dt.datetime) -> TotpDevice | str:
    """Accept ``code`` on the user's device (moving its last used step on) or say why not."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None or device.confirmed != confirmed:
            return "no_device"
        steps = totp.matching_steps(totp_device_secret(device), code, now=now)
        fresh = [s for s in steps if device.last_used_step is None or s > device.last_used_step]
        if not fresh:
            return "replayed" if steps else "wrong"
        device.last_used_step, device.last_used_at = fresh[-1], now
        fields = ["last_used_step", "last_used_at"]
        if not confirmed:
            device.confirmed_at = now
            fields.append("confirmed_at")
            event_record(subject=user, actor=actor_for(user), kind="accounts.totp_enrolled")
        device.save(update_fields=fields)
        return device


def _totp_refuse(*, user: User, outcome: str, now: dt.datetime) -> ApplicationError:
    if outcome == "no_device":
        return ApplicationError("尚未绑定动态口令设备", code="totp_not_enrolled", field="code")
    locked_until = login_failure_record(username=user.get_username(), now=now)
    if locked_until is not None:
        return AccountLocked(locked_until)
    if outcome == "replayed":
        return ApplicationError("该动态口令已经用过，请等待认证器显示下一个口令", code="totp_replayed", field="code")
    return ApplicationError("动态口令不正确，请输入认证器上当前显示的 6 位数字", code="totp_invalid", field="code")


def totp_verify(*, user: User, code: str, now: dt.datetime | None = None) -> TotpDevice:
    """The second step of a regulator's login. A wrong or replayed code counts as a failed login."""
    now = now or timezone.now()
    login_refuse_if_locked(username=user.get_username(), now=now)
    outcome = _totp_check(user=user, code=code, confirmed=True, now=now)
    if isinstance(outcome, TotpDevice):
        return outcome
    raise _totp_refuse(user=user, outcome=outcome, now=now)


def totp_enrolment_confirm(*, user: User, code: str, now: dt.datetime | None = None) -> TotpDevice:
    """The first code from the new device proves the secret arrived; it also completes the login."""
    now = now or timezone.now()
    login_refuse_if_locked(username=user.get_username(), now=now)
    outcome = _totp_check(user=user, code=code, confirmed=False, now=now)
    if isinstance(outcome, TotpDevice):
        return outcome
    raise _totp_refuse(user=user, outcome=outcome, now=now)


@transaction.atomic
def totp_device_reset(*, actor: Actor, username: str, reason: str) -> None:
    """A lost phone: remove the device so that the next login enrols a new one."""
    require_kind(actor, "system", action="重置动态口令")
    if not reason.strip():
        raise ApplicationError("请说明重置原因", code="reason_required", field="reason")
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"用户 {username} 不存在", code="user_not_found", field="username")
    deleted, _ = TotpDevice.objects.filter(user=user).delete()
    if not deleted:
        raise ApplicationError(f"用户 {username} 没有动态口令设备", code="totp_not_enrolled", field="username")
    event_record(subject=user, actor=actor, kind="accounts.totp_reset", reason=reason)


@transaction.atomic
def totp_demo_enrol(*, actor: Actor, user: User) -> str:
    """DEMO DATABASES ONLY: enrol a demo regulator with ``totp.demo_secret`` (re-derivable, so
    ``weifei demo-logins`` can print it). Refused for an account whose password is not the
    published demo password, so a real account can never end up with a derivable secret."""
    from weifei.registry.demo import DEMO_PASSWORD

    require_kind(actor, "system", action="绑定演示动态口令")
    secret = totp.demo_secret(user.username)
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed:
        if totp_device_secret(device) == secret:
            return secret
        raise ApplicationError(f"{user.username} 已绑定自己的动态口令设备", code="totp_already_enrolled")
    if not user.check_password(DEMO_PASSWORD):
        raise PermissionDenied(f"{user.username} 不是演示账户（密码不是演示密码）", code="not_demo_account")
    now = timezone.now()
    TotpDevice.objects.update_or_create(
        user=user,
        defaults={
            "secret_sealed": seal(secret, purpose=_purpose(user.pk)),
            "confirmed_at": now,
            "last_used_step": None,
            "last_used_at": None,
        },
    )
    event_record(subject=user, actor=actor, kind="accounts.totp_enrolled", after={"demo": True})
    return secret


# ---------------------------------------------------------------------------------------
# API tokens
# ---------------------------------------------------------------------------------------

TOKEN_SCOPES = ("read", "write")
MAX_LIVE_TOKENS = 50
_ALNUM = string.ascii_letters + string.digits


def _token_plaintext() -> tuple[str, str]:
    prefix = base64.b32encode(secrets.token_bytes(5)).decode().lower()
    secret = "".join(secrets.choice(_ALNUM) for _ in range(43))  # 43 × log2(62) ≈ 256 bits
    return prefix, f"wf_{prefix}_{secret}"


def _token_scopes(scopes: Any) -> list[str]:
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ApplicationError("请至少选择一个权限范围（read 或 write）", code="scopes_required", field="scopes")
    unknown = [s for s in scopes if s not in TOKEN_SCOPES]
    if unknown:
        raise ApplicationError(
            f"未知的权限范围 {unknown[0]!r}：只能是 read 或 write", code="scope_invalid", field="scopes"
        )
    # Writing implies reading: a write-only token would be of no use.
    return [s for s in TOKEN_SCOPES if s in scopes or s == "read"]


def api_token_create(
    *,
    actor: Actor,
    name: str,
    scopes: list[str],
    organisation_id: int | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its plaintext — which is shown once and stored nowhere."""
    if actor.user_id is None or actor.kind not in ("enterprise", "regulator"):
        raise PermissionDenied("只有登录的用户可以创建 API 令牌", code="forbidden")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ApplicationError("令牌名称应为 1 到 100 个字符", code="name_invalid", field="name")
    clean_scopes = _token_scopes(scopes)
    if organisation_id is not None and organisation_id not in actor.enterprise_ids:
        raise PermissionDenied("只能为本人所在单位创建单位令牌", code="organisation_forbidden")
    now = timezone.now()
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise ApplicationError("过期时间须带时区", code="expires_at_naive", field="expires_at")
        if expires_at <= now:
            raise ApplicationError("过期时间应晚于当前时间", code="expires_at_past", field="expires_at")
    with transaction.atomic():
        live = ApiToken.objects.filter(user_id=actor.user_id, revoked_at__isnull=True)
        if live.count() >= MAX_LIVE_TOKENS:
            raise ApplicationError(
                f"每个用户最多 {MAX_LIVE_TOKENS} 个有效令牌，请先撤销不用的令牌", code="too_many_tokens"
            )
        for _ in range(5):  # 40-bit prefixes: a collision is rare, a second one rarer still
            prefix, plaintext = _token_plaintext()
            try:
                with transaction.atomic():
                    token = ApiToken.objects.create(
                        user_id=actor.user_id,
                        organisation_id=organisation_id,
                        name=name,
                        prefix=prefix,
                        hash=api_token_hash(plaintext),
                        scopes=clean_scopes,
                        expires_at=expires_at,
                    )
                break
            except IntegrityError:
                continue
        else:  # pragma: no cover
            raise ApplicationError("生成令牌失败，请重试", code="token_generation_failed")
        event_record(
            subject=token,
            actor=actor,
            kind="accounts.api_token_created",
            after={
                "name": name,
                "prefix": prefix,
                "scopes": clean_scopes,
                "organisation_id": organisation_id,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, plaintext


@transaction.atomic
def api_token_revoke(*, actor: Actor, token_id: int) -> ApiToken:
    """Its owner, or an administrator of the token's organisation, revokes a token. Revoking
    a revoked token changes nothing."""
    token = ApiToken.objects.select_for_update().filter(id=token_id).first()
    if token is None or actor.user_id is None:
        raise NotFound("API 令牌不存在", code="token_not_found")
    owner = token.user_id == actor.user_id
    org_admin = token.organisation_id is not None and actor.role_in(token.organisation_id) == Membership.Role.ADMIN
    if not (owner or org_admin):
        raise NotFound("API 令牌不存在", code="token_not_found")  # others' tokens are not even confirmed
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    event_record(
        subject=token,
        actor=actor,
        kind="accounts.api_token_revoked",
        before={"revoked_at": None},
        after={"revoked_at": token.revoked_at.isoformat()},
    )
    return token


def api_token_touch(*, token: ApiToken, ip: str | None, now: dt.datetime | None = None) -> None:
    """Record the token's use, at most once a minute (not a write per request). Not an event:
    it is bookkeeping, not a change anybody made."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < dt.timedelta(minutes=1):
        return
    stale = dt.timedelta(minutes=1)
    ApiToken.objects.filter(id=token.id).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - stale)).update(
        last_used_at=now, last_used_ip=ip
    )
    token.last_used_at, token.last_used_ip = now, ip


def login_throttles_purge(*, now: dt.datetime | None = None) -> int:
    """Forget failure counts that no longer matter (no lock in force, window over): names
    typed once by a scanner should not stay forever."""
    now = now or timezone.now()
    deleted, _ = (
        LoginThrottle.objects.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .filter(Q(window_started_at__isnull=True) | Q(window_started_at__lt=now - FAILURE_WINDOW))
        .delete()
    )
    return deleted
