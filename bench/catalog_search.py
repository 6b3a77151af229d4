"""Benchmark: catalogue search through the API, ``GET /api/v1/catalog/codes?q=...``.

Measures requests/s and latency percentiles at N concurrent keep-alive clients against a real
server process, and the same load against ``/healthz`` (one ``SELECT 1``) in the same run.
The ratios search/baseline are what to compare between runs and machines: the absolute
figures move with the machine and with whatever else it is doing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench import harness
from bench.harness import Measurement, Server, ServerKind, median

SEARCH_PATH = "/api/v1/catalog/codes"
BASELINE_PATH = "/healthz"

# A realistic mix: what people type into the catalogue search box.
QUERIES: list[tuple[str, dict[str, str]]] = [
    ("keyword", {"q": "废矿物油"}),
    ("keyword", {"q": "飞灰"}),
    ("keyword", {"q": "铅蓄电池"}),
    ("keyword", {"q": "医疗废物"}),
    ("keyword", {"q": "废催化剂"}),
    ("keyword", {"q": "含汞"}),
    ("keyword", {"q": "精馏残渣"}),
    ("keyword", {"q": "废酸"}),
    ("code", {"q": "900-249-08"}),
    ("code prefix", {"q": "900-041"}),
    ("code prefix", {"q": "772-"}),
    ("category", {"q": "HW08"}),
    ("category", {"q": "HW49"}),
    ("empty", {"q": "", "limit": "50"}),
    ("multi-term", {"q": "废 油"}),
]


def search_paths() -> list[str]:
    return [f"{SEARCH_PATH}?{urlencode(params)}" for _, params in QUERIES]


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def search_ok(response: httpx.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and isinstance(body.get("total"), int) and isinstance(body.get("items"), list)


def baseline_ok(response: httpx.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and body.get("status") == "ok"


@dataclass
class Config:
    clients: int = 8
    duration_s: float = 8.0
    max_requests: int = 20_000
    rounds: int = 3
    warmup_s: float = 2.0
    servers: Sequence[str] = ("uvicorn",)
    workers: int = 2
    keep: bool = False
    settings: str = harness.SETTINGS_MODULE
    output: str = str(harness.RESULTS_DIR / "catalog_search.json")


def _server_kind(name: str, config: Config) -> ServerKind:
    if name == "uvicorn":
        return harness.uvicorn_kind(config.workers)
    if name == "uvicorn-stock":
        return harness.uvicorn_stock_kind(config.workers)
    if name == "runserver":
        return harness.runserver_kind()
    raise ValueError(f"unknown server kind {name!r} (uvicorn, uvicorn-stock, runserver)")


def _preflight(server: Server) -> tuple[list[dict[str, object]], list[str]]:
    """One request per query: every one must answer 200 with ``total``. Returns the hit counts."""
    rows: list[dict[str, object]] = []
    problems: list[str] = []
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        for (kind, params), path in zip(QUERIES, search_paths(), strict=True):
            response = client.get(path)
            total = None
            if response.status_code == 200 and search_ok(response):
                total = response.json()["total"]
            else:
                problems.append(f"{response.status_code} {path}: {response.text[:200]}")
            rows.append({"kind": kind, "q": params.get("q", ""), "params": params, "path": path, "total": total})
        response = client.get(BASELINE_PATH)
        if response.status_code != 200 or not baseline_ok(response):
            problems.append(f"{response.status_code} {BASELINE_PATH}: {response.text[:200]}")
    return rows, problems


def _aggregate(measurements: list[Measurement], path: str) -> dict[str, object]:
    rounds = [m.summary() for m in measurements]
    return {
        "path": path,
        "requests": sum(m.requests for m in measurements),
        "errors": sum(m.errors for m in measurements),
        "median": {
            key: round(median([float(r[key]) for r in rounds]), 2)  # type: ignore[arg-type]
            for key in (
                "rps",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "client_cpu_cores",
                "server_cpu_cores",
                "machine_cpu_cores",
                "db_cpu_cores",
            )
            if all(r.get(key) is not None for r in rounds)
        },
        "rounds": rounds,
    }


def _ratios(search: list[Measurement], baseline: list[Measurement]) -> dict[str, object]:
    per_round = []
    for s, b in zip(search, baseline, strict=True):
        ss, bs = s.summary(), b.summary()
        per_round.append(
            {
                "rps": round(s.rps / b.rps, 3) if b.rps else None,
                "p50": round(float(ss["p50_ms"]) / float(bs["p50_ms"]), 3),  # type: ignore[arg-type]
                "p95": round(float(ss["p95_ms"]) / float(bs["p95_ms"]), 3),  # type: ignore[arg-type]
            }
        )
    return {
        # The headline: median of the per-round ratios (each round pairs search with a
        # baseline measured seconds apart, so machine noise largely cancels).
        "rps": round(median([float(r["rps"]) for r in per_round if r["rps"] is not None]), 3),
        "p50": round(median([float(r["p50"]) for r in per_round]), 3),  # type: ignore[arg-type]
        "p95": round(median([float(r["p95"]) for r in per_round]), 3),  # type: ignore[arg-type]
        "per_round": per_round,
    }


def bench_server(kind: ServerKind, env: dict[str, str], config: Config, log_dir: Path) -> dict[str, object]:
    paths = search_paths()
    url = harness.database_url()
    db_pid = harness.local_postgres_pid(url) if url.startswith("postgres") else None
    load = {"clients": config.clients, "max_requests": config.max_requests, "db_pid": db_pid}
    result: dict[str, object] = {"server": kind.name, "description": kind.description}
    print(f"\n[{kind.name}] starting: {kind.description}", flush=True)
    sampler = harness.PgConnectionSampler(url) if url.startswith("postgres") else None
    with Server(kind, env, log_dir) as server, sampler or contextlib.nullcontext():
        queries, problems = _preflight(server)
        if problems:
            result.update(status="failed", problems=problems, queries=queries)
            return result
        warm_s = harness.run_load(
            "warmup-search", server.base_url, paths, search_ok, duration_s=config.warmup_s, **load
        )
        warm_b = harness.run_load(
            "warmup-baseline", server.base_url, [BASELINE_PATH], baseline_ok, duration_s=config.warmup_s / 2, **load
        )
        search: list[Measurement] = []
        baseline: list[Measurement] = []
        for i in range(config.rounds):
            # ABBA order, so that a drift in machine speed does not favour one side.
            order = ("baseline", "search") if i % 2 == 0 else ("search", "baseline")
            for which in order:
                if which == "search":
                    m = harness.run_load(
                        "search", server.base_url, paths, search_ok, duration_s=config.duration_s, server=server, **load
                    )
                    search.append(m)
                else:
                    m = harness.run_load(
                        "baseline",
                        server.base_url,
                        [BASELINE_PATH],
                        baseline_ok,
                        duration_s=config.duration_s,
                        server=server,
                        **load,
                    )
                    baseline.append(m)
                print(
                    f"  round {i + 1}/{config.rounds} {which:<8} {m.rps:8.1f} req/s  "
                    f"p95 {float(m.summary()['p95_ms']):7.2f} ms  errors {m.errors}",  # type: ignore[arg-type]
                    flush=True,
                )
        alive = server.alive()

    for row in queries:
        samples = [x for m in search for x in m.per_path_s[str(row["path"])]]
        row.update(requests=len(samples), **harness.latency_summary(samples))
    errors = sum(m.errors for m in [*search, *baseline])
    warmup_errors = warm_s.errors + warm_b.errors
    result.update(
        status="ok" if errors == 0 and warmup_errors == 0 and alive else "failed",
        search=_aggregate(search, SEARCH_PATH),
        baseline=_aggregate(baseline, BASELINE_PATH),
        ratios=_ratios(search, baseline),
        warmup_errors=warmup_errors,
        server_alive_after_run=alive,
        queries=queries,
    )
    if sampler is not None:
        result["db_connections"] = sampler.summary()
    return result


def run(config: Config) -> dict[str, object]:
    url = harness.database_url()
    report: dict[str, object] = {
        "benchmark": "catalog_search",
        "date": harness.now_iso(),
        "machine": harness.machine_description(),
        "software": harness.software_description(),
        "database": harness.database_description(url),
        "config": {
            "clients": config.clients,
            "duration_s_per_measurement": config.duration_s,
            "max_requests_per_measurement": config.max_requests,
            "rounds": config.rounds,
            "warmup_s": config.warmup_s,
            "servers": list(config.servers),
            "uvicorn_workers": config.workers,
            "settings": config.settings,
            "debug": False,
            "search_path": SEARCH_PATH,
            "baseline_path": BASELINE_PATH,
            "queries": [{"kind": kind, **params} for kind, params in QUERIES],
        },
    }
    servers: list[dict[str, object]] = []
    var_dir = harness.make_scratch_dir()
    env = harness.server_environment(var_dir, config.settings)
    print(f"bench: database {report['database']}; scratch dir {var_dir}", flush=True)
    try:
        harness.prepare_database(env)
        for name in config.servers:
            try:
                servers.append(bench_server(_server_kind(name, config), env, config, var_dir))
            except Exception as exc:
                problem = f"{exc.__class__.__name__}: {exc}"
                servers.append({"server": name, "status": "failed", "problems": [problem]})
            servers[-1]["server_log_errors"] = harness.log_errors(var_dir / f"server-{name}.log")
    finally:
        report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]  # type: ignore[index]
        report["servers"] = servers
        report["status"] = "ok" if servers and all(s["status"] == "ok" for s in servers) else "failed"
        if config.keep or report["status"] != "ok":
            report["scratch_dir"] = str(var_dir)
            print(f"bench: scratch directory (database, server logs) kept at {var_dir}", file=sys.stderr)
        else:
            harness.remove_scratch_dir(var_dir)
    primary = servers[0] if servers and "search" in servers[0] else None
    if primary is not None:
        s_agg, b_agg = primary["search"], primary["baseline"]
        s_med, b_med = s_agg["median"], b_agg["median"]  # type: ignore[index]
        report["headline"] = {
            "status": primary["status"],
            "server": primary["server"],
            "clients": config.clients,
            "requests": s_agg["requests"],  # type: ignore[index]
            "errors": s_agg["errors"] + b_agg["errors"],  # type: ignore[index,operator]
            "rps": s_med["rps"],  # type: ignore[index]
            "p50_ms": s_med["p50_ms"],  # type: ignore[index]
            "p95_ms": s_med["p95_ms"],  # type: ignore[index]
            "p99_ms": s_med["p99_ms"],  # type: ignore[index]
            "baseline_rps": b_med["rps"],  # type: ignore[index]
            "baseline_p95_ms": b_med["p95_ms"],  # type: ignore[index]
            "ratio_rps": primary["ratios"]["rps"],  # type: ignore[index]
            "ratio_p95": primary["ratios"]["p95"],  # type: ignore[index]
        }
    return report


# --------------------------------------------------------------------------- report


def _fmt(value: object, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_report(report: dict[str, object]) -> None:
    machine = report["machine"]
    db = report["database"]
    cfg = report["config"]
    sw = report["software"]
    print()
    print(
        f"catalogue search vs {BASELINE_PATH} — {cfg['clients']} clients, "  # type: ignore[index]
        f"{cfg['rounds']} rounds × {cfg['duration_s_per_measurement']} s, median of rounds"  # type: ignore[index]
    )
    print(
        f"machine: {machine['nproc']} CPU ({machine['cpu_model']}), {machine['memory_mb']} MB; "  # type: ignore[index]
        f"Python {sw['python']}; {db['vendor']} {db.get('version', '')}"  # type: ignore[index,union-attr]
    )
    header = (
        f"{'server':<13} {'endpoint':<9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'requests':>9} {'errors':>6} {'srv cpu':>7} {'cli cpu':>7} {'db cpu':>7} {'all cpu':>7}"
    )
    print(header)
    print("-" * len(header))
    for s in report["servers"]:  # type: ignore[attr-defined]
        if s["status"] != "ok" and "search" not in s:
            print(f"{s['server']:<13} FAILED: {'; '.join(s.get('problems', []))}")
            continue
        for label, key in (("search", "search"), ("/healthz", "baseline")):
            agg = s[key]
            m = agg["median"]
            print(
                f"{s['server']:<13} {label:<9} {_fmt(m.get('rps')):>8} {_fmt(m.get('p50_ms'), '.2f'):>8} "
                f"{_fmt(m.get('p95_ms'), '.2f'):>8} {_fmt(m.get('p99_ms'), '.2f'):>8} {agg['requests']:>9} "
                f"{agg['errors']:>6} {_fmt(m.get('server_cpu_cores'), '.2f'):>7} "
                f"{_fmt(m.get('client_cpu_cores'), '.2f'):>7} {_fmt(m.get('db_cpu_cores'), '.2f'):>7} "
                f"{_fmt(m.get('machine_cpu_cores'), '.2f'):>7}"
            )
        r = s["ratios"]
        print(
            f"{s['server']:<13} {'ratio':<9} {_fmt(r['rps'], '.3f'):>8} {_fmt(r['p50'], '.2f'):>8} "
            f"{_fmt(r['p95'], '.2f'):>8}   (search ÷ baseline, median of per-round ratios)"
        )
        if s.get("db_connections"):
            conns = s["db_connections"]
            print(
                f"{s['server']:<13} database connections during the run: peak {conns['peak']}, median {conns['median']}"
            )
        if s["status"] != "ok":
            print(f"{s['server']:<13} FAILED (errors: {s['search']['errors'] + s['baseline']['errors']})")
    for s in report["servers"]:  # type: ignore[attr-defined]
        if s["status"] != "ok" and s.get("server_log_errors"):
            print(f"\n[{s['server']}] server log, most frequent errors:")
            for line in s["server_log_errors"]:
                print(f"  {line}")
    for s in report["servers"]:  # type: ignore[attr-defined]
        if "queries" not in s or "search" not in s:
            continue
        print(f"\n[{s['server']}] per query (all rounds)")
        print(f"  {'kind':<12} {'q':<14} {'hits':>5} {'p50 ms':>8} {'p95 ms':>8}")
        for row in s["queries"]:
            q = row["q"] or "(empty, limit 50)"
            print(
                f"  {row['kind']:<12} {q:<14} {_fmt(row['total'], 'd'):>5} "
                f"{_fmt(row.get('p50_ms'), '.2f'):>8} {_fmt(row.get('p95_ms'), '.2f'):>8}"
            )
    print(f"\nstatus: {report['status']}")


def main(config: Config) -> int:
    report = run(config)
    print_report(report)
    out = Path(config.output)
    harness.write_json(out, report)
    vendor = report["database"]["vendor"]  # type: ignore[index]
    variant = "" if config.settings == harness.SETTINGS_MODULE else "." + config.settings.rsplit(".", 1)[-1]
    per_vendor = out.with_name(f"{out.stem}.{vendor}{variant}{out.suffix}")
    harness.write_json(per_vendor, report)
    print(f"results: {out} (and {per_vendor.name})")
    return 0 if report["status"] == "ok" else 1
