"""The event log as a legal record: chained per stream with SM3, append-only in the database,
verifiable by ``weifei audit verify`` (which names the first broken link), with chain roots
over all stream heads. Runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, cast

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from weifei.core import chain
from weifei.core.actors import PUBLIC, SYSTEM, Actor
from weifei.core.events import event_record
from weifei.core.middleware import RequestIdMiddleware, current_request_id
from weifei.core.models import GENESIS_HASH, CalendarOverride, ChainRoot, Event, EventStream
from weifei.core.selectors import events_for
from weifei.core.tasks import chain_root
from weifei.registry.models import Enterprise, GenerationProfile, Licence, Vehicle
from weifei.registry.tests.factories import EnterpriseFactory

REGULATOR = Actor(kind="regulator", label="省厅 张三", region_codes=frozenset({"220000"}))


_days = itertools.count()


def unit_create() -> Enterprise:
    return cast(Enterprise, EnterpriseFactory())


def override() -> CalendarOverride:
    """A subject that belongs to no organisation (its events go to the system stream)."""
    day = dt.date(2031, 1, 1) + dt.timedelta(days=next(_days))
    return CalendarOverride.objects.create(date=day, is_workday=True, reason="测")


def record(subject: Any, **kwargs: Any) -> Event:
    with transaction.atomic():
        return event_record(
            subject=subject, actor=kwargs.pop("actor", SYSTEM), kind=kwargs.pop("kind", "test"), **kwargs
        )


def verify(*args: str) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("audit", "verify", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


@contextmanager
def append_only_lifted(table: str = "core_event") -> Iterator[Any]:
    """What a tamperer with database access would do: switch the append-only trigger off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Inserts earlier in this transaction left deferred FK checks queued, and PostgreSQL
            # refuses ALTER TABLE while any are pending: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
            try:
                yield cursor
            finally:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
            triggers = cursor.fetchall()
            assert len(triggers) == 2, triggers
            for name, _sql in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')
            try:
                yield cursor
            finally:
                for _name, sql in triggers:
                    cursor.execute(sql)


def json_param() -> str:
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"


# --- the canonical form -----------------------------------------------------------------------


def test_sm3_is_the_same_with_openssl_and_gmssl() -> None:
    """GB/T 32905-2016 appendix A example 1; the gmssl fallback agrees with OpenSSL's."""
    expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert chain._sm3_gmssl(b"abc") == expected
    assert chain.sm3_hex(b"abc") == expected
    long = "危险废物转移联单".encode() * 37
    assert chain._sm3_gmssl(long) == chain.sm3_hex(long)
    if "sm3" in hashlib.algorithms_available:
        assert chain._sm3_hashlib(long) == chain.sm3_hex(long)


def test_canonical_serialisation_is_the_documented_one() -> None:
    """docs/audit.md: sorted keys, no spaces, UTF-8 not escaped, UTC microsecond timestamps.
    The golden hash freezes the rule: if it changes, every stored hash stops verifying."""
    values = {
        "stream": "org:7",
        "seq": 2,
        "prev_hash": "a" * 64,
        "occurred_at": dt.datetime(2026, 3, 1, 10, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        "actor_user_id": 3,
        "actor_label": "系统",
        "organisation_id": 7,
        "kind": "registry.vehicle_created",
        "subject_type": "registry.vehicle",
        "subject_id": "12",
        "before": {},
        "after": {"plate": "吉A12345", "payload_tonnes": "10.000"},
        "reason": "",
        "request_id": "",
    }
    text = chain.canonical_json(chain.event_payload(values))
    assert text == (
        '{"actor_label":"系统","actor_user_id":3,"after":{"payload_tonnes":"10.000","plate":"吉A12345"},'
        '"before":{},"kind":"registry.vehicle_created","occurred_at":"2026-03-01T02:03:04.000005Z",'
        '"organisation_id":7,"prev_hash":"' + "a" * 64 + '","reason":"","request_id":"","seq":2,'
        '"stream":"org:7","subject_id":"12","subject_type":"registry.vehicle"}'
    )
    assert chain.event_hash(values) == chain.sm3_hex(text.encode("utf-8"))
    assert chain.event_hash(values) == "637a462e8abca4bd6adce2ba57750e1d0ff0368ace5fc5c3066979e92cc5da18"


def test_values_are_stored_as_they_are_hashed() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=dt.UTC)
    assert chain.jsonable(
        {"t": Decimal("1.500"), "f": 0.1, "big": 1e20, "at": when, "day": dt.date(2026, 1, 2), "ids": (1, 2), 3: None}
    ) == {
        "t": "1.500",
        "f": "0.1",
        "big": "1e+20",
        "at": "2026-01-02T03:04:05.000600Z",
        "day": "2026-01-02",
        "ids": [1, 2],
        "3": None,
    }
    with pytest.raises(TypeError):
        chain.jsonable({"unit": object()})
    with pytest.raises(ValueError, match="时区"):
        chain.utc_iso(dt.datetime(2026, 1, 1))


