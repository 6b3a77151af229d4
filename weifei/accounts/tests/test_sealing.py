"""TOTP secrets are sealed at rest: unreadable without the key, bound to their row."""

from __future__ import annotations

import pytest
from django.test import override_settings

from weifei.accounts.sealing import SealError, seal, unseal


def test_round_trip_and_fresh_nonce() -> None:
    a, b = seal("JBSWY3DPEHPK3PXP", purpose="totp:1"), seal("JBSWY3DPEHPK3PXP", purpose="totp:1")
    assert a != b and a.startswith("v1$") and "JBSWY3DPEHPK3PXP" not in a
    assert unseal(a, purpose="totp:1") == unseal(b, purpose="totp:1") == "JBSWY3DPEHPK3PXP"


def test_a_sealed_value_does_not_open_for_another_row_or_after_tampering() -> None:
    sealed = seal("JBSWY3DPEHPK3PXP", purpose="totp:1")
    with pytest.raises(SealError):
        unseal(sealed, purpose="totp:2")
    body = sealed[3:]
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    for bad in ("v1$" + flipped, "v2" + sealed[2:], "v1$###", "v1$QUJD", "plain"):
        with pytest.raises(SealError):
            unseal(bad, purpose="totp:1")


def test_key_rotation_through_secret_key_fallbacks() -> None:
    with override_settings(SECRET_KEY="old-key-" + "x" * 40):
        sealed = seal("JBSWY3DPEHPK3PXP", purpose="totp:1")
    with override_settings(SECRET_KEY="new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=["old-key-" + "x" * 40]):
        assert unseal(sealed, purpose="totp:1") == "JBSWY3DPEHPK3PXP"
    with override_settings(SECRET_KEY="new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=[]), pytest.raises(SealError):
        unseal(sealed, purpose="totp:1")
