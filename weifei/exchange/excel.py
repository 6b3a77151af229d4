"""Excel workbooks in the exchange format: the upload template, exports, and reading them back.

Layout: a notes sheet (``说明``: the format version and every field with its rule), then one
sheet per record type named by its machine name (``enterprise``, ``site`` …). On each record
sheet row 1 holds the Chinese column labels (``*`` marks a required field), row 2 the machine
field names (the importer reads these, so columns may be reordered or left out), and records
start on row 3. Lists are written as text separated by ``、`` (commas, semicolons and spaces
are read too); licence scopes as ``HW08=100; 900-214-08=50@生产线A``.

Problems name the sheet, the row, the column and the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .records import AGGREGATES, DECIMAL, FORMAT_VERSION, LIST, RECORD_TYPES, SCOPES, Problem, Record, RecordType
from .records import Field as FieldSpec

NOTES = "说明"
VERSION_LABEL = "格式版本"
FIRST_ROW = 3  # rows 1–2 are the header
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _cell(spec: FieldSpec, value: Any) -> Any:
    """A record value as a cell: text for codes and decimals (exact), dates as dates."""
    if value is None:
        return None
    if spec.kind == LIST:
        return "、".join(str(v) for v in value)
    if spec.kind == SCOPES:
        parts = []
        for scope in value:
            text = f"{scope['item']}={scope['annual_tonnes']}"
            if scope.get("aggregate"):
                text += f"@{scope['aggregate']}"
            parts.append(text)
        return "; ".join(parts)
    if spec.kind == AGGREGATES:
        return "; ".join(f"{name}={tonnes}" for name, tonnes in value.items())
    if spec.kind == DECIMAL:
        return str(value)
    if spec.kind == "json":
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str) and spec.kind == "date":
        return dt.date.fromisoformat(value)
    return value


def workbook_write(
    target: str | IO[bytes], rows: Mapping[str, Iterable[Mapping[str, Any]]] | None = None, *, types: Sequence[str] = ()
) -> None:
    """Write the template (``rows`` None) or an export: ``rows`` maps a type to its records as
    format dicts (``exporter.export_records``). ``types`` limits the record sheets."""
    wb = Workbook()
    notes = wb.active
    assert notes is not None
    notes.title = NOTES
    names = list(types or RECORD_TYPES)
    _notes_write(notes, names)
    for name in names:
        rtype = RECORD_TYPES[name]
        ws = wb.create_sheet(name)
        for col, spec in enumerate(rtype.fields, 1):
            label = ws.cell(row=1, column=col, value=f"{spec.label}{' *' if spec.required else ''}")
            label.font = Font(bold=True)
            label.fill = HEADER_FILL
            machine = ws.cell(row=2, column=col, value=spec.name)
            machine.font = Font(color="666666", italic=True)
            ws.column_dimensions[get_column_letter(col)].width = max(12, min(40, len(spec.label) * 2 + 4))
        ws.freeze_panes = ws.cell(row=FIRST_ROW, column=1)
        for r, record in enumerate((rows or {}).get(name, ()), FIRST_ROW):
            for col, spec in enumerate(rtype.fields, 1):
                cell = ws.cell(row=r, column=col, value=_cell(spec, record.get(spec.name)))
                cell.number_format = "yyyy-mm-dd" if spec.kind == "date" else "@"
    wb.save(target)


def _notes_write(ws: Any, names: list[str]) -> None:
    ws.append(["weifei 危险废物监管平台 数据交换格式（Excel）"])
    ws.append([VERSION_LABEL, FORMAT_VERSION])
    ws.append(["说明", "每种记录一个工作表（表名即记录类型）；第 1 行为中文列名（* 为必填），第 2 行为字段名，"])
    ws.append(["", "第 3 行起每行一条记录。列可调换顺序或删去选填列，但第 2 行字段名不能改。"])
    ws.append(["", "导入时先检查全部记录，有错误则整个文件不导入，并列出每个错误的工作表、行、列和规则。"])
    ws.append(["", "列表写作以“、”分隔的文本；核准范围写作 HW08=100; 900-214-08=50@共用设施名。"])
    ws.append(["", "详见 docs/exchange-format.md。"])
    ws.append([])
    ws["A1"].font = Font(bold=True, size=13)
    for name in names:
        rtype = RECORD_TYPES[name]
        ws.append([f"{name}（{rtype.label}）", f"唯一键：{rtype.key}"])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
        ws.append(["字段", "列名", "必填", "类型", "规则"])
        for spec in rtype.fields:
            ws.append([spec.name, spec.label, "是" if spec.required else "", spec.doc_type, spec.rule])
        ws.append([])
    for col, width in zip("ABCDE", (24, 28, 6, 26, 90), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def workbook_read(source: str | IO[bytes]) -> tuple[list[Record], list[Problem]]:
    """Records and shape problems of a workbook (``.xlsx``), read in read-only mode."""
    try:
        wb = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        return [], [Problem(1, None, "workbook_invalid", f"不是有效的 Excel 工作簿（.xlsx）：{exc.__class__.__name__}")]
    records: list[Record] = []
    problems: list[Problem] = []
    version: Any = FORMAT_VERSION
    try:
        if NOTES in wb.sheetnames:
            for number, row in enumerate(wb[NOTES].iter_rows(max_col=2, values_only=True), 1):
                if row and row[0] == VERSION_LABEL:
                    version = row[1] if len(row) > 1 else None
                    if type(version) is not int or version != FORMAT_VERSION:
                        problems.append(
                            Problem(
                                number,
                                "version",
                                "unsupported_version",
                                f"不支持的格式版本 {version!r}（本系统读取 version {FORMAT_VERSION}）",
                                sheet=NOTES,
                                column="B",
                            )
                        )
                        return [], problems
                    break
        for ws in wb.worksheets:
            if ws.title == NOTES:
                continue
            if ws.title not in RECORD_TYPES:
                known = "、".join(RECORD_TYPES)
                problems.append(
                    Problem(
                        1,
                        None,
                        "unknown_type",
                        f"未知的工作表 {ws.title!r}（工作表名应为记录类型：{known}）",
                        sheet=ws.title,
                    )
                )
                continue
            found, found_problems = _sheet_read(RECORD_TYPES[ws.title], ws.iter_rows(values_only=True), ws.title)
            records += found
            problems += found_problems
    finally:
        wb.close()
    return records, problems


def _sheet_read(rtype: RecordType, rows: Iterator[tuple[Any, ...]], sheet: str) -> tuple[list[Record], list[Problem]]:
    from .importer import record_of

    records: list[Record] = []
    problems: list[Problem] = []
    next(rows, None)  # row 1: labels, for people
    header = next(rows, None) or ()
    columns: dict[int, str] = {}
    letters: dict[str, str] = {}
    for index, name in enumerate(header):
        if _empty(name):
            continue
        name = str(name).strip()
        letter = get_column_letter(index + 1)
        if name not in rtype.by_name:
            problems.append(
                Problem(2, name, "unknown_field", f"{rtype.label}记录没有字段 {name}", sheet=sheet, column=letter)
            )
            continue
        if name in letters:
            problems.append(Problem(2, name, "duplicate_column", f"字段 {name} 出现了两次", sheet=sheet, column=letter))
            continue
        columns[index] = name
        letters[name] = letter
    if problems:
        return [], problems
    for number, row in enumerate(rows, FIRST_ROW):
        obj: dict[str, Any] = {"type": rtype.name, "version": FORMAT_VERSION}
        for index, name in columns.items():
            value = row[index] if index < len(row) else None
            if not _empty(value):
                obj[name] = value.strip() if isinstance(value, str) else value
        if len(obj) == 2:
            continue  # an empty row
        record, found = record_of(obj, line=number, sheet=sheet, columns=letters, excel=True)
        problems += found
        if record is not None:
            records.append(record)
    return records, problems
