"""管理台账 (HJ 1259—2022 6; Annex B.1–B.5): recording the chain 产生 → 入库 → 出库 → 自行/委外.

Pure rules first (unit conversion, batch codes, remaining quantity, stock), then the services.
Every service checks the actor (the site's enterprise's admins and members, or the system), runs
in one transaction, locks the source batch while it checks what the batch still has, and records
one event per entry on the enterprise's stream. History is never edited: ``ledger_reverse``
appends a reversing entry (regulations §3.3; §13 rules 10, 12–16).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import validate_waste_code
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound
from weifei.core.events import event_record
from weifei.core.permissions import require_enterprise_member
from weifei.registry.models import Enterprise, Facility, Licence, Site
from weifei.registry.rules import licence_status_on
from weifei.registry.selectors import site_get, sites_visible

from .labels import LABEL_CODE_LENGTH, SEQ_MAX, label_code_build, label_code_parse
from .models import LabelCounter, LedgerCounter, LedgerEntry, PlanLine

Kind = LedgerEntry.Kind
Unit = LedgerEntry.Unit
Q6 = Decimal("0.000001")
MAX_ENTRY_TONNES = Decimal(100_000)  # one container/batch; larger figures are typing errors
MAX_ENTERED = Decimal(10**8)  # entered_quantity is numeric(14, 6)
MAX_DENSITY = Decimal(1000)  # t/m3; conversion_factor is numeric(12, 6), real densities are below 25

# ---------------------------------------------------------------- pure rules

# HJ 1259 Annex B notes (suggested, 可采用): prefix + YYYYMMDD + sequence.
PREFIXES = {
    Kind.GENERATED: "HWCS",
    Kind.STORED_IN: "HWRK",
    Kind.STORED_OUT: "HWCK",
    Kind.RECEIVED: "HWJS",  # weifei's: 接收 (not in Annex B, which covers producers)
}
SELF_PREFIXES = {"utilization": "HWZXLY", "disposal": "HWZXCZ", "other": "HWZXCZ"}
SENT_PREFIXES = {"utilization": "HWWWLY", "disposal": "HWWWCZ", "other": "HWWWCZ"}
EXPORT_PREFIXES = {"utilization": "HWCKLY", "disposal": "HWCKCZ", "other": "HWCKCZ"}

# Rule 14: which record kinds each kind may take its waste from. A 接收 batch (waste received on a
# transfer manifest) stands where a 产生 batch stands: the receiver stores, treats or sends it on.
ALLOWED_SOURCES: dict[str, tuple[str, ...]] = {
    Kind.STORED_IN: (Kind.GENERATED, Kind.RECEIVED),
    Kind.STORED_OUT: (Kind.STORED_IN,),
    Kind.SELF_TREATED: (Kind.GENERATED, Kind.RECEIVED, Kind.STORED_OUT),
    Kind.SENT_OUT: (Kind.GENERATED, Kind.RECEIVED, Kind.STORED_OUT),
}
# The kinds that bring waste onto a site (the roots of the chain).
INTAKE_KINDS: tuple[str, ...] = (Kind.GENERATED, Kind.RECEIVED)


def batch_code(prefix: str, day: dt.date, seq: int) -> str:
    if not 1 <= seq <= 999:
        raise ApplicationError(f"{prefix}{day:%Y%m%d} 当日批次已满 999 个", code="batch_seq_full", field="batch_code")
    return f"{prefix}{day:%Y%m%d}{seq:03d}"


def to_tonnes(
    quantity: Decimal, unit: str, *, density: Decimal | None = None, tonnes: Decimal | None = None
) -> tuple[Decimal, Decimal | None]:
    """Rule 10: the stored figure is tonnes. t and kg convert exactly; L and m3 need the density
    (t/m3) the user gives; pieces need the tonnes figure itself. Returns (tonnes, density used)."""
    if quantity is None or not quantity.is_finite() or quantity <= 0:
        raise ApplicationError("数量应大于 0", code="quantity_not_positive", field="quantity")
    if quantity >= MAX_ENTERED:  # the column's width: a larger figure is a typing error, never a 500
        raise ApplicationError(
            f"填报数量 {quantity} 过大，请检查数量和单位", code="quantity_too_large", field="quantity"
        )
    if unit == Unit.TONNE:
        result, factor = quantity, None
    elif unit == Unit.KG:
        result, factor = quantity / 1000, None
    elif unit in (Unit.LITRE, Unit.CUBIC_METRE):
        if density is not None and (not density.is_finite() or density >= MAX_DENSITY):
            raise ApplicationError(f"密度应小于 {MAX_DENSITY} 吨/立方米", code="density_range", field="density")
        if density is None or density <= 0:
            raise ApplicationError(
                "按体积填报时请填写密度（吨/立方米）以换算为吨（§13 第10条）", code="density_required", field="density"
            )
        volume = quantity / 1000 if unit == Unit.LITRE else quantity
        result, factor = volume * density, density
    elif unit == Unit.PIECE:
        if tonnes is None or not tonnes.is_finite() or tonnes <= 0:
            raise ApplicationError("按件填报时请同时填写折算吨数（§13 第10条）", code="tonnes_required", field="tonnes")
        result, factor = tonnes, None
    else:
        raise ApplicationError(f"计量单位 {unit} 不支持：应为 t、kg、L、m3 或件", code="unit_unknown", field="unit")
    result = result.quantize(Q6, rounding=ROUND_HALF_UP)
    if result <= 0:
        raise ApplicationError("换算后的吨数为 0：请检查数量和单位", code="quantity_not_positive", field="quantity")
    if result > MAX_ENTRY_TONNES:
        raise ApplicationError(
            f"单条记录超过 {MAX_ENTRY_TONNES} 吨，请检查数量和单位", code="quantity_too_large", field="quantity"
        )
    return result, factor


def remaining(own_net: Decimal, taken: Iterable[Decimal]) -> Decimal:
    """What a batch still has: its net quantity (itself plus its reversal) minus what entries
    sourced from it took (their reversals, sourced from it too, give back)."""
    return own_net - sum(taken, Decimal(0))


@dataclass
class CodeStock:
    waste_code: str
    generated: Decimal = Decimal(0)
    stored_in: Decimal = Decimal(0)
    stored_out: Decimal = Decimal(0)
    self_treated: Decimal = Decimal(0)
    sent_out: Decimal = Decimal(0)
    received: Decimal = Decimal(0)

    @property
    def stock(self) -> Decimal:
        """Rule 12: stock = generated + received − self-treated − sent out (入库/出库 move waste within
        the site; 接收 is waste a licensed operator took in on a transfer manifest)."""
        return self.generated + self.received - self.self_treated - self.sent_out

    def as_dict(self) -> dict[str, Any]:
        return {
            "waste_code": self.waste_code,
            "generated": self.generated,
            "received": self.received,
            "stored_in": self.stored_in,
            "stored_out": self.stored_out,
            "self_treated": self.self_treated,
            "sent_out": self.sent_out,
            "stock": self.stock,
        }


def stock_from_sums(rows: Iterable[tuple[str, str, Decimal]]) -> dict[str, CodeStock]:
    """Fold (waste_code, kind, signed tonnes) sums into per-code stock figures."""
    out: dict[str, CodeStock] = {}
    for code, kind, tonnes in rows:
        s = out.setdefault(code, CodeStock(code))
        # Six decimals, as stored (SQLite sums decimals as floats).
        value = Decimal(str(tonnes)).quantize(Q6, rounding=ROUND_HALF_UP) if tonnes else Decimal(0)
        setattr(s, str(kind), getattr(s, str(kind)) + value)
    return dict(sorted(out.items()))


# ---------------------------------------------------------------- selectors


def _site(site_id: int) -> Site:
    site = Site.objects.select_related("enterprise", "region").filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site")
    return site


def batch_remaining(entry: LedgerEntry) -> Decimal:
    own = LedgerEntry.objects.filter(reversal_of=entry).aggregate(t=Sum("quantity_tonnes"))["t"] or Decimal(0)
    taken = LedgerEntry.objects.filter(source=entry).aggregate(t=Sum("quantity_tonnes"))["t"] or Decimal(0)
    return remaining(entry.quantity_tonnes + own, [taken])


def _stock_rows(site_id: int, at: dt.datetime | None) -> dict[str, CodeStock]:
    qs = LedgerEntry.objects.filter(site_id=site_id)
    if at is not None:
        qs = qs.filter(occurred_at__lte=at)
    rows = qs.values_list("waste_code", "kind").annotate(t=Sum("quantity_tonnes")).order_by()
    return stock_from_sums(rows)


def site_stock(*, actor: Actor, site_id: int, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per waste code, as of ``at`` (default now): the flows and the stock (rule 12). Who sees the
    site (its enterprise, regulators over its region, the system) sees its stock; others get 404."""
    site = site_get(actor=actor, site_id=site_id)
    return [s.as_dict() for s in _stock_rows(site.id, at).values()]


