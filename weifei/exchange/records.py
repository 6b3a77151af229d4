"""Exchange format v1: the record types, their fields, and reading one record into Python values.

One record is a JSON object ``{"type": "enterprise", "version": 1, ...fields}`` (a line of a
JSON Lines file, or a row of an Excel sheet named after the type). The field tables below are
the specification that docs/exchange-format.md, the Excel template's notes sheet and the
importer all read, so the three cannot drift apart.

Reading a record here checks only its shape (known fields, types, lengths, decimal places).
The rules (credit code check character, county-level region, coordinates in Jilin, plate
format …) are the registry services' own, applied by ``weifei.exchange.importer``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from weifei.registry.services import ScopeIn

FORMAT_VERSION = 1

TEXT, DATE, DECIMAL, LIST, BOOL, SCOPES, AGGREGATES = "text", "date", "decimal", "list", "bool", "scopes", "aggregates"
DATETIME, INT, JSON = "datetime", "int", "json"
KIND_NAMES = {
    TEXT: "文本",
    DATE: "日期 YYYY-MM-DD",
    DECIMAL: "十进制数字（写作字符串）",
    LIST: "文本列表",
    BOOL: "true / false",
    SCOPES: "核准范围列表",
    AGGREGATES: "共用设施规模",
    DATETIME: "时间 ISO 8601（带时区，如 2026-03-01T09:00:00+08:00）",
    INT: "整数",
    JSON: "JSON 对象或数组",
}
# Excel cells hold lists as text separated by commas, 顿号, semicolons or spaces.
LIST_SPLIT = re.compile(r"[,，、;；\s]+")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = TEXT
    required: bool = False
    max_length: int | None = None
    digits: tuple[int, int] | None = None  # (max_digits, decimal_places) of a decimal
    rule: str = ""

    @property
    def doc_type(self) -> str:
        if self.kind == TEXT and self.max_length:
            return f"文本（≤ {self.max_length} 字符）"
        if self.kind == DECIMAL and self.digits:
            return f"十进制数字字符串（≤ {self.digits[1]} 位小数）"
        return KIND_NAMES[self.kind]


@dataclass(frozen=True)
class RecordType:
    name: str
    label: str
    key: str  # the natural key, in words
    fields: tuple[Field, ...]
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})


TONNES = (14, 3)
COORD = (9, 6)

ENTERPRISE = RecordType(
    "enterprise",
    "单位",
    "credit_code",
    (
        Field("credit_code", "统一社会信用代码", required=True, rule="GB 32100-2015，18 位，校验位正确"),
        Field("name", "单位名称", required=True, max_length=200),
        Field(
            "region",
            "所在区域",
            required=True,
            max_length=40,
            rule="行政区域代码（如 220102）或区域标识（如 changbaishan-chibei）；须为县级单位、功能区或管委会辖区",
        ),
        Field(
            "roles",
            "单位角色",
            LIST,
            rule="is_generator 产废单位、is_carrier 承运人、is_operator 经营单位、is_collector 收集单位；"
            "新建时缺省为 [is_generator]",
        ),
        Field(
            "verification",
            "核验状态",
            max_length=10,
            rule="verified / pending / rejected，只在新建时使用（缺省 verified）；已有单位的核验状态只能由监管部门核验",
        ),
        Field("legal_representative", "法定代表人", max_length=50),
        Field("address", "注册地址", max_length=300),
        Field("industry_code", "行业代码", max_length=5, rule="GB/T 4754，2–4 位数字（可带门类字母）"),
        Field("industry_name", "行业", max_length=100),
        Field("latitude", "纬度", DECIMAL, digits=COORD, rule="与经度同时填写；吉林省范围 40.5–46.5"),
        Field("longitude", "经度", DECIMAL, digits=COORD, rule="吉林省范围 121.3–131.5"),
        Field("contact_name", "联系人", max_length=50),
        Field("contact_phone", "联系电话", max_length=30),
        Field("contact_email", "电子邮箱", max_length=254),
    ),
)

SITE = RecordType(
    "site",
    "生产经营场所",
    "(enterprise, name)",
    (
        Field("enterprise", "所属单位信用代码", required=True, max_length=18, rule="本文件或本系统中已有的单位"),
        Field("name", "场所名称", required=True, max_length=200, rule="同一单位内不重复"),
        Field("address", "地址", required=True, max_length=300),
        Field("region", "所在区域", required=True, max_length=40, rule="场所所在的县级单位、功能区或管委会辖区"),
        Field(
            "roles",
            "场所角色",
            LIST,
            required=True,
            rule="generator 产生、collector 收集、carrier_base 运输车辆停放、operator 利用处置，至少一种",
        ),
        Field("latitude", "纬度", DECIMAL, digits=COORD, rule="与经度同时填写；吉林省范围 40.5–46.5"),
        Field("longitude", "经度", DECIMAL, digits=COORD, rule="吉林省范围 121.3–131.5"),
        Field("industry_code", "行业代码", max_length=5),
        Field("industry_name", "行业", max_length=100),
        Field("operation_started_on", "投产日期", DATE),
        Field(
            "eia_annual_tonnes",
            "环评核算年产生量（吨）",
            DECIMAL,
            digits=TONNES,
            rule="≥ 0；无产生记录时用于判定管理类别",
        ),
        Field("permit_annual_tonnes", "排污许可核算年产生量（吨）", DECIMAL, digits=TONNES, rule="≥ 0"),
        Field("status", "状态", max_length=10, rule="active 正常生产（缺省）、suspended 停产、closed 关闭"),
        Field("suspended_from", "停产起", DATE, rule="停产时必填"),
        Field("suspended_until", "停产止", DATE, rule="不早于停产起"),
        Field("closed_on", "关闭日期", DATE, rule="关闭时必填"),
    ),
)

FACILITY = RecordType(
    "facility",
    "设施",
    "code，或 (enterprise, site, kind, name)",
    (
        Field(
            "code",
            "设施编码",
            max_length=22,
            rule="信用代码 + 3 位顺序号 + 类型字母，由系统按登记顺序分配；新建时可省略，填写则须与分配的编码一致",
        ),
        Field("enterprise", "所属单位信用代码", required=True, max_length=18),
        Field("site", "场所名称", required=True, max_length=200),
        Field(
            "kind",
            "类型",
            required=True,
            max_length=12,
            rule="generating 产生、storage 贮存、utilization 利用、disposal 处置",
        ),
        Field("name", "设施名称", required=True, max_length=200),
        Field("design_capacity_tonnes", "设计能力（吨/年）", DECIMAL, digits=TONNES, rule="利用、处置设施必填，> 0"),
        Field("storage_capacity_tonnes", "贮存能力（吨）", DECIMAL, digits=TONNES, rule="贮存设施必填，> 0"),
    ),
)

LICENCE = RecordType(
    "licence",
    "危险废物经营许可证",
    "number",
    (
        Field("number", "许可证编号", required=True, max_length=40),
        Field("holder", "持证单位信用代码", required=True, max_length=18, rule="经营单位或收集单位，已核验"),
        Field("kind", "类别", required=True, max_length=16, rule="comprehensive 综合经营、collection 收集经营"),
        Field(
            "methods",
            "经营方式",
            LIST,
            required=True,
            rule="collection 收集、storage 贮存、utilization 利用、disposal 处置",
        ),
        Field("annual_capacity_tonnes", "核准经营规模（吨/年）", DECIMAL, required=True, digits=TONNES, rule="> 0"),
        Field("valid_from", "有效期自", DATE, required=True),
        Field(
            "valid_to",
            "有效期至",
            DATE,
            rule="由类别计算（综合 5 年、收集 3 年，至周年前一日，许可办法 第十三条）；填写则须与计算结果一致",
        ),
        Field(
            "scopes",
            "核准范围",
            SCOPES,
            required=True,
            rule='[{"item": "HW08" 或 "900-214-08", "annual_tonnes": "100", "aggregate": "共用设施名（可省略）"}]；'
            "收集经营许可证只能核准 900-214-08、900-044-49。Excel：HW08=100; 900-214-08=50@生产线A",
        ),
        Field("aggregates", "共用设施规模", AGGREGATES, rule='{"生产线A": "300"}。Excel：生产线A=300; 生产线B=200'),
        Field("facility_addresses", "贮存、处置设施地址"),
        Field("status", "状态", max_length=10, rule="valid 有效（缺省）、suspended 暂扣、revoked 吊销"),
    ),
)

VEHICLE = RecordType(
    "vehicle",
    "运输车辆",
    "plate",
    (
        Field("plate", "车牌号", required=True, rule="如 吉A12345（新能源 6 位）"),
        Field("carrier", "承运人信用代码", required=True, max_length=18, rule="承运人，已核验"),
        Field("transport_certificate", "道路运输证号", required=True, max_length=30),
        Field("payload_tonnes", "核定载质量（吨）", DECIMAL, required=True, digits=(8, 3), rule="> 0"),
        Field("valid_until", "道路运输证有效期至", DATE, required=True, rule="新建时不得已过期"),
        Field(
            "dangerous_goods_classes",
            "危险货物类别",
            LIST,
            rule="GB 6944 类别 1–9，可带项别（如 2.1、6.1）；缺省 [9]",
        ),
        Field("gps_terminal_id", "卫星定位终端号", max_length=30),
        Field("inspection_valid_until", "检验有效期至", DATE, rule="新建时不得已过期"),
    ),
)

DRIVER = RecordType(
    "driver",
    "驾驶员与押运员",
    "certificate_number",
    (
        Field("certificate_number", "从业资格证号", required=True, max_length=40),
        Field("carrier", "承运人信用代码", required=True, max_length=18),
        Field("name", "姓名", required=True, max_length=50),
        Field("role", "岗位", required=True, max_length=10, rule="driver 驾驶员、escort 押运员"),
        Field("certificate_valid_until", "资格证有效期至", DATE, required=True, rule="新建时不得已过期"),
        Field("phone", "电话", max_length=30),
    ),
)

CONTRACT = RecordType(
    "contract",
    "合同",
    "(party_a, number)",
    (
        Field(
            "party_a", "甲方信用代码", required=True, max_length=18, rule="移出人（委托利用处置）或托运人（委托运输）"
        ),
        Field("number", "合同编号", required=True, max_length=60, rule="同一甲方内不重复"),
        Field("kind", "类型", required=True, max_length=10, rule="disposal 委托利用处置、transport 委托运输"),
        Field(
            "party_b",
            "乙方信用代码",
            required=True,
            max_length=18,
            rule="经营/收集单位（disposal）或承运人（transport）",
        ),
        Field("waste_codes", "废物代码", LIST, required=True, rule="在起始日施行的名录中，至少一个"),
        Field("planned_tonnes", "计划量（吨）", DECIMAL, required=True, digits=TONNES, rule="> 0"),
        Field("valid_from", "有效期自", DATE, required=True),
        Field("valid_to", "有效期至", DATE, required=True, rule="不早于有效期自"),
    ),
)

SITE_REF = (
    Field("enterprise", "所属单位信用代码", required=True, max_length=18),
    Field("site", "场所名称", required=True, max_length=200, rule="本文件或本系统中已有的场所"),
)

PLAN = RecordType(
    "plan",
    "管理计划",
    "(enterprise, site, year)",
    (
        *SITE_REF,
        Field("year", "计划年度", INT, required=True),
        Field("version", "版本", INT),
        Field("status", "状态", max_length=10, rule="draft 草稿、filed 已备案、returned 已退回、accepted 审核通过"),
        Field("management_class", "管理类别", max_length=12),
        Field("filing_number", "备案编号", max_length=20),
        Field("filed_at", "备案时间", DATETIME),
        Field("content", "A.1/A.2 内容", JSON),
        Field(
            "lines",
            "A.3–A.7 明细",
            JSON,
            rule="[{section, waste_code, waste_name, tonnes, facility_code, method_code, measures, transfer_type, "
            "receiver_type, receiver, receiver_name, licence_number}]；v1 只导出，导入时报告 import_not_supported",
        ),
    ),
)

LEDGER_ENTRY = RecordType(
    "ledger_entry",
    "台账记录",
    "(enterprise, site, batch_code)",
    (
        *SITE_REF,
        Field(
            "kind",
            "记录类型",
            required=True,
            max_length=12,
            rule="generated 产生、stored_in 入库、stored_out 出库、self_treated 自行利用/处置、sent_out 委外利用/处置、"
            "received 接收（经营单位接受转移联单时由系统生成；导入规则见 manifest_number）",
        ),
        Field("batch_code", "批次编码", max_length=24, rule="同一场所内不重复；省略则按 HJ 1259 附录B 建议格式编号"),
        Field("occurred_at", "时间", DATETIME, required=True, rule="不晚于现在，不早于来源批次"),
        Field(
            "source_batch", "来源批次编码", max_length=24, rule="同一场所、本文件中在前或系统中已有的批次（§13 第14条）"
        ),
        Field(
            "waste_code", "废物代码", max_length=10, rule="产生记录必填，在记录日期施行的名录中；其他记录沿用来源批次"
        ),
        Field("category", "废物类别", max_length=4),
        Field("common_name", "废物俗称", max_length=100),
        Field("quantity", "填报数量", DECIMAL, required=True, digits=(14, 6), rule="> 0"),
        Field("unit", "计量单位", max_length=5, rule="t（缺省）、kg、L、m3、piece"),
        Field("density", "密度（吨/立方米）", DECIMAL, digits=(12, 6), rule="L、m3 必填"),
        Field("tonnes", "折合吨数", DECIMAL, digits=(14, 6), rule="piece 必填；其他单位由数量换算"),
        Field(
            "container_code", "容器/包装编码", max_length=40, rule="产生：每个容器一条记录；37 位数字识别码须为本单位的"
        ),
        Field("container_type", "容器/包装类型", max_length=40),
        Field("container_count", "容器/包装数量", INT),
        Field("container_litres", "容器容积（升）", DECIMAL, digits=(10, 2)),
        Field("facility", "设施编码", max_length=22, rule="本场所的产生、贮存或利用/处置设施"),
        Field("handler", "经办人", max_length=60),
        Field("destination", "去向", max_length=100),
        Field("method_code", "利用/处置方式代码", max_length=8, rule="自行、委外必填"),
        Field("finished_at", "完毕时间", DATETIME),
        Field("receiver_type", "接收单位类型", max_length=10, rule="licensed、exempt、abroad（委外必填）"),
        Field("receiver", "接收单位", max_length=200, rule="信用代码或名称"),
        Field("licence_number", "许可证编号/豁免条目/出口核准通知单编号", max_length=60, rule="委外必填（§13 第15条）"),
        Field("reversal_of", "冲销的批次编码", max_length=24, rule="只导出；导入冲销记录须在系统中办理"),
        Field("reason", "冲销原因", max_length=300),
        Field(
            "manifest_number",
            "转移联单编号",
            max_length=14,
            rule="14 位数字；只用于接收记录（其他记录导出为空，导入时须为空）。导入接收记录时必填：须为本系统中"
            "已接受的联单，接受人为本单位（指定了接收场所的须为本场所），该联单尚无未冲销的接收记录，废物代码为联单所列；"
            "经台账接收服务写入，批次编码由系统分配（与文件不同时，本文件引用它的记录随之改为分配的编码）",
        ),
        Field(
            "container_codes",
            "容器识别码列表",
            LIST,
            rule="接收记录：联单该行容器的数字识别码（只有一个时同时填在 container_code）；其他记录为空",
        ),
    ),
)

DECLARATION = RecordType(
    "declaration",
    "申报",
    "(enterprise, site, kind, period_start)",
    (
        *SITE_REF,
        Field("kind", "申报类型", required=True, max_length=10, rule="monthly、quarterly、annual"),
        Field("period_start", "申报期起", DATE, required=True),
        Field("period_end", "申报期止", DATE),
        Field("due_on", "申报截止日", DATE),
        Field("status", "状态", max_length=10, rule="draft 草稿、submitted 已申报"),
        Field("generated_at", "生成时间", DATETIME),
        Field("submitted_at", "申报时间", DATETIME),
        Field("late", "逾期申报", BOOL),
        Field("revision", "更正次数", INT),
        Field("content", "申报内容", JSON, rule="附录C 各行（吨）；v1 只导出，导入时报告 import_not_supported"),
    ),
)

RECORD_TYPES: dict[str, RecordType] = {
    t.name: t for t in (ENTERPRISE, SITE, FACILITY, LICENCE, VEHICLE, DRIVER, CONTRACT, PLAN, LEDGER_ENTRY, DECLARATION)
}  # in dependency order: a record refers only to types before it
IMPORT_ONLY_EXPORTED = ("plan", "declaration")  # v1 exports these; importing them is refused per record


# --------------------------------------------------------------------------------------------
# problems and records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One error of an import: where (line, or sheet + row + column), which field, which rule."""

    line: int  # line of a JSON Lines file, or row of an Excel sheet (1-based)
    field: str | None
    code: str
    message: str
    sheet: str | None = None
    column: str | None = None  # Excel column letter

    def __str__(self) -> str:
        if self.sheet is not None:
            where = f"工作表 {self.sheet} 第 {self.line} 行"
            if self.column:
                where += f" {self.column} 列"
            if self.field:
                where += f"（{self.field}）"
            return f"{where}：{self.message} ({self.code})"
        where = f"第 {self.line} 行 {self.field}" if self.field else f"第 {self.line} 行"
        return f"{where}：{self.message} ({self.code})"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "field": self.field, "code": self.code, "message": self.message}
        if self.sheet is not None:
            out["sheet"] = self.sheet
            out["column"] = self.column
        return out


