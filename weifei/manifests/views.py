"""Manifest pages: the list and registers, the creation wizard, the detail page with the actions
the current user may take, the driver's phone page (scan and sign pickup / handover), the
receiver's weigh-in page, the PDF, and the road-control link (public, time-limited).

Pages parse input and call ``services.manifest_create`` / ``services.manifest_transition``; a
refusal shows the service's Chinese message and writes nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from weifei.accounts.selectors import actor_for
from weifei.catalog.models import DisposalMethod
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound, PermissionDenied
from weifei.core.selectors import events_for
from weifei.plans.labels import qr_image
from weifei.registry.models import Driver, Enterprise, Licence, Site, Vehicle
from weifei.registry.selectors import sites_visible

from . import lifecycle, roadlink, selectors, services
from .guards import DISCREPANCY_KINDS, current_leg, next_leg
from .lifecycle import Event, Role
from .models import Manifest, ManifestContainer, RoadControlLink, State
from .pdf import manifest_pdf

LINE_SLOTS = 3
LEG_SLOTS = 3
PAGE_SIZE = 200
WRITING = ("admin", "member")
_LABEL_PATH = re.compile(r"/labels/([^/?#]+)/?")
# Events signed on the dedicated pages rather than the detail page's generic forms.
DRIVER_EVENTS = (Event.PICKUP, Event.HAND_OVER)
RECEIVE_EVENTS = (Event.ACCEPT, Event.REPORT_DISCREPANCY, Event.ACCEPT_PARTIALLY, Event.REJECT, Event.TREAT)


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


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def scanned_code(value: str) -> str:
    """The label code in a scanned QR payload (``…/labels/<code>/``) or a typed bare code."""
    value = unicodedata.normalize("NFKC", value or "").strip()
    if "/" in value:
        match = _LABEL_PATH.search(urlsplit(value).path or value)
        if match:
            value = unquote(match.group(1))
    return unicodedata.normalize("NFKC", value).strip().upper()


def _codes(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for part in re.split(r"[\s,，;；]+", value or ""):
            code = scanned_code(part)
            if code and code not in out:
                out.append(code)
    return out


# ---------------------------------------------------------------- list


def _writing_units(actor: Actor) -> list[int]:
    if actor.kind != "enterprise" or actor.read_only:
        return []
    return [e for e in actor.enterprise_ids if actor.role_in(e) in WRITING]


@login_required
@require_GET
def manifest_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    state = request.GET.get("state", "")
    role = request.GET.get("role", "")
    q = (request.GET.get("q") or "").strip()[:14]
    tab = request.GET.get("register", "")
    units = (
        list(Enterprise.objects.filter(id__in=actor.enterprise_ids).order_by("id"))
        if actor.kind == "enterprise"
        else []
    )
    unit = next((u for u in units if u.id == _int(request.GET.get("unit"))), units[0] if units else None)
    qs: QuerySet[Manifest]
    if unit is not None and tab in ("outgoing", "transported", "incoming"):
        qs = selectors.register(actor=actor, enterprise_id=unit.id, kind=tab)
    else:
        tab = ""
        qs = selectors.manifests_visible(actor=actor)
        ids = actor.enterprise_ids if actor.kind == "enterprise" else []
        if role == "consignor":
            qs = qs.filter(consignor_id__in=ids)
        elif role == "carrier":
            qs = qs.filter(id__in=Manifest.objects.filter(legs__carrier_id__in=ids).values("id"))
        elif role == "receiver":
            qs = qs.filter(Q(receiver_id__in=ids) | Q(original_receiver_id__in=ids))
        else:
            role = ""
    if state in State.values:
        qs = qs.filter(state=state)
    else:
        state = ""
    if q:
        qs = qs.filter(number__startswith=q)
    total = qs.count()
    context = {
        "manifests": qs.order_by("-created_at")[:PAGE_SIZE],
        "total": total,
        "state": state,
        "role": role,
        "q": q,
        "tab": tab,
        "unit": unit,
        "units": units,
        "states": State.choices,
        "roles": [("consignor", _("移出人")), ("carrier", _("承运人")), ("receiver", _("接受人"))],
        "tabs": [("outgoing", _("转出登记簿")), ("transported", _("运输登记簿")), ("incoming", _("接收登记簿"))],
        "can_create": bool(_writing_units(actor)),
    }
    return render(request, "manifests/list.html", context)


# ---------------------------------------------------------------- the wizard


def _available_containers(site: Site) -> list[dict[str, Any]]:
    """The site's labelled containers still on site and not on an open manifest."""
    from weifei.plans.models import LedgerEntry
    from weifei.plans.stock import site_onsite

    onsite = {r.id: r for r in site_onsite(site)}
    entries = LedgerEntry.objects.filter(id__in=list(onsite), container_code__isnull=False).exclude(container_code="")
    busy = set(
        ManifestContainer.objects.filter(manifest__consignor_site=site)
        .exclude(manifest__state__in=lifecycle.TERMINAL)
        .values_list("label_code", flat=True)
    )
    rows = [
        {"code": str(e.container_code), "waste_code": e.waste_code, "tonnes": onsite[e.id].remaining,
         "occurred_at": e.occurred_at}
        for e in entries.order_by("occurred_at", "id")[:500]
        if str(e.container_code) not in busy
    ]  # fmt: skip
    return rows


