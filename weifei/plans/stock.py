"""库存 (stock) per site, storage facility, waste code and container, with ageing levels, capacity
checks and the sweep that turns them into supervision findings.

Everything is derived from ``LedgerEntry`` (the ledger services and bulk importers write those rows
directly; no table here needs maintaining):

- **per waste code** (rule 12): generated, received, stored in, stored out, self-treated, sent out;
  stock = generated + received − self-treated − sent out; in store = stored in − stored out. As of now or of a past
  instant ``at`` (entries with ``occurred_at <= at``); reversals carry the negative quantity and the
  same time, so they net out.
- **per storage facility**: in store = 入库 into the facility − 出库 out of it (an 出库 counts
  against the facility of the 入库 it takes from, falling back to its own facility), against the
  facility's ``storage_capacity_tonnes``.
- **per container**: every unreversed 产生 record (or 接收 record: waste received on a transfer
  manifest, aged from its receipt) whose waste has not all left the site — its net
  quantity minus the 自行/委外 taken from it directly or through 入库 → 出库 — with its age and an
  ageing level (``age_level``).

Ageing (regulations §8, §11, §13 rules 39–40):

- Ordinary waste: warnings once 9 and 11 months have passed, a violation once 12 months have
  (固废法 第八十一条 for licensed operators; GB 18597 / local rules for producers, UNCONFIRMED).
  Months are calendar months counted on the Asia/Shanghai date of the 产生 record as 民法典 第二百零一、
  二百零二条 count periods: the day of generation is not counted, an n-month period ends at the end of
  the corresponding day n months later (the month's last day when there is none), and the level is
  reached at 00:00 of the following day. Generated 2025-03-10 → 12 months end 2026-03-10 24:00 →
  violation from 2026-03-11 00:00 (Asia/Shanghai).
- Medical waste (HW01) at an institution: 医废条例 第十七条 temporary storage ≤ 2 days → warning once
  36 h have passed, violation once 48 h have.
- 感染性/损伤性/病理性 medical waste (841-001/002/003-01) at a disposal unit: GB 39707—2020 5.4.6
  ≤ 24 h at ≥ 5 °C (72 h below 5 °C). The platform does not know the temperature, so it applies the
  stricter 24 h (warning once 18 h have passed). 化学性/药物性 waste there follows GB 18597 (months).
- A site is a disposal unit / licensed operator when its roles include 利用处置 or 收集.
- Hours are exact elapsed time: a level is reached when the age *exceeds* the threshold (at exactly
  48 h the waste is still within the limit).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError
from weifei.registry.models import Facility, Site
from weifei.registry.selectors import site_get, sites_visible

from .findings import finding_raise, finding_resolve
from .ledger import INTAKE_KINDS, Q6, CodeStock, stock_from_sums
from .models import Finding, LedgerEntry

SH = ZoneInfo("Asia/Shanghai")
Kind = LedgerEntry.Kind
T = LedgerEntry._meta.db_table
ZERO = Decimal(0)

# ---------------------------------------------------------------- ageing: pure rules

OK = "ok"
AGE_9M = "age_9m"
AGE_11M = "age_11m"
AGE_12M = "age_12m"
MEDICAL_WARNING = "medical_warning"
MEDICAL_OVER = "medical_over"
LEVELS: tuple[str, ...] = (OK, AGE_9M, AGE_11M, AGE_12M, MEDICAL_WARNING, MEDICAL_OVER)
LEVEL_LABELS = {
    OK: "正常",
    AGE_9M: "贮存超过9个月",
    AGE_11M: "贮存超过11个月",
    AGE_12M: "贮存超过1年",
    MEDICAL_WARNING: "医疗废物贮存接近时限",
    MEDICAL_OVER: "医疗废物贮存超过时限",
}
SEVERITY = {
    OK: "",
    AGE_9M: Finding.Severity.WARNING,
    AGE_11M: Finding.Severity.WARNING,
    AGE_12M: Finding.Severity.VIOLATION,
    MEDICAL_WARNING: Finding.Severity.WARNING,
    MEDICAL_OVER: Finding.Severity.VIOLATION,
}
# The finding rule each level raises (one open ageing finding per container: the current level).
RULES = {
    AGE_9M: "storage_age_9m",
    AGE_11M: "storage_age_11m",
    AGE_12M: "storage_over_limit",
    MEDICAL_WARNING: "medical_storage_warning",
    MEDICAL_OVER: "medical_storage_hours",
}
CAPACITY_RULE = "storage_over_capacity"
AGEING_RULES = tuple(RULES.values())
STOCK_RULES = (*AGEING_RULES, CAPACITY_RULE)
RULE_LABELS = {
    "storage_age_9m": "贮存超过9个月",
    "storage_age_11m": "贮存超过11个月",
    "storage_over_limit": "贮存超过1年",
    "medical_storage_warning": "医疗废物贮存接近时限",
    "medical_storage_hours": "医疗废物贮存超时",
    CAPACITY_RULE: "贮存设施超过贮存能力",
}

MONTH_STEPS = ((12, AGE_12M), (11, AGE_11M), (9, AGE_9M))
MEDICAL_CATEGORY = "HW01"
# GB 39707—2020 5.4.6: 感染性, 损伤性, 病理性 waste at disposal units.
DISPOSAL_HOURLY_CODES = ("841-001-01", "841-002-01", "841-003-01")
OPERATOR_ROLES = frozenset({Site.Role.OPERATOR, Site.Role.COLLECTOR})


@dataclass(frozen=True)
class HourRule:
    warn_hours: int
    limit_hours: int
    basis: str


INSTITUTION_MEDICAL = HourRule(36, 48, "《医疗废物管理条例》第十七条：医疗卫生机构暂时贮存不得超过2天")
DISPOSAL_MEDICAL = HourRule(
    18, 24, "GB 39707—2020 5.4.6：感染性、损伤性、病理性废物≥5℃贮存不超过24小时（温度未知，按24小时）"
)
OPERATOR_BASIS = "《固体废物污染环境防治法》第八十一条：经营单位贮存危险废物不得超过一年"
PRODUCER_BASIS = "GB 18597 及地方规定：贮存一般不超过一年（第9、11个月预警）"


def site_is_operator(roles: Iterable[str] | None) -> bool:
    """A licensed operator's or collector's site (the stricter operator rules apply to it)."""
    return bool(OPERATOR_ROLES & set(roles or ()))


def hour_rule(*, operator: bool, waste_code: str, category: str) -> HourRule | None:
    """The hourly limit that applies to a medical waste record, or None when months apply."""
    if category != MEDICAL_CATEGORY:
        return None
    if operator:
        return DISPOSAL_MEDICAL if waste_code in DISPOSAL_HOURLY_CODES else None
    return INSTITUTION_MEDICAL


def add_months(day: dt.date, months: int) -> dt.date:
    """The corresponding day ``months`` later; the month's last day when it has none (民法典 第二百零二条)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_reached_at(generated_at: dt.datetime, months: int) -> dt.datetime:
    """The instant an n-month storage period is exceeded: 00:00 Asia/Shanghai of the day after the
    period's last day (民法典 第二百零一条: the first day is not counted)."""
    end = add_months(timezone.localtime(generated_at, SH).date(), months)
    return dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=SH)