@dataclass
class Record:
    """A record read from a line or a row: its type and the fields present, as Python values.
    A field absent from the record is absent here (an import leaves it as it is). A ``broken``
    record had shape errors: it is never written, but its key (when readable) still tells the
    records that refer to it why they cannot be imported."""

    type: RecordType
    values: dict[str, Any]
    line: int
    sheet: str | None = None
    columns: Mapping[str, str] | None = None  # field → Excel column letter
    broken: bool = False

    def problem(self, field: str | None, code: str, message: str) -> Problem:
        column = None
        if self.columns is not None and field:
            column = self.columns.get(re.split(r"[\[.]", field, maxsplit=1)[0])
        return Problem(self.line, field, code, message, sheet=self.sheet, column=column)


class ShapeError(Exception):
    def __init__(self, field: str | None, code: str, message: str) -> None:
        super().__init__(message)
        self.field, self.code, self.message = field, code, message


# --------------------------------------------------------------------------------------------
# reading values
# --------------------------------------------------------------------------------------------


def _text(f: Field, value: Any, *, excel: bool) -> str:
    if value is None:
        return ""
    if excel and isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        value = _plain_number(value)
    if not isinstance(value, str):
        raise ShapeError(f.name, "type_text", f"{f.label}应为文本，不是 {_shown(value)}")
    text = value.strip()
    if "\x00" in text:
        raise ShapeError(f.name, "nul_character", f"{f.label}不能包含 NUL 字符")
    if f.max_length is not None and len(text) > f.max_length:
        # The services' own wording (registry.services._text) where they check the same field.
        raise ShapeError(f.name, f"{f.name}_too_long", f"{f.label}不能超过 {f.max_length} 个字符")
    return text


