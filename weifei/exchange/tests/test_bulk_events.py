"""core.bulk_events: many events at once, chained exactly as event_record chains them."""

from __future__ import annotations

import io
import itertools
from typing import cast

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.transaction import TransactionManagementError

from weifei.catalog.models import Region
from weifei.core import chain
from weifei.core.actors import SYSTEM
from weifei.core.bulk_events import EventEntry, events_record_bulk
from weifei.core.events import event_record
from weifei.core.models import GENESIS_HASH, Event, EventStream
from weifei.registry.models import Enterprise
from weifei.registry.tests.factories import EnterpriseFactory

pytestmark = pytest.mark.usefixtures("reference")


def _verify() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_bulk_events_continue_and_start_chains_like_event_record() -> None:
    old = cast(Enterprise, EnterpriseFactory())  # its stream has the created event already
    new = cast(Enterprise, EnterpriseFactory())
    head_before = EventStream.objects.get(key=f"org:{old.id}")
    with transaction.atomic():
        events = events_record_bulk(
            [
                EventEntry(subject=old, actor=SYSTEM, kind="test.one", after={"n": 1}),
                EventEntry(subject=new, actor=SYSTEM, kind="test.two", before={"a": None}, reason="理由"),
                EventEntry(subject=old, actor=SYSTEM, kind="test.three"),
            ]
        )
        # A service writing afterwards in the same transaction continues the chain.
        later = event_record(subject=old, actor=SYSTEM, kind="test.four")
    assert [e.seq for e in events] == [head_before.head_seq + 1, 2, head_before.head_seq + 2]
    assert events[0].prev_hash == head_before.head_hash
    assert events[2].prev_hash == events[0].hash and later.prev_hash == events[2].hash
    assert all(e.hash == chain.event_hash(e.__dict__) for e in events)
    head = EventStream.objects.get(key=f"org:{old.id}")
    assert (head.head_seq, head.head_hash) == (later.seq, later.hash)
    stored = Event.objects.get(id=events[1].id)
    assert stored.organisation_id == new.id and stored.stream == f"org:{new.id}" and stored.reason == "理由"
    assert "OK:" in _verify()


def test_first_events_of_new_streams_start_at_genesis() -> None:
    region = Region.objects.get(key="220102")  # a subject without an organisation
    assert not EventStream.objects.filter(key="region:220102").exists()
    with transaction.atomic():
        events = events_record_bulk(
            [EventEntry(subject=region, actor=SYSTEM, kind="x", stream="region:220102") for _ in range(3)]
            + [EventEntry(subject=region, actor=SYSTEM, kind="y")]
        )
    assert [(e.stream, e.seq) for e in events] == [
        ("region:220102", 1),
        ("region:220102", 2),
        ("region:220102", 3),
        ("system", EventStream.objects.get(key="system").head_seq),
    ]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(a.occurred_at <= b.occurred_at for a, b in itertools.pairwise(events))
    assert "OK:" in _verify()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_refuses() -> None:
    unit = EnterpriseFactory()
    with pytest.raises(TransactionManagementError):
        events_record_bulk([EventEntry(subject=unit, actor=SYSTEM, kind="x")])


def test_it_checks_its_arguments_as_event_record_does() -> None:
    unit = EnterpriseFactory()
    with transaction.atomic(), pytest.raises(ValueError, match="应记入"):
        events_record_bulk([EventEntry(subject=unit, actor=SYSTEM, kind="x", stream="system")])
    with transaction.atomic(), pytest.raises(ValueError, match="尚未保存"):
        events_record_bulk([EventEntry(subject=Enterprise(), actor=SYSTEM, kind="x")])
