"""The whole path on a real broker: a hand-off commits, the delivery goes through Redis to a Celery
worker, which POSTs to a local HTTP server; the server checks the signature it received.
Runs when WEIFEI_TEST_REDIS_URL is set (CI sets it)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import override_settings

from weifei.notify import signing
from weifei.notify.models import WebhookDelivery
from weifei.notify.services import notify, webhook_create

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("reference"), pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("WEIFEI_TEST_REDIS_URL", "")
QUEUE = f"weifei-notify-test-{os.getpid()}"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    Receiver.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/weifei-hook"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _reset_pools(app: Any) -> None:
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker() -> Iterator[Any]:
    from weifei.celery import app

    saved = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    _reset_pools(app)
    with app.pool.acquire(block=True) as conn:  # the producers really talk to Redis now
        assert conn.transport.driver_type == "redis"
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[QUEUE], shutdown_timeout=20):
            yield app
    finally:
        app.conf.update(saved)
        _reset_pools(app)


@override_settings(NOTIFY_WEBHOOK_ALLOW_HTTP=True, NOTIFY_WEBHOOK_ALLOW_PRIVATE=True, NOTIFY_WEBHOOK_QUEUE=QUEUE)
def test_a_hand_off_is_delivered_through_redis_and_a_worker(w: Any, server: str, broker: Any) -> None:
    hook, secret = webhook_create(actor=w.actors["a_admin"], organisation_id=w.a.id, url=server)
    # Outside a transaction (autocommit) the delivery is queued as notify() returns.
    notify(
        event="manifest.received",
        subject_ref="manifest:20262201000007",
        organisation_ids=[w.a.id],
        link="/",
        title="接受人已接收",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = WebhookDelivery.objects.filter(webhook=hook).first()
        if row is not None and row.status in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    row = WebhookDelivery.objects.get(webhook=hook)
    assert (row.status, row.status_code, row.error) == ("succeeded", 204, "")
    [(headers, body)] = Receiver.received
    assert json.loads(body) == {"event": "manifest.received", "manifest_number": "20262201000007"}
    assert signing.verify(secret, headers["x-weifei-signature"], body)
    assert headers["x-weifei-delivery"] == str(row.message_id)
    assert headers["host"] == server.split("/")[2]