def _plain_number(value: int | Decimal | float) -> str:
    """An Excel number typed where text was meant (a phone number, a code): its digits."""
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return str(int(number))
    return str(number)


def _date(f: Field, value: Any, *, excel: bool) -> dt.date:
    if excel and isinstance(value, dt.datetime):
        return value.date()
    if excel and isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
                return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ShapeError(f.name, "date_format", f"{f.label}应为日期 YYYY-MM-DD，不是 {_shown(value)}")


def _decimal(f: Field, value: Any, *, excel: bool) -> Decimal:
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, float) and excel:
        number = Decimal(str(value))  # Excel stores numbers as doubles; str() gives the shortest form
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        raise ShapeError(f.name, "decimal_format", f'{f.label}应为十进制数字（如 "12.5"），不是 {_shown(value)}')
    if f.digits is not None:
        max_digits, places = f.digits
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > places and number != number.quantize(Decimal(1).scaleb(-places)):
            raise ShapeError(f.name, "decimal_places", f"{f.label}最多 {places} 位小数，不是 {number}")
        if abs(number) >= Decimal(10) ** (max_digits - places):
            raise ShapeError(f.name, "decimal_too_large", f"{f.label} {number} 超出允许的范围")
        # As the database will hold it (so that what is checked and compared is what is stored).
        number = number.quantize(Decimal(1).scaleb(-places))
    return number


