"""Recording many events at once, for bulk writers (the registry importer).

``events_record_bulk`` gives each entry exactly the row ``event_record`` would have written had
it been called once per entry in the same order: the same organisation and stream rules, the
same ``jsonable`` before/after, the same ``seq``/``prev_hash``/``hash`` (``chain.event_hash``
over the same values) and the same head update. What differs is the cost: the stream heads are
locked with one ``SELECT ... FOR UPDATE`` per chunk of keys (in sorted key order, so two bulk
writers never wait for each other in a cycle), the events are inserted with ``bulk_create``
and the heads moved with one statement per chunk. ``weifei audit verify`` checks the result
like any other chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from .actors import Actor
from .chain import STREAM_KEY, event_hash, jsonable, organisation_id_of, stream_for
from .middleware import current_request_id
from .models import Event, EventStream

LOCK_CHUNK = 1000  # keys per SELECT ... FOR UPDATE (an IN list PostgreSQL plans well)
INSERT_CHUNK = 2000  # events per INSERT (15 columns: far below PostgreSQL's 65,535 parameters)
HEAD_CHUNK = 1000  # heads per UPDATE


@dataclass(frozen=True)
class EventEntry:
    """The arguments of one ``event_record`` call."""

    subject: models.Model
    actor: Actor
    kind: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str = ""
    request_id: str = ""
    organisation: models.Model | int | None = None
    stream: str | None = None


def _event_of(entry: EventEntry, request_id: str) -> Event:
    """The unchained row of one entry, checked as ``event_record`` checks its arguments."""
    subject = entry.subject
    if subject.pk is None:
        raise ValueError("事件的对象尚未保存")
    organisation = entry.organisation
    if isinstance(organisation, models.Model):
        organisation_id: int | None = int(organisation.pk)
    elif organisation is not None:
        organisation_id = int(organisation)
    else:
        organisation_id = organisation_id_of(subject)
    stream = entry.stream
    if stream is None:
        stream = stream_for(organisation_id)
    elif organisation_id is not None and stream != stream_for(organisation_id):
        raise ValueError(f"单位 {organisation_id} 的事件应记入 {stream_for(organisation_id)}，而不是 {stream}")
    elif not STREAM_KEY.match(stream):
        raise ValueError(f"事件链名称无效：{stream!r}")
    return Event(
        actor_user_id=entry.actor.user_id,
        actor_label=entry.actor.label or entry.actor.kind,
        organisation_id=organisation_id,
        kind=entry.kind,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        before=jsonable(entry.before or {}),
        after=jsonable(entry.after or {}),
        reason=entry.reason,
        request_id=entry.request_id or request_id,
        stream=stream,
    )


def _lock_heads(keys: list[str]) -> dict[str, EventStream]:
    """Create the missing heads, then lock every head, in sorted key order."""
    existing: set[str] = set()
    for i in range(0, len(keys), LOCK_CHUNK):
        existing.update(EventStream.objects.filter(key__in=keys[i : i + LOCK_CHUNK]).values_list("key", flat=True))
    missing = [k for k in keys if k not in existing]
    # A concurrent first writer may create the same head meanwhile: its row wins and is locked below.
    EventStream.objects.bulk_create([EventStream(key=k) for k in missing], batch_size=LOCK_CHUNK, ignore_conflicts=True)
    heads: dict[str, EventStream] = {}
    for i in range(0, len(keys), LOCK_CHUNK):
        chunk = keys[i : i + LOCK_CHUNK]
        for head in EventStream.objects.select_for_update().filter(key__in=chunk).order_by("key"):
            heads[head.key] = head
    return heads


def _move_heads(heads: list[EventStream]) -> None:
    if not heads:
        return
    if connection.vendor == "postgresql":
        table = EventStream._meta.db_table
        for i in range(0, len(heads), HEAD_CHUNK):
            chunk = heads[i : i + HEAD_CHUNK]
            rows = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for head in chunk:
                params += [head.pk, head.head_seq, head.head_hash, head.updated_at]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS s SET head_seq = v.seq::bigint, head_hash = v.hash, "
                    f"updated_at = v.at::timestamptz FROM (VALUES {rows}) AS v(id, seq, hash, at) "
                    "WHERE s.id = v.id::bigint",
                    params,
                )
    else:
        EventStream.objects.bulk_update(heads, ["head_seq", "head_hash", "updated_at"], batch_size=HEAD_CHUNK)


def events_record_bulk(entries: Sequence[EventEntry]) -> list[Event]:
    """Append the entries' events to their streams' chains, in the order given, and return them.

    Call inside the writer's transaction, after the subjects are saved (they need their ids).
    The heads of every stream touched stay locked until that transaction ends.
    """
    if not transaction.get_connection().in_atomic_block:
        # The events are the legal record of the writes: they commit or roll back with them.
        raise TransactionManagementError("events_record_bulk 只能在服务的事务（transaction.atomic）中调用")
    if not entries:
        return []
    request_id = current_request_id()
    events = [_event_of(entry, request_id) for entry in entries]
    heads = _lock_heads(sorted({e.stream for e in events}))
    # Times are taken after the locks, one per event in order, so occurred_at never goes
    # backwards within a stream (the hash covers it).
    for event in events:
        head = heads[event.stream]
        event.occurred_at = timezone.now()
        event.seq = head.head_seq + 1
        event.prev_hash = head.head_hash
        event.hash = event_hash(event.__dict__)
        head.head_seq, head.head_hash, head.updated_at = event.seq, event.hash, event.occurred_at
    Event.objects.bulk_create(events, batch_size=INSERT_CHUNK)
    _move_heads(list(heads.values()))
    return events
