"""The demo province's 电子转移联单: a year of manifests matching the demo ledgers' 委外 shipments.

``demo_manifests_generate`` is called by ``registry.demo.demo_province_generate`` right after the
demo ledgers (``plans.demo_ledger``). Every group of 委外 (sent_out) records of one site, one
receiver and one day is a shipment; each waste category of a shipment is one manifest (转移办法
第十六条: one manifest per vehicle trip and waste class), with one line per waste code. Written in
bulk (COPY on PostgreSQL, executemany on SQLite, ``demo_ledger.raw_insert``), but every row is what
``services.manifest_create`` / ``manifest_transition`` would have written:

- the number: per year and origin prefecture (``numbering.prefecture_of``) in creation order, and
  ``ManifestCounter`` set to the last serial, so a manifest created later continues the serial;
- lines: code, category, 名录 name and hazards (``validate_waste_code`` on the day), declared
  tonnes = the shipment's tonnes of that code; containers: the label codes of the 产生 records
  behind the 委外 records (the code is carried down the chain), ``ledger_entry_ids`` = the 出库 and
  委外 records the pickup stands for (what ``ledger_link.ship`` records);
- one leg: a demo carrier of the consignor's prefecture when there is one (otherwise the nearest),
  an approved vehicle valid on the day and a driver of that carrier;
- the signatures of every step in lifecycle order (submit, pickup, arrive, accept, treat, close),
  each with the content hash the service computes at that step (``services.content_hash``,
  recomputed in memory: received weights appear from acceptance on);
- accepted_on / receipt_due_on (5 working days, 第十八条), treatment method = the ledger's method.

Patterns (from the seed): pickup is the time of the last 委外 record of the manifest; arrival
after the drive; acceptance within two hours; treatment 1–25 days later, closing 1–6 days after
that — steps still in the future at ``now`` have not happened, so the last weeks' manifests are
in transit, arrived, received or treated. A few recent arrivals wait for the receiver. About 1 %
are accepted partially after a quantity/packaging discrepancy. Two recent loads are refused in
full: one is on its way back (退回途中), one waits for the consignor to return or redirect it (已拒收);
neither is confirmed back, since ``confirm_return`` reverses the pickup's ledger records (the
tests confirm one through the service and check the ledger). About 1 % are cross-province
transfers (see docs/manifests.md, "Demo manifests", for why their receivers are Jilin units).
One ``manifest.imported`` event per consignor site goes on its unit's stream
(``events_record_bulk``), so the audit chain verifies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models
from django.utils import timezone

from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import validate_waste_code
from weifei.core.actors import SYSTEM
from weifei.core.bulk_events import EventEntry, events_record_bulk
from weifei.core.errors import ApplicationError
from weifei.core.identifiers import credit_code_check_char
from weifei.core.workdays import WorkCalendar
from weifei.plans import ledger
from weifei.plans.demo_ledger import _km, raw_insert
from weifei.plans.demo_ledger import _reserve_ids as _reserve_entry_ids
from weifei.plans.models import LedgerCounter, LedgerEntry
from weifei.registry.models import Driver, Enterprise, Facility, Licence, RoadTransportLicence, Site, Vehicle
from weifei.registry.services import enterprise_create, licence_create, site_create

from .ledger_link import accepted_tonnes
from .lifecycle import Event, Role
from .models import Manifest, ManifestContainer, ManifestCounter, ManifestLeg, ManifestLine, Signature, State
from .numbering import manifest_number, prefecture_of

SH = ZoneInfo("Asia/Shanghai")
Kind = LedgerEntry.Kind
SIX = Decimal("0.000001")
DISCREPANCY_RATE = 0.05  # of the loads of 0.5 t or more: about 1 % of all manifests
DISCREPANCY_MIN_TONNES = Decimal("0.5")  # a weighed shortfall worth reporting
CROSS_PROVINCE_RATE = 0.01
STALLED_RATE = 0.12  # recent arrivals the receiver has not signed yet
RECENT_DAYS = 10
MOVING_RATE, MOVING_DAYS = 0.3, 2  # loads of the last two days whose arrival is not signed yet (in transit)
REFUSALS = 2  # full refusals: one on its way back, one waiting for the consignor's decision
EMERGENCY = {
    "HW01": "使用医疗废物专用车辆和周转箱，车内配备消毒剂、防渗漏收集袋；发生泄漏、散落时立即封控、消毒，"
    "并报告事发地卫生健康和生态环境部门",
    "liquid": "容器密封、加盖并置于防渗托盘，车辆配备吸附棉、围堵沙袋、灭火器和应急工具；发生泄漏时立即围堵收集，"
    "疏散无关人员，并报告事发地生态环境部门",
    "solid": "包装完好并加盖苫布，车辆配备灭火器、铁锹和防护用品；发生散落、遗撒时立即收集清理，"
    "并报告事发地生态环境部门",
}
LIQUID = ("HW06", "HW08", "HW09", "HW11", "HW12", "HW13", "HW34", "HW35")


@dataclass
class ManifestDemoSummary:
    manifests: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    containers: int = 0
    signatures: int = 0
    cross_province: int = 0
    approvals: int = 0  # cross-province approvals (weifei.approvals) the cross-province manifests use
    out_of_province_receivers: int = 0  # registered by the demo (辽宁、黑龙江), each with a licence
    discrepancies: int = 0
    refused: int = 0
    intake_entries: int = 0  # the receivers' 接收 records (one per accepted line)
    intake_treated: int = 0  # their 自行利用/处置 records (manifests treated or closed)


@dataclass
class _Sent:
    """One 委外 record (and the 出库 it takes from, if any)."""

    id: int
    at: dt.datetime
    waste_code: str
    category: str
    tonnes: Decimal
    count: int
    container_type: str
    container_code: str | None
    method_code: str
    licence_number: str
    stored_out_id: int | None


@dataclass
class _Carrier:
    id: int
    prefecture: str
    lat: float
    lng: float
    vehicles: list[tuple[int, Decimal, dt.date, dt.date | None]]  # id, payload, valid_until, inspection
    drivers: list[tuple[int, dt.date]]  # id, certificate valid until
    licences: list[tuple[dt.date, dt.date]]

    def vehicle_on(self, day: dt.date, tonnes: Decimal, rng: random.Random) -> int | None:
        valid = [v for v in self.vehicles if v[2] >= day and (v[3] is None or v[3] >= day)]
        fits = [v for v in valid if v[1] >= tonnes] or sorted(valid, key=lambda v: -v[1])[:1]
        return rng.choice(fits)[0] if fits else None

    def driver_on(self, day: dt.date, rng: random.Random) -> int | None:
        valid = [d for d, until in self.drivers if until >= day]
        return rng.choice(valid) if valid else None

    def licensed_on(self, day: dt.date) -> bool:
        return any(a <= day <= b for a, b in self.licences)


@dataclass
class _Step:
    event: str
    role: str
    at: dt.datetime
    to_state: str
    reason: str = ""


@dataclass
class _Plan:
    site_id: int
    enterprise_id: int
    receiver_id: int
    category: str
    sent: list[_Sent]
    created_at: dt.datetime
    steps: list[_Step] = field(default_factory=list)
    id: int = 0
    number: str = ""
    carrier_id: int = 0
    vehicle_id: int | None = None
    driver_id: int | None = None
    transfer_type: str = Manifest.TransferType.IN_PROVINCE
    approval_reference: str = ""
    received: dict[str, Decimal] = field(default_factory=dict)  # waste code → weighed tonnes
    acceptance: str = ""
    refused_tonnes: Decimal | None = None
    refusal_reason: str = ""
    discrepancy: dict[str, Any] = field(default_factory=dict)
    accepted_on: dt.date | None = None
    receipt_due_on: dt.date | None = None
    treatment_result: str = ""
    rank: tuple[str, ...] = ()
    _declared: dict[str, Decimal] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return self.steps[-1].to_state

    def codes(self) -> list[str]:
        return sorted({s.waste_code for s in self.sent})

    def declared(self, code: str) -> Decimal:
        if not self._declared:
            for s in self.sent:
                self._declared[s.waste_code] = self._declared.get(s.waste_code, Decimal(0)) + s.tonnes
            self._declared = {c: t.quantize(SIX) for c, t in self._declared.items()}
        return self._declared[code]

    def has(self, event: str) -> bool:
        return any(s.event == event for s in self.steps)


class _Calendar(WorkCalendar):
    """The work calendar with its answers remembered (the demo asks about the same days often)."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[dt.date, bool] = {}

    def is_workday(self, day: dt.date) -> bool:
        if day not in self._memo:
            self._memo[day] = super().is_workday(day)
        return self._memo[day]


