"""The API under /api/v1/notify/ and the pages under /notifications/, as the acting users."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from weifei.accounts.testing import force_login
from weifei.core.actors import SYSTEM
from weifei.notify.models import Notification, NotificationPreference, Webhook, WebhookDelivery
from weifei.notify.services import notify, webhook_create

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]

N = "/api/v1/notify"


def _client(w: Any, name: str) -> Client:
    client = Client()
    force_login(client, w.users[name])
    return client


def _send(client: Client, method: str, url: str, body: Any = None) -> Any:
    return client.generic(method, url, json.dumps(body or {}), content_type="application/json")


def _hand_offs(w: Any) -> None:
    for event in ("manifest.submitted", "manifest.picked_up", "manifest.arrived"):
        notify(
            event=event,
            subject_ref="manifest:20262201000001",
            organisation_ids=[w.a.id],
            link="/plans/",
            title=f"联单 {event}",
            actor=SYSTEM,
        )


def test_notifications_api_lists_reads_and_marks(w: Any) -> None:
    _hand_offs(w)
    me = _client(w, "a_member")
    body = me.get(f"{N}/notifications").json()
    assert body["total"] == 3 and body["unread"] == 3
    assert [i["event"] for i in body["items"]] == ["manifest.arrived", "manifest.picked_up", "manifest.submitted"]
    assert body["items"][0]["event_label"] == "废物已到达"
    first = body["items"][0]["id"]
    read = _send(me, "POST", f"{N}/notifications/{first}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert me.get(f"{N}/notifications?unread=true").json()["total"] == 2
    assert me.get(f"{N}/notifications?unread=false").json()["items"][0]["id"] == first
    # another user's notification: 404, untouched
    theirs = Notification.objects.get(user=w.users["a_admin"], event="manifest.arrived")
    response = _send(me, "POST", f"{N}/notifications/{theirs.id}/read")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Notification.objects.get(id=theirs.id).read_at is None
    assert _send(me, "POST", f"{N}/notifications/read-all").json() == {"updated": 2}
    assert me.get(f"{N}/notifications").json()["unread"] == 0
    assert Client().get(f"{N}/notifications").status_code == 401


def test_preferences_api(w: Any) -> None:
    me = _client(w, "a_member")
    items = {p["event"]: p["in_app"] for p in me.get(f"{N}/preferences").json()["items"]}
    assert items["manifest.submitted"] is True
    response = _send(me, "PUT", f"{N}/preferences", {"items": [{"event": "manifest.submitted", "in_app": False}]})
    assert response.status_code == 200
    assert {p["event"]: p["in_app"] for p in response.json()["items"]}["manifest.submitted"] is False
    bad = _send(me, "PUT", f"{N}/preferences", {"items": [{"event": "no spaces", "in_app": False}]})
    assert bad.status_code == 400 and bad.json()["field"] == "event"
    assert NotificationPreference.objects.filter(user=w.users["a_member"]).count() == 1


def test_webhook_api_for_the_admin(w: Any, net: Any) -> None:
    admin = _client(w, "a_admin")
    created = _send(
        admin,
        "POST",
        f"{N}/webhooks",
        {"organisation_id": w.a.id, "url": "https://hooks.example.com/in", "events": ["manifest.*"]},
    )
    assert created.status_code == 201, created.content
    assert created["Cache-Control"] == "no-store"
    data = created.json()
    assert data["secret"].startswith("whsec_") and data["events"] == ["manifest.*"] and data["active"] is True
    hook_id = data["id"]
    shown = admin.get(f"{N}/webhooks/{hook_id}").json()
    assert "secret" not in shown and shown["secret_hint"] == data["secret"][-4:]
    assert [h["id"] for h in admin.get(f"{N}/webhooks").json()["items"]] == [hook_id]
    changed = _send(admin, "PUT", f"{N}/webhooks/{hook_id}", {"description": "ERP 接口"}).json()
    assert changed["description"] == "ERP 接口" and changed["secret"] is None
    refused = _send(admin, "PUT", f"{N}/webhooks/{hook_id}", {"url": "https://10.0.0.8/"})
    assert refused.status_code == 400 and refused.json() | {"message": ""} == {
        "code": "url_private_host",
        "field": "url",
        "message": "",
    }
    tested = _send(admin, "POST", f"{N}/webhooks/{hook_id}/test")
    assert tested.status_code == 202 and tested.json()["event"] == "webhook.test"
    deliveries = admin.get(f"{N}/webhooks/{hook_id}/deliveries").json()
    assert deliveries["total"] == 1 and deliveries["items"][0]["attempt"] == 1
    assert _send(admin, "POST", f"{N}/webhooks/{hook_id}/disable", {"reason": "维护"}).json()["active"] is False
    assert _send(admin, "POST", f"{N}/webhooks/{hook_id}/enable").json()["active"] is True
    assert _send(admin, "DELETE", f"{N}/webhooks/{hook_id}").status_code == 204
    assert not Webhook.objects.exists() and not WebhookDelivery.objects.exists()


def test_webhook_api_refuses_everyone_but_the_admin(w: Any) -> None:
    hook, _ = webhook_create(actor=SYSTEM, organisation_id=w.a.id, url="https://hooks.example.com/in")
    for name, status in (("a_member", 403), ("a_reader", 403), ("b_admin", 404), ("county", 404)):
        client = _client(w, name)
        assert client.get(f"{N}/webhooks/{hook.id}").status_code == status, name
        assert client.get(f"{N}/webhooks").json()["items"] == []
        assert _send(client, "POST", f"{N}/webhooks/{hook.id}/test").status_code == status
        create = _send(client, "POST", f"{N}/webhooks", {"organisation_id": w.a.id, "url": "https://x.example.com/"})
        assert create.status_code == 403
    assert Webhook.objects.count() == 1 and not WebhookDelivery.objects.exists()


def test_inbox_and_preference_pages(w: Any) -> None:
    _hand_offs(w)
    me = _client(w, "a_member")
    page = me.get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="unread-count">3<' in html and "联单 manifest.arrived" in html
    note = Notification.objects.filter(user=w.users["a_member"]).order_by("id").first()
    assert note is not None
    response = me.post(f"/notifications/{note.id}/read/", {"next": "link"})
    assert response.status_code == 302 and response["Location"] == "/plans/"
    assert Notification.objects.get(id=note.id).read_at is not None
    theirs = Notification.objects.filter(user=w.users["a_admin"]).first()
    assert theirs is not None
    assert me.post(f"/notifications/{theirs.id}/read/").status_code == 404
    assert me.post("/notifications/read-all/").status_code == 302
    assert Notification.objects.filter(user=w.users["a_member"], read_at__isnull=True).count() == 0
    prefs = me.get("/notifications/preferences/")
    assert prefs.status_code == 200 and 'data-testid="pref-manifest.submitted"' in prefs.content.decode()
    me.post(
        "/notifications/preferences/",
        {"event": ["manifest.submitted", "manifest.closed"], "in_app": ["manifest.closed"]},
    )
    assert dict(NotificationPreference.objects.filter(user=w.users["a_member"]).values_list("event", "in_app")) == {
        "manifest.submitted": False,
        "manifest.closed": True,
    }


def test_webhook_pages_for_the_admin(w: Any, net: Any, on_commit: Any) -> None:
    admin = _client(w, "a_admin")
    assert admin.get("/notifications/webhooks/").status_code == 200
    created = admin.post(
        "/notifications/webhooks/",
        {
            "organisation_id": w.a.id,
            "url": "https://hooks.example.com/p",
            "events": "manifest.submitted，manifest.closed",
        },
    )
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    hook = Webhook.objects.get()
    assert hook.events == ["manifest.submitted", "manifest.closed"]
    assert 'data-testid="webhook-secret">whsec_' in created.content.decode()
    refused = admin.post(
        "/notifications/webhooks/", {"organisation_id": w.a.id, "url": "https://127.0.0.1/"}, follow=True
    )
    assert "内网" in refused.content.decode() and Webhook.objects.count() == 1
    detail = admin.get(f"/notifications/webhooks/{hook.id}/")
    assert detail.status_code == 200 and "hooks.example.com/p" in detail.content.decode()
    with on_commit():
        assert admin.post(f"/notifications/webhooks/{hook.id}/test/").status_code == 302
    assert hook.deliveries.get().status == "succeeded"
    admin.post(f"/notifications/webhooks/{hook.id}/disable/")
    assert not Webhook.objects.get().active
    admin.post(f"/notifications/webhooks/{hook.id}/enable/")
    assert Webhook.objects.get().active
    rotated = admin.post(f"/notifications/webhooks/{hook.id}/", {"url": hook.url, "events": "", "rotate_secret": "1"})
    assert rotated.status_code == 200 and 'data-testid="webhook-secret">whsec_' in rotated.content.decode()
    assert Webhook.objects.get().events == []
    member = _client(w, "a_member")
    assert member.get(f"/notifications/webhooks/{hook.id}/").status_code == 403
    assert member.post(f"/notifications/webhooks/{hook.id}/delete/").status_code == 403
    assert admin.post(f"/notifications/webhooks/{hook.id}/delete/").status_code == 302
    assert not Webhook.objects.exists()
