"""RejectNulMiddleware: NUL in text input is refused; binary file uploads (an .xlsx is a zip full of
NUL bytes) pass through to their own readers."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from weifei.core.middleware import RejectNulMiddleware


def _passed(request: HttpRequest) -> HttpResponse:
    return HttpResponse("passed")


def _run(request: HttpRequest) -> HttpResponse:
    return RejectNulMiddleware(_passed)(request)


def test_binary_upload_passes_and_text_field_with_nul_is_refused() -> None:
    rf = RequestFactory()
    xlsx = SimpleUploadedFile("台账.xlsx", b"PK\x03\x04\x00\x00binary\x00", content_type="application/octet-stream")
    ok = _run(rf.post("/api/v1/ledger-files/import", {"site_id": "1", "file": xlsx}))
    assert ok.content == b"passed"
    xlsx.seek(0)
    bad_field = _run(rf.post("/api/v1/ledger-files/import", {"site_id": "1\x00", "file": xlsx}))
    assert bad_field.status_code == 400 and b"invalid_character" in bad_field.content


def test_json_and_urlencoded_bodies_with_nul_are_refused() -> None:
    rf = RequestFactory()
    assert _run(rf.post("/api/v1/x", '{"a": "\\u0000"}', content_type="application/json")).status_code == 400
    assert _run(rf.post("/x/", {"a": "b\x00"})).status_code == 400
    assert _run(rf.post("/x/", {"a": "b"})).content == b"passed"
