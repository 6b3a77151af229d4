"""The login flow's state in the session.

After a correct password a regulator is *not* logged in: the session holds a pending login
(user id, backend, where to go next) for five minutes, and only a valid TOTP code turns it into
a Django login, marked ``totp_verified``. ``SecondFactorMiddleware`` logs out any regulator
session without that mark, however it was made (the admin's login form, ``Client.login``, a
future password-reset flow), so the second factor cannot be skipped by another way in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .selectors import second_factor_required
from .services import login_succeeded

PENDING_KEY = "weifei_login_pending"
VERIFIED_KEY = "totp_verified"
PENDING_SECONDS = 300


def pending_login_start(request: HttpRequest, user: Any, *, next_url: str) -> None:
    # A new session key: a session id planted before the password was typed (fixation)
    # must not carry the pending login, and with it the enrolment page's secret.
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user_id": user.pk,
        "backend": getattr(user, "backend", "weifei.accounts.backends.LockoutModelBackend"),
        "next": next_url,
        "expires": timezone.now().timestamp() + PENDING_SECONDS,
    }


def pending_login(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    """The user who typed a correct password less than five minutes ago, and the pending state."""
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    if float(state.get("expires", 0)) < timezone.now().timestamp():
        pending_login_clear(request)
        return None
    user_id = state.get("user_id")
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first() if isinstance(user_id, int) else None
    if user is None:
        pending_login_clear(request)
        return None
    return user, state


def pending_login_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def session_login(request: HttpRequest, user: Any, *, backend: str, second_factor: str) -> None:
    """Log ``user`` in (the password, and the code when required, have been checked)."""
    pending_login_clear(request)
    login(request, user, backend=backend)
    if second_factor == "totp":
        request.session[VERIFIED_KEY] = user.pk
    login_succeeded(user=user, second_factor=second_factor)


class SecondFactorMiddleware:
    """A regulator's session without a verified TOTP code is no session: log it out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.session.get(VERIFIED_KEY) != user.pk
            and second_factor_required(user)
        ):
            logout(request)
        return self.get_response(request)
