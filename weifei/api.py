"""The HTTP API under /api/v1/: one NinjaAPI, routers per app, one error envelope.

Every 4xx body is ``{"code": ..., "message": ..., "field": ...}``: ``code`` is an English
machine code, ``message`` is for people (Chinese by default), ``field`` names the input.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from weifei.core.errors import ApplicationError

api = NinjaAPI(
    title="weifei 危险废物全过程智能监管平台 API",
    version="1.0.0",
    urls_namespace="api",
    description="吉林省危险废物全过程智能监管平台的机器接口。所有 4xx 响应采用统一的错误结构 "
    '`{"code": "...", "message": "...", "field": "..."}`。',
)


def _envelope(request: HttpRequest, status: int, code: str, message: str, field: str | None) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, "field": field}, status=status)


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return _envelope(request, exc.status, exc.code, exc.message, exc.field)


_TYPE_MESSAGES = {
    "missing": "缺少必填项",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_type": "应为日期（YYYY-MM-DD）",
    "string_type": "应为字符串",
    "string_too_long": "过长",
    "string_too_short": "过短",
    "greater_than_equal": "小于允许的最小值",
    "less_than_equal": "大于允许的最大值",
    "json_invalid": "请求体不是有效的 JSON",
    "model_attributes_type": "请求体应为 JSON 对象",
    "dict_type": "请求体应为 JSON 对象",
    "bool_parsing": "应为布尔值",
}


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    first: dict[str, Any] = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", []) if p not in ("query", "body", "path", "payload", "form")]
    field = ".".join(loc) or None
    rule = _TYPE_MESSAGES.get(str(first.get("type", "")), str(first.get("msg", "输入无效")))
    message = f"字段 {field}：{rule}" if field else rule
    return _envelope(request, 400, "validation_error", message, field)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _envelope(request, 401, "unauthenticated", "请先登录", None)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _envelope(request, 404, "not_found", "未找到该资源", None)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and "parse request body" in str(exc):
        return _envelope(request, 400, "invalid_json", "请求体不是有效的 JSON", None)
    return _envelope(request, exc.status_code, "http_error", str(exc), None)


def _register_routers() -> None:
    from weifei.accounts.api import router as accounts_router
    from weifei.approvals.api import router as approvals_router
    from weifei.catalog.api import router as catalog_router
    from weifei.core.api import router as core_router
    from weifei.exchange.api import router as exchange_router
    from weifei.manifests.api import router as manifests_router
    from weifei.notify.api import router as notify_router
    from weifei.plans.api import router as plans_router
    from weifei.plans.api_declarations import router as declarations_router
    from weifei.plans.api_labels import router as labels_router
    from weifei.plans.api_ledger import router as ledger_router
    from weifei.plans.api_ledger_files import router as ledger_files_router
    from weifei.plans.api_stock import router as stock_router
    from weifei.registry.api import router as registry_router
    from weifei.web.api import router as web_router

    api.add_router("/catalog/", catalog_router)
    api.add_router("/", core_router)
    api.add_router("/stats/", web_router)
    api.add_router("/accounts/", accounts_router)
    api.add_router("/registry/", registry_router)
    api.add_router("/exchange/", exchange_router)
    api.add_router("/plans/", plans_router)
    api.add_router("/ledger/", ledger_router)
    api.add_router("/ledger-files/", ledger_files_router)
    api.add_router("/stock/", stock_router)
    api.add_router("/labels/", labels_router)
    api.add_router("/declarations/", declarations_router)
    api.add_router("/approvals/", approvals_router)
    api.add_router("/notify/", notify_router)
    api.add_router("/manifests/", manifests_router)


_register_routers()
