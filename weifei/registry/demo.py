"""The demo province: a seeded, realistic-looking Jilin for demos, screenshots and load tests.

Two halves. ``demo_plan_build`` is pure: from a seed, a scale, the county-level regions and
a reference date it builds every unit, generation profile, vehicle, licence and account as
plain data, drawing only from ``random.Random(seed)`` (never from the date), so the same
seed gives the same province. ``demo_province_generate`` writes that plan through the
registry and accounts services as ``SYSTEM`` in one transaction, so every row has its event.

Shape (scale 1 ≈ 600 units): units in all 9 市（州）, 梅河口市 and 长白山管委会's three areas,
weighted like Jilin's economy (长春 automotive, 吉林 petrochemicals, 松原 oilfield, 通化
pharmaceuticals …); annual quantities are lognormal, so most generators report under 10 t
and a few over 1,000 t; every waste code exists in 名录2021; every 统一社会信用代码 carries
a correct GB 32100-2015 check character. Company and hospital names are invented (the
universities are real, their figures are not); any likeness to a real unit's data is not
intended. All demo accounts share ``DEMO_PASSWORD`` — demo data only.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.urls import reverse

from weifei.accounts.services import enterprise_user_create, regulator_account_create
from weifei.catalog.models import CatalogueVersion, Region
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.core.identifiers import credit_code_check_char

from .models import Driver, Enterprise, Site
from .services import (
    contract_create,
    driver_create,
    eia_approval_create,
    emergency_plan_create,
    enterprise_create,
    facility_create,
    generation_profile_set,
    insurance_create,
    licence_create,
    road_licence_create,
    site_class_refresh,
    site_create,
    vehicle_create,
)

DEMO_PASSWORD = "weifei-demo-22"  # printed by `weifei demo-logins`; demo databases only
UNITS_PER_SCALE = 600
MAX_SCALE = 20.0
# Below this the fixed big units (showcases, operators) would outnumber the small ones and
# the province would stop looking like one; tiny scales still get this many generators.
MIN_GENERATORS = 60
REFERENCE_MISSING = "尚未载入参考数据（行政区域、危险废物名录）。请先运行 weifei load-reference"

# ---------------------------------------------------------------------------------------
# Places
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionRef:
    """A county-level region as the plan sees it (read from the Region table)."""

    key: str
    code6: str
    name: str
    level: str
    parent_key: str


@dataclass(frozen=True)
class Group:
    """A unit of the demo's geography: a 市（州）, 梅河口市 or 长白山管委会."""

    key: str  # the Region key of the supervising unit
    city: str  # how names and addresses say it: 长春市, 延边州
    address: str  # address prefix after 吉林省
    short: str  # in company names: 长春
    plate: str  # vehicle plate letter after 吉
    phone_area: str
    weight: float  # share of units, roughly by economic weight
    centre: tuple[float, float]
    has_carriers: bool = True


GROUPS: tuple[Group, ...] = (
    Group("220100", "长春市", "长春市", "长春", "A", "0431", 0.40, (43.817, 125.324)),
    Group("220200", "吉林市", "吉林市", "吉林", "B", "0432", 0.17, (43.838, 126.549)),
    Group("220700", "松原市", "松原市", "松原", "J", "0438", 0.08, (45.141, 124.825)),
    Group("220300", "四平市", "四平市", "四平", "C", "0434", 0.07, (43.166, 124.350)),
    Group("220500", "通化市", "通化市", "通化", "E", "0435", 0.065, (41.728, 125.940)),
    Group("222400", "延边州", "延边朝鲜族自治州", "延边", "H", "0433", 0.065, (42.891, 129.509)),
    Group("220600", "白山市", "白山市", "白山", "F", "0439", 0.045, (41.940, 126.424)),
    Group("220400", "辽源市", "辽源市", "辽源", "D", "0437", 0.04, (42.888, 125.144)),
    Group("220800", "白城市", "白城市", "白城", "G", "0436", 0.035, (45.620, 122.839)),
    # 梅河口市: coded under 通化市 but supervised by the province, so its own group.
    Group("220581", "梅河口市", "", "梅河口", "E", "0448", 0.02, (42.539, 125.710)),
    Group("changbaishan", "长白山", "长白山保护开发区", "长白山", "H", "0433", 0.01, (42.10, 127.90), False),
)
GROUP_BY_KEY = {g.key: g for g in GROUPS}
CHANGBAISHAN_AREAS = ("changbaishan-chibei", "changbaishan-chixi", "changbaishan-chinan")

# County seats (approximate); urban districts and zones use their group's centre.
COUNTY_CENTRES: dict[str, tuple[float, float]] = {
    "220112": (43.525, 125.664),
    "220113": (44.152, 125.839),
    "220122": (44.432, 125.185),
    "220182": (44.840, 126.533),
    "220183": (44.537, 125.703),
    "220184": (43.505, 124.823),
    "220221": (43.672, 126.497),
    "220281": (43.724, 127.344),
    "220282": (42.972, 126.746),
    "220283": (44.406, 126.965),
    "220284": (42.946, 126.061),
    "220322": (43.307, 124.336),
    "220323": (43.345, 125.305),
    "220382": (43.518, 123.503),
    "220421": (42.677, 125.531),
    "220422": (42.926, 124.991),
    "220503": (41.776, 126.043),
    "220521": (41.679, 125.759),
    "220523": (42.685, 126.046),
    "220524": (42.285, 125.744),
    "220581": (42.539, 125.710),
    "220582": (41.125, 126.194),
    "220605": (42.057, 126.591),
    "220621": (42.332, 127.280),
    "220622": (42.389, 126.813),
    "220623": (41.420, 128.200),
    "220681": (41.811, 126.918),
    "220721": (45.117, 124.827),
    "220722": (44.276, 123.967),
    "220723": (45.004, 124.024),
    "220781": (44.989, 126.043),
    "220821": (45.848, 123.199),
    "220822": (44.813, 123.088),
    "220881": (45.335, 122.788),
    "220882": (45.507, 124.292),
    "222402": (42.967, 129.844),
    "222403": (43.373, 128.232),
    "222404": (42.863, 130.366),
    "222405": (42.767, 129.427),
    "222406": (42.547, 129.011),
    "222424": (43.313, 129.771),
    "222426": (43.111, 128.900),
    "changbaishan-chibei": (42.405, 128.106),
    "changbaishan-chixi": (42.165, 127.475),
    "changbaishan-chinan": (41.950, 127.850),
}

SHORT_NAMES = {
    "前郭尔罗斯蒙古族自治县": "前郭",
    "长白朝鲜族自治县": "长白",
    "伊通满族自治县": "伊通",
}

# ---------------------------------------------------------------------------------------
# Industries (GB/T 4754-2017) and the 名录2021 codes they typically report
# ---------------------------------------------------------------------------------------

Codes = tuple[tuple[str, float], ...]  # (waste code, relative weight)


@dataclass(frozen=True)
class Variant:
    code: str  # GB/T 4754-2017 class
    name: str
    words: tuple[str, ...]  # what goes before 有限公司
    codes: Codes
    weight: float = 1.0
    size: float = 1.0  # multiplies the industry's median


