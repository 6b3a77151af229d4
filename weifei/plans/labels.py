"""HJ 1276—2022 hazardous-waste labels: the 数字识别码, the label size and the label PDF.

Pure functions, no models: containers and the ledger link come later (docs/labels.md).

Sources: regulations.md §5 and §13 rules 17–18; manifest-form.md §5. The code has 4
segments and 37 characters (CONFIRMED, secondary source shwanyun.com); the segment
lengths are UNCONFIRMED and live in ``LABEL_CODE_SEGMENTS`` only.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import segno
from django.conf import settings
from django.utils import timezone
from fpdf import FPDF
from PIL import Image

from weifei.catalog.models import HAZARD_CHARACTERISTICS
from weifei.catalog.validation import validate_waste_code
from weifei.core.errors import ApplicationError
from weifei.core.identifiers import validate_credit_code

# UNCONFIRMED segment lengths (HJ 1276—2022 附录A not obtained; regulations.md §5,
# manifest-form.md §5). 18 (统一社会信用代码) + 8 (废物代码 without hyphens) + 8 (YYYYMMDD)
# + 3 (顺序号) is the only split using the natural size of every part that sums to the
# confirmed 37. Changing a length here changes build, parse and validation together.
LABEL_CODE_SEGMENTS: tuple[tuple[str, str, int], ...] = (
    ("unit", "产生/收集单位编码", 18),
    ("waste_code", "危险废物代码", 8),
    ("date", "产生/收集日期码", 8),
    ("seq", "废物顺序编码", 3),
)
LABEL_CODE_LENGTH = sum(length for _, _, length in LABEL_CODE_SEGMENTS)
SEQ_LENGTH = LABEL_CODE_SEGMENTS[3][2]
SEQ_MAX = 10**SEQ_LENGTH - 1

HAZARD_ORDER = ("T", "C", "I", "R", "In")


def _segment_error(index: int, message: str, *, code: str, field: str) -> ApplicationError:
    _, name, length = LABEL_CODE_SEGMENTS[index]
    return ApplicationError(f"数字识别码第 {index + 1} 段（{name}，{length} 位）：{message}", code=code, field=field)


@dataclass(frozen=True)
class LabelCode:
    credit_code: str
    waste_code: str  # NNN-NNN-NN
    date: dt.date
    seq: int

    @property
    def code(self) -> str:
        return _assemble(self.credit_code, self.waste_code, self.date, self.seq)


def _assemble(credit_code: str, waste_code: str, on: dt.date, seq: int) -> str:
    return f"{credit_code}{waste_code.replace('-', '')}{on:%Y%m%d}{seq:0{SEQ_LENGTH}d}"


def _check_unit(credit_code: str, *, field: str) -> str:
    try:
        return validate_credit_code(credit_code, field=field)
    except ApplicationError as exc:
        raise _segment_error(0, exc.message, code=exc.code, field=field) from None


def _check_date(on: dt.date, *, today: dt.date | None, field: str) -> dt.date:
    today = today or timezone.localdate()
    if on > today:
        raise _segment_error(2, f"产生/收集日期 {on} 晚于今天 {today}", code="label_date_future", field=field)
    return on


def _check_waste_code(waste_code: str, *, on: dt.date, field: str) -> str:
    try:
        return validate_waste_code(waste_code, on=on, field=field).code
    except ApplicationError as exc:
        raise _segment_error(1, exc.message, code=exc.code, field=field) from None


def _check_seq(seq: int, *, field: str) -> int:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= SEQ_MAX:
        raise _segment_error(3, f"顺序号应为 1–{SEQ_MAX} 的整数，当前为 {seq!r}", code="label_seq_range", field=field)
    return seq


def label_code_build(*, credit_code: str, waste_code: str, on: dt.date, seq: int, today: dt.date | None = None) -> str:
    """Return the 37-character 数字识别码; raise ``ApplicationError`` naming the segment."""
    unit = _check_unit(credit_code, field="credit_code")
    _check_date(on, today=today, field="on")
    code = _check_waste_code(waste_code, on=on, field="waste_code")
    _check_seq(seq, field="seq")
    return _assemble(unit, code, on, seq)


def label_code_parse(code: str, *, today: dt.date | None = None, field: str = "label_code") -> LabelCode:
    """Split and validate a 数字识别码 (every segment, same rules as ``label_code_build``)."""
    value = unicodedata.normalize("NFKC", code or "").strip().upper()
    if len(value) != LABEL_CODE_LENGTH:
        raise ApplicationError(
            f"数字识别码应为 {LABEL_CODE_LENGTH} 位，当前为 {len(value)} 位", code="label_code_length", field=field
        )
    parts: list[str] = []
    start = 0
    for _, _, length in LABEL_CODE_SEGMENTS:
        parts.append(value[start : start + length])
        start += length
    unit_part, waste_part, date_part, seq_part = parts
    unit = _check_unit(unit_part, field=field)
    if not date_part.isdigit():
        raise _segment_error(2, f"{date_part!r} 应为 8 位数字 YYYYMMDD", code="label_date_format", field=field)
    try:
        on = dt.date(int(date_part[:4]), int(date_part[4:6]), int(date_part[6:]))
    except ValueError:
        raise _segment_error(2, f"{date_part} 不是有效日期", code="label_date_invalid", field=field) from None
    _check_date(on, today=today, field=field)
    if not (waste_part.isdigit() and waste_part.isascii()):
        raise _segment_error(1, f"{waste_part!r} 应为 8 位数字", code="waste_code_format", field=field)
    waste_code = _check_waste_code(f"{waste_part[:3]}-{waste_part[3:6]}-{waste_part[6:]}", on=on, field=field)
    if not (seq_part.isdigit() and seq_part.isascii()):
        raise _segment_error(3, f"{seq_part!r} 应为 {SEQ_LENGTH} 位数字", code="label_seq_format", field=field)
    seq = _check_seq(int(seq_part), field=field)
    return LabelCode(unit, waste_code, on, seq)


class LabelSize(NamedTuple):
    width: int  # mm
    height: int  # mm
    sides: int  # labels per container (2 = two opposite sides)


def label_size_mm(container_litres: Decimal) -> LabelSize:
    """Minimum label size for a container (regulations.md §5, §13 rule 18).

    The source table says "≤ 450 L: 150 × 150" and "≥ 450 L: 200 × 200"; the two overlap
    at exactly 450 L. We read 450 L as 150 × 150 on one side, because "over 450 L needs
    labels on two opposite sides" uses "over" too; so only > 450 L gets 200 × 200 × 2.
    """
    litres = Decimal(container_litres)
    if not litres.is_finite() or litres <= 0:
        raise ApplicationError(
            f"容器容积应为正数（升），当前为 {container_litres}", code="container_volume", field="container_litres"
        )
    if litres <= 50:
        return LabelSize(100, 100, 1)
    if litres <= 450:
        return LabelSize(150, 150, 1)
    return LabelSize(200, 200, 2)


# Minimum text height per label width (mm), regulations.md §5 table.
MIN_TEXT_HEIGHT_MM = {100: 3.0, 150: 5.0, 200: 6.0}


@dataclass(frozen=True)
class LabelData:
    code: str  # 数字识别码
    waste_name: str  # catalogue description (名录 危险废物)
    common_name: str  # the unit's own name for the waste
    category: str  # HW08
    category_name: str  # 废矿物油与含矿物油废物
    waste_code: str  # NNN-NNN-NN
    form: str  # 废物形态: 固态 / 半固态 / 液态 / 气态
    hazards: tuple[str, ...]  # subset of T, C, I, R, In
    main_components: str
    harmful_components: str
    precautions: str
    unit_name: str  # 产生/收集单位
    contact_person: str
    contact_phone: str
    produced_on: dt.date
    weight: Decimal
    weight_unit: str  # "kg" or "t"
    base_url: str
    width_mm: int = 100
    height_mm: int = 100
    remarks: str = ""

    @property
    def verification_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/labels/{self.code}/"

    @property
    def hazard_text(self) -> str:
        ordered = [h for h in HAZARD_ORDER if h in self.hazards]
        return "、".join(f"{h} {HAZARD_CHARACTERISTICS[h]}" for h in ordered)


def label_data_build(
    *,
    code: str,
    base_url: str,
    container_litres: Decimal,
    common_name: str,
    form: str,
    main_components: str,
    harmful_components: str,
    precautions: str,
    unit_name: str,
    contact_person: str,
    contact_phone: str,
    weight: Decimal,
    weight_unit: str = "kg",
    remarks: str = "",
    hazards: tuple[str, ...] | None = None,
    today: dt.date | None = None,
) -> LabelData:
    """Label data from a 数字识别码: waste code, date, name and hazards come from the catalogue."""
    parsed = label_code_parse(code, today=today)
    valid = validate_waste_code(parsed.waste_code, on=parsed.date)
    entry = valid.waste_code
    if hazards is None:
        if entry is None:  # 900-000-xx: found hazardous by identification; the report gives the hazards
            raise ApplicationError(
                f"经鉴别的危险废物 {valid.code} 须给出危险特性（鉴别报告）", code="hazards_required", field="hazards"
            )
        hazards = tuple(entry.hazards)
    unknown = [h for h in hazards if h not in HAZARD_CHARACTERISTICS]
    if unknown:
        raise ApplicationError(
            f"危险特性 {'、'.join(unknown)} 无效：只能是 T、C、I、R、In", code="hazards_invalid", field="hazards"
        )
    if weight_unit not in ("kg", "t"):
        raise ApplicationError(
            f"废物重量单位应为 kg 或 t，当前为 {weight_unit!r}", code="weight_unit", field="weight_unit"
        )
    size = label_size_mm(container_litres)
    return LabelData(
        code=parsed.code,
        waste_name=entry.description if entry else common_name,
        common_name=common_name,
        category=valid.category,
        category_name=entry.category.name if entry else "",
        waste_code=valid.code,
        form=form,
        hazards=tuple(hazards),
        main_components=main_components,
        harmful_components=harmful_components,
        precautions=precautions,
        unit_name=unit_name,
        contact_person=contact_person,
        contact_phone=contact_phone,
        produced_on=parsed.date,
        weight=weight,
        weight_unit=weight_unit,
        base_url=base_url,
        width_mm=size.width,
        height_mm=size.height,
        remarks=remarks,
    )


# --- PDF -------------------------------------------------------------------------------

FONT_REGULAR = "NotoSansSC_400Regular.ttf"
FONT_BOLD = "NotoSansSC_700Bold.ttf"
PT_PER_MM = 72 / 25.4
ELLIPSIS = "…"
QR_BORDER = 4  # quiet-zone modules, part of the embedded image


def qr_image(url: str) -> Image.Image:
    """The QR code of ``url`` as an 8-bit grey image, 1 pixel per module, quiet zone included.

    8-bit grey (not 1-bit) so fpdf2 stores it Flate-compressed rather than CCITT, which keeps
    the embedded matrix checkable; the image is scaled in the PDF, so its size on paper is the
    same.
    """
    qr = segno.make(url, error="m", micro=False)
    rows = [bytes(0 if dark else 255 for dark in row) for row in qr.matrix_iter(scale=1, border=QR_BORDER)]
    return Image.frombytes("L", (len(rows[0]), len(rows)), b"".join(rows))


class _Layout:
    def __init__(self, pdf: FPDF, label: LabelData, fs: float) -> None:
        self.pdf = pdf
        self.label = label
        self.fs = fs  # body font size, pt
        self.lh = fs / PT_PER_MM * 1.25  # line height, mm
        self.inset = 3 + 1 + 1.5  # 3 mm blank margin, 1 mm border, padding

    def _wrap(self, text: str, first_width: float, width: float, max_lines: int) -> list[str]:
        pdf = self.pdf
        lines: list[str] = []
        current = ""
        avail = first_width
        for ch in " ".join(text.split()):
            if pdf.get_string_width(current + ch) <= avail or not current:
                current += ch
                continue
            lines.append(current)
            current = "" if ch == " " else ch
            avail = width
        lines.append(current)
        if len(lines) > max_lines:
            last = lines[max_lines - 1]
            limit = first_width if max_lines == 1 else width
            while last and pdf.get_string_width(last + ELLIPSIS) > limit:
                last = last[:-1]
            lines = [*lines[: max_lines - 1], last + ELLIPSIS]
        return lines

    def field(self, x: float, y: float, w: float, name: str, value: str, max_lines: int, draw: bool) -> float:
        pdf = self.pdf
        value = value or "—"
        pdf.set_font("noto", "B", self.fs)
        label = f"{name}："
        lw = pdf.get_string_width(label)
        if draw:
            pdf.text(x, y + self.lh * 0.8, label)
        pdf.set_font("noto", "", self.fs)
        lines = self._wrap(value, w - lw, w - lw, max_lines)
        for i, line in enumerate(lines):
            if draw:
                pdf.text(x + lw, y + self.lh * (i + 0.8), line)
        return y + self.lh * len(lines)

    def run(self, draw: bool) -> float:
        pdf, label = self.pdf, self.label
        w, h = label.width_mm, label.height_mm
        left, top = self.inset, self.inset
        cw = w - 2 * self.inset
        y = top
        title_fs = self.fs * 2
        if draw:
            pdf.set_font("noto", "B", title_fs)
            pdf.set_xy(left, y)
            pdf.cell(cw, title_fs / PT_PER_MM * 1.2, "危险废物", align="C")
        y += title_fs / PT_PER_MM * 1.3
        name = label.waste_name
        if label.common_name and label.common_name != label.waste_name:
            name = f"{label.common_name}（{label.waste_name}）"
        half = cw / 2
        y = self.field(left, y, cw, "废物名称", name, 2, draw)
        category = f"{label.category} {label.category_name}".strip()
        y = self.field(left, y, cw, "废物类别", category, 1, draw)
        y1 = self.field(left, y, half, "废物代码", label.waste_code, 1, draw)
        y = max(y1, self.field(left + half, y, half, "废物形态", label.form, 1, draw))
        y = self.field(left, y, cw, "危险特性", label.hazard_text, 1, draw)
        y = self.field(left, y, cw, "主要成分", label.main_components, 2, draw)
        y = self.field(left, y, cw, "有害成分", label.harmful_components, 1, draw)
        y = self.field(left, y, cw, "注意事项", label.precautions, 2, draw)
        # Lower block: fields on the left, the QR code on the right.
        qr_size = min(cw * 0.34, h - self.inset - y)
        lw = cw - qr_size - 1.5
        block_top = y
        y = self.field(left, y, lw, "产生/收集单位", label.unit_name, 2, draw)
        y = self.field(left, y, lw, "联系人", label.contact_person, 1, draw)
        y = self.field(left, y, lw, "联系方式", label.contact_phone, 1, draw)
        y = self.field(left, y, lw, "产生日期", f"{label.produced_on:%Y-%m-%d}", 1, draw)
        weight = f"{label.weight.normalize():f} {label.weight_unit}"
        y = self.field(left, y, lw, "废物重量", weight, 1, draw)
        y = self.field(left, y, lw, "备注", label.remarks, 1, draw)
        # Under the QR code, across the full width: the name, then the code on its own line.
        y = max(y, block_top + qr_size + 0.5)
        pdf.set_font("noto", "B", self.fs)
        if draw:
            pdf.text(left, y + self.lh * 0.8, "数字识别码：")
        y += self.lh
        code_fs = self.fs
        pdf.set_font("noto", "", code_fs)
        while pdf.get_string_width(label.code) > cw and code_fs > 4:
            code_fs -= 0.25
            pdf.set_font("noto", "", code_fs)
        if draw:
            pdf.text(left, y + self.lh * 0.8, label.code)
        y += self.lh
        if draw:
            pdf.image(qr_image(label.verification_url), x=left + cw - qr_size, y=block_top, w=qr_size, h=qr_size)
        return y


def _document(first: LabelData) -> FPDF:
    pdf = FPDF(unit="mm", format=(first.width_mm, first.height_mm))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    font_dir = settings.PDF_FONT_DIR
    # fpdf2 embeds only the glyphs used (subset TrueType, /FontFile2).
    pdf.add_font("noto", "", str(font_dir / FONT_REGULAR))
    pdf.add_font("noto", "B", str(font_dir / FONT_BOLD))
    pdf.set_creator("weifei")
    pdf.set_producer("weifei")
    pdf.set_lang("zh-CN")
    return pdf


def _page(pdf: FPDF, label: LabelData) -> None:
    w, h = label.width_mm, label.height_mm
    pdf.add_page(format=(w, h))
    fs = MIN_TEXT_HEIGHT_MM.get(w, w * 0.03) * PT_PER_MM
    bottom = h - 3 - 1 - 1.5
    # Font size = the minimum text height; shrink only if the fields still overflow after truncation.
    while _Layout(pdf, label, fs).run(draw=False) > bottom and fs > 5:
        fs -= 0.25
    pdf.set_line_width(1)
    pdf.rect(3.5, 3.5, w - 7, h - 7)  # 1 mm border centred 3.5 mm in: 3 mm blank margin outside
    _Layout(pdf, label, fs).run(draw=True)


def label_pdf(label: LabelData) -> bytes:
    """One page of the label's size: the HJ 1276 fields and the QR code of the verification URL.

    Metadata: subject = the 数字识别码, keywords = the QR payload (the verification URL).
    """
    pdf = _document(label)
    pdf.set_title(f"危险废物标签 {label.code}")
    pdf.set_subject(label.code)
    pdf.set_keywords(label.verification_url)
    pdf.set_author(label.unit_name)
    _page(pdf, label)
    return bytes(pdf.output())


def labels_pdf(labels: Sequence[LabelData]) -> bytes:
    """Several labels, one page each (each page its own size); the fonts are loaded once.

    Loading the two 10 MB TrueType files costs about 0.35 s per document, so batches should
    use this rather than one ``label_pdf`` per container.
    """
    if not labels:
        raise ApplicationError("没有要打印的标签", code="labels_empty", field="labels")
    pdf = _document(labels[0])
    pdf.set_title(f"危险废物标签（{len(labels)} 张）")
    pdf.set_subject(" ".join(label.code for label in labels))
    pdf.set_keywords(" ".join(label.verification_url for label in labels))
    for label in labels:
        _page(pdf, label)
    return bytes(pdf.output())