def _local(at: dt.datetime) -> dt.date:
    return at.astimezone(SH).date()


def _working_time(day: dt.date, rng: random.Random, calendar: WorkCalendar) -> dt.datetime:
    while not calendar.is_workday(day):
        day += dt.timedelta(days=1)
    minutes = rng.uniform(8.5 * 60, 17 * 60)
    return dt.datetime.combine(day, dt.time(0), tzinfo=SH) + dt.timedelta(seconds=int(minutes * 60))


def _reserve_ids(model: type[models.Model], n: int) -> list[int]:
    table = model._meta.db_table
    if n == 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])
            return [int(x) for (x,) in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        (last,) = cursor.fetchone()
        return list(range(int(last) + 1, int(last) + 1 + n))


def _content_hash(p: _Plan, number: str, receiver_id: int, with_weights: bool, labels: list[str]) -> str:
    """``services.content_hash`` of the manifest as it stands at a step (computed in memory)."""
    doc = {
        "number": number,
        "version": 1,
        "transfer_type": str.__str__(p.transfer_type),
        "consignor": p.enterprise_id,
        "receiver": receiver_id,
        "approval": p.approval_reference,
        "lines": [
            [code, str(p.declared(code)), str(p.received[code].quantize(SIX)) if with_weights else ""]
            for code in p.codes()
        ],
        "containers": labels,
        "legs": [[1, p.carrier_id, p.vehicle_id, p.driver_id]],
    }
    # Plain strings, ints, None and lists only: ``jsonable`` would return the document unchanged.
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _insert(model: type[models.Model], names: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """``demo_ledger.raw_insert`` (COPY) on PostgreSQL. On SQLite the rows are inserted here with
    executemany, datetimes, dates and JSON converted as Django's adapters would (UTC without
    offset, ISO dates, ``json.dumps``) but without a field call per value; the other columns take
    their defaults, as in ``raw_insert``."""
    if connection.vendor == "postgresql" or not rows:
        raw_insert(model, names, rows)
        return
    now = timezone.now()
    by_name = {f.attname: f for f in model._meta.concrete_fields}
    rest = [f for f in model._meta.concrete_fields if f.attname not in names and not f.primary_key]
    tail = tuple(
        f.get_db_prep_save(
            now if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False)
            else f.get_default(),  # the declared default, else "" for a text field, else None
            connection,
        )
        for f in rest
    )  # fmt: skip
    kinds = []
    for name in names:
        f = by_name[name]
        if isinstance(f, models.DateTimeField):
            kinds.append("datetime")
        elif isinstance(f, models.DateField):
            kinds.append("date")
        elif isinstance(f, models.JSONField):
            kinds.append("json")
        else:
            kinds.append("")
    data = [(*(_sqlite_value(v, k) for v, k in zip(row, kinds, strict=True)), *tail) for row in rows]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(by_name[n].column or n) for n in names) + "".join(
        f", {quote(f.column or f.attname)}" for f in rest
    )
    marks = ", ".join(["%s"] * (len(names) + len(rest)))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})", data)


def _sqlite_value(value: object, kind: str) -> object:
    if value is None or not kind:
        return value
    if kind == "datetime":
        assert isinstance(value, dt.datetime)
        return str(value.astimezone(dt.UTC).replace(tzinfo=None))
    if kind == "date":
        assert isinstance(value, dt.date)
        return value.isoformat()
    return json.dumps(value)


# ---------------------------------------------------------------- reading


def _shipments() -> dict[tuple[int, int, dt.date], list[_Sent]]:
    rows = (
        LedgerEntry.objects.filter(kind=Kind.SENT_OUT, reversal_of__isnull=True, reversed_by__isnull=True)
        .order_by("site_id", "occurred_at", "id")
        .values_list(
            "id", "site_id", "receiver_id", "occurred_at", "waste_code", "category", "quantity_tonnes",
            "container_count", "container_type", "container_code", "method_code", "licence_number", "source_id",
            "source__kind",
        )
    )  # fmt: skip
    groups: dict[tuple[int, int, dt.date], list[_Sent]] = defaultdict(list)
    for eid, site_id, receiver_id, at, code, cat, tonnes, count, ctype, ccode, method, lic, src, src_kind in rows:
        if receiver_id is None:
            continue
        sent = _Sent(eid, at, code, cat, tonnes, count, ctype, ccode, method, lic,
                     src if src_kind == Kind.STORED_OUT else None)  # fmt: skip
        groups[(site_id, receiver_id, _local(at))].append(sent)
    return groups