def _list(f: Field, value: Any, *, excel: bool) -> list[str]:
    if value is None:
        return []
    if excel and isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
        text = _plain_number(value) if not isinstance(value, str) else value
        return [item for item in LIST_SPLIT.split(text.strip()) if item]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ShapeError(f.name, "type_list", f'{f.label}应为文本列表（如 ["a", "b"]），不是 {_shown(value)}')
    return [item.strip() for item in value]


def _bool(f: Field, value: Any, *, excel: bool) -> bool:
    if isinstance(value, bool):
        return value
    if excel and isinstance(value, str) and value.strip().lower() in ("是", "否", "true", "false", "1", "0"):
        return value.strip().lower() in ("是", "true", "1")
    raise ShapeError(f.name, "type_bool", f"{f.label}应为 true 或 false，不是 {_shown(value)}")


_EXCEL_SCOPE = re.compile(r"^(?P<item>[^=@]+)=(?P<tonnes>[^@]+)(?:@(?P<aggregate>.+))?$")


def _scopes(f: Field, value: Any, *, excel: bool) -> list[ScopeIn]:
    if value is None:
        return []
    items: list[Any]
    if excel and isinstance(value, str):
        items = []
        for i, part in enumerate(p.strip() for p in re.split(r"[;；\n]+", value) if p.strip()):
            match = _EXCEL_SCOPE.match(part)
            if match is None:
                raise ShapeError(
                    f"{f.name}[{i}]", "scope_format", f"核准范围 {part!r} 应写作 类别或代码=规模（如 HW08=100）"
                )
            items.append(
                {"item": match["item"], "annual_tonnes": match["tonnes"], "aggregate": match["aggregate"] or ""}
            )
    elif isinstance(value, list):
        items = value
    else:
        raise ShapeError(f.name, "type_list", f"{f.label}应为列表，不是 {_shown(value)}")
    scopes = []
    amount = Field("annual_tonnes", "核准规模", DECIMAL, digits=TONNES)
    for i, item in enumerate(items):
        name = f"{f.name}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("item"), str):
            raise ShapeError(name, "scope_format", '核准范围的每一项应为 {"item": "HW08", "annual_tonnes": "100"}')
        unknown = sorted(set(item) - {"item", "annual_tonnes", "aggregate"})
        if unknown:
            raise ShapeError(name, "unknown_field", f"核准范围中没有字段 {', '.join(unknown)}")
        try:
            tonnes = _decimal(amount, item.get("annual_tonnes"), excel=excel)
        except ShapeError as exc:
            raise ShapeError(name, exc.code, exc.message) from None
        aggregate = item.get("aggregate") or ""
        if not isinstance(aggregate, str):
            raise ShapeError(name, "type_text", "共用设施名应为文本")
        scopes.append(ScopeIn(item["item"].strip(), tonnes, aggregate.strip()))
    return scopes


