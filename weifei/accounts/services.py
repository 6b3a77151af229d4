"""Account writes: users bound to an enterprise or to a regulator's jurisdiction, the login
second factor and lockout, and API tokens."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import string
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from weifei.catalog.models import Region
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.events import event_record
from weifei.core.permissions import require_kind
from weifei.registry.models import Enterprise

from . import totp
from .models import ApiToken, LoginThrottle, Membership, RegulatorAssignment, TotpDevice
from .sealing import seal, unseal
from .selectors import actor_for, api_token_hash, login_locked_until


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