def _carriers() -> list[_Carrier]:
    vehicles: dict[int, list[tuple[int, Decimal, dt.date, dt.date | None]]] = defaultdict(list)
    for vid, cid, payload, until, insp in (
        Vehicle.objects.filter(registration=Vehicle.Registration.APPROVED)
        .order_by("id")
        .values_list("id", "carrier_id", "payload_tonnes", "valid_until", "inspection_valid_until")
    ):
        vehicles[cid].append((vid, payload, until, insp))
    drivers: dict[int, list[tuple[int, dt.date]]] = defaultdict(list)
    for did, cid, until in (
        Driver.objects.filter(role=Driver.Role.DRIVER)
        .order_by("id")
        .values_list("id", "carrier_id", "certificate_valid_until")
    ):
        drivers[cid].append((did, until))
    licences: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for cid, a, b in RoadTransportLicence.objects.values_list("carrier_id", "valid_from", "valid_to"):
        licences[cid].append((a, b))
    result = []
    for e in (
        Enterprise.objects.filter(is_carrier=True, id__in=list(vehicles))
        .select_related("region__carved_from")
        .order_by("credit_code")
    ):
        if not drivers.get(e.id):
            continue
        try:
            pref = prefecture_of(e.region)
        except ApplicationError:
            pref = ""
        result.append(_Carrier(e.id, pref, float(e.latitude or 0), float(e.longitude or 0), vehicles[e.id],
                               drivers[e.id], licences.get(e.id, [])))  # fmt: skip
    return result


# ---------------------------------------------------------------- planning


class _Planner:
    def __init__(self, *, seed: int, now: dt.datetime, today: dt.date) -> None:
        self.seed = seed
        self.now = now
        self.today = today
        self.calendar = _Calendar()
        self.names: dict[tuple[str, str], tuple[str, str]] = {}
        self.methods = dict(DisposalMethod.objects.values_list("code", "name"))

    def catalogue(self, code: str, day: dt.date) -> tuple[str, str]:
        key = (code, day.isoformat()[:7])
        if key not in self.names:
            valid = validate_waste_code(code, on=day)
            wc = valid.waste_code
            self.names[key] = (
                (wc.description if wc else "经鉴别的危险废物")[:200],
                ",".join(wc.hazards) if wc else "",
            )
        return self.names[key]

    def timeline(self, p: _Plan, rng: random.Random, km: float, stalled: bool, moving: bool) -> None:
        """The steps that have happened by ``now`` (a plain transfer, fully accepted)."""
        pickup = max(s.at for s in p.sent)
        submitted = p.created_at + dt.timedelta(minutes=rng.uniform(2, 30))
        arrive = pickup + dt.timedelta(hours=km / 45 + rng.uniform(0.3, 0.8))
        accept = arrive + dt.timedelta(minutes=rng.uniform(15, 120))
        treat = _working_time(_local(accept) + dt.timedelta(days=rng.randint(1, 25)), rng, self.calendar)
        close = _working_time(_local(treat) + dt.timedelta(days=rng.randint(1, 6)), rng, self.calendar)
        plan = [
            _Step(Event.SUBMIT, Role.CONSIGNOR, submitted, State.SUBMITTED),
            _Step(Event.PICKUP, Role.CARRIER, pickup, State.IN_TRANSIT),
        ]
        if not moving:
            plan.append(_Step(Event.ARRIVE, Role.CARRIER, arrive, State.ARRIVED))
        if not stalled and not moving:
            plan += [
                _Step(Event.ACCEPT, Role.RECEIVER, accept, State.RECEIVED),
                _Step(Event.TREAT, Role.RECEIVER, treat, State.TREATED),
                _Step(Event.CLOSE, Role.CONSIGNOR, close, State.CLOSED),
            ]
        p.steps = [s for s in plan if s.at <= self.now or s.event in (Event.SUBMIT, Event.PICKUP)]
        for code in p.codes():
            declared = p.declared(code)
            factor = Decimal(str(round(rng.uniform(0.98, 1.01), 4))) if rng.random() < 0.4 else Decimal(1)
            weighed = (declared * factor).quantize(Decimal("0.001")) if declared >= Decimal("0.5") else declared
            p.received[code] = weighed

    def discrepancy(self, p: _Plan, rng: random.Random) -> None:
        """Weighed clearly less than declared, a leaking package refused, the rest accepted."""
        idx = next(i for i, s in enumerate(p.steps) if s.event == Event.ACCEPT)
        accept = p.steps[idx]
        declared = sum((p.declared(c) for c in p.codes()), Decimal(0))
        for code in p.codes():
            factor = Decimal(str(round(rng.uniform(0.88, 0.94), 3)))
            p.received[code] = (p.declared(code) * factor).quantize(Decimal("0.001"))
        received = sum(p.received.values(), Decimal(0))
        arrive = next(s for s in p.steps if s.event == Event.ARRIVE)
        reported = arrive.at + (accept.at - arrive.at) / 2
        p.discrepancy = {
            "kinds": ["quantity", "packaging"],
            "description": f"过磅 {received.normalize():f} 吨，少于移出量 {declared.normalize():f} 吨；"
            "部分包装破损渗漏",
            "reported_at": reported.isoformat(),
            "reported_to_region": "",  # filled from the receiver when written
        }
        share = Decimal(str(round(rng.uniform(0.02, 0.05), 3)))
        p.refused_tonnes = max((received * share).quantize(Decimal("0.001")), Decimal("0.001")).quantize(SIX)
        p.refusal_reason = "包装破损渗漏的部分拒收，由承运人带回移出人"
        p.acceptance = Manifest.Acceptance.PARTIAL
        p.steps[idx : idx + 1] = [
            _Step(Event.REPORT_DISCREPANCY, Role.RECEIVER, reported, State.DISCREPANCY),
            _Step(Event.ACCEPT_PARTIALLY, Role.RECEIVER, accept.at, State.RECEIVED, p.refusal_reason),
        ]

    def refuse(self, p: _Plan, rng: random.Random, returning: bool) -> None:
        """Refused in full on arrival; ``returning``: the consignor has signed the return (退回途中).
        The return is not confirmed: ``confirm_return`` reverses the pickup's ledger records, which
        the unit does when the load is back (see docs/manifests.md, "Demo manifests")."""
        arrive = next(s for s in p.steps if s.event == Event.ARRIVE)
        reason = "现场检测特性与联单不符（含水率、闪点超出合同约定），拒收"
        rejected = arrive.at + dt.timedelta(minutes=rng.randint(30, 90))
        p.steps = [s for s in p.steps if s.event in (Event.SUBMIT, Event.PICKUP, Event.ARRIVE)]
        p.steps.append(_Step(Event.REJECT, Role.RECEIVER, rejected, State.REJECTED, reason))
        if returning:
            returned = rejected + dt.timedelta(minutes=rng.randint(20, 60))
            p.steps.append(_Step(Event.RETURN, Role.CONSIGNOR, returned, State.RETURNING))
        p.acceptance, p.refusal_reason, p.received = Manifest.Acceptance.REJECTED, reason, {}


