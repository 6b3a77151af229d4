"""Errors that users can act on.

Services raise ``ApplicationError`` with a Chinese message that names the field and the
rule; the API turns it into the 4xx error envelope ``{"code", "message", "field"}`` and
pages show the message next to the field.
"""

from __future__ import annotations


class ApplicationError(Exception):
    status = 400

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class NotFound(ApplicationError):
    status = 404

    def __init__(self, message: str = "未找到该记录", *, code: str = "not_found", field: str | None = None):
        super().__init__(message, code=code, field=field)


class PermissionDenied(ApplicationError):
    status = 403

    def __init__(self, message: str = "无权执行此操作", *, code: str = "forbidden", field: str | None = None):
        super().__init__(message, code=code, field=field)


class Unauthenticated(ApplicationError):
    status = 401

    def __init__(self, message: str = "请先登录", *, code: str = "unauthenticated", field: str | None = None):
        super().__init__(message, code=code, field=field)


class Conflict(ApplicationError):
    """The request is valid but the record's state does not allow it now (HTTP 409)."""

    status = 409