@dataclass(frozen=True)
class Industry:
    key: str
    label: str
    weight: float  # province-wide share of generators
    median_t: float  # median annual tonnes
    sigma: float  # lognormal spread: the heavy tail
    variants: tuple[Variant, ...]


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "repair",
        "汽车维修",
        0.30,
        0.6,
        1.1,
        (
            Variant(
                "8111",
                "汽车修理与维护",
                ("汽车维修", "汽车服务", "汽车修理", "汽车销售服务"),
                (
                    ("900-214-08", 6),
                    ("900-249-08", 2),
                    ("900-052-31", 1.5),
                    ("900-041-49", 1.5),
                    ("900-252-12", 1),
                    ("900-218-08", 0.5),
                    ("900-049-50", 0.3),
                    ("900-032-36", 0.1),
                ),
            ),
        ),
    ),
    Industry(
        "hospital",
        "医疗卫生",
        0.17,
        4.0,
        1.6,
        (
            Variant(
                "8411",
                "综合医院",
                (),
                (
                    ("841-001-01", 6),
                    ("841-002-01", 2),
                    ("841-003-01", 1),
                    ("841-004-01", 1),
                    ("841-005-01", 1),
                    ("900-024-29", 0.2),
                ),
            ),
        ),
    ),
    Industry(
        "food",
        "食品加工",
        0.12,
        1.2,
        1.3,
        (
            Variant("1313", "玉米加工", ("玉米", "粮食", "米业", "农产品"), ()),
            Variant("1391", "淀粉及淀粉制品制造", ("淀粉", "生化", "玉米开发"), ()),
            Variant("1352", "禽类屠宰", ("禽业", "食品", "牧业"), ()),
            Variant("1351", "牲畜屠宰", ("肉业", "食品", "牧业"), ()),
            Variant("1440", "乳制品制造", ("乳业",), (), 0.5),
            Variant("1511", "酒精制造", ("酒精", "生物化工"), (), 0.5, 3.0),
            Variant("1512", "白酒制造", ("酒业", "酿酒"), (), 0.7),
            Variant("1525", "瓶（罐）装饮用水制造", ("矿泉水", "饮品"), (), 0.6),
        ),
    ),
    Industry(
        "auto",
        "汽车制造",
        0.08,
        8.0,
        1.6,
        (
            Variant(
                "3660",
                "汽车零部件及配件制造",
                ("汽车零部件", "汽车部件", "汽车饰件", "车桥", "汽车电子", "汽车底盘", "汽车配件"),
                (
                    ("900-006-09", 3),
                    ("900-249-08", 3),
                    ("336-064-17", 2),
                    ("900-252-12", 2),
                    ("900-041-49", 2),
                    ("900-200-08", 1),
                    ("900-203-08", 1),
                    ("900-039-49", 1),
                    ("336-054-17", 0.4),
                ),
                6,
            ),
            Variant(
                "3610",
                "汽车整车制造",
                ("汽车制造", "客车制造"),
                (
                    ("900-252-12", 5),
                    ("336-064-17", 3),
                    ("900-249-08", 2),
                    ("900-041-49", 2),
                    ("900-039-49", 1),
                    ("900-006-09", 1),
                ),
                0.5,
                4.0,
            ),
            Variant(
                "3630",
                "改装汽车制造",
                ("专用汽车", "改装车", "专用车"),
                (
                    ("900-252-12", 4),
                    ("900-249-08", 2),
                    ("336-064-17", 2),
                    ("900-041-49", 1),
                ),
                1.5,
                1.5,
            ),
        ),
    ),
    Industry(
        "lab",
        "科研检测",
        0.06,
        0.4,
        1.2,
        (
            Variant(
                "8341",
                "普通高等教育",
                (),
                (
                    ("900-047-49", 6),
                    ("900-041-49", 2),
                    ("900-402-06", 1),
                    ("900-017-14", 0.5),
                    ("900-999-49", 0.3),
                ),
                2,
                2.0,
            ),
            Variant(
                "7452",
                "检测服务",
                ("检测技术", "检测", "检验检测"),
                (
                    ("900-047-49", 6),
                    ("900-041-49", 2),
                    ("900-402-06", 1),
                ),
                2,
            ),
            Variant(
                "7320",
                "工程和技术研究和试验发展",
                ("化工研究", "新材料研究", "技术研究"),
                (
                    ("900-047-49", 5),
                    ("900-041-49", 2),
                    ("900-017-14", 1),
                    ("900-402-06", 1),
                ),
            ),
        ),
    ),
    Industry(
        "pharma",
        "医药制造",
        0.06,
        6.0,
        1.5,
        (
            Variant(
                "2710",
                "化学药品原料药制造",
                ("药业", "制药", "医药化工"),
                (
                    ("271-001-02", 3),
                    ("271-002-02", 3),
                    ("271-003-02", 1),
                    ("271-004-02", 1),
                    ("271-005-02", 0.5),
                    ("271-006-50", 0.5),
                    ("900-047-49", 1),
                    ("900-041-49", 1),
                    ("900-402-06", 1),
                ),
            ),
            Variant(
                "2720",
                "化学药品制剂制造",
                ("药业", "制药"),
                (
                    ("272-001-02", 2),
                    ("272-003-02", 2),
                    ("272-005-02", 2),
                    ("900-002-03", 1),
                    ("900-041-49", 1),
                    ("900-047-49", 1),
                ),
            ),
            Variant(
                "2740",
                "中成药生产",
                ("药业", "中药", "制药", "参业"),
                (
                    ("900-002-03", 2),
                    ("900-041-49", 2),
                    ("900-047-49", 1),
                    ("900-039-49", 1),
                    ("900-402-06", 1),
                ),
                2,
            ),
            Variant(
                "2750",
                "兽用药品制造",
                ("动物药业", "兽药"),
                (
                    ("275-004-02", 2),
                    ("275-006-02", 2),
                    ("275-008-02", 1),
                    ("900-041-49", 1),
                ),
                0.5,
            ),
            Variant(
                "2761",
                "生物药品制造",
                ("生物制药", "生物技术", "生物工程"),
                (
                    ("276-001-02", 2),
                    ("276-002-02", 2),
                    ("276-004-02", 1),
                    ("276-005-02", 1),
                    ("900-047-49", 1),
                    ("900-041-49", 1),
                ),
            ),
        ),
    ),
    Industry(
        "petrochem",
        "石油化工",
        0.04,
        25.0,
        1.8,
        (
            Variant(
                "2511",
                "原油加工及石油制品制造",
                ("石化", "炼油", "石油化工"),
                (
                    ("251-002-08", 3),
                    ("251-003-08", 2),
                    ("251-006-08", 1),
                    ("251-013-11", 1),
                    ("251-014-34", 1),
                    ("251-015-35", 1),
                    ("251-016-50", 1),
                    ("251-018-50", 0.5),
                    ("251-019-50", 0.5),
                    ("900-249-08", 1),
                ),
                1,
                2.0,
            ),
            Variant(
                "2614",
                "有机化学原料制造",
                ("化工", "精细化工", "化学"),
                (
                    ("261-019-11", 1),
                    ("261-106-11", 1),
                    ("261-128-11", 1),
                    ("261-130-11", 1),
                    ("261-153-50", 1),
                    ("261-064-38", 1),
                    ("261-071-39", 1),
                    ("900-013-11", 2),
                    ("900-041-49", 1),
                    ("900-039-49", 1),
                ),
                2,
            ),
            Variant(
                "2651",
                "初级形态塑料及合成树脂制造",
                ("树脂", "新材料", "合成材料"),
                (
                    ("265-102-13", 2),
                    ("265-103-13", 2),
                    ("265-104-13", 1),
                    ("261-151-50", 1),
                    ("261-154-50", 1),
                    ("261-155-50", 1),
                    ("900-041-49", 1),
                ),
            ),
            Variant(
                "2641",
                "涂料制造",
                ("涂料", "油漆"),
                (
                    ("264-012-12", 2),
                    ("264-013-12", 2),
                    ("900-299-12", 1),
                    ("900-041-49", 1),
                ),
                1,
                0.3,
            ),
        ),
    ),
    Industry(
        "metal",
        "冶金及金属加工",
        0.04,
        20.0,
        1.8,
        (
            Variant(
                "3120",
                "炼钢",
                ("钢铁", "特钢"),
                (
                    ("312-001-23", 4),
                    ("313-001-34", 2),
                    ("900-249-08", 1),
                    ("900-041-49", 1),
                    ("900-220-08", 0.5),
                ),
                0.5,
                5.0,
            ),
            Variant(
                "2521",
                "炼焦",
                ("焦化", "煤化工"),
                (
                    ("252-002-11", 2),
                    ("252-004-11", 2),
                    ("252-010-11", 1),
                    ("252-013-11", 1),
                    ("252-001-11", 1),
                    ("900-249-08", 1),
                ),
                0.4,
                3.0,
            ),
            Variant(
                "3216",
                "铝冶炼",
                ("铝业", "铝材"),
                (
                    ("321-026-48", 4),
                    ("321-034-48", 2),
                    ("321-024-48", 1),
                    ("900-249-08", 1),
                    ("336-064-17", 1),
                ),
            ),
            Variant(
                "3140",
                "铁合金冶炼",
                ("铁合金", "冶金"),
                (
                    ("314-001-21", 3),
                    ("900-249-08", 1),
                    ("900-041-49", 1),
                ),
                0.5,
            ),
            Variant(
                "3130",
                "钢压延加工",
                ("钢材", "钢管", "金属制品"),
                (
                    ("313-001-34", 3),
                    ("336-064-17", 2),
                    ("900-249-08", 1),
                    ("900-204-08", 1),
                ),
            ),
            Variant(
                "3360",
                "金属表面处理及热处理加工",
                ("表面处理", "电镀", "热处理"),
                (
                    ("336-054-17", 2),
                    ("336-063-17", 2),
                    ("336-064-17", 3),
                    ("336-052-17", 1),
                    ("336-069-17", 1),
                    ("900-203-08", 1),
                ),
                1.5,
                0.3,
            ),
        ),
    ),
    Industry(
        "power",
        "电力热力",
        0.03,
        6.0,
        1.5,
        (
            Variant(
                "4412",
                "热电联产",
                ("热电", "热力"),
                (
                    ("772-007-50", 3),
                    ("900-220-08", 1),
                    ("900-249-08", 2),
                    ("900-217-08", 1),
                    ("900-041-49", 1),
                ),
                2,
            ),
            Variant(
                "4411",
                "火力发电",
                ("发电", "电力"),
                (
                    ("772-007-50", 3),
                    ("900-220-08", 1),
                    ("900-249-08", 2),
                    ("900-041-49", 1),
                ),
            ),
        ),
    ),
    Industry(
        "oilfield",
        "石油开采",
        0.0,
        40.0,
        1.7,
        (
            Variant(
                "0711",
                "陆地石油开采",
                ("石油工程", "油田技术服务", "采油"),
                (
                    ("071-001-08", 5),
                    ("071-002-08", 3),
                    ("900-249-08", 1),
                    ("900-210-08", 1),
                    ("900-041-49", 1),
                ),
            ),
        ),
    ),
)
INDUSTRY_BY_KEY = {i.key: i for i in INDUSTRIES}
FOOD_CODES: Codes = (
    ("900-249-08", 3),
    ("900-041-49", 2),
    ("900-047-49", 1),
    ("900-217-08", 1),
    ("900-218-08", 1),
    ("900-039-49", 0.5),
    ("900-023-29", 0.3),
)

