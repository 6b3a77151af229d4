"""The named guards of the lifecycle table. Each raises ``ApplicationError`` with a Chinese message
naming the rule (and its article), the guard's name as ``code`` and the field concerned; or returns.

Configurable (settings): ``MANIFEST_PLAN_POLICY`` ("refuse" — the default — or "warn": a transfer
not covered by the filed plan is then recorded as a warning on the manifest), and
``MANIFEST_WEIGHT_TOLERANCE_PERCENT`` (default 5: the weighed quantity may differ from the declared
one by this much before it is a discrepancy; 第十八条 names no figure, weifei's choice),
``MANIFEST_ESCALATION_WORKING_DAYS`` (default 2).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from weifei.catalog import cache as catalogue_cache
from weifei.catalog.validation import validate_waste_code
from weifei.core import fastsql
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.core.workdays import working_days_between
from weifei.registry.models import (
    Contract,
    Driver,
    Enterprise,
    Licence,
    LicenceScope,
    RoadTransportLicence,
    Vehicle,
)
from weifei.registry.rules import licence_status_on

from .models import Manifest, ManifestLeg, ManifestLine, State

DISCREPANCY_KINDS = {"name": "名称", "quantity": "数量", "characteristics": "特性", "form": "形态", "packaging": "包装"}
# Manifests that still count against a receiver's annual scale and a plan's A.7 quantity.
COUNTING = (State.SUBMITTED, State.IN_TRANSIT, State.ARRIVED, State.DISCREPANCY, State.RECEIVED, State.TREATED,
            State.CLOSED)  # fmt: skip


@dataclass
class Context:
    manifest: Manifest
    actor: Actor
    payload: dict[str, Any]
    now: dt.datetime
    today: dt.date
    warnings: list[str] = field(default_factory=list)
    # Each receiver's licences with their scopes, read once per step (guards look per line).
    licences: dict[int, list[tuple[Licence, list[LicenceScope]]]] = field(default_factory=dict, repr=False)


def _fail(message: str, code: str, field_name: str) -> ApplicationError:
    return ApplicationError(message, code=code, field=field_name)


def _lines(ctx: Context) -> list[Any]:
    return ctx.manifest.line_rows()


def _legs(ctx: Context) -> list[ManifestLeg]:
    return ctx.manifest.leg_rows()


def current_leg(manifest: Manifest) -> ManifestLeg | None:
    """The leg whose carrier holds the waste: the last picked-up leg (the first before pickup)."""
    legs = manifest.leg_rows()
    if not legs:
        return None
    picked = [leg for leg in legs if leg.picked_up_at is not None]
    return picked[-1] if picked else legs[0]


def next_leg(manifest: Manifest) -> ManifestLeg | None:
    cur = current_leg(manifest)
    if cur is None or cur.picked_up_at is None:
        return None
    return next((leg for leg in manifest.leg_rows() if leg.order > cur.order), None)


# ---------------------------------------------------------------- exemptions (regulations.md §4.3)

EXEMPTION_STAGES = ("全部环节", "收集", "运输", "利用", "处置", "利用、处置")
TRANSPORT_EXEMPT = frozenset({"运输", "全部环节"})
# The receiver's stage follows the planned method's kind (DisposalMethod.kind).
RECEIVER_EXEMPT = {
    "utilization": frozenset({"利用", "利用、处置", "全部环节"}),
    "disposal": frozenset({"处置", "利用、处置", "全部环节"}),
    "other": frozenset({"全部环节"}),
}


def exemption_claim(
    seq: int | None, stage: str, *, code: str, category: str, on: dt.date, field: str
) -> tuple[int | None, str]:
    """Check a line's claim on the 豁免清单 in force on ``on``: the item exists with that stage and
    names the line's code or category. Returns (seq, stage) to store, or (None, "") without a claim.
    Items that name no code (household waste, for example) cannot be claimed on a manifest: which
    waste they cover is a judgement for the local authority, not for the form."""
    from weifei.catalog.models import ExemptionItem

    stage = (stage or "").strip()
    if seq is None and not stage:
        return None, ""
    if seq is None or stage not in EXEMPTION_STAGES:
        raise _fail(
            f"援引豁免须同时填写豁免清单序号和豁免环节（{'、'.join(EXEMPTION_STAGES)}）",
            "exemption_claim",
            field,
        )
    version = catalogue_cache.version_on(on)
    items = list(ExemptionItem.objects.filter(version=version, seq=seq, stage=stage)) if version else []
    if not items:
        raise _fail(f"豁免清单第 {seq} 项没有“{stage}”环节的豁免", "exemption_claim", field)
    if not any(code in (item.codes or []) or category in (item.codes or []) for item in items):
        named = "、".join(sorted({c for item in items for c in item.codes or []})) or "（未列代码）"
        raise _fail(
            f"豁免清单第 {seq} 项（{stage}）适用于 {named}，不适用于 {code}；未列代码的条目不能在联单中援引",
            "exemption_claim",
            field,
        )
    return seq, stage


def transport_exempt(manifest: Manifest) -> bool:
    """Every line is exempt for transport: the carriage is not managed as hazardous waste."""
    lines = manifest.line_rows()
    return bool(lines) and all(line.exemption_stage in TRANSPORT_EXEMPT for line in lines)


def receiver_exempt(manifest: Manifest, line: Any) -> bool:
    """The line is exempt at the receiver's stage (utilization or disposal, by the planned method)."""
    if not line.exemption_stage:
        return False
    kind = catalogue_cache.method_kinds().get(manifest.planned_method_code, "other")
    return line.exemption_stage in RECEIVER_EXEMPT.get(kind, RECEIVER_EXEMPT["other"])


