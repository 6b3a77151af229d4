"""The filing receipt (备案回执) of a management plan as a PDF (HJ 1259—2022 5.2.2).

The same content as the HTML receipt (``templates/plans/receipt.html``): the filing number, the
unit, the site, the year and version, the filing time (Asia/Shanghai) with the late flag, the
Annex A tables A.3–A.7 as filed, and a QR code of the receipt page, so a printed receipt can be
checked against the platform. fpdf2 with the Noto Sans SC fonts the labels use
(``labels.pdf_fonts_register``); A4 portrait, pages break automatically.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import WrapMode

from weifei.core.errors import ApplicationError
from weifei.registry.models import Facility

from . import rules
from .labels import pdf_fonts_register, qr_image
from .models import ManagementPlan, PlanLine

FACILITY_KINDS = dict(Facility.Kind.choices)
RECEIPT_STATES = (ManagementPlan.Status.FILED, ManagementPlan.Status.ACCEPTED)
PAGE_MARGIN = 15  # mm
QR_SIZE = 32  # mm
LEGAL_NOTE = "依据《危险废物管理计划和管理台账制定技术导则》（HJ 1259—2022）5.2.2，管理计划经系统备案即视为完成备案。"


def receipt_check(plan: ManagementPlan) -> None:
    """Only a filed or accepted plan has a receipt: a draft (also a change in progress after
    filing) or a returned plan is not what the filing number stands for now."""
    if plan.status not in RECEIPT_STATES or not plan.filing_number or plan.filed_at is None:
        raise ApplicationError(
            f"管理计划状态为“{plan.get_status_display()}”：只有已备案或审核通过的管理计划有备案回执",
            code="plan_not_filed",
            field="plan",
        )


def _line_detail(line: PlanLine) -> str:
    if line.section == "A6":
        return line.measures
    if line.section == "A7":
        parts = [
            line.get_transfer_type_display() if line.transfer_type else "",
            line.get_receiver_type_display() if line.receiver_type else "",
            line.receiver_name or (line.receiver.name if line.receiver_id and line.receiver else ""),
            line.licence_number,
        ]
        return " · ".join(p for p in parts if p)
    return ""


class _Receipt(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("noto", "", 8)
        self.cell(0, 5, f"{self.title_text}  第 {self.page_no()} 页", align="C")

    title_text = ""


def receipt_pdf(plan: ManagementPlan, *, receipt_url: str, printed_at: dt.datetime | None = None) -> bytes:
    """The receipt of a filed or accepted plan (``receipt_check``) as A4 PDF bytes."""
    receipt_check(plan)
    assert plan.filed_at is not None and plan.filing_number  # receipt_check
    site = plan.site
    enterprise = site.enterprise
    filed = timezone.localtime(plan.filed_at)
    printed = timezone.localtime(printed_at or timezone.now())
    pdf = _Receipt(unit="mm", format="A4")
    pdf.title_text = f"备案回执 {plan.filing_number}"
    pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf_fonts_register(pdf)
    pdf.set_title(f"危险废物管理计划备案回执 {plan.filing_number}")
    pdf.set_subject(plan.filing_number)
    pdf.set_keywords(receipt_url)
    pdf.set_author(enterprise.name)
    pdf.add_page()
    width = pdf.w - 2 * PAGE_MARGIN

    # The QR code of the receipt page, top right; the title and the facts to its left.
    pdf.image(qr_image(receipt_url), x=pdf.w - PAGE_MARGIN - QR_SIZE, y=PAGE_MARGIN, w=QR_SIZE, h=QR_SIZE)
    pdf.set_font("noto", "B", 16)
    pdf.cell(width - QR_SIZE - 2, 10, "危险废物管理计划备案回执", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    late = f"（逾期：晚于 {rules.filing_deadline(plan.year)} 截止日期）" if plan.late else ""
    facts = [
        ("备案编号", plan.filing_number),
        ("单位名称", enterprise.name),
        ("统一社会信用代码", enterprise.credit_code),
        ("生产经营场所", f"{site.name}（{site.address}）"),
        ("计划年度", str(plan.year)),
        ("版本", str(plan.version)),
        ("管理类别", rules.CLASS_NAMES.get(plan.management_class, plan.management_class)),
        ("备案时间（北京时间）", f"{filed:%Y-%m-%d %H:%M}{late}"),
        ("状态", plan.get_status_display()),
    ]
    key_w = 42
    for i, (name, value) in enumerate(facts):
        value_w = (width - QR_SIZE - 2 if i < 5 else width) - key_w
        pdf.set_font("noto", "B", 10)
        y = pdf.get_y()
        pdf.cell(key_w, 6.5, name)
        pdf.set_font("noto", "", 10)
        pdf.set_xy(PAGE_MARGIN + key_w, y)
        pdf.multi_cell(value_w, 6.5, value, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    pdf.ln(2)
    pdf.set_font("noto", "", 9)
    pdf.multi_cell(width, 5, LEGAL_NOTE, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)

    lines = list(plan.lines.select_related("receiver").order_by("section", "id"))
    if plan.management_class == "key":
        facilities = (plan.content.get("A2") or {}).get("facilities", [])
        pdf.ln(3)
        pdf.set_font("noto", "B", 12)
        pdf.cell(width, 8, rules.SECTION_NAMES["A2"], new_x="LMARGIN", new_y="NEXT")
        rows = [
            [
                str(f.get("code", "")),
                str(FACILITY_KINDS.get(str(f.get("kind", "")), f.get("kind", ""))),
                str(f.get("name", "")),
                str(f.get("design_capacity_tonnes") or "—"),
                str(f.get("storage_capacity_tonnes") or "—"),
            ]
            for f in facilities
        ]
        _table(pdf, ["设施编码", "类型", "名称", "设计能力（吨/年）", "贮存能力（吨）"], (46, 20, 54, 30, 30), rows)
    for section in rules.sections_for(plan.management_class):
        if section not in rules.LINE_SECTIONS:
            continue
        pdf.ln(3)
        pdf.set_font("noto", "B", 12)
        pdf.cell(width, 8, rules.SECTION_NAMES[section], new_x="LMARGIN", new_y="NEXT")
        rows = [
            [
                line.waste_code,
                line.waste_name or "—",
                f"{line.tonnes}",
                " ".join(x for x in (line.facility_code, line.method_code) if x) or "—",
                _line_detail(line) or "—",
            ]
            for line in lines
            if line.section == section
        ]
        _table(pdf, ["废物代码", "名称", "数量（吨）", "设施/方式", "说明"], (24, 62, 20, 32, 42), rows)
    pdf.ln(4)
    pdf.set_font("noto", "", 9)
    pdf.multi_cell(
        width,
        5,
        f"打印时间：{printed:%Y-%m-%d %H:%M}（北京时间）　核验：{receipt_url}",
        new_x="LMARGIN",
        new_y="NEXT",
        wrapmode=WrapMode.CHAR,
    )
    return bytes(pdf.output())


def _table(pdf: FPDF, head: list[str], widths: tuple[int, ...], rows: list[list[str]]) -> None:
    pdf.set_font("noto", "", 9)
    if not rows:
        pdf.cell(0, 6, "无", new_x="LMARGIN", new_y="NEXT")
        return
    with pdf.table(
        col_widths=widths,
        width=sum(widths),
        align="LEFT",
        line_height=5.5,
        wrapmode=WrapMode.CHAR,
        first_row_as_headings=True,
    ) as table:
        for row in [head, *rows]:
            cells = table.row()
            for value in row:
                cells.cell(value)