def _receiver_sites(receivers: list[Enterprise], chosen: int | None) -> list[tuple[Enterprise, list[Site]]]:
    """The sites offered as 接收场所, grouped by receiver: only the chosen receiver's once one is
    chosen (a re-rendered form), else every listed receiver's (the page's script narrows them)."""
    ids = [r.id for r in receivers if chosen is None or r.id == chosen]
    by_unit: dict[int, list[Site]] = {}
    rows = (
        Site.objects.filter(enterprise_id__in=ids)
        .exclude(status=Site.Status.CLOSED)
        .select_related("region")
        .order_by("enterprise_id", "name", "id")[:2000]
    )
    for row in rows:
        by_unit.setdefault(row.enterprise_id, []).append(row)
    return [(r, by_unit[r.id]) for r in receivers if r.id in by_unit]


def _wizard_context(
    actor: Actor, site: Site | None, sites: list[Site], receiver_id: int | None = None
) -> dict[str, Any]:
    today = timezone.localdate()
    receivers = list(
        Enterprise.objects.filter(
            licences__status=Licence.Status.VALID, licences__valid_from__lte=today, licences__valid_to__gte=today
        )
        .distinct()
        .order_by("name")[:500]
    )
    chosen = receiver_id if any(r.id == receiver_id for r in receivers) else None
    carriers = list(Enterprise.objects.filter(is_carrier=True).order_by("name")[:500])
    carrier_ids = [c.id for c in carriers]
    return {
        "site": site,
        "sites": sites,
        "receivers": receivers,
        "receiver_sites": _receiver_sites(receivers, chosen) if site else [],
        "carriers": carriers,
        "vehicles": Vehicle.objects.filter(carrier_id__in=carrier_ids)
        .select_related("carrier")
        .order_by("plate")[:1000],
        "drivers": Driver.objects.filter(carrier_id__in=carrier_ids).select_related("carrier").order_by("name")[:1000],
        "containers": _available_containers(site) if site else [],
        "methods": DisposalMethod.objects.order_by("code"),
        "transfer_types": Manifest.TransferType.choices,
    }


LINE_EXTRA = ("common_name", "form", "packaging", "dg_class", "un_number")
LEG_FIELDS = ("carrier", "vehicle", "driver", "start", "end")
# The wizard's fields under which a service's refusal is shown (ApplicationError.field → slot).
FIELD_SLOTS = {
    "receiver": "receiver",
    "receiver_site": "receiver_site",
    "transfer_type": "transfer_type",
    "shipper": "shipper",
    "approval_reference": "approval_reference",
    "planned_method_code": "planned_method_code",
    "emergency_measures": "emergency_measures",
    "lines": "lines",
    "label_codes": "lines",
    "legs": "legs",
}
_LINE_FIELD = re.compile(r"^lines\[(\d+)\]")


def _line_slots_used(post: Any) -> list[int]:
    """The line slots the user filled in (the service numbers lines in this order)."""
    return [i for i in range(LINE_SLOTS) if (post.get(f"line-{i}-waste_code") or "").strip()]