# ---------------------------------------------------------------- services


def _now() -> dt.datetime:
    return timezone.now()


def _check_time(occurred_at: dt.datetime, source: LedgerEntry | None) -> dt.date:
    if occurred_at is None or timezone.is_naive(occurred_at):
        raise ApplicationError("时间须带时区", code="time_naive", field="occurred_at")
    if occurred_at > _now():
        raise ApplicationError("时间不能晚于现在：台账记录已发生的事实", code="time_in_future", field="occurred_at")
    if source is not None and occurred_at < source.occurred_at:
        raise ApplicationError(
            f"时间早于来源批次 {source.batch_code} 的时间", code="time_before_source", field="occurred_at"
        )
    return timezone.localdate(occurred_at)


def _next_code(site: Site, prefix: str, day: dt.date) -> str:
    counter, _ = LedgerCounter.objects.select_for_update().get_or_create(site=site, prefix=prefix, day=day)
    counter.last_seq += 1
    counter.save(update_fields=["last_seq"])
    return batch_code(prefix, day, counter.last_seq)


def _label_allocate(site: Site, waste_code: str, day: dt.date) -> str:
    """The next 数字识别码 of the site's unit for this waste code and day (counter row locked)."""
    counter, _ = LabelCounter.objects.select_for_update().get_or_create(
        enterprise_id=site.enterprise_id, waste_code=waste_code, day=day
    )
    if counter.last_seq >= SEQ_MAX:
        raise ApplicationError(
            f"{day} 废物代码 {waste_code} 的标签顺序码已用完（每日最多 {SEQ_MAX} 个）",
            code="label_seq_full",
            field="container_code",
        )
    counter.last_seq += 1
    counter.save(update_fields=["last_seq"])
    return label_code_build(
        credit_code=site.enterprise.credit_code, waste_code=waste_code, on=day, seq=counter.last_seq, today=day
    )


