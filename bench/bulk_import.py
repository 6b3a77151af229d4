"""Bulk import benchmark (issue 3, item 5): 10,000 enterprises, 20,000 sites and 5,000 vehicles
from one JSON Lines file, end to end through ``weifei import``.

    .venv/bin/python bench/run.py import
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/weifei_import .venv/bin/python bench/run.py import

Into a freshly migrated database with the reference data loaded (a scratch SQLite file, or the
empty PostgreSQL database ``DATABASE_URL`` names), it measures, each as the wall time of a
``weifei import`` subprocess (Python start-up and Django set-up included):

1. **first run**: the file is imported (acceptance: under 60 s on the 2-core machine);
2. **second run**: the same file again must change nothing (0 created, 0 updated, no new
   event, no new row);
3. **refusal**: a copy of the file with errors of every kind (bad check character, unknown
   region, plate format, expired vehicle, unknown carrier, a repeated key, an unknown type and
   version, malformed JSON) must be refused whole, every error listed and nothing written;

then ``weifei audit verify`` must report the event chains intact. Results go to
``bench/results/bulk_import.json`` and a copy per database vendor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness

REPO = harness.REPO


@dataclass(frozen=True)
class Config:
    enterprises: int = 10_000
    sites: int = 20_000
    vehicles: int = 5_000
    seed: int = 1
    keep: bool = False
    output: str = str(REPO / "bench" / "results" / "bulk_import.json")
    limit_s: float = 60.0


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="bench/run.py import", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--vehicles", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (files, SQLite database)")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "bulk_import.json"))
    args = parser.parse_args(argv)
    if args.enterprises < 1 or args.sites < 0 or args.vehicles < 0:
        parser.error("enterprises must be positive; sites and vehicles not negative")
    return Config(args.enterprises, args.sites, args.vehicles, args.seed, args.keep, args.output)


# --------------------------------------------------------------------------- in-process Django


def _django(env: dict[str, str]) -> None:
    """Set Django up in this process on the bench database (for generating and counting)."""
    for name in ("WEIFEI_VAR_DIR", "WEIFEI_DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"):
        if name in env:
            os.environ[name] = env[name]
    import django

    django.setup()


def _counts() -> dict[str, int]:
    from weifei.core.models import Event, EventStream
    from weifei.registry.models import Enterprise, Site, Vehicle

    return {
        "enterprises": Enterprise.objects.count(),
        "sites": Site.objects.count(),
        "vehicles": Vehicle.objects.count(),
        "events": Event.objects.count(),
        "streams": EventStream.objects.count(),
    }


def _records(config: Config, today: dt.date, *, first: int = 0) -> list[dict[str, Any]]:
    from weifei.catalog.models import Region
    from weifei.exchange.synthetic import registry_records

    regions = list(
        Region.objects.filter(level__in=["county", "zone", "area"]).order_by("key").values_list("key", "code6")
    )
    return list(
        registry_records(
            regions=regions,
            enterprises=config.enterprises,
            sites=config.sites,
            vehicles=config.vehicles,
            today=today,
            seed=config.seed,
            first=first,
        )
    )


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _with_errors(config: Config, today: dt.date) -> tuple[list[str], list[dict[str, Any]]]:
    """A file of the same size with new records (numbered after the first file's, so nothing in
    it exists yet) and one error of each kind; returns the lines and the (line, code) expected."""
    records = _records(config, today, first=400_000)
    expected: list[tuple[int, str]] = []
    ents = [i for i, r in enumerate(records) if r["type"] == "enterprise"]
    vehicles = [i for i, r in enumerate(records) if r["type"] == "vehicle"]
    code = records[ents[-1]]["credit_code"]
    bad_check = code[:-1] + ("1" if code[-1] != "1" else "2")
    records[ents[-1]]["credit_code"] = bad_check
    expected.append((ents[-1], "credit_code_checksum"))
    region_code = records[ents[-2]]["credit_code"]
    records[ents[-2]]["region"] = "999999"
    expected.append((ents[-2], "region_not_found"))
    for i, record in enumerate(records):  # the sites of both now refer to records with errors
        if record["type"] == "site" and record["enterprise"] in (code, region_code):
            record["enterprise"] = bad_check if record["enterprise"] == code else region_code
            expected.append((i, "reference_invalid"))
    if len(vehicles) >= 3:
        records[vehicles[0]]["plate"] = "吉A1234"
        expected.append((vehicles[0], "plate_format"))
        records[vehicles[1]]["valid_until"] = (today - dt.timedelta(days=1)).isoformat()
        expected.append((vehicles[1], "vehicle_expired"))
        records[vehicles[2]]["carrier"] = "91220101MA0000000X"
        expected.append((vehicles[2], "reference_not_found"))
    lines = [_line(r) for r in records]
    tail = [
        (lines[ents[0]], "duplicate_in_file"),
        (_line({"type": "truck", "version": 1}), "unknown_type"),
        (_line({"type": "site", "version": 2}), "unsupported_version"),
        ('{"type": "enterprise", "version": 1, "credit_code": ', "json_invalid"),
    ]
    for line, error in tail:
        lines.append(line)
        expected.append((len(lines) - 1, error))
    return lines, [{"line": i + 1, "code": c} for i, c in sorted(expected)]


# --------------------------------------------------------------------------- measuring


def _import(path: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        harness.weifei_command("import", str(path), "--json"), cwd=REPO, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        output = f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        raise RuntimeError(f"weifei import failed ({done.returncode}):\n{output}") from None
    return {"wall_s": round(wall, 2), "exit_status": done.returncode, "report": report}


def run(config: Config) -> dict[str, Any]:
    url = harness.database_url()
    report: dict[str, Any] = {
        "benchmark": "bulk_import",
        "date": harness.now_iso(),
        "machine": harness.machine_description(),
        "software": harness.software_description(),
        "database": harness.database_description(url),
        "config": {
            "enterprises": config.enterprises,
            "sites": config.sites,
            "vehicles": config.vehicles,
            "seed": config.seed,
            "limit_s": config.limit_s,
        },
    }
    var_dir = harness.make_scratch_dir()
    env = harness.server_environment(var_dir)
    print(f"bench: database {report['database']}; scratch dir {var_dir}", flush=True)
    problems: list[str] = []
    try:
        harness.prepare_database(env)
        _django(env)
        if _counts()["enterprises"]:
            raise RuntimeError("the bench database already holds enterprises: give the benchmark an empty database")
        today = dt.date.today()
        good, bad = var_dir / "registry.jsonl", var_dir / "registry-with-errors.jsonl"
        started = time.perf_counter()
        _write(good, [_line(r) for r in _records(config, today)])
        bad_lines, expected_errors = _with_errors(config, today)
        _write(bad, bad_lines)
        report["file"] = {
            "lines": sum(1 for _ in good.open(encoding="utf-8")),
            "bytes": good.stat().st_size,
            "generate_s": round(time.perf_counter() - started, 2),
        }

        before = _counts()
        print(f"bench: importing {report['file']['lines']} records …", flush=True)
        first = _import(good, env)
        after_first = _counts()
        first["rows_added"] = {k: after_first[k] - before[k] for k in before}
        report["first_run"] = first
        counts = first["report"]["counts"]
        for kind, wanted in (("enterprise", config.enterprises), ("site", config.sites), ("vehicle", config.vehicles)):
            if wanted and counts.get(kind, {}).get("created") != wanted:
                problems.append(f"first run: {kind} created {counts.get(kind)} (expected {wanted})")
        if first["exit_status"] != 0:
            problems.append(f"first run exit status {first['exit_status']}")
        if first["wall_s"] >= config.limit_s:
            problems.append(f"first run took {first['wall_s']} s (limit {config.limit_s} s)")

        print("bench: importing the same file again …", flush=True)
        second = _import(good, env)
        after_second = _counts()
        second["rows_added"] = {k: after_second[k] - after_first[k] for k in before}
        report["second_run"] = second
        changed = {kind: c for kind, c in second["report"]["counts"].items() if c["created"] or c["updated"]}
        if changed or any(second["rows_added"].values()):
            problems.append(f"second run changed something: {changed} {second['rows_added']}")

        print("bench: importing a file with errors …", flush=True)
        refusal = _import(bad, env)
        after_refusal = _counts()
        refusal["rows_added"] = {k: after_refusal[k] - after_second[k] for k in before}
        listed = {(e["line"], e["code"]) for e in refusal["report"]["errors"]}
        missing = [e for e in expected_errors if (e["line"], e["code"]) not in listed]
        refusal["errors_expected"] = len(expected_errors)
        refusal["errors_listed"] = len(refusal["report"]["errors"])
        refusal["errors_missing"] = missing
        refusal["report"]["errors"] = refusal["report"]["errors"][:20]  # keep the result file small
        report["refusal"] = refusal
        if not refusal["report"]["refused"] or refusal["exit_status"] != 1:
            problems.append("the file with errors was not refused")
        if any(refusal["rows_added"].values()):
            problems.append(f"the refused file wrote rows: {refusal['rows_added']}")
        if missing:
            problems.append(f"errors not listed: {missing}")

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
    print(f"\nbulk import — {db.get('vendor')} {db.get('version', '')}, {report['machine']['nproc']} cores")
    if "file" in report:
        f = report["file"]
        print(f"file: {f['lines']} records, {f['bytes'] / 1e6:.1f} MB")
    for name, title in (("first_run", "first run"), ("second_run", "second run"), ("refusal", "refusal")):
        run_ = report.get(name)
        if not run_:
            continue
        counts = run_["report"]["counts"]
        shown = ", ".join(f"{k} +{c['created']}/~{c['updated']}/={c['unchanged']}" for k, c in counts.items())
        extra = ""
        if name == "refusal":
            extra = f", {run_['errors_listed']} errors listed ({run_['errors_expected']} planted)"
        print(f"{title:>11}: {run_['wall_s']:6.1f} s  exit {run_['exit_status']}  {shown or '-'}{extra}")
        print(f"{'':>11}  seconds {run_['report'].get('seconds')}")
        print(f"{'':>11}  rows added {run_['rows_added']}")
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
