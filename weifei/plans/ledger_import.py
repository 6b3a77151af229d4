"""Importing 管理台账 records from Excel (.xlsx) or CSV, with row-level errors.

One sheet (``台账记录``), one row per record, a ``记录类型`` column saying which Annex B table the
row belongs to (产生 B.1, 入库 B.2, 出库 B.3, 自行利用/处置 B.4, 委外利用/处置 B.5) and the union of
the Annex B columns; a ``填写说明`` sheet explains each column. Reading turns each row into a
``ledger_bulk.LedgerRow`` and collects the problems only a file has (unknown columns, dates,
numbers, record types, units); then ``ledger_bulk.ledger_bulk_import`` applies the ledger's rules
and writes everything or nothing. See docs/ledger-import.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.utils import timezone

from weifei.core.actors import Actor
from weifei.core.errors import ApplicationError
from weifei.registry.selectors import site_get

from .ledger_bulk import LedgerRow, RowError, ledger_bulk_import
from .models import LedgerEntry, PlanLine

Kind = LedgerEntry.Kind
SHEET = "台账记录"
NOTES_SHEET = "填写说明"
MAX_ERRORS_SHOWN = 1000
MAX_ROWS = 1_100_000
FILE_ERRORS = ("column_unknown", "column_missing", "file_empty", "too_many_rows")


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    kind: str  # text, code, datetime, decimal, int, bool, record_kind, unit, receiver_type, site
    note: str
    applies: str = "全部"


COLUMNS: tuple[Column, ...] = (
    Column("kind", "记录类型", "record_kind", "必填：产生、入库、出库、自行利用/处置、委外利用/处置"),
    Column("site_id", "场所编号", "site", "选填：导入时已选择场所则留空或填写同一编号"),
    Column("batch_code", "批次编码", "code", "选填：留空则按 HJ 1259 附录B 建议格式（如 HWCS20260301001）自动编号"),
    Column("occurred_at", "时间", "datetime", "必填：产生/入库/出库/出厂时间，YYYY-MM-DD HH:MM（北京时间）"),
    Column("source_batch", "来源批次编码", "code", "入库填产生批次；出库填入库批次；自行/委外填产生或出库批次",
           "入库、出库、自行、委外"),
    Column("waste_code", "废物代码", "text", "产生必填（名录代码，如 900-249-08）；其他记录沿用来源批次", "产生"),
    Column("category", "废物类别", "text", "选填（如 HW08），须与代码一致", "产生"),
    Column("common_name", "废物名称（俗称）", "text", "选填", "产生"),
    Column("quantity", "数量", "decimal", "必填，大于 0"),
    Column("unit", "计量单位", "unit", "t（吨，缺省）、kg（千克）、L（升）、m3（立方米）、件"),
    Column("density", "密度（吨/立方米）", "decimal", "计量单位为 L 或 m3 时必填"),
    Column("tonnes", "折算吨数", "decimal", "计量单位为件时必填"),
    Column("container_code", "容器/包装编码", "text",
           "产生：每个容器一条记录；37 位数字识别码须为本单位、本代码、本日期", "产生"),
    Column("label", "生成标签", "bool", "是/否：产生记录未填容器编码时，按 HJ 1276 分配数字识别码", "产生"),
    Column("container_type", "容器/包装类型", "text", "选填", "产生"),
    Column("container_count", "容器/包装数量", "int", "选填，缺省 1", "产生"),
    Column("container_litres", "容器容积（升）", "decimal", "选填（决定标签尺寸）", "产生"),
    Column("facility_code", "设施编码", "text", "产生设施、贮存设施或利用/处置设施的编码（本场所）"),
    Column("handler", "经办人", "text", "选填"),
    Column("destination", "去向", "text", "选填", "产生、出库"),
    Column("method_code", "利用/处置方式代码", "text", "自行、委外必填（HJ 1033 附录F，如 D10、R2）", "自行、委外"),
    Column("finished_at", "完毕时间", "datetime", "选填：利用/处置完毕时间", "自行"),
    Column("receiver_type", "接收单位类型", "receiver_type", "委外必填：经营许可证持有单位、豁免管理单位、境外单位",
           "委外"),
    Column("receiver_name", "接收单位名称", "text", "委外：名称或统一社会信用代码（持证单位可只填许可证编号）", "委外"),
    Column("licence_number", "许可证编号/豁免条目/出口核准通知单编号", "text", "委外必填", "委外"),
)  # fmt: skip
BY_HEADER = {c.header: c for c in COLUMNS} | {c.field: c for c in COLUMNS}
BY_FIELD = {c.field: c for c in COLUMNS}
# Row errors name model fields; the column they come from:
FIELD_COLUMN = {"site": "site_id", "facility": "facility_code", "source": "source_batch", "date": "occurred_at"}

KIND_NAMES = {
    "产生": Kind.GENERATED,
    "入库": Kind.STORED_IN,
    "出库": Kind.STORED_OUT,
    "自行利用/处置": Kind.SELF_TREATED,
    "自行利用": Kind.SELF_TREATED,
    "自行处置": Kind.SELF_TREATED,
    "自行利用处置": Kind.SELF_TREATED,
    "委外利用/处置": Kind.SENT_OUT,
    "委外利用": Kind.SENT_OUT,
    "委外处置": Kind.SENT_OUT,
    "委外利用处置": Kind.SENT_OUT,
    "委外": Kind.SENT_OUT,
} | {k: k for k in Kind.values}
UNIT_NAMES = {
    "": LedgerEntry.Unit.TONNE,
    "t": "t",
    "吨": "t",
    "kg": "kg",
    "千克": "kg",
    "公斤": "kg",
    "l": "L",
    "升": "L",
    "m3": "m3",
    "m³": "m3",
    "立方米": "m3",
    "件": "piece",
    "piece": "piece",
}
RECEIVER_NAMES = {
    "经营许可证持有单位": PlanLine.ReceiverType.LICENSED,
    "持证单位": PlanLine.ReceiverType.LICENSED,
    "利用处置环节豁免管理单位": PlanLine.ReceiverType.EXEMPT,
    "豁免管理单位": PlanLine.ReceiverType.EXEMPT,
    "境外利用处置单位": PlanLine.ReceiverType.ABROAD,
    "境外单位": PlanLine.ReceiverType.ABROAD,
} | {v: v for v in PlanLine.ReceiverType.values}
BOOLS = {"是": True, "否": False, "true": True, "false": False, "1": True, "0": False, "y": True, "n": False, "": False}


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _datetime(value: Any, tz: dt.tzinfo | None = None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    tz = tz or timezone.get_current_timezone()
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().replace("/", "-")
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _Bad("datetime_format", f"时间 {text!r} 格式不正确：应为 YYYY-MM-DD HH:MM") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Bad("decimal_format", f"应为数字，不是 {value!r}")
    if isinstance(value, float):
        return Decimal(str(value))  # Excel stores doubles; str() gives the shortest form
    if isinstance(value, int | Decimal):
        return Decimal(value)
    text = str(value).strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _Bad("decimal_format", f"{text!r} 不是数字") from None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 8:
        raise _Bad("decimal_format", f"{text!r} 不是有效的数量")
    return number


def _int(value: Any) -> int | None:
    number = _decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise _Bad("int_format", f"{number} 应为整数")
    return int(number)


def _lookup(table: dict[str, Any], code: str, what: str) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        text = _str(value)
        found = table.get(text, table.get(text.lower()))
        if found is None:
            raise _Bad(code, f"{what} {text!r} 无法识别")
        return found

    return read


READERS: dict[str, Callable[[Any], Any]] = {
    "text": _str,
    "code": lambda value: _str(value).upper(),  # batch codes are upper case, as the services write them
    "datetime": _datetime,
    "decimal": _decimal,
    "int": _int,
    "bool": _lookup(BOOLS, "bool_format", "应填“是”或“否”："),
    "record_kind": _lookup(KIND_NAMES, "kind_unknown", "记录类型"),
    "unit": _lookup(UNIT_NAMES, "unit_unknown", "计量单位"),
    "receiver_type": _lookup(RECEIVER_NAMES, "receiver_type_unknown", "接收单位类型"),
    "site": _int,
}


MEMO_KINDS = ("datetime", "decimal", "int")
MEMO_LIMIT = 50_000


def _memo(read: Callable[[Any], Any], kind: str, tz: dt.tzinfo) -> Callable[[Any], Any]:
    """Rows of a chain repeat their time and quantity: remember what a text cell parsed to."""
    if kind not in MEMO_KINDS:
        return read
    if kind == "datetime":

        def read_tz(value: Any) -> Any:
            return _datetime(value, tz)

        read = read_tz
    seen: dict[str, Any] = {}

    def cached(value: Any) -> Any:
        if not isinstance(value, str):
            return read(value)
        found = seen.get(value, seen)
        if found is seen:
            found = read(value)  # raises _Bad: nothing is remembered
            if len(seen) > MEMO_LIMIT:
                seen.clear()
            seen[value] = found
        return found

    return cached


@dataclass
class ImportOutcome:
    imported: int = 0
    rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_ERRORS_SHOWN
    error_count: int = 0
    dry_run: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    by_site: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.error_count > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "rows": self.rows,
            "dry_run": self.dry_run,
            "errors": self.errors,
            "error_count": self.error_count,
            "seconds": self.seconds,
        }


def error_dict(error: RowError) -> dict[str, Any]:
    column = BY_FIELD.get(FIELD_COLUMN.get(error.field, error.field))
    return {**error.as_dict(), "column": column.header if column else ""}


# ---------------------------------------------------------------- reading


def _table_rows(data: bytes, file_name: str) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of the first sheet (or ``台账记录``), header first."""
    if data[:2] == b"PK" or file_name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ApplicationError(
                f"无法读取 Excel 文件：{exc.__class__.__name__}", code="file_unreadable", field="file"
            ) from None
        ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
        for number, cells in enumerate(ws.iter_rows(values_only=True), 1):
            yield number, list(cells)
        wb.close()
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # Excel on Chinese Windows saves CSV in GBK
        except UnicodeDecodeError:
            raise ApplicationError("CSV 文件应为 UTF-8 或 GBK 编码", code="file_encoding", field="file") from None
    for number, cells in enumerate(csv.reader(io.StringIO(text)), 1):
        yield number, list(cells)