def _aggregates(f: Field, value: Any, *, excel: bool) -> dict[str, Decimal]:
    if value is None:
        return {}
    pairs: list[tuple[str, Any]]
    if excel and isinstance(value, str):
        pairs = []
        for part in (p.strip() for p in re.split(r"[;；\n]+", value) if p.strip()):
            name, sep, tonnes = part.partition("=")
            if not sep:
                raise ShapeError(f.name, "aggregate_format", f"共用设施规模 {part!r} 应写作 名称=规模")
            pairs.append((name.strip(), tonnes.strip()))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise ShapeError(f.name, "type_object", f'{f.label}应为 {{"名称": "规模"}}，不是 {_shown(value)}')
    amount = Field(f.name, f.label, DECIMAL, digits=TONNES)
    out: dict[str, Decimal] = {}
    for name, tonnes in pairs:
        if not name or len(name) > 100:
            raise ShapeError(f.name, "aggregate_name", "共用设施名不能为空，不能超过 100 个字符")
        out[name] = _decimal(amount, tonnes, excel=excel)
    return out


def _datetime(f: Field, value: Any, *, excel: bool) -> dt.datetime:
    if excel and isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ShapeError(f.name, "datetime_format", f"{f.label}应为 ISO 8601 时间，不是 {_shown(value)}") from None
    else:
        raise ShapeError(f.name, "datetime_format", f"{f.label}应为 ISO 8601 时间，不是 {_shown(value)}")
    if parsed.tzinfo is None:
        if not excel:
            raise ShapeError(f.name, "datetime_naive", f"{f.label}须带时区（如 +08:00）")
        from django.utils import timezone

        parsed = parsed.replace(tzinfo=timezone.get_current_timezone())  # Excel cells hold Beijing time
    return parsed


