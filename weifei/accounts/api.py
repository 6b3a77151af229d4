"""Accounts API: who am I, and API tokens (list, create — shown once —, revoke)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from . import services
from .auth import ACTOR_AUTH, ACTOR_OR_PUBLIC_AUTH, SESSION_AUTH, request_actor, request_token
from .models import ApiToken
from .selectors import api_tokens_visible

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
