"""Loading reference data. Each loader is idempotent: re-running it changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from weifei.core.actors import SYSTEM, Actor
from weifei.core.errors import ApplicationError
from weifei.core.events import event_record

from . import cache
from .models import (
    HAZARD_CHARACTERISTICS,
    HAZARD_SEMANTICS,
    HOME_PROVINCE,
    CatalogueVersion,
    Category,
    CodeMapping,
    DisposalMethod,
    ExemptionItem,
    Region,
    WasteCode,
)
from .validation import CODE_RE, VALID_CATEGORY_NUMBERS

DATA_DIR = Path(__file__).resolve().parent / "data"

CATALOGUE_COLUMNS = [
    "code",
    "category",
    "category_name",
    "industry_source",
    "description",
    "hazard",
    "hazard_list",
    "hazard_primary",
    "hazard_separator_semantics",
]
MAPPING_COLUMNS = ["from_code", "to_code", "relation", "note"]

BUILTIN_VERSIONS = {
    "2021": {
        "name": "国家危险废物名录（2021年版）",
        "effective_from": dt.date(2021, 1, 1),
        "legal_basis": "生态环境部 国家发展和改革委员会 公安部 交通运输部 国家卫生健康委员会令 第15号",
        "csv": DATA_DIR / "hazardous_waste_list_2021.csv",
        "exemptions": DATA_DIR / "hazardous_waste_exemption_list_2021.csv",
        "source": "official PDF (部令第15号), mirror Fungwingwaa/cee @22aa4af5; see catalog/data/PROVENANCE.md",
    }
}


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ApplicationError(f"CSV 文件 {path.name} 缺少列：{', '.join(missing)}", field="csv")
            return list(reader)
    except FileNotFoundError:
        raise ApplicationError(f"找不到文件 {path}", field="csv") from None


def _search_text(*parts: str) -> str:
    return " ".join(p for p in parts if p).lower()


def _check_catalogue_rows(rows: list[dict[str, str]]) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        code = row["code"].strip()
        category = row["category"].strip()
        if not CODE_RE.match(code):
            errors.append(f"第 {line} 行 code：{code!r} 不符合 NNN-NNN-NN 格式")
            continue
        if not re.fullmatch(r"HW\d{2}", category) or int(category[2:]) not in VALID_CATEGORY_NUMBERS:
            errors.append(f"第 {line} 行 category：{category!r} 不是有效的危险废物类别")
        elif code[-2:] != category[2:]:
            errors.append(f"第 {line} 行 code：废物代码 {code} 与类别 {category} 不符")
        if code in seen:
            errors.append(f"第 {line} 行 code：{code} 重复")
        seen.add(code)
        hazards = [h for h in row["hazard_list"].split(";") if h]
        bad = [h for h in hazards if h not in HAZARD_CHARACTERISTICS]
        if not hazards or bad:
            errors.append(f"第 {line} 行 hazard_list：危险特性只能是 T、C、I、R、In（得到 {row['hazard_list']!r}）")
        if row["hazard_separator_semantics"] not in HAZARD_SEMANTICS:
            errors.append(f"第 {line} 行 hazard_separator_semantics：未知取值 {row['hazard_separator_semantics']!r}")
    return errors


@transaction.atomic
def catalogue_version_load(
    *,
    key: str,
    name: str,
    effective_from: dt.date,
    csv_path: Path,
    actor: Actor = SYSTEM,
    legal_basis: str = "",
    source: str = "",
    mapping_path: Path | None = None,
    mapping_from: str | None = None,
) -> LoadReport:
    """Load (or reload) one catalogue version from a CSV in the 名录2021 columns.

    All-or-nothing: any bad row refuses the whole file with every error listed.
    """
    transaction.on_commit(cache.invalidate)
    rows = _read_csv(csv_path, CATALOGUE_COLUMNS)
    errors = _check_catalogue_rows(rows)
    if errors:
        raise ApplicationError("名录文件有误，未载入：\n" + "\n".join(errors), field="csv", code="catalogue_invalid")
    clash = CatalogueVersion.objects.filter(effective_from=effective_from).exclude(key=key).first()
    if clash:
        raise ApplicationError(
            f"生效日期 {effective_from} 已被 {clash.name} 使用", field="effective_from", code="duplicate_effective_from"
        )
    version, created = CatalogueVersion.objects.update_or_create(
        key=key,
        defaults={"name": name, "effective_from": effective_from, "legal_basis": legal_basis, "source": source},
    )
    report = LoadReport()
    categories = {c.code: c for c in Category.objects.filter(version=version)}
    for row in rows:
        cat_code = row["category"].strip()
        if cat_code not in categories:
            categories[cat_code] = Category.objects.create(version=version, code=cat_code, name=row["category_name"])
        elif categories[cat_code].name != row["category_name"]:
            categories[cat_code].name = row["category_name"]
            categories[cat_code].save(update_fields=["name"])
    existing = {w.code: w for w in WasteCode.objects.filter(version=version)}
    to_create: list[WasteCode] = []
    to_update: list[WasteCode] = []
    fields = [
        "category",
        "industry_source",
        "description",
        "hazard_raw",
        "hazards",
        "hazard_primary",
        "hazard_semantics",
        "page",
        "search_text",
    ]
    for row in rows:
        category = categories[row["category"].strip()]
        values = {
            "category": category,
            "industry_source": row["industry_source"].strip(),
            "description": row["description"].strip(),
            "hazard_raw": row["hazard"].strip(),
            "hazards": [h for h in row["hazard_list"].split(";") if h],
            "hazard_primary": row["hazard_primary"].strip(),
            "hazard_semantics": row["hazard_separator_semantics"].strip(),
            "page": int(row["page"]) if row.get("page", "").strip().isdigit() else None,
            "search_text": _search_text(
                row["code"], category.code, category.name, row["industry_source"], row["description"]
            ),
        }
        current = existing.pop(row["code"].strip(), None)
        if current is None:
            to_create.append(WasteCode(version=version, code=row["code"].strip(), **values))
            report.created += 1
        elif any(getattr(current, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(current, f, v)
            to_update.append(current)
            report.updated += 1
        else:
            report.unchanged += 1
    WasteCode.objects.bulk_create(to_create)
    if to_update:
        WasteCode.objects.bulk_update(to_update, fields)
    if existing:  # codes no longer in the file
        WasteCode.objects.filter(id__in=[w.id for w in existing.values()]).delete()
        report.updated += len(existing)
    Category.objects.filter(version=version).exclude(code__in=categories).delete()
    Category.objects.filter(version=version, codes__isnull=True).delete()
    if mapping_path is not None:
        if not mapping_from:
            raise ApplicationError("载入代码对照表时必须指明源版本", field="mapping_from")
        _load_mapping(mapping_path, from_key=mapping_from, to_version=version)
    if created or report.created or report.updated:
        cache.invalidate()
        event_record(
            subject=version,
            actor=actor,
            kind="catalog.version_loaded",
            after={"key": key, "codes": len(rows), "created": report.created, "updated": report.updated},
        )
    return report


def _load_mapping(path: Path, *, from_key: str, to_version: CatalogueVersion) -> None:
    from_version = CatalogueVersion.objects.filter(key=from_key).first()
    if from_version is None:
        raise ApplicationError(f"源版本 {from_key} 尚未载入", field="mapping_from")
    rows = _read_csv(path, MAPPING_COLUMNS)
    from_codes = set(WasteCode.objects.filter(version=from_version).values_list("code", flat=True))
    to_codes = set(WasteCode.objects.filter(version=to_version).values_list("code", flat=True))
    relations = set(CodeMapping.Relation.values)
    errors = []
    for line, row in enumerate(rows, start=2):
        if row["relation"] not in relations:
            errors.append(f"第 {line} 行 relation：未知关系 {row['relation']!r}")
        if row["from_code"] and row["from_code"] not in from_codes:
            errors.append(f"第 {line} 行 from_code：{row['from_code']} 不在 {from_version.name} 中")
        if row["to_code"] and row["to_code"] not in to_codes:
            errors.append(f"第 {line} 行 to_code：{row['to_code']} 不在 {to_version.name} 中")
    if errors:
        raise ApplicationError("代码对照表有误：\n" + "\n".join(errors), field="mapping", code="mapping_invalid")
    CodeMapping.objects.filter(from_version=from_version, to_version=to_version).delete()
    CodeMapping.objects.bulk_create(
        CodeMapping(
            from_version=from_version,
            from_code=row["from_code"],
            to_version=to_version,
            to_code=row["to_code"],
            relation=row["relation"],
            note=row.get("note", ""),
        )
        for row in rows
    )


@transaction.atomic
def exemptions_load(*, version_key: str, csv_path: Path) -> int:
    version = CatalogueVersion.objects.get(key=version_key)
    rows = _read_csv(csv_path, ["seq", "category_or_code", "codes", "waste", "stage", "condition", "exemption"])
    ExemptionItem.objects.filter(version=version).delete()
    ExemptionItem.objects.bulk_create(
        ExemptionItem(
            version=version,
            seq=int(row["seq"]),
            category_or_code=row["category_or_code"],
            codes=[c for c in row["codes"].split(";") if c],
            waste=row["waste"],
            stage=row["stage"],
            condition=row["condition"],
            exemption=row["exemption"],
        )
        for row in rows
    )
    return len(rows)


@transaction.atomic
def disposal_methods_load(*, csv_path: Path) -> int:
    rows = _read_csv(csv_path, ["code", "kind", "name_zh", "source"])
    for row in rows:
        DisposalMethod.objects.update_or_create(
            code=row["code"],
            defaults={
                "kind": row["kind"],
                "name": row["name_zh"],
                "source": row["source"][:300],
                "provisional": "UNCONFIRMED" in row["source"],
            },
        )
    transaction.on_commit(cache.invalidate)
    return len(rows)


@transaction.atomic
def regions_load(
    *,
    divisions_csv: Path = DATA_DIR / "jilin_admin_divisions.csv",
    special_csv: Path = DATA_DIR / "special_regions.csv",
    overrides_csv: Path = DATA_DIR / "supervision_overrides.csv",
    neighbours_csv: Path = DATA_DIR / "neighbouring_provinces.csv",
) -> int:
    """Load Jilin's divisions, the special supervision regions and routing overrides, then the
    neighbouring provinces (province and prefecture level) with their own ``province_code``: each
    is supervised by its own province, which nothing in Jilin's tree reaches."""
    by_key: dict[str, Region] = {r.key: r for r in Region.objects.all()}

    def upsert(key: str, **values: object) -> Region:
        region = by_key.get(key)
        if region is None:
            region = Region.objects.create(key=key, **values)
            by_key[key] = region
        else:
            changed = [f for f, v in values.items() if getattr(region, f) != v]
            for f in changed:
                setattr(region, f, values[f])
            if changed:
                region.save(update_fields=changed)
        return region

    rows = [r for r in _read_csv(divisions_csv, ["code6", "name", "level", "parent_code6", "official_gbt2260"])]
    for row in rows:
        if not row["code6"]:
            continue  # 长白山管委会 has no code; special_regions.csv defines it
        level = row["level"]
        official = row["official_gbt2260"] == "yes"
        if level == "county" and not official:
            level = Region.Level.ZONE
        parent = by_key.get(row["parent_code6"]) if row["parent_code6"] else None
        upsert(
            row["code6"],
            code6=row["code6"],
            name=row["name"],
            level=level,
            official=official,
            parent=parent,
            supervisor=parent,
            province_code=HOME_PROVINCE,
            note=row.get("note", ""),
        )
    for row in _read_csv(special_csv, ["key", "name", "level", "parent_key", "supervisor_key", "carved_from_code6"]):
        upsert(
            row["key"],
            code6="",
            name=row["name"],
            level=row["level"],
            official=False,
            parent=by_key[row["parent_key"]],
            supervisor=by_key.get(row["supervisor_key"]),
            carved_from=by_key.get(row["carved_from_code6"]),
            province_code=HOME_PROVINCE,
            note=row.get("note", ""),
        )
    for row in _read_csv(neighbours_csv, ["code6", "name", "level", "parent_code6", "official_gbt2260"]):
        code6, level = row["code6"], row["level"]
        if code6[:2] == HOME_PROVINCE[:2] or level not in (Region.Level.PROVINCE, Region.Level.PREFECTURE):
            raise ApplicationError(f"{neighbours_csv.name}：{code6} 不是外省的省级或地级区划", code="region_invalid")
        parent = by_key.get(row["parent_code6"]) if row["parent_code6"] else None
        upsert(
            code6,
            code6=code6,
            name=row["name"],
            level=level,
            official=row["official_gbt2260"] == "yes",
            parent=parent,
            supervisor=parent,
            province_code=f"{code6[:2]}0000",
            note=row.get("note", ""),
        )
    for row in _read_csv(overrides_csv, ["code6", "supervisor_key"]):
        region = by_key[row["code6"]]
        supervisor = by_key[row["supervisor_key"]]
        if region.supervisor_id != supervisor.id:
            region.supervisor = supervisor
            region.save(update_fields=["supervisor"])
    return len(by_key)


def reference_load(*, actor: Actor = SYSTEM) -> dict[str, int]:
    """Load every bundled reference data set; safe to run again."""
    counts: dict[str, int] = {}
    counts["regions"] = regions_load()
    for key, spec in BUILTIN_VERSIONS.items():
        report = catalogue_version_load(
            key=key,
            name=str(spec["name"]),
            effective_from=spec["effective_from"],  # type: ignore[arg-type]
            csv_path=spec["csv"],  # type: ignore[arg-type]
            legal_basis=str(spec["legal_basis"]),
            source=str(spec["source"]),
            actor=actor,
        )
        counts[f"codes_{key}"] = report.created + report.updated + report.unchanged
        counts[f"exemptions_{key}"] = exemptions_load(version_key=key, csv_path=spec["exemptions"])  # type: ignore[arg-type]
    counts["methods"] = disposal_methods_load(csv_path=DATA_DIR / "disposal_methods.csv")
    return counts