def _int(f: Field, value: Any, *, excel: bool) -> int:
    if isinstance(value, bool):
        raise ShapeError(f.name, "type_int", f"{f.label}应为整数，不是 {_shown(value)}")
    if isinstance(value, int):
        return value
    if excel and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value.strip())
    raise ShapeError(f.name, "type_int", f"{f.label}应为整数，不是 {_shown(value)}")


def _json(f: Field, value: Any, *, excel: bool) -> Any:
    if excel and isinstance(value, str):
        import json

        try:
            return json.loads(value, parse_float=Decimal)
        except ValueError:
            raise ShapeError(f.name, "json_invalid", f"{f.label}应为 JSON") from None
    if isinstance(value, dict | list):
        return value
    raise ShapeError(f.name, "type_json", f"{f.label}应为 JSON 对象或数组，不是 {_shown(value)}")


READERS = {
    DATETIME: _datetime,
    INT: _int,
    JSON: _json,
    TEXT: _text,
    DATE: _date,
    DECIMAL: _decimal,
    LIST: _list,
    BOOL: _bool,
    SCOPES: _scopes,
    AGGREGATES: _aggregates,
}


def _shown(value: Any) -> str:
    text = (
        repr(value)
        if isinstance(value, str)
        else type(value).__name__
        if isinstance(value, dict | list)
        else str(value)
    )
    return text if len(text) <= 40 else text[:37] + "…"


