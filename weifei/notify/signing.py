"""Webhook signatures: HMAC-SHA256 over ``<unix timestamp>.<body>``.

Header: ``X-Weifei-Signature: t=<unix seconds>,v1=<lower-case hex>``. The timestamp is inside the
signed text so that a captured request cannot be replayed later with a new timestamp; a receiver
refuses timestamps older than a tolerance (5 minutes below). ``verify`` is the reference
implementation receivers can copy (docs/notifications.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Weifei-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={sign(secret, body, timestamp)}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when ``header`` is a valid signature of ``body`` made within ``tolerance`` seconds."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))