def months_cutoff(now: dt.datetime, months: int) -> dt.datetime:
    """An instant C such that a record generated at g has exceeded ``months`` at ``now`` iff g < C.

    ``add_months`` is monotone on dates, so the records past the limit are those generated on or
    before the last date d with add_months(d, n) < today; C is 00:00 of the day after d."""
    yesterday = timezone.localtime(now, SH).date() - dt.timedelta(days=1)
    index = yesterday.year * 12 + yesterday.month - 1 - months
    year, month = divmod(index, 12)
    d = dt.date(year, month + 1, min(yesterday.day, calendar.monthrange(year, month + 1)[1]))
    while add_months(d + dt.timedelta(days=1), months) <= yesterday:  # month ends: at most 3 steps
        d += dt.timedelta(days=1)
    return dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), tzinfo=SH)


def age_level(*, generated_at: dt.datetime, now: dt.datetime, operator: bool, waste_code: str, category: str) -> str:
    """The ageing level of waste generated at ``generated_at`` and still on site at ``now``."""
    hours = hour_rule(operator=operator, waste_code=waste_code, category=category)
    if hours is not None:
        age = now - generated_at
        if age > dt.timedelta(hours=hours.limit_hours):
            return MEDICAL_OVER
        if age > dt.timedelta(hours=hours.warn_hours):
            return MEDICAL_WARNING
        return OK
    for months, level in MONTH_STEPS:
        if now >= months_reached_at(generated_at, months):
            return level
    return OK


def limit_at(*, generated_at: dt.datetime, operator: bool, waste_code: str, category: str) -> dt.datetime:
    """The instant the storage limit is exceeded (12 months, or the medical hours)."""
    hours = hour_rule(operator=operator, waste_code=waste_code, category=category)
    if hours is not None:
        return generated_at + dt.timedelta(hours=hours.limit_hours)
    return months_reached_at(generated_at, 12)


def basis_for(*, operator: bool, waste_code: str, category: str) -> str:
    hours = hour_rule(operator=operator, waste_code=waste_code, category=category)
    if hours is not None:
        return hours.basis
    return OPERATOR_BASIS if operator else PRODUCER_BASIS


# ---------------------------------------------------------------- helpers


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    if at is not None and timezone.is_naive(at):
        return timezone.make_aware(at, SH)
    return at


