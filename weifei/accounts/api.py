"""Accounts API: who am I; API tokens (list, create — shown once —, revoke); an enterprise's
members and invitations (administrators manage them; the invited accept)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Router, Schema, Status

from . import services
from .auth import ACTOR_AUTH, ACTOR_OR_PUBLIC_AUTH, SESSION_AUTH, request_actor, request_token
from .models import ApiToken, Invitation, Membership
from .selectors import api_tokens_visible, invitations_of, members_of

router = Router(tags=["accounts"])


class MeOut(Schema):
    kind: str
    user_id: int | None
    label: str
    enterprise_ids: list[int]
    region_keys_count: int
    region_level: str
    read_only: bool
    auth: str  # session | token | none
    token_scopes: list[str] | None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    display: str
    scopes: list[str]
    organisation_id: int | None
    organisation_name: str | None
    owner: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    last_used_ip: str | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="明文令牌，只在创建时返回一次")


class TokenIn(Schema):
    name: str = Field(max_length=100)
    scopes: list[str] = Field(default_factory=lambda: ["read"])
    organisation_id: int | None = None
    expires_at: dt.datetime | None = None


def _token_out(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "display": f"wf_{token.prefix}_…",
        "scopes": list(token.scopes or []),
        "organisation_id": token.organisation_id,
        "organisation_name": token.organisation.name if token.organisation is not None else None,
        "owner": token.user.get_username(),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
        "last_used_ip": token.last_used_ip,
    }


@router.get("/me", response=MeOut, auth=ACTOR_OR_PUBLIC_AUTH)
def me(request: HttpRequest) -> dict[str, object]:
    """Who the caller is: the public, a unit's user or a regulator; by session or by token."""
    actor = request_actor(request)
    token = request_token(request)
    return {
        "kind": actor.kind,
        "user_id": actor.user_id,
        "label": actor.label,
        "enterprise_ids": sorted(actor.enterprise_ids),
        "region_keys_count": len(actor.region_codes),
        "region_level": actor.region_level,
        "read_only": actor.read_only,
        "auth": "token" if token is not None else ("session" if actor.user_id is not None else "none"),
        "token_scopes": list(token.scopes) if token is not None else None,
    }


@router.get("/tokens", response=list[TokenOut], auth=ACTOR_AUTH)
def tokens_list(request: HttpRequest) -> list[dict[str, object]]:
    """The caller's tokens, and the organisation tokens of the units the caller administers."""
    return [_token_out(t) for t in api_tokens_visible(actor=request_actor(request))]


@router.post("/tokens", response={201: TokenCreatedOut}, auth=SESSION_AUTH)
def tokens_create(request: HttpRequest, payload: TokenIn, response: HttpResponse) -> Status[dict[str, object]]:
    """A new token. Its plaintext is in this response only; it is stored nowhere (only its
    SHA-256), so keep it now. Creating tokens needs a logged-in person (a token cannot mint one)."""
    token, plaintext = services.api_token_create(
        actor=request_actor(request),
        name=payload.name,
        scopes=payload.scopes,
        organisation_id=payload.organisation_id,
        expires_at=payload.expires_at,
    )
    # ``no-store``: neither caches nor the Idempotency-Key store keep the plaintext.
    response["Cache-Control"] = "no-store"
    return Status(201, {**_token_out(token), "token": plaintext})


@router.delete("/tokens/{token_id}", response=TokenOut, auth=ACTOR_AUTH)
def tokens_revoke(request: HttpRequest, token_id: int) -> dict[str, object]:
    """Revoke a token (its owner, or an administrator of its organisation). Idempotent."""
    token = services.api_token_revoke(actor=request_actor(request), token_id=token_id)
    return _token_out(token)


# ---- members and invitations ----------------------------------------------------------------


class MemberOut(Schema):
    id: int
    enterprise_id: int
    user_id: int
    username: str
    full_name: str
    role: str = Field(description="admin | member | driver | reader")
    role_name: str
    created_at: dt.datetime


class RoleIn(Schema):
    role: str = Field(description="admin | member | driver | reader")


class InvitationOut(Schema):
    id: int
    enterprise_id: int
    role: str
    email_or_username_hint: str
    status: str = Field(description="pending | accepted | revoked | expired")
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_by: str | None
    accepted_at: dt.datetime | None
    revoked_at: dt.datetime | None


class InvitationCreatedOut(InvitationOut):
    token: str = Field(description="邀请令牌，只在创建时返回一次")
    url: str = Field(description="邀请链接（接受邀请的页面）")


class InvitationIn(Schema):
    role: str = Field(description="admin | member | driver | reader")
    email_or_username_hint: str = Field("", max_length=150, description="邀请对象（邮箱或用户名），仅作提示")
    expires_in_days: int = Field(7, description="有效期（天），1–30")


class InvitationAcceptIn(Schema):
    token: str = Field(max_length=100)


class InvitationAcceptNewIn(InvitationAcceptIn):
    username: str = Field(max_length=150)
    password: str = Field(max_length=128)
    full_name: str = Field(max_length=150)


