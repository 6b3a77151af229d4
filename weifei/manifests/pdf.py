"""The manifest as a printable A4 PDF (危险废物转移联单): every field, the signatures and a QR code.

The QR payload is the road-control link's URL when the PDF is generated for one (traffic police
scan it and open the same PDF without an account), otherwise the manifest page's URL. Fonts and
the QR image come from ``weifei.plans.labels`` (Noto Sans SC, embedded as a subset).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone
from fpdf import FPDF
from fpdf.fonts import FontFace

from weifei.catalog.models import DisposalMethod
from weifei.plans.labels import pdf_fonts_register, qr_image

from .lifecycle import Event, Role
from .models import Manifest, State

QR_MM = 32
DISCREPANCY_NAMES = {
    "name": "名称",
    "quantity": "数量",
    "characteristics": "特性",
    "form": "形态",
    "packaging": "包装",
}


def _local(value: object) -> str:
    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")  # type: ignore[arg-type]


def _method_name(code: str) -> str:
    if not code:
        return "—"
    method = DisposalMethod.objects.filter(code=code).first()
    return f"{code} {method.name}" if method else code


class _Doc:
    def __init__(self, manifest: Manifest, qr_url: str) -> None:
        self.m = manifest
        self.qr_url = qr_url
        pdf = FPDF(unit="mm", format="A4")
        pdf.set_margins(12, 12, 12)
        pdf.set_auto_page_break(True, margin=14)
        pdf_fonts_register(pdf)
        pdf.set_title(f"危险废物转移联单 {manifest.number}")
        pdf.set_subject(manifest.number)
        pdf.set_keywords(qr_url)
        pdf.set_author(manifest.consignor.name)
        self.pdf = pdf

    def heading(self, text: str) -> None:
        pdf = self.pdf
        pdf.ln(2)
        pdf.set_font("noto", "B", 10.5)
        pdf.set_fill_color(230, 242, 238)
        pdf.cell(0, 6.5, text, fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("noto", "", 9)

    def facts(self, rows: Sequence[tuple[str, str]], width: float | None = None) -> None:
        pdf = self.pdf
        total = width or pdf.epw
        pdf.set_font("noto", "", 9)
        for label, value in rows:
            x = pdf.l_margin
            pdf.set_x(x)
            pdf.set_font("noto", "B", 9)
            pdf.cell(34, 5.5, label)
            pdf.set_font("noto", "", 9)
            pdf.multi_cell(total - 34, 5.5, value or "—", new_x="LMARGIN", new_y="NEXT")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        pdf = self.pdf
        pdf.set_font("noto", "", 8.5)
        with pdf.table(
            col_widths=tuple(widths),
            headings_style=FontFace(emphasis="BOLD", fill_color=(240, 240, 240)),
            line_height=5,
            text_align="LEFT",
            width=pdf.epw,
        ) as table:
            head = table.row()
            for h in header:
                head.cell(h)
            for values in rows:
                row = table.row()
                for v in values:
                    row.cell(v or "—")

    def build(self) -> bytes:
        m, pdf = self.m, self.pdf
        pdf.add_page()
        top = pdf.get_y()
        pdf.set_font("noto", "B", 16)
        pdf.cell(pdf.epw - QR_MM - 4, 9, "危险废物转移联单", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("noto", "", 9)
        self.facts(
            [
                ("联单编号", m.number),
                ("状态", State(m.state).label),
                ("转移类型", m.get_transfer_type_display()),
                ("版本", str(m.version)),
                ("跨省转移批准文号", m.approval_reference),
                ("托运人", m.get_shipper_display()),
                ("打印时间", _local(timezone.now())),
            ],
            width=pdf.epw - QR_MM - 4,
        )
        facts_end = pdf.get_y()
        pdf.image(qr_image(self.qr_url), x=pdf.l_margin + pdf.epw - QR_MM, y=top, w=QR_MM, h=QR_MM)
        pdf.set_font("noto", "", 6.5)
        pdf.set_xy(pdf.l_margin + pdf.epw - QR_MM - 6, top + QR_MM)
        pdf.cell(QR_MM + 6, 4, "扫码查验本联单", align="C")
        pdf.set_y(max(facts_end, top + QR_MM + 6))

        site = m.consignor_site
        self.heading("移出人")
        self.facts(
            [
                ("单位名称", m.consignor.name),
                ("统一社会信用代码", m.consignor.credit_code),
                ("移出场所", f"{site.name}（{site.address}）"),
                ("所在地", site.region.name),
                ("联系人/电话", " ".join(x for x in (m.consignor.contact_name, m.consignor.contact_phone) if x)),
            ]
        )
        self.heading("接受人")
        receiver_rows = [
            ("单位名称", m.receiver.name),
            ("统一社会信用代码", m.receiver.credit_code),
            ("经营许可证编号", m.receiver_licence_number),
            ("接收场所", f"{m.receiver_site.name}（{m.receiver_site.address}）" if m.receiver_site else ""),
            ("拟利用/处置方式", _method_name(m.planned_method_code)),
        ]
        if m.original_receiver_id and m.original_receiver_id != m.receiver_id and m.original_receiver:
            receiver_rows.append(("原接受人", f"{m.original_receiver.name}（{m.original_receiver.credit_code}）"))
        self.facts(receiver_rows)

        lines = list(m.lines.all())
        self.heading("危险废物")
        self.table(
            [
                "废物代码",
                "废物名称",
                "类别",
                "危险特性",
                "形态/包装",
                "容器数",
                "危险货物类别/UN",
                "移出量（吨）",
                "接受量（吨）",
            ],
            [
                [
                    line.waste_code,
                    line.waste_name + (f"（{line.common_name}）" if line.common_name else ""),
                    line.category,
                    line.hazards,
                    " / ".join(x for x in (line.form, line.packaging) if x),
                    str(line.container_count),
                    " / ".join(x for x in (line.dg_class, line.un_number and f"UN{line.un_number}") if x),
                    f"{line.declared_tonnes.normalize():f}",
                    f"{line.received_tonnes.normalize():f}" if line.received_tonnes is not None else "",
                ]
                for line in lines
            ],
            (20, 44, 12, 16, 20, 12, 20, 18, 18),
        )
        containers = list(m.containers.all())
        if containers:
            self.heading(f"容器（{len(containers)} 个）")
            self.table(
                ["数字识别码", "废物代码", "重量（吨）", "装载扫码时间"],
                [
                    [
                        c.label_code,
                        next((x.waste_code for x in lines if x.id == c.line_id), ""),
                        f"{c.tonnes.normalize():f}",
                        _local(c.scanned_at),
                    ]
                    for c in containers
                ],
                (80, 30, 30, 40),
            )
        self.heading("运输")
        self.table(
            ["段", "承运人（统一社会信用代码）", "车辆", "驾驶员", "起点 → 终点", "接收时间", "交接时间/地点"],
            [
                [
                    str(leg.order),
                    f"{leg.carrier.name}（{leg.carrier.credit_code}）",
                    leg.vehicle.plate if leg.vehicle else "",
                    leg.driver.name if leg.driver else "",
                    f"{leg.start_point or '—'} → {leg.end_point or '—'}",
                    _local(leg.picked_up_at) if leg.picked_up_at else "",
                    f"{_local(leg.handover_at)} {leg.handover_place}" if leg.handover_at else "",
                ]
                for leg in m.legs.select_related("carrier", "vehicle", "driver")
            ],
            (8, 48, 18, 16, 40, 24, 32),
        )
        self.heading("突发环境事件防范措施")
        pdf.multi_cell(0, 5, m.emergency_measures or "—", new_x="LMARGIN", new_y="NEXT")

        self.heading("接受与利用处置")
        discrepancy = m.discrepancy or {}
        kinds = "、".join(DISCREPANCY_NAMES.get(k, k) for k in discrepancy.get("kinds") or [])
        self.facts(
            [
                ("接受意见", m.get_acceptance_display() if m.acceptance else ""),
                ("接受日期", m.accepted_on.isoformat() if m.accepted_on else ""),
                ("差异", f"{kinds}：{discrepancy.get('description', '')}" if discrepancy else ""),
                ("拒收量（吨）", f"{m.refused_tonnes.normalize():f}" if m.refused_tonnes is not None else ""),
                ("拒收原因", m.refusal_reason),
                ("利用/处置方式", _method_name(m.treatment_method) if m.treatment_method else ""),
                ("利用/处置结果", m.treatment_result),
            ]
        )
        if m.warnings:
            self.heading("提示")
            for w in m.warnings:
                pdf.multi_cell(0, 5, f"· {w.get('message', w) if isinstance(w, dict) else w}",
                               new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        self.heading("签署记录")
        self.table(
            ["事项", "身份", "签署人/单位", "时间", "方式", "内容摘要（SHA-256）"],
            [
                [
                    Event.NAMES.get(s.event, s.event) + (f"（{s.reason}）" if s.reason else ""),
                    Role.NAMES.get(s.role, s.role),
                    " ".join(
                        x
                        for x in (
                            (s.user.get_full_name() or s.user.username) if s.user else "",
                            s.organisation.name if s.organisation else "",
                        )
                        if x
                    ),
                    _local(s.signed_at),
                    s.method,
                    s.content_hash[:32] + "\n" + s.content_hash[32:],
                ]
                for s in m.signatures.select_related("user", "organisation")
            ],
            (22, 16, 44, 26, 14, 64),
        )
        pdf.ln(3)
        pdf.set_font("noto", "", 7.5)
        pdf.multi_cell(
            0, 4, f"本联单依据《危险废物转移管理办法》运行电子联单；查验地址：{self.qr_url}",
            new_x="LMARGIN", new_y="NEXT",
        )  # fmt: skip
        return bytes(pdf.output())


def manifest_pdf(manifest: Manifest, *, qr_url: str) -> bytes:
    """The A4 PDF of ``manifest`` with a QR code of ``qr_url`` (road-control link or manifest page)."""
    return _Doc(manifest, qr_url).build()