# How each group departs from the province-wide industry mix (missing = 1; oilfield = 0).
GROUP_INDUSTRY: dict[str, dict[str, float]] = {
    "220100": {"auto": 5, "lab": 2.5, "pharma": 1.2, "food": 1.2},
    "220200": {"petrochem": 5, "metal": 1.5, "food": 1.2, "lab": 1.2},
    "220700": {"oilfield": 12, "petrochem": 2.5, "food": 1.3},
    "220300": {"food": 1.6, "auto": 1.2, "lab": 0.8},
    "220500": {"pharma": 4, "metal": 2, "lab": 0.6},
    "222400": {"pharma": 2, "food": 1.5, "lab": 1.2},
    "220600": {"pharma": 2, "food": 1.5, "metal": 1.2, "auto": 0.3},
    "220400": {"metal": 2.5, "auto": 1.0, "lab": 0.4},
    "220800": {"food": 2, "oilfield": 3, "pharma": 0.8, "auto": 0.3},
    "220581": {"pharma": 3, "food": 1.5, "auto": 0.3, "petrochem": 0.3},
    "changbaishan": {
        "auto": 0,
        "petrochem": 0,
        "metal": 0,
        "power": 0.3,
        "pharma": 0.5,
        "food": 1.5,
        "hospital": 1.5,
        "repair": 1.5,
        "lab": 0.5,
    },
}
INDUSTRY_DEFAULT_FACTOR = {"oilfield": 0.0}
OILFIELD_SHARE = 0.01  # base weight used with GROUP_INDUSTRY's oilfield factor

# Where an industry clusters inside its group: (industry, county key) → weight multiplier.
COUNTY_BOOST: dict[tuple[str, str], float] = {
    ("auto", "220174"): 10,
    ("auto", "220171"): 4,
    ("auto", "220106"): 2,
    ("auto", "220184"): 1.5,
    ("petrochem", "220203"): 10,
    ("petrochem", "220271"): 6,
    ("petrochem", "220702"): 3,
    ("petrochem", "220721"): 4,
    ("petrochem", "220771"): 3,
    ("oilfield", "220702"): 3,
    ("oilfield", "220721"): 3,
    ("oilfield", "220781"): 2,
    ("oilfield", "220723"): 2,
    ("oilfield", "220722"): 2,
    ("oilfield", "220882"): 4,
    ("pharma", "220502"): 3,
    ("pharma", "220521"): 3,
    ("pharma", "222403"): 5,
    ("pharma", "220173"): 3,
    ("pharma", "220172"): 2,
    ("pharma", "220621"): 2,
    ("metal", "220503"): 8,
    ("metal", "220402"): 3,
    ("metal", "220403"): 3,
    ("metal", "220272"): 2,
    ("metal", "220202"): 2,
    ("metal", "220605"): 2,
    ("food", "220273"): 4,
    ("food", "220183"): 2,
    ("food", "220122"): 2,
    ("food", "220184"): 2,
    ("food", "220182"): 2,
    ("food", "220621"): 2,
    ("food", "222403"): 1.5,
    ("lab", "220104"): 4,
    ("lab", "220172"): 3,
    ("lab", "220173"): 2,
    ("lab", "220204"): 2,
    ("lab", "222401"): 3,
}

UNIVERSITIES: dict[str, tuple[str, ...]] = {
    "220100": (
        "吉林大学",
        "东北师范大学",
        "长春理工大学",
        "长春工业大学",
        "吉林农业大学",
        "长春中医药大学",
        "吉林建筑大学",
        "长春工程学院",
    ),
    "220200": ("东北电力大学", "北华大学", "吉林化工学院", "吉林医药学院"),
    "220300": ("吉林师范大学",),
    "222400": ("延边大学",),
    "220500": ("通化师范学院",),
    "220800": ("白城师范学院",),
}
UNIVERSITY_COUNTY = {
    "吉林大学": "220104",
    "东北师范大学": "220172",
    "长春理工大学": "220105",
    "长春工业大学": "220104",
    "吉林农业大学": "220172",
    "长春中医药大学": "220172",
    "吉林建筑大学": "220172",
    "长春工程学院": "220105",
    "东北电力大学": "220204",
    "北华大学": "220204",
    "吉林化工学院": "220203",
    "吉林医药学院": "220204",
    "吉林师范大学": "220302",
    "延边大学": "222401",
    "通化师范学院": "220502",
    "白城师范学院": "220802",
}
DEPARTMENTS = tuple(
    (
        "化学学院 生命科学学院 材料科学与工程学院 环境与资源学院 药学院 "
        "分析测试中心 化学工程学院 农学院 医学院 物理学院"
    ).split()
)

BRAND_FIRST = "恒华鑫宏金瑞东天永佳博正盛兴泰丰润嘉德安利远新中广通鼎晟源昊亿汇辰"
BRAND_SECOND = "达盛源图诚丰升成固禾远通泰信和康宇辉洋隆邦川顺越航晖峰业旺昌"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐韩冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志海波宁鹏飞东斌春雪梅凤云龙成"
ROADS = tuple(
    (
        "人民大街 解放路 建设街 工业路 新华街 繁荣路 长江路 黄河路 发展大街 "
        "创业大街 振兴路 东风大街 前进大街 胜利街 和平路 友谊路 开发大路 迎宾路"
    ).split()
)
TOWNS = tuple(
    (
        "新立 双山 太平 永安 兴隆 前进 三合 合心 开安 朝阳 红旗 大岭 "
        "东风 万宝 友谊 胜利 团结 和平 五家 民主 长安 富民 新华 光明"
    ).split()
)
STREETS = ("桃源", "永吉", "曙光", "全安", "南岭", "西安", "青年", "站前", "临河", "新发", "重庆", "自强")


# ---------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfilePlan:
    year: int
    waste_code: str
    annual_tonnes: Decimal


@dataclass(frozen=True)
class VehiclePlan:
    plate: str
    transport_certificate: str
    payload_tonnes: Decimal
    dangerous_goods_classes: tuple[str, ...]
    gps_terminal_id: str
    valid_until: dt.date


@dataclass(frozen=True)
class LicencePlan:
    number: str
    kind: str
    categories: tuple[str, ...]
    methods: tuple[str, ...]
    annual_capacity_tonnes: Decimal
    valid_from: dt.date


@dataclass
class EnterprisePlan:
    credit_code: str
    name: str
    region_key: str
    group: str
    industry_code: str
    industry_name: str
    legal_representative: str
    address: str
    roles: tuple[str, ...]
    latitude: Decimal
    longitude: Decimal
    contact_phone: str
    profiles: list[ProfilePlan] = field(default_factory=list)
    vehicles: list[VehiclePlan] = field(default_factory=list)
    licences: list[LicencePlan] = field(default_factory=list)
    showcase: str = ""  # a tag the demo accounts refer to

    def total_tonnes(self, year: int) -> Decimal:
        return sum((p.annual_tonnes for p in self.profiles if p.year == year), Decimal(0))


@dataclass(frozen=True)
class AccountPlan:
    username: str
    full_name: str
    role: str
    region_key: str = ""  # regulator accounts
    department: str = ""
    showcase: str = ""  # enterprise accounts: the unit's showcase tag


@dataclass
class DemoPlan:
    seed: int
    scale: float
    year: int  # the generation-profile year (the last full year)
    enterprises: list[EnterprisePlan]
    accounts: list[AccountPlan]


# Regulators: the province, every 市（州）, 长白山管委会, 梅河口市 and a few county branches,
# plus one read-only liaison for transport. (username, region key, organisation, department)
REGULATORS: tuple[tuple[str, str, str, str], ...] = (
    ("sheng", "220000", "吉林省生态环境厅", "固体废物与化学品处"),
    ("changchun", "220100", "长春市生态环境局", "固体废物与化学品科"),
    ("jilin", "220200", "吉林市生态环境局", "固体废物与化学品科"),
    ("siping", "220300", "四平市生态环境局", "固体废物与化学品科"),
    ("liaoyuan", "220400", "辽源市生态环境局", "固体废物与化学品科"),
    ("tonghua", "220500", "通化市生态环境局", "固体废物与化学品科"),
    ("baishan", "220600", "白山市生态环境局", "固体废物与化学品科"),
    ("songyuan", "220700", "松原市生态环境局", "固体废物与化学品科"),
    ("baicheng", "220800", "白城市生态环境局", "固体废物与化学品科"),
    ("yanbian", "222400", "延边朝鲜族自治州生态环境局", "固体废物与化学品科"),
    ("changbaishan", "changbaishan", "长白山管委会生态环境局", "固体废物管理科"),
    ("meihekou", "220581", "梅河口市生态环境局", "固体废物管理股"),
    ("nanguan", "220102", "长春市生态环境局南关区分局", "综合执法股"),
    ("fengman", "220211", "吉林市生态环境局丰满区分局", "综合执法股"),
    ("yanji", "222401", "延边朝鲜族自治州生态环境局延吉市分局", "综合执法股"),
)
LIAISON = ("jiaotong", "220000", "吉林省交通运输厅", "道路运输（危险货物）联络")
ENTERPRISE_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # (username, showcase tag, membership role, full name)
    ("faw-admin", "auto", "admin", "环保主管 王建国"),
    ("hospital-admin", "hospital", "admin", "后勤保障部 李秀兰"),
    ("repair-admin", "repair", "admin", "经理 赵强"),
    ("carrier-admin", "carrier", "admin", "安全主管 刘志海"),
    ("carrier-driver", "carrier", "driver", "驾驶员 孙鹏"),
    ("operator-admin", "operator", "admin", "运营部 陈静"),
)


