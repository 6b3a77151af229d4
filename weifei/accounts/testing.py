"""Test helpers for logging in now that regulators need a second factor.

- ``login(client, username, password)``: the real two-step flow through the pages (password,
  then enrolment or the code), for any account; use it where the login itself matters.
- ``force_login(client, user)``: ``Client.force_login`` plus the session's ``totp_verified``
  mark, for tests about something else. (``Client.login`` alone no longer keeps a regulator
  logged in: ``SecondFactorMiddleware`` logs such sessions out.)
- ``totp_enrol(user)`` / ``totp_code(user)``: a confirmed device, and the next code it accepts.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.test import Client
from django.utils import timezone

from . import totp
from .models import TotpDevice
from .selectors import second_factor_required
from .services import totp_device_secret, totp_enrolment_confirm, totp_enrolment_start
from .sessions import VERIFIED_KEY


def totp_code(user: Any) -> str:
    """The code the user's device (confirmed or being enrolled) accepts next: the current
    step's, or a later one within the window when the current step is used up."""
    device = TotpDevice.objects.get(user=user)
    secret = totp_device_secret(device)
    while True:
        current = totp.time_step(timezone.now())
        step = current if device.last_used_step is None else max(current, device.last_used_step + 1)
        if step <= current + totp.WINDOW:
            return totp.code_at(secret, step)
        time.sleep(1)  # three logins of one user within 30 s: wait for the next step


def totp_enrol(user: Any) -> str:
    """Enrol and confirm a device through the services; returns its secret. The confirming
    code is one from a minute ago, so the current code is still unused for the next login."""
    _device, secret = totp_enrolment_start(user=user)
    earlier = timezone.now() - dt.timedelta(seconds=2 * totp.STEP_SECONDS)
    totp_enrolment_confirm(user=user, code=totp.code_at(secret, totp.time_step(earlier)), now=earlier)
    return secret


def login(client: Client, username: str, password: str) -> None:
    """Log in through the pages, as a person would (enrolling a device when there is none)."""
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302, f"password step refused for {username}"
    if response["Location"].startswith("/login/totp/"):
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username=username)
        page = "/login/totp/"
        if not TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
            page = "/login/totp/enrol/"
            assert client.get(page).status_code == 200
        response = client.post(page, {"code": totp_code(user)})
        assert response.status_code == 302, f"code step refused for {username}"


def force_login(client: Client, user: Any) -> None:
    """Logged in without going through the pages (second factor marked as done)."""
    client.force_login(user)
    if second_factor_required(user):
        session = client.session
        session[VERIFIED_KEY] = user.pk
        session.save()


def login_regulator(client: Client, user: Any, password: str) -> None:
    """``login`` for a user object (the name the brief for this module used)."""
    login(client, user.get_username(), password)