def _label_matches(code: str, site: Site, waste_code: str, day: dt.date) -> None:
    """Rule 17: a label code given for a 产生 record is this unit's, for this waste code and date."""
    parsed = label_code_parse(code, field="container_code")
    if parsed.credit_code != site.enterprise.credit_code:
        raise ApplicationError(
            "数字识别码第 1 段（统一社会信用代码）不是本单位的代码", code="label_not_own", field="container_code"
        )
    if parsed.waste_code != waste_code:
        raise ApplicationError(
            f"数字识别码中的废物代码 {parsed.waste_code} 与台账记录的 {waste_code} 不一致（§13 第17条）",
            code="label_waste_code_mismatch",
            field="container_code",
        )
    if parsed.date != day:
        raise ApplicationError(
            f"数字识别码中的日期 {parsed.date} 与产生日期 {day} 不一致",
            code="label_date_mismatch",
            field="container_code",
        )


def _facility(site: Site, facility_id: int | None, kinds: tuple[str, ...]) -> Facility | None:
    if facility_id is None:
        return None
    facility = Facility.objects.filter(id=facility_id, site=site).first()
    if facility is None:
        raise ApplicationError("设施不属于本场所", code="facility_not_on_site", field="facility")
    if facility.kind not in kinds:
        raise ApplicationError(
            f"设施 {facility.code} 的类型（{facility.get_kind_display()}）不适用于此记录",
            code="facility_wrong_kind",
            field="facility",
        )
    return facility


def _method(code: str) -> DisposalMethod:
    code = (code or "").strip()
    if not code:
        raise ApplicationError("请填写利用/处置方式代码", code="method_required", field="method_code")
    method = DisposalMethod.objects.filter(code=code).first()
    if method is None:
        raise ApplicationError(f"利用/处置方式代码 {code} 不存在", code="method_unknown", field="method_code")
    return method


def _source_for_update(source_id: int, site: Site, kind: str) -> LedgerEntry:
    src = LedgerEntry.objects.select_for_update().filter(id=source_id).first()
    label = Kind(kind).label
    if src is None or src.site_id != site.id:
        raise ApplicationError(f"{label}记录的来源批次不存在或不属于本场所", code="source_missing", field="source")
    allowed = ALLOWED_SOURCES[kind]
    if src.kind not in allowed or src.reversal_of_id is not None:
        names = "或".join(Kind(k).label for k in allowed)
        raise ApplicationError(
            f"{label}记录应引用{names}批次，{src.batch_code} 是{src.get_kind_display()}记录（§13 第14条）",
            code="source_wrong_kind",
            field="source",
        )
    return src


def _take(src: LedgerEntry, tonnes: Decimal) -> None:
    left = batch_remaining(src)
    if tonnes > left:
        raise ApplicationError(
            f"数量 {tonnes} 吨超过来源批次 {src.batch_code} 的剩余量 {left} 吨",
            code="quantity_exceeds_source",
            field="quantity",
        )


def _actor_writes(actor: Actor, site: Site) -> None:
    require_enterprise_member(actor, site.enterprise_id, action="记录危险废物管理台账")


def _event(actor: Actor, entry: LedgerEntry, site: Site, kind: str, reason: str = "") -> None:
    event_record(
        subject=entry,
        actor=actor,
        kind=kind,
        after={
            "batch_code": entry.batch_code,
            "kind": entry.kind,
            "waste_code": entry.waste_code,
            "quantity_tonnes": entry.quantity_tonnes,
            "source": entry.source_id,
            "reversal_of": entry.reversal_of_id,
        },
        reason=reason,
        organisation=site.enterprise,
    )


