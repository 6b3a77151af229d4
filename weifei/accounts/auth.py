"""Who is calling the API: an API token (``Authorization: Bearer wf_…``), the browser session,
or nobody. Routers pass one of the lists below as ``auth=``:

- ``ACTOR_AUTH``: a token or a session is required (401 envelope otherwise);
- ``ACTOR_OR_PUBLIC_AUTH``: the same, but an anonymous caller gets through as the public;
- ``SESSION_AUTH``: a person at a browser only (token management: a token never mints tokens).

Inside the view, ``request_actor(request)`` gives the ``Actor``. A bad token is never taken
for an anonymous caller: it is refused with 401. A token without the ``write`` scope is refused
(403) on POST/PUT/PATCH/DELETE by the authentication itself, so an endpoint cannot forget it;
``require_scope`` is there for finer checks.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from weifei.core.actors import Actor
from weifei.core.errors import PermissionDenied, Unauthenticated

from .models import ApiToken
from .selectors import actor_for, api_token_resolve
from .services import api_token_touch

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR. Behind a reverse proxy this is the proxy unless the proxy rewrites it
    (configure the proxy, not this function: X-Forwarded-For is whatever the client says)."""
    return request.META.get("REMOTE_ADDR") or None


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        plaintext = token.strip()
        earlier = getattr(request, "_weifei_token_resolved", None)  # the idempotency middleware's lookup
        if earlier is not None and earlier[0] == plaintext:
            resolved = earlier[1]
        else:
            resolved = api_token_resolve(plaintext)
        if resolved is None:
            raise Unauthenticated("API 令牌无效、已撤销或已过期", code="token_invalid")
        if request.method not in SAFE_METHODS and not resolved.has_scope("write"):
            raise PermissionDenied("此 API 令牌只有 read 权限，不能修改数据", code="insufficient_scope")
        api_token_touch(token=resolved, ip=client_ip(request))
        return resolved


class SessionActorAuth(APIKeyCookie):
    """The Django session (pages' JavaScript). Unlike ninja's ``SessionAuth`` the CSRF check
    applies only when the session actually carries a login, so anonymous callers of public
    endpoints are not refused for lacking a CSRF cookie."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if (
            request.method not in SAFE_METHODS
            and not getattr(request, "_ninja_csrf_exempt", False)
            and check_csrf(request) is not None
        ):
            raise PermissionDenied("CSRF 校验失败：请刷新页面后重试", code="csrf_failed")
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover - __call__ decides
        return None


def public(request: HttpRequest) -> Any:
    """The last resort of ``ACTOR_OR_PUBLIC_AUTH``: the anonymous user (truthy, not authenticated)."""
    return request.user


token_auth = ApiTokenAuth()
session_auth = SessionActorAuth()
ACTOR_AUTH: list[Any] = [token_auth, session_auth]
ACTOR_OR_PUBLIC_AUTH: list[Any] = [token_auth, session_auth, public]
SESSION_AUTH: list[Any] = [session_auth]


def request_token(request: HttpRequest) -> ApiToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


def request_actor(request: HttpRequest) -> Actor:
    """The actor of an API request: the token's, the session user's, or the public."""
    auth = getattr(request, "auth", None)
    return actor_for(auth if auth is not None else getattr(request, "user", None))


def require_scope(request: HttpRequest, scope: str) -> None:
    """Refuse (403) a token that lacks ``scope``; sessions hold every scope of their user."""
    token = request_token(request)
    if token is not None and not token.has_scope(scope):
        raise PermissionDenied(f"此 API 令牌没有 {scope} 权限", code="insufficient_scope")
