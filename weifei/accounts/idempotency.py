"""``Idempotency-Key`` on API POSTs: a retried request does not do the work twice.

For ``POST /api/...`` carrying the header (without it nothing changes):

1. the key is reserved for its owner (the token, the logged-in user or the client address) by
   inserting a row with status 0 in its own transaction — a concurrent duplicate hits the
   unique constraint and gets 409 ``idempotency_in_progress``;
2. the view runs; a response below 500 is stored, a 5xx (or an exception) drops the
   reservation so that the client may retry;
3. a repeat with the same method, path and body gets the stored response again, marked
   ``Idempotent-Replayed: true``; with anything different, 409 ``idempotency_key_reused``.

Responses marked ``Cache-Control: no-store`` (an API token's plaintext) are not stored: their
repeat answers 409 ``idempotency_not_replayable`` — the work was done once, and the secret is not
kept anywhere to be shown twice. Records live 24 hours (purged lazily per owner, and by
``weifei idempotency-purge`` / the ``idempotency_purge`` task).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from weifei.core import fastsql

from .models import IdempotencyRecord
from .selectors import api_token_resolve

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-:.]{1,100}$")
TTL = dt.timedelta(hours=24)


def _envelope(status: int, code: str, message: str) -> HttpResponse:
    body = json.dumps({"code": code, "message": message, "field": HEADER}, ensure_ascii=False)
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def _owner(request: HttpRequest) -> str | None:
    """Whose key space this request uses — the same principal the API will authenticate first.
    None for a bearer token that does not resolve: the API answers 401 and nothing is stored."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer":
        token = api_token_resolve(credential.strip())
        # The API's authentication resolves the same header next: it takes this answer.
        request._weifei_token_resolved = (credential.strip(), token)  # type: ignore[attr-defined]
        return f"token:{token.pk}" if token is not None else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"anon:{request.META.get('REMOTE_ADDR', '')}"[:80]


def idempotency_purge(*, now: dt.datetime | None = None) -> int:
    """Delete records older than 24 hours; returns how many."""
    now = now or timezone.now()
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=now - TTL).delete()
    return deleted


# Lazy purge per owner at most this often per process (the purge task does the rest); an expired
# record that still holds a key is replaced on the spot (below), so this is only housekeeping.
PURGE_EVERY = dt.timedelta(minutes=10)
_purged_at: dict[str, dt.datetime] = {}


def _purge_owner(owner: str, now: dt.datetime) -> None:
    last = _purged_at.get(owner)
    if last is not None and now - last < PURGE_EVERY and last <= now:
        return
    if len(_purged_at) > 10_000:
        _purged_at.clear()
    _purged_at[owner] = now
    IdempotencyRecord.objects.filter(owner=owner, created_at__lt=now - TTL).delete()


STORED_FIELDS = ("status_code", "response_body", "content_type", "withheld")


def _insert(*, owner: str, key: str, method: str, path: str, body_hash: str, now: dt.datetime) -> IdempotencyRecord:
    """Outside a transaction (the API's case) the INSERT commits by itself, in one round trip;
    inside one, a savepoint keeps a duplicate key from breaking it."""
    values = {"owner": owner, "key": key, "method": method, "path": path, "body_hash": body_hash, "created_at": now}
    if not connection.in_atomic_block:
        return fastsql.insert(IdempotencyRecord(**values))  # on every API write: SQL built once
    with transaction.atomic():
        return fastsql.insert(IdempotencyRecord(**values))


def _reserve(
    *, owner: str, key: str, method: str, path: str, body_hash: str, now: dt.datetime
) -> tuple[IdempotencyRecord | None, IdempotencyRecord | None]:
    """(our reservation, None) or (None, the record already holding the key)."""
    _purge_owner(owner, now)
    existing = None
    for _attempt in range(3):
        try:
            record = _insert(owner=owner, key=key, method=method, path=path, body_hash=body_hash, now=now)
            return record, None
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if existing is None:
                continue  # the holder failed (5xx) and let go meanwhile: try again
            if existing.created_at < now - TTL:
                existing.delete()
                continue
            return None, existing
    return None, existing


def _answer_existing(
    existing: IdempotencyRecord | None, *, key: str, method: str, path: str, body_hash: str
) -> HttpResponse:
    if existing is None or existing.status_code == 0:
        if existing is not None and (existing.method, existing.path, existing.body_hash) != (method, path, body_hash):
            return _envelope(409, "idempotency_key_reused", f"幂等键 {key} 已用于不同的请求内容")
        return _envelope(409, "idempotency_in_progress", f"幂等键 {key} 对应的请求仍在处理中，请稍后重试")
    if (existing.method, existing.path, existing.body_hash) != (method, path, body_hash):
        return _envelope(409, "idempotency_key_reused", f"幂等键 {key} 已用于不同的请求内容")
    if existing.withheld:
        return _envelope(
            409,
            "idempotency_not_replayable",
            f"幂等键 {key} 对应的请求已经处理（状态 {existing.status_code}），"
            "但其响应含只显示一次的内容（如 API 令牌明文），不能重放",
        )
    response = HttpResponse(bytes(existing.response_body), status=existing.status_code)
    if existing.content_type:
        response["Content-Type"] = existing.content_type
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not KEY_PATTERN.match(key):
            return _envelope(400, "idempotency_key_invalid", "幂等键应为 1 到 100 个字符：字母、数字或 _ - : .")
        owner = _owner(request)
        if owner is None:
            return self.get_response(request)
        method, path = request.method, request.get_full_path()[:500]
        body_hash = hashlib.sha256(request.body).hexdigest()
        record, existing = _reserve(
            owner=owner, key=key, method=method, path=path, body_hash=body_hash, now=timezone.now()
        )
        if record is None:
            return _answer_existing(existing, key=key, method=method, path=path, body_hash=body_hash)
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        self._store(record, response)
        return response

    @staticmethod
    def _store(record: IdempotencyRecord, response: HttpResponse) -> None:
        if response.status_code >= 500:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return
        withheld = response.streaming or "no-store" in response.get("Cache-Control", "")
        record.status_code = response.status_code
        record.response_body = b"" if withheld else response.content
        record.content_type = response.get("Content-Type", "")
        record.withheld = withheld
        try:
            fastsql.update(record, STORED_FIELDS)
        except IdempotencyRecord.DoesNotExist:
            pass  # purged meanwhile (older than the TTL): as the ORM's update, nothing to keep
