"""Sealing small secrets at rest (TOTP seeds): encrypt, then authenticate.

The construction is deliberately small and uses the standard library only: a keystream of
HMAC-SHA256 blocks over (nonce, counter) XORed with the plaintext, then HMAC-SHA256 over
(version, purpose, nonce, ciphertext) — encrypt-then-MAC with HMAC as the PRF. Both keys are
derived from ``settings.SECRET_KEY``; values sealed under one of ``SECRET_KEY_FALLBACKS`` still
open, so the key can be rotated the way Django rotates it (re-seal, then drop the fallback).

``purpose`` binds a sealed value to its row (``totp:<user id>``): copying one user's sealed
secret onto another user's device row does not open.

Honest limits: the key sits in the same process as the database credentials, so this protects
a leaked dump or backup, not a compromised server. In production ``SECRET_KEY`` comes from the
environment (``WEIFEI_SECRET_KEY``); a dedicated key held in a KMS/HSM (and SM4-GCM through a
vetted library, for 商用密码 conformity) would be the next step. Losing the key means every
regulator enrols again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

VERSION = "v1"
_NONCE = 16
_TAG = 32


class SealError(ValueError):
    """The value was not sealed by this installation (wrong key, purpose or tampered)."""


def _keys(secret_key: str) -> tuple[bytes, bytes]:
    master = hashlib.sha256(b"weifei.accounts.sealing\x00" + secret_key.encode()).digest()
    return (
        hmac.new(master, b"encrypt", hashlib.sha256).digest(),
        hmac.new(master, b"authenticate", hashlib.sha256).digest(),
    )


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:length])


def _tag(mac_key: bytes, purpose: str, nonce: bytes, ciphertext: bytes) -> bytes:
    message = VERSION.encode() + b"\x00" + purpose.encode() + b"\x00" + nonce + ciphertext
    return hmac.new(mac_key, message, hashlib.sha256).digest()


def seal(plaintext: str, *, purpose: str) -> str:
    enc_key, mac_key = _keys(settings.SECRET_KEY)
    nonce = secrets.token_bytes(_NONCE)
    data = plaintext.encode()
    ciphertext = bytes(a ^ b for a, b in zip(data, _keystream(enc_key, nonce, len(data)), strict=True))
    blob = nonce + ciphertext + _tag(mac_key, purpose, nonce, ciphertext)
    return f"{VERSION}${base64.urlsafe_b64encode(blob).decode()}"


def unseal(sealed: str, *, purpose: str) -> str:
    version, _, encoded = sealed.partition("$")
    if version != VERSION:
        raise SealError("unknown sealing version")
    try:
        blob = base64.urlsafe_b64decode(encoded.encode())
    except ValueError as exc:
        raise SealError("not base64") from exc
    if len(blob) < _NONCE + _TAG:
        raise SealError("too short")
    nonce, ciphertext, tag = blob[:_NONCE], blob[_NONCE:-_TAG], blob[-_TAG:]
    for secret_key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        enc_key, mac_key = _keys(secret_key)
        if hmac.compare_digest(tag, _tag(mac_key, purpose, nonce, ciphertext)):
            stream = _keystream(enc_key, nonce, len(ciphertext))
            return bytes(a ^ b for a, b in zip(ciphertext, stream, strict=True)).decode()
    raise SealError("authentication failed")