# --- recording --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_chains_are_built_per_stream(reference: None) -> None:
    a, b = unit_create(), unit_create()  # each creation opens its org stream
    system_head = EventStream.objects.filter(key="system").values_list("head_seq", flat=True).first() or 0
    record(Vehicle(id=9001, carrier_id=a.id), kind="registry.vehicle_created", after={"plate": "吉A00001"})
    record(override(), kind="core.calendar_set")
    record(GenerationProfile(id=9002, enterprise_id=b.id), after={"annual_tonnes": Decimal("1.25")})
    record(Licence(id=9003, holder_id=a.id), kind="registry.licence_created")
    record(override(), actor=REGULATOR, organisation=b, reason="核查")  # explicit organisation
    record(override(), actor=REGULATOR, stream="region:220000")

    def chain_of(key: str) -> list[Event]:
        return list(Event.objects.filter(stream=key).order_by("seq"))

    chain_a, chain_b = chain_of(f"org:{a.id}"), chain_of(f"org:{b.id}")
    assert [e.kind for e in chain_a] == [
        "registry.enterprise_created",
        "registry.vehicle_created",
        "registry.licence_created",
    ]
    assert [e.subject_type for e in chain_b] == [
        "registry.enterprise",
        "registry.generationprofile",
        "core.calendaroverride",
    ]
    assert {e.organisation_id for e in chain_a} == {a.id} and {e.organisation_id for e in chain_b} == {b.id}
    assert [e.seq for e in chain_of("system")][-1] == system_head + 1
    assert [(e.seq, e.prev_hash) for e in chain_of("region:220000")] == [(1, GENESIS_HASH)]
    for events in (chain_a, chain_b, chain_of("system")):
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].prev_hash == GENESIS_HASH
        for prev, event in itertools.pairwise(events):
            assert event.prev_hash == prev.hash
            assert event.occurred_at >= prev.occurred_at
        for event in events:
            assert len(event.hash) == 64 and event.hash == chain.event_hash(event.__dict__)
        head = EventStream.objects.get(key=events[0].stream)
        assert (head.head_seq, head.head_hash) == (events[-1].seq, events[-1].hash)
    assert chain_b[1].after == {"annual_tonnes": "1.25"}
    assert chain_b[2].actor_label == "省厅 张三" and chain_b[2].reason == "核查"


@pytest.mark.django_db
def test_the_hash_covers_the_stored_values_after_a_database_round_trip() -> None:
    at = dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    event = record(
        override(),
        before={"status": "active", "tonnes": Decimal("0.000001")},
        after={"status": "closed", "at": at, "list": ["甲", 1, None, True], "nested": {"b": 1, "a": [1.5]}},
        reason="停产",
    )
    stored = Event.objects.get(pk=event.pk)
    assert stored.occurred_at == event.occurred_at  # microseconds survive on SQLite and PostgreSQL
    assert stored.occurred_at.microsecond == event.occurred_at.microsecond
    assert stored.after == {
        "status": "closed",
        "at": "2026-05-06T07:08:09.123456Z",
        "list": ["甲", 1, None, True],
        "nested": {"b": 1, "a": ["1.5"]},
    }
    assert chain.event_hash(stored.__dict__) == stored.hash == event.hash
    # An outside auditor's recomputation from the documented rule alone:
    payload = {name: getattr(stored, name) for name in chain.HASHED_FIELDS}
    payload["occurred_at"] = stored.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert chain._sm3_gmssl(text.encode("utf-8")) == stored.hash