# ---------------------------------------------------------------- the whole demo


def demo_manifests_generate(
    *, seed: int, today: dt.date, showcases: Mapping[str, Enterprise] | None = None, now: dt.datetime | None = None
) -> ManifestDemoSummary:
    """Manifests for the demo ledgers' 委外 shipments. Call inside the demo's transaction, after
    ``demo_ledgers_generate``. The showcase units' loads are never refused (their declarations are
    already made from the ledger)."""
    end = min(dt.datetime.combine(today, dt.time(23, 59, 59), tzinfo=SH), now or timezone.now())
    planner = _Planner(seed=seed, now=end, today=today)
    showcase_ids = {e.id for e in (showcases or {}).values()}
    out_of_province = _redirect_cross_province(seed=seed, today=today, showcase_ids=showcase_ids)
    groups = _shipments()
    if not groups:
        return ManifestDemoSummary(out_of_province_receivers=out_of_province)
    site_ids = sorted({k[0] for k in groups})
    sites = {s.id: s for s in Site.objects.filter(id__in=site_ids).select_related("enterprise", "region__carved_from")}
    receiver_ids = sorted({k[1] for k in groups})
    receivers = {e.id: e for e in Enterprise.objects.filter(id__in=receiver_ids).select_related("region")}
    receiver_sites: dict[int, Site] = {}
    for s in Site.objects.filter(enterprise_id__in=receiver_ids).select_related("region").order_by("id"):
        receiver_sites.setdefault(s.enterprise_id, s)
    carriers = _carriers()
    prefecture = {sid: prefecture_of(s.region) for sid, s in sites.items()}

    plans: list[_Plan] = []
    for (site_id, receiver_id, day), sent in sorted(
        groups.items(),
        key=lambda kv: (
            sites[kv[0][0]].enterprise.credit_code,
            sites[kv[0][0]].name,
            kv[0][0],
            kv[0][2],
            receivers[kv[0][1]].credit_code,
        ),
    ):
        site = sites[site_id]
        rng = random.Random(f"weifei-manifests/{seed}/{site.enterprise.credit_code}/{site.name}/{day}/"
                            f"{receivers[receiver_id].credit_code}")  # fmt: skip
        receiver = receivers[receiver_id]
        lat, lng = (
            float(site.latitude or site.enterprise.latitude or 0),
            float(site.longitude or site.enterprise.longitude or 0),
        )
        km = _km(lat, lng, float(receiver.latitude or 0), float(receiver.longitude or 0))
        first = min(x.at for x in sent)
        by_category: dict[str, list[_Sent]] = defaultdict(list)
        for x in sent:
            by_category[x.category].append(x)
        for category in sorted(by_category):
            created = first - dt.timedelta(minutes=rng.uniform(40, 20 * 60))
            p = _Plan(site_id, site.enterprise_id, receiver_id, category, by_category[category], created)
            p.rank = (site.enterprise.credit_code, site.name, day.isoformat(), receiver.credit_code, category)
            # The carrier: the site's usual carrier of its prefecture (sometimes another one).
            local = [c for c in carriers if c.prefecture == prefecture[site_id] and c.licensed_on(day)]
            pool = (
                local
                or sorted(
                    (c for c in carriers if c.licensed_on(day)),
                    key=lambda c: _km(float(site.latitude or 0), float(site.longitude or 0), c.lat, c.lng),
                )[:3]
            )
            if not pool:
                continue
            usual = random.Random(f"weifei-manifests-carrier/{seed}/{site.enterprise.credit_code}/{site.name}")
            carrier = usual.choice(pool) if rng.random() < 0.8 else rng.choice(pool)
            tonnes = sum((s.tonnes for s in p.sent), Decimal(0))
            vehicle_id, driver_id = carrier.vehicle_on(day, tonnes, rng), carrier.driver_on(day, rng)
            if vehicle_id is None or driver_id is None:
                continue
            p.carrier_id, p.vehicle_id, p.driver_id = carrier.id, vehicle_id, driver_id
            recent = (today - day).days <= RECENT_DAYS
            moving = (today - day).days <= MOVING_DAYS and rng.random() < MOVING_RATE
            planner.timeline(p, rng, km, stalled=recent and rng.random() < STALLED_RATE, moving=moving)
            if p.has(Event.ACCEPT) and tonnes >= DISCREPANCY_MIN_TONNES and rng.random() < DISCREPANCY_RATE:
                planner.discrepancy(p, rng)
            if not receiver.region.in_home_province:
                p.transfer_type = Manifest.TransferType.CROSS_PROVINCE
            plans.append(p)

    # Two full refusals among recent labelled loads of ordinary units (deterministic pick).
    pick = random.Random(f"weifei-manifests-refusals/{seed}")
    candidates = [
        p
        for p in plans
        if p.enterprise_id not in showcase_ids
        and p.has(Event.ARRIVE)
        and not p.discrepancy
        and all(s.container_code for s in p.sent)
        and 3 <= (today - _local(p.created_at)).days <= 60
    ]
    refused = pick.sample(candidates, min(REFUSALS, len(candidates)))
    for i, p in enumerate(refused):
        planner.refuse(p, pick, returning=(i == 0))

    # Numbers in creation order per year and origin prefecture; counters continue from any existing.
    plans.sort(key=lambda p: (p.created_at, p.rank))
    serials = {(c.year, c.prefecture): c.last_serial for c in ManifestCounter.objects.all()}
    for p in plans:
        year = _local(p.created_at).year
        key = (year, prefecture[p.site_id])
        serials[key] = serials.get(key, 0) + 1
        p.number = manifest_number(year, key[1], serials[key])
    approval_count = _approvals(plans, planner, seed)  # sets each cross-province manifest's approval number
    for p, new_id in zip(plans, _reserve_ids(Manifest, len(plans)), strict=True):
        p.id = new_id

    summary = _write(plans, planner, receivers, receiver_sites, sites)
    summary.intake_entries, summary.intake_treated = _intake(plans, receiver_sites, end)
    existing = set(ManifestCounter.objects.values_list("year", "prefecture"))
    for (year, pref), last in sorted(serials.items()):
        if (year, pref) in existing:
            ManifestCounter.objects.filter(year=year, prefecture=pref).update(last_serial=last)
    raw_insert(ManifestCounter, ("year", "prefecture", "last_serial"),
               ((y, pr, n) for (y, pr), n in sorted(serials.items()) if (y, pr) not in existing))  # fmt: skip
    _record_imports(plans, sites, end)
    summary.refused = len(refused)
    summary.approvals, summary.out_of_province_receivers = approval_count, out_of_province
    return summary


