"""Ledger import benchmark (issue 4, scope item 6): one province-year of 管理台账 records — 1,000,000
rows by default — through the bulk path (``weifei.plans.ledger_import`` → ``ledger_bulk``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/weifei_ledger_bench .venv/bin/python bench/run.py ledger-import
    .venv/bin/python bench/run.py ledger-import --rows 20000          # a quick run
    .venv/bin/python bench/run.py ledger-import --help

Into a freshly migrated database with the reference data (the empty PostgreSQL database
``DATABASE_URL`` names, or a scratch SQLite file), it registers hundreds of sites (generating and
storage facilities, a licensed receiver), writes a realistic CSV in the import template's layout —
chains 产生 → 入库 → 出库 → 委外 spread over the last 365 days, some containers labelled by the
import, quantities in t and kg — and imports it in this process, measuring:

- **parse**: reading the CSV into rows; **validate**: every rule, in memory; **write**: ``COPY``
  of the entries and counters; **events**: one ``ledger.imported`` per site (and the commit);
- **baseline**: a plain ``COPY`` of the same file into a scratch table with text columns and no
  index (PostgreSQL only) — what the database alone needs for the bytes, measured in the same
  run because other processes share the machine; the ratio says what the rules and the indexes
  cost on top.

Acceptance: 1,000,000 rows in under 120 s on PostgreSQL. Checks: every row written, one event
per site, stock per site = generated − sent out, ``weifei audit verify`` intact. Results go to
``bench/results/ledger_import.json`` (and a copy per database vendor).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import harness

REPO = harness.REPO
WASTE_CODES = ("900-249-08", "900-041-49", "900-214-08", "900-252-12", "900-047-49", "900-210-08")
LICENCE = "吉危许基准01"


@dataclass(frozen=True)
class Config:
    rows: int = 1_000_000
    sites: int = 300
    seed: int = 1
    keep: bool = False
    output: str = str(REPO / "bench" / "results" / "ledger_import.json")
    limit_s: float = 120.0


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="bench/run.py ledger-import", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="ledger rows in the file (multiple of 4)")
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (the CSV file)")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "ledger_import.json"))
    args = parser.parse_args(argv)
    if args.rows < 4 or args.sites < 1:
        parser.error("rows must be at least 4 and sites positive")
    return Config(args.rows, args.sites, args.seed, args.keep, args.output)


def _django(env: dict[str, str]) -> None:
    for name in ("WEIFEI_VAR_DIR", "WEIFEI_DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"):
        if name in env:
            os.environ[name] = env[name]
    import django

    django.setup()


# --------------------------------------------------------------------------- the world


def _registry(config: Config) -> list[dict[str, Any]]:
    """Enterprises (two sites each on average), each site with a generating and a storage
    facility, and one licensed operator covering the codes; returns the sites."""
    from weifei.catalog.models import Region
    from weifei.core.actors import SYSTEM
    from weifei.exchange.synthetic import credit_code
    from weifei.registry import services as registry

    rng = random.Random(config.seed)
    regions = list(Region.objects.filter(level="county").order_by("key").values_list("key", "code6"))
    operator = registry.enterprise_create(
        actor=SYSTEM, credit_code=credit_code(900_001, "220102", seed=config.seed), name="吉林省基准处置有限公司",
        region_key="220102", roles=("is_operator",),
    )  # fmt: skip
    registry.licence_create(
        actor=SYSTEM, holder=operator, number=LICENCE, kind="comprehensive", methods=["disposal", "utilization"],
        annual_capacity_tonnes=Decimal(1_000_000), valid_from=dt.date.today() - dt.timedelta(days=800),
        categories=["HW08", "HW12", "HW49"],
    )  # fmt: skip
    sites: list[dict[str, Any]] = []
    enterprises = max(1, config.sites // 2)
    units = []
    for n in range(enterprises):
        key, code6 = regions[rng.randrange(len(regions))]
        units.append(
            registry.enterprise_create(
                actor=SYSTEM,
                credit_code=credit_code(n + 1, code6, seed=config.seed),
                name=f"吉林省台账基准第{n + 1}有限公司",
                region_key=key,
                roles=("is_generator",),
            )
        )
    for i in range(config.sites):
        unit = units[i % enterprises]
        site = registry.site_create(
            actor=SYSTEM, enterprise=unit, name=f"{i // enterprises + 1}号厂区", address=f"吉林省台账路 {i + 1} 号",
            region_key=unit.region.key, roles=["generator"],
        )  # fmt: skip
        gen = registry.facility_create(actor=SYSTEM, site=site, kind="generating", name="生产线")
        store = registry.facility_create(
            actor=SYSTEM, site=site, kind="storage", name="贮存库", storage_capacity_tonnes=Decimal(500)
        )
        sites.append({"id": site.id, "gen": gen.code, "store": store.code})
    return sites


def _write_file(path: Path, config: Config, sites: list[dict[str, Any]], tag: str = "") -> dict[str, int]:
    """Chains 产生 → 入库 → 出库 → 委外 (4 rows each) over the last 365 days, site by site in time
    order; 产生/入库/出库 carry batch codes (later rows refer to them), 委外 codes are allocated."""
    from weifei.plans.ledger_import import COLUMNS

    rng = random.Random(config.seed)
    chains = config.rows // 4
    per_site = [chains // len(sites) + (1 if i < chains % len(sites) else 0) for i in range(len(sites))]
    end = dt.datetime.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    start = end - dt.timedelta(days=365)
    fields = [c.field for c in COLUMNS]
    index = {name: i for i, name in enumerate(fields)}
    labelled = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([c.header for c in COLUMNS])
        for site, n in zip(sites, per_site, strict=True):
            if n == 0:
                continue
            step = dt.timedelta(minutes=max(1, int(365 * 24 * 60 / n)))
            at = start
            for k in range(n):
                at += step
                code = WASTE_CODES[rng.randrange(len(WASTE_CODES))]
                kg = rng.random() < 0.3
                tonnes = Decimal(rng.randrange(50, 5000)) / 1000
                g, i, o = f"G{tag}{k:06d}", f"I{tag}{k:06d}", f"O{tag}{k:06d}"
                label = rng.random() < 0.25
                labelled += label
                for kind, values in (
                    ("产生", {"batch_code": g, "waste_code": code, "facility_code": site["gen"],
                              "quantity": str(tonnes * 1000) if kg else str(tonnes), "unit": "kg" if kg else "t",
                              "label": "是" if label else "", "container_code": "" if label else f"C{tag}{k:06d}",
                              "container_type": "桶", "handler": "张三"}),
                    ("入库", {"batch_code": i, "source_batch": g, "quantity": str(tonnes),
                              "facility_code": site["store"], "handler": "李四"}),
                    ("出库", {"batch_code": o, "source_batch": i, "quantity": str(tonnes),
                              "facility_code": site["store"], "destination": "委外处置"}),
                    ("委外", {"source_batch": o, "quantity": str(tonnes), "method_code": "D10",
                              "receiver_type": "经营许可证持有单位", "licence_number": LICENCE}),
                ):  # fmt: skip
                    row = [""] * len(fields)
                    row[index["kind"]] = kind
                    row[index["site_id"]] = str(site["id"])
                    row[index["occurred_at"]] = at.strftime("%Y-%m-%d %H:%M")
                    for name, value in values.items():
                        row[index[name]] = value
                    writer.writerow(row)
    return {"chains": chains, "labelled": labelled}


# --------------------------------------------------------------------------- measuring


def _baseline(path: Path) -> dict[str, Any]:
    """A plain COPY of the same CSV into a scratch table of text columns, no index, no check."""
    from django.db import connection

    from weifei.plans.ledger_import import COLUMNS

    columns = ", ".join(f"c{i} text" for i in range(len(COLUMNS)))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_ledger_copy")
        cursor.execute(f"CREATE TABLE bench_ledger_copy ({columns})")
        raw = cursor.cursor
        with path.open("rb") as f, raw.copy("COPY bench_ledger_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        cursor.execute("SELECT count(*) FROM bench_ledger_copy")
        count = cursor.fetchone()[0]
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_ledger_copy")
    return {"seconds": round(seconds, 2), "rows": count}


def run(config: Config) -> dict[str, Any]:
    url = harness.database_url()
    report: dict[str, Any] = {
        "benchmark": "ledger_import",
        "date": harness.now_iso(),
        "machine": harness.machine_description(),
        "software": harness.software_description(),
        "database": harness.database_description(url),
        "config": {"rows": config.rows, "sites": config.sites, "seed": config.seed, "limit_s": config.limit_s},
    }
    var_dir = harness.make_scratch_dir()
    env = harness.server_environment(var_dir)
    print(f"bench: database {report['database']}; scratch dir {var_dir}", flush=True)
    problems: list[str] = []
    try:
        harness.prepare_database(env)
        _django(env)
        from django.db import connection

        from weifei.core.actors import SYSTEM
        from weifei.core.models import Event
        from weifei.plans import ledger
        from weifei.plans.ledger_import import ledger_file_import
        from weifei.plans.models import LedgerEntry
        from weifei.registry.models import Enterprise

        if Enterprise.objects.exists():
            raise RuntimeError("the bench database already holds enterprises: give the benchmark an empty database")
        started = time.perf_counter()
        sites = _registry(config)
        report["setup_s"] = round(time.perf_counter() - started, 2)
        path = var_dir / "ledger.csv"
        started = time.perf_counter()
        shape = _write_file(path, config, sites)
        report["file"] = {
            "rows": shape["chains"] * 4,
            "labelled_containers": shape["labelled"],
            "bytes": path.stat().st_size,
            "generate_s": round(time.perf_counter() - started, 2),
        }
        if connection.vendor == "postgresql":
            print("bench: baseline COPY …", flush=True)
            report["baseline_copy"] = _baseline(path)
        print(f"bench: importing {report['file']['rows']} rows …", flush=True)
        events_before = Event.objects.count()
        started = time.perf_counter()
        outcome = ledger_file_import(actor=SYSTEM, data=path.read_bytes(), file_name=path.name)
        wall = time.perf_counter() - started
        report["import"] = {
            "wall_s": round(wall, 2),
            "rows_per_s": round(outcome.imported / wall) if wall else None,
            "imported": outcome.imported,
            "seconds": outcome.seconds,
            "errors": outcome.errors[:20],
            "error_count": outcome.error_count,
        }
        if "baseline_copy" in report and report["baseline_copy"]["seconds"]:
            report["import"]["ratio_to_copy"] = round(wall / report["baseline_copy"]["seconds"], 1)
        if outcome.error_count or outcome.imported != report["file"]["rows"]:
            problems.append(f"imported {outcome.imported} of {report['file']['rows']}, {outcome.error_count} errors")
        if wall >= config.limit_s and config.rows >= 1_000_000:
            problems.append(f"import took {wall:.1f} s (limit {config.limit_s} s)")
        written = LedgerEntry.objects.count()
        events = Event.objects.count() - events_before
        report["checks"] = {"entries": written, "events": events}
        if written != report["file"]["rows"]:
            problems.append(f"{written} entries in the database")
        if events != len(sites):
            problems.append(f"{events} events for {len(sites)} sites")
        for site in sites[:3]:
            stock = ledger.site_stock(actor=SYSTEM, site_id=site["id"])
            if any(s["stock"] != 0 or s["generated"] != s["sent_out"] for s in stock):
                problems.append(f"site {site['id']}: stock {stock}")
        report["audit_verify"] = harness.audit_verify(env)
        if not report["audit_verify"]["ok"]:
            problems.append(f"audit verify: {report['audit_verify']['output']}")
    except Exception as exc:
        problems.append(f"{exc.__class__.__name__}: {exc}")
    finally:
        harness.report_close(report, problems, var_dir, keep=config.keep)
    return report


def print_report(report: dict[str, Any]) -> None:
    db = report["database"]
    print(f"\nledger import — {db.get('vendor')} {db.get('version', '')}, {report['machine']['nproc']} cores")
    if "file" in report:
        f = report["file"]
        print(f"file: {f['rows']} rows, {f['bytes'] / 1e6:.1f} MB (generated in {f['generate_s']} s)")
    if "baseline_copy" in report:
        print(f"baseline COPY of the file: {report['baseline_copy']['seconds']} s")
    if "import" in report:
        i = report["import"]
        print(f"import: {i['wall_s']} s, {i['rows_per_s']} rows/s, split {i['seconds']}")
        if "ratio_to_copy" in i:
            print(f"ratio to the plain COPY: {i['ratio_to_copy']}×")
    if "audit_verify" in report:
        print(f"audit verify: {report['audit_verify']['output']} ({report['audit_verify']['wall_s']} s)")
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}")
    print(f"status: {report['status']}")


def main(config: Config) -> int:
    report = run(config)
    print_report(report)
    out = Path(config.output)
    harness.write_json(out, report)
    per_vendor = out.with_name(f"{out.stem}.{report['database']['vendor']}{out.suffix}")
    harness.write_json(per_vendor, report)
    print(f"results: {out} (and {per_vendor.name})")
    return 0 if report["status"] == "ok" else 1
