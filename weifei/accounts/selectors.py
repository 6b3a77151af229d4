"""Turning a request's user (or API token) into the ``Actor`` every selector and service takes,
and the reads of the login flow and token management."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
from dataclasses import replace
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from weifei.catalog.models import Region
from weifei.catalog.selectors import jurisdiction_region_ids
from weifei.core import fastsql
from weifei.core.actors import PUBLIC, Actor
from weifei.core.errors import NotFound, PermissionDenied
from weifei.registry.selectors import enterprise_get

from .models import ApiToken, Invitation, LoginThrottle, Membership, RegulatorAssignment, TotpDevice


def actor_for(principal: Any) -> Actor:
    """The actor behind a user, or behind an API token (``request.auth`` of token-authenticated
    API calls): the token's user, narrowed to the token's organisation, and read-only unless
    the token has the ``write`` scope."""
    if isinstance(principal, ApiToken):
        return _actor_for_token(principal)
    return _actor_for_user(principal)


def _actor_for_token(token: ApiToken) -> Actor:
    user = token.user
    if not user.is_active:
        return PUBLIC
    actor = _actor_for_user(user)
    if token.organisation_id is not None:
        pairs = frozenset(p for p in actor.memberships if p[0] == token.organisation_id)
        actor = replace(actor, enterprise_ids=frozenset(eid for eid, _ in pairs), memberships=pairs)
    if not token.has_scope("write"):
        actor = replace(actor, read_only=True)
    return actor


@functools.cache
def _ties_sql() -> str:
    """An account's regulator assignments and memberships in one statement (on every request)."""
    r, m = RegulatorAssignment._meta.db_table, Membership._meta.db_table
    return (
        f"SELECT 'r', id, role FROM {r} WHERE user_id = %s "
        f"UNION ALL SELECT 'm', enterprise_id, role FROM {m} WHERE user_id = %s"
    )


def _actor_for_user(user: Any) -> Actor:
    if user is None or not getattr(user, "is_authenticated", False):
        return PUBLIC
    label = user.get_full_name() or user.get_username()
    # One query for both kinds of tie (an account is a regulator or a unit's member, not both):
    # ("r", assignment id, role) rows first, then ("m", enterprise id, role) rows.
    with connection.cursor() as cursor:
        cursor.execute(_ties_sql(), [user.pk, user.pk])
        ties = cursor.fetchall()
    assignment_ids = [tid for kind, tid, _role in ties if kind == "r"]
    assignment = (
        RegulatorAssignment.objects.select_related("region").filter(id=min(assignment_ids)).first()
        if assignment_ids
        else None
    )
    if assignment is not None:
        ids = jurisdiction_region_ids(assignment.region)
        keys = frozenset(Region.objects.filter(id__in=ids).values_list("key", flat=True))
        return Actor(
            kind="regulator",
            user_id=user.pk,
            label=label,
            region_codes=keys,
            region_level=assignment.region.level,
            read_only=assignment.role == RegulatorAssignment.Role.LIAISON,
        )
    pairs = frozenset((int(eid), str(role)) for kind, eid, role in ties if kind == "m")
    return Actor(
        kind="enterprise",
        user_id=user.pk,
        label=label,
        enterprise_ids=frozenset(eid for eid, _ in pairs),
        memberships=pairs,
    )


def regulator_assignment(*, actor: Actor) -> RegulatorAssignment | None:
    if not actor.is_regulator or actor.user_id is None:
        return None
    return RegulatorAssignment.objects.select_related("region").filter(user_id=actor.user_id).first()


def memberships(*, actor: Actor) -> list[Membership]:
    if actor.user_id is None:
        return []
    return list(Membership.objects.select_related("enterprise", "enterprise__region").filter(user_id=actor.user_id))


# ---------------------------------------------------------------------------------------
# Login: second factor and lockout
# ---------------------------------------------------------------------------------------


def second_factor_required(user: Any) -> bool:
    """Regulators' accounts (liaison ones included) need a TOTP code after the password."""
    return RegulatorAssignment.objects.filter(user_id=user.pk).exists()


def totp_device_confirmed(user: Any) -> TotpDevice | None:
    return TotpDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()