def read_fields(
    rtype: RecordType, raw: Mapping[str, Any], *, excel: bool = False
) -> tuple[dict[str, Any], list[ShapeError]]:
    """The record's fields as Python values, and every shape error (unknown, missing, mistyped).

    An absent field means "not given" (an existing record keeps its value); ``null`` means
    "empty". A required field must be present; whether an empty text or list is acceptable is
    the registry services' rule (their messages say so), not this function's.
    """
    values: dict[str, Any] = {}
    errors: list[ShapeError] = []
    for name in raw:
        if name not in rtype.by_name and name not in ("type", "version"):
            errors.append(ShapeError(name, "unknown_field", f"{rtype.label}记录没有字段 {name}"))
    for f in rtype.fields:
        if f.name not in raw:
            if f.required:
                errors.append(ShapeError(f.name, f"{f.name}_required", f"{f.label}不能为空"))
            continue
        value = raw[f.name]
        if value is None and f.kind not in (TEXT, LIST, SCOPES, AGGREGATES):
            if f.required:
                errors.append(ShapeError(f.name, f"{f.name}_required", f"{f.label}不能为空"))
            else:
                values[f.name] = None
            continue
        try:
            values[f.name] = READERS[f.kind](f, value, excel=excel)
        except ShapeError as exc:
            errors.append(exc)
    return values, errors


def field_tables_markdown() -> str:
    """Section 7 of docs/exchange-format.md (a test keeps the page equal to this)."""
    out: list[str] = []
    for name, rtype in RECORD_TYPES.items():
        out += [f"### `{name}` — {rtype.label}", "", f"Natural key: `{rtype.key}`.", ""]
        out += ["| field | 中文列名 | required | type | rule |", "|---|---|---|---|---|"]
        for f in rtype.fields:
            rule = f.rule.replace("|", "\\|")
            out.append(f"| `{f.name}` | {f.label} | {'yes' if f.required else ''} | {f.doc_type} | {rule} |")
        out.append("")
    return "\n".join(out) + "\n"
