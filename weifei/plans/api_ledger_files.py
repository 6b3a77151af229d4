"""Ledger files API under /api/v1/ledger-files/: import (Excel/CSV, all or nothing, row-level
errors), the import template, and the HJ 1259 Annex B export. See docs/ledger-import.md."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from weifei.accounts.auth import ACTOR_AUTH, request_actor
from weifei.core.errors import ApplicationError

from . import ledger_export, ledger_import

router = Router(tags=["ledger_files"], auth=ACTOR_AUTH)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RowErrorOut(Schema):
    row: int
    column: str
    field: str
    code: str
    message: str


class ImportOut(Schema):
    imported: int
    rows: int
    dry_run: bool
    seconds: dict[str, float]


class ImportRefusedOut(Schema):
    code: str
    message: str
    total: int
    errors: list[RowErrorOut]


@router.post("/import", response={200: ImportOut, 422: ImportRefusedOut})
def ledger_import_file(
    request: HttpRequest, file: File[UploadedFile], site_id: Form[int], dry_run: Form[bool] = False
) -> Status:
    """Import ledger records from an .xlsx or .csv file in the template's layout for a site.
    Everything or nothing: 200 ``{"imported": n}``; 422 with the first 1000 row errors (row,
    column, field, code, message) and their total, nothing written. ``dry_run`` checks only."""
    actor = request_actor(request)
    outcome = ledger_import.ledger_file_import(
        actor=actor, data=file.read(), file_name=file.name or "", site_id=site_id, dry_run=dry_run
    )
    if outcome.refused:
        body = {
            "code": "import_refused",
            "message": f"文件未导入：共 {outcome.error_count} 处错误（整个文件不写入，请改正后重新导入）",
            "total": outcome.error_count,
            "errors": outcome.errors,
        }
        return Status(422, body)
    return Status(200, outcome.as_dict())


@router.get("/template")
def ledger_import_template(request: HttpRequest) -> HttpResponse:
    """The import template (.xlsx): the 台账记录 sheet and the 填写说明 sheet."""
    request_actor(request)
    out = io.BytesIO()
    ledger_import.template_workbook(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''ledger-template.xlsx"
    return response


def export_response(actor: Any, site_id: int, start: dt.date | None, end: dt.date | None, fmt: str, kind: str) -> Any:
    """Shared by the API and the page: the workbook, one CSV, or the five CSVs zipped."""
    r = ledger_export.export_range(actor=actor, site_id=site_id, start=start, end=end)
    if fmt == "xlsx":
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        ledger_export.export_xlsx(spool, r)
        spool.seek(0)
        return FileResponse(spool, as_attachment=True, filename=ledger_export.file_name(r, "xlsx"), content_type=XLSX)
    if fmt == "csv" and kind:
        if kind not in ledger_export.SHEET_BY_KIND:
            raise ApplicationError(f"记录类型 {kind!r} 不存在", code="kind_unknown", field="kind")
        response = StreamingHttpResponse(
            (piece.encode("utf-8") for piece in ledger_export.export_csv(r, kind)), content_type="text/csv"
        )
        name = ledger_export.file_name(r, f"{kind}.csv")
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}"
        return response
    if fmt == "csv":
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        ledger_export.export_csv_zip(spool, r)
        spool.seek(0)
        return FileResponse(
            spool, as_attachment=True, filename=ledger_export.file_name(r, "zip"), content_type="application/zip"
        )
    raise ApplicationError(f"导出格式 {fmt!r} 不支持：应为 xlsx 或 csv", code="format_unknown", field="format")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@router.get("/export")
def ledger_export_file(
    request: HttpRequest,
    site_id: int,
    from_: dt.date | None = Query(None, alias="from"),  # noqa: B008 (ninja's way to name a parameter "from")
    to: dt.date | None = None,
    format: str = "xlsx",
    kind: str = "",
) -> Any:
    """HJ 1259 Annex B export of a site's ledger for ``from``–``to`` (inclusive; default this year):
    ``format=xlsx`` five sheets B.1–B.5; ``format=csv&kind=generated`` one table; ``format=csv``
    the five tables zipped. Whoever sees the site may export it."""
    actor = request_actor(request)
    return export_response(actor, site_id, from_, to, format, kind)