@dataclass(frozen=True)
class Showcase:
    """A named unit the demo accounts log into; fixed name and place, seeded codes."""

    tag: str
    name: str
    region_key: str
    industry_code: str
    industry_name: str
    roles: tuple[str, ...]
    prefix: str = "91"


SHOWCASES: tuple[Showcase, ...] = (
    Showcase("auto", "长春汽车城整车制造有限公司", "220174", "3610", "汽车整车制造", ("is_generator",)),
    Showcase("petrochem", "吉林江城石油化工有限公司", "220203", "2511", "原油加工及石油制品制造", ("is_generator",)),
    Showcase("hospital", "长春市第一人民医院", "220102", "8411", "综合医院", ("is_generator",), "12"),
    Showcase("repair", "长春市南关区顺达汽车维修有限公司", "220102", "8111", "汽车修理与维护", ("is_generator",)),
    Showcase("carrier", "吉林省安运危险货物运输有限公司", "220106", "5435", "危险货物道路运输", ("is_carrier",)),
    Showcase(
        "operator",
        "吉林省危险废物处理处置中心有限公司",
        "220113",
        "7724",
        "危险废物治理",
        ("is_operator", "is_carrier", "is_generator"),
    ),
)
SHOWCASE_BY_TAG = {s.tag: s for s in SHOWCASES}
# The two big generators: fixed medians so the heavy tail exists at every scale.
SHOWCASE_PROFILES: dict[str, tuple[float, Codes]] = {
    "auto": (
        3200.0,
        (
            ("900-252-12", 6),
            ("336-064-17", 3),
            ("900-249-08", 2),
            ("900-041-49", 2),
            ("900-039-49", 1.5),
            ("900-006-09", 1),
        ),
    ),
    "petrochem": (
        12500.0,
        (
            ("251-002-08", 4),
            ("251-003-08", 3),
            ("251-015-35", 2),
            ("251-014-34", 1.5),
            ("251-016-50", 1),
            ("251-019-50", 0.5),
            ("261-153-50", 0.5),
            ("261-019-11", 1),
            ("900-249-08", 0.5),
        ),
    ),
    "hospital": (
        180.0,
        (
            ("841-001-01", 7),
            ("841-002-01", 2),
            ("841-003-01", 0.6),
            ("841-004-01", 0.8),
            ("841-005-01", 0.6),
            ("900-024-29", 0.05),
        ),
    ),
    "repair": (2.4, (("900-214-08", 6), ("900-249-08", 1.5), ("900-052-31", 1.5), ("900-041-49", 1))),
    "operator": (2600.0, (("772-003-18", 6), ("772-005-18", 0.3), ("772-006-49", 1))),
}

GENERAL_CATEGORIES = (
    "HW02",
    "HW03",
    "HW04",
    "HW05",
    "HW06",
    "HW08",
    "HW09",
    "HW11",
    "HW12",
    "HW13",
    "HW14",
    "HW16",
    "HW17",
    "HW18",
    "HW21",
    "HW22",
    "HW23",
    "HW31",
    "HW33",
    "HW34",
    "HW35",
    "HW37",
    "HW38",
    "HW39",
    "HW40",
    "HW45",
    "HW49",
    "HW50",
)


@dataclass(frozen=True)
class OperatorSpec:
    """A licensed 经营单位 (or 收集 unit): where, what it takes, how much, what it emits."""

    tag: str
    name: str  # {brand} is filled from the seed
    region_key: str
    industry_code: str
    industry_name: str
    roles: tuple[str, ...]
    kind: str  # comprehensive | collection
    categories: tuple[str, ...]
    methods: tuple[str, ...]
    capacity: int
    emits: Codes = ()
    emit_median: float = 0.0
    fleet: int = 0  # own vehicles (class 6.2 for medical waste)
    expiring: bool = False  # licence runs out within ~6 weeks of `today`


OPERATORS: tuple[OperatorSpec, ...] = (
    OperatorSpec(
        "landfill",
        "长春{brand}环保科技有限公司",
        "220122",
        "7724",
        "危险废物治理",
        ("is_operator",),
        "comprehensive",
        ("HW17", "HW18", "HW21", "HW22", "HW23", "HW24", "HW31", "HW36", "HW46", "HW48", "HW49", "HW50"),
        ("storage", "disposal"),
        30000,
        expiring=True,
    ),
    OperatorSpec(
        "cement",
        "吉林{brand}水泥有限公司",
        "220284",
        "3011",
        "水泥制造",
        ("is_operator", "is_generator"),
        "comprehensive",
        ("HW02", "HW04", "HW06", "HW08", "HW11", "HW12", "HW13", "HW17", "HW18", "HW49", "HW50"),
        ("storage", "disposal"),
        60000,
        (("900-249-08", 3), ("900-041-49", 1)),
        2.0,
    ),
    OperatorSpec(
        "oil-regen",
        "松原{brand}再生资源有限公司",
        "220721",
        "4220",
        "非金属废料和碎屑加工处理",
        ("is_operator", "is_generator", "is_carrier"),
        "comprehensive",
        ("HW08", "HW09"),
        ("collection", "storage", "utilization"),
        50000,
        (("900-213-08", 3), ("900-215-08", 2), ("772-001-11", 1)),
        120.0,
        6,
    ),
    OperatorSpec(
        "chem-park",
        "吉林{brand}环境工程有限公司",
        "220271",
        "7724",
        "危险废物治理",
        ("is_operator", "is_generator"),
        "comprehensive",
        ("HW02", "HW04", "HW06", "HW11", "HW12", "HW13", "HW38", "HW39", "HW40", "HW45", "HW49", "HW50"),
        ("storage", "disposal"),
        15000,
        (("772-003-18", 5), ("772-005-18", 0.5)),
        900.0,
    ),
    OperatorSpec(
        "metals",
        "四平{brand}资源循环利用有限公司",
        "220303",
        "4210",
        "金属废料和碎屑加工处理",
        ("is_operator",),
        "comprehensive",
        ("HW17", "HW22", "HW46", "HW48", "HW50"),
        ("storage", "utilization"),
        10000,
    ),
    OperatorSpec(
        "lead",
        "辽源{brand}再生资源有限公司",
        "220422",
        "4210",
        "金属废料和碎屑加工处理",
        ("is_operator", "is_generator"),
        "comprehensive",
        ("HW31", "HW49"),
        ("collection", "storage", "utilization"),
        30000,
        (("321-029-48", 3), ("900-041-49", 1)),
        60.0,
    ),
    OperatorSpec(
        "med-changchun",
        "长春市{brand}医疗废物处置有限公司",
        "220112",
        "7724",
        "危险废物治理",
        ("is_operator", "is_carrier", "is_generator"),
        "comprehensive",
        ("HW01",),
        ("collection", "storage", "disposal"),
        18000,
        (("772-003-18", 1),),
        420.0,
        8,
    ),
    OperatorSpec(
        "med-jilin",
        "吉林市{brand}医疗废物处置有限公司",
        "220211",
        "7724",
        "危险废物治理",
        ("is_operator", "is_carrier", "is_generator"),
        "comprehensive",
        ("HW01",),
        ("collection", "storage", "disposal"),
        6000,
        (("772-003-18", 1),),
        140.0,
        4,
    ),
    OperatorSpec(
        "med-yanbian",
        "延边{brand}医疗废物处置有限公司",
        "222401",
        "7724",
        "危险废物治理",
        ("is_operator", "is_carrier"),
        "comprehensive",
        ("HW01",),
        ("collection", "storage", "disposal"),
        4000,
        fleet=3,
    ),
    OperatorSpec(
        "med-tonghua",
        "通化{brand}医疗废物处置有限公司",
        "220521",
        "7724",
        "危险废物治理",
        ("is_operator", "is_carrier"),
        "comprehensive",
        ("HW01",),
        ("collection", "storage", "disposal"),
        3500,
        fleet=3,
    ),
    OperatorSpec(
        "med-baicheng",
        "白城{brand}医疗废物处置有限公司",
        "220802",
        "7724",
        "危险废物治理",
        ("is_operator", "is_carrier"),
        "comprehensive",
        ("HW01",),
        ("collection", "storage", "disposal"),
        3000,
        fleet=2,
        expiring=True,
    ),
    # 收集经营许可证 (许可办法 第三条, 第七条; 3 years): only vehicle-repair waste mineral oil
    # (900-214-08) and household Ni-Cd batteries (900-044-49).
    OperatorSpec(
        "collect-oil",
        "长春{brand}环保服务有限公司",
        "220105",
        "7724",
        "危险废物治理",
        ("is_collector", "is_carrier"),
        "collection",
        ("900-214-08",),
        ("collection", "storage"),
        5000,
        fleet=3,
    ),
    OperatorSpec(
        "collect-small",
        "吉林市{brand}环保科技有限公司",
        "220202",
        "7724",
        "危险废物治理",
        ("is_collector", "is_carrier"),
        "collection",
        ("900-214-08", "900-044-49"),
        ("collection", "storage"),
        3000,
        fleet=2,
    ),
    OperatorSpec(
        "collect-battery",
        "延吉{brand}再生资源回收有限公司",
        "222401",
        "4210",
        "金属废料和碎屑加工处理",
        ("is_collector",),
        "collection",
        ("900-044-49",),
        ("collection", "storage"),
        2000,
    ),
)
# The showcase operator (operator-admin): a provincial centre taking most categories.
SHOWCASE_OPERATOR_METHODS = ("collection", "storage", "disposal")
SHOWCASE_OPERATOR_CAPACITY = 49500
SHOWCASE_OPERATOR_FLEET = 10