def read_rows(
    data: bytes, *, file_name: str = "", site_id: int | None = None, failed: dict[Any, int] | None = None
) -> tuple[list[LedgerRow], list[RowError]]:
    """Parse the file into rows and file-level problems (row 1 is the header). ``failed`` receives
    the (site, batch code) of rows that could not be read, so that rows taking from them say so."""
    failed = {} if failed is None else failed
    tz = timezone.get_current_timezone()
    width = 0
    rows: list[LedgerRow] = []
    errors: list[RowError] = []
    table = _table_rows(data, file_name)
    header: list[Column | None] = []
    readers: list[tuple[int, str, Callable[[Any], Any]]] = []
    for number, cells in table:
        if not header:
            if not any(_str(c) for c in cells):
                continue
            for i, cell in enumerate(cells):
                name = _str(cell)
                column = BY_HEADER.get(name)
                if name and column is None:
                    errors.append(RowError(number, name, "column_unknown", f"第 {i + 1} 列的列名 {name!r} 无法识别"))
                header.append(column)
            if BY_FIELD["kind"] not in header:
                errors.append(RowError(number, "kind", "column_missing", "缺少“记录类型”列（请使用台账导入模板）"))
                return rows, errors
            readers = [(i, c.field, _memo(READERS[c.kind], c.kind, tz)) for i, c in enumerate(header) if c is not None]
            width = len(header)
            continue
        if len(rows) >= MAX_ROWS:
            errors.append(RowError(number, "", "too_many_rows", f"一个文件最多 {MAX_ROWS} 行"))
            break
        values: dict[str, Any] = {}
        bad = False
        empty = True
        if len(cells) < width:
            cells += [None] * (width - len(cells))
        for i, name, read in readers:
            raw = cells[i]
            if raw is None or raw == "":
                continue
            empty = False
            try:
                value = read(raw)
            except _Bad as exc:
                header_text = BY_FIELD[name].header
                message = exc.message if exc.message.startswith(header_text) else f"{header_text}：{exc.message}"
                errors.append(RowError(number, name, exc.code, message))
                bad = True
                continue
            if value is not None and value != "":
                values[name] = value
        if empty:
            continue
        if bad:
            if isinstance(values.get("batch_code"), str):
                failed[(site_id if site_id is not None else values.get("site_id"), values["batch_code"])] = number
            continue
        row_site = values.pop("site_id", None)
        if site_id is not None and row_site is not None and row_site != site_id:
            errors.append(
                RowError(number, "site", "site_mismatch", f"场所编号 {row_site} 与导入时选择的场所 {site_id} 不一致")
            )
            continue
        if "kind" not in values:
            errors.append(RowError(number, "kind", "kind_required", "请填写记录类型"))
            continue
        rows.append(
            LedgerRow(
                row=number,
                site_id=site_id if site_id is not None else row_site,
                occurred_at=values.pop("occurred_at", None),
                quantity=values.pop("quantity", None),
                **values,
            )
        )
    if not header:
        errors.append(RowError(1, "", "file_empty", "文件中没有数据"))
    return rows, errors


