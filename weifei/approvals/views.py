"""Pages of cross-province approvals under /approvals/ (namespace ``approvals``): the consignor's
list and application form, the application with its steps timeline and timers, the province's
queue with overdue steps highlighted, the whitelist, and incoming requests from other provinces."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from weifei.accounts.selectors import actor_for
from weifei.catalog.models import DisposalMethod
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.registry.selectors import sites_visible

from . import selectors, services
from .models import Application, Attachment
from .rules import ORIGIN_PROVINCE

MAX_UPLOAD = 50 * 1024 * 1024


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> Any:
    """Run a service; a refusal the user can act on becomes a message (401/403/404 propagate)."""
    try:
        result = action()
    except ApplicationError as exc:
        if exc.status in (401, 403, 404):
            raise
        messages.error(request, exc.message)
        return None
    messages.success(request, success)
    return result


def _date(value: str | None, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise ApplicationError("日期格式应为 YYYY-MM-DD", code="date_invalid", field=field) from None


def _writable_sites(actor: Actor) -> list[Any]:
    if actor.kind != "enterprise" or actor.read_only:
        return []
    ids = [eid for eid, role in actor.memberships if role in ("admin", "member")]
    return list(sites_visible(actor=actor).filter(enterprise_id__in=ids).order_by("enterprise__name", "name"))


def _province_writer(actor: Actor) -> bool:
    return actor.is_regulator and not actor.read_only and ORIGIN_PROVINCE in actor.region_codes


@login_required
@require_GET
def application_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    status = request.GET.get("status", "")
    if status not in Application.Status.values:
        status = ""
    qs = selectors.application_list(actor=actor, status=status)
    return render(
        request,
        "approvals/list.html",
        {
            "applications": list(qs[:200]),
            "total": qs.count(),
            "status": status,
            "statuses": Application.Status.choices,
            "can_apply": bool(_writable_sites(actor)),
            "is_regulator": actor.is_regulator,
        },
    )


def _lines_from(post: Any) -> list[dict[str, Any]]:
    lines = []
    for code, name, tonnes in zip(
        post.getlist("waste_code"), post.getlist("waste_name"), post.getlist("tonnes"), strict=False
    ):
        if not code.strip() and not tonnes.strip():
            continue
        try:
            amount: Any = Decimal(tonnes.strip())
        except InvalidOperation:
            amount = tonnes
        lines.append({"waste_code": code, "waste_name": name, "tonnes": amount})
    return lines


@login_required
@require_http_methods(["GET", "POST"])
def application_new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    sites = _writable_sites(actor)
    if request.method == "POST":
        if not sites:
            raise PermissionDenied("只有产废单位的管理员或成员可以申请跨省转移")
        post = request.POST

        def create() -> Application:
            site_id = int(post.get("site_id") or 0) if (post.get("site_id") or "").isdigit() else 0
            return services.application_create(
                actor=actor,
                site_id=site_id,
                receiver_province=post.get("receiver_province", ""),
                receiver_name=post.get("receiver_name", ""),
                receiver_credit_code=post.get("receiver_credit_code", ""),
                receiver_licence_number=post.get("receiver_licence_number", ""),
                receiver_licence_valid_to=_date(post.get("receiver_licence_valid_to"), "receiver_licence_valid_to"),
                method_code=post.get("method_code", ""),
                period_from=_date(post.get("period_from"), "period_from"),
                period_to=_date(post.get("period_to"), "period_to"),
                lines=_lines_from(post),
                note=post.get("note", ""),
            )

        application = _attempt(request, create, _("已保存跨省转移申请草稿，可上传材料后提交。"))
        if application is not None:
            return redirect("approvals:detail", application_id=application.id)
    return render(
        request,
        "approvals/new.html",
        {
            "sites": sites,
            "methods": DisposalMethod.objects.order_by("code"),
            "form": request.POST,
            "rows": range(3),
        },
    )


@login_required
@require_GET
def application_detail(request: HttpRequest, application_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    application = selectors.application_get(actor=actor, application_id=application_id)
    role = actor.role_in(application.consignor_id) if actor.kind == "enterprise" else None
    consignor_writes = role in ("admin", "member") and not actor.read_only
    step = selectors.open_step(application)
    approval = selectors.approval_of(application)
    return render(
        request,
        "approvals/detail.html",
        {
            "a": application,
            "steps": selectors.step_rows(application),
            "open_step": step,
            "approval": approval,
            "approval_lines": [
                {"line": x, "remaining": x.approved_tonnes - x.consumed_tonnes} for x in approval.lines.all()
            ]
            if approval
            else [],
            "can_edit": consignor_writes and application.status in ("draft", "returned"),
            "can_withdraw": consignor_writes and application.status in services.rules.WITHDRAWABLE,
            "can_act": _province_writer(actor) and step is not None,
            "attachment_kinds": Attachment.Kind.choices,
            "today": timezone.localdate(),
        },
    )


@login_required
@require_POST
def application_submit(request: HttpRequest, application_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.application_get(actor=actor, application_id=application_id)
    _attempt(
        request,
        lambda: services.application_submit(actor=actor, application_id=application_id),
        _("已提交，等待省生态环境厅受理。"),
    )
    return redirect("approvals:detail", application_id=application_id)


@login_required
@require_POST
def application_withdraw(request: HttpRequest, application_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.application_get(actor=actor, application_id=application_id)
    _attempt(
        request,
        lambda: services.application_withdraw(
            actor=actor, application_id=application_id, reason=request.POST.get("reason", "")
        ),
        _("申请已撤回。"),
    )
    return redirect("approvals:detail", application_id=application_id)


@login_required
@require_POST
def attachment_upload(request: HttpRequest, application_id: int) -> HttpResponse:
    """The file's name, size and SHA-256 are recorded; the bytes are not kept (docs/approvals.md)."""
    actor = actor_for(request.user)
    selectors.application_get(actor=actor, application_id=application_id)
    upload = request.FILES.get("file")
    if upload is None or not upload.size:
        messages.error(request, _("请选择要上传的文件"))
        return redirect("approvals:detail", application_id=application_id)
    if upload.size > MAX_UPLOAD:
        messages.error(request, _("文件不能超过 50 MB"))
        return redirect("approvals:detail", application_id=application_id)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    _attempt(
        request,
        lambda: services.attachment_add(
            actor=actor,
            application_id=application_id,
            name=upload.name or "附件",
            sha256=digest.hexdigest(),
            size=upload.size or 0,
            kind=request.POST.get("kind", "other"),
        ),
        _("已登记附件。"),
    )
    return redirect("approvals:detail", application_id=application_id)


