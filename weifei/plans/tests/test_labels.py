"""HJ 1276—2022 labels: the 数字识别码, the size table and the label PDF (weifei.plans.labels)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
import segno
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weifei.core.errors import ApplicationError
from weifei.core.identifiers import credit_code_check_char
from weifei.plans.labels import (
    LABEL_CODE_LENGTH,
    QR_BORDER,
    LabelCode,
    LabelData,
    label_code_build,
    label_code_parse,
    label_data_build,
    label_pdf,
    label_size_mm,
    labels_pdf,
)

pytestmark = pytest.mark.usefixtures("reference")

UNIT = "91350100M000100Y43"
OTHER_UNIT = "91220101MA0000000" + credit_code_check_char("91220101MA0000000")
TODAY = dt.date(2024, 6, 30)
ON = dt.date(2024, 3, 1)
WASTE = "900-249-08"  # 其他生产、销售、使用过程中产生的废矿物油…, HW08, T/I
CODES_2021 = ["900-249-08", "900-041-49", "261-105-11", "841-001-01", "373-002-36", "336-064-17", "900-047-49"]


def build(**kwargs: object) -> str:
    args: dict[str, object] = {"credit_code": UNIT, "waste_code": WASTE, "on": ON, "seq": 1, "today": TODAY}
    args.update(kwargs)
    return label_code_build(**args)  # type: ignore[arg-type]


# --- the code ---------------------------------------------------------------------------


def test_build_format_is_18_8_8_3() -> None:
    code = build(seq=7)
    assert code == "91350100M000100Y43" + "90024908" + "20240301" + "007"
    assert len(code) == LABEL_CODE_LENGTH == 37


def test_parse_returns_segments() -> None:
    parsed = label_code_parse(build(seq=42), today=TODAY)
    assert parsed == LabelCode(UNIT, WASTE, ON, 42)
    assert parsed.code == build(seq=42)


def test_parse_normalises_case_and_full_width() -> None:
    code = build(seq=3)
    full_width = code.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}).lower()
    assert label_code_parse(f"  {full_width} ", today=TODAY).code == code


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    unit=st.sampled_from([UNIT, OTHER_UNIT]),
    waste=st.sampled_from(CODES_2021),
    on=st.dates(min_value=dt.date(2021, 1, 1), max_value=TODAY),
    seq=st.integers(min_value=1, max_value=999),
)
def test_round_trip(unit: str, waste: str, on: dt.date, seq: int) -> None:
    code = build(credit_code=unit, waste_code=waste, on=on, seq=seq)
    assert len(code) == 37
    assert label_code_parse(code, today=TODAY) == LabelCode(unit, waste, on, seq)


def test_codes_differ_by_each_segment() -> None:
    codes = {
        build(),
        build(seq=2),
        build(on=ON + dt.timedelta(days=1)),
        build(credit_code=OTHER_UNIT),
        build(waste_code="900-041-49"),
    }
    assert len(codes) == 5
    assert len({build(seq=s) for s in range(1, 1000)}) == 999


def _refused(exc: pytest.ExceptionInfo[ApplicationError], segment: int, name: str) -> None:
    assert f"第 {segment} 段" in exc.value.message
    assert name in exc.value.message


def test_bad_credit_code_names_segment_1() -> None:
    with pytest.raises(ApplicationError) as exc:
        build(credit_code="91350100M000100Y4Z")
    _refused(exc, 1, "单位编码")
    assert exc.value.field == "credit_code"
    assert "校验" in exc.value.message or "字符" in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        label_code_parse("91350100M000100Y44" + "90024908" + "20240301" + "001", today=TODAY)
    _refused(exc, 1, "单位编码")
    assert exc.value.code == "credit_code_checksum"


def test_waste_code_not_in_catalogue_on_that_date() -> None:
    # No catalogue version is in force before 名录2021 (2021-01-01).
    with pytest.raises(ApplicationError) as exc:
        build(on=dt.date(2020, 12, 31))
    _refused(exc, 2, "危险废物代码")
    with pytest.raises(ApplicationError) as exc:
        label_code_parse(UNIT + "90024908" + "20201231" + "001", today=TODAY)
    _refused(exc, 2, "危险废物代码")
    with pytest.raises(ApplicationError) as exc:
        build(waste_code="900-999-08")
    _refused(exc, 2, "危险废物代码")
    assert exc.value.code == "waste_code_not_listed"


def test_hw42_refused() -> None:
    with pytest.raises(ApplicationError) as exc:
        build(waste_code="900-001-42")
    _refused(exc, 2, "危险废物代码")
    assert "HW41–HW44" in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        label_code_parse(UNIT + "90000142" + "20240301" + "001", today=TODAY)
    _refused(exc, 2, "危险废物代码")
    with pytest.raises(ApplicationError) as exc:
        build(waste_code="900249-08")
    _refused(exc, 2, "危险废物代码")
    assert exc.value.code == "waste_code_format"


@pytest.mark.parametrize("date_part", ["20240230", "20241301", "2024030X", "00000000"])
def test_bad_date_names_segment_3(date_part: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        label_code_parse(UNIT + "90024908" + date_part + "001", today=TODAY)
    _refused(exc, 3, "日期")


def test_future_date_refused() -> None:
    with pytest.raises(ApplicationError) as exc:
        build(on=TODAY + dt.timedelta(days=1))
    _refused(exc, 3, "日期")
    assert exc.value.code == "label_date_future"
    with pytest.raises(ApplicationError) as exc:
        label_code_parse(UNIT + "90024908" + "20240701" + "001", today=TODAY)
    assert exc.value.code == "label_date_future"
    assert build(on=TODAY)  # today itself is fine


@pytest.mark.parametrize("seq", [0, 1000, -1, True])
def test_seq_out_of_range(seq: int) -> None:
    with pytest.raises(ApplicationError) as exc:
        build(seq=seq)
    _refused(exc, 4, "顺序")
    assert exc.value.field == "seq"


@pytest.mark.parametrize("seq_part", ["000", "0A1"])
def test_parse_bad_seq(seq_part: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        label_code_parse(UNIT + "90024908" + "20240301" + seq_part, today=TODAY)
    _refused(exc, 4, "顺序")


FIRST = "91350100M000100Y43" + "90024908" + "20240301" + "001"


@pytest.mark.parametrize("code", ["", "123", FIRST + "1", FIRST[:-1]])
def test_parse_wrong_length(code: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        label_code_parse(code, today=TODAY)
    assert exc.value.code == "label_code_length"
    assert "37" in exc.value.message


# --- sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("litres", "expected"),
    [
        ("0.5", (100, 100, 1)),
        ("50", (100, 100, 1)),
        ("50.01", (150, 150, 1)),
        ("51", (150, 150, 1)),
        ("450", (150, 150, 1)),  # the overlap in the source table: 450 L exactly → 150 mm
        ("450.1", (200, 200, 2)),
        ("451", (200, 200, 2)),
        ("1000", (200, 200, 2)),
    ],
)
def test_label_size(litres: str, expected: tuple[int, int, int]) -> None:
    assert tuple(label_size_mm(Decimal(litres))) == expected


@pytest.mark.parametrize("litres", ["0", "-1", "NaN"])
def test_label_size_refuses_non_positive(litres: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        label_size_mm(Decimal(litres))
    assert exc.value.field == "container_litres"


# --- label data and PDF ---------------------------------------------------------------

BASE_URL = "https://weifei.example.cn"


def data(litres: str = "200", **kwargs: object) -> LabelData:
    args: dict[str, object] = {
        "code": build(seq=12),
        "base_url": BASE_URL,
        "container_litres": Decimal(litres),
        "common_name": "废机油",
        "form": "液态",
        "main_components": "矿物油、水",
        "harmful_components": "多环芳烃",
        "precautions": "远离火源，防止泄漏；作业时佩戴防护手套和护目镜。",
        "unit_name": "长春市某汽车维修有限公司",
        "contact_person": "王工",
        "contact_phone": "0431-88888888",
        "weight": Decimal("180.5"),
        "remarks": "",
        "today": TODAY,
    }
    args.update(kwargs)
    return label_data_build(**args)  # type: ignore[arg-type]


def test_label_data_from_catalogue() -> None:
    label = data()
    assert label.waste_code == WASTE
    assert label.category == "HW08"
    assert "矿物油" in label.category_name
    assert "废矿物油" in label.waste_name
    assert label.hazards == ("T", "I")
    assert label.hazard_text == "T 毒性、I 易燃性"
    assert label.produced_on == ON
    assert (label.width_mm, label.height_mm) == (150, 150)
    assert label.verification_url == f"{BASE_URL}/labels/{label.code}/"


def test_label_data_refusals() -> None:
    with pytest.raises(ApplicationError) as exc:
        data(hazards=("X",))
    assert exc.value.field == "hazards"
    with pytest.raises(ApplicationError) as exc:
        data(weight_unit="lb")
    assert exc.value.field == "weight_unit"
    identified = build(waste_code="900-000-08")
    with pytest.raises(ApplicationError) as exc:
        data(code=identified)
    assert exc.value.code == "hazards_required"
    label = data(code=identified, hazards=("T",))
    assert label.waste_name == "废机油"
    assert label.hazard_text == "T 毒性"


def _media_boxes(pdf: bytes) -> list[tuple[float, float]]:
    """Every MediaBox (the page tree's and each page's), as width and height in points."""
    found = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert found, "no MediaBox"
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in found]


def _qr_image(pdf: bytes) -> tuple[int, int, bytes]:
    """The single image XObject: width, height and its decoded 8-bit grey samples."""
    at = pdf.find(b"/Subtype /Image")
    assert at > 0, "no image XObject"
    assert pdf.find(b"/Subtype /Image", at + 1) == -1, "more than one image"
    start = pdf.rfind(b" obj", 0, at)
    data_at = pdf.index(b"stream", at) + len(b"stream")
    data_at += 2 if pdf[data_at : data_at + 2] == b"\r\n" else 1
    head = pdf[start:data_at]
    width = int(re.search(rb"/Width\s+(\d+)", head).group(1))  # type: ignore[union-attr]
    height = int(re.search(rb"/Height\s+(\d+)", head).group(1))  # type: ignore[union-attr]
    length = int(re.search(rb"/Length\s+(\d+)", head).group(1))  # type: ignore[union-attr]
    bpc = int(re.search(rb"/BitsPerComponent\s+(\d+)", head).group(1))  # type: ignore[union-attr]
    assert b"/DeviceGray" in head or b"/Indexed" in head or b"/DeviceRGB" in head
    raw = pdf[data_at : data_at + length]
    samples = zlib.decompress(raw) if b"/FlateDecode" in head else raw
    predictor = re.search(rb"/Predictor\s+(\d+)", head)
    channels = 3 if b"/DeviceRGB" in head else 1
    row_bytes = (width * channels * bpc + 7) // 8
    if predictor and int(predictor.group(1)) >= 10:
        samples = _unpredict(samples, row_bytes, height, max(1, channels * bpc // 8))
    return width, height, _to_dark(samples, width, height, row_bytes, bpc, channels)


def _unpredict(data: bytes, row_bytes: int, height: int, bpp: int) -> bytes:
    out = bytearray()
    prev = bytearray(row_bytes)
    for r in range(height):
        kind = data[r * (row_bytes + 1)]
        row = bytearray(data[r * (row_bytes + 1) + 1 : (r + 1) * (row_bytes + 1)])
        for i in range(row_bytes):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + a) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + b) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out += row
        prev = row
    return bytes(out)


def _to_dark(samples: bytes, width: int, height: int, row_bytes: int, bpc: int, channels: int) -> bytes:
    """One byte per pixel, 1 = dark."""
    dark = bytearray()
    for r in range(height):
        row = samples[r * row_bytes : (r + 1) * row_bytes]
        for c in range(width):
            if bpc == 1:
                bit = (row[c // 8] >> (7 - c % 8)) & 1
                dark.append(1 - bit)
            else:
                dark.append(1 if row[c * channels] < 128 else 0)
    return bytes(dark)


@pytest.mark.parametrize(("litres", "mm"), [("20", 100), ("200", 150), ("1000", 200)])
def test_pdf_structure(litres: str, mm: int) -> None:
    label = data(litres)
    pdf = label_pdf(label)
    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page\n") == 1
    points = mm * 72 / 25.4
    for width, height in _media_boxes(pdf):
        assert abs(width - points) < 0.01
        assert abs(height - points) < 0.01
    # The CJK font is embedded (subset TrueType).
    assert b"/FontFile2" in pdf
    assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+NotoSansSC", pdf)
    # Metadata: subject = the code, keywords = the QR payload, language zh-CN.
    assert f"/Subject ({label.code})".encode() in pdf
    assert f"/Keywords ({label.verification_url})".encode() in pdf
    assert b"/Producer (weifei)" in pdf
    assert b"/Lang (zh-CN)" in pdf
    title = re.search(rb"/Title\s*<feff([0-9a-f]+)>", pdf)
    assert title
    assert bytes.fromhex(title.group(1).decode()).decode("utf-16-be") == f"危险废物标签 {label.code}"


@pytest.mark.parametrize("litres", ["20", "1000"])
def test_pdf_qr_matrix_equals_url(litres: str) -> None:
    label = data(litres)
    width, height, dark = _qr_image(label_pdf(label))
    qr = segno.make(label.verification_url, error="m", micro=False)
    expected = [bytes(1 if v else 0 for v in row) for row in qr.matrix_iter(scale=1, border=QR_BORDER)]
    assert (width, height) == (len(expected[0]), len(expected))
    assert [dark[r * width : (r + 1) * width] for r in range(height)] == expected


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "label.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) not installed")
@pytest.mark.parametrize("litres", ["20", "200", "1000"])
def test_pdf_text(litres: str, tmp_path: Path) -> None:
    label = data(litres)
    text = _pdftotext(label_pdf(label), tmp_path)
    flat = re.sub(r"\s+", "", text)
    assert "危险废物" in flat
    for name in ("废物名称", "废物类别", "废物代码", "废物形态", "危险特性", "主要成分", "有害成分", "注意事项"):
        assert name in flat
    for name in ("数字识别码", "产生/收集单位", "联系人", "联系方式", "产生日期", "废物重量", "备注"):
        assert name in flat
    assert "废机油" in flat
    assert "T毒性、I易燃性" in flat
    assert label.code in flat
    assert WASTE in flat
    assert "180.5kg" in flat
    assert "长春市某汽车维修有限公司" in flat


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) not installed")
def test_pdf_long_text_is_truncated_with_ellipsis(tmp_path: Path) -> None:
    label = data("20", main_components="矿物油" * 200, precautions="注意" * 300)
    pdf = label_pdf(label)
    flat = re.sub(r"\s+", "", _pdftotext(pdf, tmp_path))
    assert "…" in flat
    assert flat.count("矿物油") < 60
    assert label.code in flat  # the lower block still fits on the page


@pytest.mark.skipif(
    not (shutil.which("zbarimg") and shutil.which("pdftoppm")), reason="zbar-tools / poppler-utils not installed"
)
def test_pdf_qr_decodes(tmp_path: Path) -> None:
    label = data("20")
    (tmp_path / "label.pdf").write_bytes(label_pdf(label))
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", "-singlefile", str(tmp_path / "label.pdf"), str(tmp_path / "label")],
        check=True,
    )
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "label.png")], check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == label.verification_url


def test_labels_pdf_batch_one_page_each_own_size(tmp_path: Path) -> None:
    small, large = data("20", code=build(seq=1)), data("1000", code=build(seq=2))
    pdf = labels_pdf([small, large])
    assert {(round(w * 25.4 / 72, 2), round(h * 25.4 / 72, 2)) for w, h in _media_boxes(pdf)} == {
        (100.0, 100.0),
        (200.0, 200.0),
    }
    assert pdf.count(b"/Type /Page\n") == 2
    assert pdf.count(b"/FontFile2") == 2  # regular and bold, once for the whole batch
    assert f"/Subject ({small.code} {large.code})".encode() in pdf
    if shutil.which("pdftotext"):
        flat = re.sub(r"\s+", "", _pdftotext(pdf, tmp_path))
        assert small.code in flat
        assert large.code in flat
    with pytest.raises(ApplicationError):
        labels_pdf([])