# ---------------------------------------------------------------- structure


def has_lines(ctx: Context) -> None:
    if not _lines(ctx):
        raise _fail("联单没有废物明细：请添加至少一种危险废物（第十条（四））", "has_lines", "lines")


def has_legs(ctx: Context) -> None:
    if not ctx.manifest.leg_rows():
        raise _fail("联单没有承运人：请填写承运人、车辆和驾驶员（第十一条（二））", "has_legs", "legs")


def codes_valid(ctx: Context) -> None:
    for line in _lines(ctx):
        validate_waste_code(line.waste_code, on=ctx.today, category=line.category, field="lines")


# ---------------------------------------------------------------- the filed plan (第十四条)


def plan_covers(ctx: Context) -> None:
    """The consignor site's filed plan for the year names the code and the receiver in A.7, with a
    quantity not yet used up by this year's manifests (refuse or warn, MANIFEST_PLAN_POLICY)."""
    from weifei.plans.models import ManagementPlan, PlanLine

    m = ctx.manifest
    policy = getattr(settings, "MANIFEST_PLAN_POLICY", "refuse")
    plan = fastsql.select_one(  # on every submission: built once (core.fastsql); one per site and year
        ManagementPlan,
        "site_id = %s AND year = %s AND filing_number IS NOT NULL",
        [m.consignor_site_id, ctx.today.year],
    )
    problems: list[str] = []
    if plan is None:
        problems.append(f"场所 {m.consignor_site.name} 没有已备案的 {ctx.today.year} 年度管理计划")
    else:
        for line in _lines(ctx):
            planned = _sum(
                f"SELECT SUM(tonnes) FROM {PlanLine._meta.db_table} "
                "WHERE plan_id = %s AND section = %s AND waste_code = %s AND receiver_id = %s",
                [plan.id, "A7", line.waste_code, m.receiver_id],
                places=3,
            )
            if planned is None:
                problems.append(f"管理计划 A.7 未列出向 {m.receiver.name} 转移 {line.waste_code}")
                continue
            used = _counted_tonnes(
                ctx.today.year, m.id, receiver_id=m.receiver_id, site_id=m.consignor_site_id, code=line.waste_code
            )
            if used + line.declared_tonnes > planned:
                problems.append(
                    f"{line.waste_code} 本年已转移 {used} 吨，"
                    f"加本联单 {line.declared_tonnes} 吨超过管理计划 A.7 的 {planned} 吨"
                )
    if not problems:
        return
    message = "；".join(problems) + "（转移办法第十四条：联单依据管理计划填写）"
    if policy == "warn":
        ctx.warnings.append(message)
        return
    raise _fail(message, "plan_covers", "lines")