def login_locked_until(*, username: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lock on this user name ends, or None when it is not locked."""
    now = now or timezone.now()
    until = LoginThrottle.objects.filter(username=username[:150]).values_list("locked_until", flat=True).first()
    return until if until is not None and until > now else None


# ---------------------------------------------------------------------------------------
# API tokens
# ---------------------------------------------------------------------------------------

TOKEN_PATTERN = re.compile(r"^wf_([a-z2-7]{8})_([A-Za-z0-9]{43})$")


def api_token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def api_token_resolve(plaintext: str, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token (not revoked, not expired, its user active) this plaintext opens, or None."""
    match = TOKEN_PATTERN.match(plaintext)
    if match is None:
        return None
    # On every API call: the statement is built once (core.fastsql); prefix is unique.
    token = fastsql.select_one(
        ApiToken, "t0.prefix = %s AND t0.revoked_at IS NULL", [match.group(1)], related=("user", "organisation")
    )
    if token is None or not hmac.compare_digest(token.hash, api_token_hash(plaintext)):
        return None
    now = now or timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    return token


def api_tokens_visible(*, actor: Actor) -> QuerySet[ApiToken]:
    """The actor's own tokens, and the organisation tokens of units the actor administers."""
    if actor.user_id is None:
        return ApiToken.objects.none()
    administered = [eid for eid, role in actor.memberships if role == Membership.Role.ADMIN]
    return (
        ApiToken.objects.select_related("user", "organisation")
        .filter(Q(user_id=actor.user_id) | Q(organisation_id__in=administered))
        .order_by("-created_at", "-id")
    )


# ---------------------------------------------------------------------------------------
# Members and invitations
# ---------------------------------------------------------------------------------------


def members_of(*, actor: Actor, enterprise_id: int) -> QuerySet[Membership]:
    """The unit's members, for whoever may see the unit (its own members, the regulators of
    its region, the system); 404 for anybody else."""
    enterprise = enterprise_get(actor=actor, enterprise_id=enterprise_id)
    return Membership.objects.select_related("user").filter(enterprise=enterprise).order_by("created_at", "id")


def membership_get(*, actor: Actor, membership_id: int) -> Membership:
    """One membership, if the actor may see its unit; the same 404 whether it exists or not."""
    membership = Membership.objects.select_related("user", "enterprise").filter(id=membership_id).first()
    if membership is None:
        raise NotFound("成员不存在或无权查看", code="membership_not_found")
    try:
        enterprise_get(actor=actor, enterprise_id=membership.enterprise_id)
    except NotFound:
        raise NotFound("成员不存在或无权查看", code="membership_not_found") from None
    return membership


def is_enterprise_admin(actor: Actor, enterprise_id: int) -> bool:
    """Administers the unit (reading needs no write scope: a read token of an admin counts)."""
    return actor.kind == "system" or (
        actor.kind == "enterprise" and actor.role_in(enterprise_id) == Membership.Role.ADMIN
    )


def invitations_of(*, actor: Actor, enterprise_id: int) -> QuerySet[Invitation]:
    """The unit's invitations (pending, used, revoked, lapsed): its administrators only."""
    enterprise = enterprise_get(actor=actor, enterprise_id=enterprise_id)
    if not is_enterprise_admin(actor, enterprise.id):
        raise PermissionDenied("只有本单位管理员可以查看邀请", code="forbidden")
    return (
        Invitation.objects.select_related("created_by", "accepted_by")
        .filter(enterprise=enterprise)
        .order_by("-created_at", "-id")
    )


def invitation_get(*, actor: Actor, invitation_id: int) -> Invitation:
    """One invitation, for an administrator of its unit; 404 for those who cannot see the unit."""
    invitation = Invitation.objects.select_related("enterprise").filter(id=invitation_id).first()
    if invitation is None:
        raise NotFound("邀请不存在或无权查看", code="invitation_not_found")
    try:
        enterprise_get(actor=actor, enterprise_id=invitation.enterprise_id)
    except NotFound:
        raise NotFound("邀请不存在或无权查看", code="invitation_not_found") from None
    if not is_enterprise_admin(actor, invitation.enterprise_id):
        raise PermissionDenied("只有本单位管理员可以管理邀请", code="forbidden")
    return invitation


# ``secrets.token_urlsafe(32)``: 43 URL-safe characters, 256 random bits.
INVITATION_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def invitation_token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation a link's token opens (in whatever state), or None. The token carries
    256 random bits, so looking its hash up directly leaks nothing useful by timing."""
    if not isinstance(token, str) or not INVITATION_TOKEN_PATTERN.match(token):
        return None
    return (
        Invitation.objects.select_related("enterprise", "enterprise__region")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )
