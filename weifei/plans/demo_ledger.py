"""The demo province's 管理台账: a year of ledger records for every generator site, written fast.

``demo_ledgers_generate`` is called at the end of ``registry.demo.demo_province_generate``. For
each site of a generator with a generation profile it plans, from the seed and the site's unit
code only (so the same seed gives the same batch codes), the records of the 12 months up to
``today`` (HJ 1259—2022 6, Annex B; regulations §3.3, §13 rules 10, 12–15, 17):

- 产生 per container, sized by waste and industry: 200 L drums (0.15–0.2 t), 1000 L IBCs
  (0.8–1 t), tonne bags (≈ 1 t), 20 L pails for laboratories, medical-waste boxes (5–15 kg) and
  sharps boxes for hospitals; each container is labelled with an HJ 1276 数字识别码 allocated like
  ``ledger._label_allocate`` (unit code + waste code + date + the next sequence of that unit, code
  and day). Streams too big for containers (> ``MAX_CONTAINERS_PER_YEAR``) — sludge in a pond,
  waste acid in a tank, a large hospital's daily boxes — get one record per day (HJ 1259 6.2).
- 入库 into the site's storage facility the same day (sites without one hand their containers
  over straight from the 产生 record, which rule 14 allows);
- 出库 + 委外 to the nearest licensed operator (same prefecture first) whose licence is valid on
  the day and covers the code or its category, every few weeks or when a load has built up
  (medical waste every one or two days, 医废条例 第十七条); operators self-treat what their own
  licence covers (自行利用/处置, method codes of ``catalog.DisposalMethod``);
- a realistic stock at ``today``, a few containers kept 9, 11 and 12 months (the ageing
  warnings), and two corrections by reversal with their reasons.

Every record satisfies the rules of ``plans.ledger`` exactly (the tests recompute them and
replay a site through the services). The rows are written with ``bulk_create`` level by level
(a record's source is written before it); batch codes are those the services would give
(``ledger.batch_code``, per site/prefix/day sequence in time order) and the ``LedgerCounter`` /
``LabelCounter`` rows are set to the last sequence used, so later service writes continue the
sequences. One ``ledger.imported`` event per site (count, first and last batch code) goes on the
unit's event stream through ``events_record_bulk``, so ``weifei audit verify`` holds.

Declarations of the showcase generators are made through ``declaration_generate`` /
``declaration_submit`` as ``SYSTEM``, most on time, two late, one monthly period left undeclared.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models
from django.utils import timezone

from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import validate_waste_code, version_in_force
from weifei.core.actors import SYSTEM
from weifei.core.bulk_events import EventEntry, events_record_bulk
from weifei.core.errors import ApplicationError
from weifei.core.workdays import WorkCalendar
from weifei.registry.models import Enterprise, Facility, GenerationProfile, Licence, Site

from . import declarations
from .labels import SEQ_MAX, label_code_build
from .ledger import PREFIXES, SELF_PREFIXES, SENT_PREFIXES, batch_code, to_tonnes
from .models import Declaration, LabelCounter, LedgerCounter, LedgerEntry

SH = ZoneInfo("Asia/Shanghai")
Kind = LedgerEntry.Kind
MAX_CONTAINERS_PER_YEAR = 400  # beyond this a stream is recorded once a day (HJ 1259 6.2)
FLUSH_ROWS = 20_000  # plan this many rows, then write them (bounded memory at any scale)
SHIFT_START, SHIFT_END = (8, 30), (17, 0)  # Asia/Shanghai working hours for containers
AGES = (285, 340, 380)  # kept containers: > 9, > 11 and > 12 months old at ``today``
UNCOVERED_DAYS = 240  # wastes nobody in the province may take are recorded for these last days only
HANDLERS = ("王建华", "李淑芬", "张国庆", "刘海燕", "陈志刚", "杨丽娟", "赵永军", "孙桂英", "周海波", "吴春梅")

# ---------------------------------------------------------------- containers


@dataclass(frozen=True)
class Container:
    name: str  # 容器/包装类型
    litres: Decimal | None  # sets the label size (HJ 1276); None for a tank or pond
    low: float  # fill per container, tonnes
    high: float
    unit: str = "t"  # what the handler types: t, or kg for boxes and pails


DRUM = Container("200L铁桶", Decimal(200), 0.15, 0.20)
IBC = Container("IBC吨桶", Decimal(1000), 0.80, 1.00)
BAG = Container("吨袋", Decimal(1000), 0.85, 1.10)
PAIL = Container("20L塑料桶", Decimal(20), 0.012, 0.020, "kg")
BATTERY_BOX = Container("耐酸周转箱", Decimal(200), 0.20, 0.40)
MED_BOX = Container("医疗废物专用包装箱", Decimal(50), 0.005, 0.015, "kg")
SHARPS_BOX = Container("利器盒", Decimal(5), 0.002, 0.006, "kg")
TANK = Container("储罐（管道输送）", None, 0, 0)
POND = Container("贮存池（管道/皮带输送）", None, 0, 0)

LAB_INDUSTRIES = ("8341", "7452", "7320", "7340", "7350")
LIQUID_CATEGORIES = ("HW06", "HW09", "HW13", "HW34", "HW35")
SLUDGE_08 = ("071-001-08", "071-002-08", "251-002-08", "251-003-08", "251-006-08", "900-210-08", "900-213-08",
             "900-215-08")  # fmt: skip
COMMON_NAMES = {
    "900-214-08": "废机油",
    "900-249-08": "废矿物油",
    "900-217-08": "废齿轮油",
    "900-218-08": "废液压油",
    "900-041-49": "废包装桶、含油抹布",
    "900-039-49": "废活性炭",
    "900-052-31": "废铅蓄电池",
    "900-252-12": "废漆渣",
    "900-006-09": "废乳化液",
    "900-402-06": "废有机溶剂",
    "841-001-01": "感染性医疗废物",
    "841-002-01": "损伤性医疗废物（针头、刀片）",
    "336-064-17": "磷化渣、废水处理污泥",
    "772-003-18": "焚烧飞灰、底渣",
    "900-047-49": "实验室废液",
}


def container_for(waste_code: str, annual_tonnes: float, industry_code: str) -> tuple[Container, bool]:
    """The container a stream goes into and whether it is recorded once a day (bulk)."""
    category = f"HW{waste_code[-2:]}"
    if category == "HW01":
        box = SHARPS_BOX if waste_code == "841-002-01" else MED_BOX
        daily = annual_tonnes / ((box.low + box.high) / 2) > 365
        return box, daily
    if industry_code in LAB_INDUSTRIES or category == "HW29":
        return PAIL, False
    if waste_code in ("900-052-31", "900-044-49"):
        box = BATTERY_BOX
    elif category in LIQUID_CATEGORIES or (category == "HW08" and waste_code not in SLUDGE_08):
        box = DRUM if annual_tonnes < 15 else IBC
    else:
        box = DRUM if annual_tonnes < 3 else BAG
    if annual_tonnes / ((box.low + box.high) / 2) > MAX_CONTAINERS_PER_YEAR:
        liquid = box in (DRUM, IBC)
        return (TANK if liquid else POND), True
    if box in (DRUM, BATTERY_BOX) and annual_tonnes < 2 * box.low:
        return PAIL, False  # a few kilos a year: a 20 L pail, not a half-empty drum
    return box, False


# ---------------------------------------------------------------- facts (read from the registry)


@dataclass(frozen=True)
class Receiver:
    """A licence that may receive waste (rule 15), with where its holder is."""

    enterprise_id: int
    name: str
    number: str
    valid_from: dt.date
    valid_to: dt.date
    codes: frozenset[str]
    categories: frozenset[str]
    methods: tuple[str, ...]
    collection: bool
    industry_code: str
    prefecture: str
    lat: float
    lng: float

    def covers(self, waste_code: str) -> bool:
        return waste_code in self.codes or f"HW{waste_code[-2:]}" in self.categories

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_to


@dataclass(frozen=True)
class SiteFacts:
    site_id: int
    enterprise_id: int
    credit_code: str
    industry_code: str
    prefecture: str
    lat: float
    lng: float
    profiles: tuple[tuple[str, Decimal], ...]  # (waste code, annual tonnes) of the latest year
    storage_id: int | None
    treatment_id: int | None  # a utilization/disposal facility of the site
    rng_key: str  # the RNG is seeded from the seed and this (the unit code): stable across runs
    aged: tuple[int, ...] = ()  # ages in days of containers kept in stock
    reversal: str = ""  # "generated" (a duplicate 产生 record) or "stored_in" (a mistyped 入库)


@dataclass
class Window:
    start: dt.date  # the first day of records (12 months before today)
    today: dt.date
    end: dt.datetime  # nothing is dated after this (the end of today, or now)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    _work: dict[dt.date, bool] = field(default_factory=dict)
    _version: dict[dt.date, str] = field(default_factory=dict)
    _valid: dict[tuple[str, str], bool] = field(default_factory=dict)

    @classmethod
    def ending(cls, today: dt.date, now: dt.datetime | None = None) -> Window:
        try:
            start = today.replace(year=today.year - 1)
        except ValueError:  # 29 February
            start = today.replace(year=today.year - 1, day=28)
        last = dt.datetime.combine(today, dt.time(23, 59, 59), tzinfo=SH)
        return cls(start=start, today=today, end=min(last, now or timezone.now()))

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.today - self.start).days + 1)]

    def is_workday(self, day: dt.date) -> bool:
        if day not in self._work:
            self._work[day] = self.calendar.is_workday(day)
        return self._work[day]

    def code_valid(self, waste_code: str, day: dt.date) -> bool:
        """The code exists in the catalogue version in force on the day (rule 1)."""
        if day not in self._version:
            try:
                self._version[day] = version_in_force(day).key
            except ApplicationError:
                self._version[day] = ""
        key = (waste_code, self._version[day])
        if key not in self._valid:
            try:
                validate_waste_code(waste_code, on=day)
                self._valid[key] = True
            except ApplicationError:
                self._valid[key] = False
        return self._valid[key]


# ---------------------------------------------------------------- planned rows


@dataclass(eq=False)
class Row:
    """One planned ledger record (what the matching service call would write)."""

    n: int  # planning order: ties in time are written in this order
    kind: str
    at: dt.datetime
    waste_code: str
    tonnes: Decimal
    entered: Decimal
    unit: str
    container: Container | None = None
    container_count: int = 1
    labelled: bool = False
    source: Row | None = None
    reversal_of: Row | None = None
    facility_id: int | None = None
    method_code: str = ""
    receiver: Receiver | None = None
    handler: str = ""
    common_name: str = ""
    destination: str = ""
    finished_at: dt.datetime | None = None
    reason: str = ""
    batch_code: str = ""
    container_code: str | None = None
    id: int | None = None  # reserved just before writing

    @property
    def category(self) -> str:
        return f"HW{self.waste_code[-2:]}"

    @property
    def level(self) -> int:
        if self.reversal_of is not None:
            return self.reversal_of.level + 1
        return 0 if self.source is None else self.source.level + 1


def _tonnes(rng: random.Random, box: Container) -> tuple[Decimal, Decimal]:
    """(tonnes, entered quantity) of one container, as the handler weighs it."""
    value = rng.uniform(box.low, box.high)
    if box.unit == "kg":
        entered = Decimal(f"{value * 1000:.1f}")
        return to_tonnes(entered, "kg")[0], entered
    entered = Decimal(f"{value:.3f}")
    return entered, entered


def _day(at: dt.datetime) -> dt.date:
    """The record's date as the services take it (``timezone.localdate``, Asia/Shanghai), fast."""
    return at.astimezone(SH).date()


