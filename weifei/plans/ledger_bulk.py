"""The bulk write path of the 管理台账: many ledger records (a workbook, a province-year) at once.

Same rules as the one-record services in ``weifei.plans.ledger`` (HJ 1259 6.3 and Annex B;
regulations §13 rules 10, 12–17), applied to every row in memory before anything is written:

- the waste code is in the 名录 in force on the record's date (``catalog.cache``, memoised per
  code and day), a category given with it agrees;
- quantities convert to tonnes with ``ledger.to_tonnes`` (t, kg exactly; L and m3 with a density;
  pieces with the tonnes figure) and stay within its bounds;
- the chain: a 入库 takes from a 产生 batch, an 出库 from an 入库 batch, 自行/委外 from a 产生 or
  出库 batch (``ledger.ALLOWED_SOURCES``), of the same site, not later than the record, never
  more than the batch still has — in file order, starting from what the database says each
  referenced existing batch still has (one aggregate query per chunk, with those rows locked);
- one 产生 record per container (in the file and against the database), label codes of this
  unit, this waste code and this date (rule 17);
- facilities of the site and of the right kind; 委外: receiver type, and for licensed receivers a
  licence valid on the date, held by the receiver and covering the code or its category (rule 15,
  licences loaded once).

Every problem becomes a ``RowError`` (row, field, code, Chinese message). **All or nothing**: one
error and nothing is written. Otherwise the rows are written in one transaction, with the sites'
enterprises (and sites) locked: batch codes allocated like the services (prefix + date + 3-digit
sequence, continuing ``LedgerCounter``; a batch code the row gives is kept when unique, and
counters move past it), label codes allocated from ``LabelCounter``; on PostgreSQL with ``COPY``
(ids taken from the table's sequence beforehand so that rows can point at sources in the same
file), elsewhere with ``bulk_create`` one chain level at a time.

Events: one ``ledger.imported`` event per site and import (count, kinds, first and last batch
code, SHA-256 over the rows as written, file name), not one per row as the services write: a
million events would double the cost of the import and the event log, while the per-site digest
still lets an auditor prove which rows the import wrote (docs/ledger-import.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import DecimalField, Max, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from weifei.catalog import cache
from weifei.catalog.models import DisposalMethod
from weifei.catalog.validation import ValidCode, validate_waste_code
from weifei.core.actors import Actor
from weifei.core.bulk_events import EventEntry, events_record_bulk
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.permissions import require_enterprise_member
from weifei.registry.models import Enterprise, Facility, Licence, Site
from weifei.registry.rules import licence_status_on

from . import ledger
from .labels import LABEL_CODE_LENGTH, SEQ_LENGTH, SEQ_MAX, label_code_build, label_code_parse
from .models import LabelCounter, LedgerCounter, LedgerEntry, PlanLine

Kind = LedgerEntry.Kind
# Enum lookups are slow on a hot path of a million rows: plain sets and dicts instead.
# 接收 records come only from transfer manifests (weifei.manifests.ledger_link.receive), never from a file.
KINDS = frozenset(Kind.values) - {str(Kind.RECEIVED)}
KIND_LABELS: dict[str, str] = dict(Kind.choices)
RECEIVER_TYPES = frozenset(PlanLine.ReceiverType.values)
LICENSED, EXEMPT, ABROAD = (str(v) for v in (PlanLine.ReceiverType.LICENSED, PlanLine.ReceiverType.EXEMPT,
                                             PlanLine.ReceiverType.ABROAD))  # fmt: skip
GENERATED, STORED_IN, STORED_OUT, SELF_TREATED, SENT_OUT, RECEIVED = (
    str(k) for k in (Kind.GENERATED, Kind.STORED_IN, Kind.STORED_OUT, Kind.SELF_TREATED, Kind.SENT_OUT, Kind.RECEIVED)
)
PREFIXES: dict[str, str] = {str(k): v for k, v in ledger.PREFIXES.items()}
ALLOWED_SOURCES = {str(k): frozenset(str(x) for x in v) for k, v in ledger.ALLOWED_SOURCES.items()}
CHUNK = 20_000  # keys per IN (...) lookup
MAX_ERRORS = 100_000  # stop collecting after this many (the file is refused anyway)
BATCH_CODE_RE = re.compile(r"^(?P<prefix>[A-Z]{4,6})(?P<day>\d{8})(?P<seq>\d{3})$")
STORAGE = (str(Facility.Kind.STORAGE),)
TREATMENT = (str(Facility.Kind.UTILIZATION), str(Facility.Kind.DISPOSAL))
FACILITY_KINDS: dict[str, tuple[str, ...]] = {
    str(Kind.GENERATED): (str(Facility.Kind.GENERATING),),
    str(Kind.STORED_IN): STORAGE,
    str(Kind.STORED_OUT): STORAGE,
    str(Kind.SELF_TREATED): TREATMENT,
    str(Kind.SENT_OUT): (),
}


@dataclass(slots=True)
class LedgerRow:
    """One parsed ledger record. Sources are named by batch code (earlier in the file, or already
    in the database for the same site); facilities by 设施编码; receivers by licence number."""

    row: int
    kind: str
    occurred_at: dt.datetime | None
    quantity: Decimal | None
    site_id: int | None = None
    unit: str = LedgerEntry.Unit.TONNE
    density: Decimal | None = None
    tonnes: Decimal | None = None
    waste_code: str = ""
    category: str = ""
    batch_code: str = ""
    source_batch: str = ""
    container_code: str = ""
    container_type: str = ""
    container_count: int = 1
    container_litres: Decimal | None = None
    label: bool = False
    common_name: str = ""
    destination: str = ""
    facility_code: str = ""
    handler: str = ""
    method_code: str = ""
    finished_at: dt.datetime | None = None
    receiver_type: str = ""
    receiver_name: str = ""  # the receiver's name or credit code (optional for licensed receivers)
    licence_number: str = ""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}

    def __str__(self) -> str:
        return f"第 {self.row} 行 {self.field}：{self.message} ({self.code})"


@dataclass
class BulkResult:
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    by_site: dict[int, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return bool(self.errors)


class _Batch:
    """A batch a row may take from: in the file (id set at write time) or in the database."""

    __slots__ = (
        "batch_code",
        "category",
        "common_name",
        "container_code",
        "container_count",
        "container_litres",
        "container_type",
        "id",
        "kind",
        "occurred_at",
        "remaining",
        "reversal",
        "row",
        "site_id",
        "waste_code",
    )  # fmt: skip

    def __init__(
        self, site_id: int, kind: str, batch_code: str, occurred_at: dt.datetime, waste_code: str, category: str,
        remaining: Decimal, container_code: str | None, container_type: str, container_count: int,
        container_litres: Decimal | None, common_name: str,
    ) -> None:  # fmt: skip
        self.id: int | None = None
        self.reversal = False
        self.row = 0
        self.site_id, self.kind, self.batch_code, self.occurred_at = site_id, kind, batch_code, occurred_at
        self.waste_code, self.category, self.remaining = waste_code, category, remaining
        self.container_code, self.container_type, self.container_count = container_code, container_type, container_count
        self.container_litres, self.common_name = container_litres, common_name


class _Planned:
    """A row that passed every check: what will be written."""

    __slots__ = (
        "batch",
        "day",
        "facility_id",
        "factor",
        "label_key",
        "licence_number",
        "prefix",
        "receiver_id",
        "receiver_name",
        "row",
        "site",
        "source",
        "tonnes",
    )  # fmt: skip

    def __init__(self, row: LedgerRow, site: Site, batch: _Batch, source: _Batch | None) -> None:
        self.row, self.site, self.batch, self.source = row, site, batch, source
        self.facility_id: int | None = None
        self.receiver_id: int | None = None
        self.receiver_name = ""
        self.licence_number = ""
        self.prefix = ""
        self.label_key: tuple[int, str, dt.date] | None = None
        self.tonnes = Decimal(0)
        self.factor: Decimal | None = None
        self.day = dt.date.min


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class _Run:
    def __init__(self, actor: Actor, rows: Sequence[LedgerRow], file_name: str) -> None:
        self.actor = actor
        self.rows = rows
        self.file_name = file_name
        self.now = timezone.now()
        self.tz = timezone.get_current_timezone()
        self.today = timezone.localdate()
        self.errors: list[RowError] = []
        self.sites: dict[int, Site] = {}
        self.facilities: dict[str, Facility] = {}
        self.methods: dict[str, DisposalMethod] = {}
        self.licences: dict[str, Licence] = {}
        self.receivers: dict[int, Enterprise] = {}
        self.db_batches: dict[tuple[int, str], _Batch] = {}
        self.db_codes: set[tuple[int, str]] = set()
        self.db_containers: set[tuple[int | None, str]] = set()
        self.file_codes: dict[tuple[int, str], int] = {}  # given batch codes → row
        self.codes: dict[tuple[str, str, Any], ValidCode | bool] = {}
        self.versions: dict[dt.date, Any] = {}
        self.days: dict[dt.datetime, dt.date] = {}
        self.tonnes_of: dict[tuple[Any, ...], tuple[Decimal, Decimal | None]] = {}
        self.planned: list[_Planned] = []

    # ------------------------------------------------------------------ helpers

    def error(self, row: LedgerRow | int, field_name: str, code: str, message: str) -> None:
        number = row if isinstance(row, int) else row.row
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(number, field_name, code, message))

    def app_error(self, row: LedgerRow, exc: ApplicationError) -> None:
        self.error(row, exc.field or "", exc.code or "invalid", exc.message)

    def waste_code(self, code: str, category: str | None, day: dt.date) -> ValidCode:
        """``validate_waste_code``, remembered per code, category and catalogue version (the answer
        depends on the date only through the version in force); errors are raised with the date."""
        version = self.versions.get(day, self)
        if version is self:
            found_version = cache.version_on(day)
            version = self.versions[day] = found_version.pk if found_version is not None else None
        key = (code, category or "", version)
        found = self.codes.get(key)
        if found is None:
            try:
                found = validate_waste_code(code, on=day, category=category or None)
            except ApplicationError:
                found = False
            self.codes[key] = found
        if found is False:
            validate_waste_code(code, on=day, category=category or None)  # raises, naming the date
        assert isinstance(found, ValidCode)
        return found

    # ------------------------------------------------------------------ loading and locking

    def load(self) -> None:
        site_ids = sorted({r.site_id for r in self.rows if r.site_id is not None})
        sites = {s.id: s for s in Site.objects.select_related("enterprise").filter(id__in=site_ids)}
        for site in sites.values():
            require_enterprise_member(self.actor, site.enterprise_id, action="导入危险废物管理台账")
        enterprise_ids = sorted({s.enterprise_id for s in sites.values()})
        # Lock the units and sites written to (in id order, so two imports never wait in a cycle):
        # the container check and the counters below hold until commit.
        list(Enterprise.objects.select_for_update().filter(id__in=enterprise_ids).order_by("id").values_list("id"))
        list(Site.objects.select_for_update().filter(id__in=site_ids).order_by("id").values_list("id"))
        self.sites = sites
        self.facilities = {f.code: f for f in Facility.objects.filter(site_id__in=site_ids)}
        self.methods = {m.code: m for m in DisposalMethod.objects.all()}
        numbers = sorted({r.licence_number.strip() for r in self.rows if r.kind == Kind.SENT_OUT and r.licence_number})
        for chunk in _chunks(numbers):
            for lic in Licence.objects.filter(number__in=chunk).select_related("holder").prefetch_related("scopes"):
                self.licences[lic.number] = lic
        self.coverage: dict[str, tuple[frozenset[str], frozenset[str]]] = {
            number: (
                frozenset(s.waste_code for s in lic.scopes.all() if s.waste_code),
                frozenset(s.category for s in lic.scopes.all() if not s.waste_code),
            )
            for number, lic in self.licences.items()
        }
        self.licence_status: dict[tuple[str, dt.date], str] = {}
        self._load_batches()

    def _load_batches(self) -> None:
        """Existing batches the rows refer to (locked, with what they still have), batch codes the
        rows give that exist already, and containers already recorded."""
        in_file = {(r.site_id, r.batch_code) for r in self.rows if r.batch_code}
        wanted = sorted(
            {(r.site_id, r.source_batch) for r in self.rows if r.source_batch and r.site_id in self.sites} - in_file,
            key=str,
        )
        by_site: dict[int, list[str]] = defaultdict(list)
        for site_id, code in wanted:
            assert site_id is not None
            by_site[site_id].append(code)
        taken = (
            LedgerEntry.objects.filter(source_id=OuterRef("pk"))
            .order_by()
            .values("source_id")
            .annotate(t=Sum("quantity_tonnes"))
            .values("t")
        )
        reversed_ = (
            LedgerEntry.objects.filter(reversal_of_id=OuterRef("pk"))
            .order_by()
            .values("reversal_of_id")
            .annotate(t=Sum("quantity_tonnes"))
            .values("t")
        )
        zero = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=6))
        for site_id, codes in by_site.items():
            for chunk in _chunks(codes):
                ids = list(
                    LedgerEntry.objects.select_for_update()
                    .filter(site_id=site_id, batch_code__in=chunk)
                    .order_by("id")
                    .values_list("id", flat=True)
                )
                rows = LedgerEntry.objects.filter(id__in=ids).annotate(
                    taken=Coalesce(Subquery(taken), zero), own=Coalesce(Subquery(reversed_), zero)
                )
                for e in rows:
                    batch = _Batch(
                        site_id=e.site_id, kind=e.kind, batch_code=e.batch_code, occurred_at=e.occurred_at,
                        waste_code=e.waste_code, category=e.category,
                        remaining=ledger.remaining(e.quantity_tonnes + e.own, [e.taken]),
                        container_code=e.container_code, container_type=e.container_type,
                        container_count=e.container_count, container_litres=e.container_litres,
                        common_name=e.common_name,
                    )  # fmt: skip
                    batch.id = e.id
                    batch.reversal = e.reversal_of_id is not None
                    self.db_batches[(e.site_id, e.batch_code)] = batch
        # Codes and containers across all sites, a chunk of codes per query (pairs filtered here).
        site_ids = sorted(self.sites)
        given = sorted({r.batch_code for r in self.rows if r.batch_code})
        pairs = {(r.site_id, r.batch_code) for r in self.rows if r.batch_code}
        for chunk in _chunks(given):
            found = LedgerEntry.objects.filter(site_id__in=site_ids, batch_code__in=chunk).values_list(
                "site_id", "batch_code"
            )
            self.db_codes.update(pair for pair in found if pair in pairs)
        wanted_containers: set[tuple[int | None, str]] = {
            (r.site_id, r.container_code.strip().upper())
            for r in self.rows
            if r.kind == GENERATED and r.container_code and r.site_id in self.sites
        }
        for chunk in _chunks(sorted({c for _, c in wanted_containers})):
            recorded = (
                LedgerEntry.objects.filter(
                    site_id__in=site_ids, kind=GENERATED, container_code__in=chunk, reversal_of__isnull=True
                )
                .exclude(reversed_by__isnull=False)
                .values_list("site_id", "container_code")
            )
            self.db_containers.update((s, c) for s, c in recorded if c and (s, c) in wanted_containers)

    # ------------------------------------------------------------------ checking

    def check(self, failed: dict[tuple[int, str], int]) -> None:
        in_file: dict[tuple[int, str], _Batch] = {}
        later = {(r.site_id, r.batch_code): r.row for r in self.rows if r.batch_code}
        containers: dict[tuple[int, str], int] = {}
        for row in self.rows:
            before = len(self.errors)
            planned = self._check_row(row, in_file, failed, later, containers)
            if planned is not None and len(self.errors) == before:
                self.planned.append(planned)
                if planned.source is not None:
                    planned.source.remaining -= planned.tonnes  # in file order
                if row.batch_code:
                    assert row.site_id is not None
                    in_file[(row.site_id, row.batch_code)] = planned.batch
            elif row.batch_code and row.site_id is not None:
                failed[(row.site_id, row.batch_code)] = row.row

    def _check_row(
        self,
        row: LedgerRow,
        in_file: dict[tuple[int, str], _Batch],
        failed: dict[tuple[int, str], int],
        later: dict[tuple[int | None, str], int],
        containers: dict[tuple[int, str], int],
    ) -> _Planned | None:
        if row.kind not in KINDS:
            what = f"记录类型 {row.kind!r} 不存在"
            if row.kind == RECEIVED:
                what = "接收记录由转移联单接受时自动生成，不能导入"
            self.error(row, "kind", "kind_unknown", f"{what}：应为产生、入库、出库、自行利用/处置或委外")
            return None
        site = self.sites.get(row.site_id) if row.site_id is not None else None
        if site is None:
            self.error(row, "site", "site_missing", "场所不存在")
            return None
        at = row.occurred_at
        if at is None or timezone.is_naive(at):
            self.error(row, "occurred_at", "time_naive", "请填写时间（带时区）")
            return None
        if at > self.now:
            self.error(row, "occurred_at", "time_in_future", "时间不能晚于现在：台账记录已发生的事实")
        day = self.days.get(at)
        if day is None:
            day = self.days[at] = at.astimezone(self.tz).date()
        if row.batch_code:
            key = (site.id, row.batch_code)
            if len(row.batch_code) > 24:
                self.error(row, "batch_code", "batch_code_too_long", "批次编码不能超过 24 个字符")
            elif key in self.db_codes:
                self.error(row, "batch_code", "batch_code_taken", f"批次编码 {row.batch_code} 在本场所已存在")
            elif key in self.file_codes:
                self.error(
                    row, "batch_code", "batch_code_duplicate",
                    f"批次编码 {row.batch_code} 与第 {self.file_codes[key]} 行重复",
                )  # fmt: skip
            else:
                self.file_codes[key] = row.row
        converted = self.tonnes_of.get((row.quantity, row.unit, row.density, row.tonnes))
        if converted is None:
            try:
                converted = ledger.to_tonnes(row.quantity, row.unit, density=row.density, tonnes=row.tonnes)  # type: ignore[arg-type]
            except ApplicationError as exc:
                self.app_error(row, exc)
                converted = (Decimal(0), None)
            else:  # rows of a chain repeat their figures: convert each once
                if len(self.tonnes_of) > 100_000:
                    self.tonnes_of.clear()
                self.tonnes_of[(row.quantity, row.unit, row.density, row.tonnes)] = converted
        tonnes, factor = converted
        if row.kind == GENERATED:
            planned = self._check_generated(row, site, day, containers)
        else:
            planned = self._check_downstream(row, site, day, tonnes, in_file, failed, later)
        if planned is None:
            return None
        planned.tonnes, planned.factor, planned.day = tonnes, factor, day
        planned.batch.remaining = tonnes
        planned.facility_id = self._facility(row, site)
        return planned

    def _facility(self, row: LedgerRow, site: Site) -> int | None:
        code = row.facility_code.strip().upper()
        if not code:
            return None
        facility = self.facilities.get(code)
        if facility is None or facility.site_id != site.id:
            self.error(row, "facility", "facility_not_on_site", f"设施 {code} 不属于本场所")
            return None
        if facility.kind not in FACILITY_KINDS[row.kind]:
            self.error(
                row, "facility", "facility_wrong_kind",
                f"设施 {facility.code} 的类型（{facility.get_kind_display()}）不适用于此记录",
            )  # fmt: skip
            return None
        return facility.id

    def _check_generated(
        self, row: LedgerRow, site: Site, day: dt.date, containers: dict[tuple[int, str], int]
    ) -> _Planned | None:
        try:
            valid = self.waste_code(row.waste_code, row.category or None, day)
        except ApplicationError as exc:
            self.app_error(row, exc)
            return None
        if row.container_litres is not None and not (Decimal(0) < row.container_litres <= Decimal(100_000)):
            self.error(row, "container_litres", "container_litres_range", "容器容积应大于 0 且不超过 100000 升")
        if not 1 <= row.container_count <= 10_000:
            self.error(row, "container_count", "container_count_range", "容器/包装数量应为 1–10000")
        container = row.container_code.strip().upper() or None
        planned_key = None
        if container is not None and len(container) == LABEL_CODE_LENGTH:
            try:
                ledger._label_matches(container, site, valid.code, day)
            except ApplicationError as exc:
                self.app_error(row, exc)
        elif container is None and row.label:
            planned_key = (site.enterprise_id, valid.code, day)
        if container is not None:
            key = (site.id, container)
            if key in self.db_containers:
                self.error(
                    row, "container_code", "container_taken",
                    f"容器/包装编码 {container} 已有产生记录：每个容器一条记录（HJ 1259 6.2）",
                )  # fmt: skip
            elif key in containers:
                self.error(
                    row, "container_code", "container_taken",
                    f"容器/包装编码 {container} 与第 {containers[key]} 行重复：每个容器一条记录（HJ 1259 6.2）",
                )  # fmt: skip
            else:
                containers[key] = row.row
        batch = _Batch(
            site_id=site.id, kind=GENERATED, batch_code=row.batch_code, occurred_at=cast(dt.datetime, row.occurred_at),
            waste_code=valid.code, category=valid.category, remaining=Decimal(0), container_code=container,
            container_type=row.container_type.strip()[:40], container_count=row.container_count,
            container_litres=row.container_litres, common_name=row.common_name.strip()[:100],
        )  # fmt: skip
        planned = _Planned(row, site, batch, None)
        planned.prefix = ledger.PREFIXES[Kind.GENERATED]
        planned.label_key = planned_key
        return planned

    def _check_downstream(
        self,
        row: LedgerRow,
        site: Site,
        day: dt.date,
        tonnes: Decimal,
        in_file: dict[tuple[int, str], _Batch],
        failed: dict[tuple[int, str], int],
        later: dict[tuple[int | None, str], int],
    ) -> _Planned | None:
        label = KIND_LABELS[row.kind]
        code = row.source_batch.strip()
        if not code:
            self.error(row, "source", "source_required", f"{label}记录须填写来源批次编码（§13 第14条）")
            return None
        key = (site.id, code)
        src = in_file.get(key) or self.db_batches.get(key)
        if src is None:
            if key in failed:
                self.error(
                    row, "source", "reference_invalid", f"来源批次 {code} 在第 {failed[key]} 行有错误，本行未导入"
                )
            elif (site.id, code) in later:
                self.error(
                    row, "source", "source_later_in_file",
                    f"来源批次 {code} 在第 {later[(site.id, code)]} 行，应排在引用它的记录之前",
                )  # fmt: skip
            else:
                self.error(row, "source", "source_missing", f"{label}记录的来源批次 {code} 不存在或不属于本场所")
            return None
        allowed = ALLOWED_SOURCES[row.kind]
        if src.kind not in allowed or src.reversal:
            names = "或".join(KIND_LABELS[k] for k in ledger.ALLOWED_SOURCES[row.kind])
            self.error(
                row, "source", "source_wrong_kind",
                f"{label}记录应引用{names}批次，{src.batch_code} 是{KIND_LABELS[src.kind]}记录（§13 第14条）",
            )  # fmt: skip
            return None
        if row.occurred_at is not None and row.occurred_at < src.occurred_at:
            self.error(row, "occurred_at", "time_before_source", f"时间早于来源批次 {src.batch_code} 的时间")
        try:
            self.waste_code(src.waste_code, None, day)
        except ApplicationError as exc:
            self.app_error(row, exc)
        given = row.waste_code.strip()
        if given and given != src.waste_code:
            self.error(
                row, "waste_code", "waste_code_not_source",
                f"废物代码 {given} 与来源批次 {src.batch_code} 的 {src.waste_code} 不一致",
            )  # fmt: skip
        container = row.container_code.strip().upper()
        if container and container != (src.container_code or ""):
            self.error(
                row, "container_code", "container_not_source",
                f"容器/包装编码 {container} 与来源批次 {src.batch_code} 的不一致（沿用来源批次的容器）",
            )  # fmt: skip
        if tonnes > src.remaining:
            self.error(
                row, "quantity", "quantity_exceeds_source",
                f"数量 {tonnes} 吨超过来源批次 {src.batch_code} 的剩余量 {src.remaining} 吨",
            )  # fmt: skip
        batch = _Batch(
            site_id=site.id, kind=row.kind, batch_code=row.batch_code, occurred_at=cast(dt.datetime, row.occurred_at),
            waste_code=src.waste_code, category=src.category, remaining=Decimal(0),
            container_code=src.container_code, container_type=src.container_type,
            container_count=src.container_count, container_litres=src.container_litres,
            common_name=src.common_name,
        )  # fmt: skip
        planned = _Planned(row, site, batch, src)
        if row.kind == STORED_IN or row.kind == STORED_OUT:
            planned.prefix = PREFIXES[row.kind]
            return planned
        method = self._method(row)
        if method is None:
            return None
        if row.kind == SELF_TREATED:
            self._check_finished(row)
            planned.prefix = ledger.SELF_PREFIXES[method.kind]
            return planned
        self._check_receiver(row, planned, src, day)
        prefixes = ledger.EXPORT_PREFIXES if row.receiver_type == ABROAD else ledger.SENT_PREFIXES
        planned.prefix = prefixes[method.kind]
        return planned

    def _method(self, row: LedgerRow) -> DisposalMethod | None:
        code = row.method_code.strip()
        if not code:
            self.error(row, "method_code", "method_required", "请填写利用/处置方式代码")
            return None
        method = self.methods.get(code)
        if method is None:
            self.error(row, "method_code", "method_unknown", f"利用/处置方式代码 {code} 不存在")
        return method

    def _check_finished(self, row: LedgerRow) -> None:
        finished = row.finished_at
        if finished is None:
            return
        if timezone.is_naive(finished):
            self.error(row, "finished_at", "time_naive", "完毕时间须带时区")
        elif row.occurred_at is not None and finished < row.occurred_at:
            self.error(row, "finished_at", "finished_before_start", "完毕时间不能早于记录时间")
        elif finished > self.now:
            self.error(row, "finished_at", "time_in_future", "完毕时间不能晚于现在")

    def _check_receiver(self, row: LedgerRow, planned: _Planned, src: _Batch, day: dt.date) -> None:
        """Rule 15, as ``ledger._check_receiver`` with the licences loaded once."""
        number = row.licence_number.strip()
        name = row.receiver_name.strip()
        kind = row.receiver_type
        if kind not in RECEIVER_TYPES:
            self.error(
                row, "receiver_type", "receiver_type_required",
                "请选择接收单位类型：经营许可证持有单位、豁免管理单位或境外单位（§13 第15条）",
            )  # fmt: skip
            return
        if kind == LICENSED:
            if not number:
                self.error(
                    row, "licence_number", "licence_required", "委外给持证单位须填写经营许可证编号（§13 第15条）"
                )
                return
            licence = self.licences.get(number)
            holder = licence.holder if licence is not None else None
            if licence is None or holder is None or (name and name not in (holder.name, holder.credit_code)):
                self.error(
                    row, "licence_number", "licence_not_receivers",
                    f"许可证 {number} 不是接收单位 {name or '（未填写）'} 的许可证",
                )  # fmt: skip
                return
            status = self.licence_status.get((number, day))
            if status is None:
                status = self.licence_status[(number, day)] = licence_status_on(
                    stored_status=licence.status, valid_from=licence.valid_from, valid_to=licence.valid_to, on=day
                )
            if status != "valid":
                self.error(row, "licence_number", "licence_not_valid", f"许可证 {number} 在 {day} 不在有效状态")
                return
            codes, categories = self.coverage[number]
            if src.waste_code not in codes and src.category not in categories:
                self.error(
                    row, "licence_number", "licence_not_covering",
                    f"许可证 {number} 的经营范围不含 {src.waste_code}（{src.category}）",
                )  # fmt: skip
                return
            planned.receiver_id, planned.receiver_name, planned.licence_number = holder.id, holder.name, number
            return
        if not name:
            self.error(row, "receiver_name", "receiver_required", "请填写接收单位名称")
            return
        if not number:
            what = "豁免条目" if kind == EXEMPT else "出口核准通知单编号"
            self.error(row, "licence_number", "licence_required", f"请填写{what}（§13 第15条）")
            return
        planned.receiver_name, planned.licence_number = name[:200], number[:60]

    # ------------------------------------------------------------------ numbering

    def number(self) -> None:
        """Batch codes (continuing ``LedgerCounter``, past the codes rows give) and label codes."""
        need: dict[tuple[int, str, dt.date], int] = {}
        given_max: dict[tuple[int, str, dt.date], int] = {}
        for p in self.planned:
            day = p.day
            if p.row.batch_code:
                match = BATCH_CODE_RE.match(p.row.batch_code) if p.row.batch_code[:2] == "HW" else None
                if match:
                    try:
                        on = dt.datetime.strptime(match["day"], "%Y%m%d").date()
                    except ValueError:
                        continue
                    k = (p.site.id, match["prefix"], on)
                    given_max[k] = max(given_max.get(k, 0), int(match["seq"]))
            else:
                need[(p.site.id, p.prefix, day)] = 1
        keys = sorted(set(need) | set(given_max))
        counters = self._counters(LedgerCounter, "site_id", "prefix", keys)
        taken = set(self.file_codes)
        self.ledger_counters: dict[tuple[Any, ...], list[int]] = {}
        for k in keys:
            last = counters.get(k, 0)
            self.ledger_counters[k] = [last, last]  # (stored, new)
        for p in self.planned:
            if p.row.batch_code:
                continue
            day = p.day
            slot = self.ledger_counters[(p.site.id, p.prefix, day)]
            while True:
                slot[1] += 1
                if slot[1] > 999:
                    self.error(p.row, "batch_code", "batch_seq_full", f"{p.prefix}{day:%Y%m%d} 当日批次已满 999 个")
                    break
                code = f"{p.prefix}{day:%Y%m%d}{slot[1]:03d}"
                if (p.site.id, code) not in taken and (p.site.id, code) not in self.db_codes:
                    p.batch.batch_code = code
                    break
        for k, seq in given_max.items():
            slot = self.ledger_counters[k]
            slot[1] = max(slot[1], min(seq, 999))
        self._number_labels()

    def _number_labels(self) -> None:
        wanted = sorted({p.label_key for p in self.planned if p.label_key is not None})
        given: dict[tuple[int, str, dt.date], int] = {}
        for p in self.planned:
            code = p.batch.container_code
            if p.row.kind == GENERATED and code and len(code) == LABEL_CODE_LENGTH:
                parsed = label_code_parse(code, field="container_code")
                k = (p.site.enterprise_id, parsed.waste_code, parsed.date)
                given[k] = max(given.get(k, 0), parsed.seq)
        keys = sorted(set(wanted) | set(given))
        stored = self._counters(LabelCounter, "enterprise_id", "waste_code", keys)
        self.label_counters: dict[tuple[Any, ...], list[int]] = {k: [stored.get(k, 0)] * 2 for k in keys}
        for k, seq in given.items():
            self.label_counters[k][1] = max(self.label_counters[k][1], seq)
        built: dict[tuple[int, str, dt.date], str] = {}
        for p in self.planned:
            if p.label_key is None:
                continue
            slot = self.label_counters[p.label_key]
            if slot[1] >= SEQ_MAX:
                _, waste_code, day = p.label_key
                self.error(
                    p.row, "container_code", "label_seq_full",
                    f"{day} 废物代码 {waste_code} 的标签顺序码已用完（每日最多 {SEQ_MAX} 个）",
                )  # fmt: skip
                continue
            slot[1] += 1
            first = built.get(p.label_key)
            if first is None:  # every segment checked once per unit, code and day
                day = p.label_key[2]
                first = built[p.label_key] = label_code_build(
                    credit_code=p.site.enterprise.credit_code, waste_code=p.batch.waste_code, on=day, seq=1, today=day
                )
            # Only the last segment (the sequence) differs between labels of the same key.
            p.batch.container_code = f"{first[:-SEQ_LENGTH]}{slot[1]:0{SEQ_LENGTH}d}"

    def _counters(self, model: Any, owner: str, name: str, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
        """Stored counters for the keys, locked until commit."""
        out: dict[tuple[Any, ...], int] = {}
        if not keys:
            return out
        wanted = set(keys)
        owners = sorted({k[0] for k in keys})
        days = [k[2] for k in keys]
        for chunk in _chunks(owners, 500):
            rows = (
                model.objects.select_for_update()
                .filter(**{f"{owner}__in": chunk}, day__gte=min(days), day__lte=max(days))
                .order_by("id")
                .values_list(owner, name, "day", "last_seq")
            )
            for o, n, d, seq in rows:
                if (o, n, d) in wanted:
                    out[(o, n, d)] = seq
        return out

    # ------------------------------------------------------------------ writing

    def write(self, seconds: dict[str, float]) -> None:
        planned = self.planned
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [LedgerEntry._meta.db_table, len(planned)],
                )
                ids = [r[0] for r in cursor.fetchall()]
            for p, new_id in zip(planned, ids, strict=True):
                p.batch.id = new_id
            seconds["write_ids"] = round(time.perf_counter() - started, 2)
            _copy(LedgerEntry._meta.db_table, ENTRY_COLUMNS, (self._values(p) for p in planned))
            seconds["write_copy"] = round(time.perf_counter() - started, 2)
        else:
            # SQLite (the zero-setup demo database): ids in file order after the current largest, so
            # that ids follow the file as on PostgreSQL; Django declares SQLite's foreign keys
            # DEFERRABLE INITIALLY DEFERRED, so a row may name a source inserted later in the batch.
            # A concurrent writer cannot interleave: SQLite lets one transaction write at a time.
            top = LedgerEntry.objects.aggregate(m=Max("id"))["m"] or 0
            for offset, p in enumerate(planned, start=1):
                p.batch.id = top + offset
            objs = [LedgerEntry(**dict(zip(ENTRY_COLUMNS, self._values(p), strict=True))) for p in planned]
            LedgerEntry.objects.bulk_create(objs, batch_size=1000)
        self._write_counters(LedgerCounter, "site_id", "prefix", self.ledger_counters)
        self._write_counters(LabelCounter, "enterprise_id", "waste_code", self.label_counters)

    def _values(self, p: _Planned) -> tuple[Any, ...]:
        b, r = p.batch, p.row
        return (
            b.id, p.site.id, r.kind, b.batch_code, r.occurred_at, b.waste_code, b.category, p.tonnes,
            r.quantity, r.unit, p.factor, b.container_code, b.container_type, b.container_count,
            b.container_litres, b.common_name, r.destination.strip()[:100] if r.kind in DESTINATION_KINDS else "",
            r.finished_at if r.kind == SELF_TREATED else None, p.facility_id,
            p.source.id if p.source is not None else None, r.handler.strip()[:60],
            r.method_code.strip() if r.kind == SELF_TREATED or r.kind == SENT_OUT else "",
            r.receiver_type if r.kind == SENT_OUT else "", p.receiver_id, p.receiver_name, p.licence_number,
            None, "", self.now,
        )  # fmt: skip

    def _write_counters(self, model: Any, owner: str, name: str, slots: dict[tuple[Any, ...], list[int]]) -> None:
        created = [(k, new) for k, (old, new) in slots.items() if old == 0 and new > 0]
        moved = [(k, new) for k, (old, new) in slots.items() if old != 0 and new > old]
        table = model._meta.db_table
        if connection.vendor == "postgresql":
            _copy(table, (owner, name, "day", "last_seq"), ((k[0], k[1], k[2], seq) for k, seq in created))
            with connection.cursor() as cursor:
                for chunk in _chunks(moved, 1000):
                    values = ", ".join(["(%s, %s, %s::date, %s)"] * len(chunk))
                    params: list[Any] = []
                    for k, seq in chunk:
                        params += [k[0], k[1], k[2], seq]
                    cursor.execute(
                        f"UPDATE {table} AS c SET last_seq = v.seq FROM (VALUES {values}) AS v(o, n, d, seq) "
                        f"WHERE c.{owner} = v.o AND c.{name} = v.n AND c.day = v.d",
                        params,
                    )
        else:
            model.objects.bulk_create(
                [model(**{owner: k[0], name: k[1], "day": k[2], "last_seq": seq}) for k, seq in created],
                batch_size=1000,
            )
            for k, seq in moved:
                model.objects.filter(**{owner: k[0], name: k[1], "day": k[2]}).update(last_seq=seq)

    def events(self, result: BulkResult) -> None:
        lines: dict[int, list[str]] = defaultdict(list)
        summary: dict[int, dict[str, Any]] = {}
        times: dict[dt.datetime | None, str] = {None: ""}  # rows of a chain share their time
        for p in self.planned:
            b = p.batch
            site_id = p.site.id
            s = summary.get(site_id)
            if s is None:
                s = summary[site_id] = {"count": 0, "kinds": Counter(), "first_batch_code": b.batch_code}
            s["count"] += 1
            s["kinds"][p.row.kind] += 1
            s["last_batch_code"] = b.batch_code
            at = times.get(p.row.occurred_at)
            if at is None:
                at = times[p.row.occurred_at] = p.row.occurred_at.isoformat()  # type: ignore[union-attr]
            src = p.source.batch_code if p.source is not None else ""
            lines[site_id].append(
                f"{b.batch_code}\t{p.row.kind}\t{at}\t{b.waste_code}\t{p.tonnes}\t{src}\t{b.container_code or ''}\n"
            )
        entries = []
        for site_id, s in summary.items():
            site = self.sites[site_id]
            after = {
                "count": s["count"],
                "kinds": dict(s["kinds"]),
                "first_batch_code": s["first_batch_code"],
                "last_batch_code": s["last_batch_code"],
                # One line per row as written (docs/ledger-import.md): batch code, kind, time,
                # waste code, tonnes, source batch code, container code, tab-separated.
                "sha256": hashlib.sha256("".join(lines[site_id]).encode()).hexdigest(),
                "file_name": self.file_name[:200],
            }
            result.by_site[site_id] = after
            entries.append(
                EventEntry(
                    subject=site, actor=self.actor, kind="ledger.imported", after=after, organisation=site.enterprise_id
                )
            )
        events_record_bulk(entries)


DESTINATION_KINDS = frozenset((GENERATED, STORED_OUT))
ENTRY_COLUMNS = (
    "id", "site_id", "kind", "batch_code", "occurred_at", "waste_code", "category", "quantity_tonnes",
    "entered_quantity", "entered_unit", "conversion_factor", "container_code", "container_type", "container_count",
    "container_litres", "common_name", "destination", "finished_at", "facility_id", "source_id", "handler",
    "method_code", "receiver_type", "receiver_id", "receiver_name", "licence_number", "reversal_of_id", "reason",
    "created_at",
)  # fmt: skip


def _copy(table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """PostgreSQL ``COPY ... FROM STDIN (FORMAT BINARY)`` through psycopg 3 (the connection Django
    holds); the column types come from the catalogue, so the binary encoding always matches."""
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0", [table]
        )
        oids = dict(cursor.fetchall())
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([oids[name] for name in columns])
            for row in rows:
                copy.write_row(row)


def ledger_bulk_import(
    *,
    actor: Actor,
    rows: Sequence[LedgerRow],
    file_name: str = "",
    dry_run: bool = False,
    failed: dict[tuple[int, str], int] | None = None,
) -> BulkResult:
    """Check every row; unless one has an error, write them all (one transaction) and record one
    ``ledger.imported`` event per site. Returns the count, or the row errors (nothing written).
    ``failed`` names (site, batch code) → row of records the caller could not read: rows taking
    from them get ``reference_invalid``.

    The actor must be a writing member (admin, member) of each site's enterprise, or the system
    (``PermissionDenied`` otherwise, before any row is looked at)."""
    if actor.read_only or actor.is_public:
        raise PermissionDenied(f"当前身份（{actor.label or actor.kind}）不能导入台账")
    result = BulkResult(dry_run=dry_run)
    if not rows:
        return result
    run = _Run(actor, rows, file_name)
    try:
        with transaction.atomic():
            started = time.perf_counter()
            run.load()
            run.check(dict(failed or {}))
            if not run.errors:
                run.number()
            result.seconds["validate"] = round(time.perf_counter() - started, 2)
            if run.errors:
                result.errors = sorted(run.errors, key=lambda e: e.row)
                transaction.set_rollback(True)
                return result
            started = time.perf_counter()
            run.write(result.seconds)
            result.seconds["write"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            run.events(result)
            result.seconds["events"] = round(time.perf_counter() - started, 2)
            result.imported = len(run.planned)
            if dry_run:
                transaction.set_rollback(True)
            started = time.perf_counter()
        # The commit checks the deferred foreign keys of every row written.
        result.seconds["commit"] = round(time.perf_counter() - started, 2)
    except IntegrityError as exc:  # a concurrent writer took a batch code or a counter meanwhile
        raise ApplicationError(
            f"导入期间有其他用户写入了相同的批次编码，请重新导入（{exc.__class__.__name__}）",
            code="concurrent_write",
            field="file",
        ) from None
    return result
