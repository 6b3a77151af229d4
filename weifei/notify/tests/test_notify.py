"""notify(): fan-out to the members of the organisations by preference, webhooks queued only after
commit; the inbox and the preferences with their events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.models import Event
from weifei.notify import selectors, services
from weifei.notify.models import Notification, NotificationPreference, Webhook, WebhookDelivery
from weifei.notify.services import notify

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]

NUMBER = "20262201000001"


def _hand_off(w: Any, event: str = "manifest.submitted", actor: Any = SYSTEM, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "event": event,
        "subject_ref": f"manifest:{NUMBER}",
        "organisation_ids": [w.a.id, w.b.id],
        "link": f"/manifests/{NUMBER}/",
        "title": f"联单 {NUMBER} 已提交",
        "actor": actor,
    }
    return notify(**(args | kw))


def _recipients(event: str = "manifest.submitted") -> set[str]:
    return set(Notification.objects.filter(event=event).values_list("user__username", flat=True))


def test_every_member_of_every_party_is_told_once(w: Any) -> None:
    notes, deliveries = _hand_off(w)
    assert _recipients() == {"a_admin", "a_member", "a_driver", "a_reader", "b_admin", "b_member", "both"}
    assert len(notes) == 7 and deliveries == []
    # the user in both units is told once, through the first unit
    both = Notification.objects.get(user=w.users["both"])
    assert both.organisation_id == min(w.a.id, w.b.id)
    assert both.link == f"/manifests/{NUMBER}/" and both.subject_ref == f"manifest:{NUMBER}"
    assert both.actor_label == "系统" and both.read_at is None
    # regulators are not members: told only when named
    assert not Notification.objects.filter(user=w.users["county"]).exists()
    _hand_off(w, event="manifest.discrepancy_reported", organisation_ids=[], user_ids=[w.users["county"].id])
    assert _recipients("manifest.discrepancy_reported") == {"n_county"}


def test_preferences_and_the_actor_and_inactive_users_narrow_the_fan_out(w: Any) -> None:
    services.preferences_update(actor=w.actors["a_reader"], preferences={"manifest.submitted": False})
    w.users["b_member"].is_active = False
    w.users["b_member"].save()
    _hand_off(w, actor=w.actors["a_member"])  # the member who submitted is not told about it
    assert _recipients() == {"a_admin", "a_driver", "b_admin", "both"}
    # the choice is per kind: other kinds still reach the reader
    _hand_off(w, event="manifest.picked_up")
    assert "a_reader" in _recipients("manifest.picked_up")


def test_bad_input_from_a_caller_is_a_programming_error(w: Any) -> None:
    for bad in ({"event": "Submitted"}, {"subject_ref": NUMBER}, {"link": "https://evil.example/"}, {"title": ""}):
        with pytest.raises(ValueError):
            _hand_off(w, **bad)
    assert not Notification.objects.exists()


def _hook(w: Any, events: list[str] | None = None, org: Any = None) -> Webhook:
    hook, _secret = services.webhook_create(
        actor=w.actors["a_admin"] if org is None else SYSTEM,
        organisation_id=(org or w.a).id,
        url="https://hooks.example.com/weifei",
        events=events or [],
    )
    return hook


def test_webhooks_are_queued_per_active_matching_hook_and_sent_only_after_commit(
    w: Any, net: Any, on_commit: Any
) -> None:
    every = _hook(w)
    only_closed = _hook(w, ["manifest.closed"])
    wildcard = _hook(w, ["manifest.*"])
    other = _hook(w, [], org=w.b)
    off = _hook(w)
    off.active = False
    off.save()
    with on_commit():
        with transaction.atomic():
            _notes, deliveries = _hand_off(w)
            assert {d.webhook_id for d in deliveries} == {every.id, wildcard.id, other.id}
            assert net.requests == []  # nothing leaves before the commit
    assert len(net.requests) == 3
    body = json.loads(net.requests[0].content)
    assert body == {"event": "manifest.submitted", "manifest_number": NUMBER}  # minimal: exactly these keys
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert only_closed.deliveries.count() == 0


def test_a_rolled_back_hand_off_writes_and_sends_nothing(w: Any, net: Any, on_commit: Any) -> None:
    _hook(w)
    with on_commit() as callbacks:
        with transaction.atomic():
            _hand_off(w)
            transaction.set_rollback(True)
    assert callbacks == []
    assert net.requests == []
    assert not Notification.objects.exists() and not WebhookDelivery.objects.exists()


def test_inbox_unread_first_and_only_ones_own(w: Any) -> None:
    _hand_off(w, event="manifest.submitted")
    _hand_off(w, event="manifest.picked_up")
    admin = w.actors["a_admin"]
    first = selectors.notifications_for(actor=admin).first()
    assert first is not None and first.event == "manifest.picked_up"
    services.notification_read(actor=admin, notification_id=first.id)
    services.notification_read(actor=admin, notification_id=first.id)  # idempotent
    events = [n.event for n in selectors.notifications_for(actor=admin)]
    assert events == ["manifest.submitted", "manifest.picked_up"]  # unread first
    assert selectors.unread_count(actor=admin) == 1
    # another user's notification does not exist for me
    theirs = Notification.objects.get(user=w.users["b_admin"], event="manifest.submitted")
    with pytest.raises(NotFound):
        services.notification_read(actor=admin, notification_id=theirs.id)
    assert Notification.objects.get(id=theirs.id).read_at is None
    assert services.notifications_read_all(actor=admin) == 1
    assert selectors.unread_count(actor=admin) == 0
    assert selectors.unread_count(actor=w.actors["b_admin"]) == 2


def test_preferences_default_on_record_an_event_and_refuse_bad_kinds(w: Any) -> None:
    actor = w.actors["a_member"]
    prefs = {p["event"]: p["in_app"] for p in selectors.preferences_for(actor=actor)}
    assert prefs["manifest.submitted"] is True and prefs["webhook.disabled"] is True
    changed = services.preferences_update(
        actor=actor, preferences={"manifest.submitted": False, "manifest.closed": True}
    )
    assert changed == {"manifest.submitted": False}  # closed was already on (the default)
    event = Event.objects.filter(kind="notify.preferences_updated").get()
    assert event.after == {"manifest.submitted": False} and event.before == {"manifest.submitted": True}
    assert event.actor_user_id == w.users["a_member"].id
    assert services.preferences_update(actor=actor, preferences={"manifest.submitted": False}) == {}
    assert Event.objects.filter(kind="notify.preferences_updated").count() == 1
    before = NotificationPreference.objects.count()
    with pytest.raises(ApplicationError) as exc:
        services.preferences_update(actor=actor, preferences={"manifest.closed": False, "Bad Kind": False})
    assert (exc.value.code, exc.value.field) == ("event_invalid", "event")
    assert NotificationPreference.objects.count() == before  # nothing half-written


def test_only_the_organisation_admin_manages_webhooks(w: Any) -> None:
    hook = _hook(w)
    before = (Webhook.objects.count(), Event.objects.count())
    for name in ("a_member", "a_driver", "a_reader", "both"):
        with pytest.raises(PermissionDenied):
            services.webhook_create(actor=w.actors[name], organisation_id=w.a.id, url="https://x.example.com/")
        with pytest.raises(PermissionDenied):
            services.webhook_update(actor=w.actors[name], webhook_id=hook.id, url="https://y.example.com/")
        with pytest.raises(PermissionDenied):
            selectors.webhook_get(actor=w.actors[name], webhook_id=hook.id)
    for name in ("b_admin", "county"):  # another unit's admin, a regulator: it does not exist for them
        with pytest.raises(NotFound):
            services.webhook_delete(actor=w.actors[name], webhook_id=hook.id)
        with pytest.raises(NotFound):
            services.webhook_test(actor=w.actors[name], webhook_id=hook.id)
        assert not selectors.webhooks_visible(actor=w.actors[name]).filter(id=hook.id).exists()
    with pytest.raises(PermissionDenied):
        services.webhook_create(actor=w.actors["county"], organisation_id=w.a.id, url="https://x.example.com/")
    assert (Webhook.objects.count(), Event.objects.count()) == before


def test_webhook_configuration_writes_record_events_without_the_secret(w: Any) -> None:
    admin = w.actors["a_admin"]
    hook, secret = services.webhook_create(
        actor=admin,
        organisation_id=w.a.id,
        url="https://hooks.example.com/a",
        events=["manifest.*", "manifest.*"],
        description="ERP",
    )
    assert secret.startswith("whsec_") and len(secret) > 40
    assert hook.events == ["manifest.*"] and hook.secret_hint == secret[-4:]
    assert secret not in hook.secret_sealed
    _hook, new = services.webhook_update(
        actor=admin, webhook_id=hook.id, events=["manifest.closed"], rotate_secret=True
    )
    assert new is not None and new != secret
    services.webhook_disable(actor=admin, webhook_id=hook.id, reason="维护")
    services.webhook_enable(actor=admin, webhook_id=hook.id)
    services.webhook_delete(actor=admin, webhook_id=hook.id)
    rows = list(
        Event.objects.filter(subject_type="notify.webhook").order_by("id").values_list("kind", "organisation_id")
    )
    assert rows == [
        ("webhook.created", w.a.id),
        ("webhook.updated", w.a.id),
        ("webhook.secret_rotated", w.a.id),
        ("webhook.disabled", w.a.id),
        ("webhook.enabled", w.a.id),
        ("webhook.deleted", w.a.id),
    ]
    for e in Event.objects.filter(subject_type="notify.webhook"):
        assert secret not in json.dumps(e.after) and new not in json.dumps(e.after)
    updated = Event.objects.get(kind="webhook.updated")
    assert updated.before == {"events": ["manifest.*"]} and updated.after == {"events": ["manifest.closed"]}


@pytest.mark.parametrize(
    ("events", "code"),
    [
        (["Manifest Submitted"], "events_invalid"),
        (["webhook.disabled"], "events_invalid"),
        ([f"manifest.k{i}" for i in range(51)], "events_too_many"),
    ],
)
def test_event_filters_are_checked(w: Any, events: list[str], code: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        services.webhook_create(
            actor=w.actors["a_admin"], organisation_id=w.a.id, url="https://h.example.com/", events=events
        )
    assert (exc.value.code, exc.value.field) == (code, "events")
    assert not Webhook.objects.exists()
