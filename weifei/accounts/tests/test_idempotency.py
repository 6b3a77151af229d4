"""Idempotency-Key on API POSTs: same key and body → the same response, the work done once;
same key, different body → 409."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from weifei.accounts.idempotency import idempotency_purge
from weifei.accounts.models import ApiToken, IdempotencyRecord
from weifei.accounts.selectors import actor_for
from weifei.accounts.services import api_token_create
from weifei.accounts.testing import force_login
from weifei.core import api as core_api

from .conftest import People

URL = "/api/v1/identifiers/credit-code"
VALID = {"value": "91350100M000100Y43"}
OTHER = {"value": "91130200699229617X"}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Counts how often the view's work actually runs."""
    seen: list[str] = []
    real = core_api.validate_credit_code

    def counting(value: str, **kwargs: Any) -> str:
        seen.append(value)
        return real(value, **kwargs)

    monkeypatch.setattr(core_api, "validate_credit_code", counting)
    yield seen


def _post(client: Client, body: Any, key: str | None = None, url: str = URL, **extra: Any) -> Any:
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def test_same_key_and_body_replays_without_running_again(client: Client, db: None, calls: list[str]) -> None:
    first = _post(client, VALID, "order-2026-001")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first
    again = _post(client, VALID, "order-2026-001")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.content == first.content and again["Content-Type"] == first["Content-Type"]
    assert calls == [VALID["value"]]  # the view ran once
    record = IdempotencyRecord.objects.get()
    assert (record.owner, record.key, record.status_code) == ("anon:127.0.0.1", "order-2026-001", 200)


def test_same_key_with_another_body_is_409(client: Client, db: None, calls: list[str]) -> None:
    _post(client, VALID, "k1")
    response = _post(client, OTHER, "k1")
    assert response.status_code == 409
    assert response.json() == {
        "code": "idempotency_key_reused",
        "message": "幂等键 k1 已用于不同的请求内容",
        "field": "Idempotency-Key",
    }
    # Another path with the same key and body is a different request too.
    assert _post(client, VALID, "k1", url="/api/v1/catalog/validate").status_code == 409
    assert calls == [VALID["value"]]


@pytest.mark.parametrize("key", ["", "with space", "x" * 101, "中文", "a/b", "a\tb"])
def test_a_malformed_key_is_400(client: Client, db: None, key: str, calls: list[str]) -> None:
    response = _post(client, VALID, key)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "idempotency_key_invalid" and body["field"] == "Idempotency-Key"
    assert calls == [] and not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["a", "A-z_0.9:x", "x" * 100, "550e8400-e29b-41d4-a716-446655440000"])
def test_well_formed_keys(client: Client, db: None, key: str) -> None:
    assert _post(client, VALID, key).status_code == 200


def test_without_the_header_nothing_changes(client: Client, db: None, calls: list[str]) -> None:
    assert _post(client, VALID).status_code == 200
    assert _post(client, VALID).status_code == 200
    assert calls == [VALID["value"]] * 2 and not IdempotencyRecord.objects.exists()
    # GETs and pages are not touched even with the header.
    assert client.get("/api/v1/catalog/versions", HTTP_IDEMPOTENCY_KEY="g1").status_code == 200
    client.post("/login/", {"username": "x", "password": "y"}, HTTP_IDEMPOTENCY_KEY="p1")
    assert not IdempotencyRecord.objects.exists()


def test_client_errors_are_stored_and_replayed(client: Client, db: None, calls: list[str]) -> None:
    bad = {"value": "91350100M000100Y4Z"}
    first = _post(client, bad, "bad-1")
    assert first.status_code == 400 and first.json()["field"] == "value"
    again = _post(client, bad, "bad-1")
    assert again.status_code == 400 and again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert len(calls) == 1


def test_server_errors_are_not_stored(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(value: str, **kwargs: Any) -> str:
        raise RuntimeError("database went away")

    client = Client(raise_request_exception=False)
    monkeypatch.setattr(core_api, "validate_credit_code", broken)
    assert _post(client, VALID, "retry-me").status_code == 500
    assert not IdempotencyRecord.objects.exists()  # the reservation was let go
    monkeypatch.undo()
    retry = _post(client, VALID, "retry-me")
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry


def test_a_request_still_running_answers_409(client: Client, db: None, calls: list[str]) -> None:
    import hashlib

    body = json.dumps(VALID).encode()
    IdempotencyRecord.objects.create(
        owner="anon:127.0.0.1", key="busy", method="POST", path=URL, body_hash=hashlib.sha256(body).hexdigest()
    )  # status 0: another worker holds it
    response = _post(client, VALID, "busy")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_in_progress"
    assert calls == []


def test_keys_belong_to_their_owner(client: Client, people: People, calls: list[str]) -> None:
    _post(client, VALID, "shared")
    force_login(client, people.admin)
    mine = _post(client, OTHER, "shared")  # a user's keys are not the anonymous address's
    assert mine.status_code == 200 and "Idempotent-Replayed" not in mine
    _token, text = api_token_create(actor=actor_for(people.admin), name="t", scopes=["read", "write"])
    by_token = _post(Client(), VALID, "shared", HTTP_AUTHORIZATION=f"Bearer {text}")
    assert by_token.status_code == 200 and "Idempotent-Replayed" not in by_token
    assert set(IdempotencyRecord.objects.values_list("owner", flat=True)) == {
        "anon:127.0.0.1",
        f"user:{people.admin.pk}",
        f"token:{_token.pk}",
    }
    assert len(calls) == 3


def test_a_token_created_once_is_not_created_again_nor_its_secret_kept(client: Client, people: People) -> None:
    force_login(client, people.admin)
    first = _post(client, {"name": "ERP", "scopes": ["read"]}, "mint-1", url="/api/v1/accounts/tokens")
    assert first.status_code == 201
    secret = first.json()["token"]
    again = _post(client, {"name": "ERP", "scopes": ["read"]}, "mint-1", url="/api/v1/accounts/tokens")
    assert again.status_code == 409 and again.json()["code"] == "idempotency_not_replayable"
    assert ApiToken.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.withheld and record.status_code == 201 and bytes(record.response_body) == b""
    assert secret.encode() not in bytes(record.response_body)


def test_records_expire_after_a_day(client: Client, db: None, calls: list[str]) -> None:
    _post(client, VALID, "old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    response = _post(client, OTHER, "old")  # the old record no longer holds the key
    assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert len(calls) == 2 and IdempotencyRecord.objects.count() == 1

    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert idempotency_purge() == 1
    _post(client, VALID, "fresh")
    call_command("accounts_purge", stdout=StringIO())
    assert IdempotencyRecord.objects.count() == 1


def test_an_unusable_bearer_token_is_left_to_the_api(client: Client, people: People) -> None:
    """Nothing is reserved for a token that does not authenticate; the endpoint answers 401."""
    response = _post(Client(), {"name": "x"}, "k", url="/api/v1/accounts/tokens", HTTP_AUTHORIZATION="Bearer wf_nope")
    assert response.status_code == 401 and not IdempotencyRecord.objects.exists()