@pytest.mark.django_db
def test_the_request_id_comes_from_the_request_being_served() -> None:
    subject = override()
    recorded: list[Event] = []

    def view(request: Any) -> Any:
        from django.http import HttpResponse

        recorded.append(record(subject))
        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID="req-0123456789"))
    assert response["X-Request-Id"] == "req-0123456789"
    assert recorded[0].request_id == "req-0123456789"
    assert current_request_id() == ""  # reset after the request
    assert record(subject).request_id == ""
    assert record(subject, request_id="explicit-42").request_id == "explicit-42"


@pytest.mark.django_db
def test_bad_streams_are_refused(reference: None) -> None:
    unit = unit_create()
    with pytest.raises(ValueError, match="事件链名称无效"):
        record(override(), stream="anything")
    with pytest.raises(ValueError, match=f"org:{unit.id}"):
        record(unit, stream="system")


@pytest.mark.django_db(transaction=True)
def test_event_record_outside_a_transaction_is_refused() -> None:
    subject, existing = override(), Event.objects.count()
    with pytest.raises(TransactionManagementError, match="事务"):
        event_record(subject=subject, actor=SYSTEM, kind="test")
    assert Event.objects.count() == existing
    with transaction.atomic():
        event_record(subject=subject, actor=SYSTEM, kind="test")
    assert Event.objects.count() == existing + 1


# --- append-only ------------------------------------------------------------------------------


def _resave(pk: int) -> None:
    event = Event.objects.get(pk=pk)
    event.reason = "改"
    event.save()