def _create_downstream(
    *,
    actor: Actor,
    site_id: int,
    kind: str,
    source_id: int,
    occurred_at: dt.datetime,
    quantity: Decimal,
    unit: str,
    density: Decimal | None,
    tonnes: Decimal | None,
    facility_kinds: tuple[str, ...],
    facility_id: int | None,
    handler: str,
    prefix_for: Any,
    extra: dict[str, Any],
) -> LedgerEntry:
    site = _site(site_id)
    _actor_writes(actor, site)
    src = _source_for_update(source_id, site, kind)
    day = _check_time(occurred_at, src)
    validate_waste_code(src.waste_code, on=day, field="waste_code")
    quantity_t, factor = to_tonnes(quantity, unit, density=density, tonnes=tonnes)
    _take(src, quantity_t)
    facility = _facility(site, facility_id, facility_kinds)
    entry = LedgerEntry.objects.create(
        site=site,
        kind=kind,
        batch_code=_next_code(site, prefix_for, day),
        occurred_at=occurred_at,
        waste_code=src.waste_code,
        category=src.category,
        quantity_tonnes=quantity_t,
        entered_quantity=quantity,
        entered_unit=unit,
        conversion_factor=factor,
        container_code=src.container_code,
        container_type=src.container_type,
        container_count=src.container_count,
        container_litres=src.container_litres,
        common_name=src.common_name,
        facility=facility,
        source=src,
        handler=handler,
        **extra,
    )
    _event(actor, entry, site, f"ledger.{kind}")
    return entry


@transaction.atomic
def ledger_generate(
    *,
    actor: Actor,
    site_id: int,
    occurred_at: dt.datetime,
    waste_code: str,
    quantity: Decimal,
    unit: str = Unit.TONNE,
    density: Decimal | None = None,
    tonnes: Decimal | None = None,
    container_code: str | None = None,
    container_type: str = "",
    facility_id: int | None = None,
    handler: str = "",
    category: str | None = None,
    label: bool = False,
    container_litres: Decimal | None = None,
    container_count: int = 1,
    common_name: str = "",
    destination: str = "",
) -> LedgerEntry:
    """产生 (B.1): one record per container or package (HJ 1259 6.2, rule 13).

    With ``label=True`` and no container code, the container gets a new HJ 1276 数字识别码 (unit's
    credit code + waste code + the record's date + the next sequence of that unit, code and day).
    A container code of label length must be a valid label code of this unit and this waste code on
    this record's date (rule 17: the label's waste code always equals the ledger's)."""
    site = _site(site_id)
    _actor_writes(actor, site)
    day = _check_time(occurred_at, None)
    valid = validate_waste_code(waste_code, on=day, category=category)
    quantity_t, factor = to_tonnes(quantity, unit, density=density, tonnes=tonnes)
    facility = _facility(site, facility_id, (Facility.Kind.GENERATING,))
    container_code = (container_code or "").strip().upper() or None
    if container_litres is not None and not (Decimal(0) < container_litres <= Decimal(100_000)):
        raise ApplicationError(
            "容器容积应大于 0 且不超过 100000 升", code="container_litres_range", field="container_litres"
        )
    if not 1 <= container_count <= 10_000:
        raise ApplicationError("容器/包装数量应为 1–10000", code="container_count_range", field="container_count")
    if container_code is None and label:
        container_code = _label_allocate(site, valid.code, day)
    elif container_code is not None and len(container_code) == LABEL_CODE_LENGTH:
        _label_matches(container_code, site, valid.code, day)
    if container_code is not None:
        # One 产生 record per container (a reversed one frees the code): checked under the site's
        # row lock, since a partial unique index could not tell reversed records apart.
        Site.objects.select_for_update().filter(id=site.id).first()
        taken = LedgerEntry.objects.filter(
            site=site, kind=Kind.GENERATED, container_code=container_code, reversal_of__isnull=True
        ).exclude(reversed_by__isnull=False)
        if taken.exists():
            raise ApplicationError(
                f"容器/包装编码 {container_code} 已有产生记录：每个容器一条记录（HJ 1259 6.2）",
                code="container_taken",
                field="container_code",
            )
    entry = LedgerEntry.objects.create(
        site=site,
        kind=Kind.GENERATED,
        batch_code=_next_code(site, PREFIXES[Kind.GENERATED], day),
        occurred_at=occurred_at,
        waste_code=valid.code,
        category=valid.category,
        quantity_tonnes=quantity_t,
        entered_quantity=quantity,
        entered_unit=unit,
        conversion_factor=factor,
        container_code=container_code,
        container_type=container_type,
        container_count=container_count,
        container_litres=container_litres,
        common_name=common_name.strip()[:100],
        destination=destination.strip()[:100],
        facility=facility,
        handler=handler,
    )
    _event(actor, entry, site, "ledger.generated")
    return entry


