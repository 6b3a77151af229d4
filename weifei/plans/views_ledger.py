"""Ledger (管理台账) pages: the list with filters, one form per record kind, and an entry with its
chain, its history and the reversal form.

Pages parse the form and call the same services as the API. A refusal re-renders the form with
the service's Chinese message next to the field and the entered values kept (status 400;
nothing was written: the services run in one transaction). 401/403/404 propagate to the
error pages.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from weifei.accounts.selectors import actor_for
from weifei.catalog import cache as catalog_cache
from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import version_in_force
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.core.permissions import require_enterprise_member
from weifei.core.selectors import events_for
from weifei.registry.models import Facility, Licence, Site
from weifei.registry.selectors import site_get, sites_visible

from . import ledger
from .labels import LABEL_CODE_LENGTH, label_code_parse
from .models import LedgerEntry, PlanLine

Kind = LedgerEntry.Kind
PAGE_SIZE = 50
CONTAINER_TYPES = ("桶", "袋", "吨袋", "箱", "罐", "托盘", "周转箱", "IBC 吨桶")

# What each record kind's form asks for, in order (HJ 1259 Annex B.1–B.5).
FACILITY_KINDS: dict[str, tuple[str, ...]] = {
    Kind.GENERATED: (Facility.Kind.GENERATING,),
    Kind.STORED_IN: (Facility.Kind.STORAGE,),
    Kind.STORED_OUT: (Facility.Kind.STORAGE,),
    Kind.SELF_TREATED: (Facility.Kind.UTILIZATION, Facility.Kind.DISPOSAL),
    Kind.SENT_OUT: (),
}
TIME_LABELS: dict[str, Any] = {
    Kind.GENERATED: gettext_lazy("产生时间"),
    Kind.STORED_IN: gettext_lazy("入库时间"),
    Kind.STORED_OUT: gettext_lazy("出库时间"),
    Kind.SELF_TREATED: gettext_lazy("利用/处置时间"),
    Kind.SENT_OUT: gettext_lazy("出厂时间"),
    Kind.RECEIVED: gettext_lazy("接收时间"),
}
# 接收 records are written from transfer manifests only: no form, no "record" button.
FORM_KINDS = [(k, label) for k, label in Kind.choices if k != Kind.RECEIVED]
SOURCE_LABELS: dict[str, Any] = {
    Kind.STORED_IN: gettext_lazy("产生批次编码"),
    Kind.STORED_OUT: gettext_lazy("入库批次编码"),
    Kind.SELF_TREATED: gettext_lazy("产生/出库批次编码"),
    Kind.SENT_OUT: gettext_lazy("产生/出库批次编码"),
}
# Service error fields → the form's input names.
FORM_FIELDS = {"facility": "facility_id", "source": "source_id", "receiver": "receiver_id"}
MAX_LENGTHS = {
    "handler": 60,
    "container_type": 40,
    "container_code": 40,
    "common_name": 100,
    "destination": 100,
    "receiver_name": 200,
    "licence_number": 60,
    "reason": 300,
    "waste_code": 20,
    "category": 4,
}


# ---------------------------------------------------------------- parsing


def _text(post: QueryDict, name: str) -> str:
    value = (post.get(name) or "").strip()
    limit = MAX_LENGTHS.get(name, 200)
    if len(value) > limit:
        raise ApplicationError(f"输入过长：最多 {limit} 个字符", code="too_long", field=name)
    return value


def _decimal(post: QueryDict, name: str) -> Decimal | None:
    raw = (post.get(name) or "").strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ApplicationError(f"“{raw[:20]}”不是数字", code="number_invalid", field=name)
    return value


def _int(post: QueryDict, name: str) -> int | None:
    raw = (post.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise ApplicationError(f"“{raw[:20]}”不是有效的选项或整数", code="number_invalid", field=name)
    return int(raw)


def _datetime(post: QueryDict, name: str) -> dt.datetime | None:
    """A datetime-local value (no offset) is Asia/Shanghai time, what the person sees on the clock."""
    raw = (post.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ApplicationError("时间格式应为 YYYY-MM-DD HH:MM", code="time_invalid", field=name) from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _small_int(raw: str | None) -> int | None:
    """A query-string number; anything else (garbage, absurd lengths) is ignored."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 9 else None


def _date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((raw or "").strip()) if (raw or "").strip() else None
    except ValueError:
        return None


def _required_time(post: QueryDict) -> dt.datetime:
    value = _datetime(post, "occurred_at")
    if value is None:
        raise ApplicationError("请填写时间", code="time_required", field="occurred_at")
    return value


def _writes(actor: Actor, site: Site) -> bool:
    role = actor.role_in(site.enterprise_id) if actor.kind == "enterprise" else None
    return role in ("admin", "member") and not actor.read_only


