"""Recording events: called by services inside their transaction.

Each event joins one chain (stream): ``org:<enterprise id>`` for an organisation's records,
``region:<key>`` for a regulator's act that concerns no organisation (the caller says so),
``system`` otherwise. The stream's head row is locked for the rest of the transaction, so
writers to the same organisation take turns and writers to different ones do not wait.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from . import fastsql
from .actors import Actor
from .chain import STREAM_KEY, event_hash, jsonable, organisation_id_of, stream_for
from .middleware import current_request_id
from .models import Event, EventStream


def event_record(
    *,
    subject: models.Model,
    actor: Actor,
    kind: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    request_id: str = "",
    organisation: models.Model | int | None = None,
    stream: str | None = None,
) -> Event:
    """Append the event to its stream's chain and return it.

    ``organisation`` (an Enterprise or its id) defaults to the subject itself when it is an
    enterprise, else its ``enterprise_id``/``carrier_id``/``holder_id``/``organisation_id``. ``stream`` may name a
    ``region:<key>`` stream for acts without an organisation. ``request_id`` defaults to the
    current request's (set by ``RequestIdMiddleware``). ``before``/``after`` are stored as
    plain JSON: Decimals and datetimes become strings (see ``chain.jsonable``).
    """
    if not transaction.get_connection().in_atomic_block:
        # The event is the legal record of the write: it must commit or roll back with it.
        raise TransactionManagementError("event_record 只能在服务的事务（transaction.atomic）中调用")
    if subject.pk is None:
        raise ValueError("事件的对象尚未保存")
    if isinstance(organisation, models.Model):
        organisation_id: int | None = int(organisation.pk)
    elif organisation is not None:
        organisation_id = int(organisation)
    else:
        organisation_id = organisation_id_of(subject)
    if stream is None:
        stream = stream_for(organisation_id)
    elif organisation_id is not None and stream != stream_for(organisation_id):
        raise ValueError(f"单位 {organisation_id} 的事件应记入 {stream_for(organisation_id)}，而不是 {stream}")
    elif not STREAM_KEY.match(stream):
        raise ValueError(f"事件链名称无效：{stream!r}")

    event = Event(
        actor_user_id=actor.user_id,
        actor_label=actor.label or actor.kind,
        organisation_id=organisation_id,
        kind=kind,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        before=jsonable(before or {}),
        after=jsonable(after or {}),
        reason=reason,
        request_id=request_id or current_request_id(),
        stream=stream,
    )
    # Locks the head until commit; a first writer creates it (a savepoint absorbs losing
    # that race, after which the winner's row is locked instead).
    head = fastsql.select_one(EventStream, "key = %s", [stream], for_update=True)  # the usual case, built once
    if head is None:
        head, _ = EventStream.objects.select_for_update().get_or_create(key=stream)
    # Time is taken after the lock so that occurred_at never goes backwards within a stream;
    # it is set here, not by the database, because the hash covers it.
    event.occurred_at = timezone.now()
    event.seq = head.head_seq + 1
    event.prev_hash = head.head_hash
    event.hash = event_hash(event.__dict__)
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        _append_postgresql(connection, event, head.pk)
    else:
        event.save(force_insert=True)
        EventStream.objects.filter(pk=head.pk).update(
            head_seq=event.seq, head_hash=event.hash, updated_at=event.occurred_at
        )
    return event


def _append_postgresql(connection: Any, event: Event, head_id: int) -> None:
    """The event row and the stream head's move in one round trip (one statement, a data-modifying
    CTE): the same two writes as the generic path, which every other database takes."""
    fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
    marks = ", ".join(["%s"] * len(fields))
    sql = (
        f"WITH ins AS (INSERT INTO {Event._meta.db_table} ({columns}) VALUES ({marks}) RETURNING id), "
        f"head AS (UPDATE {EventStream._meta.db_table} SET head_seq = %s, head_hash = %s, updated_at = %s "
        "WHERE id = %s) SELECT id FROM ins"
    )
    head_values = [event.seq, event.hash, connection.ops.adapt_datetimefield_value(event.occurred_at), head_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *head_values])
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = connection.alias