def _at(day: dt.date, minutes: float) -> dt.datetime:
    """``minutes`` after midnight of ``day`` in Asia/Shanghai, to the second."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=SH) + dt.timedelta(seconds=int(minutes * 60))


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    dy = (lat2 - lat1) * 111.0
    dx = (lng2 - lng1) * 111.0 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


UTILIZATION_METHOD = {"HW08": "R9", "HW09": "R9", "HW11": "R9", "HW06": "R2", "HW34": "R6", "HW35": "R6",
                      "HW50": "R8", "HW17": "R4", "HW22": "R4", "HW31": "R4", "HW46": "R4", "HW48": "R4",
                      "HW49": "R4"}  # fmt: skip
LANDFILL = ("HW18", "HW21", "HW23", "HW24", "HW36", "HW46", "HW48")


def method_for(receiver: Receiver, waste_code: str) -> str:
    """A plausible 利用/处置方式 for this receiver and waste (provisional HJ 1033 附录F codes)."""
    category = f"HW{waste_code[-2:]}"
    if category == "HW01":
        return "Y10"
    if receiver.industry_code == "3011":
        return "C1"  # 水泥窑协同处置
    if receiver.collection or ("utilization" in receiver.methods and "disposal" not in receiver.methods):
        return UTILIZATION_METHOD.get(category, "R15")
    if category in LANDFILL:
        return "D1"
    if category in ("HW17", "HW22", "HW34", "HW35"):
        return "D9"
    return "D10"


@dataclass
class _Lot:
    """A container (or a day's bulk) in the site's stock, waiting to leave."""

    holder: Row  # the record the next one takes from: the 入库, or the 产生 without storage
    ready: dt.datetime
    held: bool = False  # kept back (the ageing demo)


class _Planner:
    def __init__(
        self,
        facts: SiteFacts,
        *,
        seed: int,
        window: Window,
        receivers: Sequence[Receiver],
        own: Sequence[Receiver],
    ) -> None:
        self.f = facts
        self.rng = random.Random(f"weifei-ledger/{seed}/{facts.rng_key}")
        self.w = window
        self.rows: list[Row] = []
        self.handlers = self.rng.sample(HANDLERS, 3)
        total = float(sum((t for _, t in facts.profiles), Decimal(0)))
        self.total = total
        if total >= 1000:
            self.interval, self.load = 7, 25.0
        elif total >= 100:
            self.interval, self.load = self.rng.randint(14, 21), 15.0
        elif total >= 10:
            self.interval, self.load = self.rng.randint(28, 42), 5.0
        elif total >= 1:
            self.interval, self.load = self.rng.randint(56, 90), 2.0
        else:
            self.interval, self.load = self.rng.randint(90, 150), 1.0
        self.candidates: dict[str, list[Receiver]] = {}
        for code, _ in facts.profiles:
            scored = [
                (_km(facts.lat, facts.lng, r.lat, r.lng) + (0 if r.prefecture == facts.prefecture else 80), r.number, r)
                for r in receivers
                if r.enterprise_id != facts.enterprise_id and r.covers(code)
            ]
            self.candidates[code] = [r for _, _, r in sorted(scored, key=lambda x: (x[0], x[1]))]
        self.own = {code: next((r for r in own if r.covers(code)), None) for code, _ in facts.profiles}

    # -- helpers ---------------------------------------------------------------------------

    def row(self, **kw: object) -> Row | None:
        at = kw["at"]
        assert isinstance(at, dt.datetime)
        if at > self.w.end:
            return None  # not happened yet
        r = Row(n=len(self.rows), **kw)  # type: ignore[arg-type]
        self.rows.append(r)
        return r

    def after(self, source: Row, kind: str, at: dt.datetime, **kw: object) -> Row | None:
        """A record taking all of ``source`` (the services copy the container fields)."""
        if not self.w.code_valid(source.waste_code, _day(at)):
            return None
        return self.row(
            kind=kind, at=at, waste_code=source.waste_code, tonnes=source.tonnes, entered=source.entered,
            unit=source.unit, container=source.container, container_count=source.container_count,
            labelled=source.labelled, source=source, common_name=source.common_name,
            handler=self.rng.choice(self.handlers), **kw,
        )  # fmt: skip

    def receiver_on(self, code: str, day: dt.date) -> Receiver | None:
        return next((r for r in self.candidates[code] if r.valid_on(day)), None)

    # -- generation ----------------------------------------------------------------------

    def plan(self) -> list[Row]:
        lots: dict[str, list[_Lot]] = {}
        for code, tonnes in self.f.profiles:
            lots[code] = self.generate(code, float(tonnes))
        if not self.rows:
            self.one_container(lots)
        self.keep_aged(lots)
        self.ship(lots)
        self.correct()
        return self.rows

    def generate(self, code: str, annual: float) -> list[_Lot]:
        box, daily = container_for(code, annual, self.f.industry_code)
        medical = code.endswith("-01")
        every_day = daily or medical
        days = [d for d in self.w.days() if every_day or self.w.is_workday(d)]
        if not self.candidates[code] and self.own.get(code) is None:
            # No licensed operator of the province takes it (e.g. HW29 lamps): such waste leaves by
            # cross-province transfer, taken to have happened before the last UNCOVERED_DAYS.
            days = [d for d in days if d > self.w.today - dt.timedelta(days=UNCOVERED_DAYS)]
        per_day = annual / 365 if every_day else annual / 250
        fill = self.rng.uniform(box.low, box.high)
        acc = self.rng.uniform(0, fill)  # what was already in the open container on day one
        lots: list[_Lot] = []
        for day in days:
            acc += per_day * self.rng.uniform(0.4, 1.6)
            if not self.w.code_valid(code, day):
                continue
            if daily:
                if acc < 0.001:
                    continue
                count = 1
                if box.litres is not None:  # a day's boxes in one record
                    count = max(1, round(acc / ((box.low + box.high) / 2)))
                if box.unit == "kg":
                    entered = Decimal(f"{acc * 1000:.1f}")
                    tonnes = to_tonnes(entered, "kg")[0]
                else:
                    entered = tonnes = Decimal(f"{acc:.3f}")
                acc = 0.0
                at = _at(day, self.rng.uniform(16 * 60 + 30, 17 * 60 + 30))
                self.produce(lots, code, at, tonnes, entered, box, count=count, labelled=False)
                continue
            times: list[float] = []
            while acc >= fill:
                acc -= fill
                fill = self.rng.uniform(box.low, box.high)
                times.append(self.rng.uniform(SHIFT_START[0] * 60 + SHIFT_START[1], SHIFT_END[0] * 60 + SHIFT_END[1]))
            for minutes in sorted(times):
                tonnes, entered = _tonnes(self.rng, box)
                self.produce(lots, code, _at(day, minutes), tonnes, entered, box, count=1, labelled=True)
        return lots

    def produce(
        self,
        lots: list[_Lot],
        code: str,
        at: dt.datetime,
        tonnes: Decimal,
        entered: Decimal,
        box: Container,
        *,
        count: int,
        labelled: bool,
        held: bool = False,
    ) -> None:
        own = self.own.get(code) if self.f.treatment_id else None
        bulk_self = own is not None and box.litres is None
        destination = "自行利用处置" if own is not None else ("入库贮存" if self.f.storage_id else "委外利用处置")
        gen = self.row(
            kind=Kind.GENERATED, at=at, waste_code=code, tonnes=tonnes, entered=entered, unit=box.unit,
            container=box, container_count=count, labelled=labelled, handler=self.rng.choice(self.handlers),
            common_name=COMMON_NAMES.get(code, ""), destination=destination,
        )  # fmt: skip
        if gen is None:
            return
        if bulk_self and own is not None and not held:
            # Piped straight into the site's own line (B.4 from the 产生 batch).
            self.self_treat(gen, own, gen.at + dt.timedelta(minutes=self.rng.randint(30, 180)))
            return
        holder: Row | None = gen
        if self.f.storage_id:
            holder = self.after(
                gen, Kind.STORED_IN, at + dt.timedelta(minutes=self.rng.randint(10, 90)), facility_id=self.f.storage_id
            )
        if holder is not None:
            lots.append(_Lot(holder, holder.at, held))

    def self_treat(self, source: Row, own: Receiver, at: dt.datetime) -> None:
        finished: dt.datetime | None = at + dt.timedelta(hours=self.rng.randint(2, 8))
        if finished is not None and finished > self.w.end:
            finished = None
        self.after(source, Kind.SELF_TREATED, at, facility_id=self.f.treatment_id,
                   method_code=method_for(own, source.waste_code), finished_at=finished)  # fmt: skip

    def one_container(self, lots: dict[str, list[_Lot]]) -> None:
        """A unit generating a few kilos a year still fills one pail in a year."""
        code, annual = max(self.f.profiles, key=lambda p: (p[1], p[0]))
        days = [d for d in self.w.days() if self.w.is_workday(d) and self.w.code_valid(code, d)]
        if not days:
            return
        day = self.rng.choice(days[: max(1, len(days) * 3 // 4)])
        box = MED_BOX if code.endswith("-01") else PAIL
        entered = Decimal(f"{min(max(float(annual), 0.001), box.high) * 1000:.1f}")
        at = _at(day, self.rng.uniform(9 * 60, 16 * 60))
        self.produce(lots[code], code, at, to_tonnes(entered, "kg")[0], entered, box, count=1, labelled=True)

    def keep_aged(self, lots: dict[str, list[_Lot]]) -> None:
        """Containers left in storage for months (awaiting a receiver): the ageing warnings."""
        codes = [c for c, _ in self.f.profiles if not c.endswith("-01")]
        if not self.f.aged or not codes:
            return
        codes.sort(key=lambda c: (not c.endswith("-50"), c))  # a spent catalyst waiting for a buyer
        code = codes[0]
        annual = dict(self.f.profiles)[code]
        box, daily = container_for(code, float(annual), self.f.industry_code)
        if daily:
            box = DRUM if box is TANK else BAG
        for age in self.f.aged:
            day = self.w.today - dt.timedelta(days=age)
            if not self.w.code_valid(code, day):
                continue
            tonnes, entered = _tonnes(self.rng, box)
            at = _at(day, self.rng.uniform(9 * 60, 16 * 60))
            self.produce(lots[code], code, at, tonnes, entered, box, count=1, labelled=True, held=True)

    # -- leaving the site ----------------------------------------------------------------

    def ship(self, lots: dict[str, list[_Lot]]) -> None:
        """出库 + 委外 (or 自行) in shipments: on the site's schedule or when a load is ready."""
        for queue in lots.values():
            queue.sort(key=lambda lot: (lot.ready, lot.holder.n))
        medical = {code for code in lots if code.endswith("-01")}
        next_run = self.rng.randint(1, self.interval)  # day index of the next scheduled shipment
        med_every = self.rng.choice((1, 2))
        pending = {code: 0 for code in lots}  # index of the first lot still on site
        for i, day in enumerate(self.w.days()):
            work = self.w.is_workday(day)
            scheduled = work and i >= next_run  # moved to the next working day when it falls on a holiday
            if scheduled:
                next_run = i + self.interval
            for code, queue in lots.items():
                is_med = code in medical
                if is_med:
                    due = i % med_every == 0
                else:
                    due = work and (scheduled or self._stock(queue, pending[code], day) >= self.load)
                if not due:
                    continue
                own = self.own.get(code) if self.f.treatment_id else None
                start = (9 * 60, 15 * 60) if not is_med else (14 * 60, 16 * 60)
                at = _at(day, self.rng.uniform(*start))
                if at > self.w.end:
                    continue
                receiver = None if own is not None else self.receiver_on(code, day)
                if own is None and receiver is None:
                    continue  # nobody may take it today: it stays in stock
                pending[code] = self._send(queue, pending[code], at, own, receiver)

    def _stock(self, queue: list[_Lot], first: int, day: dt.date) -> float:
        if first >= len(queue):
            return 0.0
        limit = dt.datetime.combine(day, dt.time(0), tzinfo=SH)
        end = bisect.bisect_left([lot.ready for lot in queue[first:]], limit) + first
        return float(sum((lot.holder.tonnes for lot in queue[first:end] if not lot.held), Decimal(0)))

    def _send(
        self, queue: list[_Lot], first: int, at: dt.datetime, own: Receiver | None, receiver: Receiver | None
    ) -> int:
        index = first
        taken = 0
        while index < len(queue) and queue[index].ready < at:
            lot = queue[index]
            index += 1
            if lot.held:
                continue
            taken += 1
            when = at + dt.timedelta(seconds=20 * taken)
            source: Row | None = lot.holder
            if lot.holder.kind == Kind.STORED_IN:
                destination = "自行利用处置" if own is not None else (receiver.name if receiver else "")
                source = self.after(lot.holder, Kind.STORED_OUT, when, facility_id=self.f.storage_id,
                                    destination=destination[:100])  # fmt: skip
            if source is None:
                continue
            later = when + dt.timedelta(minutes=self.rng.randint(10, 40))
            if own is not None:
                self.self_treat(source, own, later)
            elif receiver is not None:
                self.after(source, Kind.SENT_OUT, later, method_code=method_for(receiver, source.waste_code),
                           receiver=receiver)  # fmt: skip
        # Held lots stay; everything else before ``at`` has left.
        kept = [lot for lot in queue[first:index] if lot.held]
        queue[first:index] = kept
        return first + len(kept)

    # -- corrections ---------------------------------------------------------------------

    def correct(self) -> None:
        """HJ 1259 keeps history: a wrong record is cancelled by a reversing record with a reason."""
        if self.f.reversal == "generated":
            labelled = [r for r in self.rows if r.kind == Kind.GENERATED and r.labelled]
            if not labelled:
                return
            original = labelled[len(labelled) // 2]
            dup = self.row(
                kind=Kind.GENERATED, at=original.at + dt.timedelta(minutes=3), waste_code=original.waste_code,
                tonnes=original.tonnes, entered=original.entered, unit=original.unit, container=original.container,
                labelled=True, handler=original.handler, common_name=original.common_name,
                destination=original.destination,
            )  # fmt: skip
            if dup is not None:
                self._reverse(dup, "重复录入：同一容器已有产生记录，冲销重复的一条")
        elif self.f.reversal == "stored_in":
            stored = [r for r in self.rows if r.kind == Kind.STORED_IN and r.source and r.source.tonnes >= 1]
            stored = stored or [r for r in self.rows if r.kind == Kind.STORED_IN]
            if not stored:
                return
            good = stored[len(stored) // 2]
            assert good.source is not None
            # The mistyped weight came first; the right one was entered after the reversal.
            at = good.at - dt.timedelta(minutes=5)
            if at < good.source.at:
                return
            entered = (good.entered * Decimal("0.9")).quantize(Decimal("0.001") if good.unit == "t" else Decimal("0.1"))
            wrong = self.row(
                kind=Kind.STORED_IN, at=at, waste_code=good.waste_code, tonnes=to_tonnes(entered, good.unit)[0],
                entered=entered, unit=good.unit, container=good.container, container_count=good.container_count,
                labelled=good.labelled, source=good.source, facility_id=good.facility_id,
                handler=good.handler, common_name=good.common_name,
            )  # fmt: skip
            if wrong is not None:
                self._reverse(wrong, "入库量录入错误（地磅复核），冲销后按复核重量重新入库")

    def _reverse(self, entry: Row, reason: str) -> None:
        self.row(
            kind=entry.kind, at=entry.at, waste_code=entry.waste_code, tonnes=-entry.tonnes, entered=-entry.entered,
            unit=entry.unit, container=entry.container, container_count=entry.container_count,
            labelled=entry.labelled, source=entry.source, reversal_of=entry, facility_id=entry.facility_id,
            method_code=entry.method_code, receiver=entry.receiver, handler=entry.handler,
            common_name=entry.common_name, destination=entry.destination, finished_at=entry.finished_at,
            reason=reason,
        )  # fmt: skip


def plan_site(
    facts: SiteFacts,
    *,
    seed: int,
    window: Window,
    receivers: Sequence[Receiver],
    own: Sequence[Receiver] = (),
    method_kinds: Mapping[str, str],
    label_seqs: dict[tuple[int, str, dt.date], int],
) -> list[Row]:
    """Every record of one site, with the batch and label codes the services would give them
    when called in (time, planning order). ``label_seqs`` carries the unit's label sequences
    across its sites and is updated."""
    rows = _Planner(facts, seed=seed, window=window, receivers=receivers, own=own).plan()
    ordered = sorted((r for r in rows if r.reversal_of is None), key=lambda r: (r.at, r.n))
    seqs: dict[tuple[str, dt.date], int] = defaultdict(int)
    for r in ordered:
        day = _day(r.at)
        if r.kind == Kind.SELF_TREATED:
            prefix = SELF_PREFIXES[method_kinds[r.method_code]]
        elif r.kind == Kind.SENT_OUT:
            prefix = SENT_PREFIXES[method_kinds[r.method_code]]
        else:
            prefix = PREFIXES[Kind(r.kind)]
        seqs[(prefix, day)] += 1
        r.batch_code = batch_code(prefix, day, seqs[(prefix, day)])  # refuses past 999, like the service
        if r.kind == Kind.GENERATED and r.labelled:
            key = (facts.enterprise_id, r.waste_code, day)
            label_seqs[key] = label_seqs.get(key, 0) + 1
            if label_seqs[key] > SEQ_MAX:
                raise ApplicationError(f"{day} {r.waste_code} 标签顺序码已用完", code="label_seq_full")
            r.container_code = label_code_build(
                credit_code=facts.credit_code, waste_code=r.waste_code, on=day, seq=label_seqs[key], today=day
            )
    for r in rows:
        if r.reversal_of is not None:
            r.batch_code = f"{r.reversal_of.batch_code}C"[:24]
            r.container_code = r.reversal_of.container_code
        elif r.source is not None:
            r.container_code = r.source.container_code
    return rows


# ---------------------------------------------------------------- writing


COLUMNS = (
    "id", "site_id", "kind", "batch_code", "occurred_at", "waste_code", "category", "quantity_tonnes",
    "entered_quantity", "entered_unit", "conversion_factor", "container_code", "container_type", "container_count",
    "container_litres", "common_name", "destination", "finished_at", "facility_id", "source_id", "handler",
    "method_code", "receiver_type", "receiver_id", "receiver_name", "licence_number", "reversal_of_id", "reason",
)  # fmt: skip


def _values(site_id: int, r: Row) -> tuple[object, ...]:
    """The columns (``COLUMNS``) the matching service call would write (``ledger._create_downstream``)."""
    box = r.container
    receiver = r.receiver
    return (
        r.id, site_id, str(r.kind), r.batch_code, r.at, r.waste_code, r.category, r.tonnes,
        r.entered, r.unit, None, r.container_code, box.name if box else "", r.container_count,
        box.litres if box else None, r.common_name, r.destination, r.finished_at, r.facility_id,
        r.source.id if r.source is not None else None, r.handler,
        r.method_code, "licensed" if receiver else "", receiver.enterprise_id if receiver else None,
        receiver.name if receiver else "", receiver.number if receiver else "",
        r.reversal_of.id if r.reversal_of is not None else None, r.reason,
    )  # fmt: skip


# Types the database driver takes as they are (psycopg adapts Decimal, date and aware datetimes;
# Django registers Decimal and date adapters for sqlite3). SQLite datetimes go through Django's
# adapter (UTC, no offset), and anything else through the field itself.
PLAIN_FIELDS = (models.CharField, models.IntegerField, models.ForeignKey, models.BooleanField, models.DecimalField,
                models.AutoField)  # fmt: skip


def _adapter(f: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    if isinstance(f, models.DateTimeField):
        if connection.vendor == "postgresql":
            return None
        return lambda v: None if v is None else connection.ops.adapt_datetimefield_value(v)
    if isinstance(f, PLAIN_FIELDS) or (isinstance(f, models.DateField) and connection.vendor == "postgresql"):
        return None
    if isinstance(f, models.DateField):
        return lambda v: None if v is None else connection.ops.adapt_datefield_value(v)
    return lambda v: f.get_db_prep_save(v, connection)


def raw_insert(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Insert plain rows (values in ``names`` order) into ``model``'s table in one pass: COPY on
    PostgreSQL, executemany on SQLite. The other columns take the field's default (``created_at``:
    now), so a column added later with a default needs no change here. No signals, no ``save()``."""
    now = timezone.now()
    by_name = {f.attname: f for f in model._meta.concrete_fields}
    rest = [f for f in model._meta.concrete_fields if f.attname not in names and not f.primary_key]
    defaults: list[object] = []
    for f in rest:
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            value: object = now
        else:
            value = f.get_default()  # the declared default, else "" for a text field, else None
        adapt = _adapter(f)
        defaults.append(adapt(value) if adapt else value)
    tail = tuple(defaults)
    adapters = [(i, a) for i, name in enumerate(names) if (a := _adapter(by_name[name])) is not None]

    def prepared() -> Iterator[tuple[object, ...]]:
        for row in rows:
            if adapters:
                values = list(row)
                for i, adapt in adapters:
                    values[i] = adapt(values[i])
                yield (*values, *tail)
            else:
                yield (*row, *tail)

    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in [*(by_name[n] for n in names), *rest])
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for values in prepared():
                    copy.write_row(values)
                    count += 1
        else:
            data: list[Any] = list(prepared())
            count = len(data)
            if data:
                marks = ", ".join(["%s"] * len(data[0]))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", data)
    return count


def _reserve_ids(n: int) -> list[int]:
    """``n`` new primary keys of ``LedgerEntry``, so rows can point at each other before insertion."""
    table = LedgerEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])
            return [int(x) for (x,) in cursor.fetchall()]
        # SQLite: the demo's transaction holds the database's write lock, so max + 1… is free.
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        (last,) = cursor.fetchone()
        return list(range(int(last) + 1, int(last) + 1 + n))


def write_rows(planned: Sequence[tuple[int, Sequence[Row]]]) -> int:
    """Insert the planned rows of several sites; sources before the records taking from them."""
    ordered = sorted(((r.level, i, site_id, r) for i, (site_id, rows) in enumerate(planned) for r in rows),
                     key=lambda x: (x[0], x[1], x[3].n))  # fmt: skip
    for new_id, (_, _, _, r) in zip(_reserve_ids(len(ordered)), ordered, strict=True):
        r.id = new_id
    return raw_insert(LedgerEntry, COLUMNS, (_values(site_id, r) for _, _, site_id, r in ordered))


# ---------------------------------------------------------------- reading the registry


def _prefecture(region_key: str, parent_key: str | None) -> str:
    if region_key.startswith("changbaishan") or region_key == "220581":
        return region_key.split("-")[0]
    return parent_key or region_key


def receivers_load() -> list[Receiver]:
    result = []
    qs = Licence.objects.filter(status=Licence.Status.VALID).select_related("holder__region__parent")
    for lic in qs.prefetch_related("scopes").order_by("number"):
        holder = lic.holder
        result.append(
            Receiver(
                enterprise_id=holder.id,
                name=holder.name,
                number=lic.number,
                valid_from=lic.valid_from,
                valid_to=lic.valid_to,
                codes=frozenset(s.waste_code for s in lic.scopes.all() if s.waste_code),
                categories=frozenset(s.category for s in lic.scopes.all() if not s.waste_code and s.category),
                methods=tuple(lic.methods),
                collection=lic.kind == Licence.Kind.COLLECTION,
                industry_code=holder.industry_code,
                prefecture=_prefecture(holder.region.key, holder.region.parent.key if holder.region.parent else None),
                lat=float(holder.latitude or 0),
                lng=float(holder.longitude or 0),
            )
        )
    return result


def sites_load(*, fresh_only: bool = True) -> list[SiteFacts]:
    """Generator sites with a generation profile (and, by default, no ledger yet), in unit-code order."""
    profiles: dict[int, list[tuple[int, str, Decimal]]] = defaultdict(list)
    for site_id, year, code, tonnes in GenerationProfile.objects.filter(site__isnull=False).values_list(
        "site_id", "year", "waste_code", "annual_tonnes"
    ):
        profiles[site_id].append((year, code, tonnes))
    has_ledger = set(LedgerEntry.objects.values_list("site_id", flat=True).distinct()) if fresh_only else set()
    storage: dict[int, int] = {}
    treatment: dict[int, int] = {}
    for fid, site_id, kind in (
        Facility.objects.filter(in_service=True).order_by("id").values_list("id", "site_id", "kind")
    ):
        if kind == Facility.Kind.STORAGE:
            storage.setdefault(site_id, fid)
        elif kind in (Facility.Kind.UTILIZATION, Facility.Kind.DISPOSAL):
            treatment.setdefault(site_id, fid)
    sites = (
        Site.objects.filter(enterprise__is_generator=True, id__in=list(profiles))
        .exclude(status=Site.Status.CLOSED)
        .exclude(id__in=has_ledger)
        .select_related("enterprise", "region__parent")
        .order_by("enterprise__credit_code", "id")
    )
    result = []
    for site in sites:
        rows = profiles[site.id]
        latest = max(year for year, _, _ in rows)
        current = tuple(sorted((code, t) for year, code, t in rows if year == latest and t > 0))
        if not current:
            continue
        ent = site.enterprise
        result.append(
            SiteFacts(
                site_id=site.id,
                enterprise_id=ent.id,
                credit_code=ent.credit_code,
                industry_code=site.industry_code or ent.industry_code,
                prefecture=_prefecture(site.region.key, site.region.parent.key if site.region.parent else None),
                lat=float(site.latitude or ent.latitude or 0),
                lng=float(site.longitude or ent.longitude or 0),
                profiles=current,
                storage_id=storage.get(site.id),
                treatment_id=treatment.get(site.id),
                rng_key=f"{ent.credit_code}/{site.name}",
            )
        )
    return result


# ---------------------------------------------------------------- the whole demo


@dataclass
class LedgerDemoSummary:
    sites: int = 0
    entries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    labels: int = 0
    declarations: int = 0
    submitted: int = 0
    late: int = 0


def sites_marked(sites: list[SiteFacts], showcases: Mapping[str, Enterprise], seed: int) -> list[SiteFacts]:
    """Which sites keep old containers and which make a correction (a few, chosen by the seed)."""
    tag_of = {e.id: tag for tag, e in showcases.items()}
    aged = {"repair": (AGES[0],), "auto": (AGES[1],), "petrochem": (AGES[2],)}
    rng = random.Random(f"weifei-ledger-marks/{seed}")
    others = [i for i, s in enumerate(sites) if s.enterprise_id not in tag_of and not s.profiles[0][0].endswith("-01")]
    extra = dict(zip(rng.sample(others, min(3, len(others))), AGES, strict=False))
    marked = []
    for i, s in enumerate(sites):
        tag = tag_of.get(s.enterprise_id, "")
        ages = aged.get(tag, ((extra[i],) if i in extra else ()))
        reversal = {"repair": "generated", "auto": "stored_in"}.get(tag, "")
        marked.append(replace(s, aged=ages, reversal=reversal))
    if not any(s.reversal for s in marked) and marked:  # no showcases (tests): still show corrections
        marked[0] = replace(marked[0], reversal="generated")
    return marked


def ledgers_import(
    sites: Sequence[SiteFacts],
    *,
    seed: int,
    window: Window,
    receivers: Sequence[Receiver] | None = None,
) -> LedgerDemoSummary:
    """Plan and write the sites' records, their counters and one ``ledger.imported`` event per site.
    The sites must have no ledger yet (their units no labels on those days)."""
    receivers = receivers_load() if receivers is None else receivers
    own_by_enterprise: dict[int, list[Receiver]] = defaultdict(list)
    for receiver in receivers:
        own_by_enterprise[receiver.enterprise_id].append(receiver)
    method_kinds = dict(DisposalMethod.objects.values_list("code", "kind"))
    summary = LedgerDemoSummary()
    label_seqs: dict[tuple[int, str, dt.date], int] = {}
    counters: dict[tuple[int, str, dt.date], int] = {}
    imported: list[tuple[SiteFacts, int, str, str]] = []
    batch: list[tuple[int, Sequence[Row]]] = []
    pending = 0
    for facts in sites:
        rows = plan_site(
            facts, seed=seed, window=window, receivers=receivers, own=own_by_enterprise.get(facts.enterprise_id, ()),
            method_kinds=method_kinds, label_seqs=label_seqs,
        )  # fmt: skip
        if not rows:
            continue
        summary.sites += 1
        for r in rows:
            summary.by_kind[str(r.kind)] = summary.by_kind.get(str(r.kind), 0) + 1
            if r.reversal_of is None:
                key = (facts.site_id, r.batch_code[:-11], _day(r.at))
                counters[key] = max(counters.get(key, 0), int(r.batch_code[-3:]))
                summary.labels += int(r.kind == Kind.GENERATED and r.labelled)
        ordered = sorted((r for r in rows if r.reversal_of is None), key=lambda r: (r.at, r.n))
        imported.append((facts, len(rows), ordered[0].batch_code, ordered[-1].batch_code))
        batch.append((facts.site_id, rows))
        pending += len(rows)
        if pending >= FLUSH_ROWS:
            summary.entries += write_rows(batch)
            batch, pending = [], 0
    summary.entries += write_rows(batch)
    raw_insert(LedgerCounter, ("site_id", "prefix", "day", "last_seq"), ((*k, n) for k, n in counters.items()))
    label_columns = ("enterprise_id", "waste_code", "day", "last_seq")
    raw_insert(LabelCounter, label_columns, ((*k, n) for k, n in label_seqs.items()))
    _record_imports(imported, window)
    return summary


def demo_ledgers_generate(
    *, seed: int, today: dt.date, showcases: Mapping[str, Enterprise] | None = None, now: dt.datetime | None = None
) -> LedgerDemoSummary:
    """A year of ledger records for every generator site and the showcase declarations.
    Call inside the demo's transaction, after the registry is written."""
    showcases = showcases or {}
    window = Window.ending(today, now)
    sites = sites_marked(sites_load(), showcases, seed)
    summary = ledgers_import(sites, seed=seed, window=window)
    _declare_showcases(showcases, window, summary)
    return summary


def _record_imports(imported: Sequence[tuple[SiteFacts, int, str, str]], window: Window) -> None:
    """One ``ledger.imported`` event per site on its unit's stream (like a bulk import's)."""
    sites = Site.objects.in_bulk([facts.site_id for facts, _, _, _ in imported])
    entries = [
        EventEntry(
            subject=sites[facts.site_id],
            actor=SYSTEM,
            kind="ledger.imported",
            after={
                "source": "demo",
                "entries": count,
                "first_batch_code": first,
                "last_batch_code": last,
                "from": window.start.isoformat(),
                "to": window.today.isoformat(),
            },
            reason="演示数据：按产生情况生成的一年台账",
            organisation=facts.enterprise_id,
        )
        for facts, count, first, last in imported
    ]
    events_record_bulk(entries)


# ---------------------------------------------------------------- declarations


@contextmanager
def _declaration_clock(at: dt.datetime) -> Iterator[None]:
    """The declaration services read the time through ``declarations._now`` (their test seam);
    the demo sets it to the moment a past declaration was made, then puts it back. The events
    keep the real time of writing (they record when the demo wrote them)."""
    real = declarations._now
    setattr(declarations, "_now", lambda: at)  # noqa: B010
    try:
        yield
    finally:
        setattr(declarations, "_now", real)  # noqa: B010


def _declare_showcases(showcases: Mapping[str, Enterprise], window: Window, summary: LedgerDemoSummary) -> None:
    """Past periods of the showcase generators: most declared a few days before the due date,
    two declared late (auto, petrochem), one monthly period of the hospital never declared, and
    the periods whose due date has not come yet left as drafts."""
    late_pick = {"auto": 3, "petrochem": 6}  # the n-th most recent period is declared late
    missing_pick = {"hospital": 2}
    for tag in sorted(showcases):
        enterprise = showcases[tag]
        site = enterprise.sites.order_by("id").first()
        if not enterprise.is_generator or site is None or not site.management_class:
            continue
        if not LedgerEntry.objects.filter(site=site).exists():
            continue
        periods = [
            p
            for year in range(window.start.year, window.today.year + 1)
            for p in declarations.declaration_periods(site.management_class, year)
            if p.start >= window.start and p.end < window.today
        ]
        periods.sort(key=lambda p: (p.start, p.kind), reverse=True)
        rng = random.Random(f"weifei-declarations/{enterprise.credit_code}")
        for index, period in enumerate(periods):
            if period.kind == Declaration.Kind.MONTHLY and missing_pick.get(tag) == index:
                continue
            due_at = dt.datetime.combine(period.due, dt.time(10, 0), tzinfo=SH)
            if late_pick.get(tag) == index:
                generated_at = due_at + dt.timedelta(days=rng.randint(2, 6))
            else:
                generated_at = due_at - dt.timedelta(days=rng.randint(1, 8), minutes=rng.randint(0, 300))
            earliest = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(9, 0), tzinfo=SH)
            generated_at = max(generated_at, earliest)
            submitted_at = generated_at + dt.timedelta(minutes=rng.randint(5, 90))
            if generated_at > window.end:
                generated_at = window.end
            with _declaration_clock(generated_at):
                decl = declarations.declaration_generate(
                    actor=SYSTEM, site_id=site.id, kind=period.kind, period_start=period.start
                )
            summary.declarations += 1
            if period.due >= window.today or submitted_at > window.end:
                continue  # not due yet: a draft waiting for the unit
            with _declaration_clock(submitted_at):
                decl = declarations.declaration_submit(actor=SYSTEM, declaration_id=decl.id)
            summary.submitted += 1
            summary.late += int(decl.late)