def _local_input(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


# ---------------------------------------------------------------- the list


@login_required
@require_http_methods(["GET"])
def ledger_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    get = request.GET
    site_id = _small_int(get.get("site_id"))
    site = site_get(actor=actor, site_id=site_id) if site_id is not None else None
    sites = list(sites_visible(actor=actor).order_by("enterprise__name", "name")[:500])
    if site is None and "site_id" not in get and actor.kind == "enterprise" and len(sites) == 1:
        site = sites[0]  # a unit with one site goes straight to it
    elif site is not None and site not in sites:
        sites.insert(0, site)
    kind = get.get("kind", "") if get.get("kind", "") in Kind.values else ""
    filters = {
        "site_id": site.id if site else "",
        "kind": kind,
        "code": (get.get("code") or "").strip()[:20],
        "container": (get.get("container") or "").strip()[:40],
        "from": get.get("from", "") if _date(get.get("from")) else "",
        "to": get.get("to", "") if _date(get.get("to")) else "",
    }
    try:
        qs = ledger.entry_list(
            actor=actor,
            site_id=site.id if site else None,
            kind=kind,
            waste_code=str(filters["code"]),
            container_code=str(filters["container"]),
            date_from=_date(get.get("from")),
            date_to=_date(get.get("to")),
        )
    except ApplicationError as exc:
        if exc.status != 400:
            raise
        messages.error(request, exc.message)
        qs = ledger.entry_list(actor=actor, site_id=site.id if site else None)
    total = qs.count()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, _small_int(get.get("page")) or 1), pages)
    query = {k: v for k, v in filters.items() if v}
    context = {
        "sites": sites,
        "site": site,
        "filters": filters,
        "kinds": FORM_KINDS,
        "filter_kinds": list(LedgerEntry.Kind.choices),  # 接收 too: written by manifests, never by a form
        "entries": qs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        "total": total,
        "page": page,
        "pages": pages,
        "prev_query": urlencode(query | {"page": page - 1}) if page > 1 else "",
        "next_query": urlencode(query | {"page": page + 1}) if page < pages else "",
        "can_write": site is not None and _writes(actor, site),
        "stock": ledger.site_stock(actor=actor, site_id=site.id) if site is not None else [],
    }
    return render(request, "plans/ledger/list.html", context)


# ---------------------------------------------------------------- the forms


def _field(name: str, label: str, kind: str = "text", **kw: Any) -> dict[str, Any]:
    return {"name": name, "label": label, "type": kind, "required": False, "options": [], **kw}


def _batch_option(b: LedgerEntry) -> str:
    left: Decimal = b.remaining_tonnes  # type: ignore[attr-defined]  # annotated by ledger.open_batches
    return f"{b.batch_code} · {b.container_code or '—'} · {b.waste_code} · 剩余 {left.normalize():f} 吨"


