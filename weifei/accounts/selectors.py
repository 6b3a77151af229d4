"""Turning a request's user (or API token) into the ``Actor`` every selector and service takes,
and the reads of the login flow and token management."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import replace
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from weifei.catalog.models import Region
from weifei.catalog.selectors import jurisdiction_region_ids
from weifei.core.actors import PUBLIC, Actor

from .models import ApiToken, LoginThrottle, Membership, RegulatorAssignment, TotpDevice


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


def _actor_for_user(user: Any) -> Actor:
    if user is None or not getattr(user, "is_authenticated", False):
        return PUBLIC
    assignment = RegulatorAssignment.objects.select_related("region").filter(user=user).first()
    label = user.get_full_name() or user.get_username()
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
    pairs = frozenset(Membership.objects.filter(user=user).values_list("enterprise_id", "role"))
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
    token = (
        ApiToken.objects.select_related("user", "organisation")
        .filter(prefix=match.group(1), revoked_at__isnull=True)
        .first()
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
