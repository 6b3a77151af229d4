"""The demo stays usable: demo regulators get a re-derivable TOTP secret that ``demo-logins``
prints, and ``totp-code`` shows the current code in DEBUG demo environments only."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone

from weifei.accounts import totp
from weifei.accounts.models import TotpDevice
from weifei.accounts.services import regulator_account_create, totp_demo_enrol, totp_device_reset
from weifei.accounts.testing import login, totp_enrol
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.models import Event
from weifei.registry.demo import DEMO_PASSWORD

from .conftest import PASSWORD, People


@pytest.fixture
def demo_regulator(reference: None) -> User:
    return regulator_account_create(
        actor=SYSTEM,
        username="changchun",  # a name from the demo plan
        password=DEMO_PASSWORD,
        full_name="长春市局",
        region_key="220100",
        department="固体废物科",
    ).user


def test_demo_logins_enrols_demo_regulators_and_prints_their_secret(demo_regulator: User) -> None:
    out = StringIO()
    call_command("demo_logins", stdout=out)
    secret = totp.demo_secret("changchun")
    assert totp.grouped(secret) in out.getvalue() and "动态口令" in out.getvalue()
    assert TotpDevice.objects.get(user=demo_regulator).confirmed
    call_command("demo_logins", stdout=StringIO())  # again: same secret, no second enrolment
    assert Event.objects.filter(kind="accounts.totp_enrolled", subject_id=str(demo_regulator.pk)).count() == 1

    # The printed secret is what an authenticator app would be given: it logs in.
    client = Client()
    client.post("/login/", {"username": "changchun", "password": DEMO_PASSWORD})
    code = totp.code_at(secret, totp.time_step(timezone.now()))
    assert client.post("/login/totp/", {"code": code})["Location"] == "/home/"


def test_demo_enrolment_refuses_real_accounts(people: People) -> None:
    with pytest.raises(PermissionDenied, match="不是演示账户"):
        totp_demo_enrol(actor=SYSTEM, user=people.regulator)  # its password is not the demo one
    assert not TotpDevice.objects.exists()


def test_demo_enrolment_leaves_a_device_of_ones_own_alone(demo_regulator: User) -> None:
    totp_enrol(demo_regulator)
    with pytest.raises(ApplicationError, match="已绑定"):
        totp_demo_enrol(actor=SYSTEM, user=demo_regulator)
    out = StringIO()
    call_command("demo_logins", stdout=out)
    assert "已绑定自己的动态口令设备" in out.getvalue()


def test_totp_code_needs_debug_and_a_demo_secret(demo_regulator: User, people: People) -> None:
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("totp_code", "changchun", stdout=StringIO())
    with override_settings(DEBUG=True):
        with pytest.raises(CommandError, match="没有已绑定"):
            call_command("totp_code", "changchun", stdout=StringIO())
        totp_demo_enrol(actor=SYSTEM, user=demo_regulator)
        out = StringIO()
        call_command("totp_code", "changchun", stdout=out)
        code = out.getvalue().split()[0]
        assert code.isdigit() and len(code) == 6
        totp_enrol(people.regulator)
        with pytest.raises(CommandError, match="不是以演示密钥"):
            call_command("totp_code", "sheng", stdout=StringIO())


def test_a_lost_phone_is_reset_by_the_system(people: People) -> None:
    totp_enrol(people.regulator)
    with pytest.raises(ApplicationError, match="原因"):
        totp_device_reset(actor=SYSTEM, username="sheng", reason=" ")
    call_command("totp_reset", "sheng", reason="手机遗失（工单 2026-118）", stdout=StringIO())
    assert not TotpDevice.objects.exists()
    assert Event.objects.filter(kind="accounts.totp_reset", reason__contains="手机遗失").exists()
    with pytest.raises(CommandError, match="没有动态口令设备"):
        call_command("totp_reset", "sheng", reason="again", stdout=StringIO())
    client = Client()
    login(client, "sheng", PASSWORD)  # enrols anew on the next login
    assert TotpDevice.objects.get(user=people.regulator).confirmed
