"""Who a user acts for: an enterprise membership or a regulator's jurisdiction."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from weifei.catalog.models import Region
from weifei.registry.models import Enterprise


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "管理员"
        MEMBER = "member", "成员"
        DRIVER = "driver", "驾驶员"
        READER = "reader", "只读"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "enterprise"], name="uniq_membership")]
        verbose_name = "单位成员"
        verbose_name_plural = "单位成员"

    def __str__(self) -> str:
        return f"{self.user} @ {self.enterprise} ({self.role})"


class RegulatorAssignment(models.Model):
    """A regulator account bound to a jurisdiction (province, prefecture, county or special region)."""

    class Role(models.TextChoices):
        REGULATOR = "regulator", "生态环境部门"
        LIAISON = "liaison", "联络（只读）"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="regulator")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="regulators")
    department = models.CharField("部门", max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REGULATOR)

    class Meta:
        verbose_name = "监管账户"
        verbose_name_plural = "监管账户"

    def __str__(self) -> str:
        return f"{self.region.name} {self.department}"


class TotpDevice(models.Model):
    """A regulator's authenticator app (RFC 6238 TOTP, 6 digits, 30 s steps).

    The shared secret is sealed (``weifei.accounts.sealing``): encrypted and authenticated with
    a key derived from ``SECRET_KEY``, which production reads from the environment
    (``WEIFEI_SECRET_KEY``). A database dump alone therefore does not yield working codes. A
    dedicated key held in a KMS/HSM would be better still; see the module's docstring.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    secret_sealed = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    # Unconfirmed devices are enrolments in progress: they never satisfy the second factor.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last accepted time step: a code is accepted once, and never an older one after it.
    last_used_step = models.BigIntegerField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "动态口令设备"
        verbose_name_plural = "动态口令设备"

    def __str__(self) -> str:
        return f"{self.user} ({'已绑定' if self.confirmed else '绑定中'})"

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class LoginThrottle(models.Model):
    """Consecutive failed logins per user name as typed — known or not, so that the lockout
    behaves the same for a name that does not exist and gives nothing away."""

    username = models.CharField(max_length=150, unique=True)
    failures = models.PositiveSmallIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "登录失败计数"
        verbose_name_plural = "登录失败计数"

    def __str__(self) -> str:
        return f"{self.username}: {self.failures}"


class ApiToken(models.Model):
    """A bearer token for enterprise software: ``wf_<prefix>_<secret>``, shown once.

    Only the SHA-256 of the whole token is stored; the secret part carries 256 random bits,
    so a fast hash is enough (no password stretching needed). ``prefix`` finds the row and is
    shown in lists so people can tell their tokens apart.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # An organisation token acts for that one enterprise only (and only while the user is a member).
    organisation = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField("名称", max_length=100)
    prefix = models.CharField(max_length=8, unique=True)
    hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API 令牌"
        verbose_name_plural = "API 令牌"

    def __str__(self) -> str:
        return f"{self.name} (wf_{self.prefix}_…)"

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` per owner: the request's fingerprint and the response it got.

    ``status_code`` 0 marks a reservation whose request is still running. Records are kept for
    24 hours (``IDEMPOTENCY_TTL``), purged lazily and by ``weifei idempotency-purge``.
    """

    key = models.CharField(max_length=100)
    owner = models.CharField(max_length=80)  # user:<id> | token:<id> | anon:<ip>
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response_body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    # A response marked ``Cache-Control: no-store`` (a token shown once) is not kept; a repeat
    # is told that the request already succeeded instead of getting the secret again.
    withheld = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="uniq_idempotency_owner_key")]
        verbose_name = "幂等记录"
        verbose_name_plural = "幂等记录"

    def __str__(self) -> str:
        return f"{self.owner} {self.key} → {self.status_code}"


class Invitation(models.Model):
    """An enterprise admin's invitation to join the unit with a role: a link carrying a token,
    shown once. Only the SHA-256 of the token is stored (like ``ApiToken``). One use; it lapses
    at ``expires_at``; an admin may revoke it before it is used."""

    class Status(models.TextChoices):
        PENDING = "pending", "待接受"
        ACCEPTED = "accepted", "已接受"
        REVOKED = "revoked", "已撤销"
        EXPIRED = "expired", "已过期"

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    # Whom the admin meant (an e-mail address or a user name): shown to both sides, not enforced —
    # the link itself is the credential.
    hint = models.CharField("邀请对象", max_length=150, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "成员邀请"
        verbose_name_plural = "成员邀请"

    def __str__(self) -> str:
        return f"{self.enterprise} ← {self.hint or '?'} ({self.role}, {self.status})"

    @property
    def status(self) -> str:
        """Expiry is never stored: it follows the clock."""
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    def get_status_display(self) -> str:
        return str(self.Status(self.status).label)
