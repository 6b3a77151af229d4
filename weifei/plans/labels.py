"""HJ 1276—2022 hazardous-waste labels: the 数字识别码, the label size and the label PDF.

The code, size and PDF parts are pure functions. The last part links labels to the ledger: the
label of a labelled 产生 record, a container's state and history (the verification page), the
records to print in a batch (docs/labels.md).

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
from django.db.models import QuerySet
from django.utils import timezone
from fpdf import FPDF
from PIL import Image

from weifei.catalog.models import HAZARD_CHARACTERISTICS
from weifei.catalog.validation import validate_waste_code
from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError, NotFound
from weifei.core.identifiers import validate_credit_code
from weifei.core.models import Event

from .models import LedgerEntry

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


def pdf_fonts_register(pdf: FPDF) -> None:
    """Noto Sans SC Regular/Bold as family ``noto`` (``settings.PDF_FONT_DIR``), and the
    document-wide metadata every weifei PDF carries (creator, producer, ``/Lang zh-CN``).

    fpdf2 embeds only the glyphs used (subset TrueType, /FontFile2). Other printed documents
    (the plan receipt) call this too, so the fonts come from one place."""
    font_dir = settings.PDF_FONT_DIR
    pdf.add_font("noto", "", str(font_dir / FONT_REGULAR))
    pdf.add_font("noto", "B", str(font_dir / FONT_BOLD))
    pdf.set_creator("weifei")
    pdf.set_producer("weifei")
    pdf.set_lang("zh-CN")


def _document(first: LabelData) -> FPDF:
    pdf = FPDF(unit="mm", format=(first.width_mm, first.height_mm))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf_fonts_register(pdf)
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


# --- containers: the label of a ledger 产生 record ---------------------------------------------
#
# A labelled container is a 产生 record (HJ 1259 6.2: one record per container) whose
# ``container_code`` is the label code; 入库/出库/自行/委外 records taken from it carry the same
# code, and a reversal carries the code of the record it cancels. Reads below take the actor.

# The label size when the ledger does not know the volume: a volume in the 150 × 150 row.
UNKNOWN_VOLUME_LITRES = Decimal(200)
MAX_PRINT_LABELS = 500  # one batch PDF; about 16 ms a page


def label_weight(entry: LedgerEntry) -> tuple[Decimal, str]:
    """The 废物重量 printed: the figure as entered when it was a weight (kg or t), else the tonnes."""
    if entry.entered_unit in ("kg", "t"):
        return abs(Decimal(entry.entered_quantity)).normalize(), str(entry.entered_unit)
    return abs(Decimal(entry.quantity_tonnes)).normalize(), "t"


def label_size_for(entry: LedgerEntry) -> LabelSize:
    return label_size_mm(entry.container_litres or UNKNOWN_VOLUME_LITRES)


def label_data_from_entry(entry: LedgerEntry, *, base_url: str) -> LabelData:
    """The label of a labelled 产生 record: the code, the catalogue's name and hazards for the
    code's date, the unit (name, contact) of the record's site, the common name, the weight as
    entered and the size from the container volume (150 × 150 mm when unknown).

    The ledger does not hold 废物形态, 主要成分, 有害成分 or 注意事项; they print as "—". For a
    waste found hazardous by identification (900-000-xx) the hazards come from the report, which
    the ledger does not hold either: the label says so in 备注."""
    if entry.kind != LedgerEntry.Kind.GENERATED or not entry.container_code:
        raise ApplicationError(
            f"台账记录 {entry.batch_code} 不是贴标签的产生记录", code="entry_not_labelled", field="entry_ids"
        )
    enterprise = entry.site.enterprise
    identified = entry.waste_code.startswith("900-000-")
    weight, unit = label_weight(entry)
    return label_data_build(
        code=entry.container_code,
        base_url=base_url,
        container_litres=entry.container_litres or UNKNOWN_VOLUME_LITRES,
        common_name=entry.common_name or ("经鉴别的危险废物" if identified else ""),
        form="",
        main_components="",
        harmful_components="",
        precautions="",
        unit_name=enterprise.name,
        contact_person=enterprise.contact_name,
        contact_phone=enterprise.contact_phone,
        weight=weight,
        weight_unit=unit,
        remarks="危险特性见鉴别报告" if identified else "",
        hazards=() if identified else None,
    )


def label_pages(entries: Sequence[LedgerEntry], *, base_url: str) -> list[LabelData]:
    """The pages to print for these 产生 records: one label each, two for containers over 450 L
    (labels on two opposite sides, regulations §5)."""
    pages: list[LabelData] = []
    for entry in entries:
        data = label_data_from_entry(entry, base_url=base_url)
        pages += [data] * label_size_for(entry).sides
    return pages


@dataclass(frozen=True)
class ContainerState:
    key: str  # generated / stored / stored_out / self_treated / sent_out / reversed
    name: str
    tonnes: Decimal
    detail: str = ""

    @property
    def tonnes_text(self) -> str:
        return f"{self.tonnes.normalize():f}"


STATE_NAMES = {
    "generated": "在产生点",
    "stored": "在库",
    "stored_out": "已出库",
    "self_treated": "已自行利用处置",
    "sent_out": "已委外",
    "reversed": "已冲销",
}


@dataclass
class Container:
    """What a label code stands for: the label (public), the container's state (public) and,
    for those who see the site, its whole ledger history."""

    label: LabelCode
    generated: LedgerEntry  # the live 产生 record, or the last reversed one
    chain: list[LedgerEntry]  # the records of this container (from ``generated``), oldest first
    entries: list[LedgerEntry]  # every record carrying the code at the site (reused codes too)
    states: list[ContainerState]
    reversed: bool
    warnings: list[str]
    can_see_site: bool
    waste_name: str = ""
    category_name: str = ""
    hazards: tuple[str, ...] = ()

    @property
    def hazard_text(self) -> str:
        ordered = [h for h in HAZARD_ORDER if h in self.hazards]
        return "、".join(f"{h} {HAZARD_CHARACTERISTICS[h]}" for h in ordered)

    @property
    def weight(self) -> tuple[Decimal, str]:
        return label_weight(self.generated)

    @property
    def segments(self) -> list[tuple[str, str]]:
        """The code split into its HJ 1276 segments: (segment name, characters)."""
        out, start = [], 0
        code = self.label.code
        for _, name, length in LABEL_CODE_SEGMENTS:
            out.append((name, code[start : start + length]))
            start += length
        return out


def container_states(chain: Sequence[LedgerEntry], generated: LedgerEntry) -> list[ContainerState]:
    """Where the container's waste is now, from its records (pure): what each live record still
    holds (its net quantity minus what later records took), grouped by stage and place.

    Reversals are records too: a reversing record has the negative quantity and the same source,
    so sums over ``source`` give back what a reversed record had taken."""
    reversed_ids = {e.reversal_of_id for e in chain if e.reversal_of_id is not None}
    if generated.id in reversed_ids:
        return [ContainerState("reversed", STATE_NAMES["reversed"], abs(generated.quantity_tonnes))]
    own: dict[int, Decimal] = {}
    taken: dict[int, Decimal] = {}
    for e in chain:
        if e.reversal_of_id is not None:
            own[e.reversal_of_id] = own.get(e.reversal_of_id, Decimal(0)) + e.quantity_tonnes
        if e.source_id is not None:
            taken[e.source_id] = taken.get(e.source_id, Decimal(0)) + e.quantity_tonnes
    grouped: dict[tuple[str, str], Decimal] = {}
    kinds = LedgerEntry.Kind
    for e in chain:
        if e.reversal_of_id is not None or e.id in reversed_ids:
            continue
        net = e.quantity_tonnes + own.get(e.id, Decimal(0))
        left = net - taken.get(e.id, Decimal(0))
        if e.kind == kinds.GENERATED:
            key, detail, amount = "generated", "", left
        elif e.kind == kinds.STORED_IN:
            key, detail, amount = "stored", e.facility.name if e.facility else "", left
        elif e.kind == kinds.STORED_OUT:
            key, detail, amount = "stored_out", e.destination, left
        elif e.kind == kinds.SELF_TREATED:
            key, detail, amount = "self_treated", e.method_code, net
        else:
            key, detail, amount = "sent_out", e.receiver_name, net
        if amount > 0:
            grouped[(key, detail)] = grouped.get((key, detail), Decimal(0)) + amount
    order = list(STATE_NAMES)
    return [
        ContainerState(key, STATE_NAMES[key], tonnes, detail)
        for (key, detail), tonnes in sorted(grouped.items(), key=lambda kv: order.index(kv[0][0]))
    ]


def container_get(*, actor: Actor, code: str, today: dt.date | None = None) -> Container:
    """The container labelled ``code`` (normalised: NFKC, upper case). A malformed code raises the
    segment's ``ApplicationError`` (400); an unknown one ``NotFound`` ("未找到该标签").

    Anyone may read what the printed label shows and the container's state (the QR code is on
    the drum for whoever handles it: 托运人/承运人 at loading, rule 25). Those who see the site
    (its unit's members, regulators over its region) also get the records and their events."""
    from weifei.registry.selectors import sites_visible

    label = label_code_parse(code, today=today)
    candidates = list(
        LedgerEntry.objects.filter(
            container_code=label.code, kind=LedgerEntry.Kind.GENERATED, reversal_of__isnull=True
        ).order_by("-occurred_at", "-id")
    )
    if not candidates:
        raise NotFound("未找到该标签", code="label_unknown", field="label_code")
    at_site = list(
        LedgerEntry.objects.filter(container_code=label.code, site_id__in={c.site_id for c in candidates})
        .select_related("site__enterprise", "site__region", "facility", "source", "receiver")
        .order_by("id")
    )
    reversed_ids = {e.reversal_of_id for e in at_site if e.reversal_of_id is not None}
    live = [c for c in candidates if c.id not in reversed_ids]
    first = (live or candidates)[0]
    generated = next(e for e in at_site if e.id == first.id)
    chain_ids = {generated.id}
    for e in at_site:  # ids grow along the chain: a record's source was written before it
        if e.source_id in chain_ids or e.reversal_of_id in chain_ids:
            chain_ids.add(e.id)
    chain = [e for e in at_site if e.id in chain_ids]
    warnings = []
    if generated.site.enterprise.credit_code != label.credit_code:
        warnings.append(
            f"数字识别码第 1 段 {label.credit_code} 与台账单位的统一社会信用代码 "
            f"{generated.site.enterprise.credit_code} 不一致"
        )
    for e in chain:
        if e.waste_code != label.waste_code:
            warnings.append(
                f"标签上的废物代码 {label.waste_code} 与台账记录 {e.batch_code} 的废物代码 {e.waste_code} "
                "不一致（§13 第17条）"
            )
    waste_name, category_name, hazards = generated.common_name, "", ()
    try:
        valid = validate_waste_code(label.waste_code, on=label.date)
    except ApplicationError:  # parsed above, so listed; kept defensive for a catalogue change
        valid = None
    if valid is not None and valid.waste_code is not None:
        waste_name = valid.waste_code.description
        category_name = valid.waste_code.category.name
        hazards = tuple(valid.waste_code.hazards)
    can_see = actor.kind != "public" and sites_visible(actor=actor).filter(id=generated.site_id).exists()
    return Container(
        label=label,
        generated=generated,
        chain=chain,
        entries=[e for e in at_site if e.site_id == generated.site_id],
        states=container_states(chain, generated),
        reversed=generated.id in reversed_ids,
        warnings=warnings,
        can_see_site=can_see,
        waste_name=waste_name,
        category_name=category_name,
        hazards=hazards,
    )


def container_events(*, actor: Actor, container: Container) -> QuerySet[Event]:
    """The events of the container's records, newest first; only for those who see the site."""
    if not container.can_see_site:
        return Event.objects.none()
    ids = [str(e.id) for e in container.entries]
    return (
        Event.objects.filter(subject_type=LedgerEntry._meta.label_lower, subject_id__in=ids)
        .select_related("actor_user")
        .order_by("-occurred_at", "-id")
    )


def labelled_entries(*, actor: Actor, site_id: int) -> QuerySet[LedgerEntry]:
    """The site's labelled 产生 records that stand (not reversals, not reversed), newest first."""
    from weifei.registry.selectors import site_get

    site = site_get(actor=actor, site_id=site_id)
    return (
        LedgerEntry.objects.filter(
            site=site,
            kind=LedgerEntry.Kind.GENERATED,
            container_code__isnull=False,
            reversal_of__isnull=True,
            reversed_by__isnull=True,
        )
        .filter(container_code__regex=rf"^[0-9A-Z]{{{LABEL_CODE_LENGTH}}}$")
        .select_related("site__enterprise")
        .order_by("-occurred_at", "-id")
    )


def print_entries_get(*, actor: Actor, entry_ids: Sequence[int]) -> list[LedgerEntry]:
    """The labelled 产生 records to print, in the order given (duplicates once). Records of sites
    the actor does not see are not found (404); reversed or unlabelled records are refused."""
    from weifei.registry.selectors import sites_visible

    wanted = list(dict.fromkeys(int(i) for i in entry_ids))
    if not wanted:
        raise ApplicationError("请选择要打印标签的产生记录", code="labels_empty", field="entry_ids")
    if len(wanted) > MAX_PRINT_LABELS:
        raise ApplicationError(
            f"一次最多打印 {MAX_PRINT_LABELS} 个容器的标签，当前选择了 {len(wanted)} 个",
            code="labels_too_many",
            field="entry_ids",
        )
    found = {
        e.id: e
        for e in LedgerEntry.objects.filter(id__in=wanted, site__in=sites_visible(actor=actor)).select_related(
            "site__enterprise"
        )
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"台账记录 {missing[0]} 不存在或无权查看", field="entry_ids")
    reversed_ids = set(LedgerEntry.objects.filter(reversal_of_id__in=wanted).values_list("reversal_of_id", flat=True))
    for i in wanted:
        e = found[i]
        if e.kind != LedgerEntry.Kind.GENERATED or not e.container_code or e.reversal_of_id is not None:
            raise ApplicationError(
                f"台账记录 {e.batch_code} 不是贴标签的产生记录", code="entry_not_labelled", field="entry_ids"
            )
        if len(e.container_code) != LABEL_CODE_LENGTH:
            raise ApplicationError(
                f"台账记录 {e.batch_code} 的容器编码 {e.container_code} 不是数字识别码",
                code="entry_not_labelled",
                field="entry_ids",
            )
        if e.id in reversed_ids:
            raise ApplicationError(
                f"台账记录 {e.batch_code} 已冲销，不能打印标签", code="entry_reversed", field="entry_ids"
            )
    return [found[i] for i in wanted]