def _form_fields(kind: str, site: Site, actor: Actor) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The inputs of a kind's form and the lists its selects and datalists draw from."""
    extra: dict[str, Any] = {}
    facilities = Facility.objects.filter(site=site, in_service=True, kind__in=FACILITY_KINDS[kind]).order_by("code")
    facility_options = [(str(f.id), f"{f.code} {f.name}（{f.get_kind_display()}）") for f in facilities]
    units = list(LedgerEntry.Unit.choices)
    fields: list[dict[str, Any]] = []
    if kind == Kind.GENERATED:
        version = version_in_force(timezone.localdate())
        extra["waste_codes"] = [(c.code, c.description[:40]) for c in catalog_cache.codes(version).values()]
        extra["container_types"] = CONTAINER_TYPES
        fields += [
            _field(
                "waste_code",
                _("废物代码"),
                required=True,
                list="ledger-waste-codes",
                placeholder="900-249-08",
                help=_("输入代码或名称搜索（国家危险废物名录）"),
            ),
            _field("category", _("废物类别（可选，用于核对）"), placeholder="HW08", maxlength=4),
            _field("common_name", _("废物俗称"), maxlength=100),
        ]
    else:
        batches = ledger.open_batches(actor=actor, site_id=site.id, for_kind=kind)
        options = [(str(b.id), _batch_option(b)) for b in batches]
        names = "或".join(Kind(k).label for k in ledger.ALLOWED_SOURCES[kind])
        fields.append(
            _field(
                "source_id",
                _("来源批次（%(label)s）") % {"label": SOURCE_LABELS[kind]},
                "select",
                required=True,
                options=options,
                empty=_("请选择%(names)s批次") % {"names": names},
                help=_("只列出尚有剩余量的批次"),
            )
        )
        extra["no_batches"] = not options
    fields.append(_field("occurred_at", TIME_LABELS[kind], "datetime", required=True))
    fields += [
        _field("quantity", _("数量"), "decimal", required=True),
        _field("unit", _("计量单位"), "select", options=units),
        _field("density", _("密度（吨/立方米，按升或立方米填报时必填）"), "decimal"),
        _field("tonnes", _("折算吨数（按件填报时必填）"), "decimal"),
    ]
    if kind == Kind.GENERATED:
        fields += [
            _field("container_type", _("容器/包装类型"), list="ledger-container-types", maxlength=40),
            _field("container_litres", _("容器容积（升，决定标签尺寸）"), "decimal"),
            _field("container_count", _("容器/包装数量"), "integer"),
            _field("label", _("生成标签（HJ 1276 数字识别码）"), "checkbox"),
            _field("container_code", _("容器/包装编码（已有编码或标签时填写）"), maxlength=40),
        ]
    if kind == Kind.SELF_TREATED or kind == Kind.SENT_OUT:
        methods = [(m.code, f"{m.code} {m.name}") for m in DisposalMethod.objects.order_by("code")]
        fields.append(
            _field("method_code", _("利用/处置方式"), "select", required=True, options=methods, empty=_("请选择"))
        )
    if kind == Kind.SENT_OUT:
        today = timezone.localdate()
        licences = list(
            Licence.objects.filter(status=Licence.Status.VALID, valid_from__lte=today, valid_to__gte=today)
            .select_related("holder")
            .order_by("holder__name", "number")[:500]
        )
        receivers = {str(lic.holder_id): lic.holder.name for lic in licences}
        receiver_options = sorted(receivers.items(), key=lambda x: x[1])
        extra["licences"] = [(lic.number, lic.holder.name) for lic in licences]
        fields += [
            _field(
                "receiver_type",
                _("接收单位类型"),
                "select",
                required=True,
                options=PlanLine.ReceiverType.choices,
                empty=_("请选择"),
            ),
            _field(
                "receiver_id",
                _("接收单位（持证经营单位）"),
                "select",
                options=receiver_options,
                empty="—",
            ),
            _field("receiver_name", _("接收单位名称（豁免单位或境外单位）"), maxlength=200),
            _field(
                "licence_number",
                _("经营许可证编号 / 豁免条目 / 出口核准通知单编号"),
                list="ledger-licences",
                maxlength=60,
            ),
        ]
    if FACILITY_KINDS[kind]:
        label = {"generated": _("产生设施"), "self_treated": _("利用/处置设施")}.get(kind, _("贮存设施"))
        fields.append(_field("facility_id", label, "select", options=facility_options, empty="—"))
    if kind == Kind.SELF_TREATED:
        fields.append(_field("finished_at", _("利用/处置完毕时间"), "datetime"))
    if kind in (Kind.GENERATED, Kind.STORED_OUT):
        fields.append(_field("destination", _("去向"), maxlength=100))
    fields.append(_field("handler", _("经办人"), maxlength=60))
    return fields, extra


