"""RFC 6238 time-based one-time codes (what every authenticator app shows): 6 digits, 30 s.

Pure functions; the device row, replay protection and lockout live in the services.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from urllib.parse import quote, urlencode

import pyotp
from django.conf import settings

STEP_SECONDS = 30
DIGITS = 6
# One step either side: phones whose clocks drift by up to 30 s still log in.
WINDOW = 1
ISSUER = "吉林危废监管"
_CODE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    """160 random bits in base32 (32 characters), as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def demo_secret(username: str) -> str:
    """DEMO DATABASES ONLY: a secret that ``weifei demo-logins`` can print again.

    Derived from SECRET_KEY and the user name, so it is stable for one installation and not
    guessable from the user name alone; still, anyone who can read the demo-logins output (or
    knows the key) can produce codes. Never used for real accounts.
    """
    digest = hmac.new(settings.SECRET_KEY.encode(), b"weifei-demo-totp\x00" + username.encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()[:20]).decode()


def time_step(now: dt.datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def normalise_code(code: str) -> str:
    """People type "123 456" or paste with spaces; anything else than 6 digits is wrong."""
    return re.sub(r"[\s-]", "", code or "")


def matching_steps(secret: str, code: str, *, now: dt.datetime) -> list[int]:
    """The time steps within the window whose code equals ``code`` (normally none or one)."""
    code = normalise_code(code)
    if not _CODE.match(code):
        return []
    current = time_step(now)
    return [
        step
        for step in range(current - WINDOW, current + WINDOW + 1)
        if hmac.compare_digest(code_at(secret, step), code)
    ]


def provisioning_uri(secret: str, *, username: str) -> str:
    """The ``otpauth://`` URI authenticator apps import (Key Uri Format)."""
    label = quote(f"{ISSUER}:{username}")
    query = urlencode(
        {"secret": secret, "issuer": ISSUER, "algorithm": "SHA1", "digits": DIGITS, "period": STEP_SECONDS},
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def grouped(secret: str) -> str:
    """``ABCD EFGH …``: easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
