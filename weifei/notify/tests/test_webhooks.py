"""Webhook delivery: the signature (a known vector), retries with back-off on a fake network, the
switch-off after repeated failed messages with the admins told, the test event, the SSRF guard."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from django.test import override_settings

from weifei.accounts.sealing import unseal
from weifei.core.errors import ApplicationError
from weifei.core.models import Event
from weifei.notify import destinations, signing, tasks
from weifei.notify.models import Notification, Webhook, WebhookDelivery
from weifei.notify.services import DEFAULT_BACKOFF, notify, webhook_create, webhook_enable, webhook_test

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]

NUMBER = "20262201000001"
VECTOR_SECRET = "whsec_test_vector_secret"
VECTOR_BODY = b'{"event":"manifest.submitted","manifest_number":"20262201000001"}'
VECTOR_T = 1767225600
# printf '%s' "1767225600.$BODY" | openssl dgst -sha256 -hmac whsec_test_vector_secret
VECTOR_HEX = "86553dd665d8597cd5d56c07137dcef014a3aac7085296f8f6405eda3c75d4a1"


def test_signature_matches_the_known_vector() -> None:
    assert signing.sign(VECTOR_SECRET, VECTOR_BODY, VECTOR_T) == VECTOR_HEX
    header = signing.signature_header(VECTOR_SECRET, VECTOR_BODY, VECTOR_T)
    assert header == f"t={VECTOR_T},v1={VECTOR_HEX}"
    assert signing.verify(VECTOR_SECRET, header, VECTOR_BODY, now=VECTOR_T + 10)
    assert not signing.verify(VECTOR_SECRET, header, VECTOR_BODY + b" ", now=VECTOR_T)  # body changed
    assert not signing.verify("whsec_other", header, VECTOR_BODY, now=VECTOR_T)  # wrong secret
    assert not signing.verify(VECTOR_SECRET, header, VECTOR_BODY, now=VECTOR_T + 301)  # replayed later
    forged = f"t={VECTOR_T + 100},v1={VECTOR_HEX}"  # a new timestamp invalidates the signature
    assert not signing.verify(VECTOR_SECRET, forged, VECTOR_BODY, now=VECTOR_T + 100)
    assert not signing.verify(VECTOR_SECRET, "garbage", VECTOR_BODY, now=VECTOR_T)


def _hook(w: Any, **kw: Any) -> tuple[Webhook, str]:
    return webhook_create(
        actor=w.actors["a_admin"],
        organisation_id=w.a.id,
        url=kw.pop("url", "https://hooks.example.com/weifei?x=1"),
        **kw,
    )


def _hand_off(w: Any, on_commit: Any, event: str = "manifest.submitted") -> None:
    with on_commit():
        notify(event=event, subject_ref=f"manifest:{NUMBER}", organisation_ids=[w.a.id], link="/", title="交接")


def test_a_delivery_is_signed_pinned_and_logged(w: Any, net: Any, on_commit: Any) -> None:
    hook, secret = _hook(w)
    _hand_off(w, on_commit)
    [request] = net.requests
    assert request.method == "POST"
    # sent to the address that was checked, with the name kept in Host (and SNI for TLS)
    assert request.url.host == "93.184.216.34" and request.url.path == "/weifei" and request.url.query == b"x=1"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions.get("sni_hostname") == "hooks.example.com"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-weifei-event"] == "manifest.submitted"
    assert request.headers["x-weifei-attempt"] == "1"
    assert signing.verify(secret, request.headers["x-weifei-signature"], request.content)
    assert unseal(hook.secret_sealed, purpose=f"webhook:{hook.id}") == secret
    row = WebhookDelivery.objects.get()
    assert request.headers["x-weifei-delivery"] == str(row.message_id)
    assert (row.status, row.status_code, row.attempt, row.next_attempt_at) == ("succeeded", 200, 1, None)
    assert row.duration_ms is not None and row.attempted_at is not None and row.response_excerpt == "ok"
    hook.refresh_from_db()
    assert hook.last_success_at is not None and hook.consecutive_failures == 0


def test_failed_attempts_are_retried_on_the_back_off_schedule(w: Any, net: Any, on_commit: Any) -> None:
    hook, _ = _hook(w)
    net.codes = [500, httpx.ConnectTimeout("timed out"), 503, 404, 302, 200]
    _hand_off(w, on_commit)  # eagerly: the whole chain runs now, each attempt logged with its due time
    rows = list(WebhookDelivery.objects.order_by("attempt"))
    assert [r.attempt for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.status for r in rows] == ["failed"] * 5 + ["succeeded"]
    assert [r.status_code for r in rows] == [500, None, 503, 404, 302, 200]
    assert "ConnectTimeout" in rows[1].error and rows[0].error == "HTTP 500" and rows[4].error == "HTTP 302"
    assert len({r.message_id for r in rows}) == 1  # one message, six attempts
    for row, delay in zip(rows, DEFAULT_BACKOFF, strict=False):
        assert row.next_attempt_at is not None and row.attempted_at is not None
        gap = (row.next_attempt_at - row.attempted_at).total_seconds()
        assert delay <= gap < delay + 5, (row.attempt, gap)
    assert [int(r.headers["x-weifei-attempt"]) for r in net.requests] == [1, 2, 3, 4, 5, 6]
    assert delay == 36000  # 1 min, 5 min, 25 min, 2 h, 10 h
    hook.refresh_from_db()
    assert hook.active and hook.consecutive_failures == 0


def test_repeated_failed_messages_switch_the_webhook_off_and_tell_the_admins(w: Any, net: Any, on_commit: Any) -> None:
    hook, _ = _hook(w)
    net.codes = [500]
    for i in range(4):
        _hand_off(w, on_commit)
        hook.refresh_from_db()
        assert hook.active and hook.consecutive_failures == i + 1
    assert WebhookDelivery.objects.filter(status="failed").count() == 4 * 6  # every attempt logged
    _hand_off(w, on_commit)
    hook.refresh_from_db()
    assert not hook.active and hook.consecutive_failures == 5 and hook.disabled_at is not None
    assert "连续 5 条消息投递失败" in hook.disabled_reason
    event = Event.objects.get(kind="webhook.disabled")
    assert event.actor_label == "系统" and event.organisation_id == w.a.id
    told = Notification.objects.filter(event="webhook.disabled")
    assert set(told.values_list("user__username", flat=True)) == {"a_admin"}  # the admins only
    assert told.get().link == f"/notifications/webhooks/{hook.id}/"
    # switched off: new hand-offs queue nothing for it
    sent = len(net.requests)
    _hand_off(w, on_commit)
    assert len(net.requests) == sent and hook.deliveries.count() == 30
    # the admin re-enables it after fixing the endpoint; the count starts afresh
    net.codes = [200]
    webhook_enable(actor=w.actors["a_admin"], webhook_id=hook.id)
    hook.refresh_from_db()
    assert hook.active and hook.consecutive_failures == 0 and Event.objects.filter(kind="webhook.enabled").exists()
    _hand_off(w, on_commit)
    assert hook.deliveries.filter(status="succeeded").count() == 1


def test_a_success_resets_the_failure_count(w: Any, net: Any, on_commit: Any) -> None:
    hook, _ = _hook(w)
    net.codes = [500] * 6 + [200]
    _hand_off(w, on_commit)
    hook.refresh_from_db()
    assert hook.consecutive_failures == 1
    _hand_off(w, on_commit)
    hook.refresh_from_db()
    assert hook.consecutive_failures == 0


def test_the_test_event_is_one_attempt_not_counted(w: Any, net: Any, on_commit: Any) -> None:
    hook, secret = _hook(w)
    net.codes = [500]
    with on_commit():
        delivery = webhook_test(actor=w.actors["a_admin"], webhook_id=hook.id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.status_code, delivery.next_attempt_at) == ("failed", 500, None)
    assert json.loads(net.requests[0].content) == {"event": "webhook.test", "ref": f"webhook:{hook.id}"}
    assert signing.verify(secret, net.requests[0].headers["x-weifei-signature"], net.requests[0].content)
    hook.refresh_from_db()
    assert hook.consecutive_failures == 0 and WebhookDelivery.objects.count() == 1
    assert Event.objects.filter(kind="webhook.test_sent").count() == 1


def test_duplicate_task_deliveries_send_once(w: Any, net: Any, on_commit: Any) -> None:
    _hook(w)
    _hand_off(w, on_commit)
    row = WebhookDelivery.objects.get()
    assert tasks.deliver(row.id) == "skipped"  # a broker's redelivery of the same task
    assert len(net.requests) == 1


def test_the_sweep_requeues_lost_attempts(w: Any, net: Any) -> None:
    hook, _ = _hook(w)
    lost = WebhookDelivery.objects.create(
        webhook=hook,
        event="manifest.closed",
        subject_ref=f"manifest:{NUMBER}",
        body="{}",
        next_attempt_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    assert tasks.webhook_sweep() == 1
    lost.refresh_from_db()
    assert lost.status == "succeeded" and len(net.requests) == 1


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/", "url_scheme"),
        ("ftp://hooks.example.com/", "url_scheme"),
        ("https://user:pw@hooks.example.com/", "url_credentials"),
        ("https://127.0.0.1/", "url_private_host"),
        ("https://10.1.2.3:8443/", "url_private_host"),
        ("https://192.168.0.10/", "url_private_host"),
        ("https://169.254.169.254/latest/meta-data/", "url_private_host"),
        ("https://[::1]/", "url_private_host"),
        ("https://[::ffff:127.0.0.1]/", "url_private_host"),
        ("https://100.64.0.1/", "url_private_host"),
        ("https://0.0.0.0/", "url_private_host"),
        ("https://2130706433/", "url_private_host"),
        ("https://0x7f.1/", "url_private_host"),
        ("https://localhost/", "url_private_host"),
        ("https://api.localhost/", "url_private_host"),
        ("https://gitlab.internal/", "url_private_host"),
        ("https://printer.local/", "url_private_host"),
        ("https://intranet/", "url_private_host"),
        ("https:///nohost", "url_invalid"),
        ("", "url_required"),
    ],
)
def test_ssrf_guard_refuses_private_and_local_destinations(w: Any, url: str, code: str) -> None:
    before = Event.objects.count()
    with pytest.raises(ApplicationError) as exc:
        _hook(w, url=url)
    assert (exc.value.code, exc.value.field) == (code, "url")
    assert not Webhook.objects.exists() and Event.objects.count() == before


def test_the_settings_open_http_and_private_hosts_for_tests_and_development(w: Any) -> None:
    with override_settings(NOTIFY_WEBHOOK_ALLOW_HTTP=True):
        hook, _ = _hook(w, url="http://hooks.example.com/")
        with pytest.raises(ApplicationError):
            _hook(w, url="http://127.0.0.1:8000/")
    with override_settings(NOTIFY_WEBHOOK_ALLOW_HTTP=True, NOTIFY_WEBHOOK_ALLOW_PRIVATE=True):
        local, _ = _hook(w, url="http://127.0.0.1:8000/hook")
    assert {hook.url, local.url} == {"http://hooks.example.com/", "http://127.0.0.1:8000/hook"}


def test_a_name_that_resolves_to_a_private_address_is_refused_at_send_time(
    w: Any, net: Any, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook, _ = _hook(w)
    monkeypatch.setattr(destinations, "resolve", lambda host, port: ["93.184.216.34", "127.0.0.1"])  # rebinding
    net.codes = [200]
    _hand_off(w, on_commit)
    assert net.requests == []  # never contacted
    first = WebhookDelivery.objects.get(attempt=1)
    assert first.status == "failed" and "127.0.0.1" in first.error and first.status_code is None

    def unresolvable(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    monkeypatch.setattr(destinations, "resolve", unresolvable)
    with on_commit():
        delivery = webhook_test(actor=w.actors["a_admin"], webhook_id=hook.id)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "无法解析主机名" in delivery.error