# ---------------------------------------------------------------- the receiver's licence


def _licences_of(ctx: Context, receiver: Enterprise) -> list[tuple[Licence, list[LicenceScope]]]:
    """The receiver's licences, latest expiry first, each with its scopes; read once per step."""
    cache = ctx.licences
    if receiver.id not in cache:
        licences = fastsql.select(Licence, "holder_id = %s", [receiver.id], order_by="valid_to DESC")
        scopes: dict[int, list[LicenceScope]] = {lic.id: [] for lic in licences}
        if licences:
            marks = ", ".join(["%s"] * len(licences))
            where = f"licence_id IN ({marks})"
            for scope in fastsql.select(LicenceScope, where, list(scopes), order_by="licence_id, category, waste_code"):
                scopes[scope.licence_id].append(scope)
        cache[receiver.id] = [(lic, scopes[lic.id]) for lic in licences]
    return cache[receiver.id]


def _receiver_licence(ctx: Context, receiver: Enterprise, line: Any) -> tuple[Licence, list[LicenceScope]]:
    for lic, scopes in _licences_of(ctx, receiver):
        status = licence_status_on(
            stored_status=lic.status, valid_from=lic.valid_from, valid_to=lic.valid_to, on=ctx.today
        )
        if status == "valid" and any(
            s.waste_code == line.waste_code or (not s.waste_code and s.category == line.category) for s in scopes
        ):
            return lic, scopes
    raise _fail(
        f"接受人 {receiver.name} 在 {ctx.today} 没有覆盖 {line.waste_code}（{line.category}）的有效危险废物经营许可证"
        "（固废法第八十条）",
        "receiver_licensed",
        "receiver",
    )


def _in_flight(receiver: Enterprise, year: int, exclude: int, *, code: str | None = None,
               category: str | None = None) -> Decimal:  # fmt: skip
    """Tonnes on this year's manifests to the receiver that still count (submitted to closed)."""
    return _counted_tonnes(year, exclude, receiver_id=receiver.id, code=code, category=category)