@transaction.atomic
def ledger_store_in(
    *,
    actor: Actor,
    site_id: int,
    source_id: int,
    occurred_at: dt.datetime,
    quantity: Decimal,
    unit: str = Unit.TONNE,
    density: Decimal | None = None,
    tonnes: Decimal | None = None,
    facility_id: int | None = None,
    handler: str = "",
) -> LedgerEntry:
    """入库 (B.2): references a 产生 batch of the same site (rule 14); the code is the source's."""
    return _create_downstream(
        actor=actor, site_id=site_id, kind=Kind.STORED_IN, source_id=source_id, occurred_at=occurred_at,
        quantity=quantity, unit=unit, density=density, tonnes=tonnes, facility_kinds=(Facility.Kind.STORAGE,),
        facility_id=facility_id, handler=handler, prefix_for=PREFIXES[Kind.STORED_IN], extra={},
    )  # fmt: skip


@transaction.atomic
def ledger_store_out(
    *,
    actor: Actor,
    site_id: int,
    source_id: int,
    occurred_at: dt.datetime,
    quantity: Decimal,
    unit: str = Unit.TONNE,
    density: Decimal | None = None,
    tonnes: Decimal | None = None,
    facility_id: int | None = None,
    handler: str = "",
    destination: str = "",
) -> LedgerEntry:
    """出库 (B.3): references an 入库 batch (rule 14); 去向 optional."""
    return _create_downstream(
        actor=actor, site_id=site_id, kind=Kind.STORED_OUT, source_id=source_id, occurred_at=occurred_at,
        quantity=quantity, unit=unit, density=density, tonnes=tonnes, facility_kinds=(Facility.Kind.STORAGE,),
        facility_id=facility_id, handler=handler, prefix_for=PREFIXES[Kind.STORED_OUT],
        extra={"destination": destination.strip()[:100]},
    )  # fmt: skip


@transaction.atomic
def ledger_self_treat(
    *,
    actor: Actor,
    site_id: int,
    source_id: int,
    occurred_at: dt.datetime,
    quantity: Decimal,
    method_code: str,
    unit: str = Unit.TONNE,
    density: Decimal | None = None,
    tonnes: Decimal | None = None,
    facility_id: int | None = None,
    handler: str = "",
    finished_at: dt.datetime | None = None,
) -> LedgerEntry:
    """自行利用/处置 (B.4): references a 产生 or 出库 batch (rule 14), with the method code and,
    when known, the time utilization/disposal finished (完毕时间, not before the record's time)."""
    method = _method(method_code)
    if finished_at is not None:
        if timezone.is_naive(finished_at):
            raise ApplicationError("完毕时间须带时区", code="time_naive", field="finished_at")
        if occurred_at is not None and timezone.is_aware(occurred_at) and finished_at < occurred_at:
            raise ApplicationError("完毕时间不能早于记录时间", code="finished_before_start", field="finished_at")
        if finished_at > _now():
            raise ApplicationError("完毕时间不能晚于现在", code="time_in_future", field="finished_at")
    return _create_downstream(
        actor=actor, site_id=site_id, kind=Kind.SELF_TREATED, source_id=source_id, occurred_at=occurred_at,
        quantity=quantity, unit=unit, density=density, tonnes=tonnes,
        facility_kinds=(Facility.Kind.UTILIZATION, Facility.Kind.DISPOSAL), facility_id=facility_id,
        handler=handler, prefix_for=SELF_PREFIXES[method.kind],
        extra={"method_code": method.code, "finished_at": finished_at},
    )  # fmt: skip


def _check_receiver(
    *, receiver_type: str, receiver: Enterprise | None, receiver_name: str, licence_number: str,
    waste_code: str, category: str, on: dt.date,
) -> tuple[str, str]:  # fmt: skip
    """Rule 15: a receiver type plus a licence valid on the date covering the code or its category,
    an exemption item, or (abroad) an export approval number. Returns (receiver name, number)."""
    number = (licence_number or "").strip()
    if receiver_type not in PlanLine.ReceiverType.values:
        raise ApplicationError(
            "请选择接收单位类型：经营许可证持有单位、豁免管理单位或境外单位（§13 第15条）",
            code="receiver_type_required",
            field="receiver_type",
        )
    if receiver_type == PlanLine.ReceiverType.LICENSED:
        if receiver is None:
            raise ApplicationError("请选择接收单位", code="receiver_required", field="receiver")
        if not number:
            raise ApplicationError(
                "委外给持证单位须填写经营许可证编号（§13 第15条）", code="licence_required", field="licence_number"
            )
        licence = Licence.objects.filter(number=number).prefetch_related("scopes").first()
        if licence is None or licence.holder_id != receiver.id:
            raise ApplicationError(
                f"许可证 {number} 不是接收单位 {receiver.name} 的许可证",
                code="licence_not_receivers",
                field="licence_number",
            )
        status = licence_status_on(
            stored_status=licence.status, valid_from=licence.valid_from, valid_to=licence.valid_to, on=on
        )
        if status != "valid":
            raise ApplicationError(
                f"许可证 {number} 在 {on} 不在有效状态", code="licence_not_valid", field="licence_number"
            )
        if not any(
            s.waste_code == waste_code or (not s.waste_code and s.category == category) for s in licence.scopes.all()
        ):
            raise ApplicationError(
                f"许可证 {number} 的经营范围不含 {waste_code}（{category}）",
                code="licence_not_covering",
                field="licence_number",
            )
        return receiver.name, number
    name = (receiver.name if receiver is not None else "") or receiver_name.strip()
    if not name:
        raise ApplicationError("请填写接收单位名称", code="receiver_required", field="receiver_name")
    if not number:
        what = "豁免条目" if receiver_type == PlanLine.ReceiverType.EXEMPT else "出口核准通知单编号"
        raise ApplicationError(f"请填写{what}（§13 第15条）", code="licence_required", field="licence_number")
    return name, number