def _save(kind: str, site: Site, actor: Actor, post: QueryDict) -> LedgerEntry:
    """Parse the form and call the kind's service; raises ApplicationError naming the input."""
    common: dict[str, Any] = {
        "actor": actor,
        "site_id": site.id,
        "occurred_at": _required_time(post),
        "quantity": _decimal(post, "quantity"),
        "unit": _text(post, "unit") or LedgerEntry.Unit.TONNE,
        "density": _decimal(post, "density"),
        "tonnes": _decimal(post, "tonnes"),
        "handler": _text(post, "handler"),
    }
    if common["quantity"] is None:
        raise ApplicationError("请填写数量", code="quantity_required", field="quantity")
    if kind == Kind.GENERATED:
        count = _int(post, "container_count")
        return ledger.ledger_generate(
            **common,
            waste_code=_text(post, "waste_code"),
            category=_text(post, "category") or None,
            container_code=_text(post, "container_code") or None,
            container_type=_text(post, "container_type"),
            container_litres=_decimal(post, "container_litres"),
            container_count=1 if count is None else count,
            label=post.get("label") == "on",
            facility_id=_int(post, "facility_id"),
            common_name=_text(post, "common_name"),
            destination=_text(post, "destination"),
        )
    source_id = _int(post, "source_id")
    if source_id is None:
        raise ApplicationError("请选择来源批次", code="source_required", field="source")
    common["source_id"] = source_id
    if kind == Kind.STORED_IN:
        return ledger.ledger_store_in(**common, facility_id=_int(post, "facility_id"))
    if kind == Kind.STORED_OUT:
        return ledger.ledger_store_out(
            **common, facility_id=_int(post, "facility_id"), destination=_text(post, "destination")
        )
    if kind == Kind.SELF_TREATED:
        return ledger.ledger_self_treat(
            **common,
            method_code=_text(post, "method_code"),
            facility_id=_int(post, "facility_id"),
            finished_at=_datetime(post, "finished_at"),
        )
    return ledger.ledger_send_out(
        **common,
        method_code=_text(post, "method_code"),
        receiver_type=_text(post, "receiver_type"),
        receiver_id=_int(post, "receiver_id"),
        receiver_name=_text(post, "receiver_name"),
        licence_number=_text(post, "licence_number"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def ledger_new(request: HttpRequest, site_id: int, kind: str) -> HttpResponse:
    if kind not in Kind.values or kind == Kind.RECEIVED:
        raise Http404("记录类型不存在")
    actor = actor_for(request.user)
    site = site_get(actor=actor, site_id=site_id)  # 404 for sites the caller cannot see
    require_enterprise_member(actor, site.enterprise_id, action="记录危险废物管理台账")  # 403 for the others
    error: ApplicationError | None = None
    if request.method == "POST":
        try:
            entry = _save(kind, site, actor, request.POST)
        except ApplicationError as exc:
            if exc.status != 400:
                raise
            error = exc
        else:
            note = _("已记录%(kind)s %(code)s。") % {"kind": entry.get_kind_display(), "code": entry.batch_code}
            if kind == Kind.GENERATED and entry.container_code and len(entry.container_code) == LABEL_CODE_LENGTH:
                note += " " + _("容器数字识别码 %(code)s。") % {"code": entry.container_code}
            messages.success(request, note)
            return redirect("plans:ledger_entry", entry_id=entry.id)
    fields, extra = _form_fields(kind, site, actor)
    if request.method == "POST":
        values: dict[str, Any] = {f["name"]: request.POST.get(f["name"], "") for f in fields}
        values["label"] = request.POST.get("label") == "on"
    else:
        values = {"occurred_at": _local_input(timezone.now()), "unit": "t", "container_count": "1", "label": True}
        chosen = request.GET.get("source_id", "")
        if chosen.isdigit():
            values["source_id"] = chosen
    error_field = FORM_FIELDS.get(error.field or "", error.field) if error else None
    for f in fields:
        f["value"] = values.get(f["name"], "")
        f["error"] = error.message if error is not None and f["name"] == error_field else ""
    context = {
        "site": site,
        "kind": kind,
        "kind_label": Kind(kind).label,
        "fields": fields,
        "error": error,
        "error_shown": any(f["error"] for f in fields),
        **extra,
    }
    return render(request, "plans/ledger/new.html", context, status=400 if error else 200)


# ---------------------------------------------------------------- an entry


def _is_label(code: str | None) -> bool:
    if not code or len(code) != LABEL_CODE_LENGTH:
        return False
    try:
        label_code_parse(code, field="container_code")
    except ApplicationError:
        return False
    return True


def _entry_page(
    request: HttpRequest, actor: Actor, entry: LedgerEntry, error: ApplicationError | None = None, reason: str = ""
) -> HttpResponse:
    chain = ledger.entry_chain(entry)
    method = DisposalMethod.objects.filter(code=entry.method_code).first() if entry.method_code else None
    open_batch = _writes(actor, entry.site) and entry.reversal_of_id is None and chain.reversal is None
    context = {
        "entry": entry,
        "chain": chain,
        "method": method,
        "time_label": TIME_LABELS[entry.kind],
        "source_label": SOURCE_LABELS.get(entry.kind, _("来源批次")),
        "is_label": _is_label(entry.container_code),
        "can_reverse": open_batch,
        "next_kinds": [(k, Kind(k).label) for k, srcs in ledger.ALLOWED_SOURCES.items() if entry.kind in srcs]
        if open_batch and chain.remaining
        else [],
        "history": events_for(actor=actor, subject=entry)[:50],
        "error": error,
        "reason": reason,
    }
    return render(request, "plans/ledger/entry.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET"])
def ledger_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    return _entry_page(request, actor, ledger.entry_get(actor=actor, entry_id=entry_id))


@login_required
@require_POST
def ledger_reverse(request: HttpRequest, entry_id: int) -> HttpResponse:
    actor = actor_for(request.user)
    entry = ledger.entry_get(actor=actor, entry_id=entry_id)  # 404 for entries the caller cannot see
    reason = (request.POST.get("reason") or "").strip()
    try:
        reversal = ledger.ledger_reverse(actor=actor, entry_id=entry_id, reason=_text(request.POST, "reason"))
    except ApplicationError as exc:
        if exc.status != 400:
            raise
        return _entry_page(request, actor, entry, error=exc, reason=reason[:300])
    messages.success(request, _("已冲销，冲销记录 %(code)s。") % {"code": reversal.batch_code})
    return redirect("plans:ledger_entry", entry_id=reversal.id)
