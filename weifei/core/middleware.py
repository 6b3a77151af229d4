"""Request id: every request carries one; events and logs quote it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_VALID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# The request being served, for code with no request at hand (``event_record``).
_request_id: ContextVar[str] = ContextVar("weifei_request_id", default="")


def current_request_id() -> str:
    """The id of the request being served, or "" outside a request (commands, tasks)."""
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)  # threads are reused by the server
        response["X-Request-Id"] = request_id
        return response


class ApplicationErrorMiddleware:
    """Pages: an ``ApplicationError`` that escapes a view becomes a 4xx page with its message,
    never a 500. (The API has its own handlers that answer with the JSON envelope.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from .errors import ApplicationError

        if not isinstance(exception, ApplicationError):
            return None
        return render(
            request,
            "web/error.html",
            {"status": exception.status, "message": exception.message, "field": exception.field},
            status=exception.status,
        )


_NUL_ESCAPES = (b"\x00", b"\\u0000", b"%00")


class RejectNulMiddleware:
    """Refuse requests carrying NUL characters (in the path, the query string or the body).

    PostgreSQL text cannot hold NUL, so such input would surface as a database error (a 500)
    deep inside a query; no legitimate input contains it, so it is refused at the door."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._has_nul(request):
            return self._refuse(request)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path:
            return True
        raw_query = request.META.get("QUERY_STRING", "").encode("latin-1", "ignore").lower()
        if any(token in raw_query for token in (b"\x00", b"%00")):
            return True
        if request.method in ("POST", "PUT", "PATCH"):
            if request.content_type == "multipart/form-data":
                # Uploaded files are binary (an .xlsx is a zip full of NUL bytes) and are parsed by
                # their own readers; the form fields and file names are text and checked here.
                texts = [v for values in request.POST.lists() for v in [values[0], *values[1]]]
                texts += [f.name or "" for files in request.FILES.lists() for f in files[1]]
                return any("\x00" in t for t in texts)
            body = request.body.lower()
            return any(token in body for token in _NUL_ESCAPES)
        return False

    @staticmethod
    def _refuse(request: HttpRequest) -> HttpResponse:
        import json

        from django.shortcuts import render

        message = "请求中含有不允许的空字符（NUL）"
        if request.path.startswith("/api/"):
            body = json.dumps({"code": "invalid_character", "message": message, "field": None}, ensure_ascii=False)
            return HttpResponse(body, status=400, content_type="application/json; charset=utf-8")
        return render(request, "web/error.html", {"status": 400, "message": message}, status=400)
