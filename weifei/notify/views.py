"""Pages: the inbox, the preference page, and the webhook pages of an organisation's admins.

Pages parse input and call the same services as the API; a refusal shows the service's message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from weifei.accounts.selectors import actor_for
from weifei.core.errors import ApplicationError
from weifei.registry.models import Enterprise

from . import kinds, selectors, services

PAGE_SIZE = 50


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> Any:
    """Run a service; a refusal the user can act on becomes a message (401/403/404 propagate)."""
    try:
        result = action()
    except ApplicationError as exc:
        if exc.status in (401, 403, 404):
            raise
        messages.error(request, exc.message)
        return None
    if success:
        messages.success(request, success)
    return result


def _offset(request: HttpRequest) -> int:
    try:
        return max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        return 0


@login_required
@require_http_methods(["GET"])
def inbox(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    only_unread = request.GET.get("unread") == "1"
    qs = selectors.notifications_for(actor=actor, unread=True if only_unread else None)
    offset = _offset(request)
    total = qs.count()
    rows = list(qs[offset : offset + PAGE_SIZE])
    context = {
        "rows": [(n, kinds.kind_label(n.event)) for n in rows],
        "total": total,
        "unread": selectors.unread_count(actor=actor),
        "only_unread": only_unread,
        "prev_offset": max(0, offset - PAGE_SIZE) if offset else None,
        "next_offset": offset + PAGE_SIZE if offset + PAGE_SIZE < total else None,
        "is_admin": bool(selectors.organisations_administered(actor=actor)),
    }
    return render(request, "notify/inbox.html", context)


@login_required
@require_POST
def read(request: HttpRequest, notification_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    notification = services.notification_read(actor=actor, notification_id=notification_id)
    target = request.POST.get("next") or ""
    if target == "link" and notification.link:
        target = notification.link
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notify:inbox")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    count = services.notifications_read_all(actor=actor)
    messages.success(request, f"已将 {count} 条通知标为已读。")
    return redirect("notify:inbox")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    if request.method == "POST":
        shown = [k for k in request.POST.getlist("event") if k]
        on = set(request.POST.getlist("in_app"))
        if (
            _attempt(
                request, lambda: services.preferences_update(actor=actor, preferences={k: k in on for k in shown}), ""
            )
            is not None
        ):
            messages.success(request, "通知偏好已保存。")
        return redirect("notify:preferences")
    return render(request, "notify/preferences.html", {"items": selectors.preferences_for(actor=actor)})


def _events_from(text: str) -> list[str]:
    return [item for item in text.replace("，", ",").replace("\n", ",").split(",") if item.strip()]


@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    if request.method == "POST":
        try:
            organisation_id = int(request.POST.get("organisation_id", ""))
        except ValueError:
            messages.error(request, "请选择单位")
            return redirect("notify:webhooks")
        created = _attempt(
            request,
            lambda: services.webhook_create(
                actor=actor,
                organisation_id=organisation_id,
                url=request.POST.get("url", ""),
                events=_events_from(request.POST.get("events", "")),
                description=request.POST.get("description", ""),
            ),
            "",
        )
        if created is None:
            return redirect("notify:webhooks")
        hook, secret = created
        # Rendered, not redirected: the secret must not travel through the session's messages.
        response = render(request, "notify/webhook_secret.html", {"hook": hook, "secret": secret})
        response["Cache-Control"] = "no-store"
        return response
    org_ids = selectors.organisations_administered(actor=actor)
    context = {
        "hooks": selectors.webhooks_visible(actor=actor),
        "organisations": Enterprise.objects.filter(id__in=org_ids).order_by("name"),
        "kinds": [(k, v) for k, v in kinds.KINDS.items() if k not in kinds.INTERNAL_KINDS],
    }
    return render(request, "notify/webhooks.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest, webhook_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    hook = selectors.webhook_get(actor=actor, webhook_id=webhook_id)
    if request.method == "POST":
        rotate = request.POST.get("rotate_secret") == "1"
        updated = _attempt(
            request,
            lambda: services.webhook_update(
                actor=actor,
                webhook_id=hook.id,
                url=request.POST.get("url", hook.url),
                events=_events_from(request.POST.get("events", ",".join(hook.events))),
                description=request.POST.get("description", hook.description),
                rotate_secret=rotate,
            ),
            "" if rotate else "Webhook 已保存。",
        )
        if updated is not None and updated[1] is not None:
            response = render(request, "notify/webhook_secret.html", {"hook": updated[0], "secret": updated[1]})
            response["Cache-Control"] = "no-store"
            return response
        return redirect("notify:webhook", webhook_id=hook.id)
    deliveries = selectors.deliveries_of(actor=actor, webhook_id=hook.id)[:100]
    return render(request, "notify/webhook.html", {"hook": hook, "deliveries": deliveries})


@login_required
@require_POST
def webhook_delete(request: HttpRequest, webhook_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    services.webhook_delete(actor=actor, webhook_id=webhook_id)
    messages.success(request, "Webhook 已删除。")
    return redirect("notify:webhooks")


@login_required
@require_POST
def webhook_test(request: HttpRequest, webhook_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    _attempt(
        request, lambda: services.webhook_test(actor=actor, webhook_id=webhook_id), "已发送测试事件，结果见投递记录。"
    )
    return redirect("notify:webhook", webhook_id=webhook_id)


@login_required
@require_POST
def webhook_enable(request: HttpRequest, webhook_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    _attempt(request, lambda: services.webhook_enable(actor=actor, webhook_id=webhook_id), "Webhook 已启用。")
    return redirect("notify:webhook", webhook_id=webhook_id)


@login_required
@require_POST
def webhook_disable(request: HttpRequest, webhook_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    _attempt(
        request,
        lambda: services.webhook_disable(actor=actor, webhook_id=webhook_id, reason=request.POST.get("reason", "")),
        "Webhook 已停用。",
    )
    return redirect("notify:webhook", webhook_id=webhook_id)
