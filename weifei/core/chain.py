"""The SM3 hash chain over the event log: canonical serialisation, verification, roots.

The canonical serialisation is a published rule (docs/audit.md) so that an outside auditor
can recompute every hash from a database dump without this code. Changing anything here
changes every hash: treat it as frozen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from .models import GENESIS_HASH, ChainRoot, Event, EventStream

# The columns that go into an event's hash, in no particular order (keys are sorted).
HASHED_FIELDS = (
    "stream",
    "seq",
    "prev_hash",
    "occurred_at",
    "actor_user_id",
    "actor_label",
    "organisation_id",
    "kind",
    "subject_type",
    "subject_id",
    "before",
    "after",
    "reason",
    "request_id",
)
SYSTEM_STREAM = "system"
STREAM_KEY = re.compile(r"^(org:[1-9][0-9]*|region:[A-Za-z0-9_.-]{1,80}|system)$")
# Subject attributes naming the organisation a record belongs to (the first one set wins).
ORGANISATION_ATTRS = ("enterprise_id", "carrier_id", "holder_id", "organisation_id")


# --- SM3 ------------------------------------------------------------------------------------


def _sm3_hashlib(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def _sm3_gmssl(data: bytes) -> str:
    from gmssl import func, sm3  # pure Python, slower; only where OpenSSL lacks SM3

    return str(sm3.sm3_hash(func.bytes_to_list(data)))


def _sm3_pick() -> Callable[[bytes], str]:
    try:
        hashlib.new("sm3")
    except ValueError:  # OpenSSL built without SM3 (or with it disabled)
        return _sm3_gmssl
    return _sm3_hashlib


sm3_hex: Callable[[bytes], str] = _sm3_pick()


# --- canonical serialisation ----------------------------------------------------------------


def utc_iso(value: dt.datetime) -> str:
    """ISO-8601 in UTC with exactly six fractional digits and a ``Z``: 2025-03-01T02:03:04.000005Z."""
    if value.tzinfo is None:
        raise ValueError("事件时间必须带时区")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types, the way it is both stored and hashed.

    Decimals and floats become strings (so no database turns 1e20 into an integer or 0.1 into
    0.1000000001), datetimes ISO-8601 UTC strings, dates ISO strings, tuples lists. Anything
    else (a model instance, say) is refused: pass its id.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a TextChoices member becomes its plain value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str | int) or isinstance(k, bool):
                raise TypeError(f"事件字段名必须是字符串：{k!r}")
            out[str(k)] = jsonable(v)
        return out
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=canonical_json)
    raise TypeError(f"事件中不能记录 {type(value).__name__} 类型的值，请记录其编号或文字")


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default
    )


def event_payload(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in HASHED_FIELDS}


def event_hash(values: Mapping[str, Any]) -> str:
    """SM3 over the canonical JSON of the hashed columns (``prev_hash`` among them)."""
    return sm3_hex(canonical_json(event_payload(values)).encode("utf-8"))


def root_hash(heads: Iterable[Iterable[Any]]) -> str:
    """SM3 over the canonical JSON of ``[[key, head_seq, head_hash], ...]`` sorted by key."""
    return sm3_hex(canonical_json(_sorted_heads(heads)).encode("utf-8"))


def _sorted_heads(heads: Iterable[Iterable[Any]]) -> list[tuple[str, int, str]]:
    triples = [(str(k), int(s), str(h)) for k, s, h in heads]
    return sorted(triples, key=lambda head: head[0])  # by code point, not by database collation


# --- streams --------------------------------------------------------------------------------


def organisation_id_of(subject: models.Model) -> int | None:
    """The enterprise a subject belongs to: itself, or its enterprise/carrier/holder."""
    if subject._meta.label_lower == "registry.enterprise":
        return int(subject.pk)
    for attr in ORGANISATION_ATTRS:
        value = getattr(subject, attr, None)
        if value is not None:
            return int(value)
    return None


def stream_for(organisation_id: int | None) -> str:
    return f"org:{organisation_id}" if organisation_id is not None else SYSTEM_STREAM


# --- verification ---------------------------------------------------------------------------

_ROW_FIELDS = ("id", *HASHED_FIELDS, "hash")


@dataclass(frozen=True)
class Break:
    stream: str
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        if self.seq is None:
            return f"BROKEN: stream {self.stream} head: {self.problem}"
        where = f" (event id {self.event_id})" if self.event_id is not None else ""
        return f"BROKEN: stream {self.stream} seq {self.seq}{where}: {self.problem}"


@dataclass
class Verification:
    events: int = 0
    streams: int = 0
    breaks: list[Break] = field(default_factory=list)
    root: ChainRoot | None = None
    root_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.root_problems


@dataclass
class _Walk:
    key: str
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    broken: bool = False


def chain_verify(*, stream: str | None = None, chunk_size: int = 2000) -> Verification:
    """Recompute every hash, every ``prev_hash`` link and the seq continuity of each stream,
    compare each stream's head row, then check the latest chain root against the chains.

    Reports the first broken link of each stream. Streams through the table in (stream, seq)
    order, ``chunk_size`` rows at a time, inside one read-only snapshot so that writers
    committing meanwhile cannot make a head look out of step with its events.
    """
    connection = transaction.get_connection()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # must be the transaction's first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # (SQLite: a deferred transaction reads one snapshot already, in WAL mode or not.)
        return _verify(stream, chunk_size)


def _verify(stream: str | None, chunk_size: int) -> Verification:
    result = Verification()
    heads_qs = EventStream.objects.all()
    events_qs = Event.objects.all()
    if stream is not None:
        heads_qs = heads_qs.filter(key=stream)
        events_qs = events_qs.filter(stream=stream)
    heads = {key: (seq, h) for key, seq, h in heads_qs.values_list("key", "head_seq", "head_hash")}
    root = ChainRoot.objects.order_by("-created_at", "-id").first()
    root_heads: dict[str, tuple[int, str]] = {}
    if root is not None:
        root_heads = {str(k): (int(s), str(h)) for k, s, h in root.heads if stream is None or k == stream}
    # The hash stored at each root head's seq, captured while walking (only for unbroken prefixes).
    at_root_seq: dict[str, str] = {}
    tips: dict[str, tuple[int, str]] = {}  # last verified (seq, hash) per stream

    def finish(walk: _Walk) -> None:
        if walk.broken:
            return
        tip = (walk.expected_seq - 1, walk.prev_hash)
        tips[walk.key] = tip
        head = heads.get(walk.key)
        if head is None:
            result.breaks.append(Break(walk.key, None, None, "no head row for this stream"))
        elif head[0] > tip[0]:
            result.breaks.append(
                Break(walk.key, tip[0] + 1, None, f"seq gap after {tip[0]} (head is at seq {head[0]})")
            )
        elif head[0] < tip[0]:
            result.breaks.append(Break(walk.key, None, None, f"head at seq {head[0]} behind the last event {tip[0]}"))
        elif head[1] != tip[1]:
            result.breaks.append(Break(walk.key, None, None, f"head hash does not match seq {tip[0]}"))

    walk: _Walk | None = None
    rows = events_qs.order_by("stream", "seq").values_list(*_ROW_FIELDS).iterator(chunk_size=chunk_size)
    for row in rows:
        values = dict(zip(_ROW_FIELDS, row, strict=True))
        key, seq = values["stream"], values["seq"]
        if walk is None or key != walk.key:
            if walk is not None:
                finish(walk)
            walk = _Walk(key)
            result.streams += 1
        result.events += 1
        if walk.broken:
            continue
        problem = None
        if seq != walk.expected_seq:
            problem = f"seq gap after {walk.expected_seq - 1}"
        elif values["prev_hash"] != walk.prev_hash:
            problem = "prev_hash is not the genesis value" if seq == 1 else f"prev_hash does not match seq {seq - 1}"
        else:
            recomputed = event_hash(values)
            if recomputed != values["hash"]:
                problem = f"hash mismatch (stored {values['hash']}, recomputed {recomputed})"
        if problem is not None:
            walk.broken = True
            result.breaks.append(Break(key, seq, values["id"], problem))
            continue
        if root_heads.get(key, (0, ""))[0] == seq:
            at_root_seq[key] = values["hash"]
        walk.expected_seq += 1
        walk.prev_hash = values["hash"]
    if walk is not None:
        finish(walk)
    for key, (head_seq, _h) in heads.items():
        if key not in tips and not any(b.stream == key for b in result.breaks) and head_seq > 0:
            result.breaks.append(Break(key, 1, None, f"seq gap after 0 (head is at seq {head_seq}, no events)"))

    if root is not None:
        result.root = root
        if root_hash(root.heads) != root.root_hash:
            result.root_problems.append("root hash does not match its recorded heads")
        broken_streams = {b.stream for b in result.breaks}
        for key, (seq, h) in sorted(root_heads.items()):
            if key in broken_streams:
                continue  # already reported above
            tip = tips.get(key)
            if tip is None:
                result.root_problems.append(f"stream {key} (seq {seq} in the root) has no events")
            elif tip[0] < seq:
                result.root_problems.append(f"stream {key} ends at seq {tip[0]}, the root recorded seq {seq}")
            elif at_root_seq.get(key) != h:
                result.root_problems.append(f"stream {key} seq {seq} no longer has the hash the root recorded")
    return result


# --- roots ----------------------------------------------------------------------------------


@transaction.atomic
def chain_root_create() -> tuple[ChainRoot, bool]:
    """Commit to every stream head now. Returns the latest root unchanged (and ``False``) when
    no stream has moved since it was made, so a frequent schedule does not fill the table."""
    heads = _sorted_heads(EventStream.objects.filter(head_seq__gt=0).values_list("key", "head_seq", "head_hash"))
    digest = root_hash(heads)
    latest = ChainRoot.objects.order_by("-created_at", "-id").first()
    if latest is not None and latest.root_hash == digest:
        return latest, False
    root = ChainRoot.objects.create(
        stream_count=len(heads),
        event_count=sum(seq for _k, seq, _h in heads),
        root_hash=digest,
        heads=[list(head) for head in heads],
    )
    return root, True
