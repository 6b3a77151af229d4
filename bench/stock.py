"""Stock benchmark (issue 4, scope item 4): the stock of one site holding 100,000 labelled containers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/weifei_stock .venv/bin/python bench/run.py stock
    .venv/bin/python bench/run.py stock --containers 20000 --runs 100
    .venv/bin/python bench/run.py stock --help

Into the database ``DATABASE_URL`` names (migrated here; reference data loaded), it builds — with
``bulk_create``, bypassing the services, as a bulk importer would — one generator site with
``--containers`` labelled containers over two years, each through the ledger chain: 产生 and 入库 for
all; 出库 then 委外 (most) or 自行利用/处置 (some) for those 30–120 days old and older; a few stay
in store past 9–12 months; a few 委外 are reversed. A site already built by an earlier run (same
name and size) is reused (``--rebuild`` drops nothing: use a fresh database to rebuild).

Then, after ``VACUUM ANALYZE``, it times in-process, ``--runs`` times each after a warm-up:

1. ``stock_by_code`` (the per-waste-code stock now; acceptance: p95 < 100 ms on PostgreSQL);
2. ``stock_by_code`` as of a past instant (``at``);
3. ``stock_by_facility``;
4. ``stock_containers`` (the first page, 50 oldest, with the counts per ageing level);
5. the baseline: ``SELECT count(*) FROM plans_ledgerentry WHERE site_id = …`` in the same run,

and reports p50/p95 and each one's ratio to the baseline (the current per-code stock and the
containers come from the incremental cache once warm: the worst of three cold calls, cache
emptied, is reported too); then one ``stock_ageing_sweep`` over the
whole database, twice (the second must raise nothing). Results go to ``bench/results/stock.json``
and a copy per database vendor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import harness

REPO = harness.REPO
SITE_NAME = "库存基准场所"
FILLER_SITES = 3
CODES = ("900-249-08", "900-041-49", "900-047-49", "336-064-17")


@dataclass(frozen=True)
class Config:
    containers: int = 100_000
    runs: int = 50
    warmup: int = 5
    seed: int = 4
    output: str = str(REPO / "bench" / "results" / "stock.json")
    limit_ms: float = 100.0


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="bench/run.py stock", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--containers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "stock.json"))
    args = parser.parse_args(argv)
    if args.containers < 1 or args.runs < 1 or args.warmup < 0:
        parser.error("containers and runs must be positive")
    return Config(args.containers, args.runs, args.warmup, args.seed, args.output)


def _django(env: dict[str, str]) -> None:
    for name in ("WEIFEI_VAR_DIR", "WEIFEI_DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"):
        if name in env:
            os.environ[name] = env[name]
    import django

    django.setup()


# --------------------------------------------------------------------------- building the ledger


def _credit_code() -> str:
    """A valid 统一社会信用代码 for the bench unit (GB 32100 check character computed)."""
    from stdnum.cn import uscc

    body = "91220101MA0BENCH0"
    return body + uscc.calc_check_digit(body)


def build(config: Config) -> dict[str, Any]:
    """The bench site and its ledger, or the one an earlier run built. Returns ids and counts."""
    from django.db import transaction

    from weifei.core.actors import SYSTEM
    from weifei.plans.models import LedgerEntry
    from weifei.registry import services as registry
    from weifei.registry.models import Enterprise, Facility, Site

    site = Site.objects.filter(name=SITE_NAME).first()
    if site is not None:
        n = LedgerEntry.objects.filter(site=site, kind="generated", reversal_of__isnull=True).count()
        if n != config.containers:
            raise RuntimeError(f"the bench site exists with {n} containers, not {config.containers}: use a fresh DB")
        _fillers(site)
        return {"site_id": site.id, "enterprise_id": site.enterprise_id, "built": False, "build_s": 0.0}

    started = time.perf_counter()
    rng = random.Random(config.seed)
    credit = _credit_code()
    with transaction.atomic():
        unit = registry.enterprise_create(actor=SYSTEM, credit_code=credit, name="库存基准化工有限公司",
                                          region_key="220102", roles=("is_generator",))  # fmt: skip
        receiver = Enterprise.objects.filter(is_operator=True).first() or registry.enterprise_create(
            actor=SYSTEM, credit_code="911302307808371268", name="库存基准处置有限公司", region_key="220102",
            roles=("is_operator",),
        )  # fmt: skip
        site = registry.site_create(actor=SYSTEM, enterprise=unit, name=SITE_NAME, address="南关区基准路1号",
                                    region_key="220102", roles=["generator"])  # fmt: skip
        gen_fac = registry.facility_create(actor=SYSTEM, site=site, kind="generating", name="生产线")
        stores = [
            registry.facility_create(
                actor=SYSTEM, site=site, kind="storage", name=f"贮存库{i}", storage_capacity_tonnes=Decimal(cap)
            )
            for i, cap in ((1, 1500), (2, 800))
        ]
        disp = registry.facility_create(actor=SYSTEM, site=site, kind="disposal", name="焚烧炉",
                                       design_capacity_tonnes=Decimal(500))  # fmt: skip
    assert isinstance(gen_fac, Facility)

    today = dt.date.today()
    tz = dt.timezone(dt.timedelta(hours=8))
    start = today - dt.timedelta(days=730)
    per_day = max(1, config.containers // 730 + 1)
    seqs: dict[tuple[str, dt.date], int] = {}

    def next_seq(prefix: str, day: dt.date) -> int:
        seqs[(prefix, day)] = seqs.get((prefix, day), 0) + 1
        return seqs[(prefix, day)]

    def batch(prefix: str, day: dt.date) -> str:
        return f"{prefix}{day:%Y%m%d}{next_seq(prefix, day):03d}"

    def entry(kind: str, when: dt.datetime, code: str, qty: Decimal, **kw: Any) -> LedgerEntry:
        return LedgerEntry(site=site, kind=kind, occurred_at=when, waste_code=code, category=f"HW{code[-2:]}",
                           quantity_tonnes=qty, entered_quantity=qty, entered_unit="t", container_type="钢桶",
                           container_litres=Decimal(200), **kw)  # fmt: skip

    gens: list[LedgerEntry] = []
    plans: list[tuple[int, int, str]] = []  # per container: days to 入库 → out (−1 stays), how
    for i in range(config.containers):
        day = start + dt.timedelta(days=i // per_day)
        when = dt.datetime.combine(day, dt.time(8 + (i % per_day) * 10 // per_day, (i * 7) % 60), tzinfo=tz)
        code = CODES[rng.randrange(len(CODES)) if rng.random() < 0.4 else 0]
        label = f"{credit}{code.replace('-', '')}{day:%Y%m%d}{next_seq('L' + code, day):03d}"
        qty = Decimal(rng.randrange(50, 500)) / 1000
        gens.append(entry("generated", when, code, qty, batch_code=batch("HWCS", day), container_code=label,
                          facility=gen_fac))  # fmt: skip
        age = (today - day).days
        if age < 30 or rng.random() < 0.03:  # recent, or a straggler that ages in store
            plans.append((rng.randrange(0, 2), -1, ""))
        else:
            out_after = rng.randrange(30, min(120, age) + 1)
            plans.append((rng.randrange(0, 2), out_after, "self" if rng.random() < 0.06 else "sent"))
    LedgerEntry.objects.bulk_create(gens, batch_size=5000)

    ins = []
    for g, (in_after, _out, _how) in zip(gens, plans, strict=True):
        when = g.occurred_at + dt.timedelta(days=in_after, hours=1)
        ins.append(entry("stored_in", when, g.waste_code, g.quantity_tonnes, batch_code=batch("HWRK", when.date()),
                         container_code=g.container_code, source=g, facility=stores[g.id % 5 == 0]))  # fmt: skip
    LedgerEntry.objects.bulk_create(ins, batch_size=5000)

    outs, leaving = [], []
    for g, i, (_in, out_after, how) in zip(gens, ins, plans, strict=True):
        if out_after < 0:
            continue
        when = g.occurred_at + dt.timedelta(days=out_after, hours=2)
        outs.append(entry("stored_out", when, g.waste_code, g.quantity_tonnes, batch_code=batch("HWCK", when.date()),
                          container_code=g.container_code, source=i, facility=i.facility))  # fmt: skip
        leaving.append(how)
    LedgerEntry.objects.bulk_create(outs, batch_size=5000)

    finals = []
    for o, how in zip(outs, leaving, strict=True):
        when = o.occurred_at + dt.timedelta(hours=1)
        if how == "self":
            finals.append(entry("self_treated", when, o.waste_code, o.quantity_tonnes, source=o, facility=disp,
                                batch_code=batch("HWZXCZ", when.date()), container_code=o.container_code,
                                method_code="D10", finished_at=when))  # fmt: skip
        else:
            finals.append(entry("sent_out", when, o.waste_code, o.quantity_tonnes, source=o,
                                batch_code=batch("HWWWCZ", when.date()), container_code=o.container_code,
                                method_code="D10", receiver_type="licensed", receiver=receiver,
                                receiver_name=receiver.name, licence_number="吉危许基准01"))  # fmt: skip
    LedgerEntry.objects.bulk_create(finals, batch_size=5000)

    reversals = []
    for f in rng.sample(finals, min(len(finals), max(1, config.containers // 500))):
        reversals.append(entry(f.kind, f.occurred_at, f.waste_code, -f.quantity_tonnes, source=f.source,
                               batch_code=f"{f.batch_code}C", container_code=f.container_code, reversal_of=f,
                               method_code=f.method_code, reason="基准：误录冲销"))  # fmt: skip
    LedgerEntry.objects.bulk_create(reversals, batch_size=5000)
    _fillers(site)
    return {
        "site_id": site.id,
        "enterprise_id": unit.id,
        "built": True,
        "build_s": round(time.perf_counter() - started, 1),
        "rows": {
            "generated": len(gens),
            "stored_in": len(ins),
            "stored_out": len(outs),
            "final": len(finals),
            "reversals": len(reversals),
        },
    }


def _fillers(site: Any, count: int = FILLER_SITES) -> None:
    """Other sites' rows, so that the bench site is a part of the table as in a province (the
    planner then reads it through the indexes, as it would in production): copies of the bench
    site's 入库/出库 rows without chain or facility (they hold no containers and no facility stock)."""
    from django.db import connection

    from weifei.core.actors import SYSTEM
    from weifei.plans.models import LedgerEntry
    from weifei.registry import services as registry
    from weifei.registry.models import Site

    table = LedgerEntry._meta.db_table
    columns = [f.column for f in LedgerEntry._meta.concrete_fields if f.column not in ("id", "site_id")]
    plain = ", ".join(columns)
    copied = ", ".join("NULL" if c in ("source_id", "facility_id") else c for c in columns)
    for n in range(1, count + 1):
        name = f"{SITE_NAME}（其他场所{n}）"
        if Site.objects.filter(name=name).exists():
            continue
        other = registry.site_create(actor=SYSTEM, enterprise=site.enterprise, name=name, address=f"基准路{n}号",
                                     region_key="220102", roles=["generator"])  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (site_id, {plain}) SELECT %s, {copied} FROM {table} "
                "WHERE site_id = %s AND kind IN ('stored_in', 'stored_out') AND reversal_of_id IS NULL",
                [other.id, site.id],
            )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else "ANALYZE")