def ledger_file_import(
    *, actor: Actor, data: bytes, file_name: str = "", site_id: int | None = None, dry_run: bool = False
) -> ImportOutcome:
    """Read an .xlsx or .csv file and import it through the bulk path (everything or nothing).

    With ``site_id`` (the page and the API) every row is for that site, which the actor must see
    (404 otherwise) and write (403); without it (the command line) each row names its site."""
    if site_id is not None:
        site_get(actor=actor, site_id=site_id)
    # A million rows are millions of objects that live until the end: the cyclic garbage collector
    # would walk them again and again (they hold no cycles), so it waits until the import is done.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _import(actor, data, file_name, site_id, dry_run)
    finally:
        if enabled:
            gc.enable()


def _import(actor: Actor, data: bytes, file_name: str, site_id: int | None, dry_run: bool) -> ImportOutcome:
    outcome = ImportOutcome(dry_run=dry_run)
    started = time.perf_counter()
    failed: dict[Any, int] = {}
    rows, errors = read_rows(data, file_name=file_name, site_id=site_id, failed=failed)
    outcome.rows = len(rows) + len({e.row for e in errors})
    outcome.seconds["parse"] = round(time.perf_counter() - started, 2)
    for row in rows:
        if row.site_id is None:
            errors.append(RowError(row.row, "site", "site_required", "请填写场所编号（或在导入时选择场所）"))
    if not any(e.code in FILE_ERRORS for e in errors):
        # Rows read with errors are left out; the others are still checked (nothing is written
        # then), so that one run lists every error of the file.
        readable = [row for row in rows if row.site_id is not None]
        result = ledger_bulk_import(
            actor=actor, rows=readable, file_name=file_name, dry_run=dry_run or bool(errors), failed=failed
        )
        outcome.seconds.update(result.seconds)
        if errors or result.errors:
            errors += result.errors
        else:
            outcome.imported = result.imported
            outcome.by_site = result.by_site
    outcome.error_count = len(errors)
    outcome.errors = [error_dict(e) for e in sorted(errors, key=lambda e: e.row)[:MAX_ERRORS_SHOWN]]
    return outcome