def _write(
    plans: list[_Plan],
    planner: _Planner,
    receivers: Mapping[int, Enterprise],
    receiver_sites: Mapping[int, Site],
    sites: Mapping[int, Site],
) -> ManifestDemoSummary:
    summary = ManifestDemoSummary(manifests=len(plans))
    manifest_rows: list[tuple[object, ...]] = []
    line_rows: list[tuple[object, ...]] = []
    container_rows: list[tuple[object, ...]] = []
    leg_rows: list[tuple[object, ...]] = []
    signature_rows: list[tuple[object, ...]] = []
    line_count = sum(len(p.codes()) for p in plans)
    line_ids = iter(_reserve_ids(ManifestLine, line_count))
    for p in plans:
        site, receiver = sites[p.site_id], receivers[p.receiver_id]
        rsite = receiver_sites.get(p.receiver_id)
        created_day = _local(p.created_at)
        first = p.sent[0]
        labels = sorted(s.container_code for s in p.sent if s.container_code)
        steps = p.steps
        state = steps[-1].to_state
        accept = next((s for s in steps if s.event in (Event.ACCEPT, Event.ACCEPT_PARTIALLY)), None)
        if accept is not None:
            p.accepted_on = _local(accept.at)
            p.receipt_due_on = planner.calendar.add_working_days(p.accepted_on, 5)
            p.acceptance = p.acceptance or Manifest.Acceptance.FULL
        treated = any(s.event == Event.TREAT for s in steps)
        if treated:
            p.treatment_result = f"已按 {first.method_code} {planner.methods.get(first.method_code, '')} 完成利用/处置"
        if p.discrepancy:
            p.discrepancy["reported_to_region"] = rsite.region.key if rsite is not None else receiver.region.key
        emergency = EMERGENCY["HW01" if p.category == "HW01" else ("liquid" if p.category in LIQUID else "solid")]
        manifest_rows.append((
            p.id, p.number, 1, state, steps[-1].at, p.transfer_type, p.enterprise_id, p.site_id, p.receiver_id,
            p.receiver_id, rsite.id if rsite else None, first.licence_number, "consignor", p.approval_reference,
            first.method_code, emergency, [], False, None, p.acceptance, p.refused_tonnes, p.refusal_reason,
            p.discrepancy, p.accepted_on, p.receipt_due_on, first.method_code if treated else "",
            p.treatment_result, None, p.created_at, steps[-1].at,
        ))  # fmt: skip
        summary.by_state[str(state)] = summary.by_state.get(str(state), 0) + 1
        summary.cross_province += int(p.transfer_type == Manifest.TransferType.CROSS_PROVINCE)
        summary.discrepancies += int(bool(p.discrepancy))
        pickup = next(s.at for s in steps if s.event == Event.PICKUP)
        for code in p.codes():
            line_id = next(line_ids)
            name, hazards = planner.catalogue(code, created_day)
            sent = [s for s in p.sent if s.waste_code == code]
            weighed = p.received.get(code) if accept is not None or p.discrepancy else None
            line_rows.append((
                line_id, p.id, code, p.category, name, "", hazards, "", sent[0].container_type[:40],
                sum(s.count for s in sent), p.declared(code), weighed.quantize(SIX) if weighed is not None else None,
                "", "",
            ))  # fmt: skip
            for s in sent:
                if s.container_code:
                    ids = [s.stored_out_id, s.id] if s.stored_out_id else [s.id]
                    container_rows.append((p.id, line_id, s.container_code, s.tonnes, pickup, ids))
        summary.lines += len(p.codes())
        receiver_place = rsite.address if rsite is not None and rsite.address else receiver.name
        leg_rows.append((p.id, 1, p.carrier_id, p.vehicle_id, p.driver_id, (site.address or site.name)[:200],
                         receiver_place[:200], pickup, None, ""))  # fmt: skip
        before: str = State.DRAFT
        hashes: dict[bool, str] = {}
        for step in steps:
            weights = step.event in (Event.ACCEPT, Event.REPORT_DISCREPANCY, Event.ACCEPT_PARTIALLY, Event.TREAT,
                                     Event.CLOSE)  # fmt: skip
            org = {Role.CONSIGNOR: p.enterprise_id, Role.RECEIVER: p.receiver_id, Role.CARRIER: p.carrier_id}
            method = "api_token" if step.role == Role.CARRIER else "session"
            with_weights = weights and bool(p.received)
            if with_weights not in hashes:
                hashes[with_weights] = _content_hash(p, p.number, p.receiver_id, with_weights, labels)
            digest = hashes[with_weights]
            signature_rows.append((p.id, step.event, step.role, None, org[step.role], step.at, method, digest,
                                   before, step.to_state, step.reason))  # fmt: skip
            before = step.to_state
    summary.containers = len(container_rows)
    summary.signatures = len(signature_rows)
    _insert(Manifest, MANIFEST_COLUMNS, manifest_rows)
    _insert(ManifestLine, LINE_COLUMNS, line_rows)
    _insert(ManifestContainer, CONTAINER_COLUMNS, container_rows)
    _insert(ManifestLeg, LEG_COLUMNS, leg_rows)
    _insert(Signature, SIGNATURE_COLUMNS, signature_rows)
    return summary


MANIFEST_COLUMNS = (
    "id", "number", "version", "state", "state_changed_at", "transfer_type", "consignor_id", "consignor_site_id",
    "receiver_id", "original_receiver_id", "receiver_site_id", "receiver_licence_number", "shipper",
    "approval_reference", "planned_method_code", "emergency_measures", "warnings", "paper_fallback", "completed_on",
    "acceptance", "refused_tonnes", "refusal_reason", "discrepancy", "accepted_on", "receipt_due_on",
    "treatment_method", "treatment_result", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "manifest_id", "waste_code", "category", "waste_name", "common_name", "hazards", "form", "packaging",
    "container_count", "declared_tonnes", "received_tonnes", "dg_class", "un_number",
)  # fmt: skip
CONTAINER_COLUMNS = ("manifest_id", "line_id", "label_code", "tonnes", "scanned_at", "ledger_entry_ids")
LEG_COLUMNS = ("manifest_id", "order", "carrier_id", "vehicle_id", "driver_id", "start_point", "end_point",
               "picked_up_at", "handover_at", "handover_place")  # fmt: skip
SIGNATURE_COLUMNS = ("manifest_id", "event", "role", "user_id", "organisation_id", "signed_at", "method",
                     "content_hash", "from_state", "to_state", "reason")  # fmt: skip


