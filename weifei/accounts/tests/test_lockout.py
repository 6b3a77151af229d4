"""Five consecutive failures (password or code) within 15 minutes lock the account for 15
minutes; the same messages for a user name that exists and one that does not."""

from __future__ import annotations

import datetime as dt
import re

from django.test import Client
from django.utils import timezone

from weifei.accounts import totp
from weifei.accounts.models import LoginThrottle
from weifei.accounts.services import (
    SHANGHAI,
    login_failure_record,
    login_throttles_purge,
)
from weifei.accounts.testing import totp_enrol
from weifei.core.models import Event

from .conftest import PASSWORD, Clock, People

GENERIC = "用户名或密码不正确，请重新输入。"


def _attempt(client: Client, username: str, password: str) -> tuple[int, str]:
    response = client.post("/login/", {"username": username, "password": password})
    if response.status_code == 302:
        return 302, response["Location"]
    return response.status_code, response.context["login_error"]


def test_five_wrong_passwords_lock_for_fifteen_minutes(client: Client, people: People, clock: Clock) -> None:
    for _ in range(4):
        assert _attempt(client, "admin1", "wrong") == (200, GENERIC)
    status, message = _attempt(client, "admin1", "wrong")
    until = timezone.localtime(clock.now + dt.timedelta(minutes=15), SHANGHAI)
    assert status == 200 and message.startswith("账户已锁定")
    assert f"{until:%Y-%m-%d %H:%M}（北京时间）" in message
    # While locked even the right password is refused, with the same message.
    assert _attempt(client, "admin1", PASSWORD) == (200, message)
    clock.advance(minutes=14, seconds=59)
    assert _attempt(client, "admin1", PASSWORD)[1].startswith("账户已锁定")
    clock.advance(seconds=2)
    assert _attempt(client, "admin1", PASSWORD) == (302, "/home/")

    event = Event.objects.get(kind="accounts.login_locked")
    assert event.subject_type == "auth.user" and event.subject_id == str(people.admin.pk)
    assert event.after["username"] == "admin1"


def test_unknown_user_names_get_the_same_messages_and_lock_alike(client: Client, people: People, clock: Clock) -> None:
    known = [_attempt(client, "admin1", "wrong") for _ in range(5)]
    unknown = [_attempt(client, "nobody-here", "wrong") for _ in range(5)]
    assert [s for s, _ in known] == [s for s, _ in unknown] == [200] * 5
    assert [m for _, m in known[:4]] == [m for _, m in unknown[:4]] == [GENERIC] * 4
    assert known[4][1] == unknown[4][1] and known[4][1].startswith("账户已锁定")
    # The page shows nothing else that would tell them apart.
    a = client.post("/login/", {"username": "admin1", "password": "x"}).content.decode()
    b = client.post("/login/", {"username": "nobody-here", "password": "x"}).content.decode()
    csrf = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[A-Za-z0-9]+')
    assert csrf.sub("", a).replace("admin1", "NAME") == csrf.sub("", b).replace("nobody-here", "NAME")


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(
    client: Client, people: People, clock: Clock
) -> None:
    for _ in range(4):
        _attempt(client, "admin1", "wrong")
    clock.advance(minutes=16)
    for _ in range(4):
        assert _attempt(client, "admin1", "wrong") == (200, GENERIC)
    assert _attempt(client, "admin1", PASSWORD) == (302, "/home/")


def test_a_successful_login_resets_the_count(client: Client, people: People, clock: Clock) -> None:
    for _ in range(4):
        _attempt(client, "admin1", "wrong")
    assert _attempt(client, "admin1", PASSWORD) == (302, "/home/")
    client.post("/logout/")
    for _ in range(4):
        assert _attempt(client, "admin1", "wrong") == (200, GENERIC)
    assert not LoginThrottle.objects.filter(username="admin1", locked_until__isnull=False).exists()


def test_wrong_codes_count_towards_the_lock(client: Client, people: People, clock: Clock) -> None:
    secret = totp_enrol(people.regulator)
    _attempt(client, "sheng", "wrong")  # one wrong password ...
    assert _attempt(client, "sheng", PASSWORD) == (302, "/login/totp/")  # ... a right one does not reset
    for _ in range(3):
        assert client.post("/login/totp/", {"code": "000000"}).status_code == 200
    locked = client.post("/login/totp/", {"code": "000000"})  # the fifth failure
    assert locked.status_code == 403 and "账户已锁定" in locked.content.decode()
    # The pending login is gone; the right code does not help now, nor does the password.
    good = totp.code_at(secret, totp.time_step(clock.now))
    assert client.post("/login/totp/", {"code": good})["Location"] == "/login/?expired=1"
    assert _attempt(client, "sheng", PASSWORD)[1].startswith("账户已锁定")
    clock.advance(minutes=15, seconds=1)
    assert _attempt(client, "sheng", PASSWORD) == (302, "/login/totp/")
    assert client.post("/login/totp/", {"code": totp.code_at(secret, totp.time_step(clock.now))}).status_code == 302


def test_a_lock_that_starts_during_the_code_step_stops_it(client: Client, people: People, clock: Clock) -> None:
    totp_enrol(people.regulator)
    assert _attempt(client, "sheng", PASSWORD) == (302, "/login/totp/")
    for _ in range(5):
        login_failure_record(username="sheng")  # e.g. someone else guessing the password meanwhile
    response = client.get("/login/totp/")
    assert response.status_code == 403 and "账户已锁定" in response.content.decode()
    assert client.get("/login/totp/")["Location"] == "/login/?expired=1"


def test_the_enrolment_page_shows_no_secret_to_a_locked_account(client: Client, people: People, clock: Clock) -> None:
    assert _attempt(client, "sheng", PASSWORD) == (302, "/login/totp/")
    for _ in range(5):
        login_failure_record(username="sheng")
    response = client.get("/login/totp/enrol/")
    assert response.status_code == 403 and "secret" not in response.context
    assert "otpauth://" not in response.content.decode()


def test_the_service_with_an_explicit_clock(people: People) -> None:
    start = timezone.now()
    results = [login_failure_record(username="x", now=start + dt.timedelta(minutes=i)) for i in range(5)]
    assert results[:4] == [None] * 4 and results[4] == start + dt.timedelta(minutes=4 + 15)
    # Attempts while locked neither extend the lock nor count.
    assert login_failure_record(username="x", now=start + dt.timedelta(minutes=10)) == results[4]
    assert LoginThrottle.objects.get(username="x").failures == 0
    assert login_throttles_purge(now=start + dt.timedelta(minutes=30)) == 1
