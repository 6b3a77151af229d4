"""Bulk import of exchange-format records into the registry.

Two phases. **Check**: every record is read, matched to what exists by its natural key and
checked with the registry services' own rules (``enterprise_clean``, ``site_clean`` …, and the
services' permission checks for the acting user), without writing; every problem is collected
with its line, field and rule. **Write**: unless problems were found (and ``partial`` is off),
everything is written in one transaction, in dependency order.

How records are written:

- enterprises, sites and vehicles that are new are inserted in bulk (``bulk_create``) with the
  events the services would have written, chained by ``core.bulk_events``: the same rows,
  the same events, a fraction of the time (the acceptance is 35,000 records in under a minute);
- everything else goes through the services one record at a time: facilities, licences,
  drivers, contracts, enterprise updates, site statuses (these are few; the services number
  facilities, version licences and so on);
- ledger entries through the bulk ledger path (``ledger_bulk``), except 接收 records, which go
  through ``ledger.ledger_receive`` (the manifest acceptance's service) first, for an accepted
  manifest of the record's unit without intake yet (docs/exchange-format.md § 3a);
- a record whose key exists with the same fields changes nothing (no write, no event); a
  changed enterprise is updated through ``enterprise_update``; other changes are refused in
  format v1.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from weifei.catalog.models import Region
from weifei.core.actors import Actor
from weifei.core.bulk_events import EventEntry, events_record_bulk
from weifei.core.errors import ApplicationError, PermissionDenied
from weifei.core.permissions import require_kind, require_regulator_over
from weifei.manifests.models import Manifest
from weifei.plans import ledger
from weifei.plans.ledger_bulk import LedgerRow, ledger_bulk_import
from weifei.plans.models import LedgerEntry
from weifei.registry import rules, selectors
from weifei.registry.models import Contract, Driver, Enterprise, Facility, Licence, Site, Vehicle, Verification
from weifei.registry.services import (
    ROLE_FIELDS,
    VERIFIED_ROLES,
    _enterprise_writer,
    contract_clean,
    contract_create,
    driver_clean,
    driver_create,
    enterprise_clean,
    enterprise_update,
    facility_clean,
    facility_create,
    licence_clean,
    licence_create,
    licence_set_status,
    site_class_refresh,
    site_clean,
    site_set_status,
    site_status_clean,
    vehicle_clean,
)

from .records import FORMAT_VERSION, RECORD_TYPES, Problem, Record, read_fields

IMPORT_REASON = "数据交换导入"
RECEIVED = str(LedgerEntry.Kind.RECEIVED)
MANIFEST_NUMBER = re.compile(r"^\d{14}$")
ACCEPTED = (str(Manifest.Acceptance.FULL), str(Manifest.Acceptance.PARTIAL))
CHUNK = 2000  # keys per IN (...) lookup
BULK = 1000  # rows per INSERT
# Descriptive enterprise fields an import may change (through enterprise_update).
ENTERPRISE_TEXT = (
    "name",
    "legal_representative",
    "address",
    "industry_code",
    "industry_name",
    "contact_name",
    "contact_phone",
    "contact_email",
)


# --------------------------------------------------------------------------------------------
# reading JSON Lines
# --------------------------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} 不是有效的数字")


def read_jsonl(lines: Iterable[bytes | str]) -> tuple[list[Record], list[Problem]]:
    """Records and shape problems of a JSON Lines file (UTF-8, one object per line; blank
    lines are skipped)."""
    records: list[Record] = []
    problems: list[Problem] = []
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(Problem(number, None, "encoding", "不是 UTF-8 编码的文本"))
                continue
        else:
            text = raw
        if number == 1:
            text = text.removeprefix("\ufeff")
        text = text.strip()
        if not text:
            continue
        try:
            obj = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
        except ValueError as exc:
            detail = f"{exc.msg}（第 {exc.colno} 列）" if isinstance(exc, json.JSONDecodeError) else str(exc)
            problems.append(Problem(number, None, "json_invalid", f"不是有效的 JSON：{detail}"))
            continue
        record, found = record_of(obj, line=number)
        problems += found
        if record is not None:
            records.append(record)
    return records, problems


def record_of(
    obj: Any, *, line: int, sheet: str | None = None, columns: dict[str, str] | None = None, excel: bool = False
) -> tuple[Record | None, list[Problem]]:
    """One record from a decoded JSON object (or an Excel row made into one)."""

    def problem(field_name: str | None, code: str, message: str) -> Problem:
        column = columns.get(field_name) if columns is not None and field_name else None
        return Problem(line, field_name, code, message, sheet=sheet, column=column)

    if not isinstance(obj, dict):
        return None, [problem(None, "record_not_object", "每行应为一个 JSON 对象")]
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in RECORD_TYPES:
        known = "、".join(RECORD_TYPES)
        shown = "缺少 type" if kind is None else f"未知的记录类型 {kind!r}"
        return None, [problem("type", "unknown_type", f"{shown}（格式 v{FORMAT_VERSION} 的类型：{known}）")]
    version = obj.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        shown = "缺少 version" if version is None else f"不支持的格式版本 {version!r}"
        return None, [problem("version", "unsupported_version", f"{shown}（本系统读取 version {FORMAT_VERSION}）")]
    rtype = RECORD_TYPES[kind]
    values, errors = read_fields(rtype, obj, excel=excel)
    record = Record(rtype, values, line, sheet=sheet, columns=columns, broken=bool(errors))
    return record, [record.problem(e.field, e.code, e.message) for e in errors]


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    records: int = 0
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False  # written and committed
    dry_run: bool = False
    partial: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # time spent checking and writing

    @property
    def refused(self) -> bool:
        return bool(self.problems) and not self.partial

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            name: {"created": self.created[name], "updated": self.updated[name], "unchanged": self.unchanged[name]}
            for name in RECORD_TYPES
            if self.created[name] or self.updated[name] or self.unchanged[name]
        }

    def summary(self) -> str:
        parts = [
            f"{RECORD_TYPES[name].label} 新建 {c['created']}、更新 {c['updated']}、未变 {c['unchanged']}"
            for name, c in self.counts().items()
        ]
        body = "；".join(parts) or "没有记录"
        if self.refused:
            return f"文件未导入：共 {len(self.problems)} 处错误（整个文件不写入，请改正后重新导入）"
        state = "试运行，未写入" if self.dry_run else ("已写入" if self.applied else "未写入")
        tail = f"；{len(self.problems)} 条记录有错误，未导入" if self.problems else ""
        return f"{self.records} 条记录（{state}）：{body}{tail}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "applied": self.applied,
            "dry_run": self.dry_run,
            "partial": self.partial,
            "refused": self.refused,
            "counts": self.counts(),
            "errors": [p.as_dict() for p in self.problems],
            "summary": self.summary(),
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------------------------
# the importer
# --------------------------------------------------------------------------------------------


_SKIPPED: tuple[bool, Any] = (False, None)  # a check not run because an earlier one failed


class _Refused(Exception):
    """Leaves the write transaction (rolled back) when the file is refused whole."""


@dataclass
class _Op:
    """One planned write: the record, and what it needs."""

    record: Record
    obj: Any = None
    data: dict[str, Any] = field(default_factory=dict)


def _key_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _upper(value: Any) -> str:
    return _key_text(value).upper()


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "空"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


class Importer:
    """One import run. ``run(records, problems)`` checks, then writes unless refused."""

    def __init__(
        self, *, actor: Actor, today: dt.date | None = None, partial: bool = False, dry_run: bool = False
    ) -> None:
        self.actor = actor
        self.today = today or timezone.localdate()
        self.report = ImportReport(dry_run=dry_run, partial=partial)
        self.regions = {r.key: r for r in Region.objects.all()}
        # natural key → the enterprise (existing, or new and valid) / the line whose record failed
        self.enterprises: dict[str, Enterprise] = {}
        self.failed: dict[tuple[str, Any], int] = {}
        self.sites: dict[tuple[str, str], Site] = {}
        self.ops: dict[str, list[_Op]] = defaultdict(list)
        # 接收 records that failed: (site key, batch code) → line (records taking from them fail too)
        self.failed_received: dict[tuple[tuple[str, str], str], int] = {}

    # -- helpers -------------------------------------------------------------------------------

    def _problem(self, record: Record, field_name: str | None, code: str, message: str) -> None:
        self.report.problems.append(record.problem(field_name, code, message))

    def _error(self, record: Record, exc: ApplicationError) -> None:
        self._problem(record, exc.field, exc.code, exc.message)

    def _fail(self, record: Record, key: Any) -> None:
        self.failed.setdefault((record.type.name, key), record.line)

    def _visible_ids(self, ids: Iterable[int]) -> set[int] | None:
        """Enterprise ids (of those given) the actor may see; None: all of them (the system)."""
        if self.actor.kind == "system":
            return None
        wanted = list(set(ids))
        visible: set[int] = set()
        for i in range(0, len(wanted), CHUNK):
            qs = selectors.enterprises_visible(actor=self.actor).filter(id__in=wanted[i : i + CHUNK])
            visible.update(qs.values_list("id", flat=True))
        return visible

    def _visible(self, enterprise: Enterprise) -> bool:
        return self.visible is None or enterprise.pk in self.visible

    def _enterprise_ref(self, record: Record, field_name: str, *, scoped: bool = True) -> Enterprise | None:
        """The enterprise a record names by credit code: from this file or the database."""
        code = _upper(record.values.get(field_name))
        label = record.type.by_name[field_name].label
        if not code:
            self._problem(record, field_name, f"{field_name}_required", f"{label}不能为空")
            return None
        found = self.enterprises.get(code)
        if found is not None:
            return found
        line = self.failed.get(("enterprise", code))
        if line is not None:
            self._problem(
                record, field_name, "reference_invalid", f"引用的单位 {code} 在第 {line} 行有错误，本行未导入"
            )
            return None
        existing = self.db_enterprises.get(code)
        if existing is not None and self._visible(existing):
            self.enterprises[code] = existing
            return existing
        if existing is not None and not scoped:  # a counterparty: found, but not for later lookups
            return existing
        self._problem(record, field_name, "reference_not_found", f"单位 {code} 不存在或无权查看（本文件中也没有）")
        return None

    def _run(self, record: Record, check: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """Run a service check; a refusal becomes a problem of the record: (passed, result)."""
        try:
            return True, check(*args, **kwargs)
        except ApplicationError as exc:
            self._error(record, exc)
            return False, None

    def _changes(self, record: Record, pairs: Sequence[tuple[str, Any, Any]]) -> list[str]:
        """Fields the record gives with a value different from the stored one (present ones only)."""
        return [name for name, stored, given in pairs if name in record.values and stored != given]

    def _refuse_changes(self, record: Record, key: str, changed: list[str], current: dict[str, Any]) -> None:
        for name in changed:
            label = record.type.by_name[name].label
            self._problem(
                record,
                name,
                "change_not_supported",
                f"{record.type.label} {key} 已存在，数据交换格式 v{FORMAT_VERSION} 只能新建此类记录，"
                f"不能修改{label}（现为 {_shown(current[name])}，文件为 {_shown(record.values[name])}）；"
                "请在登记页面或接口办理变更",
            )

    # -- the run -------------------------------------------------------------------------------

    def run(self, records: list[Record], problems: list[Problem]) -> ImportReport:
        report = self.report
        started = time.perf_counter()
        read = {(r.sheet, r.line) for r in records}
        report.records = len(read) + len({(p.sheet, p.line) for p in problems} - read)
        report.problems.extend(problems)
        by_type: dict[str, list[Record]] = defaultdict(list)
        for record in records:
            by_type[record.type.name].append(record)
        self._keys(by_type)
        self._load(by_type)
        for name in RECORD_TYPES:
            getattr(self, f"_check_{name}")(by_type.get(name, []))
        report.seconds["check"] = round(time.perf_counter() - started, 2)
        if not report.refused:
            started = time.perf_counter()
            self._write_all()
            report.seconds["write"] = round(time.perf_counter() - started, 2)
        report.problems.sort(key=lambda p: (p.sheet or "", p.line))
        if not report.applied and not report.dry_run:
            report.created.clear()  # rolled back
            report.updated.clear()
        report.created, report.updated = +report.created, +report.updated  # without the zeros
        return report

    def _write_all(self) -> None:
        report = self.report
        try:
            with transaction.atomic():
                self._write()
                if report.problems and not report.partial:
                    raise _Refused
                if report.dry_run:
                    transaction.set_rollback(True)
        except _Refused:
            return
        except IntegrityError as exc:  # a concurrent writer took a key between check and write
            report.problems.append(
                Problem(0, None, "concurrent_write", f"导入期间有其他用户写入了相同的记录，请重新导入（{exc}）")
            )
            return
        report.applied = not report.dry_run

    # -- keys and duplicates -------------------------------------------------------------------

    KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
        "enterprise": lambda v: _upper(v.get("credit_code")) or None,
        "site": lambda v: (_upper(v.get("enterprise")), _key_text(v.get("name"))) if v.get("name") else None,
        "facility": lambda v: (
            _upper(v.get("code"))
            or (_upper(v.get("enterprise")), _key_text(v.get("site")), v.get("kind"), _key_text(v.get("name")))
        ),
        "licence": lambda v: _key_text(v.get("number")) or None,
        "vehicle": lambda v: _upper(v.get("plate")) or None,
        "driver": lambda v: _key_text(v.get("certificate_number")) or None,
        "contract": lambda v: (_upper(v.get("party_a")), _key_text(v.get("number"))) if v.get("number") else None,
        "plan": lambda v: (_upper(v.get("enterprise")), _key_text(v.get("site")), v.get("year")),
        "ledger_entry": lambda v: (
            (_upper(v.get("enterprise")), _key_text(v.get("site")), _key_text(v.get("batch_code")))
            if v.get("batch_code")
            else None
        ),
        "declaration": lambda v: (
            _upper(v.get("enterprise")),
            _key_text(v.get("site")),
            v.get("kind"),
            v.get("period_start"),
        ),
    }
    KEY_FIELD = {
        "enterprise": "credit_code",
        "site": "name",
        "facility": "code",
        "licence": "number",
        "vehicle": "plate",
        "driver": "certificate_number",
        "contract": "number",
        "plan": "year",
        "ledger_entry": "batch_code",
        "declaration": "period_start",
    }

    def _keys(self, by_type: dict[str, list[Record]]) -> None:
        """Drop broken records and repeated keys (a key twice in one file is an error)."""
        for name, records in by_type.items():
            first: dict[Any, int] = {}
            kept = []
            for record in records:
                key = self.KEYS[name](record.values)
                record.values["_key"] = key
                if record.broken:
                    if key is not None:
                        self._fail(record, key)
                    continue
                if key is not None and key in first:
                    self._problem(
                        record,
                        self.KEY_FIELD[name],
                        "duplicate_in_file",
                        f"与第 {first[key]} 行是同一{record.type.label}（{_key_label(key)}），一个文件中只能出现一次",
                    )
                    self._fail(record, key)
                    continue
                if key is not None:
                    first[key] = record.line
                kept.append(record)
            by_type[name] = kept

    # -- what exists ---------------------------------------------------------------------------

    def _load(self, by_type: dict[str, list[Record]]) -> None:
        codes: set[str] = set()
        for name, fields in (
            ("enterprise", ("credit_code",)),
            ("site", ("enterprise",)),
            ("facility", ("enterprise",)),
            ("licence", ("holder",)),
            ("vehicle", ("carrier",)),
            ("driver", ("carrier",)),
            ("contract", ("party_a", "party_b")),
            ("ledger_entry", ("enterprise",)),
        ):
            for record in by_type.get(name, []):
                codes.update(_upper(record.values.get(f)) for f in fields)
        codes.discard("")
        self.db_enterprises = _in_chunks(Enterprise.objects.select_related("region"), "credit_code", codes)
        self.visible = self._visible_ids(e.pk for e in self.db_enterprises.values())
        ids = [e.pk for e in self.db_enterprises.values()]
        self.db_sites: dict[tuple[str, str], Site] = {}
        if by_type.get("site") or by_type.get("facility") or by_type.get("ledger_entry"):
            for i in range(0, len(ids), CHUNK):
                for site in Site.objects.filter(enterprise_id__in=ids[i : i + CHUNK]).select_related(
                    "enterprise__region", "region"
                ):
                    self.db_sites[(site.enterprise.credit_code, site.name)] = site
        self.db_facilities: dict[str, Facility] = {}
        self.db_facility_names: dict[tuple[int, str, str], Facility] = {}
        self.facility_counts: Counter[int] = Counter()
        if by_type.get("facility"):
            for i in range(0, len(ids), CHUNK):
                for facility in Facility.objects.filter(site__enterprise_id__in=ids[i : i + CHUNK]).select_related(
                    "site__enterprise"
                ):
                    self.db_facilities[facility.code] = facility
                    self.db_facility_names[(facility.site_id, facility.kind, facility.name)] = facility
                    self.facility_counts[facility.site.enterprise_id] += 1
            given = {_upper(r.values.get("code")) for r in by_type["facility"]} - {""}
            self.db_facilities.update(_in_chunks(Facility.objects.select_related("site__enterprise"), "code", given))
        self.db_licences = _in_chunks(
            Licence.objects.select_related("holder").prefetch_related("scopes__aggregate", "aggregates"),
            "number",
            {r.values["_key"] for r in by_type.get("licence", []) if r.values["_key"]},
        )
        self.db_vehicles = _in_chunks(
            Vehicle.objects.select_related("carrier"),
            "plate",
            {r.values["_key"] for r in by_type.get("vehicle", []) if r.values["_key"]},
        )
        self.db_drivers = _in_chunks(
            Driver.objects.select_related("carrier"),
            "certificate_number",
            {r.values["_key"] for r in by_type.get("driver", []) if r.values["_key"]},
        )
        self.db_contracts: dict[tuple[str, str], Contract] = {}
        numbers = {r.values["_key"][1] for r in by_type.get("contract", []) if r.values["_key"]}
        if numbers:
            contracts = _in_chunks(Contract.objects.select_related("party_a", "party_b"), "number", numbers, many=True)
            for found in contracts.values():
                for contract in found:
                    self.db_contracts[(contract.party_a.credit_code, contract.number)] = contract
        # Valid licences of existing holders: a site of a licensed operator is 重点 (HJ 1259 4.2.1).
        self.licensed: set[int] = set()
        if by_type.get("site"):
            for i in range(0, len(ids), CHUNK):
                self.licensed.update(
                    Licence.objects.filter(
                        holder_id__in=ids[i : i + CHUNK],
                        status=Licence.Status.VALID,
                        valid_from__lte=self.today,
                        valid_to__gte=self.today,
                    ).values_list("holder_id", flat=True)
                )

    # -- checks per type -----------------------------------------------------------------------

    def _check_enterprise(self, records: list[Record]) -> None:
        for record in records:
            v = record.values
            code = v["_key"]
            existing = self.db_enterprises.get(code) if code else None
            if existing is not None:
                self._check_enterprise_existing(record, existing)
                continue
            roles = v.get("roles", ["is_generator"])
            # enterprise_create's order: the actor's kind, then the fields
            ok = self._run(record, require_kind, self.actor, "system", "regulator", action="登记单位")[0]
            ok, cleaned = (
                self._run(
                    record,
                    enterprise_clean,
                    actor=self.actor,
                    credit_code=v.get("credit_code", ""),
                    name=v.get("name", ""),
                    region_key=v.get("region", ""),
                    roles=roles,
                    latitude=v.get("latitude"),
                    longitude=v.get("longitude"),
                    industry_code=v.get("industry_code", ""),
                    regions=self.regions,
                )
                if ok
                else _SKIPPED
            )
            verification = v.get("verification") or Verification.VERIFIED
            if ok and verification not in Verification.values:
                self._problem(
                    record,
                    "verification",
                    "verification_invalid",
                    f"核验状态 {verification!r} 无效（verified、pending、rejected）",
                )
                ok = False
            if not ok:
                self._fail(record, code)
                continue
            enterprise = Enterprise(
                credit_code=cleaned.credit_code,
                name=cleaned.name,
                region=cleaned.region,
                industry_code=v.get("industry_code", ""),
                industry_name=v.get("industry_name", ""),
                legal_representative=v.get("legal_representative", ""),
                address=v.get("address", ""),
                latitude=v.get("latitude"),
                longitude=v.get("longitude"),
                contact_phone=v.get("contact_phone", ""),
                contact_name=v.get("contact_name", ""),
                contact_email=v.get("contact_email", ""),
                verification=verification,
                **{r: (r in roles) for r in ROLE_FIELDS},
            )
            self.enterprises[cleaned.credit_code] = enterprise
            self.ops["enterprise"].append(_Op(record, enterprise, {"roles": list(roles)}))

    def _check_enterprise_existing(self, record: Record, existing: Enterprise) -> None:
        v = record.values
        code = existing.credit_code
        if not self._visible(existing):
            # The service answers the same to anyone who registers a taken code.
            self._problem(record, "credit_code", "duplicate_enterprise", f"统一社会信用代码 {code} 已登记")
            self._fail(record, code)
            return
        # Records of this file refer to the unit as it is, even when this record is refused.
        self.enterprises[code] = existing
        pairs: list[tuple[str, Any, Any]] = [(name, getattr(existing, name), v.get(name)) for name in ENTERPRISE_TEXT]
        pairs += [(name, getattr(existing, name), v.get(name)) for name in ("latitude", "longitude")]
        stored_roles = sorted(r for r in ROLE_FIELDS if getattr(existing, r))
        pairs.append(("roles", stored_roles, sorted(set(v.get("roles", [])))))
        changed = self._changes(record, pairs)
        ok = True
        if "region" in v and v["region"] != existing.region.key:
            self._problem(
                record,
                "region",
                "region_not_editable",
                f"单位 {code} 已登记在 {existing.region.name}（{existing.region.key}），导入不能修改所在区域"
                f"（文件为 {v['region']}）",
            )
            ok = False
        if not changed:
            if ok:
                self.report.unchanged["enterprise"] += 1
            return
        roles = v.get("roles", stored_roles)
        # enterprise_update's actor check, then the record's fields by the registration rules
        ok = ok and self._run(record, _enterprise_writer, self.actor, existing, action="修改单位信息")[0]
        ok = (
            ok
            and self._run(
                record,
                enterprise_clean,
                actor=self.actor,
                credit_code=code,
                name=v.get("name", existing.name),
                region_key=existing.region.key,
                roles=roles,
                latitude=v.get("latitude", existing.latitude),
                longitude=v.get("longitude", existing.longitude),
                industry_code=v.get("industry_code", existing.industry_code),
                regions=self.regions,
            )[0]
        )
        if not ok:
            return
        changes: dict[str, Any] = {name: v[name] for name in changed if name != "roles"}
        if "roles" in changed:
            changes.update({r: (r in roles) for r in ROLE_FIELDS if (r in roles) != getattr(existing, r)})
        # Records later in this file see the unit as it will be (enterprise_update's rule:
        # a unit taking up a verified role by itself goes back to pending).
        if self.actor.kind == "enterprise" and any(changes.get(r) for r in VERIFIED_ROLES):
            existing.verification = Verification.PENDING
        for name, value in changes.items():
            setattr(existing, name, value)
        self.ops["enterprise_update"].append(_Op(record, existing, changes))

    def _check_site(self, records: list[Record]) -> None:
        for record in records:
            v = record.values
            key = v["_key"]
            enterprise = self._enterprise_ref(record, "enterprise")
            existing = self.db_sites.get(key) if key else None
            if enterprise is not None and existing is not None:
                self._check_site_existing(record, existing)
                continue
            roles = v.get("roles", [])
            allowed = (
                enterprise is not None
                and self._run(record, _enterprise_writer, self.actor, enterprise, action="登记生产经营场所")[0]
            )
            ok, cleaned = self._run(
                record,
                site_clean,
                name=v.get("name", ""),
                address=v.get("address", ""),
                region_key=v.get("region", ""),
                roles=roles,
                latitude=v.get("latitude"),
                longitude=v.get("longitude"),
                eia_annual_tonnes=v.get("eia_annual_tonnes"),
                permit_annual_tonnes=v.get("permit_annual_tonnes"),
                regions=self.regions,
            )
            status = v.get("status") or Site.Status.ACTIVE
            status_ok = self._run(
                record,
                site_status_clean,
                current=Site.Status.ACTIVE,
                status=status,
                suspended_from=v.get("suspended_from"),
                suspended_until=v.get("suspended_until"),
                closed_on=v.get("closed_on"),
            )[0]
            if enterprise is None or not allowed or not ok or not status_ok:
                self._fail(record, key)
                continue
            site = Site(
                enterprise=enterprise,
                name=cleaned.name,
                address=cleaned.address,
                region=cleaned.region,
                roles=cleaned.roles,
                latitude=v.get("latitude"),
                longitude=v.get("longitude"),
                industry_code=v.get("industry_code", ""),
                industry_name=v.get("industry_name", ""),
                operation_started_on=v.get("operation_started_on"),
                eia_annual_tonnes=v.get("eia_annual_tonnes"),
                permit_annual_tonnes=v.get("permit_annual_tonnes"),
            )
            self.sites[key] = site
            self.ops["site"].append(_Op(record, site, {"status": status}))

    def _check_site_existing(self, record: Record, site: Site) -> None:
        v = record.values
        current = {
            "address": site.address,
            "region": site.region.key,
            "roles": sorted(site.roles),
            "latitude": site.latitude,
            "longitude": site.longitude,
            "industry_code": site.industry_code,
            "industry_name": site.industry_name,
            "operation_started_on": site.operation_started_on,
            "eia_annual_tonnes": site.eia_annual_tonnes,
            "permit_annual_tonnes": site.permit_annual_tonnes,
            "status": site.status,
            "suspended_from": site.suspended_from,
            "suspended_until": site.suspended_until,
            "closed_on": site.closed_on,
        }
        given = dict(v)
        if "roles" in given:
            given["roles"] = sorted(set(given["roles"]))
        if given.get("status") is None and "status" in given:
            given["status"] = Site.Status.ACTIVE
        changed = self._changes(record, [(name, current[name], given.get(name)) for name in current])
        if changed:
            self._refuse_changes(record, f"{site.enterprise.credit_code}/{site.name}", changed, current)
        else:
            self.report.unchanged["site"] += 1
        self.sites[v["_key"]] = site  # its facilities in this file refer to it as it is

    def _check_facility(self, records: list[Record]) -> None:
        planned: Counter[str] = Counter()  # new facilities per enterprise credit code, in file order
        for record in records:
            v = record.values
            enterprise = self._enterprise_ref(record, "enterprise")
            site_key = (_upper(v.get("enterprise")), _key_text(v.get("site")))
            site = self._site_ref(record, site_key) if enterprise is not None else None
            code = _upper(v.get("code"))
            existing = self.db_facilities.get(code) if code else None
            if existing is None and site is not None and site.pk is not None:
                existing = self.db_facility_names.get((site.pk, str(v.get("kind", "")), _key_text(v.get("name"))))
            if existing is not None:
                self._check_facility_existing(record, existing, site)
                continue
            ok, name = self._run(
                record,
                facility_clean,
                kind=v.get("kind", ""),
                name=v.get("name", ""),
                design_capacity_tonnes=v.get("design_capacity_tonnes"),
                storage_capacity_tonnes=v.get("storage_capacity_tonnes"),
            )
            if enterprise is None or site is None or not ok:
                self._fail(record, v["_key"])
                continue
            if not self._run(record, _enterprise_writer, self.actor, site.enterprise, action="登记设施")[0]:
                self._fail(record, v["_key"])
                continue
            seq = self.facility_counts[enterprise.pk] if enterprise.pk else 0
            seq += planned[enterprise.credit_code] + 1
            if seq > 999:
                self._problem(record, "kind", "facility_seq_exhausted", "设施编号已用尽（最多 999 个）")
                self._fail(record, v["_key"])
                continue
            expected = f"{enterprise.credit_code}{seq:03d}{Facility.KIND_LETTERS[v['kind']]}"
            if code and code != expected:
                self._problem(
                    record,
                    "code",
                    "facility_code_mismatch",
                    f"设施编码 {code} 与按登记顺序分配的编码 {expected} 不符（编码由系统分配，新建时可省略）",
                )
                self._fail(record, v["_key"])
                continue
            planned[enterprise.credit_code] += 1
            self.ops["facility"].append(_Op(record, site, {"name": name, "code": expected}))

    def _site_ref(self, record: Record, key: tuple[str, str]) -> Site | None:
        """The site a record names by (credit code, site name): from this file or the database."""
        site = self.sites.get(key)
        if site is not None:
            return site
        line = self.failed.get(("site", key))
        if line is not None:
            self._problem(record, "site", "reference_invalid", f"引用的场所在第 {line} 行有错误，本行未导入")
            return None
        site = self.db_sites.get(key)
        if site is None:
            self._problem(
                record, "site", "reference_not_found", f"单位 {key[0]} 没有名为“{key[1]}”的场所（本文件中也没有）"
            )
        return site

    def _check_facility_existing(self, record: Record, facility: Facility, site: Site | None) -> None:
        v = record.values
        current = {
            "enterprise": facility.site.enterprise.credit_code,
            "site": facility.site.name,
            "kind": facility.kind,
            "name": facility.name,
            "design_capacity_tonnes": facility.design_capacity_tonnes,
            "storage_capacity_tonnes": facility.storage_capacity_tonnes,
            "code": facility.code,
        }
        given = {**v, "enterprise": _upper(v.get("enterprise")), "code": _upper(v.get("code"))}
        if not self._visible(facility.site.enterprise):
            self._problem(record, "code", "duplicate_facility", f"设施编码 {facility.code} 已被其他单位使用")
            self._fail(record, v["_key"])
            return
        changed = self._changes(record, [(name, current[name], given.get(name)) for name in current])
        if changed:
            self._refuse_changes(record, facility.code, changed, current)
            self._fail(record, v["_key"])
            return
        self.report.unchanged["facility"] += 1

    def _check_licence(self, records: list[Record]) -> None:
        for record in records:
            v = record.values
            existing = self.db_licences.get(v["_key"]) if v["_key"] else None
            if existing is not None:  # compared as it stands, holder included
                self._check_licence_existing(record, existing)
                continue
            holder = self._enterprise_ref(record, "holder")
            if holder is None:
                self._fail(record, v["_key"])
                continue

            ok = "valid_from" in v and self._run(record, self._licence_allowed, v, holder)[0]
            if ok and v.get("valid_to") is not None:
                expected = rules.licence_valid_to(v["kind"], v["valid_from"])
                if v["valid_to"] != expected:
                    self._problem(
                        record,
                        "valid_to",
                        "valid_to_mismatch",
                        f"有效期至应为 {expected}（{Licence.Kind(v['kind']).label}许可证自 {v['valid_from']} 起 "
                        f"{rules.LICENCE_YEARS[v['kind']]} 年，许可办法 第十三条），不是 {v['valid_to']}",
                    )
                    ok = False
            status = v.get("status") or Licence.Status.VALID
            if status not in (Licence.Status.VALID, Licence.Status.SUSPENDED, Licence.Status.REVOKED):
                self._problem(record, "status", "status_invalid", f"许可证状态 {status!r} 无效")
                ok = False
            if not ok:
                self._fail(record, v["_key"])
                continue
            self.ops["licence"].append(_Op(record, holder, {"status": status}))

    def _licence_allowed(self, v: dict[str, Any], holder: Enterprise) -> None:
        """licence_create's checks in its order: actor, fields, issuing level (许可办法 第七条)."""
        require_kind(self.actor, "system", "regulator", action="登记经营许可证")
        if self.actor.kind == "regulator":
            require_regulator_over(self.actor, holder.region.key, action="核发经营许可证")
        cleaned = licence_clean(
            holder=holder,
            number=v.get("number", ""),
            kind=v.get("kind", ""),
            methods=v.get("methods", []),
            annual_capacity_tonnes=v["annual_capacity_tonnes"],
            valid_from=v["valid_from"],
            scopes=v.get("scopes", []),
            aggregates=v.get("aggregates") or {},
        )
        level = rules.issuing_level_for(v["kind"], {c for c, _, _ in cleaned.checked})
        if self.actor.kind == "regulator" and not rules.may_issue(
            actor_level=self.actor.region_level, issuing_level=level
        ):
            raise PermissionDenied(
                f"该许可证应由{Licence.Level(level).label}生态环境部门核发（许可办法 第七条）",
                code="wrong_issuing_level",
            )

    def _check_licence_existing(self, record: Record, licence: Licence) -> None:
        v = record.values
        if not self._visible(licence.holder):
            self._problem(record, "number", "duplicate_licence", f"许可证编号 {licence.number} 已登记")
            self._fail(record, v["_key"])
            return
        current = _licence_fields(licence)
        given = dict(v)
        given["holder"] = _upper(v.get("holder"))
        if "methods" in given:
            given["methods"] = sorted(set(given["methods"]))
        if "scopes" in given:
            given["scopes"] = _scope_set(given["scopes"])
        if given.get("status") is None and "status" in given:
            given["status"] = Licence.Status.VALID
        changed = self._changes(record, [(name, current[name], given.get(name)) for name in current])
        if changed:
            self._refuse_changes(record, licence.number, changed, current)
            self._fail(record, v["_key"])
            return
        self.report.unchanged["licence"] += 1

    def _check_vehicle(self, records: list[Record]) -> None:
        registration = (
            Vehicle.Registration.PENDING if self.actor.kind == "enterprise" else Vehicle.Registration.APPROVED
        )
        for record in records:
            v = record.values
            existing = self.db_vehicles.get(v["_key"]) if v["_key"] else None
            if existing is not None:  # compared as it stands, carrier included
                self._check_vehicle_existing(record, existing)
                continue
            carrier = self._enterprise_ref(record, "carrier")
            if carrier is None:
                self._fail(record, v["_key"])
                continue

            ok = self._run(record, _enterprise_writer, self.actor, carrier, action="登记车辆")[0]
            ok, cleaned = (
                self._run(
                    record,
                    vehicle_clean,
                    carrier=carrier,
                    plate=v.get("plate", ""),
                    transport_certificate=v.get("transport_certificate", ""),
                    payload_tonnes=v["payload_tonnes"],
                    valid_until=v["valid_until"],
                    dangerous_goods_classes=v.get("dangerous_goods_classes"),
                    inspection_valid_until=v.get("inspection_valid_until"),
                    today=self.today,
                )
                if ok and "valid_until" in v
                else _SKIPPED
            )
            if not ok:
                self._fail(record, v["_key"])
                continue
            vehicle = Vehicle(
                carrier=carrier,
                plate=cleaned.plate,
                transport_certificate=cleaned.transport_certificate,
                payload_tonnes=v["payload_tonnes"],
                valid_until=v["valid_until"],
                dangerous_goods_classes=cleaned.dangerous_goods_classes,
                gps_terminal_id=v.get("gps_terminal_id", ""),
                inspection_valid_until=v.get("inspection_valid_until"),
                registration=registration,
            )
            self.ops["vehicle"].append(_Op(record, vehicle))

    def _check_vehicle_existing(self, record: Record, vehicle: Vehicle) -> None:
        v = record.values
        if not self._visible(vehicle.carrier):
            self._problem(record, "plate", "duplicate_vehicle", f"车牌号 {vehicle.plate} 已登记")
            self._fail(record, v["_key"])
            return
        current = {
            "carrier": vehicle.carrier.credit_code,
            "transport_certificate": vehicle.transport_certificate,
            "payload_tonnes": vehicle.payload_tonnes,
            "valid_until": vehicle.valid_until,
            "dangerous_goods_classes": [str(c) for c in vehicle.dangerous_goods_classes],
            "gps_terminal_id": vehicle.gps_terminal_id,
            "inspection_valid_until": vehicle.inspection_valid_until,
        }
        given = {**v, "carrier": _upper(v.get("carrier"))}
        if "dangerous_goods_classes" in given:
            given["dangerous_goods_classes"] = given["dangerous_goods_classes"] or ["9"]
        changed = self._changes(record, [(name, current[name], given.get(name)) for name in current])
        if changed:
            self._refuse_changes(record, vehicle.plate, changed, current)
            self._fail(record, v["_key"])
            return
        self.report.unchanged["vehicle"] += 1

    def _check_driver(self, records: list[Record]) -> None:
        for record in records:
            v = record.values
            existing = self.db_drivers.get(v["_key"]) if v["_key"] else None
            if existing is not None:  # compared as it stands, carrier included
                if not self._visible(existing.carrier):
                    self._problem(
                        record,
                        "certificate_number",
                        "duplicate_driver",
                        f"从业资格证号 {existing.certificate_number} 已登记",
                    )
                    self._fail(record, v["_key"])
                    continue
                current = {
                    "carrier": existing.carrier.credit_code,
                    "name": existing.name,
                    "role": existing.role,
                    "certificate_valid_until": existing.certificate_valid_until,
                    "phone": existing.phone,
                }
                given = {**v, "carrier": _upper(v.get("carrier"))}
                changed = self._changes(record, [(name, current[name], given.get(name)) for name in current])
                if changed:
                    self._refuse_changes(record, existing.certificate_number, changed, current)
                    self._fail(record, v["_key"])
                else:
                    self.report.unchanged["driver"] += 1
                continue
            carrier = self._enterprise_ref(record, "carrier")
            if carrier is None:
                self._fail(record, v["_key"])
                continue

            ok = self._run(record, _enterprise_writer, self.actor, carrier, action="登记驾驶员和押运员")[0]
            ok = (
                ok
                and "certificate_valid_until" in v
                and self._run(
                    record,
                    driver_clean,
                    carrier=carrier,
                    name=v.get("name", ""),
                    role=v.get("role", ""),
                    certificate_number=v.get("certificate_number", ""),
                    certificate_valid_until=v["certificate_valid_until"],
                    today=self.today,
                )[0]
            )
            if not ok:
                self._fail(record, v["_key"])
                continue
            self.ops["driver"].append(_Op(record, carrier))

    def _check_contract(self, records: list[Record]) -> None:
        for record in records:
            v = record.values
            party_a = self._enterprise_ref(record, "party_a")
            # The counterparty need not be visible to party A's users (as in the contracts API).
            party_b = self._enterprise_ref(record, "party_b", scoped=False)
            existing = self.db_contracts.get(v["_key"]) if v["_key"] and party_a is not None else None
            if existing is not None:
                current = {
                    "kind": existing.kind,
                    "party_b": existing.party_b.credit_code,
                    "waste_codes": list(existing.waste_codes),
                    "planned_tonnes": existing.planned_tonnes,
                    "valid_from": existing.valid_from,
                    "valid_to": existing.valid_to,
                }
                given = {**v, "party_b": _upper(v.get("party_b"))}
                changed = self._changes(record, [(name, current[name], given.get(name)) for name in current])
                if changed:
                    self._refuse_changes(record, f"{existing.party_a.credit_code}/{existing.number}", changed, current)
                    self._fail(record, v["_key"])
                else:
                    self.report.unchanged["contract"] += 1
                continue
            if party_a is None or party_b is None:
                self._fail(record, v["_key"])
                continue

            ok = self._run(record, _enterprise_writer, self.actor, party_a, action="登记合同")[0]
            ok = (
                ok
                and "valid_from" in v
                and "valid_to" in v
                and self._run(
                    record,
                    contract_clean,
                    kind=v.get("kind", ""),
                    number=v.get("number", ""),
                    party_a=party_a,
                    party_b=party_b,
                    waste_codes=v.get("waste_codes", []),
                    planned_tonnes=v["planned_tonnes"],
                    valid_from=v["valid_from"],
                    valid_to=v["valid_to"],
                )[0]
            )
            if not ok:
                self._fail(record, v["_key"])
                continue
            self.ops["contract"].append(_Op(record, (party_a, party_b)))

    # -- writing -------------------------------------------------------------------------------

    # -- management plans, ledger entries, declarations ---------------------------------------

    def _check_plan(self, records: list[Record]) -> None:
        for record in records:
            self._problem(
                record, None, "import_not_supported", "数据交换格式 v1 只导出管理计划，不导入；请在系统中填报和备案"
            )

    def _check_declaration(self, records: list[Record]) -> None:
        for record in records:
            self._problem(
                record, None, "import_not_supported", "数据交换格式 v1 只导出申报，不导入；申报由台账生成并由单位提交"
            )

    def _check_ledger_entry(self, records: list[Record]) -> None:
        """The site and, for a batch already recorded, whether it is the same record (unchanged)
        or a different one (refused). The ledger's rules run at write time in ``ledger_bulk``,
        once the sites of this file have their ids; a record whose site has an error is left out."""
        existing: dict[tuple[int, Any], LedgerEntry] = {}
        by_site: dict[int, list[str]] = defaultdict(list)
        for record in records:
            for name in ("batch_code", "source_batch", "reversal_of"):  # upper case, as the services write them
                if isinstance(record.values.get(name), str):
                    record.values[name] = record.values[name].upper()
            key = (_upper(record.values.get("enterprise")), _key_text(record.values.get("site")))
            record.values["_site_key"] = key
            site = self._site_ref(record, key)
            if site is None:
                continue
            if site.pk is not None and record.values.get("batch_code"):
                by_site[site.pk].append(record.values["batch_code"])
            self.ops["ledger_entry"].append(_Op(record, site))
        for site_id, codes in by_site.items():
            for i in range(0, len(codes), CHUNK):
                for entry in LedgerEntry.objects.filter(site_id=site_id, batch_code__in=codes[i : i + CHUNK]):
                    existing[(site_id, entry.batch_code)] = entry
        kept: list[_Op] = []
        for op in self.ops["ledger_entry"]:
            v = op.record.values
            found = existing.get((op.obj.pk, v.get("batch_code"))) if op.obj.pk is not None else None
            if found is None:
                if v.get("reversal_of"):
                    self._problem(
                        op.record, "reversal_of", "reversal_not_supported", "冲销记录不能导入：请在系统中冲销原记录"
                    )
                    continue
                kept.append(op)
                continue
            tonnes = v.get("tonnes")
            if tonnes is None or (v.get("unit") or "t") != "piece":
                try:
                    tonnes = ledger.to_tonnes(v["quantity"], v.get("unit") or "t", density=v.get("density"))[0]
                except ApplicationError:
                    tonnes = None
            given = (v.get("kind"), v.get("waste_code") or found.waste_code, v.get("occurred_at"), tonnes)
            stored = (found.kind, found.waste_code, found.occurred_at, found.quantity_tonnes)
            # A record naming another manifest is not the same record (files without the field: as stored).
            same_manifest = (v.get("manifest_number") or "") == found.manifest_number or "manifest_number" not in v
            if given == stored and same_manifest:
                self.report.unchanged["ledger_entry"] += 1
            else:
                self._problem(
                    op.record,
                    "batch_code",
                    "change_not_supported",
                    f"台账批次 {found.batch_code} 已存在且内容不同；台账记录不能修改，请在系统中冲销后重新记录",
                )
        self.ops["ledger_entry"] = []
        received = [op for op in kept if op.record.values.get("kind") == RECEIVED]
        checked = self._check_received(received) if received else set()
        for op in kept:
            v = op.record.values
            if v.get("kind") == RECEIVED:
                if id(op) in checked:
                    self.ops["ledger_received"].append(op)
                elif v.get("batch_code"):
                    self.failed_received[(op.record.values["_site_key"], v["batch_code"])] = op.record.line
                continue
            for name in ("manifest_number", "container_codes"):
                if v.get(name):
                    label = op.record.type.by_name[name].label
                    self._problem(
                        op.record, name, f"{name}_not_applicable", f"只有接收记录有{label}，{_kind_label(v)}记录应为空"
                    )
                    break
            else:
                self.ops["ledger_entry"].append(op)

    def _check_received(self, ops: list[_Op]) -> set[int]:
        """接收 records: written through ``ledger.ledger_receive``, the service the manifest's
        acceptance uses, for a manifest of this system accepted by the record's unit (at its site,
        when the manifest names one) whose intake is not in the ledger yet. Returns the ops that
        passed (by ``id``)."""
        numbers = {n for n in (_key_text(op.record.values.get("manifest_number")) for op in ops) if n}
        manifests = _in_chunks(Manifest.objects.prefetch_related("lines"), "number", numbers)
        intake: dict[str, list[str]] = defaultdict(list)
        wanted = sorted(numbers)
        for i in range(0, len(wanted), CHUNK):
            for number, code in (
                LedgerEntry.objects.filter(
                    kind=RECEIVED, manifest_number__in=wanted[i : i + CHUNK], reversal_of__isnull=True
                )
                .exclude(reversed_by__isnull=False)
                .order_by("id")
                .values_list("manifest_number", "batch_code")
            ):
                intake[number].append(code)
        passed: set[int] = set()
        named: Counter[tuple[str, str]] = Counter()  # (manifest number, waste code) → records so far
        for op in ops:
            record, v, site = op.record, op.record.values, op.obj
            number = _key_text(v.get("manifest_number"))
            before = len(self.report.problems)
            if not number:
                self._problem(
                    record,
                    "manifest_number",
                    "manifest_number_required",
                    "接收记录须由转移联单产生，或注明联单编号（manifest_number）",
                )
                continue
            if not MANIFEST_NUMBER.match(number):
                self._problem(
                    record, "manifest_number", "manifest_number_format", f"转移联单编号应为 14 位数字，不是 {number}"
                )
                continue
            manifest = manifests.get(number)
            if manifest is None or site.enterprise.pk is None or manifest.receiver_id != site.enterprise.pk:
                self._problem(
                    record,
                    "manifest_number",
                    "manifest_not_found",
                    f"转移联单 {number} 不存在或接受人不是本单位 {site.enterprise.credit_code}："
                    "接收记录须对应本单位接受的联单",
                )
                continue
            if manifest.receiver_site_id is not None and manifest.receiver_site_id != site.pk:
                self._problem(
                    record,
                    "site",
                    "manifest_other_site",
                    f"转移联单 {number} 指定的接收场所不是 {site.name}：接收记录应记在联单的接收场所",
                )
            if manifest.acceptance not in ACCEPTED:
                self._problem(
                    record,
                    "manifest_number",
                    "manifest_not_accepted",
                    f"转移联单 {number} 尚未接受（全部或部分接受后才有接收记录）",
                )
            if intake.get(number):
                self._problem(
                    record,
                    "manifest_number",
                    "manifest_already_received",
                    f"转移联单 {number} 的接收已记入台账（批次 {'、'.join(intake[number])}）：一张联单只能记一次接收",
                )
            if v.get("source_batch"):
                self._problem(record, "source_batch", "source_not_applicable", "接收记录是来源批次，不引用其他批次")
            code = _key_text(v.get("waste_code"))
            per_code = Counter(line.waste_code for line in manifest.lines.all())
            lines = set(per_code)
            if not code:
                self._problem(record, "waste_code", "waste_code_required", "接收记录须填写废物代码（联单所列）")
            elif code not in lines:
                self._problem(
                    record,
                    "waste_code",
                    "waste_code_not_on_manifest",
                    f"废物代码 {code} 不在转移联单 {number} 中（联单所列：{'、'.join(sorted(lines))}）",
                )
            else:
                # One 接收 record per manifest line: a file naming a line twice would double the intake.
                named[(number, code)] += 1
                if named[(number, code)] > per_code[code]:
                    self._problem(
                        record,
                        "manifest_number",
                        "manifest_line_received_twice",
                        f"本文件中转移联单 {number} 的 {code} 接收记录多于联单所列的 {per_code[code]} 条明细："
                        "每条明细只能记一次接收",
                    )
            try:
                tonnes = ledger.to_tonnes(
                    v["quantity"], v.get("unit") or "t", density=v.get("density"), tonnes=v.get("tonnes")
                )[0]
            except ApplicationError as exc:
                self._error(record, exc)
                continue
            if len(self.report.problems) == before:
                op.data.update(manifest_number=number, waste_code=code, tonnes=tonnes)
                passed.add(id(op))
        return passed

    def _write_received(self) -> dict[tuple[int, str], str]:
        """Write the 接收 records through ``ledger_receive``, before the other ledger records (which
        may take from them). Returns the batch codes the ledger allocated where they differ from
        the file's: (site id, code in the file) → code written."""
        renamed: dict[tuple[int, str], str] = {}
        for op in self.ops["ledger_received"]:
            v = op.record.values
            codes = list(v.get("container_codes") or []) or ([v["container_code"]] if v.get("container_code") else [])
            entry = self._service(
                op,
                ledger.ledger_receive,
                site_id=op.obj.pk,
                occurred_at=v["occurred_at"],
                waste_code=op.data["waste_code"],
                tonnes=op.data["tonnes"],
                manifest_number=op.data["manifest_number"],
                container_codes=codes,
                container_type=v.get("container_type") or "",
                container_count=v.get("container_count"),
                common_name=v.get("common_name") or "",
                handler=v.get("handler") or "",
            )
            if entry is None:
                if v.get("batch_code"):
                    self.failed_received[(v["_site_key"], v["batch_code"])] = op.record.line
                continue
            self.report.created["ledger_entry"] += 1
            if v.get("batch_code") and entry.batch_code != v["batch_code"]:
                renamed[(op.obj.pk, v["batch_code"])] = entry.batch_code
        return renamed

    def _write_ledger(self) -> None:
        renamed = self._write_received()
        ops = []
        for op in self.ops["ledger_entry"]:
            v = op.record.values
            line = self.failed_received.get((v["_site_key"], v.get("source_batch") or ""))
            if line is not None:
                self._problem(
                    op.record,
                    "source_batch",
                    "reference_invalid",
                    f"来源批次 {v['source_batch']} 在第 {line} 行有错误，本行未导入",
                )
                continue
            ops.append(op)
        if not ops:
            return
        rows = []
        for index, op in enumerate(ops):
            v = op.record.values
            source = v.get("source_batch") or ""
            source = renamed.get((op.obj.pk, source), source)
            rows.append(
                LedgerRow(
                    row=index,
                    kind=v.get("kind") or "",
                    occurred_at=v.get("occurred_at"),
                    quantity=v.get("quantity"),
                    site_id=op.obj.pk,
                    unit=v.get("unit") or "t",
                    density=v.get("density"),
                    tonnes=v.get("tonnes"),
                    waste_code=v.get("waste_code") or "",
                    category=v.get("category") or "",
                    batch_code=v.get("batch_code") or "",
                    source_batch=source,
                    container_code=v.get("container_code") or "",
                    container_type=v.get("container_type") or "",
                    container_count=v.get("container_count") or 1,
                    container_litres=v.get("container_litres"),
                    common_name=v.get("common_name") or "",
                    destination=v.get("destination") or "",
                    facility_code=v.get("facility") or "",
                    handler=v.get("handler") or "",
                    method_code=v.get("method_code") or "",
                    finished_at=v.get("finished_at"),
                    receiver_type=v.get("receiver_type") or "",
                    receiver_name=v.get("receiver") or "",
                    licence_number=v.get("licence_number") or "",
                )
            )
        try:
            result = ledger_bulk_import(actor=self.actor, rows=rows, file_name="数据交换导入")
        except ApplicationError as exc:  # no right to write one of the sites' ledgers
            self._error(ops[0].record, exc)
            return
        for error in result.errors:
            field_name = {"site": "site", "facility": "facility", "source": "source_batch"}.get(
                error.field, error.field
            )
            self._problem(ops[error.row].record, field_name or None, error.code, error.message)
        self.report.created["ledger_entry"] += result.imported

    def _service(self, op: _Op, service: Callable[..., Any], **kwargs: Any) -> Any:
        """One service call in a savepoint; a refusal becomes a problem of the record's line."""
        try:
            with transaction.atomic():
                return service(actor=self.actor, **kwargs)
        except ApplicationError as exc:
            self._error(op.record, exc)
            return None

    def _write(self) -> None:
        actor = self.actor
        # enterprises: new ones in bulk, changed ones through enterprise_update
        new = [op.obj for op in self.ops["enterprise"]]
        Enterprise.objects.bulk_create(new, batch_size=BULK)
        events_record_bulk(
            [
                EventEntry(
                    subject=op.obj,
                    actor=actor,
                    kind="registry.enterprise_created",
                    after={
                        "credit_code": op.obj.credit_code,
                        "name": op.obj.name,
                        "region": op.obj.region.key,
                        "roles": op.data["roles"],
                        "verification": op.obj.verification,
                    },
                )
                for op in self.ops["enterprise"]
            ]
        )
        self.report.created["enterprise"] += len(new)
        for op in self.ops["enterprise_update"]:
            done = self._service(op, enterprise_update, enterprise_id=op.obj.pk, reason=IMPORT_REASON, **op.data)
            if done is not None:
                self.report.updated["enterprise"] += 1
        self._write_sites()
        for op in self.ops["facility"]:
            v = op.record.values
            facility = self._service(
                op,
                facility_create,
                site=op.obj,
                kind=v["kind"],
                name=op.data["name"],
                design_capacity_tonnes=v.get("design_capacity_tonnes"),
                storage_capacity_tonnes=v.get("storage_capacity_tonnes"),
            )
            if facility is not None:
                self.report.created["facility"] += 1
            if facility is not None and facility.code != op.data["code"]:  # a concurrent registration
                self._problem(
                    op.record,
                    "code",
                    "facility_code_mismatch",
                    f"设施编码分配为 {facility.code}，不是 {op.data['code']}",
                )
        self._write_licences()
        vehicles = [op.obj for op in self.ops["vehicle"]]
        Vehicle.objects.bulk_create(vehicles, batch_size=BULK)
        events_record_bulk(
            [
                EventEntry(
                    subject=vehicle,
                    actor=actor,
                    kind="registry.vehicle_created",
                    organisation=vehicle.carrier,
                    after={"plate": vehicle.plate, "registration": vehicle.registration},
                )
                for vehicle in vehicles
            ]
        )
        self.report.created["vehicle"] += len(vehicles)
        for op in self.ops["driver"]:
            v = op.record.values
            driver = self._service(
                op,
                driver_create,
                carrier=op.obj,
                name=v.get("name", ""),
                role=v.get("role", ""),
                certificate_number=v.get("certificate_number", ""),
                certificate_valid_until=v["certificate_valid_until"],
                phone=v.get("phone", ""),
                today=self.today,
            )
            if driver is not None:
                self.report.created["driver"] += 1
        for op in self.ops["contract"]:
            v = op.record.values
            contract = self._service(
                op,
                contract_create,
                kind=v["kind"],
                number=v["number"],
                party_a=op.obj[0],
                party_b=op.obj[1],
                waste_codes=v["waste_codes"],
                planned_tonnes=v["planned_tonnes"],
                valid_from=v["valid_from"],
                valid_to=v["valid_to"],
            )
            if contract is not None:
                self.report.created["contract"] += 1
        self._write_ledger()

    def _write_sites(self) -> None:
        """New sites in bulk with their class computed as ``site_class_refresh`` would right after
        ``site_create`` (a new site has no generation and no facilities yet), and both events."""
        actor, today = self.actor, self.today
        sites: list[Site] = [op.obj for op in self.ops["site"]]
        results = []
        for site in sites:
            site.enterprise_id = site.enterprise.pk
            facts = rules.SiteFacts(
                yearly_tonnes={},
                operation_started_on=site.operation_started_on,
                eia_annual_tonnes=site.eia_annual_tonnes,
                permit_annual_tonnes=site.permit_annual_tonnes,
                has_own_treatment=False,
                holds_licence=site.enterprise_id in self.licensed and Site.Role.OPERATOR in site.roles,
            )
            result = rules.management_class(facts, today=today)
            site.management_class_computed = result.management_class
            site.management_class = result.management_class
            site.management_class_basis = result.basis[:300]
            results.append(result)
        Site.objects.bulk_create(sites, batch_size=BULK)
        entries: list[EventEntry] = []
        for site, result in zip(sites, results, strict=True):
            entries.append(
                EventEntry(
                    subject=site,
                    actor=actor,
                    kind="registry.site_created",
                    organisation=site.enterprise_id,
                    after={"name": site.name, "region": site.region.key, "roles": site.roles},
                )
            )
            entries.append(
                EventEntry(
                    subject=site,
                    actor=actor,
                    kind="registry.site_class_computed",
                    organisation=site.enterprise_id,
                    before={"management_class": "", "computed": ""},
                    after={
                        "management_class": result.management_class,
                        "computed": result.management_class,
                        "basis": result.basis,
                    },
                )
            )
        events_record_bulk(entries)
        self.report.created["site"] += len(sites)
        for op in self.ops["site"]:
            if op.data["status"] == Site.Status.ACTIVE:
                continue
            v = op.record.values
            self._service(
                op,
                site_set_status,
                site_id=op.obj.pk,
                status=op.data["status"],
                suspended_from=v.get("suspended_from"),
                suspended_until=v.get("suspended_until"),
                closed_on=v.get("closed_on"),
                reason=IMPORT_REASON,
            )

    def _write_licences(self) -> None:
        actor = self.actor
        holders: set[int] = set()
        for op in self.ops["licence"]:
            v = op.record.values
            licence = self._service(
                op,
                licence_create,
                holder=op.obj,
                number=v["number"],
                kind=v["kind"],
                methods=v["methods"],
                annual_capacity_tonnes=v["annual_capacity_tonnes"],
                valid_from=v["valid_from"],
                scopes=v["scopes"],
                aggregates=v.get("aggregates") or {},
                facility_addresses=v.get("facility_addresses", ""),
            )
            if licence is None:
                continue
            self.report.created["licence"] += 1
            holders.add(op.obj.pk)
            if op.data["status"] != Licence.Status.VALID:
                self._service(
                    op, licence_set_status, licence_id=licence.pk, status=op.data["status"], reason=IMPORT_REASON
                )
        # A licence makes its holder's operator sites 重点 (HJ 1259 4.2.1): recompute them now.
        for site_id in Site.objects.filter(enterprise_id__in=holders).values_list("id", flat=True):
            site_class_refresh(actor=actor, site_id=site_id, today=self.today)