def _record_imports(plans: Iterable[_Plan], sites: Mapping[int, Site], end: dt.datetime) -> None:
    """One ``manifest.imported`` event per consignor site on its unit's stream."""
    per_site: dict[int, list[_Plan]] = defaultdict(list)
    for p in plans:
        per_site[p.site_id].append(p)
    entries = []
    for site_id in sorted(per_site, key=lambda s: (sites[s].enterprise.credit_code, s)):
        items = per_site[site_id]
        numbers = sorted(p.number for p in items)
        states = Counter(p.state for p in items)
        entries.append(
            EventEntry(
                subject=sites[site_id],
                actor=SYSTEM,
                kind="manifest.imported",
                after={
                    "source": "demo",
                    "manifests": len(items),
                    "first_number": numbers[0],
                    "last_number": numbers[-1],
                    "states": dict(sorted(states.items())),
                    "to": _local(end).isoformat(),
                },
                reason="演示数据：按台账委外记录生成的一年转移联单",
                organisation=sites[site_id].enterprise_id,
            )
        )
    events_record_bulk(entries)


# ---------------------------------------------------------------- the receivers' intake

INTAKE_COLUMNS = (
    "id", "site_id", "kind", "batch_code", "occurred_at", "waste_code", "category", "quantity_tonnes",
    "entered_quantity", "entered_unit", "container_code", "container_codes", "container_type", "container_count",
    "common_name", "handler", "manifest_number", "facility_id", "source_id", "method_code", "finished_at",
)  # fmt: skip


@dataclass
class _Intake:
    """One 接收 record to write (and the 自行利用/处置 record consuming it, if treated)."""

    site_id: int
    at: dt.datetime
    waste_code: str
    category: str
    tonnes: Decimal
    codes: list[str]
    container_type: str
    container_count: int
    number: str
    treated_at: dt.datetime | None
    method_code: str
    id: int = 0
    batch_code: str = ""


def _intake(plans: list[_Plan], receiver_sites: Mapping[int, Site], end: dt.datetime) -> tuple[int, int]:
    """The receivers' 接收 records of the accepted manifests, as ``ledger_link.receive`` writes them
    at acceptance: on ``receiver_site_id`` (the manifest's receiver site, which the demo always names
    when the receiver has a site), one per line with ``accepted_tonnes``, the manifest number, the
    line's label codes, batch codes ``HWJS…`` in acceptance order after the site's counters. A
    treated (or closed) manifest's intake is then used up by a 自行利用/处置 record at the treatment
    time with the manifest's treatment method (the site's utilization/disposal facility when it has
    one), so the receivers' stock holds only what is received and not yet treated. Counters are
    set to the last sequence used; one ``ledger.imported`` event per receiver site. Returns the
    counts of 接收 and 自行利用/处置 records."""
    intakes: list[_Intake] = []
    valid: dict[tuple[str, dt.date], tuple[str, str] | None] = {}

    def code_on(code: str, day: dt.date) -> tuple[str, str] | None:
        if (code, day) not in valid:
            try:
                v = validate_waste_code(code, on=day)
                valid[(code, day)] = (v.code, v.category)
            except ApplicationError:
                valid[(code, day)] = None
        return valid[(code, day)]

    for p in plans:
        rsite = receiver_sites.get(p.receiver_id)
        if p.acceptance not in (Manifest.Acceptance.FULL, Manifest.Acceptance.PARTIAL) or rsite is None:
            continue
        accept = next(s.at for s in p.steps if s.event in (Event.ACCEPT, Event.ACCEPT_PARTIALLY))
        treat = next((s.at for s in p.steps if s.event == Event.TREAT), None)
        codes = p.codes()
        received = [p.received[c].quantize(SIX) for c in codes]  # the lines' weighed tonnes
        if p.acceptance == Manifest.Acceptance.FULL:
            accepted = received  # what ``accepted_tonnes`` gives a full acceptance, without model instances
        else:
            lines = [
                ManifestLine(declared_tonnes=p.declared(c), received_tonnes=r)
                for c, r in zip(codes, received, strict=True)
            ]
            accepted = accepted_tonnes(Manifest(acceptance=p.acceptance, refused_tonnes=p.refused_tonnes), lines)
        for code, tonnes in zip(codes, accepted, strict=True):
            if tonnes <= 0:
                continue
            checked = code_on(code, _local(accept))
            if checked is None:  # the service would refuse the acceptance; the demo's codes are valid
                raise ApplicationError(f"{code} 在 {_local(accept)} 不在名录中", code="waste_code_invalid")
            sent = [s for s in p.sent if s.waste_code == code]
            labels = sorted(s.container_code.strip().upper() for s in sent if s.container_code)
            count = len(labels) or sum(s.count for s in sent) or 1
            treated_at = treat if treat is not None and code_on(code, _local(treat)) is not None else None
            intakes.append(_Intake(
                rsite.id, accept, checked[0], checked[1], ledger.to_tonnes(tonnes, LedgerEntry.Unit.TONNE)[0],
                labels, sent[0].container_type[:40], max(1, count), p.number, treated_at, p.sent[0].method_code,
            ))  # fmt: skip
    if not intakes:
        return 0, 0
    method_kinds = dict(DisposalMethod.objects.values_list("code", "kind"))
    site_ids = sorted({i.site_id for i in intakes})
    facilities: dict[tuple[int, str], int] = {}
    for fid, site_id, kind in (
        Facility.objects.filter(site_id__in=site_ids, in_service=True, kind__in=("utilization", "disposal"))
        .order_by("id")
        .values_list("id", "site_id", "kind")
    ):
        facilities.setdefault((site_id, kind), fid)
        facilities.setdefault((site_id, ""), fid)
    prefixes = [ledger.PREFIXES[Kind.RECEIVED], *sorted(set(ledger.SELF_PREFIXES.values()))]
    counters = {
        (site_id, prefix, day): (cid, seq)
        for cid, site_id, prefix, day, seq in LedgerCounter.objects.filter(
            site_id__in=site_ids, prefix__in=prefixes
        ).values_list("id", "site_id", "prefix", "day", "last_seq")
    }
    seqs: dict[tuple[int, str, dt.date], int] = {}

    def next_code(site_id: int, prefix: str, at: dt.datetime) -> str:
        key = (site_id, prefix, _local(at))  # the services' day: timezone.localdate (Asia/Shanghai)
        seqs[key] = seqs.get(key, counters[key][1] if key in counters else 0) + 1
        return ledger.batch_code(prefix, key[2], seqs[key])  # refuses past 999, like the service

    # The services' order: acceptances in time order (lines in line order), treatments in time order.
    for i in sorted(intakes, key=lambda i: (i.at, i.number)):  # stable: lines keep their order
        i.batch_code = next_code(i.site_id, ledger.PREFIXES[Kind.RECEIVED], i.at)
    treated = [i for i in intakes if i.treated_at is not None]
    treat_codes: dict[int, str] = {}
    for n, i in sorted(enumerate(treated), key=lambda x: (x[1].treated_at, x[1].number, x[0])):
        assert i.treated_at is not None
        treat_codes[n] = next_code(i.site_id, ledger.SELF_PREFIXES[method_kinds[i.method_code]], i.treated_at)
    ids = iter(_reserve_entry_ids(len(intakes) + len(treated)))
    for i in intakes:
        i.id = next(ids)
    rows: list[tuple[object, ...]] = []
    for i in intakes:
        rows.append((
            i.id, i.site_id, str(Kind.RECEIVED), i.batch_code, i.at, i.waste_code, i.category, i.tonnes, i.tonnes,
            "t", i.codes[0] if len(i.codes) == 1 else None, i.codes or None, i.container_type, i.container_count,
            "", f"联单 {i.number}"[:60], i.number, None, None, "", None,
        ))  # fmt: skip
    for n, i in enumerate(treated):
        kind = method_kinds[i.method_code]
        facility = facilities.get((i.site_id, kind), facilities.get((i.site_id, "")))
        rows.append((
            next(ids), i.site_id, str(Kind.SELF_TREATED), treat_codes[n], i.treated_at, i.waste_code, i.category,
            i.tonnes, i.tonnes, "t", i.codes[0] if len(i.codes) == 1 else None, None, i.container_type,
            i.container_count, "", f"联单 {i.number}"[:60], "", facility, i.id, i.method_code, i.treated_at,
        ))  # fmt: skip
    _insert(LedgerEntry, INTAKE_COLUMNS, rows)
    existing = [LedgerCounter(id=counters[k][0], last_seq=n) for k, n in seqs.items() if k in counters]
    LedgerCounter.objects.bulk_update(existing, ["last_seq"], batch_size=1000)
    raw_insert(LedgerCounter, ("site_id", "prefix", "day", "last_seq"),
               [(*k, n) for k, n in sorted(seqs.items()) if k not in counters])  # fmt: skip
    written = [(i.site_id, i.at, i.batch_code, True) for i in intakes]
    written += [(i.site_id, i.treated_at, treat_codes[n], False) for n, i in enumerate(treated) if i.treated_at]
    _record_intake_imports(written, end)
    return len(intakes), len(treated)