def _field_errors(exc: ApplicationError, post: Any) -> tuple[dict[str, str], dict[int, str]]:
    """Where the refusal goes: a named field of the form, or one line slot (``lines[n].…``)."""
    field = exc.field or ""
    match = _LINE_FIELD.match(field)
    if match:
        used = _line_slots_used(post)
        n = int(match.group(1))
        if n < len(used):
            return {}, {used[n]: exc.message}
        return {"lines": exc.message}, {}
    slot = FIELD_SLOTS.get(field)
    return ({slot: exc.message} if slot else {}), {}


def _form_rows(post: Any, line_errors: dict[int, str]) -> dict[str, Any]:
    """The line and leg slots with what was typed (a re-rendered form keeps it)."""
    return {
        "line_rows": [
            (i, {k: post.get(f"line-{i}-{k}", "") for k in ("waste_code", "tonnes", *LINE_EXTRA)}, line_errors.get(i))
            for i in range(LINE_SLOTS)
        ],
        "leg_rows": [(i, {k: post.get(f"leg-{i}-{k}", "") for k in LEG_FIELDS}) for i in range(LEG_SLOTS)],
    }


def _parse_wizard(request: HttpRequest, site: Site, containers: list[dict[str, Any]]) -> dict[str, Any]:
    """The form as manifest_create's arguments; picked containers go to the line of their waste code."""
    post = request.POST
    by_code = {c["code"]: c for c in containers}
    picked = _codes([*post.getlist("labels"), post.get("labels_text", "")])
    lines: list[services.LineIn] = []
    specs: list[tuple[str, str, dict[str, str]]] = []
    for i in _line_slots_used(post):
        specs.append(
            (
                (post.get(f"line-{i}-waste_code") or "").strip(),
                (post.get(f"line-{i}-tonnes") or "").strip(),
                {k: (post.get(f"line-{i}-{k}") or "").strip() for k in LINE_EXTRA},
            )
        )
    if not specs:
        raise ApplicationError(_("请至少填写一条废物明细（废物代码）"), code="lines_count", field="lines")
    line_codes = [s[0] for s in specs]
    assigned: dict[str, list[str]] = {c: [] for c in line_codes}
    for label in picked:
        waste = by_code[label]["waste_code"] if label in by_code else None
        if waste is None or waste not in assigned:
            # Unknown labels and labels of another waste code go to the first line: the service names them.
            assigned[line_codes[0]].append(label)
        else:
            assigned[waste].append(label)
    for n, (code, tonnes_raw, extra) in enumerate(specs):
        labels = tuple(assigned[code])
        tonnes: Decimal | str = tonnes_raw
        if not tonnes_raw and labels:
            tonnes = sum((by_code[x]["tonnes"] for x in labels if x in by_code), Decimal(0))
        try:
            tonnes = Decimal(str(tonnes))
        except InvalidOperation:
            raise ApplicationError(
                _("%(code)s 的移出量 %(value)s 不是数字") % {"code": code, "value": repr(tonnes_raw)},
                code="tonnes_invalid",
                field=f"lines[{n}].declared_tonnes",
            ) from None
        lines.append(
            services.LineIn(
                waste_code=code,
                declared_tonnes=tonnes,
                label_codes=labels,
                common_name=extra["common_name"],
                form=extra["form"],
                packaging=extra["packaging"],
                dg_class=extra["dg_class"],
                un_number=extra["un_number"],
            )
        )
        assigned[code] = []  # a repeated waste code takes its containers only once
    legs: list[services.LegIn] = []
    for i in range(LEG_SLOTS):
        carrier = _int(post.get(f"leg-{i}-carrier"))
        if carrier:
            legs.append(
                services.LegIn(
                    carrier_id=carrier,
                    vehicle_id=_int(post.get(f"leg-{i}-vehicle")),
                    driver_id=_int(post.get(f"leg-{i}-driver")),
                    start_point=post.get(f"leg-{i}-start", "") or (site.address if i == 0 else ""),
                    end_point=post.get(f"leg-{i}-end", ""),
                )
            )
    receiver = _int(post.get("receiver_id"))
    if receiver is None:
        raise ApplicationError(_("请选择接受人"), code="receiver_missing", field="receiver")
    receiver_site_raw = (post.get("receiver_site_id") or "").strip()
    receiver_site = _int(receiver_site_raw)
    if receiver_site_raw and receiver_site is None:
        raise ApplicationError(_("请从列表中选择接收场所"), code="receiver_site_wrong", field="receiver_site")
    return {
        "consignor_site_id": site.id,
        "receiver_id": receiver,
        "receiver_site_id": receiver_site,
        "lines": lines,
        "legs": legs,
        "emergency_measures": post.get("emergency_measures", ""),
        "planned_method_code": post.get("planned_method_code", ""),
        "transfer_type": post.get("transfer_type") or Manifest.TransferType.IN_PROVINCE,
        "shipper": post.get("shipper") or "consignor",
        "approval_reference": post.get("approval_reference", ""),
    }