@transaction.atomic
def ledger_send_out(
    *,
    actor: Actor,
    site_id: int,
    source_id: int,
    occurred_at: dt.datetime,
    quantity: Decimal,
    method_code: str,
    receiver_type: str,
    receiver_id: int | None = None,
    receiver_name: str = "",
    licence_number: str = "",
    unit: str = Unit.TONNE,
    density: Decimal | None = None,
    tonnes: Decimal | None = None,
    handler: str = "",
) -> LedgerEntry:
    """委外利用/处置 (B.5): references a 产生 or 出库 batch; receiver and licence/exemption (rule 15)."""
    _actor_writes(actor, _site(site_id))
    method = _method(method_code)
    receiver = Enterprise.objects.filter(id=receiver_id).first() if receiver_id is not None else None
    if receiver_id is not None and receiver is None:
        raise ApplicationError("接收单位不存在", code="receiver_missing", field="receiver")
    src = LedgerEntry.objects.filter(id=source_id).first()
    day = timezone.localdate(occurred_at) if occurred_at is not None and timezone.is_aware(occurred_at) else None
    if src is not None and day is not None:
        name, number = _check_receiver(
            receiver_type=receiver_type, receiver=receiver, receiver_name=receiver_name,
            licence_number=licence_number, waste_code=src.waste_code, category=src.category, on=day,
        )  # fmt: skip
    else:
        name, number = receiver_name, licence_number  # the checks below refuse first
    prefixes = EXPORT_PREFIXES if receiver_type == PlanLine.ReceiverType.ABROAD else SENT_PREFIXES
    return _create_downstream(
        actor=actor, site_id=site_id, kind=Kind.SENT_OUT, source_id=source_id, occurred_at=occurred_at,
        quantity=quantity, unit=unit, density=density, tonnes=tonnes, facility_kinds=(), facility_id=None,
        handler=handler, prefix_for=prefixes[method.kind],
        extra={"method_code": method.code, "receiver_type": receiver_type, "receiver": receiver,
               "receiver_name": name, "licence_number": number},
    )  # fmt: skip


@transaction.atomic
def ledger_receive(
    *,
    actor: Actor,
    site_id: int,
    occurred_at: dt.datetime,
    waste_code: str,
    tonnes: Decimal,
    manifest_number: str,
    container_codes: Iterable[str] = (),
    container_type: str = "",
    container_count: int | None = None,
    common_name: str = "",
    handler: str = "",
) -> LedgerEntry:
    """接收: a licensed operator's intake of one manifest line (weifei's kind; HJ 1259 Annex B covers
    producers). Written by the system when the receiver accepts a transfer manifest
    (``weifei.manifests.ledger_link.receive``), never typed: the quantity is the accepted tonnes, the
    manifest number the source reference, the line's label codes in ``container_codes`` (and in
    ``container_code`` when there is exactly one). Like a 产生 record it is a root batch: the
    receiver's 入库, 自行利用/处置 and 委外 records take from it (``ALLOWED_SOURCES``)."""
    site = _site(site_id)
    _actor_writes(actor, site)
    day = _check_time(occurred_at, None)
    valid = validate_waste_code(waste_code, on=day, field="waste_code")
    quantity_t, _ = to_tonnes(tonnes, Unit.TONNE)
    number = (manifest_number or "").strip()
    if not number:
        raise ApplicationError("接收记录须注明转移联单编号", code="manifest_number_required", field="manifest_number")
    codes = [c.strip().upper() for c in container_codes if c and c.strip()]
    count = container_count if container_count is not None else (len(codes) or 1)
    entry = LedgerEntry.objects.create(
        site=site,
        kind=Kind.RECEIVED,
        batch_code=_next_code(site, PREFIXES[Kind.RECEIVED], day),
        occurred_at=occurred_at,
        waste_code=valid.code,
        category=valid.category,
        quantity_tonnes=quantity_t,
        entered_quantity=quantity_t,
        entered_unit=Unit.TONNE,
        container_code=codes[0] if len(codes) == 1 else None,
        container_codes=codes or None,
        container_type=(container_type or "")[:40],
        container_count=max(1, count),
        common_name=(common_name or "")[:100],
        handler=(handler or "")[:60],
        manifest_number=number,
    )
    _event(actor, entry, site, "ledger.received")
    return entry


