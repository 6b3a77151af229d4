"""Password checks with lockout, for every way in: the login page, the admin's login form and
``Client.login`` in tests all pass through ``authenticate()`` and so through here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .selectors import login_locked_until
from .services import login_failure_record


class LockoutModelBackend(ModelBackend):
    """``ModelBackend`` that refuses a locked user name without looking at the password, and
    counts each wrong password (for user names that exist and ones that do not alike)."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        if login_locked_until(username=username) is not None:
            # PermissionDenied stops ``authenticate()`` trying other backends.
            raise PermissionDenied("locked")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username=username)
        return user