@login_required
@require_http_methods(["GET", "POST"])
def manifest_new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    units = _writing_units(actor)
    if not units:
        raise PermissionDenied(_("只有产生单位的管理员或业务人员可以填写转移联单"))
    sites = list(sites_visible(actor=actor).filter(enterprise_id__in=units).order_by("enterprise_id", "id")[:200])
    source = request.POST if request.method == "POST" else request.GET
    site_id = _int(source.get("site_id"))
    site = next((s for s in sites if s.id == site_id), sites[0] if len(sites) == 1 else None)
    if request.method == "POST":
        if site is None:
            messages.error(request, _("请选择移出场所"))
            return redirect("manifests:new")
        containers = _available_containers(site)
        try:
            args = _parse_wizard(request, site, containers)
            manifest = services.manifest_create(actor=actor, **args)
        except ApplicationError as exc:
            if exc.status in (401, 403, 404):
                raise
            messages.error(request, exc.message)
            errors, line_errors = _field_errors(exc, request.POST)
            context = _wizard_context(actor, site, sites, _int(request.POST.get("receiver_id")))
            context.update(_form_rows(request.POST, line_errors))
            context["posted"] = request.POST
            context["errors"] = errors
            context["picked"] = set(_codes(request.POST.getlist("labels")))
            return render(request, "manifests/new.html", context, status=400)
        messages.success(request, _("已创建联单草稿 %(number)s，核对后请提交。") % {"number": manifest.number})
        return redirect("manifests:detail", manifest_id=manifest.id)
    context = _wizard_context(actor, site, sites, _int(request.GET.get("receiver_id")))
    context.update(_form_rows({}, {}))
    context["posted"] = {}
    context["errors"] = {}
    context["picked"] = set()
    return render(request, "manifests/new.html", context)


# ---------------------------------------------------------------- detail and actions


def _allowed_events(actor: Actor, manifest: Manifest) -> tuple[frozenset[str], list[tuple[str, str, str]]]:
    """The actor's roles and the (event, name, acting role) it may attempt in the current state."""
    roles = services.roles_of(actor, manifest)
    out = []
    for event in lifecycle.events_from(manifest.state):
        row = lifecycle.transition_for(manifest.state, event, roles)
        if row is not None:
            out.append((event, Event.NAMES[event], row.role))
    return roles, out


def _state_name(value: str) -> str:
    return State(value).label if value in State.values else value


def _map_points(manifest: Manifest) -> list[dict[str, Any]]:
    points = []
    site = manifest.consignor_site
    if site.latitude is not None and site.longitude is not None:
        points.append(
            {
                "lat": float(site.latitude),
                "lng": float(site.longitude),
                "label": _("移出：%(name)s") % {"name": site.name},
            }
        )
    target: Any = manifest.receiver_site or manifest.receiver
    if target.latitude is not None and target.longitude is not None:
        points.append(
            {
                "lat": float(target.latitude),
                "lng": float(target.longitude),
                "label": _("接受：%(name)s") % {"name": target.name},
            }
        )
    return points