def _member_out(m: Membership) -> dict[str, object]:
    return {
        "id": m.id,
        "enterprise_id": m.enterprise_id,
        "user_id": m.user_id,
        "username": m.user.get_username(),
        "full_name": m.user.get_full_name(),
        "role": m.role,
        "role_name": m.get_role_display(),
        "created_at": m.created_at,
    }


def _invitation_out(i: Invitation) -> dict[str, object]:
    return {
        "id": i.id,
        "enterprise_id": i.enterprise_id,
        "role": i.role,
        "email_or_username_hint": i.hint,
        "status": i.status,
        "created_by": i.created_by.get_username() if i.created_by is not None else None,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "accepted_by": i.accepted_by.get_username() if i.accepted_by is not None else None,
        "accepted_at": i.accepted_at,
        "revoked_at": i.revoked_at,
    }


@router.get("/enterprises/{enterprise_id}/members", response=list[MemberOut], auth=ACTOR_AUTH)
def members_list(request: HttpRequest, enterprise_id: int) -> list[dict[str, object]]:
    """The unit's members: for its own members and the regulators of its region (404 otherwise)."""
    return [_member_out(m) for m in members_of(actor=request_actor(request), enterprise_id=enterprise_id)]


@router.patch("/members/{membership_id}", response=MemberOut, auth=ACTOR_AUTH)
def members_change_role(request: HttpRequest, membership_id: int, payload: RoleIn) -> dict[str, object]:
    """Change a member's role (the unit's administrators). The last administrator cannot be demoted."""
    membership = services.membership_change_role(
        actor=request_actor(request), membership_id=membership_id, role=payload.role
    )
    return _member_out(membership)


@router.delete("/members/{membership_id}", response={204: None}, auth=ACTOR_AUTH)
def members_remove(request: HttpRequest, membership_id: int) -> Status[None]:
    """Remove a member (the unit's administrators; an administrator itself only while another
    remains). The member's organisation API tokens for the unit are revoked."""
    services.membership_remove(actor=request_actor(request), membership_id=membership_id)
    return Status(204, None)


@router.get("/enterprises/{enterprise_id}/invitations", response=list[InvitationOut], auth=ACTOR_AUTH)
def invitations_list(request: HttpRequest, enterprise_id: int) -> list[dict[str, object]]:
    """The unit's invitations, in every state (the unit's administrators)."""
    return [_invitation_out(i) for i in invitations_of(actor=request_actor(request), enterprise_id=enterprise_id)]


@router.post("/enterprises/{enterprise_id}/invitations", response={201: InvitationCreatedOut}, auth=SESSION_AUTH)
def invitations_create(
    request: HttpRequest, enterprise_id: int, payload: InvitationIn, response: HttpResponse
) -> Status[dict[str, object]]:
    """Invite somebody to join the unit with a role (the unit's administrators). The token and
    the link are in this response only. Like API tokens, invitations need a logged-in person:
    a token cannot hand out new logins."""
    invitation, plaintext = services.invitation_create(
        actor=request_actor(request),
        enterprise_id=enterprise_id,
        role=payload.role,
        email_or_username_hint=payload.email_or_username_hint,
        expires_in_days=payload.expires_in_days,
    )
    response["Cache-Control"] = "no-store"
    url = request.build_absolute_uri(reverse("accounts:invitation", args=[plaintext]))
    return Status(201, {**_invitation_out(invitation), "token": plaintext, "url": url})


@router.post("/invitations/accept", response={201: MemberOut}, auth=ACTOR_AUTH)
def invitations_accept(request: HttpRequest, payload: InvitationAcceptIn) -> Status[dict[str, object]]:
    """The caller (a logged-in unit user, or its token) joins the inviting unit."""
    token = request_token(request)
    user = token.user if token is not None else request.user
    membership = services.invitation_accept(token=payload.token, user=user)
    return Status(201, _member_out(membership))


@router.post(
    "/invitations/accept-new", response={201: MemberOut}, auth=ACTOR_OR_PUBLIC_AUTH, tags=["accounts", "public"]
)
def invitations_accept_new(request: HttpRequest, payload: InvitationAcceptNewIn) -> Status[dict[str, object]]:
    """Somebody without an account creates one through an invitation and joins the unit
    (Django's password rules apply). Logging in is a separate step."""
    membership = services.invitation_accept_new_user(
        token=payload.token, username=payload.username, password=payload.password, full_name=payload.full_name
    )
    return Status(201, _member_out(membership))


# After the accept routes: "/invitations/{invitation_id}" would otherwise take "accept" for an id.
@router.delete("/invitations/{invitation_id}", response=InvitationOut, auth=ACTOR_AUTH)
def invitations_revoke(request: HttpRequest, invitation_id: int) -> dict[str, object]:
    """Withdraw an invitation not yet used (the unit's administrators). Idempotent."""
    invitation = services.invitation_revoke(actor=request_actor(request), invitation_id=invitation_id)
    return _invitation_out(invitation)
