"""``POST /api/v1/exchange/import``: the ``weifei import`` command over HTTP.

The file comes as a multipart upload (field ``file``: JSON Lines or an Excel workbook) or as
the request body (``Content-Type: application/x-ndjson``, at most
``DATA_UPLOAD_MAX_MEMORY_SIZE``, 2.5 MB by default; larger files go as uploads). The import
runs as the caller, with the same checks as the pages.

A refused file answers 400 with the error envelope plus, for this endpoint only, ``errors``:
every problem as ``{"line", "field", "code", "message"}`` (Excel adds ``sheet`` and ``column``).
"""

from __future__ import annotations

import io

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from weifei.accounts.auth import ACTOR_AUTH, request_actor
from weifei.core.errors import ApplicationError, Unauthenticated

from .importer import import_records
from .sources import read_upload

router = Router(tags=["exchange"], auth=ACTOR_AUTH)


class ProblemOut(Schema):
    line: int
    field: str | None
    code: str
    message: str
    sheet: str | None = None
    column: str | None = None


class CountsOut(Schema):
    created: int
    updated: int
    unchanged: int


class ImportOut(Schema):
    records: int
    applied: bool
    dry_run: bool
    partial: bool
    refused: bool
    counts: dict[str, CountsOut]
    errors: list[ProblemOut]
    summary: str
    seconds: dict[str, float]


class RefusedOut(Schema):
    code: str
    message: str
    field: str | None
    errors: list[ProblemOut]


@router.post("/import", response={200: ImportOut, 400: RefusedOut})
def import_file(
    request: HttpRequest,
    dry_run: bool = False,
    partial: bool = False,
    file: File[UploadedFile | None] = None,
) -> Status:
    """Import exchange-format v1 records (all or nothing unless ``partial``; ``dry_run`` checks
    and reports without writing). 200: the report; 400 ``import_refused``: every error."""
    actor = request_actor(request)
    if actor.is_public:
        raise Unauthenticated()
    if file is not None:
        data = file.file
        assert data is not None  # an upload always has its (memory or temporary) file
        records, problems = read_upload(data, name=file.name or "")
    else:
        try:
            body = request.body
        except RequestDataTooBig:
            raise ApplicationError(
                "请求体过大：大文件请以 multipart 表单的 file 字段上传", code="body_too_large", field="file"
            ) from None
        if not body.strip():
            raise ApplicationError(
                "没有收到文件：请上传 file 字段或在请求体中发送 JSON Lines", code="file_required", field="file"
            )
        records, problems = read_upload(io.BytesIO(body))
    report = import_records(records, problems, actor=actor, partial=partial, dry_run=dry_run)
    if report.refused:
        envelope = {
            "code": "import_refused",
            "message": report.summary(),
            "field": None,
            "errors": [p.as_dict() for p in report.problems],
        }
        return Status(400, envelope)
    return Status(200, report.as_dict())
