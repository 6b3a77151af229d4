"""Concurrency through the HTTP API on PostgreSQL (threads really race: a barrier releases them
together and each has its own database connection):

- two users of the receiver accept the same arrived manifest at once → exactly one 200, the other
  409, one signature (the manifest row is locked while a step is applied);
- 100 manifests created at once by 8 clients in one prefecture → 100 distinct numbers with the
  consecutive serials 000001…000100 (the year-prefecture counter row is locked while numbering).

On SQLite (one writer at a time) the requests are serialised by a lock; the outcome must be the same.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from weifei.accounts.testing import force_login
from weifei.manifests.models import Manifest, ManifestCounter, Signature
from weifei.manifests.services import manifest_transition
from weifei.manifests.testing import World, world

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db(transaction=True)]

M = "/api/v1/manifests"


@contextmanager
def _writing(lock: threading.Lock | None) -> Iterator[None]:
    if lock is None:
        yield
    else:
        with lock:
            yield


def _race(jobs: list[Any]) -> tuple[list[Any], list[BaseException]]:
    """Run the callables in threads released together; their results and errors."""
    one_writer = threading.Lock() if connection.vendor == "sqlite" else None
    start = threading.Barrier(len(jobs))
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(job: Any) -> None:
        from django.db import connection as thread_connection

        try:
            start.wait(30)
            with _writing(one_writer):
                results.append(job())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, errors


def _client(w: World, name: str) -> Client:
    client = Client()
    force_login(client, w.users[name])
    return client


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_two_receivers_accept_at_once_exactly_one_succeeds() -> None:
    w = world()
    m = w.manifest(containers=2)
    manifest_transition(actor=w.actor("consignor"), manifest_id=m.id, event="submit")
    manifest_transition(actor=w.actor("driver1"), manifest_id=m.id, event="pickup",
                        payload={"scanned_labels": w.containers[:2]})  # fmt: skip
    manifest_transition(actor=w.actor("driver1"), manifest_id=m.id, event="arrive")
    line_id = m.lines.get().id
    clients = [_client(w, "receiver"), _client(w, "receiver_b")]
    body = {"weights": {str(line_id): "0.4"}}

    def accept(client: Client) -> Any:
        return lambda: _post(client, f"{M}/{m.id}/events/accept", body)

    responses, errors = _race([accept(c) for c in clients])
    assert not errors, errors
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.content for r in responses]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert loser["code"] == "transition_not_allowed" and "已接收" in loser["message"]
    assert Signature.objects.filter(manifest_id=m.id, event="accept").count() == 1
    m.refresh_from_db()
    assert m.state == "received" and m.acceptance == "full"


def test_100_manifests_created_at_once_get_consecutive_numbers() -> None:
    w = world(containers=0)
    n, threads = 100, 8
    body = {
        "consignor_site_id": w.site.id,
        "receiver_id": w.receiver.id,
        "planned_method_code": "D10",
        "emergency_measures": "配备吸附棉",
        "lines": [{"waste_code": "900-249-08", "declared_tonnes": "0.5"}],
        "legs": [{"carrier_id": w.carrier1.id}],
    }
    clients = [_client(w, "consignor") for _ in range(threads)]

    def creator(client: Client, count: int) -> Any:
        def run() -> list[int]:
            codes = []
            for _ in range(count):
                r = _post(client, f"{M}/", body)
                codes.append(r.status_code)
            return codes

        return run

    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    results, errors = _race([creator(c, k) for c, k in zip(clients, shares, strict=True)])
    assert not errors, errors
    assert sorted(code for codes in results for code in codes) == [201] * n
    numbers = sorted(Manifest.objects.values_list("number", flat=True))
    year = timezone.localdate().year
    assert numbers == [f"{year}2201{serial:06d}" for serial in range(1, n + 1)]
    assert ManifestCounter.objects.get(year=year, prefecture="01").last_serial == n