@transaction.atomic
def ledger_reverse(*, actor: Actor, entry_id: int, reason: str) -> LedgerEntry:
    """Correct by a reversing entry (negative quantity, same source, same time) — never an edit.
    Refused while later entries still hold waste taken from this one (reverse those first)."""
    entry = LedgerEntry.objects.select_for_update().select_related("site__enterprise").filter(id=entry_id).first()
    if entry is None:
        raise NotFound("台账记录不存在", field="entry")
    site = entry.site
    _actor_writes(actor, site)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("请填写冲销原因", code="reason_required", field="reason")
    if entry.reversal_of_id is not None:
        raise ApplicationError("冲销记录不能再冲销", code="reversal_of_reversal", field="entry")
    if LedgerEntry.objects.filter(reversal_of=entry).exists():
        raise ApplicationError(f"{entry.batch_code} 已冲销", code="already_reversed", field="entry")
    if entry.source_id is not None:
        LedgerEntry.objects.select_for_update().filter(id=entry.source_id).first()  # serialise with takers
    taken = LedgerEntry.objects.filter(source=entry).aggregate(t=Sum("quantity_tonnes"))["t"] or Decimal(0)
    if taken != 0:
        raise ApplicationError(
            f"{entry.batch_code} 已被后续记录引用 {taken} 吨：请先冲销后续记录",
            code="entry_consumed",
            field="entry",
        )
    reversal = LedgerEntry.objects.create(
        site=site,
        kind=entry.kind,
        batch_code=f"{entry.batch_code}C"[:24],
        occurred_at=entry.occurred_at,
        waste_code=entry.waste_code,
        category=entry.category,
        quantity_tonnes=-entry.quantity_tonnes,
        entered_quantity=-entry.entered_quantity,
        entered_unit=entry.entered_unit,
        conversion_factor=entry.conversion_factor,
        container_code=entry.container_code,
        container_type=entry.container_type,
        container_count=entry.container_count,
        container_litres=entry.container_litres,
        common_name=entry.common_name,
        destination=entry.destination,
        finished_at=entry.finished_at,
        facility_id=entry.facility_id,
        source_id=entry.source_id,
        handler=entry.handler,
        method_code=entry.method_code,
        receiver_type=entry.receiver_type,
        receiver_id=entry.receiver_id,
        receiver_name=entry.receiver_name,
        licence_number=entry.licence_number,
        manifest_number=entry.manifest_number,
        container_codes=entry.container_codes,
        reversal_of=entry,
        reason=reason,
    )
    _event(actor, reversal, site, "ledger.reversed", reason=reason)
    return reversal


# ---------------------------------------------------------------- selectors for the API and pages
#
# Who sees a site (registry.selectors.sites_visible: its unit's users, regulators over its region,
# the system) sees its ledger; anybody else gets "not found".


def entries_visible(*, actor: Actor) -> QuerySet[LedgerEntry]:
    """The entries of every site the actor sees (a subquery on the visible site ids, so the
    ``(site, …)`` indexes still serve the filters)."""
    return LedgerEntry.objects.filter(site_id__in=sites_visible(actor=actor).values("id"))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


