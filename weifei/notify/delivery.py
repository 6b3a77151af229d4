"""Sending one webhook attempt over HTTP (httpx, short timeouts, no redirects, pinned address)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from weifei.accounts.sealing import SealError, unseal
from weifei.core.errors import ApplicationError

from . import signing
from .destinations import DestinationRefused, pinned_address, url_check
from .models import WebhookDelivery

USER_AGENT = "weifei-webhooks/1"
EXCERPT_BYTES = 500

# Tests put an ``httpx.MockTransport`` here; ``None`` is the real network.
TRANSPORT: httpx.BaseTransport | None = None


def timeout() -> httpx.Timeout:
    seconds = float(getattr(settings, "NOTIFY_WEBHOOK_TIMEOUT", 5.0))
    return httpx.Timeout(seconds, connect=min(3.0, seconds))


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    duration_ms: int | None
    error: str = ""
    response_excerpt: str = ""


def attempt(delivery: WebhookDelivery, *, now: float | None = None) -> Outcome:
    """POST the delivery's body, signed, to its webhook; a 2xx answer is success."""
    hook = delivery.webhook
    try:
        destination = url_check(hook.url)
        address = pinned_address(destination)
    except DestinationRefused as exc:
        return Outcome(False, None, None, error=str(exc))
    except ApplicationError as exc:  # the rules (settings) changed since the webhook was saved
        return Outcome(False, None, None, error=f"地址不再允许：{exc.message}")
    try:
        secret = unseal(hook.secret_sealed, purpose=f"webhook:{hook.id}")
    except SealError:
        return Outcome(False, None, None, error="签名密钥无法解封（SECRET_KEY 已更换？请轮换 Webhook 密钥）")
    body = delivery.body.encode()
    timestamp = int(time.time() if now is None else now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Weifei-Event": delivery.event,
        "X-Weifei-Delivery": str(delivery.message_id),
        "X-Weifei-Attempt": str(delivery.attempt),
        signing.HEADER: signing.signature_header(secret, body, timestamp),
    }
    url = httpx.URL(hook.url)
    # Connect to the checked address; the name stays in Host and in TLS SNI (certificate check).
    headers["Host"] = url.netloc.decode()
    target = url.copy_with(host=address)
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    started = time.monotonic()
    try:
        with httpx.Client(transport=TRANSPORT, timeout=timeout(), follow_redirects=False, trust_env=False) as client:
            request = client.build_request("POST", target, content=body, headers=headers, extensions=extensions)
            response = client.send(request, stream=True)
            try:
                excerpt = b""
                for chunk in response.iter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES:
                        break
            finally:
                response.close()
    except httpx.HTTPError as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(False, None, elapsed, error=f"{type(exc).__name__}: {exc}"[:500])
    elapsed = int((time.monotonic() - started) * 1000)
    text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace")
    ok = 200 <= response.status_code < 300
    error = "" if ok else f"HTTP {response.status_code}"
    return Outcome(ok, response.status_code, elapsed, error=error, response_excerpt=text)