def _counted_tonnes(
    year: int,
    exclude: int,
    *,
    receiver_id: int,
    site_id: int | None = None,
    code: str | None = None,
    category: str | None = None,
) -> Decimal:
    """Declared tonnes on the lines of this year's manifests (by creation time, local calendar year)
    to the receiver that still count (``COUNTING``), other than manifest ``exclude``; narrowed to a
    consignor site, a code or a category. Written out once per shape: submit and pickup run it for
    every line (core.fastsql explains why)."""
    conditions = ["m.receiver_id = %s"]
    params: list[Any] = [receiver_id]
    for column, value in (("m.consignor_site_id", site_id), ("l.waste_code", code), ("l.category", category)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    start, end = connection.ops.year_lookup_bounds_for_datetime_field(year)  # as created_at__year does
    total = _sum(_counted_sql(tuple(conditions)), [*params, *COUNTING, start, end, exclude], places=6)
    return total if total is not None else Decimal(0)


def _sum(sql: str, params: list[Any], *, places: int) -> Decimal | None:
    """A ``SELECT SUM(<decimal column>)``: None over no rows. PostgreSQL sums numerics exactly;
    SQLite may hand back a float, taken to the column's decimal places as the ORM does."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (total,) = cursor.fetchone()
    if total is None or isinstance(total, Decimal):
        return total
    return Decimal(str(total)).quantize(Decimal(1).scaleb(-places))


@functools.cache
def _counted_sql(conditions: tuple[str, ...]) -> str:
    states = ", ".join(["%s"] * len(COUNTING))
    return (
        f"SELECT SUM(l.declared_tonnes) FROM {ManifestLine._meta.db_table} l "
        f"INNER JOIN {Manifest._meta.db_table} m ON m.id = l.manifest_id "
        f"WHERE {' AND '.join(conditions)} AND m.state IN ({states}) "
        "AND m.created_at BETWEEN %s AND %s AND m.id <> %s"
    )


def _check_licence_capacity(ctx: Context, receiver: Enterprise) -> str:
    """The licence covers every line, with remaining annual scale per code (its scope) and in
    aggregate (the licence's total), counting the manifests already in flight this year."""
    m = ctx.manifest
    total = Decimal(0)
    licence: Licence | None = None
    for line in _lines(ctx):
        if receiver_exempt(m, line):
            ctx.warnings.append(
                f"{line.waste_code} 依豁免清单第 {line.exemption_seq} 项（{line.exemption_stage}）豁免，"
                "未核验接受人的经营许可证"
            )
            continue
        licence, scopes = _receiver_licence(ctx, receiver, line)
        scope = next(
            (s for s in scopes if s.waste_code == line.waste_code),
            next((s for s in scopes if not s.waste_code and s.category == line.category), None),
        )
        if scope is not None and scope.annual_tonnes:
            if scope.waste_code:
                used = _in_flight(receiver, ctx.today.year, m.id, code=line.waste_code)
            else:
                used = _in_flight(receiver, ctx.today.year, m.id, category=line.category)
            if used + line.declared_tonnes > scope.annual_tonnes:
                raise _fail(
                    f"接受人 {receiver.name} 的许可证 {licence.number} "
                    f"对 {scope.waste_code or scope.category} 的核准规模"
                    f" {scope.annual_tonnes} 吨/年已用 {used} 吨，容纳不下本联单的 {line.declared_tonnes} 吨",
                    "receiver_licensed",
                    "lines",
                )
        total += line.declared_tonnes
    if licence is not None:
        used_all = _in_flight(receiver, ctx.today.year, m.id)
        if used_all + total > licence.annual_capacity_tonnes:
            raise _fail(
                f"接受人 {receiver.name} 的许可证 {licence.number} 核准经营规模 {licence.annual_capacity_tonnes} 吨/年"
                f"已用 {used_all} 吨，容纳不下本联单的 {total} 吨",
                "receiver_licensed",
                "lines",
            )
        if receiver.id == m.receiver_id and not m.receiver_licence_number:
            m.receiver_licence_number = licence.number
        return licence.number
    return ""


def receiver_licensed(ctx: Context) -> None:
    _check_licence_capacity(ctx, ctx.manifest.receiver)


def new_receiver_licensed(ctx: Context) -> None:
    receiver_id = ctx.payload.get("receiver_id")
    receiver = Enterprise.objects.filter(id=receiver_id).first() if receiver_id else None
    if receiver is None:
        raise _fail("改运须选择新的接受人", "new_receiver_licensed", "receiver_id")
    if receiver.id == ctx.manifest.receiver_id:
        raise _fail("改运的接受人不能是拒收的单位", "new_receiver_licensed", "receiver_id")
    ctx.payload["_licence_number"] = _check_licence_capacity(ctx, receiver)
    carrier_id = ctx.payload.get("carrier_id")
    if not carrier_id or not Enterprise.objects.filter(id=carrier_id).exists():
        raise _fail("改运须指定承运人", "new_receiver_licensed", "carrier_id")


def contract_valid(ctx: Context) -> None:
    """A written contract between 移出人 and 接受人, valid on the day and naming each code (or no
    code list: all codes) — 第十条（一）."""
    m = ctx.manifest
    contracts = fastsql.select(  # on every submission: built once (core.fastsql)
        Contract,
        "((party_a_id = %s AND party_b_id = %s) OR (party_a_id = %s AND party_b_id = %s))"
        " AND valid_from <= %s AND valid_to >= %s",
        [m.consignor_id, m.receiver_id, m.receiver_id, m.consignor_id, ctx.today, ctx.today],
        order_by="id",
    )
    codes = {line.waste_code for line in _lines(ctx)}
    for contract in contracts:
        if not contract.waste_codes or codes <= set(contract.waste_codes):
            return
    raise _fail(
        f"{m.consignor.name} 与 {m.receiver.name} 之间没有 {ctx.today} 有效且包含 {'、'.join(sorted(codes))} 的书面合同"
        "（转移办法第十条（一））",
        "contract_valid",
        "receiver",
    )


def approval_for(manifest: Manifest) -> Any:
    """The cross-province approval the manifest names (``weifei.approvals.models.Approval``) or None."""
    from weifei.approvals.models import Approval

    return Approval.objects.select_related("application").filter(number=manifest.approval_reference.strip()).first()


def approval_valid(ctx: Context) -> None:
    """A cross-province transfer names an approval of this consignor, for this receiver (credit code)
    and waste codes, valid on the day (第二十七条, 第二十八条). The approved quantity is consumed when
    the manifest is submitted (``services``) and given back if it is cancelled or returned."""
    m = ctx.manifest
    if m.transfer_type != Manifest.TransferType.CROSS_PROVINCE:
        return
    if not m.approval_reference.strip():
        raise _fail("跨省转移须填写跨省转移批准文号（转移办法第二十七条）", "approval_valid", "approval_reference")
    approval = approval_for(m)
    if approval is None:
        raise _fail(f"跨省转移批准文号 {m.approval_reference} 不存在", "approval_valid", "approval_reference")
    app = approval.application
    if app.consignor_id != m.consignor_id or app.receiver_credit_code != m.receiver.credit_code:
        raise _fail(
            f"批准文号 {approval.number} 批准的是 {app.receiver_name} 接收 {app.consignor} 的转移，"
            "与本联单的移出人或接受人不符：变更接受人须重新申请（第二十八条）",
            "approval_valid",
            "approval_reference",
        )
    if approval.revoked_at is not None or not approval.valid_from <= ctx.today <= approval.valid_to:
        raise _fail(
            f"批准文号 {approval.number} 在 {ctx.today} 不在有效期（{approval.valid_from} 至 {approval.valid_to}）内",
            "approval_valid",
            "approval_reference",
        )
    approved = set(approval.lines.values_list("waste_code", flat=True))
    missing = sorted({line.waste_code for line in _lines(ctx)} - approved)
    if missing:
        message = f"批准文号 {approval.number} 未批准 {'、'.join(missing)}：须重新申请（第二十八条）"
        raise _fail(message, "approval_valid", "approval_reference")


# ---------------------------------------------------------------- carriers (第十一条, 第十三条)


def _leg_permits(ctx: Context, leg: ManifestLeg, field_name: str) -> None:
    day = ctx.today
    carrier = leg.carrier
    if not fastsql.select(
        RoadTransportLicence, "carrier_id = %s AND valid_from <= %s AND valid_to >= %s", [carrier.id, day, day], limit=1
    ):
        message = f"承运人 {carrier.name} 没有 {day} 有效的道路危险货物运输许可证（第十三条）"
        raise _fail(message, "carrier_permits_valid", field_name)
    vehicle: Vehicle | None = leg.vehicle
    if vehicle is None or vehicle.carrier_id != carrier.id:
        raise _fail(f"第 {leg.order} 段运输未指定承运人 {carrier.name} 的车辆", "carrier_permits_valid", field_name)
    if vehicle.registration != Vehicle.Registration.APPROVED:
        raise _fail(f"车辆 {vehicle.plate} 未通过备案", "carrier_permits_valid", field_name)
    if vehicle.valid_until < day or (vehicle.inspection_valid_until and vehicle.inspection_valid_until < day):
        raise _fail(f"车辆 {vehicle.plate} 的道路运输证或检验已过期", "carrier_permits_valid", field_name)
    classes = {line.dg_class for line in _lines(ctx) if line.dg_class}
    allowed = {str(c) for c in vehicle.dangerous_goods_classes or []}
    if classes and allowed and not {c.split(".")[0] for c in classes} <= {a.split(".")[0] for a in allowed}:
        message = f"车辆 {vehicle.plate} 不允许运输第 {'、'.join(sorted(classes))} 类危险货物"
        raise _fail(message, "carrier_permits_valid", field_name)
    driver: Driver | None = leg.driver
    if driver is None or driver.carrier_id != carrier.id:
        raise _fail(f"第 {leg.order} 段运输未指定承运人 {carrier.name} 的驾驶员", "carrier_permits_valid", field_name)
    if driver.certificate_valid_until < day:
        raise _fail(f"驾驶员 {driver.name} 的从业资格证已过期", "carrier_permits_valid", field_name)


def _transport_exempt_noted(ctx: Context) -> bool:
    if not transport_exempt(ctx.manifest):
        return False
    items = "、".join(sorted({f"第 {line.exemption_seq} 项" for line in _lines(ctx)}))
    note = f"运输环节依豁免清单{items}豁免，未核验危险货物道路运输资质"
    if note not in ctx.warnings:
        ctx.warnings.append(note)
    return True


def carrier_permits_valid(ctx: Context) -> None:
    if _transport_exempt_noted(ctx):
        return
    legs = _legs(ctx)
    targets = legs if ctx.manifest.state == State.DRAFT else [leg for leg in legs if leg.picked_up_at is None][:1]
    for leg in targets:
        _leg_permits(ctx, leg, "legs")


def next_carrier_permits_valid(ctx: Context) -> None:
    if _transport_exempt_noted(ctx):
        return
    leg = next_leg(ctx.manifest)
    if leg is not None:
        _leg_permits(ctx, leg, "legs")


def within_payload(ctx: Context) -> None:
    leg = current_leg(ctx.manifest)
    total = sum((line.declared_tonnes for line in _lines(ctx)), Decimal(0))
    if leg is not None and leg.vehicle is not None and total > leg.vehicle.payload_tonnes:
        raise _fail(f"联单移出量 {total} 吨超过车辆 {leg.vehicle.plate} 的核定载质量 {leg.vehicle.payload_tonnes} 吨",
                    "within_payload", "lines")  # fmt: skip


def labels_match(ctx: Context) -> None:
    """第十三条: loading is refused unless the scanned labels equal the manifest's containers."""
    expected = {c.label_code for c in ctx.manifest.container_rows()}
    scanned_raw = ctx.payload.get("scanned_labels")
    scanned = {str(c).strip().upper() for c in scanned_raw or []}
    if not expected and not scanned:
        return  # bulk waste without containers (e.g. tank loads): nothing to scan
    missing, extra = expected - scanned, scanned - expected
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"未扫描 {len(missing)} 个：{'、'.join(sorted(missing)[:3])}")
        if extra:
            parts.append(f"联单外 {len(extra)} 个：{'、'.join(sorted(extra)[:3])}")
        raise _fail(
            "标签与联单不符，不予装载（转移办法第十三条）：" + "；".join(parts), "labels_match", "scanned_labels"
        )


def has_next_leg(ctx: Context) -> None:
    if next_leg(ctx.manifest) is None:
        raise _fail("没有下一段运输：联运交接需要下一承运人", "has_next_leg", "legs")


def handover_place_given(ctx: Context) -> None:
    if not str(ctx.payload.get("handover_place") or "").strip():
        raise _fail("请填写交接地点（转移办法第十七条）", "handover_place_given", "handover_place")


def on_last_leg(ctx: Context) -> None:
    cur = current_leg(ctx.manifest)
    if cur is not None and any(leg.order > cur.order for leg in ctx.manifest.leg_rows()):
        raise _fail("还有未完成的联运段：请先由下一承运人签收交接", "on_last_leg", "legs")


# ---------------------------------------------------------------- receiving (第十二条, 第十八条)


def _weights(ctx: Context) -> dict[int, Decimal]:
    raw = ctx.payload.get("weights") or {}
    out: dict[int, Decimal] = {}
    for key, value in dict(raw).items():
        try:
            tonnes = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise _fail(f"接受量 {value!r} 不是数字", "weights_given", "weights") from None
        if not tonnes.is_finite() or tonnes < 0 or tonnes > Decimal(100_000):
            raise _fail(f"接受量 {value} 吨不在 0–100000 之间", "weights_given", "weights")
        out[int(key)] = tonnes
    return out


def weights_given(ctx: Context) -> None:
    """Every line weighed (第十条（三）: 计量称重)."""
    weights = _weights(ctx)
    ids = {line.id for line in _lines(ctx)}
    if set(weights) != ids:
        raise _fail("请为联单的每种废物填写过磅的接受量（吨）", "weights_given", "weights")


def within_tolerance(ctx: Context) -> None:
    tol = Decimal(str(getattr(settings, "MANIFEST_WEIGHT_TOLERANCE_PERCENT", 5)))
    weights = _weights(ctx)
    for line in _lines(ctx):
        got = weights.get(line.id)
        if got is None:
            continue
        if abs(got - line.declared_tonnes) > line.declared_tonnes * tol / 100:
            raise _fail(
                f"{line.waste_code} 过磅 {got} 吨与移出量 {line.declared_tonnes} 吨相差超过 {tol}%："
                "请报告差异（转移办法第十八条）",
                "within_tolerance",
                "weights",
            )


def discrepancy_described(ctx: Context) -> None:
    kinds = [str(k) for k in ctx.payload.get("kinds") or []]
    unknown = [k for k in kinds if k not in DISCREPANCY_KINDS]
    if not kinds or unknown:
        raise _fail(
            "请选择差异类型：名称、数量、特性、形态或包装（转移办法第十八条）", "discrepancy_described", "kinds"
        )
    if not str(ctx.payload.get("description") or "").strip():
        raise _fail("请说明差异情况", "discrepancy_described", "description")


def refusal_valid(ctx: Context) -> None:
    try:
        refused = Decimal(str(ctx.payload.get("refused_tonnes")))
    except (InvalidOperation, ValueError):
        raise _fail("请填写拒收量（吨）", "refusal_valid", "refused_tonnes") from None
    received = sum((line.received_tonnes or Decimal(0) for line in _lines(ctx)), Decimal(0))
    if not refused.is_finite() or refused <= 0 or refused >= received:
        raise _fail(
            f"拒收量应大于 0 且小于接受的 {received} 吨（全部拒收请选择拒收）", "refusal_valid", "refused_tonnes"
        )
    if not str(ctx.payload.get("reason") or "").strip():
        raise _fail("请填写拒收原因", "refusal_valid", "reason")


def reason_given(ctx: Context) -> None:
    if not str(ctx.payload.get("reason") or "").strip():
        raise _fail("请填写理由", "reason_given", "reason")


def method_valid(ctx: Context) -> None:
    code = str(ctx.payload.get("method_code") or "").strip()
    if not catalogue_cache.method_exists(code):
        raise _fail(f"利用/处置方式代码 {code or '（空）'} 不存在", "method_valid", "method_code")
    if not str(ctx.payload.get("result") or "").strip():
        raise _fail("请填写利用/处置结果（转移办法第十二条（四））", "method_valid", "result")


def escalation_due(ctx: Context) -> None:
    """A party has not signed for MANIFEST_ESCALATION_WORKING_DAYS working days since the manifest
    entered its state: a regulator (or, to close, the system) may act in its place."""
    days = int(getattr(settings, "MANIFEST_ESCALATION_WORKING_DAYS", 2))
    changed = ctx.manifest.state_changed_at
    since = timezone.localdate(changed) if changed else ctx.today
    waited = working_days_between(since, ctx.today)
    if waited < days:
        raise _fail(f"该环节等待签署未满 {days} 个工作日（已 {waited} 个），不能代为处理", "escalation_due", "event")


GUARDS: dict[str, Callable[[Context], None]] = {
    "has_lines": has_lines,
    "has_legs": has_legs,
    "codes_valid": codes_valid,
    "plan_covers": plan_covers,
    "receiver_licensed": receiver_licensed,
    "new_receiver_licensed": new_receiver_licensed,
    "contract_valid": contract_valid,
    "approval_valid": approval_valid,
    "carrier_permits_valid": carrier_permits_valid,
    "next_carrier_permits_valid": next_carrier_permits_valid,
    "within_payload": within_payload,
    "labels_match": labels_match,
    "has_next_leg": has_next_leg,
    "handover_place_given": handover_place_given,
    "on_last_leg": on_last_leg,
    "weights_given": weights_given,
    "within_tolerance": within_tolerance,
    "discrepancy_described": discrepancy_described,
    "refusal_valid": refusal_valid,
    "reason_given": reason_given,
    "method_valid": method_valid,
    "escalation_due": escalation_due,
}
