"""Management-plan writes: draft, lines, filing, change after filing, review.

Enterprise writes are for the site's enterprise's admins and members (never drivers, readers or
read-only credentials); reviews for a writing regulator over the site's region. Every write
checks the actor, runs in one transaction and records an event on the enterprise's stream.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import validate_waste_code
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound
from weifei.core.events import event_record
from weifei.core.permissions import require_enterprise_member, require_regulator_over
from weifei.registry.models import Enterprise, Facility, Licence, ManagementClass, Site
from weifei.registry.rules import licence_status_on

from . import rules
from .models import FilingCounter, ManagementPlan, ManagementPlanVersion, PlanLine

# A line's tonnes: positive, three decimals (the column), at most a million tonnes a year for one
# site — larger figures are typing errors (Jilin's whole yearly generation is of that order).
MAX_LINE_TONNES = Decimal(1_000_000)
PROVINCE_CODE = "220000"
FALLBACK_CLASS = ManagementClass.KEY  # a site not yet classified fills in every table


def _now() -> dt.datetime:
    return timezone.now()


def _plan_for_update(plan_id: int) -> ManagementPlan:
    plan = (
        ManagementPlan.objects.select_for_update()
        .select_related("site__enterprise", "site__region")
        .filter(id=plan_id)
        .first()
    )
    if plan is None:
        raise NotFound("管理计划不存在", field="plan")
    return plan


def _require_writer(actor: Actor, plan_or_site: ManagementPlan | Site, action: str) -> None:
    site = plan_or_site.site if isinstance(plan_or_site, ManagementPlan) else plan_or_site
    require_enterprise_member(actor, site.enterprise_id, action=action)


def _require_draft(plan: ManagementPlan) -> None:
    if plan.status not in (ManagementPlan.Status.DRAFT, ManagementPlan.Status.RETURNED):
        raise ApplicationError(
            "管理计划已备案，修改请先提出变更（HJ 1259 5.2.3）", code="plan_not_draft", field="status"
        )


def _a1(site: Site, management_class: str) -> dict[str, Any]:
    e = site.enterprise
    return {
        "name": e.name,
        "credit_code": e.credit_code,
        "address": e.address,
        "site_name": site.name,
        "site_address": site.address,
        "region": site.region.key,
        "region_name": site.region.name,
        "industry_code": site.industry_code or e.industry_code,
        "industry_name": site.industry_name or e.industry_name,
        "latitude": str(site.latitude) if site.latitude is not None else "",
        "longitude": str(site.longitude) if site.longitude is not None else "",
        "legal_representative": e.legal_representative,
        "contact_name": e.contact_name,
        "contact_phone": e.contact_phone,
        "management_class": management_class,
    }


def _a2(site: Site) -> dict[str, Any]:
    facilities = Facility.objects.filter(site=site, in_service=True).order_by("code")
    return {
        "facilities": [
            {
                "code": f.code,
                "kind": f.kind,
                "name": f.name,
                "design_capacity_tonnes": str(f.design_capacity_tonnes or ""),
                "storage_capacity_tonnes": str(f.storage_capacity_tonnes or ""),
            }
            for f in facilities
        ]
    }


def line_dict(line: PlanLine) -> dict[str, Any]:
    return {
        "section": line.section,
        "waste_code": line.waste_code,
        "waste_name": line.waste_name,
        "tonnes": str(line.tonnes),
        "facility_code": line.facility_code,
        "method_code": line.method_code,
        "measures": line.measures,
        "transfer_type": line.transfer_type,
        "receiver_type": line.receiver_type,
        "receiver_id": line.receiver_id,
        "receiver_name": line.receiver_name,
        "licence_number": line.licence_number,
    }


@transaction.atomic
def plan_draft(*, actor: Actor, site_id: int, year: int) -> ManagementPlan:
    """Start the site's plan for ``year``: A.1 from the registry, A.2 from the site's facilities
    (重点 units), lines A.3–A.7 copied from last year's plan where this year's class allows them."""
    site = Site.objects.select_related("enterprise", "region").filter(id=site_id).first()
    if site is None:
        raise NotFound("场所不存在", field="site")
    _require_writer(actor, site, "编制管理计划")
    if not 2000 <= year <= 2100:
        raise ApplicationError(f"计划年度 {year} 无效", code="year_invalid", field="year")
    if site.status == Site.Status.CLOSED:
        raise ApplicationError("场所已关闭，不需编制管理计划", code="site_closed", field="site")
    if ManagementPlan.objects.filter(site=site, year=year).exists():
        raise ApplicationError(
            f"该场所 {year} 年度的管理计划已存在（每个场所每年一份，HJ 1259 5.1–5.2）",
            code="plan_exists",
            field="year",
        )
    management_class = site.management_class or FALLBACK_CLASS
    content: dict[str, Any] = {"A1": _a1(site, management_class)}
    if rules.section_allowed(management_class, "A2"):
        content["A2"] = _a2(site)
    plan = ManagementPlan.objects.create(site=site, year=year, management_class=management_class, content=content)
    previous = ManagementPlan.objects.filter(site=site, year=year - 1).first()
    copied = 0
    if previous is not None:
        for line in previous.lines.all():
            if not rules.section_allowed(management_class, line.section):
                continue
            line.pk = None
            line.plan = plan
            line.save(force_insert=True)
            copied += 1
    event_record(
        subject=plan,
        actor=actor,
        kind="plan.drafted",
        organisation=site.enterprise,
        after={"site": site.id, "year": year, "management_class": management_class, "lines_copied": copied},
    )
    return plan


def _tonnes(value: Decimal | None, label: str) -> Decimal:
    if value is None:
        raise ApplicationError(f"{label}不能为空", code="tonnes_required", field="tonnes")
    if not value.is_finite() or value <= 0:
        raise ApplicationError(f"{label}应大于 0 吨", code="tonnes_not_positive", field="tonnes")
    if value > MAX_LINE_TONNES:
        raise ApplicationError(
            f"{label} {value} 吨超过单行上限 {MAX_LINE_TONNES} 吨，请核对单位（吨）",
            code="tonnes_too_large",
            field="tonnes",
        )
    if value != value.quantize(Decimal("0.001")):
        raise ApplicationError(f"{label}最多保留 3 位小数", code="tonnes_precision", field="tonnes")
    return value


FACILITY_KINDS = {
    "A3": (("generating", "storage", "utilization", "disposal"), "产生设施"),
    "A4": (("storage",), "贮存设施"),
    "A5": (("utilization", "disposal"), "利用或处置设施"),
}
TONNES_LABELS = {
    "A3": "预计产生量",
    "A4": "预计年末贮存量",
    "A5": "预计利用处置量",
    "A6": "预计减量",
    "A7": "预计转移量",
}


def _facility(site: Site, section: str, code: str) -> str:
    code = (code or "").strip()
    kinds, label = FACILITY_KINDS[section]
    if not code:
        if section == "A3":
            return ""  # generating facility code is optional for A.3 (units without an HJ 608 code)
        raise ApplicationError(f"请填写{label}编码", code="facility_required", field="facility_code")
    facility = Facility.objects.filter(code=code).first()
    if facility is None or facility.site_id != site.id:
        raise ApplicationError(f"设施 {code} 不是本场所登记的设施", code="facility_not_of_site", field="facility_code")
    if facility.kind not in kinds:
        raise ApplicationError(
            f"设施 {code} 是{facility.get_kind_display()}，此表需要{label}", code="facility_kind", field="facility_code"
        )
    return code


def _method(code: str) -> str:
    code = (code or "").strip()
    if not code:
        raise ApplicationError("请填写利用/处置方式代码（HJ 1033 附录F）", code="method_required", field="method_code")
    if not DisposalMethod.objects.filter(code=code).exists():
        raise ApplicationError(f"利用/处置方式代码 {code} 不存在", code="method_unknown", field="method_code")
    return code


def _covering_licence(receiver: Enterprise, *, code: str, category: str, year: int) -> Licence | None:
    """A licence of ``receiver`` valid at some time in ``year`` whose scope names the code or its
    category (许可办法 第五条: operators accept only the wastes their licence covers)."""
    for licence in Licence.objects.filter(holder=receiver).prefetch_related("scopes"):
        valid = any(
            licence_status_on(
                stored_status=licence.status, valid_from=licence.valid_from, valid_to=licence.valid_to, on=day
            )
            == "valid"
            for day in (dt.date(year, 1, 1), dt.date(year, 12, 31), licence.valid_from, licence.valid_to)
            if day.year == year
        )
        if valid and any(
            s.waste_code == code or (not s.waste_code and s.category == category) for s in licence.scopes.all()
        ):
            return licence
    return None


@transaction.atomic
def plan_line_add(
    *,
    actor: Actor,
    plan_id: int,
    section: str,
    waste_code: str,
    tonnes: Decimal | None,
    waste_name: str = "",
    facility_code: str = "",
    method_code: str = "",
    measures: str = "",
    transfer_type: str = "",
    receiver_type: str = "",
    receiver_id: int | None = None,
    receiver_name: str = "",
    licence_number: str = "",
) -> PlanLine:
    """Add one row to tables A.3–A.7 (HJ 1259 5.5 and Annex A)."""
    plan = _plan_for_update(plan_id)
    _require_writer(actor, plan, "修改管理计划")
    _require_draft(plan)
    if section not in rules.LINE_SECTIONS:
        raise ApplicationError(f"表 {section!r} 无效：可填写 A3–A7", code="section_invalid", field="section")
    if not rules.section_allowed(plan.management_class, section):
        raise ApplicationError(
            f"{rules.CLASS_NAMES[plan.management_class]}的管理计划不含{rules.SECTION_NAMES[section]}（HJ 1259 5.3）",
            code="section_not_for_class",
            field="section",
        )
    valid = validate_waste_code(waste_code, on=dt.date(plan.year, 1, 1))
    amount = _tonnes(tonnes, TONNES_LABELS[section])
    line = PlanLine(
        plan=plan, section=section, waste_code=valid.code, waste_name=(waste_name or "").strip()[:200], tonnes=amount
    )
    if not line.waste_name and valid.waste_code is not None:
        line.waste_name = valid.waste_code.description[:200]
    if section in FACILITY_KINDS:
        line.facility_code = _facility(plan.site, section, facility_code)
    if section == "A5":
        line.method_code = _method(method_code)
    if section == "A6":
        line.measures = (measures or "").strip()
        if not line.measures:
            raise ApplicationError("请填写减量化计划和措施", code="measures_required", field="measures")
    if section == "A7":
        _transfer(
            line,
            plan,
            valid.category,
            transfer_type,
            receiver_type,
            receiver_id,
            receiver_name,
            licence_number,
            method_code,
        )
    line.save()
    event_record(
        subject=plan,
        actor=actor,
        kind="plan.line_added",
        organisation=plan.site.enterprise,
        after={"line": line.id, **line_dict(line)},
    )
    return line


def _transfer(
    line: PlanLine,
    plan: ManagementPlan,
    category: str,
    transfer_type: str,
    receiver_type: str,
    receiver_id: int | None,
    receiver_name: str,
    licence_number: str,
    method_code: str,
) -> None:
    if transfer_type not in PlanLine.TransferType.values:
        raise ApplicationError(
            "转移类型应为 省内/跨省/境外（HJ 1259 5.5.5 a）", code="transfer_type_invalid", field="transfer_type"
        )
    if receiver_type not in PlanLine.ReceiverType.values:
        raise ApplicationError(
            "接收单位类型应为 经营许可证持有单位/豁免单位/境外利用处置单位",
            code="receiver_type_invalid",
            field="receiver_type",
        )
    if (transfer_type == "abroad") != (receiver_type == "abroad"):
        raise ApplicationError(
            "境外转移的接收单位应为境外利用处置单位", code="receiver_type_mismatch", field="receiver_type"
        )
    line.transfer_type = transfer_type
    line.receiver_type = receiver_type
    line.method_code = _method(method_code)
    line.receiver_name = (receiver_name or "").strip()[:200]
    if receiver_type == "licensed":
        receiver = Enterprise.objects.filter(id=receiver_id).first() if receiver_id else None
        if receiver is None:
            raise ApplicationError("请选择接收的经营许可证持有单位", code="receiver_required", field="receiver_id")
        licence = _covering_licence(receiver, code=line.waste_code, category=category, year=plan.year)
        if licence is None:
            raise ApplicationError(
                f"接收单位 {receiver.name} 没有 {plan.year} 年有效且经营范围包含 {line.waste_code}（{category}）的"
                "危险废物经营许可证（固废法 第八十条）",
                code="receiver_not_licensed",
                field="receiver_id",
            )
        if licence_number and licence_number.strip() != licence.number:
            raise ApplicationError(
                f"许可证编号 {licence_number} 与接收单位的许可证 {licence.number} 不符",
                code="licence_number_mismatch",
                field="licence_number",
            )
        line.receiver = receiver
        line.receiver_name = receiver.name
        line.licence_number = licence.number
    elif not line.receiver_name:
        raise ApplicationError("请填写接收单位名称", code="receiver_name_required", field="receiver_name")


@transaction.atomic
def plan_line_remove(*, actor: Actor, plan_id: int, line_id: int) -> None:
    plan = _plan_for_update(plan_id)
    _require_writer(actor, plan, "修改管理计划")
    _require_draft(plan)
    line = PlanLine.objects.filter(id=line_id, plan=plan).first()
    if line is None:
        raise NotFound("计划行不存在", field="line")
    before = {"line": line.id, **line_dict(line)}
    line.delete()
    event_record(subject=plan, actor=actor, kind="plan.line_removed", organisation=plan.site.enterprise, before=before)


def _next_filing_number(region_code: str, year: int) -> str:
    # The counter row is locked until commit: two filings in one region-year take turns.
    FilingCounter.objects.get_or_create(region_code=region_code, year=year)
    counter = FilingCounter.objects.select_for_update().get(region_code=region_code, year=year)
    counter.last_serial += 1
    counter.save(update_fields=["last_serial"])
    return rules.filing_number(region_code, year, counter.last_serial)


@transaction.atomic
def plan_file(*, actor: Actor, plan_id: int) -> ManagementPlan:
    """File the plan (HJ 1259 5.2.2): the required tables are filled, a filing number is given
    (kept by later versions), a filing after 31 March (Asia/Shanghai date) is accepted but late."""
    plan = _plan_for_update(plan_id)
    _require_writer(actor, plan, "备案管理计划")
    _require_draft(plan)
    counts: dict[str, int] = {}
    for section in plan.lines.values_list("section", flat=True):
        counts[section] = counts.get(section, 0) + 1
    missing = rules.missing_sections(management_class=plan.management_class, content=plan.content, line_counts=counts)
    if missing:
        names = "、".join(" 或 ".join(rules.SECTION_NAMES[x] for x in m.split("/")) for m in missing)
        raise ApplicationError(f"以下内容不能为空：{names}（HJ 1259 5.3）", code="plan_incomplete", field=missing[0])
    now = _now()
    before = {"status": plan.status, "version": plan.version}
    if not plan.filing_number:
        region = plan.site.region
        plan.filing_number = _next_filing_number(region.code6 or PROVINCE_CODE, plan.year)
        plan.first_filed_at = now
        plan.late = rules.filed_late(year=plan.year, filed_on_local=timezone.localtime(now).date())
    if plan.versions.filter(version=plan.version).exists():
        # A returned plan filed again: the corrected content is a new version (the returned one stays).
        plan.version += 1
    plan.filed_at = now
    plan.status = ManagementPlan.Status.FILED
    plan.reviewed_at = None
    plan.reviewer = None
    plan.review_comment = ""
    plan.save()
    ManagementPlanVersion.objects.create(
        plan=plan,
        version=plan.version,
        filing_number=plan.filing_number,
        filed_at=now,
        late=plan.late,
        change_reason=plan.change_reason,
        snapshot={"content": plan.content, "lines": [line_dict(x) for x in plan.lines.all()]},
    )
    event_record(
        subject=plan,
        actor=actor,
        kind="plan.filed",
        organisation=plan.site.enterprise,
        before=before,
        after={"status": plan.status, "version": plan.version, "filing_number": plan.filing_number, "late": plan.late},
    )
    return plan


@transaction.atomic
def plan_change(*, actor: Actor, plan_id: int, reason: str) -> ManagementPlan:
    """A change to a filed plan (HJ 1259 5.2.3): a new version opens as a draft with the filed
    lines; filing it again keeps the filing number. The filed versions stay as snapshots."""
    plan = _plan_for_update(plan_id)
    _require_writer(actor, plan, "变更管理计划")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("请填写变更原因", code="reason_required", field="reason")
    if plan.status not in (ManagementPlan.Status.FILED, ManagementPlan.Status.ACCEPTED):
        raise ApplicationError("只有已备案的管理计划可以变更；草稿可直接修改", code="plan_not_filed", field="status")
    before = {"status": plan.status, "version": plan.version}
    plan.version += 1
    plan.status = ManagementPlan.Status.DRAFT
    plan.change_reason = reason[:500]
    plan.save(update_fields=["version", "status", "change_reason", "updated_at"])
    event_record(
        subject=plan,
        actor=actor,
        kind="plan.change_started",
        organisation=plan.site.enterprise,
        before=before,
        after={"status": plan.status, "version": plan.version},
        reason=reason,
    )
    return plan


@transaction.atomic
def plan_review(*, actor: Actor, plan_id: int, accept: bool, comment: str = "") -> ManagementPlan:
    """A regulator of the site's region accepts or returns a filed plan; returning needs a reason."""
    plan = _plan_for_update(plan_id)
    require_regulator_over(actor, plan.site.region.key, action="审核管理计划")
    if plan.status != ManagementPlan.Status.FILED:
        raise ApplicationError("只有已备案、待审核的管理计划可以审核", code="plan_not_filed", field="status")
    comment = (comment or "").strip()
    if not accept and not comment:
        raise ApplicationError("退回管理计划须填写审核意见", code="comment_required", field="comment")
    before = {"status": plan.status}
    plan.status = ManagementPlan.Status.ACCEPTED if accept else ManagementPlan.Status.RETURNED
    plan.reviewed_at = _now()
    plan.reviewer_id = actor.user_id
    plan.review_comment = comment[:500]
    plan.save(update_fields=["status", "reviewed_at", "reviewer", "review_comment", "updated_at"])
    event_record(
        subject=plan,
        actor=actor,
        kind="plan.accepted" if accept else "plan.returned",
        organisation=plan.site.enterprise,
        before=before,
        after={"status": plan.status},
        reason=comment,
    )
    return plan