def _record_intake_imports(written: list[tuple[int, dt.datetime, str, bool]], end: dt.datetime) -> None:
    """One ``ledger.imported`` event per receiver site (like a bulk import's): count, 接收 count,
    first and last batch code. ``written``: (site, time, batch code, is a 接收 record)."""
    per_site: dict[int, list[tuple[int, dt.datetime, str, bool]]] = defaultdict(list)
    for row in written:
        per_site[row[0]].append(row)
    sites = Site.objects.select_related("enterprise").in_bulk(list(per_site))
    entries = []
    for site_id in sorted(per_site, key=lambda s: (sites[s].enterprise.credit_code, s)):
        items = sorted(per_site[site_id], key=lambda r: (r[1], r[2]))
        entries.append(
            EventEntry(
                subject=sites[site_id],
                actor=SYSTEM,
                kind="ledger.imported",
                after={
                    "source": "demo-manifests",
                    "entries": len(items),
                    "received": sum(1 for r in items if r[3]),
                    "first_batch_code": items[0][2],
                    "last_batch_code": items[-1][2],
                    "to": _local(end).isoformat(),
                },
                reason="演示数据：转移联单验收写入的接收记录及其利用/处置记录",
                organisation=sites[site_id].enterprise_id,
            )
        )
    events_record_bulk(entries)


# ---------------------------------------------------------------- cross-province transfers


@dataclass(frozen=True)
class _OutReceiver:
    """An out-of-province receiver of the demo (fictional unit, real prefecture and city position)."""

    n: int
    name: str
    region_key: str
    latitude: Decimal
    longitude: Decimal
    authority: str
    licence_number: str


OUT_OF_PROVINCE_RECEIVERS = (
    _OutReceiver(1, "沈阳示范危险废物处置有限公司", "210100", Decimal("41.80"), Decimal("123.43"),
                 "辽宁省生态环境厅", "辽危废经字2101001"),
    _OutReceiver(2, "铁岭示范再生资源利用有限公司", "211200", Decimal("42.29"), Decimal("123.84"),
                 "辽宁省生态环境厅", "辽危废经字2112002"),
    _OutReceiver(3, "哈尔滨示范环保科技有限公司", "230100", Decimal("45.80"), Decimal("126.53"),
                 "黑龙江省生态环境厅", "黑危废经字2301003"),
    _OutReceiver(4, "牡丹江示范危废处置有限公司", "231000", Decimal("44.55"), Decimal("129.63"),
                 "黑龙江省生态环境厅", "黑危废经字2310004"),
)  # fmt: skip
# Categories the out-of-province licences cover (industrial wastes; never HW01 medical waste).
OUT_OF_PROVINCE_CATEGORIES = ("HW06", "HW08", "HW09", "HW11", "HW12", "HW13", "HW17", "HW18", "HW22", "HW31",
                              "HW34", "HW35", "HW49", "HW50")  # fmt: skip
APPROVAL_SPAN_DAYS = 300  # manifests of one approval lie within this many days (validity: 12 months)
APPLY_MARGIN = Decimal("1.1")  # applied (and approved) tonnes: the year's shipments plus 10 %


def _out_credit_code(r: _OutReceiver) -> str:
    body = f"91{r.region_key}MA{9_000_000 + r.n:07d}"
    return body + credit_code_check_char(body)


def _out_of_province_receivers(today: dt.date) -> list[Enterprise]:
    """The demo's out-of-province receivers, registered through the registry services as the system
    (the province records them as receivers named in cross-province applications), each with a
    site and the licence its own province issued. Existing ones are reused."""
    result = []
    for r in OUT_OF_PROVINCE_RECEIVERS:
        code = _out_credit_code(r)
        found = Enterprise.objects.filter(credit_code=code).first()
        if found is not None:
            result.append(found)
            continue
        unit = enterprise_create(
            actor=SYSTEM, credit_code=code, name=r.name, region_key=r.region_key, roles=("is_operator",),
            industry_code="7724", industry_name="危险废物治理", address=f"{r.name}厂区",
            latitude=r.latitude, longitude=r.longitude,
        )  # fmt: skip
        site_create(
            actor=SYSTEM, enterprise=unit, name="处置中心", address=f"{r.name}处置中心", region_key=r.region_key,
            roles=["operator"], latitude=r.latitude, longitude=r.longitude,
        )  # fmt: skip
        licence_create(
            actor=SYSTEM, holder=unit, number=r.licence_number, kind="comprehensive",
            methods=["storage", "utilization", "disposal"], annual_capacity_tonnes=Decimal(50000),
            valid_from=today - dt.timedelta(days=730), categories=list(OUT_OF_PROVINCE_CATEGORIES),
            issuing_authority=r.authority,
        )  # fmt: skip
        result.append(unit)
    return result