@pytest.mark.django_db
def test_the_database_refuses_to_change_or_delete_an_event() -> None:
    event = record(override(), after={"a": 1})
    attempts = [
        lambda: Event.objects.filter(pk=event.pk).update(reason="改"),
        lambda: Event.objects.filter(pk=event.pk).delete(),
        lambda: Event.objects.get(pk=event.pk).delete(),
        lambda: _resave(event.pk),
    ]
    for attempt in attempts:
        with pytest.raises(IntegrityError, match="事件记录只能追加，不可修改或删除"), transaction.atomic():
            attempt()
    assert Event.objects.get(pk=event.pk).reason == ""

    root, _ = chain.chain_root_create()
    with pytest.raises(IntegrityError, match="链根记录只能追加"), transaction.atomic():
        ChainRoot.objects.filter(pk=root.pk).update(root_hash="0" * 64)
    with pytest.raises(IntegrityError, match="链根记录只能追加"), transaction.atomic():
        ChainRoot.objects.filter(pk=root.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_flushing_the_whole_database_keeps_the_protection() -> None:
    """``flush`` (what transactional tests do between tests) empties the log on both
    databases, and afterwards rows are as protected as before."""
    record(override(), kind="before-flush")
    call_command("flush", interactive=False, verbosity=0)
    assert not Event.objects.exists() and not EventStream.objects.exists()
    event = record(override(), kind="after-flush")
    assert event.seq == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(kind="x")


# --- verification -----------------------------------------------------------------------------


def _some_history(unit: Enterprise) -> list[Event]:
    events = [record(unit, kind=f"registry.step_{i}", after={"i": i}) for i in range(1, 6)]
    record(override(), kind="core.calendar_set")
    return events


@pytest.mark.django_db
def test_an_untouched_log_verifies(reference: None) -> None:
    _some_history(unit_create())
    output, error = verify()
    streams = Event.objects.values("stream").distinct().count()
    assert error is None, output
    assert f"OK: {Event.objects.count()} events in {streams} streams" in output
    assert "root: none yet" in output
    assert "没有名为 org:999999 的事件链" in str(verify("--stream", "org:999999")[1])


@pytest.mark.django_db
def test_an_edited_event_is_reported_as_the_first_broken_link(reference: None) -> None:
    unit = unit_create()
    events = _some_history(unit)
    target = events[2]  # seq 4 of the unit's stream (seq 1 is its creation)
    with append_only_lifted() as cursor:
        cursor.execute(
            f'UPDATE core_event SET "after" = {json_param()} WHERE id = %s', [json.dumps({"i": 999}), target.pk]
        )
    output, error = verify()
    assert error is not None and "1 条链断裂" in str(error)
    assert (
        f"BROKEN: stream org:{unit.id} seq {target.seq} (event id {target.pk}): "
        f"hash mismatch (stored {target.hash}, recomputed " in output
    )
    assert output.count("BROKEN") == 1  # only the first broken link of the stream
    assert "OK:" not in output
    # Only the one stream is named; the others still verify on their own.
    assert verify("--stream", "system")[1] is None
    assert verify("--stream", f"org:{unit.id}")[1] is not None


@pytest.mark.django_db
def test_a_broken_prev_link_is_reported(reference: None) -> None:
    unit = unit_create()
    events = _some_history(unit)
    with append_only_lifted() as cursor:
        cursor.execute("UPDATE core_event SET prev_hash = %s WHERE id = %s", ["f" * 64, events[1].pk])
    output, error = verify()
    assert error is not None
    assert (
        f"BROKEN: stream org:{unit.id} seq {events[1].seq} (event id {events[1].pk}): "
        f"prev_hash does not match seq {events[0].seq}" in output
    )


@pytest.mark.django_db
def test_a_deleted_event_is_reported_as_a_gap(reference: None) -> None:
    unit = unit_create()
    events = _some_history(unit)
    with append_only_lifted() as cursor:
        cursor.execute("DELETE FROM core_event WHERE id = %s", [events[1].pk])  # seq 3
    output, error = verify()
    assert error is not None
    assert f"BROKEN: stream org:{unit.id} seq 4 (event id {events[2].pk}): seq gap after 2" in output


@pytest.mark.django_db
def test_deleting_the_newest_events_is_caught_by_the_head(reference: None) -> None:
    unit = unit_create()
    events = _some_history(unit)
    with append_only_lifted() as cursor:
        cursor.execute("DELETE FROM core_event WHERE id = %s", [events[-1].pk])  # the last, seq 6
    output, error = verify()
    assert error is not None
    assert f"BROKEN: stream org:{unit.id} seq 6: seq gap after 5 (head is at seq 6)" in output


@pytest.mark.django_db
def test_a_rewritten_stream_is_caught_by_the_chain_root(reference: None) -> None:
    """A tamperer who recomputes every later hash and the head passes the per-stream checks;
    the chain root made before the rewrite does not match any more."""
    unit = unit_create()
    events = _some_history(unit)
    root, created = chain.chain_root_create()
    assert created and [f"org:{unit.id}", 6, events[-1].hash] in root.heads
    assert verify()[1] is None
    with append_only_lifted() as cursor:
        prev = events[1].prev_hash
        for event in Event.objects.filter(stream=f"org:{unit.id}", seq__gte=3).order_by("seq"):
            values = {**event.__dict__, "prev_hash": prev}
            if event.seq == 3:
                values["after"] = {"i": 999}
            digest = chain.event_hash(values)
            cursor.execute(
                f'UPDATE core_event SET "after" = {json_param()}, prev_hash = %s, hash = %s WHERE id = %s',
                [json.dumps(values["after"]), prev, digest, event.pk],
            )
            prev = digest
    EventStream.objects.filter(key=f"org:{unit.id}").update(head_hash=prev)
    output, error = verify()
    assert error is not None
    assert "BROKEN: stream" not in output  # the forgery is internally consistent...
    assert f"BROKEN: root {root.id} of " in output  # ...but not with the root
    assert f"stream org:{unit.id} seq 6 no longer has the hash the root recorded" in output


@pytest.mark.django_db
def test_verification_streams_ten_thousand_events_in_a_few_queries() -> None:
    """10,000 events over 10 streams, written as event_record would (hashes computed here
    independently), verified in one streamed query."""
    base = timezone.now()
    rows: list[Event] = []
    heads: dict[str, tuple[int, str]] = {}
    for i in range(10_000):
        key = f"region:t{i % 10}"
        seq, prev = heads.get(key, (0, GENESIS_HASH))
        values: dict[str, Any] = {
            "stream": key,
            "seq": seq + 1,
            "prev_hash": prev,
            "occurred_at": base + dt.timedelta(microseconds=i),
            "actor_user_id": None,
            "actor_label": "系统",
            "organisation_id": None,
            "kind": "bench.step",
            "subject_type": "core.calendaroverride",
            "subject_id": str(i),
            "before": {},
            "after": {"i": i, "tonnes": f"{i}.500"},
            "reason": "",
            "request_id": "",
        }
        values["hash"] = digest = chain.event_hash(values)
        heads[key] = (seq + 1, digest)
        rows.append(Event(**values))
    Event.objects.bulk_create(rows, batch_size=1000)
    EventStream.objects.bulk_create([EventStream(key=k, head_seq=s, head_hash=h) for k, (s, h) in heads.items()])
    # Speed is measured in bench/, not here; what matters here is that verification streams the
    # events in a constant number of queries, whatever their number.
    with CaptureQueriesContext(connection) as queries:
        result = chain.chain_verify()
    assert result.ok, result.breaks[:3]
    assert result.events == Event.objects.count() >= 10_000
    assert len(queries) <= 6  # heads, the latest root, the streamed events


# --- roots ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_chain_roots_commit_to_every_head(reference: None) -> None:
    _some_history(unit_create())
    heads = sorted([s.key, s.head_seq, s.head_hash] for s in EventStream.objects.all())
    digest = chain_root()  # the Celery task (eager in tests)
    root = ChainRoot.objects.get()
    assert root.root_hash == digest == chain.root_hash(heads)
    assert root.heads == heads
    assert (root.stream_count, root.event_count) == (len(heads), Event.objects.count())
    assert chain.chain_root_create() == (root, False)  # nothing moved: no new root
    record(override(), kind="later")
    out = io.StringIO()
    call_command("audit", "root", stdout=out)
    assert ChainRoot.objects.count() == 2 and "new" in out.getvalue()
    latest = ChainRoot.objects.first()
    assert latest is not None and latest.root_hash in out.getvalue()
    assert f"root {latest.id} of " in verify()[0]


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_to_one_stream_take_turns() -> None:
    """Two threads write to one new stream. The first holds its transaction open after
    recording; the second must wait for it (on PostgreSQL: for the row lock, after losing the
    race to create the head row) and continue the chain from its hash. SQLite admits one
    writer at a time, so there the transactions are serialised by hand; the chain must come
    out the same."""
    subject = override()
    one_writer = threading.Lock() if connection.vendor == "sqlite" else None
    first_recorded, second_recorded, errors = threading.Event(), threading.Event(), []
    timeline: dict[str, float] = {}

    @contextmanager
    def writing() -> Iterator[None]:
        if one_writer is None:
            with transaction.atomic():
                yield
        else:
            with one_writer, transaction.atomic():
                yield

    def worker(name: str) -> None:
        from django.db import connection as thread_connection

        try:
            if name == "first":
                with writing():
                    event_record(subject=subject, actor=SYSTEM, kind="race.first", stream="region:race")
                    first_recorded.set()
                    time.sleep(0.5)  # the second writer is now waiting on us
                    timeline["first_commit"] = time.monotonic()
                second_recorded.wait(5)
            else:
                first_recorded.wait(5)
                timeline["second_start"] = time.monotonic()
                with writing():
                    event_record(subject=subject, actor=SYSTEM, kind="race.second", stream="region:race")
                    timeline["second_recorded"] = time.monotonic()
                second_recorded.set()
            for i in range(20):  # then both write freely, interleaving as they may
                with writing():
                    event_record(
                        subject=subject, actor=SYSTEM, kind=f"race.{name}", after={"i": i}, stream="region:race"
                    )
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert timeline["second_start"] < timeline["first_commit"] < timeline["second_recorded"]
    events = list(Event.objects.filter(stream="region:race").order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 43))
    assert [e.kind for e in events[:2]] == ["race.first", "race.second"]
    assert events[1].prev_hash == events[0].hash
    head = EventStream.objects.get(key="region:race")
    assert (head.head_seq, head.head_hash) == (42, events[-1].hash)
    result = chain.chain_verify(stream="region:race")
    assert result.ok and result.events == 42


# --- history ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_objects_history_renders_newest_first_in_beijing_time(reference: None) -> None:
    unit = unit_create()
    with transaction.atomic():
        event = event_record(
            subject=unit,
            actor=REGULATOR,
            kind="registry.enterprise_verified",
            before={"verification": "pending"},
            after={"verification": "verified"},
            reason="材料齐全",
        )
    history = events_for(actor=REGULATOR, subject=unit)
    assert [e.kind for e in history] == ["registry.enterprise_verified", "registry.enterprise_created"]
    assert not events_for(actor=PUBLIC, subject=unit).exists()
    html = render_to_string("core/_history.html", {"events": history})
    local = timezone.localtime(event.occurred_at, dt.timezone(dt.timedelta(hours=8)))
    assert local.strftime("%Y-%m-%d %H:%M:%S") in html
    assert "省厅 张三" in html and "材料齐全" in html
    assert "verification</span>：pending → verified" in html
    assert "暂无变更记录" in render_to_string("core/_history.html", {"events": []})