# ---------------------------------------------------------------- the template


def template_workbook(out: IO[bytes]) -> None:
    """The import template: the 台账记录 sheet (headers) and the 填写说明 sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    ws.append([c.header for c in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for i, c in enumerate(COLUMNS):
        ws.column_dimensions[_letter(i)].width = max(12, min(36, len(c.header) * 2 + 2))
    notes = wb.create_sheet(NOTES_SHEET)
    notes.append(["列名", "适用记录", "说明"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for c in COLUMNS:
        notes.append([c.header, c.applies, c.note])
    notes.append([])
    for line in INSTRUCTIONS:
        notes.append([line])
    notes.column_dimensions["A"].width = 40
    notes.column_dimensions["B"].width = 20
    notes.column_dimensions["C"].width = 90
    wb.save(out)


INSTRUCTIONS = (
    "每行一条台账记录（HJ 1259—2022 6.2：按每个容器/包装一条记录）；第 1 行为列名，请勿修改。",
    "记录按文件中的顺序检查：引用的来源批次须在本文件中排在前面，或已在系统中（同一场所）。",
    "出库、自行、委外的数量不能超过来源批次的剩余量；时间不能早于来源批次，也不能晚于现在。",
    "整个文件检查通过才写入；有任何错误则整个文件不写入，并列出每个错误的行、列和规则。",
    "也可保存为 CSV（UTF-8 或 GBK 编码），列名相同。",
)


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def csv_header() -> str:
    return ",".join(c.header for c in COLUMNS)


def rows_csv(rows: Iterable[dict[str, Any]]) -> str:
    """A CSV in the template's layout (tests and the benchmark write files with this)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.header for c in COLUMNS])
    for row in rows:
        writer.writerow(["" if row.get(c.field) is None else row.get(c.field) for c in COLUMNS])
    return out.getvalue()