# ---------------------------------------------------------------------------------------
# Identifiers
# ---------------------------------------------------------------------------------------

ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
uscc_check_char = credit_code_check_char


def org_code_check_char(body: str) -> str:
    """GB 11714-1997: the organisation code (characters 9–17 of a USCC) has its own check."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def credit_code_make(rng: random.Random, *, prefix: str, code6: str) -> str:
    """A well-formed 统一社会信用代码: registration type, region, organisation code, check."""
    if rng.random() < 0.55:  # codes issued since 2015 start the organisation part with "MA"
        org = "MA" + "".join(rng.choice("0123456789" * 2 + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
    else:
        org = "".join(rng.choice("0123456789") for _ in range(8))
    body = f"{prefix}{code6}{org}{org_code_check_char(org)}"
    return body + uscc_check_char(body)


# ---------------------------------------------------------------------------------------
# Building the plan (pure)
# ---------------------------------------------------------------------------------------


def _pick(rng: random.Random, items: Sequence[str], weights: Sequence[float]) -> str:
    return rng.choices(items, weights=weights, k=1)[0]


def _short_place(name: str) -> str:
    if name in SHORT_NAMES:
        return SHORT_NAMES[name]
    for suffix in ("市", "县", "区"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class _Builder:
    """Draws the province in a fixed order from one ``random.Random(seed)``."""

    def __init__(self, *, seed: int, scale: float, regions: Sequence[RegionRef], today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.scale = scale
        self.today = today
        self.year = today.year - 1
        self.regions = {r.key: r for r in sorted(regions, key=lambda r: r.key)}
        self.counties: dict[str, list[RegionRef]] = {g.key: [] for g in GROUPS}
        for region in self.regions.values():
            group = self._group_of(region)
            if group in self.counties:
                self.counties[group].append(region)
        empty = [g.city for g in GROUPS if not self.counties[g.key]]
        if empty:
            raise ApplicationError(f"{'、'.join(empty)} 没有县级区域；{REFERENCE_MISSING}", code="reference_missing")
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.plates: set[str] = set()
        self.licence_seq = 0
        self.units: list[EnterprisePlan] = []

    @staticmethod
    def _group_of(region: RegionRef) -> str:
        if region.key in CHANGBAISHAN_AREAS:
            return "changbaishan"
        if region.key == "220581":
            return "220581"
        return region.parent_key

    # -- small draws ---------------------------------------------------------------------

    def brand(self) -> str:
        first = self.rng.choice(BRAND_FIRST)
        second = self.rng.choice(BRAND_SECOND)
        while second == first:  # no 泰泰
            second = self.rng.choice(BRAND_SECOND)
        return first + second

    def person(self) -> str:
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def credit_code(self, prefix: str, region: RegionRef) -> str:
        while True:
            code = credit_code_make(self.rng, prefix=prefix, code6=region.code6 or "220000")
            if code not in self.codes:
                self.codes.add(code)
                return code

    def try_name(self, make: Callable[[], str]) -> str | None:
        for _ in range(40):
            name = make()
            if name not in self.names:
                self.names.add(name)
                return name
        return None  # this pattern's names are used up (large scales)

    def unique_name(self, make: Callable[[], str]) -> str:
        name = self.try_name(make)
        if name is not None:
            return name
        base = make()
        n = 2
        while f"{base}（第{n}分支机构）" in self.names:
            n += 1
        name = f"{base}（第{n}分支机构）"
        self.names.add(name)
        return name

    def place_word(self, region: RegionRef, group: Group) -> str:
        """The place in a company name: a county-level city or county, else the city."""
        if group.key == "changbaishan":
            return "长白山"
        if region.level == Region.Level.COUNTY and region.name.endswith(("市", "县")) and self.rng.random() < 0.6:
            return _short_place(region.name)
        return group.short

    def county_full(self, region: RegionRef, group: Group) -> str:
        """How a county-level place is written in a name: 长春市九台区, 榆树市, 长白山池北区."""
        if group.key == "220581":
            return "梅河口市"
        if region.level == Region.Level.AREA:
            return f"{group.city}{region.name}"
        if region.level == Region.Level.COUNTY and region.name.endswith("区"):
            return f"{group.city}{region.name}"
        return region.name

    def address(self, region: RegionRef, group: Group) -> str:
        road = self.rng.choice(ROADS)
        number = self.rng.randint(1, 3999)
        if group.key == "220581":
            return f"吉林省梅河口市{road}{number}号"
        return f"吉林省{group.address}{region.name}{road}{number}号"

    def phone(self, group: Group) -> str:
        digits = 8 if group.phone_area in ("0431", "0432") else 7
        first = self.rng.choice("2345678")
        return f"{group.phone_area}-{first}{''.join(self.rng.choice('0123456789') for _ in range(digits - 1))}"

    def coordinates(self, region: RegionRef, group: Group) -> tuple[Decimal, Decimal]:
        lat, lng = COUNTY_CENTRES.get(region.key, group.centre)
        spread = 0.04 if region.key in COUNTY_CENTRES else 0.07
        lat += self.rng.uniform(-spread, spread)
        lng += self.rng.uniform(-spread, spread) * 1.3
        return Decimal(f"{lat:.6f}"), Decimal(f"{lng:.6f}")

    def county(self, group: Group, industry: str) -> RegionRef:
        counties = self.counties[group.key]
        weights = []
        for region in counties:
            if region.level == Region.Level.ZONE:
                base = 2.0
            elif region.name.endswith("区"):
                base = 1.5
            else:
                base = 1.0
            weights.append(base * COUNTY_BOOST.get((industry, region.key), 1.0))
        return self.rng.choices(counties, weights=weights, k=1)[0]

    def industry_for(self, group: Group) -> Industry:
        factors = GROUP_INDUSTRY.get(group.key, {})
        weights = []
        for industry in INDUSTRIES:
            base = OILFIELD_SHARE if industry.key == "oilfield" else industry.weight
            factor = factors.get(industry.key, INDUSTRY_DEFAULT_FACTOR.get(industry.key, 1.0))
            weights.append(base * factor)
        return self.rng.choices(INDUSTRIES, weights=weights, k=1)[0]

    # -- quantities ----------------------------------------------------------------------

    def profiles(self, total: float, codes: Codes, *, history: bool) -> list[ProfilePlan]:
        """Split an annual total over a few of ``codes``; optionally two earlier years too."""
        if total < 1:
            k = self.rng.choice((1, 1, 2))
        elif total < 50:
            k = self.rng.choice((2, 2, 3, 3, 4))
        else:
            k = self.rng.choice((3, 4, 5, 6))
        pool = list(codes)
        chosen: list[tuple[str, float]] = []
        while pool and len(chosen) < k:
            item = self.rng.choices(pool, weights=[w for _, w in pool], k=1)[0]
            pool.remove(item)
            chosen.append(item)
        shares = [w * self.rng.uniform(0.3, 1.7) for _, w in chosen]
        norm = sum(shares)
        years = [self.year]
        factors = {self.year: 1.0}
        if history:
            for back in (1, 2):
                years.append(self.year - back)
                factors[self.year - back] = self.rng.lognormvariate(0, 0.18)
        result = []
        for year in sorted(years):
            for (code, _), share in zip(chosen, shares, strict=True):
                tonnes = max(Decimal("0.001"), Decimal(f"{total * factors[year] * share / norm:.3f}"))
                result.append(ProfilePlan(year, code, tonnes))
        return result

    def annual_total(self, median: float, sigma: float) -> float:
        return min(60000.0, self.rng.lognormvariate(math.log(median), sigma))

    # -- vehicles and licences -----------------------------------------------------------

    def vehicles(self, group: Group, region: RegionRef, count: int, *, medical: bool) -> list[VehiclePlan]:
        result = []
        for _ in range(count):
            while True:
                body = self.rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") + "".join(
                    self.rng.choice("0123456789") for _ in range(4)
                )
                plate = f"吉{group.plate}{body}"
                if plate not in self.plates:
                    self.plates.add(plate)
                    break
            classes: tuple[str, ...]
            if medical:  # 医疗废物: UN 3291, class 6.2, small refrigerated vans
                payload, classes = self.rng.choice((Decimal("1.495"), Decimal("2.5"), Decimal("4.2"))), ("6.2",)
            else:
                payload = self.rng.choice(
                    (Decimal("4.5"), Decimal("8"), Decimal("10"), Decimal("15.5"), Decimal("18"), Decimal("30.5"))
                )
                classes = self.rng.choice((("9",), ("8", "9"), ("3", "8", "9"), ("3", "4.1", "6.1", "8", "9")))
            certificate = f"{region.code6 or '220000'}{self.rng.randrange(10**6):06d}"
            gps = f"{self.rng.randrange(10**11, 10**12)}"
            valid_until = self.today + dt.timedelta(days=self.rng.randint(45, 3 * 365))
            result.append(VehiclePlan(plate, certificate, payload, classes, gps, valid_until))
        return result

    def licence(
        self, spec_kind: str, categories: Sequence[str], methods: Sequence[str], capacity: int, *, expiring: bool
    ) -> LicencePlan:
        years = 5 if spec_kind == "comprehensive" else 3
        offset = self.rng.randint(90, years * 365 - 120)
        if expiring:  # so the demo shows a licence about to lapse
            offset = years * 365 - self.rng.randint(20, 40)
        valid_from = self.today - dt.timedelta(days=offset)
        self.licence_seq += 1
        mark = "综" if spec_kind == "comprehensive" else "收"
        number = f"吉环危{mark}〔{valid_from.year}〕{self.licence_seq:03d}号"
        return LicencePlan(number, spec_kind, tuple(categories), tuple(methods), Decimal(capacity), valid_from)

    # -- units ---------------------------------------------------------------------------

    def unit(
        self,
        *,
        name: str,
        region: RegionRef,
        group: Group,
        industry_code: str,
        industry_name: str,
        roles: tuple[str, ...],
        prefix: str,
        showcase: str = "",
    ) -> EnterprisePlan:
        lat, lng = self.coordinates(region, group)
        plan = EnterprisePlan(
            credit_code=self.credit_code(prefix, region),
            name=name,
            region_key=region.key,
            group=group.key,
            industry_code=industry_code,
            industry_name=industry_name,
            legal_representative=self.person(),
            address=self.address(region, group),
            roles=roles,
            latitude=lat,
            longitude=lng,
            contact_phone=self.phone(group),
            showcase=showcase,
        )
        self.units.append(plan)
        return plan

    def group_of_key(self, region_key: str) -> tuple[RegionRef, Group]:
        region = self.regions.get(region_key)
        if region is None:
            raise ApplicationError(f"行政区域 {region_key} 不存在；{REFERENCE_MISSING}", code="reference_missing")
        return region, GROUP_BY_KEY[self._group_of(region)]

    def showcases(self) -> None:
        for spec in SHOWCASES:
            region, group = self.group_of_key(spec.region_key)
            self.names.add(spec.name)
            unit = self.unit(
                name=spec.name,
                region=region,
                group=group,
                industry_code=spec.industry_code,
                industry_name=spec.industry_name,
                roles=spec.roles,
                prefix=spec.prefix,
                showcase=spec.tag,
            )
            if spec.tag in SHOWCASE_PROFILES:
                median, codes = SHOWCASE_PROFILES[spec.tag]
                unit.profiles = self.profiles(self.annual_total(median, 0.08), codes, history=True)
            if spec.tag == "carrier":
                unit.vehicles = self.vehicles(group, region, 24, medical=False)
            if spec.tag == "operator":
                unit.vehicles = self.vehicles(group, region, SHOWCASE_OPERATOR_FLEET, medical=False)
                unit.licences = [
                    self.licence(
                        "comprehensive",
                        GENERAL_CATEGORIES,
                        SHOWCASE_OPERATOR_METHODS,
                        SHOWCASE_OPERATOR_CAPACITY,
                        expiring=False,
                    )
                ]

    def _formatter(self, template: str) -> Callable[[], str]:
        return lambda: template.format(brand=self.brand())

    def operators(self) -> None:
        for spec in OPERATORS:
            region, group = self.group_of_key(spec.region_key)
            name = self.unique_name(self._formatter(spec.name))
            unit = self.unit(
                name=name,
                region=region,
                group=group,
                industry_code=spec.industry_code,
                industry_name=spec.industry_name,
                roles=spec.roles,
                prefix="91",
            )
            unit.licences = [
                self.licence(spec.kind, spec.categories, spec.methods, spec.capacity, expiring=spec.expiring)
            ]
            if spec.emits:
                unit.profiles = self.profiles(self.annual_total(spec.emit_median, 0.2), spec.emits, history=True)
            if "is_carrier" in spec.roles:
                fleet = spec.fleet or 2
                unit.vehicles = self.vehicles(group, region, fleet, medical=spec.categories == ("HW01",))

    def carriers(self, count: int) -> None:
        groups = [g for g in GROUPS if g.has_carriers]
        forced = [g for g in groups if g.key != "220581"]  # one per 市（州）
        for i in range(count):
            group = forced[i] if i < len(forced) else self.rng.choices(groups, weights=[g.weight for g in groups])[0]
            region = self.county(group, "carrier")

            def make(group: Group = group, region: RegionRef = region) -> str:
                place = self.place_word(region, group)
                style = self.rng.random()
                if style < 0.5:
                    return f"{place}{self.brand()}危险货物运输有限公司"
                if style < 0.8:
                    return f"{place}{self.brand()}物流有限公司"
                return f"吉林省{self.brand()}危险品运输有限公司"

            unit = self.unit(
                name=self.unique_name(make),
                region=region,
                group=group,
                industry_code="5435",
                industry_name="危险货物道路运输",
                roles=("is_carrier",),
                prefix="91",
            )
            fleet = min(40, max(2, int(self.rng.paretovariate(1.6) * 2.5)))
            unit.vehicles = self.vehicles(group, region, fleet, medical=False)

    def generators(self, count: int) -> None:
        forced: list[tuple[Group, str | None]] = [(g, None) for g in GROUPS if g.key != "changbaishan"]
        forced += [(GROUP_BY_KEY["changbaishan"], key) for key in CHANGBAISHAN_AREAS]
        weights = [g.weight for g in GROUPS]
        for i in range(count):
            if i < len(forced):
                group, county_key = forced[i]
            else:
                group, county_key = self.rng.choices(GROUPS, weights=weights, k=1)[0], None
            industry = self.industry_for(group)
            region = self.regions[county_key] if county_key else self.county(group, industry.key)
            self.generator(group, region, industry)

    def generator(self, group: Group, region: RegionRef, industry: Industry) -> None:
        variant = self.rng.choices(industry.variants, weights=[v.weight for v in industry.variants], k=1)[0]
        total = self.annual_total(industry.median_t * variant.size, industry.sigma)
        codes = variant.codes or FOOD_CODES
        prefix = "91"
        industry_code, industry_name = variant.code, variant.name
        place = self.place_word(region, group)
        county = self.county_full(region, group)

        def company(words: Sequence[str] = variant.words) -> str:
            style = self.rng.random()
            word = self.rng.choice(words)
            if style < 0.75:
                return f"{place}{self.brand()}{word}有限公司"
            if style < 0.88:
                return f"{place}{self.brand()}{word}股份有限公司"
            return f"吉林省{self.brand()}{word}有限公司"

        make: Callable[[], str] = company
        if industry.key == "hospital":
            prefix = "12"  # 事业单位
            industry_code, industry_name, make = self.hospital(group, region, county, place, total)
        elif industry.key == "repair" and self.rng.random() < 0.3:
            prefix = "92"  # 个体工商户
            make = self._individual_shop(county)
        elif industry.key == "lab" and variant.code == "8341":
            universities = UNIVERSITIES.get(group.key, ())
            if universities:
                prefix = "12"
                university = self.rng.choice(universities)
                region = self.regions.get(UNIVERSITY_COUNTY[university], region)
                make = self._university_lab(university)
            else:  # no university here: a testing company instead
                industry_code, industry_name = "7452", "检测服务"
                make = lambda: company(("检测技术", "检验检测"))  # noqa: E731
        name = self.try_name(make)
        if name is None and prefix == "12":  # hospital or university names used up: a private clinic or lab
            prefix = "91"
            if industry.key == "hospital":
                industry_code, industry_name = "8425", "门诊部（所）"
                make = lambda: f"{place}{self.brand()}{self.rng.choice(('综合门诊部', '口腔门诊部'))}"  # noqa: E731
            else:
                industry_code, industry_name = "7452", "检测服务"
                make = lambda: company(("检测技术", "检验检测"))  # noqa: E731
        name = name or self.unique_name(make)
        unit = self.unit(
            name=name,
            region=region,
            group=group,
            industry_code=industry_code,
            industry_name=industry_name,
            roles=("is_generator",),
            prefix=prefix,
        )
        unit.profiles = self.profiles(total, codes, history=self.rng.random() < 0.4)

    def _individual_shop(self, county: str) -> Callable[[], str]:
        return lambda: f"{county}{self.brand()}{self.rng.choice(('汽车修理部', '汽修厂', '汽车快修店'))}"

    def _university_lab(self, university: str) -> Callable[[], str]:
        def make() -> str:
            department = self.rng.choice(DEPARTMENTS)
            tail = "" if department.endswith("中心") else self.rng.choice(("实验中心", "实验室"))
            return f"{university}{department}{tail}"

        return make

    def hospital(
        self, group: Group, region: RegionRef, county: str, place: str, total: float
    ) -> tuple[str, str, Callable[[], str]]:
        """Hospital names follow size: city hospitals, county hospitals, clinics."""
        rural = region.name.endswith(("县", "市")) and region.level == Region.Level.COUNTY
        if total >= 40 and not rural:
            choices = [
                ("8411", "综合医院", f"{group.city}中心医院"),
                ("8411", "综合医院", f"{group.city}第二人民医院"),
                ("8411", "综合医院", f"{group.city}第三人民医院"),
                ("8412", "中医医院", f"{group.city}中医院"),
                ("8415", "专科医院", f"{group.city}肿瘤医院"),
                ("8415", "专科医院", f"{group.city}传染病医院"),
                ("8433", "妇幼保健院（所、站）", f"{group.city}妇幼保健院"),
                ("8411", "综合医院", f"{group.city}人民医院"),
            ]
            if group.key == "222400":
                choices.append(("8414", "民族医院", "延边州朝医医院"))
        elif total >= 5:
            choices = [
                ("8411", "综合医院", f"{county}人民医院"),
                ("8412", "中医医院", f"{county}中医院"),
                ("8433", "妇幼保健院（所、站）", f"{county}妇幼保健院"),
                ("8411", "综合医院", f"{county}医院"),
                ("8413", "中西医结合医院", f"{county}中西医结合医院"),
            ]
        else:
            choices = [("8425", "门诊部（所）", "")]
            if rural:
                choices.append(("8423", "乡镇卫生院", ""))
            else:
                choices.append(("8421", "社区卫生服务中心（站）", ""))
        code, label, fixed = self.rng.choice(choices)

        def make() -> str:
            if fixed and fixed not in self.names:
                return fixed
            if code == "8423":
                return f"{county}{self.rng.choice(TOWNS)}镇卫生院"
            if code == "8421":
                return f"{county}{self.rng.choice(STREETS)}街道社区卫生服务中心"
            kind = self.rng.choice(("口腔门诊部", "综合门诊部") if code == "8425" else ("医院", "中医医院"))
            return f"{place}{self.brand()}{kind}"

        return code, label, make

    def build(self) -> DemoPlan:
        target = max(1, round(UNITS_PER_SCALE * self.scale))
        fixed = len(SHOWCASES) + len(OPERATORS)
        n_carriers = max(9, round(24 * self.scale))
        n_generators = max(MIN_GENERATORS, target - fixed - n_carriers)
        self.showcases()
        self.operators()
        self.carriers(n_carriers)
        self.generators(n_generators)
        return DemoPlan(self.seed, self.scale, self.year, self.units, accounts_plan())


def accounts_plan() -> list[AccountPlan]:
    """The fixed demo accounts (not drawn from the seed)."""
    accounts = [
        AccountPlan(username, f"{org}{dept}", "regulator", region_key=key, department=f"{org}{dept}")
        for username, key, org, dept in REGULATORS
    ]
    username, key, org, dept = LIAISON
    accounts.append(AccountPlan(username, f"{org}{dept}", "liaison", region_key=key, department=f"{org}{dept}"))
    accounts += [
        AccountPlan(username, full_name, role, showcase=tag) for username, tag, role, full_name in ENTERPRISE_ACCOUNTS
    ]
    return accounts


def demo_plan_build(*, seed: int, scale: float, regions: Sequence[RegionRef], today: dt.date | None = None) -> DemoPlan:
    """The whole province as data. Draws depend on ``seed`` and ``scale`` only; ``today``
    just anchors validity dates and the profile year."""
    if not (0 < scale <= MAX_SCALE):
        raise ApplicationError(f"规模系数应在 0 与 {MAX_SCALE:g} 之间（得到 {scale:g}）", code="scale", field="scale")
    return _Builder(seed=seed, scale=scale, regions=regions, today=today or dt.date.today()).build()


# ---------------------------------------------------------------------------------------
# Writing it (through the services)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str  # regulator | liaison | admin | driver | …
    who: str
    landing: str  # the page the account lands on after login


@dataclass
class DemoSummary:
    seed: int
    scale: float
    year: int
    enterprises: int
    generators: int
    carriers: int
    operators: int
    collectors: int
    vehicles: int
    licences: int
    profiles: int
    tonnes: Decimal
    per_group: list[tuple[str, int]]
    regulator_accounts: int
    enterprise_accounts: int
    logins: list[DemoLogin]
    ledger_entries: int = 0  # a year of 台账 records of every generator site (plans.demo_ledger)
    declarations: int = 0  # the showcase generators' declarations, submitted or draft
    manifests: int = 0  # the 电子转移联单 of the ledgers' 委外 shipments (manifests.demo)
    intake_entries: int = 0  # the receivers' 接收 records of those manifests, and their 自行利用/处置


def demo_reference_ready() -> bool:
    return Region.objects.filter(level=Region.Level.PROVINCE).exists() and CatalogueVersion.objects.exists()


def demo_regions() -> list[RegionRef]:
    """County-level regions from the Region table, in key order."""
    if not demo_reference_ready():
        raise ApplicationError(REFERENCE_MISSING, code="reference_missing")
    levels = (Region.Level.COUNTY, Region.Level.ZONE, Region.Level.AREA)
    rows = Region.objects.filter(level__in=levels).select_related("parent").order_by("key")
    return [RegionRef(r.key, r.code6, r.name, r.level, r.parent.key if r.parent else "") for r in rows]


def demo_logins() -> list[DemoLogin]:
    """Every demo login with its password, role and landing page (from the fixed plan)."""
    result = []
    for account in accounts_plan():
        if account.showcase:
            who = f"{SHOWCASE_BY_TAG[account.showcase].name}（{'驾驶员' if account.role == 'driver' else '管理员'}）"
            landing = reverse("web:enterprise_home")
        else:
            who = account.department
            landing = reverse("web:dashboard")
        result.append(DemoLogin(account.username, DEMO_PASSWORD, account.role, who, landing))
    return result


def demo_province_generate(*, seed: int, scale: float, today: dt.date | None = None) -> DemoSummary:
    """Build the plan and write it through the services as SYSTEM, all or nothing."""
    today = today or dt.date.today()
    plan = demo_plan_build(seed=seed, scale=scale, regions=demo_regions(), today=today)
    by_tag: dict[str, Enterprise] = {}
    with transaction.atomic():
        for unit in plan.enterprises:
            enterprise = enterprise_create(
                actor=SYSTEM,
                credit_code=unit.credit_code,
                name=unit.name,
                region_key=unit.region_key,
                industry_code=unit.industry_code,
                industry_name=unit.industry_name,
                legal_representative=unit.legal_representative,
                address=unit.address,
                roles=unit.roles,
                latitude=unit.latitude,
                longitude=unit.longitude,
                contact_phone=unit.contact_phone,
            )
            if unit.showcase:
                by_tag[unit.showcase] = enterprise
            site = site_create(
                actor=SYSTEM,
                enterprise=enterprise,
                name=_site_name(unit),
                address=unit.address,
                region_key=unit.region_key,
                roles=_site_roles(unit.roles),
                latitude=unit.latitude,
                longitude=unit.longitude,
                industry_code=unit.industry_code,
                industry_name=unit.industry_name,
                operation_started_on=_started_on(unit, plan.year),
            )
            for profile in unit.profiles:
                generation_profile_set(
                    actor=SYSTEM,
                    enterprise=enterprise,
                    site=site,
                    year=profile.year,
                    waste_code=profile.waste_code,
                    annual_tonnes=profile.annual_tonnes,
                )
            _write_site_extras(enterprise, site, unit, today)
            for vehicle in unit.vehicles:
                vehicle_create(
                    actor=SYSTEM,
                    carrier=enterprise,
                    plate=vehicle.plate,
                    transport_certificate=vehicle.transport_certificate,
                    payload_tonnes=vehicle.payload_tonnes,
                    valid_until=vehicle.valid_until,
                    dangerous_goods_classes=list(vehicle.dangerous_goods_classes),
                    gps_terminal_id=vehicle.gps_terminal_id,
                    today=today,
                )
            if unit.vehicles:
                _write_carrier_papers(enterprise, unit, today)
            for licence in unit.licences:
                licence_create(
                    actor=SYSTEM,
                    holder=enterprise,
                    number=licence.number,
                    kind=licence.kind,
                    categories=list(licence.categories),
                    methods=list(licence.methods),
                    annual_capacity_tonnes=licence.annual_capacity_tonnes,
                    valid_from=licence.valid_from,
                )
        _write_showcase_papers(by_tag, today)
        _write_showcase_plans(by_tag, today)
        from weifei.plans.demo_ledger import demo_ledgers_generate

        ledgers = demo_ledgers_generate(seed=seed, today=today, showcases=by_tag)
        from weifei.manifests.demo import demo_manifests_generate

        manifests = demo_manifests_generate(seed=seed, today=today, showcases=by_tag)
        for account in plan.accounts:
            if account.showcase:
                enterprise_user_create(
                    actor=SYSTEM,
                    enterprise=by_tag[account.showcase],
                    username=account.username,
                    password=DEMO_PASSWORD,
                    full_name=account.full_name,
                    role=account.role,
                )
            else:
                regulator_account_create(
                    actor=SYSTEM,
                    username=account.username,
                    password=DEMO_PASSWORD,
                    full_name=account.full_name,
                    region_key=account.region_key,
                    department=account.department,
                    role=account.role,
                )
    summary = demo_summary(plan)
    summary.ledger_entries, summary.declarations = ledgers.entries, ledgers.declarations
    summary.manifests = manifests.manifests
    summary.intake_entries = manifests.intake_entries + manifests.intake_treated
    # The manifests demo registers the out-of-province receivers of its cross-province transfers.
    extra = manifests.out_of_province_receivers
    summary.enterprises += extra
    summary.operators += extra
    summary.licences += extra
    return summary


def _site_name(unit: EnterprisePlan) -> str:
    if unit.industry_code == "8411":
        return "院区"
    if "is_operator" in unit.roles:
        return "处置中心"
    if "is_collector" in unit.roles:
        return "收集贮存点"
    return "主厂区"


def _site_roles(roles: tuple[str, ...]) -> list[str]:
    mapping = {
        "is_generator": Site.Role.GENERATOR,
        "is_collector": Site.Role.COLLECTOR,
        "is_carrier": Site.Role.CARRIER_BASE,
        "is_operator": Site.Role.OPERATOR,
    }
    return sorted({str(mapping[r]) for r in roles if r in mapping}) or [str(Site.Role.GENERATOR)]


def _digest(text: str) -> int:
    """A stable number from text (no RNG draws, so adding records keeps the seeded plan as it was)."""
    value = 0
    for ch in text:
        value = (value * 131 + ord(ch)) % 1_000_000_007
    return value


def _started_on(unit: EnterprisePlan, year: int) -> dt.date:
    # Units with three years of figures have operated for years; the rest started recently or long ago.
    years = {p.year for p in unit.profiles}
    if len(years) >= 3 or unit.showcase:
        return dt.date(2000 + _digest(unit.credit_code) % 18, 1, 1)
    return dt.date(year - _digest(unit.name) % 6, 1 + _digest(unit.credit_code) % 12, 1)


def _write_site_extras(enterprise: Enterprise, site: Site, unit: EnterprisePlan, today: dt.date) -> None:
    """Storage facilities for key generators and operators; treatment lines for operators."""
    total = unit.total_tonnes(max((p.year for p in unit.profiles), default=today.year - 1))
    if "is_operator" in unit.roles:
        for licence in unit.licences:
            facility_create(
                actor=SYSTEM,
                site=site,
                kind="disposal",
                name="利用处置生产线",
                design_capacity_tonnes=licence.annual_capacity_tonnes,
            )
        facility_create(
            actor=SYSTEM,
            site=site,
            kind="storage",
            name="危险废物贮存库",
            storage_capacity_tonnes=Decimal(max(200, sum(int(x.annual_capacity_tonnes) for x in unit.licences) // 12)),
        )
    elif total >= 10 or "is_collector" in unit.roles:
        facility_create(
            actor=SYSTEM,
            site=site,
            kind="storage",
            name="危险废物贮存间",
            storage_capacity_tonnes=max(Decimal(5), (total / 4).quantize(Decimal(1))),
        )
    site_class_refresh(actor=SYSTEM, site_id=site.id, today=today)


def _write_carrier_papers(enterprise: Enterprise, unit: EnterprisePlan, today: dt.date) -> None:
    """A road transport licence and one driver and one escort per two vehicles."""
    seed = _digest(enterprise.credit_code)
    road_licence_create(
        actor=SYSTEM,
        carrier=enterprise,
        number=f"吉交运管许可危字{220000 + seed % 9000:06d}{len(unit.vehicles):02d}",
        scope="危险货物运输（2类、3类、6类、8类、9类、危险废物）",
        valid_from=dt.date(today.year - 2, 1 + seed % 12, 1),
        valid_to=dt.date(today.year + 2, 1 + seed % 12, 1),
    )
    crews = max(1, (len(unit.vehicles) + 1) // 2)
    for i in range(crews):
        for role in (Driver.Role.DRIVER, Driver.Role.ESCORT):
            n = _digest(f"{enterprise.credit_code}{i}{role}")
            driver_create(
                actor=SYSTEM,
                carrier=enterprise,
                name=SURNAMES[n % len(SURNAMES)] + GIVEN[(n // 7) % len(GIVEN)] + GIVEN[(n // 53) % len(GIVEN)],
                role=role,
                certificate_number=f"22{n % 10**16:016d}{i:02d}{'J' if role == Driver.Role.DRIVER else 'Y'}",
                certificate_valid_until=dt.date(today.year + 1 + n % 4, 1 + n % 12, 1),
                today=today,
            )


def _write_showcase_plans(by_tag: dict[str, Enterprise], today: dt.date) -> None:
    """A filed management plan for this year for each showcase generator's site (through the
    plan services): A.3 from its latest generation profile, A.7 to a licensed operator whose
    licence covers the code. A site for which no complete plan can be made is left without one
    (it then shows in the regulators' missing-plan list, which is demo material too)."""
    from django.db.models import Q

    from weifei.plans.services import plan_draft, plan_file, plan_line_add

    from .models import GenerationProfile, Licence

    year = today.year
    for enterprise in by_tag.values():
        site = enterprise.sites.order_by("id").first()
        if not enterprise.is_generator or site is None:
            continue
        profiles = list(GenerationProfile.objects.filter(site=site).order_by("-year", "waste_code"))
        latest = [p for p in profiles if p.year == profiles[0].year][:3] if profiles else []
        try:
            with transaction.atomic():
                plan = plan_draft(actor=SYSTEM, site_id=site.id, year=year)
                for profile in latest:
                    category = f"HW{profile.waste_code[-2:]}"
                    licence = (
                        Licence.objects.filter(
                            status=Licence.Status.VALID,
                            valid_from__lte=dt.date(year, 12, 31),
                            valid_to__gte=dt.date(year, 1, 1),
                        )
                        .filter(
                            Q(scopes__waste_code=profile.waste_code)
                            | Q(scopes__category=category, scopes__waste_code="")
                        )
                        .exclude(holder=enterprise)
                        .order_by("number")
                        .first()
                    )
                    if licence is None:
                        continue
                    plan_line_add(
                        actor=SYSTEM,
                        plan_id=plan.id,
                        section="A3",
                        waste_code=profile.waste_code,
                        tonnes=profile.annual_tonnes,
                    )
                    plan_line_add(
                        actor=SYSTEM,
                        plan_id=plan.id,
                        section="A7",
                        waste_code=profile.waste_code,
                        tonnes=profile.annual_tonnes,
                        transfer_type="in_province",
                        receiver_type="licensed",
                        receiver_id=licence.holder_id,
                        method_code="D10",
                    )
                plan_file(actor=SYSTEM, plan_id=plan.id)
        except ApplicationError:
            continue  # e.g. no covering licence, or a 重点 site without facilities for A.2


def _write_showcase_papers(by_tag: dict[str, Enterprise], today: dt.date) -> None:
    """Contracts, an EIA approval, pollution-liability insurance and emergency-plan filings for
    the showcase units, so their profiles show every kind of record."""
    operator, carrier = by_tag.get("operator"), by_tag.get("carrier")
    year_start, year_end = dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)
    for n, tag in enumerate(("auto", "petrochem", "hospital", "repair"), start=1):
        unit = by_tag.get(tag)
        if unit is None:
            continue
        codes = list(unit.generation.values_list("waste_code", flat=True).distinct()[:5])
        if operator is not None and codes:
            contract_create(
                actor=SYSTEM,
                kind="disposal",
                number=f"WF-CZ-{today.year}-{n:03d}",
                party_a=unit,
                party_b=operator,
                waste_codes=codes,
                planned_tonnes=Decimal(500),
                valid_from=year_start,
                valid_to=year_end,
            )
        if carrier is not None and codes:
            contract_create(
                actor=SYSTEM,
                kind="transport",
                number=f"WF-YS-{today.year}-{n:03d}",
                party_a=unit,
                party_b=carrier,
                waste_codes=codes,
                planned_tonnes=Decimal(500),
                valid_from=year_start,
                valid_to=year_end,
            )
        site = unit.sites.first()
        insurance_create(
            actor=SYSTEM,
            enterprise=unit,
            insurer="中国人民财产保险股份有限公司吉林省分公司",
            policy_number=f"PICC-HJ-{today.year}-{unit.credit_code[-6:]}",
            coverage_yuan=Decimal(5_000_000),
            valid_from=year_start,
            valid_to=year_end,
        )
        emergency_plan_create(
            actor=SYSTEM,
            enterprise=unit,
            site=site,
            filing_number=f"{unit.region.code6 or '220000'}-{today.year - 1}-{n:03d}-M",
            filed_on=dt.date(today.year - 1, 6, 1),
            authority=f"{unit.region.name}生态环境部门",
            valid_until=dt.date(today.year + 2, 5, 31),
        )
    auto = by_tag.get("auto")
    if auto is not None:
        eia_approval_create(
            actor=SYSTEM,
            enterprise=auto,
            site=auto.sites.first(),
            project="整车制造三期扩建项目",
            approval_number=f"吉环审字〔{today.year - 3}〕{_digest(auto.credit_code) % 90 + 10}号",
            approved_on=dt.date(today.year - 3, 4, 15),
            authority="吉林省生态环境厅",
            expected_wastes=[
                {"waste_code": "900-252-12", "annual_tonnes": "2600", "destination": "委托有资质单位处置"},
                {"waste_code": "900-249-08", "annual_tonnes": "380", "destination": "委托有资质单位利用"},
                {"waste_code": "900-041-49", "annual_tonnes": "150", "destination": "委托有资质单位处置"},
            ],
        )


def demo_summary(plan: DemoPlan) -> DemoSummary:
    units = plan.enterprises
    per_group = Counter(u.group for u in units)
    return DemoSummary(
        seed=plan.seed,
        scale=plan.scale,
        year=plan.year,
        enterprises=len(units),
        generators=sum("is_generator" in u.roles for u in units),
        carriers=sum("is_carrier" in u.roles for u in units),
        operators=sum("is_operator" in u.roles for u in units),
        collectors=sum("is_collector" in u.roles for u in units),
        vehicles=sum(len(u.vehicles) for u in units),
        licences=sum(len(u.licences) for u in units),
        profiles=sum(len(u.profiles) for u in units),
        tonnes=sum((u.total_tonnes(plan.year) for u in units), Decimal(0)),
        per_group=[(g.city if g.key != "changbaishan" else "长白山管委会", per_group[g.key]) for g in GROUPS],
        regulator_accounts=sum(1 for a in plan.accounts if not a.showcase),
        enterprise_accounts=sum(1 for a in plan.accounts if a.showcase),
        logins=demo_logins(),
    )