def _percent(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _db_time(value: dt.datetime) -> Any:
    """A datetime as the database driver wants it in raw SQL (UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


def _dec(value: Any) -> Decimal:
    """A tonnes figure from the database at the ledger's six decimals (SQLite sums decimals as
    floats: 8.026000000001 is 8.026000)."""
    if value is None:
        return ZERO
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    return value.quantize(Q6, rounding=ROUND_HALF_UP)


def _when(value: Any) -> dt.datetime:
    if isinstance(value, str):  # SQLite gives text
        value = dt.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


# ---------------------------------------------------------------- per waste code


def code_stock(site: Site, at: dt.datetime | None = None) -> dict[str, CodeStock]:
    """Per waste code sums as of ``at`` (no actor: callers have checked it). The current figures
    come from the incremental cache when they can (``_current_sums``)."""
    if at is None and not connection.in_atomic_block:
        return stock_from_sums((code, kind, t) for (code, kind), t in _current_sums(site).items())
    qs = LedgerEntry.objects.filter(site_id=site.id)
    if at is not None:
        qs = qs.filter(occurred_at__lte=at)
    return stock_from_sums(qs.values_list("waste_code", "kind").annotate(t=Sum("quantity_tonnes")).order_by())


CACHE_SECONDS = 24 * 3600
_FULL = (
    "SELECT waste_code, kind, SUM(quantity_tonnes), COUNT(*), MAX(id) FROM {t} WHERE site_id = %s "
    "GROUP BY waste_code, kind"
)
DELTA_MAX = 5000  # more new rows than this since the cached sums: recompute in full
_DELTA = (
    "SELECT 0, NULL, NULL, NULL, COUNT(*), NULL FROM {t} WHERE site_id = %s UNION ALL "
    "SELECT 1, d.waste_code, d.kind, SUM(d.quantity_tonnes), COUNT(*), MAX(d.id) FROM ("
    # Row comparisons bound both ends of the (site_id, id) index range: (site, m) < row <= (site, ∞).
    "  SELECT waste_code, kind, quantity_tonnes, id FROM {t} WHERE (site_id, id) > (%s, %s)"
    "  AND (site_id, id) <= (%s, 9223372036854775807) ORDER BY site_id, id LIMIT %s"
    ") d GROUP BY d.waste_code, d.kind"
)


def _current_sums(site: Site) -> dict[tuple[str, str], Decimal]:
    """The site's current sums per (waste code, kind), kept incrementally in the cache.

    Ledger rows are append-only (never edited or deleted; corrections are new rows). The cache holds
    the sums of a consistent set C of committed rows with its size c and largest id m. One statement
    (one snapshot) then reads the site's row count n and the sums of the rows with id > m (D): as
    C's rows are all still there and all have ids ≤ m, n == c + |D| proves no row with id ≤ m was
    added since (a transaction committing out of id order), and the current sums are C + D. Any
    other count (or no cache entry) recomputes in full. Only used outside transactions
    (autocommit), so that no row the cache saw can still be rolled back."""
    # The site's creation time in the key: a rebuilt database reusing the id is another site.
    key = f"weifei:stock:{connection.settings_dict.get('NAME')}:{site.id}:{site.created_at.timestamp()}"
    site_id = site.id
    cached = cache.get(key)
    if cached is not None:
        count, max_id, sums = cached
        rows = _rows(_DELTA.format(t=T), [site_id, site_id, max_id, site_id, DELTA_MAX + 1])
        total = next(r[4] for r in rows if r[0] == 0)
        delta = [r for r in rows if r[0] == 1]
        new = sum(r[4] for r in delta)
        if new <= DELTA_MAX and count + new == total:
            if delta:
                sums = dict(sums)
                for _, code, kind, t, _n, top in delta:
                    sums[(code, kind)] = sums.get((code, kind), ZERO) + _dec(t)
                    max_id = max(max_id, top)
                cache.set(key, (total, max_id, sums), CACHE_SECONDS)
            return dict(sums)
    rows = _rows(_FULL.format(t=T), [site_id])
    sums = {(code, kind): _dec(t) for code, kind, t, _n, _top in rows}
    entry = (sum(r[3] for r in rows), max((r[4] for r in rows), default=0), sums)
    cache.set(key, entry, CACHE_SECONDS)
    return dict(sums)


def stock_by_code(*, actor: Actor, site_id: int, at: dt.datetime | None = None) -> dict[str, Any]:
    """The site's stock per waste code (rule 12) and its totals, now or as of ``at``. Who sees the
    site (its unit's users, regulators over its region, the system) sees its stock; others 404."""
    site = site_get(actor=actor, site_id=site_id)
    at = _aware(at)
    rows = []
    total = CodeStock("")
    for s in code_stock(site, at).values():
        row = s.as_dict()
        row["in_store"] = s.stored_in - s.stored_out
        rows.append(row)
        for name in ("generated", "received", "stored_in", "stored_out", "self_treated", "sent_out"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
    totals = total.as_dict()
    del totals["waste_code"]
    totals["in_store"] = total.stored_in - total.stored_out
    return {"site": site, "at": at, "items": rows, "totals": totals}


# ---------------------------------------------------------------- per storage facility


_FACILITY_SQL = """
SELECT x.site_id, x.fac, x.waste_code, SUM(x.q) FROM (
  SELECT i.site_id, i.facility_id AS fac, i.waste_code, i.quantity_tonnes AS q
  FROM {t} i WHERE i.kind = 'stored_in' {i_where}
  UNION ALL
  SELECT o.site_id, COALESCE(s.facility_id, o.facility_id), o.waste_code, -o.quantity_tonnes
  FROM {t} o
  LEFT JOIN {t} s ON s.id = o.source_id AND s.site_id = o.site_id AND s.kind = 'stored_in'
  WHERE o.kind = 'stored_out' {o_where}
) x GROUP BY x.site_id, x.fac, x.waste_code
"""


def _facility_sums(site_ids: list[int] | None, at: dt.datetime | None) -> dict[tuple[int, int | None, str], Decimal]:
    """In store per (site, facility, waste code): 入库 into it − 出库 out of it. An 出库 leaves the
    facility its 入库 put the waste in; its own facility counts only when that 入库 names none."""
    where: list[str] = []
    params: list[Any] = []
    if site_ids is not None:
        where.append("AND {a}.site_id IN (" + (", ".join("%s" for _ in site_ids) or "NULL") + ")")
        params += site_ids
    if at is not None:
        where.append("AND {a}.occurred_at <= %s")
        params.append(_db_time(at))
    sql = _FACILITY_SQL.format(
        t=T, i_where=" ".join(w.format(a="i") for w in where), o_where=" ".join(w.format(a="o") for w in where)
    )
    return {(site, fac, code): _dec(t) for site, fac, code, t in _rows(sql, params + params)}


def stock_by_facility(*, actor: Actor, site_id: int, at: dt.datetime | None = None) -> dict[str, Any]:
    """In store per storage facility against its capacity, and the site's total against the sum of
    the capacities of its storage facilities in service."""
    site = site_get(actor=actor, site_id=site_id)
    at = _aware(at)
    sums = _facility_sums([site.id], at)
    per_fac: dict[int | None, Decimal] = defaultdict(Decimal)
    codes: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for (_site, fac, code), t in sorted(sums.items(), key=lambda kv: (kv[0][1] or 0, kv[0][2])):
        per_fac[fac] += t
        if t:
            codes[fac].append({"waste_code": code, "in_store": t})
    facilities = list(Facility.objects.filter(site=site).filter(Q(kind=Facility.Kind.STORAGE) | Q(id__in=[
        f for f in per_fac if f is not None
    ])).order_by("code"))  # fmt: skip
    items = []
    for f in facilities:
        in_store = per_fac.get(f.id, ZERO)
        cap = f.storage_capacity_tonnes
        items.append({
            "facility_id": f.id, "code": f.code, "name": f.name, "kind": f.kind, "in_service": f.in_service,
            "capacity_tonnes": cap, "in_store": in_store, "percent": _percent(in_store, cap),
            "over_capacity": cap is not None and in_store > cap, "by_code": codes.get(f.id, []),
        })  # fmt: skip
    unassigned = per_fac.get(None, ZERO)
    total = sum(per_fac.values(), ZERO)
    capacity = sum(
        (f.storage_capacity_tonnes for f in facilities if f.in_service and f.storage_capacity_tonnes is not None),
        ZERO,
    )
    return {
        "site": site,
        "at": at,
        "items": items,
        "unassigned": {"in_store": unassigned, "by_code": codes.get(None, [])},
        "site_in_store": total,
        "site_capacity": capacity,
        "site_percent": _percent(total, capacity),
        "site_over_capacity": bool(capacity) and total > capacity,
    }


# ---------------------------------------------------------------- per container

_ONSITE = """
WITH gone AS (
  SELECT COALESCE(i.source_id, e.source_id) AS root, SUM(e.quantity_tonnes) AS q
  FROM {t} e
  LEFT JOIN {t} o ON o.id = e.source_id AND o.site_id = e.site_id AND o.kind = 'stored_out'
  LEFT JOIN {t} i ON i.id = o.source_id AND i.site_id = e.site_id AND i.kind = 'stored_in'
  WHERE e.kind IN ('self_treated', 'sent_out') {e_where}
  GROUP BY COALESCE(i.source_id, e.source_id)
)
SELECT g.id, g.site_id, g.occurred_at, g.waste_code, g.quantity_tonnes - COALESCE(s.q, 0)
FROM {t} g LEFT JOIN gone s ON s.root = g.id
WHERE g.kind IN ('generated', 'received') AND g.quantity_tonnes > 0 {g_where} -- reversals are the negative ones
  AND NOT EXISTS (SELECT 1 FROM {t} r WHERE r.reversal_of_id = g.id)
  AND g.quantity_tonnes - COALESCE(s.q, 0) > 0
ORDER BY g.occurred_at, g.id
"""


@dataclass(frozen=True)
class OnSite:
    id: int
    site_id: int
    occurred_at: dt.datetime
    waste_code: str
    category: str
    remaining: Decimal


def _onsite(*, site_ids: list[int] | None, g_where: str = "", g_params: Sequence[Any] = ()) -> list[OnSite]:
    """The unreversed 产生 records (of ``site_ids``, or all) whose waste has not all left the site
    (reversing entries carry the negative quantity, so ``> 0`` picks the originals; a reversed one is
    excluded by the anti-join on ``reversal_of_id``),
    oldest first, with the quantity still on site. The chain is followed set-wise: 自行/委外 taken
    from the 产生 record itself, or from an 出库 of an 入库 of it; reversals net out."""
    e_where, params_e = "", []
    if site_ids is not None:
        marks = ", ".join("%s" for _ in site_ids) or "NULL"
        e_where, params_e = f"AND e.site_id IN ({marks})", list(site_ids)
        g_where = f"AND g.site_id IN ({marks}) {g_where}"
        g_params = [*site_ids, *g_params]
    sql = _ONSITE.format(t=T, e_where=e_where, g_where=g_where)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # The per-root sums of a big site fit in memory (no spill to disk); parallel workers
                # would each rebuild the same hash tables (measured: slower, three times the CPU).
                cursor.execute("SET LOCAL work_mem = '64MB'")
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        rows = _rows(sql, [*params_e, *g_params])
    # The category is the code's last two digits (rule 1), so the 产生 rows are read from the
    # covering index alone.
    return [OnSite(r[0], r[1], _when(r[2]), r[3], f"HW{r[3][-2:]}", _dec(r[4])) for r in rows]


ONSITE_CACHE_MAX = 50_000  # on-site records kept in the cache per site (beyond: recomputed each time)
_ONSITE_DELTA = (
    "SELECT 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, COUNT(*) FROM {t} WHERE site_id = %s UNION ALL "
    "SELECT 1, d.id, d.kind, d.occurred_at, d.waste_code, d.quantity_tonnes, d.source_id, d.reversal_of_id, NULL "
    "FROM (SELECT id, kind, occurred_at, waste_code, quantity_tonnes, source_id, reversal_of_id FROM {t} "
    "  WHERE (site_id, id) > (%s, %s) AND (site_id, id) <= (%s, 9223372036854775807) ORDER BY site_id, id LIMIT %s"
    ") d"
)


def site_onsite(site: Site) -> list[OnSite]:
    """``_onsite`` for one site, kept incrementally in the cache like ``_current_sums``: the rows
    added since (id > m, the count proving there are no others) update the cached records — a new
    产生 adds one, a reversal of a 产生 or a 自行/委外 (direct, or through 入库 → 出库) changes its
    root's remaining quantity, 入库/出库 change nothing on site. Anything else (a root no longer
    cached, e.g. a 委外 reversed after the container had left) recomputes in full. Inside a
    transaction it always computes directly."""
    if connection.in_atomic_block:
        return _onsite(site_ids=[site.id])
    key = f"weifei:stock:onsite:{connection.settings_dict.get('NAME')}:{site.id}:{site.created_at.timestamp()}"
    cached = cache.get(key)
    if cached is not None:
        updated = _onsite_delta(site, *cached)
        if updated is not None:
            count, max_id, records, changed = updated
            if changed:
                cache.set(key, (count, max_id, records), CACHE_SECONDS)
            return sorted(records.values(), key=lambda r: (r.occurred_at, r.id))
    with transaction.atomic():  # the count, the largest id and the records from one snapshot
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = _onsite(site_ids=[site.id])
        count, max_id = _rows(f"SELECT COUNT(*), MAX(id) FROM {T} WHERE site_id = %s", [site.id])[0]
    if connection.vendor == "postgresql" and len(rows) <= ONSITE_CACHE_MAX:
        cache.set(key, (count, max_id or 0, {r.id: r for r in rows}), CACHE_SECONDS)
    return rows


def _onsite_delta(
    site: Site, count: int, max_id: int, records: dict[int, OnSite]
) -> tuple[int, int, dict[int, OnSite], bool] | None:
    rows = _rows(_ONSITE_DELTA.format(t=T), [site.id, site.id, max_id, site.id, DELTA_MAX + 1])
    total = next(r[8] for r in rows if r[0] == 0)
    new = [r for r in rows if r[0] == 1]
    if len(new) > DELTA_MAX or count + len(new) != total:
        return None
    if not new:
        return count, max_id, records, False
    sources = {r[6] for r in new if r[2] in (Kind.SELF_TREATED, Kind.SENT_OUT)}
    src = {e["id"]: e for e in LedgerEntry.objects.filter(id__in=sources).values("id", "kind", "source_id")}
    ins = {e["source_id"] for e in src.values() if e["kind"] == Kind.STORED_OUT}
    roots_of_in = dict(LedgerEntry.objects.filter(id__in=ins).values_list("id", "source_id"))
    records = dict(records)
    for _, id_, kind, occurred, code, qty, source_id, reversal_of, _n in new:
        qty = _dec(qty)
        if kind in INTAKE_KINDS and reversal_of is None and qty > 0:
            records[id_] = OnSite(id_, site.id, _when(occurred), code, f"HW{code[-2:]}", qty)
            continue
        if kind in (Kind.STORED_IN, Kind.STORED_OUT):
            continue
        if kind in INTAKE_KINDS:
            root, change = reversal_of, qty
        elif kind in (Kind.SELF_TREATED, Kind.SENT_OUT) and source_id in src:
            s = src[source_id]
            root = s["id"] if s["kind"] in INTAKE_KINDS else roots_of_in.get(s["source_id"])
            change = -qty
        else:
            return None
        if root not in records:
            return None
        r = records[root]
        left = r.remaining + change
        if left > 0:
            records[root] = OnSite(r.id, r.site_id, r.occurred_at, r.waste_code, r.category, left)
        else:
            del records[root]
    return total, max(r[1] for r in new), records, True


class Leveler:
    """The ageing level at ``now`` of waste generated at a time, for one site (operator or not):
    the cutoff instants are computed once, each record is compared with them."""

    def __init__(self, *, operator: bool, now: dt.datetime) -> None:
        self.operator = operator
        self.months = [(months_cutoff(now, m), level) for m, level in MONTH_STEPS]
        self.hours = {
            rule: (now - dt.timedelta(hours=rule.limit_hours), now - dt.timedelta(hours=rule.warn_hours))
            for rule in (INSTITUTION_MEDICAL, DISPOSAL_MEDICAL)
        }

    def __call__(self, occurred_at: dt.datetime, waste_code: str, category: str) -> str:
        rule = hour_rule(operator=self.operator, waste_code=waste_code, category=category)
        if rule is not None:
            over, warn = self.hours[rule]
            return MEDICAL_OVER if occurred_at < over else MEDICAL_WARNING if occurred_at < warn else OK
        for cutoff, level in self.months:
            if occurred_at < cutoff:
                return level
        return OK


def check_window(limit: int, offset: int, *, limit_max: int = 500) -> None:
    if not 1 <= limit <= limit_max:
        raise ApplicationError(f"每页条数应为 1–{limit_max}", code="limit_range", field="limit")
    if offset < 0:
        raise ApplicationError("偏移量不能为负数", code="offset_range", field="offset")


def _check_page(level: str, limit: int, offset: int) -> None:
    if level and level not in LEVELS:
        raise ApplicationError(
            f"贮存时限级别 {level!r} 无效：应为 {'、'.join(LEVELS)} 之一", code="level_invalid", field="level"
        )
    check_window(limit, offset)


def stock_containers(
    *,
    actor: Actor,
    site_id: int,
    level: str = "",
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The 产生 records whose waste is still on the site, oldest first, with their age, the storage
    facility holding them and their ageing level; ``counts`` (and ``tonnes``) per level over all of
    them, ``total`` the number matching ``level`` (all when empty)."""
    site = site_get(actor=actor, site_id=site_id)
    _check_page(level, limit, offset)
    now = _aware(now) or timezone.now()
    operator = site_is_operator(site.roles)
    leveler = Leveler(operator=operator, now=now)
    counts = {lv: 0 for lv in LEVELS}
    tonnes = {lv: ZERO for lv in LEVELS}
    matching: list[tuple[OnSite, str]] = []
    for row in site_onsite(site):
        lv = leveler(row.occurred_at, row.waste_code, row.category)
        counts[lv] += 1
        tonnes[lv] += row.remaining
        if not level or lv == level:
            matching.append((row, lv))
    page = matching[offset : offset + limit]
    entries = LedgerEntry.objects.in_bulk([r.id for r, _ in page])
    places = _container_places([r.id for r, _ in page])
    items = []
    for row, lv in page:
        entry = entries[row.id]
        kw: dict[str, Any] = {"operator": operator, "waste_code": row.waste_code, "category": row.category}
        where_fac, in_store = places.get(row.id, (None, ZERO))
        age = now - row.occurred_at
        items.append(
            {
                "entry_id": row.id,
                "batch_code": entry.batch_code,
                "container_code": entry.container_code,
                "container_type": entry.container_type,
                "waste_code": row.waste_code,
                "category": row.category,
                "generated_at": row.occurred_at,
                "quantity_tonnes": entry.quantity_tonnes,
                "remaining_tonnes": row.remaining,
                "in_store_tonnes": in_store,
                "facility_id": where_fac.id if where_fac else None,
                "facility_code": where_fac.code if where_fac else None,
                "facility_name": where_fac.name if where_fac else None,
                "age_days": age.days,
                "age_hours": int(age.total_seconds() // 3600),
                "level": lv,
                "level_label": LEVEL_LABELS[lv],
                "severity": SEVERITY[lv],
                "limit_at": limit_at(generated_at=row.occurred_at, **kw),
                "basis": basis_for(**kw),
            }
        )
    return {
        "site": site,
        "now": now,
        "operator": operator,
        "total": len(matching),
        "counts": counts,
        "tonnes": tonnes,
        "items": items,
    }


def _container_places(gen_ids: list[int]) -> dict[int, tuple[Facility | None, Decimal]]:
    """For each 产生 record: the storage facility holding most of its waste now, and how much is
    in storage (入库 − 出库 per facility, reversals netting)."""
    if not gen_ids:
        return {}
    ins = list(
        LedgerEntry.objects.filter(kind=Kind.STORED_IN, source_id__in=gen_ids).values_list(
            "id", "source_id", "facility_id", "quantity_tonnes"
        )
    )
    outs = dict(
        LedgerEntry.objects.filter(kind=Kind.STORED_OUT, source_id__in=[i[0] for i in ins])
        .values_list("source_id")
        .annotate(t=Sum("quantity_tonnes"))
        .order_by()
    )
    per: dict[int, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for id_, gen, fac, qty in ins:
        per[gen][fac] += qty - _dec(outs.get(id_))
    fac_ids = {f for d in per.values() for f, t in d.items() if f is not None and t > 0}
    facilities = Facility.objects.in_bulk(fac_ids)
    out: dict[int, tuple[Facility | None, Decimal]] = {}
    for gen, d in per.items():
        held = {f: t for f, t in d.items() if t > 0}
        if not held:
            continue
        best = max(held, key=lambda f: (held[f], f or 0))
        out[gen] = (facilities.get(best) if best is not None else None, sum(held.values(), ZERO))
    return out


# ---------------------------------------------------------------- findings (read)


def stock_findings(*, actor: Actor, site_id: int | None = None, open_only: bool | None = None) -> QuerySet[Finding]:
    """Storage findings (ageing and capacity) of the sites the actor sees, newest first."""
    sites = sites_visible(actor=actor)
    if site_id is not None:
        site_get(actor=actor, site_id=site_id)
        sites = sites.filter(id=site_id)
    qs = Finding.objects.filter(rule__in=STOCK_RULES, site__in=sites.values("id")).select_related(
        "site", "site__region", "enterprise"
    )
    if open_only is True:
        qs = qs.filter(resolved_at__isnull=True)
    elif open_only is False:
        qs = qs.filter(resolved_at__isnull=False)
    return qs.order_by("-raised_at", "-id")


def findings_summary(*, actor: Actor) -> dict[str, Any]:
    """Open storage findings of the actor's sites: counts per rule and the sites with most."""
    qs = stock_findings(actor=actor, open_only=True)
    per_rule = dict(qs.values_list("rule").annotate(n=Count("id")).order_by())
    by_site = list(
        qs.values("site_id", "site__name", "enterprise__name", "site__region__name")
        .annotate(n=Count("id"), violations=Count("id", filter=Q(severity=Finding.Severity.VIOLATION)))
        .order_by("-violations", "-n", "site_id")[:200]
    )
    return {
        "per_rule": [{"rule": r, "label": RULE_LABELS[r], "count": per_rule.get(r, 0)} for r in STOCK_RULES],
        "total": sum(per_rule.values()),
        "sites": by_site,
    }


# ---------------------------------------------------------------- the sweep


def _at_risk(now: dt.datetime, site_ids: list[int] | None) -> list[OnSite]:
    """Every on-site 产生 record (all sites, or ``site_ids``) old enough for some warning level."""
    g_where = "AND (g.occurred_at < %s OR (g.waste_code LIKE %s AND g.occurred_at < %s))"
    params = [
        _db_time(months_cutoff(now, 9)),
        "%-01",  # HW01
        _db_time(now - dt.timedelta(hours=min(INSTITUTION_MEDICAL.warn_hours, DISPOSAL_MEDICAL.warn_hours))),
    ]
    return _onsite(site_ids=site_ids, g_where=g_where, g_params=params)


def stock_ageing_sweep(
    *, actor: Actor = SYSTEM, now: dt.datetime | None = None, site_ids: list[int] | None = None
) -> dict[str, int]:
    """Raise a finding for every container past a warning/violation level and every storage
    facility over its capacity; resolve ageing findings of containers no longer on site (or moved
    to a higher level) and capacity findings of facilities back under capacity. Idempotent: a
    second run with the same ``now`` changes nothing. Set-based: one query finds the containers at
    risk over the whole province (or ``site_ids``), one the in-store figures of every facility."""
    now = _aware(now) or timezone.now()
    counts = {"raised": 0, "resolved": 0, "containers_flagged": 0, "facilities_over": 0}
    rows = _at_risk(now, site_ids)
    site_pks = {r.site_id for r in rows}
    sites = {s.id: s for s in Site.objects.select_related("enterprise").filter(id__in=site_pks)}
    levelers = {pk: Leveler(operator=site_is_operator(s.roles), now=now) for pk, s in sites.items()}
    flagged = [(r, levelers[r.site_id](r.occurred_at, r.waste_code, r.category)) for r in rows]
    flagged = [(r, lv) for r, lv in flagged if lv != OK]
    entries = {
        e["id"]: e
        for e in LedgerEntry.objects.filter(id__in=[r.id for r, _ in flagged]).values(
            "id", "batch_code", "container_code", "kind"
        )
    }
    wanted: dict[tuple[int, str], tuple[str, OnSite, str]] = {}  # (site, key) -> (rule, row, level)
    for r, lv in flagged:
        e = entries[r.id]
        wanted[(r.site_id, (e["container_code"] or e["batch_code"])[:80])] = (RULES[lv], r, lv)
    counts["containers_flagged"] = len(wanted)
    open_ageing = Finding.objects.filter(rule__in=AGEING_RULES, resolved_at__isnull=True)
    if site_ids is not None:
        open_ageing = open_ageing.filter(site_id__in=site_ids)
    for finding in open_ageing:
        want = wanted.get((finding.site_id, finding.key))
        if want is None or want[0] != finding.rule:
            reason = "容器已离开场所或记录已冲销" if want is None else f"升级为：{RULE_LABELS[want[0]]}"
            counts["resolved"] += finding_resolve(actor=actor, finding=finding, now=now, reason=reason)
    existing = set(
        Finding.objects.filter(rule__in=AGEING_RULES, site_id__in=site_pks).values_list("site_id", "key", "rule")
    )
    for (site_id, key), (rule, r, lv) in wanted.items():
        if (site_id, key, rule) in existing:
            continue
        e = entries[r.id]
        site = sites[site_id]
        kw: dict[str, Any] = {
            "operator": site_is_operator(site.roles),
            "waste_code": r.waste_code,
            "category": r.category,
        }
        what = "容器" if e["container_code"] else "批次"
        message = (
            f"{what} {key}（{r.waste_code}，{timezone.localtime(r.occurred_at, SH):%Y-%m-%d %H:%M} "
            f"{'接收' if e['kind'] == LedgerEntry.Kind.RECEIVED else '产生'}）"
            f"{LEVEL_LABELS[lv]}，剩余 {r.remaining.normalize():f} 吨"
        )
        details = {
            "entry_id": r.id,
            "batch_code": e["batch_code"],
            "container_code": e["container_code"],
            "waste_code": r.waste_code,
            "generated_at": r.occurred_at.isoformat(),
            "level": lv,
            "remaining_tonnes": str(r.remaining),
            "limit_at": limit_at(generated_at=r.occurred_at, **kw).isoformat(),
            "basis": basis_for(**kw),
        }
        made = finding_raise(
            actor=actor, rule=rule, site=site, key=key, severity=SEVERITY[lv], message=message, now=now,
            details=details,
        )  # fmt: skip
        counts["raised"] += made is not None
    cap = _capacity_sweep(actor=actor, now=now, site_ids=site_ids)
    counts["raised"] += cap["raised"]
    counts["resolved"] += cap["resolved"]
    counts["facilities_over"] = cap["over"]
    return counts


def _capacity_key(code: str, now: dt.datetime) -> str:
    """A new key per episode (the facility code and when the breach was first seen), so that a
    facility over capacity again after a resolved finding gets a new finding."""
    return f"{code}@{timezone.localtime(now, SH):%Y%m%d%H%M}"


def _capacity_sweep(*, actor: Actor, now: dt.datetime, site_ids: list[int] | None) -> dict[str, int]:
    facilities = Facility.objects.filter(kind=Facility.Kind.STORAGE, storage_capacity_tonnes__isnull=False)
    if site_ids is not None:
        facilities = facilities.filter(site_id__in=site_ids)
    fac = {f.id: f for f in facilities.select_related("site", "site__enterprise")}
    sums = _facility_sums(site_ids, now)
    in_store: dict[int, Decimal] = defaultdict(Decimal)
    for (_site, fac_id, _code), t in sums.items():
        if fac_id is not None:
            in_store[fac_id] += t
    open_ = Finding.objects.filter(rule=CAPACITY_RULE, resolved_at__isnull=True)
    if site_ids is not None:
        open_ = open_.filter(site_id__in=site_ids)
    open_by_code = {f.key.split("@", 1)[0]: f for f in open_}
    out = {"raised": 0, "resolved": 0, "over": 0}
    for f in fac.values():
        cap = f.storage_capacity_tonnes
        assert cap is not None
        t = in_store.get(f.id, ZERO)
        finding = open_by_code.pop(f.code, None)
        if t > cap:
            out["over"] += 1
            if finding is None:
                message = f"贮存设施 {f.code}（{f.name}）贮存量 {t.normalize()} 吨，超过贮存能力 {cap.normalize()} 吨"
                details = {"facility_id": f.id, "facility_code": f.code, "in_store_tonnes": str(t),
                           "capacity_tonnes": str(cap), "percent": str(_percent(t, cap))}  # fmt: skip
                made = finding_raise(
                    actor=actor, rule=CAPACITY_RULE, site=f.site, key=_capacity_key(f.code, now),
                    severity=Finding.Severity.VIOLATION, message=message, now=now, details=details,
                )  # fmt: skip
                out["raised"] += made is not None
        elif finding is not None:
            out["resolved"] += finding_resolve(
                actor=actor, finding=finding, now=now, reason="贮存量已回落至贮存能力以内"
            )
    for finding in open_by_code.values():  # the facility lost its capacity figure or its storage kind
        out["resolved"] += finding_resolve(actor=actor, finding=finding, now=now, reason="设施不再核定贮存能力")
    return out
