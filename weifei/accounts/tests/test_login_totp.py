"""Regulators log in with a password and then a TOTP code; nobody else needs one."""

from __future__ import annotations

import pytest
from django.test import Client

from weifei.accounts import totp
from weifei.accounts.models import TotpDevice
from weifei.accounts.services import totp_device_secret
from weifei.accounts.sessions import VERIFIED_KEY
from weifei.accounts.testing import force_login, totp_enrol
from weifei.core.models import Event

from .conftest import PASSWORD, Clock, People


def _code(secret: str, clock: Clock, steps: int = 0) -> str:
    return totp.code_at(secret, totp.time_step(clock.now) + steps)


def _password(client: Client, username: str, password: str = PASSWORD, next_url: str = "") -> str:
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    response = client.post("/login/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    return str(response["Location"])


def _logged_in(client: Client) -> bool:
    return client.get("/home/").status_code == 302 and not client.get("/home/")["Location"].startswith("/login/")


def test_enrolment_then_code_logs_a_regulator_in(client: Client, people: People, clock: Clock) -> None:
    assert _password(client, "sheng") == "/login/totp/"
    assert not _logged_in(client)  # the password alone logs nobody in
    assert client.get("/login/totp/")["Location"] == "/login/totp/enrol/"

    page = client.get("/login/totp/enrol/")
    assert page.status_code == 200
    secret = page.context["secret"]
    body = page.content.decode()
    assert totp.grouped(secret) in body and "otpauth://totp/" in body and f"secret={secret}" in body
    assert client.get("/login/totp/enrol/").context["secret"] == secret  # same secret until confirmed
    device = TotpDevice.objects.get(user=people.regulator)
    assert not device.confirmed and secret not in device.secret_sealed  # sealed at rest
    assert totp_device_secret(device) == secret

    wrong = client.post("/login/totp/enrol/", {"code": "12345"})
    assert wrong.status_code == 200 and "动态口令不正确" in wrong.content.decode()
    assert not _logged_in(client)

    done = client.post("/login/totp/enrol/", {"code": _code(secret, clock)})
    assert done.status_code == 302 and done["Location"] == "/home/"
    assert client.get("/home/")["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert client.session[VERIFIED_KEY] == people.regulator.pk
    assert TotpDevice.objects.get(user=people.regulator).confirmed

    mine = Event.objects.filter(subject_type="auth.user", subject_id=str(people.regulator.pk))
    kinds = set(mine.values_list("kind", flat=True))
    assert {"accounts.totp_enrolment_started", "accounts.totp_enrolled", "accounts.logged_in"} <= kinds

    # Next time: password, then the code page (no enrolment any more).
    client.post("/logout/")
    clock.advance(seconds=30)
    assert _password(client, "sheng") == "/login/totp/"
    assert client.get("/login/totp/enrol/")["Location"] == "/login/totp/"
    response = client.post("/login/totp/", {"code": _code(secret, clock)[:3] + " " + _code(secret, clock)[3:]})
    assert response.status_code == 302 and response["Location"] == "/home/"
    assert _logged_in(client)


def test_wrong_code_is_refused_and_counts(client: Client, people: People, clock: Clock) -> None:
    totp_enrol(people.regulator)
    _password(client, "sheng")
    for code in ("000000", "abcdef", "", "1234567"):
        response = client.post("/login/totp/", {"code": code})
        assert response.status_code == 200 and "动态口令不正确" in response.content.decode(), code
    assert not _logged_in(client)


def test_the_same_code_is_refused_in_the_same_step(client: Client, people: People, clock: Clock) -> None:
    secret = totp_enrol(people.regulator)
    _password(client, "sheng")
    code = _code(secret, clock)
    assert client.post("/login/totp/", {"code": code}).status_code == 302
    client.post("/logout/")

    clock.advance(seconds=10)  # still the same 30 s step
    _password(client, "sheng")
    replay = client.post("/login/totp/", {"code": code})
    assert replay.status_code == 200 and "已经用过" in replay.content.decode()
    assert not _logged_in(client)
    # An older code (previous step, inside the window) is no good after a newer one either.
    assert "动态口令" in client.post("/login/totp/", {"code": _code(secret, clock, -1)}).content.decode()

    clock.advance(seconds=30)
    assert client.post("/login/totp/", {"code": _code(secret, clock)}).status_code == 302
    assert _logged_in(client)


def test_codes_from_the_neighbouring_steps_are_accepted(client: Client, people: People, clock: Clock) -> None:
    secret = totp_enrol(people.regulator)
    _password(client, "sheng")
    assert client.post("/login/totp/", {"code": _code(secret, clock, -2)}).status_code == 200  # too old
    assert client.post("/login/totp/", {"code": _code(secret, clock, 1)}).status_code == 302  # clock drift


def test_the_second_step_expires_after_five_minutes(client: Client, people: People, clock: Clock) -> None:
    secret = totp_enrol(people.regulator)
    _password(client, "sheng")
    clock.advance(seconds=301)
    response = client.post("/login/totp/", {"code": _code(secret, clock)})
    assert response.status_code == 302 and response["Location"] == "/login/?expired=1"
    assert "登录已超时" in client.get(response["Location"]).content.decode()
    assert not _logged_in(client)


def test_second_step_pages_need_a_password_first(client: Client, people: People) -> None:
    for url in ("/login/totp/", "/login/totp/enrol/"):
        assert client.get(url)["Location"] == "/login/?expired=1"
        assert client.post(url, {"code": "123456"})["Location"] == "/login/?expired=1"


def test_the_next_page_survives_the_second_step(client: Client, people: People, clock: Clock) -> None:
    secret = totp_enrol(people.regulator)
    assert _password(client, "sheng", next_url="/dashboard/") == "/login/totp/"
    assert client.post("/login/totp/", {"code": _code(secret, clock)})["Location"] == "/dashboard/"
    client.post("/logout/")
    clock.advance(seconds=30)
    _password(client, "sheng", next_url="https://evil.example/")
    assert client.post("/login/totp/", {"code": _code(secret, clock)})["Location"] == "/home/"


def test_units_log_in_with_the_password_only(client: Client, people: People) -> None:
    assert _password(client, "admin1") == "/home/"
    assert client.get("/home/")["Location"] == "/enterprise/"
    event = Event.objects.filter(kind="accounts.logged_in", subject_id=str(people.admin.pk)).get()
    assert event.after == {"second_factor": "none"}


def test_a_regulator_session_without_the_code_is_logged_out(client: Client, people: People) -> None:
    """Client.login, the admin's login form or any other way to a session: no code, no session."""
    assert client.login(username="sheng", password=PASSWORD)
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session
    assert client.login(username="sheng", password=PASSWORD)
    assert client.get("/api/v1/accounts/me").json()["kind"] == "public"
    # The admin's own login form makes such a session too; it does not survive either.
    people.regulator.is_staff = True
    people.regulator.save()
    client.post("/admin/login/", {"username": "sheng", "password": PASSWORD, "next": "/admin/"})
    assert client.get("/admin/").status_code == 302


def test_force_login_helper_marks_the_second_factor(client: Client, people: People) -> None:
    force_login(client, people.regulator)
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/api/v1/accounts/me").json()["kind"] == "regulator"


@pytest.mark.parametrize("url", ["/login/totp/", "/login/totp/enrol/"])
def test_second_step_pages_do_not_answer_other_methods(client: Client, url: str) -> None:
    assert client.put(url).status_code == 405
