"""API tokens: created once in plaintext, stored hashed, scoped, revocable, last use recorded."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from weifei.accounts.models import ApiToken
from weifei.accounts.selectors import actor_for
from weifei.accounts.services import api_token_create, api_token_revoke
from weifei.accounts.testing import force_login
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event

from .conftest import Clock, People


def _create(client: Client, **body: Any) -> Any:
    return client.post("/api/v1/accounts/tokens", json.dumps(body), content_type="application/json")


def _bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "field"} and body["code"] == code, body
    return body


def test_create_shows_the_plaintext_once_and_stores_only_its_hash(client: Client, people: People) -> None:
    force_login(client, people.admin)
    response = _create(client, name="ERP 对接", scopes=["read", "write"])
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    plaintext = body["token"]
    assert plaintext.startswith(f"wf_{body['prefix']}_") and len(plaintext) == 3 + 8 + 1 + 43
    assert body["display"] == f"wf_{body['prefix']}_…" and body["scopes"] == ["read", "write"]

    token = ApiToken.objects.get()
    assert token.hash == hashlib.sha256(plaintext.encode()).hexdigest()
    secret = plaintext.rsplit("_", 1)[1]
    stored = json.dumps([list(r) for r in ApiToken.objects.values_list()], default=str)
    assert secret not in stored
    assert secret not in json.dumps(list(Event.objects.values("before", "after")), default=str)
    assert Event.objects.filter(kind="accounts.api_token_created", subject_id=str(token.id)).exists()

    listed = client.get("/api/v1/accounts/tokens").json()
    assert [t["id"] for t in listed] == [token.id] and "token" not in listed[0]
    assert secret not in client.get("/api/v1/accounts/tokens").content.decode()


def test_a_token_authenticates_and_records_its_use_at_most_once_a_minute(
    client: Client, people: People, clock: Clock
) -> None:
    token, plaintext = api_token_create(actor=actor_for(people.admin), name="t", scopes=["read"])
    anonymous = Client()
    me = anonymous.get("/api/v1/accounts/me", **_bearer(plaintext), REMOTE_ADDR="10.1.2.3").json()
    assert me["kind"] == "enterprise" and me["auth"] == "token" and me["token_scopes"] == ["read"]
    assert me["enterprise_ids"] == [people.unit.id] and me["read_only"] is True  # read scope: read-only actor
    token.refresh_from_db()
    assert token.last_used_at == clock.now and token.last_used_ip == "10.1.2.3"

    first = clock.now
    clock.advance(seconds=30)
    anonymous.get("/api/v1/accounts/me", **_bearer(plaintext), REMOTE_ADDR="10.9.9.9")
    token.refresh_from_db()
    assert token.last_used_at == first and token.last_used_ip == "10.1.2.3"  # no write within a minute
    clock.advance(seconds=31)
    anonymous.get("/api/v1/accounts/me", **_bearer(plaintext), REMOTE_ADDR="10.9.9.9")
    token.refresh_from_db()
    assert token.last_used_at == clock.now and token.last_used_ip == "10.9.9.9"


def test_me_without_credentials_is_the_public(client: Client) -> None:
    assert client.get("/api/v1/accounts/me").json() | {"label": ""} == {
        "kind": "public",
        "user_id": None,
        "label": "",
        "enterprise_ids": [],
        "region_keys_count": 0,
        "region_level": "",
        "read_only": False,
        "auth": "none",
        "token_scopes": None,
    }


def test_regulator_tokens_carry_the_jurisdiction(client: Client, people: People) -> None:
    force_login(client, people.regulator)
    plaintext = _create(client, name="分析", scopes=["read"]).json()["token"]
    me = Client().get("/api/v1/accounts/me", **_bearer(plaintext)).json()
    assert me["kind"] == "regulator" and me["region_keys_count"] > 60 and me["region_level"] == "province"


def test_revoked_expired_and_malformed_tokens_are_refused_with_401(
    client: Client, people: People, clock: Clock
) -> None:
    actor = actor_for(people.admin)
    revoked, revoked_text = api_token_create(actor=actor, name="a", scopes=["read"])
    api_token_revoke(actor=actor, token_id=revoked.id)
    _expiring, expiring_text = api_token_create(
        actor=actor, name="b", scopes=["read"], expires_at=clock.now + dt.timedelta(hours=1)
    )
    anonymous = Client()
    assert anonymous.get("/api/v1/accounts/me", **_bearer(expiring_text)).status_code == 200
    clock.advance(hours=1)
    for text in (revoked_text, expiring_text, "wf_abcdefgh_" + "x" * 43, "nonsense", ""):
        body = _envelope(anonymous.get("/api/v1/accounts/me", **_bearer(text)), 401, "token_invalid")
        assert "令牌" in body["message"]
        _envelope(anonymous.get("/api/v1/accounts/tokens", **_bearer(text)), 401, "token_invalid")
    # A right prefix with a wrong secret is no better.
    live, live_text = api_token_create(actor=actor, name="c", scopes=["read"])
    forged = live_text[:-1] + ("A" if live_text[-1] != "A" else "B")
    _envelope(anonymous.get("/api/v1/accounts/me", **_bearer(forged)), 401, "token_invalid")
    live.refresh_from_db()
    assert live.last_used_at is None


def test_a_read_token_cannot_write(client: Client, people: People) -> None:
    actor = actor_for(people.admin)
    reader, reader_text = api_token_create(actor=actor, name="r", scopes=["read"])
    writer, writer_text = api_token_create(actor=actor, name="w", scopes=["write"])
    assert writer.scopes == ["read", "write"]  # writing implies reading
    anonymous = Client()
    _envelope(
        anonymous.delete(f"/api/v1/accounts/tokens/{writer.id}", **_bearer(reader_text)), 403, "insufficient_scope"
    )
    assert anonymous.get("/api/v1/accounts/tokens", **_bearer(reader_text)).status_code == 200
    # A write token may revoke; it may not mint new tokens (a person at a browser does that).
    _envelope(anonymous.post("/api/v1/accounts/tokens", {}, **_bearer(writer_text)), 401, "unauthenticated")
    assert anonymous.delete(f"/api/v1/accounts/tokens/{reader.id}", **_bearer(writer_text)).status_code == 200
    reader.refresh_from_db()
    assert reader.revoked_at is not None
    assert Event.objects.filter(kind="accounts.api_token_revoked", subject_id=str(reader.id)).exists()


def test_who_may_revoke(client: Client, people: People) -> None:
    member = actor_for(people.member)
    personal, _ = api_token_create(actor=member, name="p", scopes=["read"])
    org, _ = api_token_create(actor=member, name="o", scopes=["read"], organisation_id=people.unit.id)
    admin = actor_for(people.admin)
    with pytest.raises(NotFound):
        api_token_revoke(actor=admin, token_id=personal.id)  # someone else's personal token
    assert {t.id for t in ApiToken.objects.filter(id__in=[org.id])} == {org.id}
    force_login(client, people.admin)
    assert {t["id"] for t in client.get("/api/v1/accounts/tokens").json()} == {org.id}  # org tokens it administers
    assert client.delete(f"/api/v1/accounts/tokens/{org.id}").json()["revoked_at"] is not None
    assert client.delete(f"/api/v1/accounts/tokens/{org.id}").status_code == 200  # again: no change
    _envelope(client.delete(f"/api/v1/accounts/tokens/{personal.id}"), 404, "token_not_found")
    _envelope(client.delete("/api/v1/accounts/tokens/999999"), 404, "token_not_found")
    assert Event.objects.filter(kind="accounts.api_token_revoked", subject_id=str(org.id)).count() == 1


def test_an_organisation_token_acts_for_that_unit_only(client: Client, people: People) -> None:
    from weifei.accounts.models import Membership

    Membership.objects.create(user=people.member, enterprise=people.other_unit, role="member")
    member = actor_for(people.member)
    assert member.enterprise_ids == {people.unit.id, people.other_unit.id}
    token, text = api_token_create(actor=member, name="o", scopes=["read", "write"], organisation_id=people.unit.id)
    narrowed = actor_for(token)
    assert narrowed.enterprise_ids == {people.unit.id} and narrowed.memberships == {(people.unit.id, "member")}
    assert narrowed.read_only is False
    assert Client().get("/api/v1/accounts/me", **_bearer(text)).json()["enterprise_ids"] == [people.unit.id]
    # Leaving the unit leaves the token with nothing.
    Membership.objects.filter(user=people.member, enterprise=people.unit).delete()
    assert actor_for(ApiToken.objects.get(id=token.id)).enterprise_ids == frozenset()


def test_create_refuses_bad_input(client: Client, people: People, clock: Clock) -> None:
    force_login(client, people.member)
    _envelope(_create(client, name="", scopes=["read"]), 400, "name_invalid")
    _envelope(_create(client, name="x" * 101, scopes=["read"]), 400, "validation_error")
    _envelope(_create(client, name="x", scopes=[]), 400, "scopes_required")
    _envelope(_create(client, name="x", scopes=["admin"]), 400, "scope_invalid")
    other = people.other_unit.id
    _envelope(_create(client, name="x", scopes=["read"], organisation_id=other), 403, "organisation_forbidden")
    past = (clock.now - dt.timedelta(minutes=1)).isoformat()
    _envelope(_create(client, name="x", scopes=["read"], expires_at=past), 400, "expires_at_past")
    assert not ApiToken.objects.exists()
    with pytest.raises(PermissionDenied):
        from weifei.core.actors import PUBLIC

        api_token_create(actor=PUBLIC, name="x", scopes=["read"])
    with pytest.raises(ApplicationError):
        api_token_create(actor=actor_for(people.member), name="x", scopes="read")  # type: ignore[arg-type]


def test_token_endpoints_need_a_login(client: Client) -> None:
    _envelope(client.get("/api/v1/accounts/tokens"), 401, "unauthenticated")
    _envelope(_create(client, name="x"), 401, "unauthenticated")
    _envelope(client.delete("/api/v1/accounts/tokens/1"), 401, "unauthenticated")


def test_session_writes_need_the_csrf_token(people: People) -> None:
    client = Client(enforce_csrf_checks=True)
    force_login(client, people.admin)
    _envelope(_create(client, name="x", scopes=["read"]), 403, "csrf_failed")
    client.get("/")  # any page sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/accounts/tokens",
        json.dumps({"name": "x", "scopes": ["read"]}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 201
    # A token needs no CSRF token (it is not sent by browsers on their own).
    text = response.json()["token"]
    assert Client(enforce_csrf_checks=True).get("/api/v1/accounts/me", **_bearer(text)).status_code == 200


def test_tokens_stop_working_when_the_user_is_deactivated(people: People) -> None:
    _token, text = api_token_create(actor=actor_for(people.admin), name="t", scopes=["read"])
    people.admin.is_active = False
    people.admin.save()
    _envelope(Client().get("/api/v1/accounts/me", **_bearer(text)), 401, "token_invalid")


def test_expiry_must_be_in_the_future(people: People) -> None:
    with pytest.raises(ApplicationError, match="晚于"):
        api_token_create(actor=actor_for(people.admin), name="t", scopes=["read"], expires_at=timezone.now())


def test_the_tokens_page_creates_shows_once_and_revokes(client: Client, people: People) -> None:
    assert client.get("/account/tokens/")["Location"].startswith("/login/")
    force_login(client, people.admin)
    assert client.get("/account/tokens/").status_code == 200
    response = client.post(
        "/account/tokens/", {"name": "ERP", "write": "1", "organisation": str(people.unit.id), "expires_days": "90"}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    plaintext = response.context["plaintext"]
    assert plaintext in response.content.decode()
    token = ApiToken.objects.get()
    assert token.scopes == ["read", "write"] and token.organisation_id == people.unit.id
    assert token.expires_at is not None
    listing = client.get("/account/tokens/").content.decode()
    assert f"wf_{token.prefix}_…" in listing and plaintext not in listing

    bad = client.post("/account/tokens/", {"name": "", "expires_days": ""})
    assert bad.status_code == 400 and "令牌名称" in bad.content.decode()
    assert client.post("/account/tokens/", {"name": "x", "expires_days": "7"}).status_code == 400

    assert client.post(f"/account/tokens/{token.id}/revoke/")["Location"] == "/account/tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None
    client.logout()
    force_login(client, people.member)
    assert client.post(f"/account/tokens/{token.id}/revoke/").status_code == 404  # not its owner, not an admin