def _common(actor: Actor, manifest: Manifest) -> dict[str, Any]:
    roles, events = _allowed_events(actor, manifest)
    return {
        "m": manifest,
        "lines": list(manifest.lines.all()),
        "containers": list(manifest.containers.select_related("line")),
        "legs": list(manifest.legs.select_related("carrier", "vehicle", "driver")),
        "roles": roles,
        "role_names": [Role.NAMES[r] for r in sorted(roles)],
        "events": events,
        "event_names": {e: n for e, n, _role in events},
        "current_leg": current_leg(manifest),
        "next_leg": next_leg(manifest),
    }


@login_required
@require_GET
def manifest_detail(request: HttpRequest, manifest_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    context = _common(actor, manifest)
    context.update(
        {
            "signatures": [
                (
                    s,
                    Event.NAMES.get(s.event, s.event),
                    Role.NAMES.get(s.role, s.role),
                    _state_name(s.from_state),
                    _state_name(s.to_state),
                )
                for s in manifest.signatures.select_related("user", "organisation")
            ],
            "history": events_for(actor=actor, subject=manifest)[:100],
            "generic_events": [e for e in context["events"] if e[0] not in DRIVER_EVENTS + RECEIVE_EVENTS],
            "driver_events": [e for e in context["events"] if e[0] in DRIVER_EVENTS],
            "receive_events": [e for e in context["events"] if e[0] in RECEIVE_EVENTS],
            "is_regulator": actor.is_regulator,
            "map_points": _map_points(manifest) if actor.is_regulator else [],
            "discrepancy_kinds": [DISCREPANCY_KINDS.get(k, k) for k in (manifest.discrepancy or {}).get("kinds", [])],
            "may_link": roadlink._may_create(actor, manifest),
            "carriers": Enterprise.objects.filter(is_carrier=True).order_by("name")[:500],
            "receivers": Enterprise.objects.filter(is_operator=True)
            .exclude(id=manifest.receiver_id)
            .order_by("name")[:500],
            "methods": DisposalMethod.objects.order_by("code"),
        }
    )
    return render(request, "manifests/detail.html", context)


def _payload(request: HttpRequest, manifest: Manifest, event: str) -> dict[str, Any]:
    post = request.POST
    payload: dict[str, Any] = {"reason": post.get("reason", "")}
    if event == Event.PICKUP:
        payload["scanned_labels"] = _codes([*post.getlist("scanned"), post.get("scanned_text", "")])
    if event == Event.HAND_OVER:
        payload["handover_place"] = post.get("handover_place", "")
    if event in (Event.ACCEPT, Event.REPORT_DISCREPANCY):
        payload["weights"] = {
            line.id: post[f"weight-{line.id}"].strip()
            for line in manifest.lines.all()
            if (post.get(f"weight-{line.id}") or "").strip()
        }
    if event == Event.REPORT_DISCREPANCY:
        payload["kinds"] = post.getlist("kinds")
        payload["description"] = post.get("description", "")
    if event == Event.ACCEPT_PARTIALLY:
        payload["refused_tonnes"] = (post.get("refused_tonnes") or "").strip()
    if event == Event.REDIRECT:
        for key in ("receiver_id", "carrier_id", "vehicle_id", "driver_id"):
            payload[key] = _int(post.get(key))
        payload["start_point"] = post.get("start_point", "")
    if event == Event.TREAT:
        payload["method_code"] = post.get("method_code", "")
        payload["result"] = post.get("result", "")
    return payload


@login_required
@require_POST
def manifest_event(request: HttpRequest, manifest_id: int, event: str) -> HttpResponse:
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    if event not in Event.ALL:
        messages.error(request, _("未知的联单事项 %(event)s") % {"event": event})
    else:
        _attempt(
            request,
            lambda: services.manifest_transition(
                actor=actor, manifest_id=manifest.id, event=event, payload=_payload(request, manifest, event)
            ),
            _("已%(event)s。") % {"event": Event.NAMES[event]},
        )
    back = request.POST.get("next")
    if back == "driver":
        return redirect("manifests:driver", manifest_id=manifest.id)
    if back == "receive":
        return redirect("manifests:receive", manifest_id=manifest.id)
    return redirect("manifests:detail", manifest_id=manifest.id)


@login_required
@require_GET
def manifest_driver(request: HttpRequest, manifest_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    context = _common(actor, manifest)
    context["base"] = base_url(request)
    return render(request, "manifests/driver.html", context)


@login_required
@require_GET
def manifest_receive(request: HttpRequest, manifest_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    context = _common(actor, manifest)
    context["kinds"] = list(DISCREPANCY_KINDS.items())
    context["methods"] = DisposalMethod.objects.order_by("code")
    context["discrepancy_kinds"] = [DISCREPANCY_KINDS.get(k, k) for k in (manifest.discrepancy or {}).get("kinds", [])]
    return render(request, "manifests/receive.html", context)


# ---------------------------------------------------------------- PDF and road-control links


def _pdf_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def manifest_pdf_view(request: HttpRequest, manifest_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    url = f"{base_url(request)}/manifests/{manifest.id}/"
    return _pdf_response(manifest_pdf(manifest, qr_url=url), f"manifest-{manifest.number}.pdf")


@login_required
@require_POST
def manifest_road_link(request: HttpRequest, manifest_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    hours = _int(request.POST.get("hours")) or roadlink.DEFAULT_HOURS
    created = _attempt(
        request,
        lambda: roadlink.road_link_create(actor=actor, manifest_id=manifest.id, hours=hours),
        _("已生成道路检查链接：仅显示这一次，请立即保存或打印。"),
    )
    if created is None:
        return redirect("manifests:detail", manifest_id=manifest.id)
    link, token = created
    url = f"{base_url(request)}/manifests/road/{token}/"
    image = qr_image(url)
    buffer = io.BytesIO()
    image.resize((image.width * 6, image.height * 6), resample=0).save(buffer, format="PNG")
    context = {
        "m": manifest,
        "link": link,
        "url": url,
        "qr": base64.b64encode(buffer.getvalue()).decode(),
    }
    response = render(request, "manifests/road_link.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def manifest_road(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the PDF while the link is valid; 410 once expired or revoked, 404 if unknown."""
    manifest, why = roadlink.road_link_resolve(token)
    if manifest is None:
        status = 404 if why == "unknown" else 410
        response = render(request, "manifests/road_gone.html", {"why": why}, status=status)
        response["Cache-Control"] = "no-store"
        return response
    url = f"{base_url(request)}/manifests/road/{token}/"
    return _pdf_response(manifest_pdf(manifest, qr_url=url), f"manifest-{manifest.number}.pdf")


def _link_status(link: RoadControlLink, now: dt.datetime) -> tuple[str, str]:
    if link.revoked_at is not None:
        return "revoked", _("已撤销")
    if link.expires_at <= now:
        return "expired", _("已过期")
    return "valid", _("有效")


@login_required
@require_GET
def manifest_road_links(request: HttpRequest, manifest_id: int) -> HttpResponse:
    """The manifest's road-control links: who created each, when, until when, valid or not.
    Never the token (only its hash is stored). Whoever sees the manifest sees the list; those who
    may create links may revoke them."""
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    now = timezone.now()
    links = manifest.road_links.select_related("created_by").order_by("-created_at", "-id")[:PAGE_SIZE]
    context = _common(actor, manifest)
    context.update(
        {
            "links": [(link, *_link_status(link, now)) for link in links],
            "may_link": roadlink._may_create(actor, manifest),
        }
    )
    response = render(request, "manifests/road_links.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def manifest_road_link_revoke(request: HttpRequest, manifest_id: int, link_id: int) -> HttpResponse:
    """Revoke one of the manifest's links (``roadlink.road_link_revoke`` checks who may)."""
    actor = actor_for(request.user)
    manifest = selectors.manifest_get(actor=actor, manifest_id=manifest_id)
    link = manifest.road_links.filter(id=link_id).first()
    if link is None:
        raise NotFound(_("该联单没有这个道路检查链接"), field="link")
    already = link.revoked_at is not None
    _attempt(
        request,
        lambda: roadlink.road_link_revoke(actor=actor, link_id=link.id),
        _("该链接此前已撤销。") if already else _("已撤销道路检查链接：扫描该链接将显示“已被撤销”。"),
    )
    return redirect("manifests:road_links", manifest_id=manifest.id)