@login_required
@require_POST
def application_act(request: HttpRequest, application_id: int) -> HttpResponse:
    """The province's acts on the open step: accept / return / agree / disagree, the receiving
    province's reply (reply_agree / reply_disagree), approve / refuse."""
    actor = actor_for(request.user)
    selectors.application_get(actor=actor, application_id=application_id)
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")
    act: Callable[[], Any]
    if action in services.STEP_ACTIONS:

        def act() -> Any:
            return services.step_act(actor=actor, application_id=application_id, action=action, comment=comment)
    elif action in ("reply_agree", "reply_disagree"):

        def act() -> Any:
            return services.reply_record(
                actor=actor,
                application_id=application_id,
                decision=action[6:],
                comment=comment,
                responder=request.POST.get("responder", ""),
            )
    elif action in ("approve", "refuse"):

        def act() -> Any:
            return services.application_decide(
                actor=actor, application_id=application_id, approve=action == "approve", comment=comment
            )
    else:
        if not _province_writer(actor):
            raise PermissionDenied("只有省级生态环境部门可以办理跨省转移审批")
        messages.error(request, _("未知的操作"))
        return redirect("approvals:detail", application_id=application_id)
    _attempt(request, act, _("已办理。"))
    return redirect("approvals:detail", application_id=application_id)


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    rows = selectors.queue(actor=actor)  # 403 for enterprise users
    return render(
        request,
        "approvals/queue.html",
        {
            "rows": rows,
            "overdue": sum(1 for r in rows if r["overdue"]),
            "findings": list(selectors.findings(actor=actor)[:100]),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def whitelist(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    if not actor.is_regulator:
        raise PermissionDenied("只有生态环境部门（含联络账户）可以查看白名单")
    if request.method == "POST":
        if not _province_writer(actor):
            raise PermissionDenied("只有省级生态环境部门可以维护白名单")
        post = request.POST

        def add() -> Any:
            return services.whitelist_add(
                actor=actor,
                enterprise_id=int(post["enterprise_id"]) if post.get("enterprise_id", "").isdigit() else 0,
                basis=post.get("basis", ""),
                valid_from=_date(post.get("valid_from"), "valid_from"),
                valid_to=_date(post.get("valid_to"), "valid_to"),
            )

        _attempt(request, add, _("已列入白名单。"))
        return redirect("approvals:whitelist")
    if request.GET.get("format") == "json":
        data = selectors.whitelist_export(actor=actor)
        response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
        response["Content-Disposition"] = f'attachment; filename="whitelist-{data["exported_on"]}.json"'
        return response
    return render(
        request,
        "approvals/whitelist.html",
        {
            "entries": list(selectors.whitelist(actor=actor)[:1000]),
            "can_write": _province_writer(actor),
            "today": timezone.localdate(),
        },
    )


@login_required
@require_POST
def whitelist_revoke(request: HttpRequest, entry_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    _attempt(
        request,
        lambda: services.whitelist_revoke(actor=actor, entry_id=entry_id, reason=request.POST.get("reason", "")),
        _("已撤销。"),
    )
    return redirect("approvals:whitelist")


@login_required
@require_http_methods(["GET", "POST"])
def incoming_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    if not (actor.is_regulator and ORIGIN_PROVINCE in actor.region_codes):
        raise PermissionDenied("只有省级生态环境部门可以查看外省商请函")
    if request.method == "POST":
        if not _province_writer(actor):
            raise PermissionDenied("只有省级生态环境部门可以登记外省商请函")

        def record() -> Any:
            try:
                data = json.loads(request.POST.get("message", ""))
            except ValueError:
                raise ApplicationError(
                    "商请函应为 JSON（approval_request.v1）", code="message_invalid", field="message"
                ) from None
            return services.incoming_record(actor=actor, message=data)

        incoming = _attempt(request, record, _("已登记外省商请函。"))
        if incoming is not None:
            return redirect("approvals:incoming_detail", incoming_id=incoming.id)
    return render(
        request,
        "approvals/incoming_list.html",
        {
            "rows": list(selectors.incoming_list(actor=actor)[:500]),
            "can_write": _province_writer(actor),
            "today": timezone.localdate(),
            "message": request.POST.get("message", ""),
        },
    )


@login_required
@require_GET
def incoming_detail(request: HttpRequest, incoming_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    incoming = selectors.incoming_get(actor=actor, incoming_id=incoming_id)
    response = None
    if incoming.responded_at is not None:
        response = json.dumps(services.incoming_response(incoming), ensure_ascii=False, indent=2)
    return render(
        request,
        "approvals/incoming_detail.html",
        {
            "x": incoming,
            "can_reply": _province_writer(actor) and incoming.status == "open",
            "response": response,
            "today": timezone.localdate(),
        },
    )


@login_required
@require_POST
def incoming_reply(request: HttpRequest, incoming_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    selectors.incoming_get(actor=actor, incoming_id=incoming_id)
    _attempt(
        request,
        lambda: services.incoming_reply(
            actor=actor,
            incoming_id=incoming_id,
            decision=request.POST.get("decision", ""),
            comment=request.POST.get("comment", ""),
        ),
        _("已复函，可将复函消息发送给移出地省份。"),
    )
    return redirect("approvals:incoming_detail", incoming_id=incoming_id)