# --------------------------------------------------------------------------- timing


def _time(fn: Callable[[], Any], runs: int, warmup: int) -> tuple[dict[str, float], Any]:
    result = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return harness.latency_summary(samples), result


def measure(config: Config, built: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from weifei.core.actors import SYSTEM, Actor
    from weifei.plans import stock
    from weifei.plans.models import LedgerEntry

    site_id = built["site_id"]
    actor = Actor(kind="enterprise", user_id=None, label="bench", enterprise_ids=frozenset({built["enterprise_id"]}),
                  memberships=frozenset({(built["enterprise_id"], "reader")}))  # fmt: skip
    past = timezone.now() - dt.timedelta(days=365)
    table = LedgerEntry._meta.db_table

    def baseline() -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE site_id = %s", [site_id])
            return int(cursor.fetchone()[0])

    cases: dict[str, Callable[[], Any]] = {
        "baseline_count": baseline,
        "stock_by_code": lambda: stock.stock_by_code(actor=actor, site_id=site_id),
        "stock_by_code_at": lambda: stock.stock_by_code(actor=actor, site_id=site_id, at=past),
        "stock_by_facility": lambda: stock.stock_by_facility(actor=actor, site_id=site_id),
        "stock_containers_page": lambda: stock.stock_containers(actor=actor, site_id=site_id, limit=50),
    }
    from django.core.cache import cache

    cold: dict[str, float] = {}  # the first call after the cache was emptied (the full computation)
    for _ in range(3):
        for name in ("stock_by_code", "stock_containers_page"):
            cache.clear()
            t0 = time.perf_counter()
            cases[name]()
            cold[name] = max(cold.get(name, 0.0), round((time.perf_counter() - t0) * 1000, 2))
    timings: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for _round in range(2):  # interleave: the baseline is measured next to each case, twice
        for name, fn in cases.items():
            summary, results[name] = _time(fn, config.runs // 2 + config.runs % 2, config.warmup)
            timings.setdefault(name, []).append(summary)
    merged = {}
    for name, parts in timings.items():
        merged[name] = {k: round(max(p[k] for p in parts), 2) for k in ("p50_ms", "p95_ms", "max_ms")}
        merged[name]["runs"] = (config.runs // 2 + config.runs % 2) * 2
    base = merged["baseline_count"]
    for name, m in merged.items():
        if name != "baseline_count":
            m["ratio_p50"] = round(m["p50_ms"] / base["p50_ms"], 2) if base["p50_ms"] else None
            m["ratio_p95"] = round(m["p95_ms"] / base["p95_ms"], 2) if base["p95_ms"] else None
    containers = results["stock_containers_page"]
    facts = {
        "ledger_rows": results["baseline_count"],
        "codes": len(results["stock_by_code"]["items"]),
        "stock_tonnes": str(results["stock_by_code"]["totals"]["stock"]),
        "containers_on_site": sum(containers["counts"].values()),
        "containers_by_level": containers["counts"],
        "facilities": [
            (f["code"], str(f["in_store"]), str(f["capacity_tonnes"])) for f in results["stock_by_facility"]["items"]
        ],
    }
    facts["annual_declaration"] = _annual_declaration(site_id, config)
    sweeps = []
    for _ in range(2):
        t0 = time.perf_counter()
        counts = stock.stock_ageing_sweep(actor=SYSTEM)
        sweeps.append({"seconds": round(time.perf_counter() - t0, 2), **counts})
    return {"timings": merged, "cold_max_ms": cold, "facts": facts, "sweeps": sweeps}


def _annual_declaration(site_id: int, config: Config) -> dict[str, Any]:
    """Acceptance (issue 4): a key unit's annual declaration generated from its ledger in under 1 s.
    The bench site is made 重点 (key) for this; each run generates last year's annual declaration
    and is rolled back, so every run does the full work."""
    from django.db import transaction
    from django.utils import timezone

    from weifei.core.actors import SYSTEM
    from weifei.plans import declarations
    from weifei.registry.models import ManagementClass, Site

    key = ManagementClass.KEY
    Site.objects.filter(id=site_id).update(management_class=key, management_class_override=key)
    year = timezone.localdate().year - 1
    rows: list[int] = []

    def annual() -> int:
        with transaction.atomic():
            declaration = declarations.declaration_generate(
                actor=SYSTEM, site_id=site_id, kind="annual", period_start=dt.date(year, 1, 1)
            )
            transaction.set_rollback(True)
        rows.append(len(declaration.content["rows"]))
        return declaration.id

    summary, _ = _time(annual, max(10, config.runs // 5), 2)
    from weifei.plans.models import LedgerEntry

    in_year = LedgerEntry.objects.filter(site_id=site_id, occurred_at__year=year).count()
    return {**summary, "year": year, "ledger_rows_in_year": in_year, "waste_codes": rows[-1], "limit_ms": 1000.0}


def run(config: Config) -> dict[str, Any]:
    url = harness.database_url()
    report: dict[str, Any] = {
        "benchmark": "stock",
        "date": harness.now_iso(),
        "machine": harness.machine_description(),
        "software": harness.software_description(),
        "database": harness.database_description(url),
        "config": {
            "containers": config.containers,
            "runs": config.runs,
            "warmup": config.warmup,
            "seed": config.seed,
            "limit_ms": config.limit_ms,
        },
    }
    var_dir = harness.make_scratch_dir()
    env = harness.server_environment(var_dir)
    problems: list[str] = []
    try:
        if report["database"].get("vendor") != "postgresql":
            problems.append("the acceptance figure is for PostgreSQL: set DATABASE_URL")
        harness.prepare_database(env)
        _django(env)
        print(f"bench: building a site with {config.containers} containers (or reusing it) …", flush=True)
        report["build"] = build(config)
        print(f"bench: built in {report['build']['build_s']} s; timing …", flush=True)
        report.update(measure(config, report["build"]))
        p95 = report["timings"]["stock_by_code"]["p95_ms"]
        if p95 >= config.limit_ms:
            problems.append(f"stock_by_code p95 {p95} ms (limit {config.limit_ms} ms)")
        annual = report["facts"]["annual_declaration"]
        if annual["p95_ms"] >= annual["limit_ms"]:
            problems.append(f"annual declaration p95 {annual['p95_ms']} ms (limit {annual['limit_ms']} ms)")
        if report["sweeps"][1]["raised"] or report["sweeps"][1]["resolved"]:
            problems.append(f"the second sweep changed findings: {report['sweeps'][1]}")
    except Exception as exc:
        problems.append(f"{exc.__class__.__name__}: {exc}")
    finally:
        harness.remove_scratch_dir(var_dir)
        report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        report["problems"] = problems
        report["status"] = "ok" if not problems else "failed"
    return report


def print_report(report: dict[str, Any]) -> None:
    db = report["database"]
    print(f"\nstock — {db.get('vendor')} {db.get('version', '')}, {report['machine']['nproc']} cores")
    if "build" in report:
        print(f"site {report['build']['site_id']}: built={report['build']['built']} {report['build'].get('rows', '')}")
    for name, m in report.get("timings", {}).items():
        ratio = f"  ×{m.get('ratio_p50')} / ×{m.get('ratio_p95')} of baseline" if "ratio_p50" in m else ""
        print(f"{name:>22}: p50 {m['p50_ms']:8.2f} ms  p95 {m['p95_ms']:8.2f} ms  max {m['max_ms']:8.2f} ms{ratio}")
    if "cold_max_ms" in report:
        print(f"cold (cache emptied, worst of 3): {report['cold_max_ms']}")
    if "facts" in report:
        print(f"facts: {report['facts']}")
    for i, s in enumerate(report.get("sweeps", []), 1):
        print(f"sweep {i}: {s}")
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


if __name__ == "__main__":
    sys.exit(main(parse_args()))
