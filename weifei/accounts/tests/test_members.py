"""Members and invitations: an enterprise's administrators invite (a one-time link, stored
hashed, with an expiry), change roles and remove members; a unit always keeps an administrator."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client

from weifei.accounts.models import Invitation, Membership
from weifei.accounts.selectors import actor_for, invitations_of, members_of
from weifei.accounts.services import (
    api_token_create,
    enterprise_user_create,
    invitation_accept,
    invitation_accept_new_user,
    invitation_create,
    invitation_revoke,
    membership_change_role,
    membership_remove,
)
from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event

from .conftest import PASSWORD, Clock, People

STRONG = "Qiang-mima-2026!"


def _invite(people: People, role: str = "member", **kw: Any) -> tuple[Invitation, str]:
    return invitation_create(actor=actor_for(people.admin), enterprise_id=people.unit.id, role=role, **kw)


def _membership(user: User, people: People) -> Membership:
    return Membership.objects.get(user=user, enterprise=people.unit)


def _outsider(people: People) -> User:
    """A member of the other unit (``member1x``): a logged-in unit user, not yet one of ours."""
    return User.objects.get(username="member1x")


def _envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "field"} and body["code"] == code, body
    return body


def _json(client: Client, method: str, url: str, body: Any = None, **extra: Any) -> Any:
    return client.generic(method, url, json.dumps(body or {}), content_type="application/json", **extra)


# ---- creating invitations ----------------------------------------------------------------------


def test_an_admin_invites_and_only_a_hash_of_the_token_is_kept(people: People) -> None:
    invitation, token = _invite(people, role="driver", email_or_username_hint=" zhao@example.com ")
    assert len(token) == 43
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert invitation.hint == "zhao@example.com" and invitation.role == "driver"
    assert invitation.status == "pending" and invitation.created_by == people.admin
    assert dt.timedelta(days=6, hours=23) < invitation.expires_at - invitation.created_at <= dt.timedelta(days=7)
    stored = json.dumps([list(r) for r in Invitation.objects.values_list()], default=str)
    assert token not in stored
    event = Event.objects.get(kind="accounts.invitation_created", subject_id=str(invitation.id))
    assert event.organisation_id == people.unit.id and event.actor_user_id == people.admin.id
    assert event.after["role"] == "driver" and token not in json.dumps(event.after)


def test_only_an_admin_of_the_unit_or_the_system_invites(people: People) -> None:
    with pytest.raises(PermissionDenied):
        invitation_create(actor=actor_for(people.member), enterprise_id=people.unit.id, role="member")
    with pytest.raises(PermissionDenied):  # a regulator sees the unit but does not manage it
        invitation_create(actor=actor_for(people.regulator), enterprise_id=people.unit.id, role="member")
    with pytest.raises(NotFound):  # another unit's member does not even learn that it exists
        invitation_create(actor=actor_for(_outsider(people)), enterprise_id=people.unit.id, role="member")
    invitation, _ = invitation_create(actor=SYSTEM, enterprise_id=people.unit.id, role="admin", expires_in_days=1)
    assert invitation.created_by is None
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"role": "owner"}, "role", "成员角色"),
        ({"role": "member", "expires_in_days": 0}, "expires_in_days", "有效期"),
        ({"role": "member", "expires_in_days": 31}, "expires_in_days", "有效期"),
        ({"role": "member", "email_or_username_hint": "x" * 151}, "email_or_username_hint", "邀请对象"),
    ],
)
def test_bad_invitation_input_is_refused_naming_the_field(
    people: People, kwargs: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ApplicationError) as caught:
        invitation_create(actor=actor_for(people.admin), enterprise_id=people.unit.id, **kwargs)
    assert caught.value.field == field and words in caught.value.message
    assert not Invitation.objects.exists()


# ---- accepting -------------------------------------------------------------------------------


def test_an_existing_user_accepts_and_joins_with_the_invited_role(people: People) -> None:
    invitation, token = _invite(people, role="reader")
    outsider = _outsider(people)
    membership = invitation_accept(token=token, user=outsider)
    assert membership.enterprise == people.unit and membership.role == "reader"
    invitation.refresh_from_db()
    assert invitation.status == "accepted" and invitation.accepted_by == outsider
    assert actor_for(outsider).role_in(people.unit.id) == "reader"
    kinds = set(Event.objects.filter(organisation_id=people.unit.id).values_list("kind", flat=True))
    assert {"accounts.invitation_accepted", "accounts.member_added"} <= kinds
    added = Event.objects.get(kind="accounts.member_added", subject_id=str(membership.id))
    assert added.after["via"] == "invitation" and added.actor_user_id == outsider.id


def test_an_invitation_is_used_once(people: People) -> None:
    _, token = _invite(people)
    invitation_accept(token=token, user=_outsider(people))
    newcomer = User.objects.create_user("newcomer", password=PASSWORD)
    with pytest.raises(ApplicationError) as caught:
        invitation_accept(token=token, user=newcomer)
    assert caught.value.code == "invitation_used" and "只能使用一次" in caught.value.message
    with pytest.raises(ApplicationError) as caught:
        invitation_accept_new_user(token=token, username="another", password=STRONG, full_name="又一人")
    assert caught.value.code == "invitation_used"
    assert not Membership.objects.filter(user=newcomer).exists() and not User.objects.filter(username="another")


def test_a_new_user_accepts_by_creating_an_account(people: People) -> None:
    invitation, token = _invite(people, role="driver")
    membership = invitation_accept_new_user(token=token, username=" Zhao.Si ", password=STRONG, full_name="赵四")
    user = membership.user
    assert user.username == "zhao.si" and user.first_name == "赵四" and user.check_password(STRONG)
    assert membership.role == "driver" and membership.enterprise == people.unit
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    assert Event.objects.filter(kind="accounts.user_created", subject_id=str(user.id)).exists()
    assert Event.objects.get(kind="accounts.member_added", subject_id=str(membership.id)).after["via"] == (
        "invitation_new_user"
    )


@pytest.mark.parametrize(
    ("username", "password", "full_name", "field", "words"),
    [
        ("zhaosi", "short", "赵四", "password", "密码不符合要求：至少需要 8 个字符"),
        ("zhaosi", "12345678901", "赵四", "password", "密码不符合要求：过于常见，容易被猜中；不能全是数字"),
        ("zhaosi", "zhaosi2026", "赵四", "password", "密码不符合要求：与用户名或姓名过于相似"),
        ("admin1", STRONG, "赵四", "username", "用户名 admin1 已被使用"),
        ("赵四", STRONG, "赵四", "username", "用户名"),
        ("zhaosi", STRONG, "  ", "full_name", "姓名"),
    ],
)
def test_a_refused_new_account_leaves_nothing_behind(
    people: People, username: str, password: str, full_name: str, field: str, words: str
) -> None:
    invitation, token = _invite(people)
    users, memberships, events = User.objects.count(), Membership.objects.count(), Event.objects.count()
    with pytest.raises(ApplicationError) as caught:
        invitation_accept_new_user(token=token, username=username, password=password, full_name=full_name)
    assert caught.value.field == field and words in caught.value.message, caught.value.message
    assert "password" not in caught.value.message.lower()  # no untranslated validator text
    assert (User.objects.count(), Membership.objects.count(), Event.objects.count()) == (users, memberships, events)
    invitation.refresh_from_db()
    assert invitation.status == "pending"  # still usable once the person fixes the form


def test_an_expired_invitation_is_refused(people: People, clock: Clock) -> None:
    invitation, token = _invite(people, expires_in_days=1)
    clock.advance(days=1, seconds=1)
    assert invitation.status == "expired"
    with pytest.raises(ApplicationError) as caught:
        invitation_accept(token=token, user=_outsider(people))
    assert caught.value.code == "invitation_expired" and "已于" in caught.value.message
    assert "过期" in caught.value.message and "北京时间" in caught.value.message
    with pytest.raises(ApplicationError):
        invitation_accept_new_user(token=token, username="late", password=STRONG, full_name="迟到")
    assert not Membership.objects.filter(user__username__in=["member1x", "late"], enterprise=people.unit).exists()


def test_an_unknown_token_is_not_found(people: People) -> None:
    with pytest.raises(NotFound) as caught:
        invitation_accept(token="x" * 43, user=_outsider(people))
    assert caught.value.code == "invitation_invalid" and "邀请链接无效" in caught.value.message


def test_members_and_regulators_cannot_accept(people: People) -> None:
    invitation, token = _invite(people, role="admin")
    with pytest.raises(ApplicationError) as caught:
        invitation_accept(token=token, user=people.member)
    assert caught.value.code == "already_member" and _membership(people.member, people).role == "member"
    with pytest.raises(PermissionDenied) as denied:
        invitation_accept(token=token, user=people.regulator)
    assert "监管部门账户不能加入单位" in denied.value.message
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_revoking(people: People) -> None:
    invitation, token = _invite(people)
    with pytest.raises(PermissionDenied):
        invitation_revoke(actor=actor_for(people.member), invitation_id=invitation.id)
    with pytest.raises(NotFound):
        invitation_revoke(actor=actor_for(_outsider(people)), invitation_id=invitation.id)
    revoked = invitation_revoke(actor=actor_for(people.admin), invitation_id=invitation.id)
    assert revoked.status == "revoked"
    again = invitation_revoke(actor=actor_for(people.admin), invitation_id=invitation.id)
    assert again.revoked_at == revoked.revoked_at
    assert Event.objects.filter(kind="accounts.invitation_revoked").count() == 1
    with pytest.raises(ApplicationError) as caught:
        invitation_accept(token=token, user=_outsider(people))
    assert caught.value.code == "invitation_revoked" and "撤销" in caught.value.message

    used, used_token = _invite(people)
    invitation_accept(token=used_token, user=_outsider(people))
    with pytest.raises(ApplicationError) as caught:
        invitation_revoke(actor=actor_for(people.admin), invitation_id=used.id)
    assert caught.value.code == "invitation_used"


# ---- managing members ------------------------------------------------------------------------


def test_an_admin_changes_roles_and_the_event_records_before_and_after(people: People) -> None:
    membership = _membership(people.member, people)
    changed = membership_change_role(actor=actor_for(people.admin), membership_id=membership.id, role="driver")
    assert changed.role == "driver"
    event = Event.objects.get(kind="accounts.member_role_changed")
    assert event.before["role"] == "member" and event.after["role"] == "driver"
    assert event.organisation_id == people.unit.id
    # the same role again: nothing to record
    membership_change_role(actor=actor_for(people.admin), membership_id=membership.id, role="driver")
    assert Event.objects.filter(kind="accounts.member_role_changed").count() == 1
    with pytest.raises(ApplicationError) as caught:
        membership_change_role(actor=actor_for(people.admin), membership_id=membership.id, role="boss")
    assert caught.value.field == "role" and "成员角色" in caught.value.message


def test_only_admins_manage_members(people: People) -> None:
    admin_membership = _membership(people.admin, people)
    for user, error in (
        (people.member, PermissionDenied),
        (people.regulator, PermissionDenied),
        (_outsider(people), NotFound),
    ):
        with pytest.raises(error):
            membership_change_role(actor=actor_for(user), membership_id=admin_membership.id, role="reader")
        with pytest.raises(error):
            membership_remove(actor=actor_for(user), membership_id=admin_membership.id)
    assert _membership(people.admin, people).role == "admin"


def test_a_unit_keeps_at_least_one_admin(people: People) -> None:
    admin = _membership(people.admin, people)
    with pytest.raises(ApplicationError) as caught:
        membership_change_role(actor=actor_for(people.admin), membership_id=admin.id, role="member")
    assert caught.value.code == "last_admin" and "唯一的管理员" in caught.value.message
    with pytest.raises(ApplicationError) as caught:
        membership_remove(actor=actor_for(people.admin), membership_id=admin.id)
    assert caught.value.code == "last_admin"
    with pytest.raises(ApplicationError):  # the system keeps the rule too
        membership_remove(actor=SYSTEM, membership_id=admin.id)

    # An inactive second admin does not count: nobody could log in to manage the unit.
    second = enterprise_user_create(
        actor=SYSTEM, enterprise=people.unit, username="admin2", password=PASSWORD, full_name="二", role="admin"
    )
    second.user.is_active = False
    second.user.save()
    with pytest.raises(ApplicationError):
        membership_remove(actor=actor_for(people.admin), membership_id=admin.id)

    second.user.is_active = True
    second.user.save()
    membership_change_role(actor=actor_for(people.admin), membership_id=admin.id, role="member")  # demotes itself
    with pytest.raises(PermissionDenied):  # … and manages nothing any more
        membership_remove(actor=actor_for(people.admin), membership_id=second.id)
    with pytest.raises(ApplicationError):  # the remaining admin cannot leave either
        membership_remove(actor=actor_for(second.user), membership_id=second.id)


def test_an_admin_may_leave_while_another_admin_remains(people: People) -> None:
    enterprise_user_create(
        actor=SYSTEM, enterprise=people.unit, username="admin2", password=PASSWORD, full_name="二", role="admin"
    )
    admin = _membership(people.admin, people)
    membership_remove(actor=actor_for(people.admin), membership_id=admin.id)
    assert not Membership.objects.filter(user=people.admin, enterprise=people.unit).exists()
    assert actor_for(people.admin).enterprise_ids == frozenset()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite admits one writer at a time: no race")
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(people: People) -> None:
    """The second demotion waits for the first (the unit's row is locked) and then finds that
    its actor is no longer an administrator — without the lock both would pass the check."""
    second = enterprise_user_create(
        actor=SYSTEM, enterprise=people.unit, username="admin2", password=PASSWORD, full_name="二", role="admin"
    )
    first = _membership(people.admin, people)
    first_actor, second_actor = actor_for(people.admin), actor_for(second.user)  # both read as admins
    first_changed, outcome, timeline = threading.Event(), {}, {}

    def demote_second() -> None:
        try:
            with transaction.atomic():
                membership_change_role(actor=first_actor, membership_id=second.id, role="member")
                first_changed.set()
                time.sleep(0.5)  # the other demotion is now waiting for this transaction
                timeline["first_commit"] = time.monotonic()
            outcome["first"] = "ok"
        except Exception as exc:  # reported by the main thread
            outcome["first"] = repr(exc)
        finally:
            connection.close()

    def demote_first() -> None:
        first_changed.wait(5)
        try:
            membership_change_role(actor=second_actor, membership_id=first.id, role="member")
            outcome["second"] = "ok"
        except ApplicationError as exc:
            timeline["second_refused"] = time.monotonic()
            outcome["second"] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=demote_second), threading.Thread(target=demote_first)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcome == {"first": "ok", "second": "forbidden"}
    assert timeline["first_commit"] < timeline["second_refused"]
    admins = Membership.objects.filter(enterprise=people.unit, role="admin").values_list("user__username", flat=True)
    assert list(admins) == ["admin1"]


def test_removing_a_member_revokes_its_organisation_tokens_for_that_unit(people: People) -> None:
    other = people.other_unit
    Membership.objects.create(user=people.member, enterprise=other, role="member")
    member_actor = actor_for(people.member)
    org_token, org_plain = api_token_create(
        actor=member_actor, name="本单位", scopes=["read"], organisation_id=people.unit.id
    )
    other_token, _ = api_token_create(actor=member_actor, name="他单位", scopes=["read"], organisation_id=other.id)
    personal, personal_plain = api_token_create(actor=member_actor, name="个人", scopes=["read"])
    membership = _membership(people.member, people)

    membership_remove(actor=actor_for(people.admin), membership_id=membership.id)

    assert not Membership.objects.filter(id=membership.id).exists()
    org_token.refresh_from_db()
    other_token.refresh_from_db()
    personal.refresh_from_db()
    assert org_token.revoked_at is not None
    assert other_token.revoked_at is None and personal.revoked_at is None
    revoked = Event.objects.get(kind="accounts.api_token_revoked", subject_id=str(org_token.id))
    assert revoked.organisation_id == people.unit.id and "移出" in revoked.reason
    removed = Event.objects.get(kind="accounts.member_removed", subject_id=str(membership.id))
    assert removed.before == {"username": "member1", "role": "member"} and removed.actor_user_id == people.admin.id

    client = Client()
    refused = client.get("/api/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {org_plain}")
    _envelope(refused, 401, "token_invalid")
    me = client.get("/api/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {personal_plain}").json()
    assert me["enterprise_ids"] == [other.id]  # the personal token follows the memberships


def test_members_of_is_scoped_by_the_actor(people: People) -> None:
    names = {m.user.username for m in members_of(actor=actor_for(people.member), enterprise_id=people.unit.id)}
    assert names == {"admin1", "member1"}
    assert members_of(actor=actor_for(people.regulator), enterprise_id=people.unit.id).count() == 2
    with pytest.raises(NotFound):
        members_of(actor=actor_for(_outsider(people)), enterprise_id=people.unit.id)
    _invite(people)
    assert invitations_of(actor=actor_for(people.admin), enterprise_id=people.unit.id).count() == 1
    with pytest.raises(PermissionDenied):
        invitations_of(actor=actor_for(people.member), enterprise_id=people.unit.id)
    with pytest.raises(PermissionDenied):
        invitations_of(actor=actor_for(people.regulator), enterprise_id=people.unit.id)


# ---- API ------------------------------------------------------------------------------------


def test_api_invite_accept_and_manage(people: People) -> None:
    admin = Client()
    force_login(admin, people.admin)
    base = f"/api/v1/accounts/enterprises/{people.unit.id}"
    created = _json(admin, "POST", f"{base}/invitations", {"role": "driver", "email_or_username_hint": "赵四"})
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    body = created.json()
    assert body["status"] == "pending" and body["url"].endswith(f"/account/invitations/{body['token']}/")
    listed = admin.get(f"{base}/invitations").json()
    assert [i["id"] for i in listed] == [body["id"]] and "token" not in listed[0]

    joined = _json(
        Client(),
        "POST",
        "/api/v1/accounts/invitations/accept-new",
        {"token": body["token"], "username": "zhaosi", "password": STRONG, "full_name": "赵四"},
    )
    assert joined.status_code == 201 and joined.json()["role"] == "driver"
    reused = _json(
        Client(),
        "POST",
        "/api/v1/accounts/invitations/accept-new",
        {"token": body["token"], "username": "qianwu", "password": STRONG, "full_name": "钱五"},
    )
    assert _envelope(reused, 400, "invitation_used")["field"] == "token"

    members = admin.get(f"{base}/members").json()
    driver = next(m for m in members if m["username"] == "zhaosi")
    assert driver["role_name"] == "驾驶员" and driver["full_name"] == "赵四"
    patched = _json(admin, "PATCH", f"/api/v1/accounts/members/{driver['id']}", {"role": "reader"})
    assert patched.status_code == 200 and patched.json()["role"] == "reader"
    admin_id = next(m["id"] for m in members if m["username"] == "admin1")
    last = _json(admin, "PATCH", f"/api/v1/accounts/members/{admin_id}", {"role": "member"})
    assert _envelope(last, 400, "last_admin")["field"] == "role"
    gone = admin.delete(f"/api/v1/accounts/members/{driver['id']}")
    assert gone.status_code == 204
    assert {m["username"] for m in admin.get(f"{base}/members").json()} == {"admin1", "member1"}


def test_api_accept_by_a_logged_in_user_and_refusals(people: People) -> None:
    _, token = _invite(people, role="member")
    outsider = Client()
    force_login(outsider, _outsider(people))
    anonymous = _json(Client(), "POST", "/api/v1/accounts/invitations/accept", {"token": token})
    _envelope(anonymous, 401, "unauthenticated")
    accepted = _json(outsider, "POST", "/api/v1/accounts/invitations/accept", {"token": token})
    assert accepted.status_code == 201 and accepted.json()["enterprise_id"] == people.unit.id
    member = Client()
    force_login(member, people.member)
    _, second = _invite(people)
    _envelope(_json(member, "POST", "/api/v1/accounts/invitations/accept", {"token": second}), 400, "already_member")
    _envelope(
        _json(member, "POST", "/api/v1/accounts/invitations/accept", {"token": "nope"}), 404, "invitation_invalid"
    )
    weak = _json(
        Client(),
        "POST",
        "/api/v1/accounts/invitations/accept-new",
        {"token": second, "username": "weakling", "password": "123", "full_name": "弱"},
    )
    assert "密码不符合要求" in _envelope(weak, 400, "password_weak")["message"]
    assert not User.objects.filter(username="weakling").exists()


def test_api_invitations_need_an_admin_and_a_person(people: People) -> None:
    base = f"/api/v1/accounts/enterprises/{people.unit.id}"
    member = Client()
    force_login(member, people.member)
    _envelope(_json(member, "POST", f"{base}/invitations", {"role": "admin"}), 403, "forbidden")
    _envelope(member.get(f"{base}/invitations"), 403, "forbidden")
    outsider = Client()
    force_login(outsider, _outsider(people))
    _envelope(outsider.get(f"{base}/members"), 404, "not_found")
    # An admin's write token may manage members but not hand out new logins (session only).
    _, plain = api_token_create(actor=actor_for(people.admin), name="erp", scopes=["read", "write"])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    _envelope(_json(Client(), "POST", f"{base}/invitations", {"role": "admin"}, **bearer), 401, "unauthenticated")
    assert Client().get(f"{base}/invitations", **bearer).status_code == 200
    bad = _json(Client(), "PATCH", f"/api/v1/accounts/members/{_membership(people.member, people).id}", {}, **bearer)
    _envelope(bad, 400, "validation_error")


# ---- pages ----------------------------------------------------------------------------------


def test_members_page_invites_and_shows_the_link_once(people: People) -> None:
    client = Client()
    force_login(client, people.admin)
    url = f"/account/enterprises/{people.unit.id}/members/"
    page = client.get(url)
    assert page.status_code == 200 and "member1" in page.content.decode() and "邀请成员" in page.content.decode()
    created = client.post(url, {"role": "reader", "email_or_username_hint": "qian@example.com", "expires_in_days": "3"})
    html = created.content.decode()
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    assert 'data-testid="invitation-link"' in html
    invitation = Invitation.objects.get()
    assert invitation.role == "reader" and invitation.hint == "qian@example.com"
    link = html.split("/account/invitations/")[1].split("/")[0]
    assert invitation.token_hash == hashlib.sha256(link.encode()).hexdigest()
    assert link not in client.get(url).content.decode()  # shown once

    refused = client.post(url, {"role": "boss", "expires_in_days": "7"})
    assert refused.status_code == 400 and "成员角色" in refused.content.decode()

    member = Client()
    force_login(member, people.member)
    seen = member.get(url).content.decode()
    assert "邀请成员" not in seen and "qian@example.com" not in seen  # members see members only
    assert member.post(url, {"role": "admin", "expires_in_days": "7"}).status_code == 403


def test_members_page_role_and_remove_forms(people: People) -> None:
    client = Client()
    force_login(client, people.admin)
    membership = _membership(people.member, people)
    response = client.post(f"/account/members/{membership.id}/role/", {"role": "admin"}, follow=True)
    assert "角色已改为管理员" in response.content.decode()
    demoted = client.post(f"/account/members/{membership.id}/role/", {"role": "reader"}, follow=True)
    assert "角色已改为只读" in demoted.content.decode()
    client.post(f"/account/members/{membership.id}/role/", {"role": "admin"})
    admin = _membership(people.admin, people)
    left = client.post(f"/account/members/{admin.id}/remove/")
    assert left.status_code == 302 and left["Location"] == "/home/"  # no longer sees the members page
    assert not Membership.objects.filter(id=admin.id).exists()
    member = Client()
    force_login(member, people.member)
    last = client.post(f"/account/members/{membership.id}/remove/")
    assert last.status_code == 404  # admin1 is no longer a member: the unit is out of sight
    response = member.post(f"/account/members/{membership.id}/remove/", follow=True)
    assert "唯一的管理员" in response.content.decode()


def test_invitation_page_for_a_newcomer(people: People) -> None:
    _, token = _invite(people, role="member", email_or_username_hint="sun")
    client = Client()
    url = f"/account/invitations/{token}/"
    page = client.get(url).content.decode()
    assert "长春测试汽车零部件有限公司 邀请你以“成员”身份加入" in page and 'data-testid="accept-new-form"' in page
    weak = client.post(url, {"username": "sunqi", "password": "123", "full_name": "孙七"})
    assert weak.status_code == 400 and "密码不符合要求" in weak.content.decode()
    assert not User.objects.filter(username="sunqi").exists()
    done = client.post(url, {"username": "sunqi", "password": STRONG, "full_name": "孙七"})
    assert done.status_code == 302 and done["Location"] == f"/registry/enterprises/{people.unit.id}/"
    assert client.get(done["Location"]).status_code == 200  # logged in, and a member
    again = Client().get(url)
    assert again.status_code == 200 and "只能使用一次" in again.content.decode()
    assert Client().get("/account/invitations/not-a-token/").status_code == 404


def test_invitation_page_for_a_logged_in_user(people: People) -> None:
    _, token = _invite(people, role="reader")
    client = Client()
    force_login(client, _outsider(people))
    url = f"/account/invitations/{token}/"
    assert 'data-testid="join-form"' in client.get(url).content.decode()
    joined = client.post(url)
    assert joined.status_code == 302 and _membership(_outsider(people), people).role == "reader"
    regulator = Client()
    force_login(regulator, people.regulator)
    _, other = _invite(people)
    assert "监管部门账户不能加入单位" in regulator.get(f"/account/invitations/{other}/").content.decode()
    assert regulator.post(f"/account/invitations/{other}/").status_code == 403


def test_enterprise_profile_links_the_members_page_for_admins_only(people: People) -> None:
    url = f"/registry/enterprises/{people.unit.id}/"
    for user, shown in ((people.admin, True), (people.member, False), (people.regulator, False)):
        client = Client()
        force_login(client, user)
        assert ('data-testid="members-link"' in client.get(url).content.decode()) is shown, user