def entry_list(
    *,
    actor: Actor,
    site_id: int | None = None,
    kind: str = "",
    waste_code: str = "",
    container_code: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[LedgerEntry]:
    """The ledger, newest first. ``site_id`` narrows to one visible site (404 otherwise);
    ``waste_code`` matches a full code exactly or a prefix (``900-249``); ``date_from`` /
    ``date_to`` are Asia/Shanghai dates, both included."""
    if site_id is not None:
        qs = LedgerEntry.objects.filter(site_id=site_get(actor=actor, site_id=site_id).id)
    else:
        qs = entries_visible(actor=actor)
    if kind:
        if kind not in Kind.values:
            names = "、".join(f"{k}（{label}）" for k, label in Kind.choices)
            raise ApplicationError(f"记录类型 {kind!r} 无效：应为 {names}", code="kind_invalid", field="kind")
        qs = qs.filter(kind=kind)
    code = (waste_code or "").strip()
    if code:
        qs = qs.filter(waste_code=code) if len(code) == 10 else qs.filter(waste_code__startswith=code)
    container = (container_code or "").strip().upper()
    if container:
        # A 接收 row of a line with several drums lists them in container_codes (a JSON list).
        qs = qs.filter(
            Q(container_code=container) | Q(kind=Kind.RECEIVED, container_codes__icontains=json.dumps(container))
        )
    if date_from is not None and date_to is not None and date_to < date_from:
        raise ApplicationError("结束日期不能早于开始日期", code="date_range_invalid", field="to")
    if date_from is not None:
        qs = qs.filter(occurred_at__gte=_day_start(date_from))
    if date_to is not None:
        qs = qs.filter(occurred_at__lt=_day_start(date_to + dt.timedelta(days=1)))
    return qs.select_related("site__enterprise", "facility", "source", "reversed_by").order_by("-occurred_at", "-id")


def entry_get(*, actor: Actor, entry_id: int) -> LedgerEntry:
    entry = (
        entries_visible(actor=actor)
        .select_related("site__enterprise", "site__region", "facility", "source", "receiver", "reversal_of")
        .filter(id=entry_id)
        .first()
    )
    if entry is None:
        raise NotFound("台账记录不存在或无权查看", field="entry")
    return entry


@dataclass
class EntryChain:
    """An entry with what links to it: ``sources`` from the direct source up to the 产生 record,
    ``consumers`` the entries that took from it (with their reversals), ``reversal`` the entry
    cancelling it, ``remaining`` what the batch still has (None for a reversing entry)."""

    entry: LedgerEntry
    sources: list[LedgerEntry]
    consumers: list[LedgerEntry]
    reversal: LedgerEntry | None
    remaining: Decimal | None


def entry_chain(entry: LedgerEntry) -> EntryChain:
    sources: list[LedgerEntry] = []
    current = entry.source
    while current is not None and len(sources) < 10:  # 产生 → 入库 → 出库 → 自行/委外: at most 3 links
        sources.append(current)
        current = (
            LedgerEntry.objects.select_related("facility").filter(id=current.source_id).first()
            if current.source_id
            else None
        )
    consumers = list(LedgerEntry.objects.filter(source=entry).select_related("facility").order_by("occurred_at", "id"))
    reversal = LedgerEntry.objects.filter(reversal_of=entry).first()
    left = None if entry.reversal_of_id is not None else batch_remaining(entry)
    return EntryChain(entry=entry, sources=sources, consumers=consumers, reversal=reversal, remaining=left)


def open_batches(*, actor: Actor, site_id: int, for_kind: str, limit: int = 500) -> list[LedgerEntry]:
    """The batches a new ``for_kind`` record may take from (rule 14: ``ALLOWED_SOURCES``) that
    still have waste left, oldest first, each annotated with ``remaining_tonnes``. One query:
    a batch's reversal and what its consumers took come from correlated sums (indexed on
    ``reversal_of`` and ``source``)."""
    site = site_get(actor=actor, site_id=site_id)
    if for_kind not in ALLOWED_SOURCES:
        names = "、".join(ALLOWED_SOURCES)
        raise ApplicationError(
            f"for_kind {for_kind!r} 无效：应为 {names}（产生记录没有来源批次）", code="kind_invalid", field="for_kind"
        )
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=6))
    reversed_sum = (
        LedgerEntry.objects.filter(reversal_of=OuterRef("pk"))
        .values("reversal_of")
        .annotate(t=Sum("quantity_tonnes"))
        .values("t")
    )
    taken_sum = (
        LedgerEntry.objects.filter(source=OuterRef("pk"))
        .values("source")
        .annotate(t=Sum("quantity_tonnes"))
        .values("t")
    )
    qs = (
        LedgerEntry.objects.filter(site=site, kind__in=ALLOWED_SOURCES[for_kind], reversal_of__isnull=True)
        .annotate(
            remaining_tonnes=ExpressionWrapper(
                F("quantity_tonnes") + Coalesce(Subquery(reversed_sum), zero) - Coalesce(Subquery(taken_sum), zero),
                output_field=DecimalField(max_digits=14, decimal_places=6),
            )
        )
        .filter(remaining_tonnes__gt=0)
        .order_by("occurred_at", "id")
    )
    return list(qs[:limit])


def source_id_resolve(*, site_id: int, source_id: int | None, source_batch_code: str | None) -> int:
    """The source batch of a new record, named by id or by its batch code within the site."""
    if source_id is not None:
        return source_id
    code = (source_batch_code or "").strip().upper()
    if not code:
        raise ApplicationError(
            "请选择来源批次（source_id 或 source_batch_code）", code="source_required", field="source"
        )
    found = LedgerEntry.objects.filter(site_id=site_id, batch_code=code).values_list("id", flat=True).first()
    if found is None:
        raise ApplicationError(f"来源批次 {code} 不存在或不属于本场所", code="source_missing", field="source")
    return found
