"""Where import records come from (a path, standard input, an upload) and who imports them."""

from __future__ import annotations

import io
import sys
from typing import IO

from django.contrib.auth import get_user_model

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError

from .records import Problem, Record

XLSX_MAGIC = b"PK\x03\x04"  # an .xlsx is a zip archive


def read_upload(data: IO[bytes], *, name: str = "") -> tuple[list[Record], list[Problem]]:
    """Records of a JSON Lines file or an Excel workbook, told apart by content (and name)."""
    from .excel import workbook_read
    from .importer import read_jsonl

    head = data.read(4)
    data.seek(0)
    if head == XLSX_MAGIC or name.lower().endswith(".xlsx"):
        return workbook_read(data)
    return read_jsonl(data)


def read_path(path: str) -> tuple[list[Record], list[Problem]]:
    """Records of a file (``-``: standard input)."""
    if path == "-":
        return read_upload(io.BytesIO(sys.stdin.buffer.read()))
    with open(path, "rb") as handle:
        return read_upload(handle, name=path)


def actor_by_username(username: str) -> Actor:
    """The actor of an active user, as the pages and the API would see them."""
    from weifei.accounts.selectors import actor_for

    user = get_user_model().objects.filter(username=username).first()
    if user is None or not user.is_active:
        raise ApplicationError(f"用户 {username} 不存在或已停用", code="user_not_found", field="as")
    actor = actor_for(user)
    if actor.is_public:
        raise ApplicationError(f"用户 {username} 不属于任何单位或监管部门", code="user_without_role", field="as")
    return actor