def _redirect_cross_province(*, seed: int, today: dt.date, showcase_ids: set[int]) -> int:
    """Choose the cross-province flows and name their receivers in the ledger's 委外 records.

    About ``CROSS_PROVINCE_RATE`` of the (site, waste category) flows of ordinary generators (at
    least two), among the categories the neighbours' licences cover, go to an out-of-province
    receiver — the nearest of the demo's four, sometimes the second. The demo ledger chose Jilin
    receivers; the chosen flows' 委外 records are rewritten here, inside the demo's transaction and
    before anything reads them (no event describes a receiver), so ledger and manifests agree."""
    receivers = _out_of_province_receivers(today)
    licences = dict(Enterprise.objects.filter(id__in=[e.id for e in receivers]).values_list("id", "licences__number"))
    flows: dict[tuple[int, str], list[int]] = defaultdict(list)
    rows = LedgerEntry.objects.filter(
        kind=Kind.SENT_OUT, reversal_of__isnull=True, reversed_by__isnull=True, receiver__isnull=False,
        category__in=OUT_OF_PROVINCE_CATEGORIES,
    ).exclude(site__enterprise_id__in=showcase_ids).values_list("id", "site_id", "category")  # fmt: skip
    for eid, site_id, category in rows:
        flows[(site_id, category)].append(eid)
    if not flows:
        return len(receivers)
    sites = {s.id: s for s in Site.objects.filter(id__in={k[0] for k in flows}).select_related("enterprise")}

    def draw(key: tuple[int, str]) -> float:
        site = sites[key[0]]
        return random.Random(f"weifei-cross/{seed}/{site.enterprise.credit_code}/{site.name}/{key[1]}").random()

    ranked = sorted(flows, key=lambda k: (draw(k), sites[k[0]].enterprise.credit_code, k[1]))
    chosen = ranked[: max(2, round(CROSS_PROVINCE_RATE * len(ranked)))]
    for key in chosen:
        site = sites[key[0]]
        rng = random.Random(f"weifei-cross-receiver/{seed}/{site.enterprise.credit_code}/{site.name}/{key[1]}")
        lat, lng = float(site.latitude or 0), float(site.longitude or 0)
        near = sorted(receivers, key=lambda e: _km(lat, lng, float(e.latitude or 0), float(e.longitude or 0)))
        receiver = near[0] if rng.random() < 0.75 else near[1]
        LedgerEntry.objects.filter(id__in=flows[key]).update(
            receiver_id=receiver.id, receiver_name=receiver.name, licence_number=licences[receiver.id]
        )
    return len(receivers)


def _approvals(plans: list[_Plan], planner: _Planner, seed: int) -> int:
    """A real approval for every cross-province manifest, through the approvals services: per
    consignor site and receiver, one application for the manifests of up to ``APPROVAL_SPAN_DAYS``
    days, submitted 40 days before the first, carried through completeness, preliminary review, the
    receiving province's reply and the decision (each a few working days after the previous), with
    the year's tonnes plus 10 % applied for and approved; each manifest then consumes its lines'
    tonnes on its submission day (``approval_consume``), as submission does. Returns the count."""
    from weifei.approvals import services as approvals

    groups: dict[tuple[int, int], list[_Plan]] = defaultdict(list)
    for p in plans:
        if p.transfer_type == Manifest.TransferType.CROSS_PROVINCE:
            groups[(p.site_id, p.receiver_id)].append(p)
    if not groups:
        return 0
    receivers = {e.id: e for e in Enterprise.objects.filter(id__in={k[1] for k in groups}).select_related("region")}
    licences = {
        lic.holder_id: lic
        for lic in Licence.objects.filter(holder_id__in=list(receivers)).order_by("valid_to")  # the latest wins
    }
    made = 0
    for (site_id, receiver_id), items in sorted(groups.items(), key=lambda kv: kv[1][0].rank):
        receiver, licence = receivers[receiver_id], licences[receiver_id]
        chunks: list[list[_Plan]] = []
        for p in sorted(items, key=lambda p: (p.steps[0].at, p.rank)):
            if not chunks or (_local(p.steps[0].at) - _local(chunks[-1][0].steps[0].at)).days > APPROVAL_SPAN_DAYS:
                chunks.append([])
            chunks[-1].append(p)
        for chunk in chunks:
            first = _local(chunk[0].steps[0].at)
            rng = random.Random(f"weifei-approval/{seed}/{chunk[0].number}")
            tonnes: dict[str, Decimal] = defaultdict(Decimal)
            for p in chunk:
                for code in p.codes():
                    tonnes[code] += p.declared(code)
            lines = [{"waste_code": c, "tonnes": (t * APPLY_MARGIN).quantize(SIX)} for c, t in sorted(tonnes.items())]
            submitted = _working_time(first - dt.timedelta(days=40), rng, planner.calendar)
            application = approvals.application_create(
                actor=SYSTEM, site_id=site_id, receiver_province=receiver.region.province_code,
                receiver_name=receiver.name, receiver_credit_code=receiver.credit_code,
                receiver_licence_number=licence.number, receiver_licence_valid_to=licence.valid_to,
                method_code=chunk[0].sent[0].method_code, period_from=_local(submitted),
                period_to=_local(submitted) + dt.timedelta(days=364),
                lines=lines, today=_local(submitted),
            )  # fmt: skip
            at = submitted
            approvals.application_submit(actor=SYSTEM, application_id=application.id, now=at)
            for action in ("accept", "agree"):
                at = _working_time(planner.calendar.add_working_days(_local(at), 2), rng, planner.calendar)
                approvals.step_act(actor=SYSTEM, application_id=application.id, action=action, now=at)
            at = _working_time(planner.calendar.add_working_days(_local(at), 5), rng, planner.calendar)
            approvals.reply_record(
                actor=SYSTEM, application_id=application.id, decision="agree", now=at, responded_at=at,
                responder=licence.issuing_authority or receiver.region.name,
            )  # fmt: skip
            at = _working_time(planner.calendar.add_working_days(_local(at), 2), rng, planner.calendar)
            decided = approvals.application_decide(actor=SYSTEM, application_id=application.id, approve=True, now=at)
            approval = decided.approval
            for p in chunk:
                p.approval_reference = approval.number
                for code in p.codes():
                    approvals.approval_consume(
                        actor=SYSTEM, approval_id=approval.id, waste_code=code, tonnes=p.declared(code),
                        manifest_number=p.number, on=_local(p.steps[0].at),
                    )  # fmt: skip
            made += 1
    return made