# --------------------------------------------------------------------------------------------


def _in_chunks(qs: Any, field_name: str, values: Iterable[str], *, many: bool = False) -> dict[str, Any]:
    wanted = sorted(set(values))
    out: dict[str, Any] = {}
    for i in range(0, len(wanted), CHUNK):
        for obj in qs.filter(**{f"{field_name}__in": wanted[i : i + CHUNK]}):
            key = getattr(obj, field_name)
            if many:
                out.setdefault(key, []).append(obj)
            else:
                out[key] = obj
    return out


def _kind_label(values: dict[str, Any]) -> str:
    kind = str(values.get("kind") or "")
    return {str(k): str(label) for k, label in LedgerEntry.Kind.choices}.get(kind, kind)


def _key_label(key: Any) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key if k)
    return str(key)


def _scope_set(scopes: Iterable[Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (s.item.strip().upper(), str(Decimal(s.annual_tonnes).normalize()), s.aggregate or "") for s in scopes
    )


def _licence_fields(licence: Licence) -> dict[str, Any]:
    """A stored licence in the terms of the format, for comparison with a record."""
    return {
        "holder": licence.holder.credit_code,
        "kind": licence.kind,
        "methods": sorted(licence.methods),
        "annual_capacity_tonnes": licence.annual_capacity_tonnes,
        "valid_from": licence.valid_from,
        "valid_to": licence.valid_to,
        "scopes": sorted(
            (
                (s.waste_code or s.category).upper(),
                str(s.annual_tonnes.normalize()),
                s.aggregate.name if s.aggregate else "",
            )
            for s in licence.scopes.all()
        ),
        "aggregates": {a.name: a.annual_tonnes for a in licence.aggregates.all()},
        "facility_addresses": licence.facility_addresses,
        "status": licence.status,
    }


def import_records(
    records: list[Record],
    problems: list[Problem],
    *,
    actor: Actor,
    partial: bool = False,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> ImportReport:
    """Check the records and, unless refused, write them (one transaction). See the module."""
    if actor.read_only or actor.is_public:
        raise PermissionDenied(f"当前身份（{actor.label or actor.kind}）不能导入数据")
    return Importer(actor=actor, today=today, partial=partial, dry_run=dry_run).run(records, problems)
