"""Manifest lifecycle benchmark (issue 5): complete lifecycles per second through the HTTP API.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/weifei_mbench .venv/bin/python bench/run.py manifests
    .venv/bin/python bench/run.py manifests --clients 16 --duration 20

Into the (empty, PostgreSQL) database ``DATABASE_URL`` names it migrates, loads the reference data and
builds the scenario world of ``weifei.manifests.testing`` (a generator with a filed plan, two carriers,
two licensed receivers, contracts, users), raises the plan's and the licence's annual figures so that
thousands of transfers fit, and gives the consignor, the driver and the receiver an API token each.
Then, against a uvicorn server (2 workers, bench/serve_uvicorn.py) on the same machine, ``--clients``
threads each loop a whole lifecycle through the API as the acting users — create, submit, pickup
signature, arrival (delivery), acceptance with the weighed quantity, treatment — for ``--duration``
seconds, and report complete lifecycles per second and p50/p95/p99 latency per step.

Baseline, same run, same database: the same writes (manifest, line, leg, six state changes, five
signature rows) as plain SQL from the same number of threads, without the application; the ratio says
what the application costs on top. Target: ≥ 50 lifecycles/s with p95 < 200 ms per request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import harness

REPO = harness.REPO
STEPS = ("create", "submit", "pickup", "arrive", "accept", "treat")


@dataclass(frozen=True)
class Config:
    clients: int = 16
    duration: float = 20.0
    workers: int = 2
    consignors: int = 16
    output: str = str(REPO / "bench" / "results" / "manifests.json")


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load, each for the API and the SQL")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument(
        "--consignors", type=int, default=16, help="generators the clients send for (1: all on one event chain)"
    )
    parser.add_argument("--output", default=Config.output)
    args = parser.parse_args(argv)
    return Config(
        clients=args.clients,
        duration=args.duration,
        workers=args.workers,
        consignors=args.consignors,
        output=args.output,
    )


def _django(env: dict[str, str]) -> None:
    os.environ.update(
        {k: v for k, v in env.items() if k in ("DATABASE_URL", "WEIFEI_VAR_DIR", "DJANGO_SETTINGS_MODULE")}
    )
    import django

    django.setup()


def _more_consignors(w: Any, count: int) -> list[tuple[int, Any]]:
    """``count`` more generators like the world's (a site in 长春, a filed plan naming the receiver,
    a contract with it, an admin), through the services: (site id, user) each."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from weifei.accounts.services import enterprise_user_create
    from weifei.core.actors import SYSTEM
    from weifei.manifests.testing import CODE, PASSWORD, credit_code
    from weifei.plans import services as plans
    from weifei.registry import services as registry

    today = timezone.localdate()
    out = []
    for i in range(count):
        n = 100 + i
        unit = registry.enterprise_create(
            actor=SYSTEM, credit_code=credit_code(n), name=f"长春压测机械制造有限公司{n}", region_key="220102",
            roles=("is_generator",),
        )  # fmt: skip
        site = registry.site_create(
            actor=SYSTEM, enterprise=unit, name="一厂", address=f"南关区压测路{n}号", region_key="220102",
            roles=["generator"],
        )  # fmt: skip
        registry.contract_create(
            actor=SYSTEM, kind="disposal", number=f"HT-压测-{n}", party_a=unit, party_b=w.receiver,
            waste_codes=[CODE], planned_tonnes=Decimal(100), valid_from=today - dt.timedelta(days=100),
            valid_to=today + dt.timedelta(days=265),
        )  # fmt: skip
        plan = plans.plan_draft(actor=SYSTEM, site_id=site.id, year=today.year)
        plans.plan_line_add(actor=SYSTEM, plan_id=plan.id, section="A3", waste_code=CODE, tonnes=Decimal(1_000_000))
        plans.plan_line_add(
            actor=SYSTEM, plan_id=plan.id, section="A7", waste_code=CODE, tonnes=Decimal(1_000_000),
            transfer_type="in_province", receiver_type="licensed", receiver_id=w.receiver.id, method_code="D10",
        )  # fmt: skip
        plans.plan_file(actor=SYSTEM, plan_id=plan.id)
        user = enterprise_user_create(
            actor=SYSTEM, enterprise=unit, username=f"bench_{n}", password=PASSWORD, full_name=f"压测{n}", role="admin"
        ).user
        out.append((site.id, user))
    return out


def build(consignors: int = 1) -> dict[str, Any]:
    """The world, roomy figures, ``consignors`` generators (the world's and more), and a token per
    acting user. Every manifest's events join its consignor's chain, so one consignor is the worst
    case (every client's writes queue on one chain head); a province has thousands."""
    from decimal import Decimal

    from weifei.accounts.selectors import actor_for
    from weifei.accounts.services import api_token_create
    from weifei.manifests.testing import world
    from weifei.plans.models import PlanLine
    from weifei.registry.models import Licence, LicenceScope

    w = world(containers=0)
    PlanLine.objects.filter(plan__site=w.site).update(tonnes=Decimal(1_000_000))
    Licence.objects.filter(holder__in=[w.receiver, w.receiver2]).update(annual_capacity_tonnes=Decimal(10_000_000))
    LicenceScope.objects.filter(licence__holder__in=[w.receiver, w.receiver2]).update(annual_tonnes=Decimal(10_000_000))

    def token(user: Any) -> str:
        return api_token_create(actor=actor_for(user), name="bench", scopes=["read", "write"])[1]

    senders = [(w.site.id, w.users["consignor"]), *_more_consignors(w, max(consignors, 1) - 1)]
    body = {
        "receiver_id": w.receiver.id,
        "transfer_type": "in_province",
        "shipper": "consignor",
        "planned_method_code": "D10",
        "emergency_measures": "配备吸附棉、灭火器",
        "lines": [{"waste_code": "900-249-08", "declared_tonnes": "0.5", "packaging": "铁桶"}],
        "legs": [{"carrier_id": w.carrier1.id, "vehicle_id": w.vehicles["c1"].id, "driver_id": w.drivers["c1"].id}],
    }
    return {
        "tokens": {"driver1": token(w.users["driver1"]), "receiver": token(w.users["receiver"])},
        "consignors": [
            {"token": token(user), "body": {**body, "consignor_site_id": site_id}} for site_id, user in senders
        ],
    }


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {s: [] for s in STEPS}
        self.done = 0
        self.errors: list[str] = []

    def add(self, step: str, seconds: float) -> None:
        with self.lock:
            self.latency[step].append(seconds)


class LeanClient:
    """A keep-alive HTTP/1.1 client on the standard library's ``http.client``: the load generator
    shares the 2 cores with the server and the database, and httpx costs several times more CPU
    per request. One connection, reopened if the server closes it."""

    def __init__(self, base_url: str, token: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        return self._send("POST", path, json.dumps(payload).encode(), headers)

    def get(self, path: str) -> tuple[int, bytes]:
        return self._send("GET", path, None, {})

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _lifecycle(client: dict[str, LeanClient], body: dict[str, Any], stats: Stats) -> None:
    def call(step: str, who: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        status, content = client[who].post(path, payload)
        stats.add(step, time.perf_counter() - t0)
        if status not in (200, 201):
            raise RuntimeError(f"{step}: {status} {content[:200]!r}")
        return dict(json.loads(content))

    m = call("create", "consignor", "/api/v1/manifests/", body)
    base = f"/api/v1/manifests/{m['id']}/events"
    call("submit", "consignor", f"{base}/submit", {})
    call("pickup", "driver1", f"{base}/pickup", {"scanned_labels": []})
    m = call("arrive", "receiver", f"{base}/arrive", {})
    weights = {str(line["id"]): line["declared_tonnes"] for line in m["lines"]}
    call("accept", "receiver", f"{base}/accept", {"weights": weights})
    call("treat", "receiver", f"{base}/treat", {"method_code": "D10", "result": "焚烧处置完毕"})


def load_api(
    base_url: str, built: dict[str, Any], config: Config, on_start: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    """Each client first runs one unmeasured lifecycle (the workers' first requests import code and
    fill per-process caches; measured, they were the p99), then all start together (``on_start``
    runs then) and loop for ``config.duration`` seconds."""
    stats = Stats()
    window: dict[str, float] = {}

    def begin() -> None:
        on_start()
        window["t0"] = time.perf_counter()
        window["stop"] = time.monotonic() + config.duration

    barrier = threading.Barrier(config.clients, action=begin)

    def worker(index: int) -> None:
        sender = built["consignors"][index % len(built["consignors"])]
        clients = {who: LeanClient(base_url, token) for who, token in built["tokens"].items()}
        clients["consignor"] = LeanClient(base_url, sender["token"])
        try:
            try:
                _lifecycle(clients, sender["body"], Stats())  # warm-up, not counted
            except Exception as exc:
                with stats.lock:
                    stats.errors.append(f"warm-up: {str(exc)[:280]}")
            barrier.wait()
            while time.monotonic() < window["stop"]:
                try:
                    _lifecycle(clients, sender["body"], stats)
                except Exception as exc:
                    with stats.lock:
                        stats.errors.append(str(exc)[:300])
                    continue
                with stats.lock:
                    stats.done += 1
        finally:
            for c in clients.values():
                c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(config.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - window["t0"]
    all_latency = [x for v in stats.latency.values() for x in v]
    return {
        "lifecycles": stats.done,
        "seconds": round(elapsed, 2),
        "lifecycles_per_s": round(stats.done / elapsed, 2),
        "requests": len(all_latency),
        "errors": len(stats.errors),
        "first_errors": stats.errors[:5],
        "per_step": {s: harness.latency_summary(v) for s, v in stats.latency.items()},
        "all_requests": harness.latency_summary(all_latency),
    }


def load_floor(base_url: str, path: str, config: Config, seconds: float) -> dict[str, Any]:
    """The same clients and connections sending ``GET path`` in a closed loop: what the cheapest
    request costs through the same stack on this machine (the ceiling of any endpoint served so).
    A lifecycle is six requests, so ``requests_per_s / 6`` bounds the lifecycles per second."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    window: dict[str, float] = {}

    def begin() -> None:
        window["t0"] = time.perf_counter()
        window["stop"] = time.monotonic() + seconds

    barrier = threading.Barrier(config.clients, action=begin)

    def worker() -> None:
        client = LeanClient(base_url, "")
        mine: list[float] = []
        try:
            for _ in range(20):  # warm the connection and the worker
                client.get(path)
            barrier.wait()
            while time.monotonic() < window["stop"]:
                t0 = time.perf_counter()
                status, content = client.get(path)
                mine.append(time.perf_counter() - t0)
                if status != 200 or b'"ok"' not in content:
                    with lock:
                        failures.append(f"{status} {content[:100]!r}")
        finally:
            client.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(config.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - window["t0"]
    rps = len(latencies) / elapsed if elapsed else 0.0
    return {
        "path": path,
        "requests": len(latencies),
        "errors": len(failures),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(rps, 1),
        "lifecycle_ceiling_per_s": round(rps / len(STEPS), 1),
        "latency": harness.latency_summary(latencies),
    }


def load_sql(url: str, built: dict[str, Any], config: Config) -> dict[str, Any]:
    """The same rows written as plain SQL (psycopg, autocommit per statement group in a transaction)."""
    import psycopg

    from weifei.manifests.models import Manifest

    template = Manifest.objects.order_by("id").first()
    assert template is not None
    stop = time.monotonic() + config.duration
    done = 0
    lock = threading.Lock()
    serial = [900_000]

    def worker() -> None:
        nonlocal done
        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=False) as conn:
            while time.monotonic() < stop:
                with lock:
                    serial[0] += 1
                    number = f"2026229{serial[0]:07d}"[:14]
                with conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO manifests_manifest (number, version, state, state_changed_at, transfer_type, "
                        "consignor_id, consignor_site_id, receiver_id, original_receiver_id, receiver_licence_number, "
                        "shipper, approval_reference, planned_method_code, emergency_measures, warnings, "
                        "paper_fallback, paper_entered_late, overdue, acceptance, refusal_reason, discrepancy, "
                        "treatment_method, treatment_result, created_at, updated_at) "
                        "VALUES (%s, 1, 'draft', now(), 'in_province', %s, "
                        "%s, %s, %s, '', 'consignor', '', 'D10', 'x', '[]', false, false, '[]', '', '', '{}', '', '', "
                        "now(), now()) RETURNING id",
                        [
                            number,
                            template.consignor_id,
                            template.consignor_site_id,
                            template.receiver_id,
                            template.receiver_id,
                        ],
                    )
                    row = cur.fetchone()
                    assert row is not None
                    mid = row[0]
                    cur.execute(
                        "INSERT INTO manifests_manifestline (manifest_id, waste_code, category, waste_name, "
                        "common_name, hazards, form, packaging, container_count, declared_tonnes, dg_class, "
                        "un_number, exemption_stage) "
                        "VALUES (%s, '900-249-08', 'HW08', 'x', '', 'T,I', '', '铁桶', 0, 0.5, '', '', '')",
                        [mid],
                    )
                    cur.execute(
                        'INSERT INTO manifests_manifestleg (manifest_id, "order", carrier_id, start_point, '
                        "end_point, handover_place) VALUES (%s, 1, %s, '', '', '')",
                        [mid, template.consignor_id],
                    )
                conn.commit()
                for state in ("submitted", "in_transit", "arrived", "received", "treated"):
                    with conn.cursor() as cur:
                        cur.execute("SELECT id FROM manifests_manifest WHERE id = %s FOR UPDATE", [mid])
                        cur.execute(
                            "UPDATE manifests_manifest SET state = %s, state_changed_at = now(), updated_at = now() "
                            "WHERE id = %s",
                            [state, mid],
                        )
                        cur.execute(
                            "INSERT INTO manifests_signature (manifest_id, event, role, signed_at, method, "
                            "content_hash, from_state, to_state, reason) VALUES (%s, %s, 'x', now(), 'sql', %s, "
                            "'', %s, '')",
                            [mid, state, "0" * 64, state],
                        )
                    conn.commit()
                with lock:
                    done += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(config.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"lifecycles": done, "seconds": round(elapsed, 2), "lifecycles_per_s": round(done / elapsed, 2)}


def _cpu(server: harness.Server, pg_pid: int | None) -> dict[str, float]:
    return {
        "server": server.cpu_seconds(),
        "database": harness.process_tree_cpu_seconds(pg_pid) if pg_pid else 0.0,
        "client": time.process_time(),  # this process: the load generator's threads
        "machine": harness.machine_busy_cpu_seconds(),
    }


def _cpu_cores(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """CPU used during the load, in cores (CPU seconds ÷ wall seconds): where the 2 cores went."""
    return {k: round((after[k] - before[k]) / seconds, 2) for k in before} if seconds else {}


def run(config: Config) -> dict[str, Any]:
    url = harness.database_url()
    report: dict[str, Any] = {
        "benchmark": "manifests",
        "date": harness.now_iso(),
        "machine": harness.machine_description(),
        "software": harness.software_description(),
        "database": harness.database_description(url),
        "config": {
            "clients": config.clients,
            "duration": config.duration,
            "workers": config.workers,
            "consignors": config.consignors,
        },
    }
    var_dir = harness.make_scratch_dir()
    env = harness.server_environment(var_dir)
    problems: list[str] = []
    try:
        if report["database"].get("vendor") != "postgresql":
            raise RuntimeError("the benchmark is for PostgreSQL: set DATABASE_URL to an empty database")
        harness.prepare_database(env)
        _django(env)
        built = build(config.consignors)
        pg_pid = harness.local_postgres_pid(url.replace("postgres://", "postgresql://"))
        with harness.Server(harness.uvicorn_kind(config.workers), env, var_dir) as server:
            before: dict[str, float] = {}
            report["api"] = load_api(server.base_url, built, config, lambda: before.update(_cpu(server, pg_pid)))
            report["api"]["cpu_cores"] = _cpu_cores(before, _cpu(server, pg_pid), report["api"]["seconds"])
            api_cores = report["api"]["cpu_cores"]
            if report["api"]["lifecycles_per_s"] and api_cores:
                rps = report["api"]["lifecycles_per_s"] * len(STEPS)
                report["api"]["cpu_ms_per_request"] = {
                    k: round(api_cores[k] * 1000 / rps, 1) for k in ("server", "database", "machine")
                }
            floor_seconds = min(config.duration, 10.0)
            report["floor_django"] = load_floor(server.base_url, "/healthz", config, floor_seconds)
            errors = harness.log_errors(server.log_path)
            if errors:
                report["server_errors"] = errors
        floor_kind = harness.uvicorn_kind(config.workers, app="bench.asgi_floor:application")
        with harness.Server(floor_kind, env, var_dir) as floor_server:
            report["floor_asgi"] = load_floor(floor_server.base_url, "/", config, floor_seconds)
        report["sql_baseline"] = load_sql(url, built, config)
        api, sql = report["api"], report["sql_baseline"]
        report["ratio_sql_to_api"] = (
            round(sql["lifecycles_per_s"] / api["lifecycles_per_s"], 1) if api["lifecycles_per_s"] else None
        )
        if api["errors"]:
            problems.append(f"{api['errors']} lifecycles failed: {api['first_errors'][:2]}")
        for key in ("floor_django", "floor_asgi"):
            if report[key]["errors"]:
                problems.append(f"{key}: {report[key]['errors']} requests failed")
        if api["lifecycles_per_s"] < 50:
            problems.append(f"{api['lifecycles_per_s']} lifecycles/s (target 50)")
        worst = max(s["p95_ms"] for s in api["per_step"].values())
        if worst >= 200:
            problems.append(f"worst step p95 {worst} ms (target < 200 ms)")
    except Exception as exc:
        problems.append(f"{exc.__class__.__name__}: {exc}")
    finally:
        harness.remove_scratch_dir(var_dir)
        report["problems"] = problems
        report["status"] = "ok" if not problems else "failed"
    return report


def print_report(report: dict[str, Any]) -> None:
    machine = report["machine"]
    print(
        f"\nmanifests — {report['database'].get('vendor')}, {machine['nproc']} cores, "
        f"Python loop of 5M additions {machine.get('python_loop_5m_ms')} ms CPU (this machine's speed)"
    )
    api = report.get("api")
    if api:
        print(
            f"API: {api['lifecycles']} lifecycles in {api['seconds']} s = {api['lifecycles_per_s']}/s, "
            f"{api['requests']} requests, {api['errors']} failed"
        )
        cores = api.get("cpu_cores") or {}
        if cores:
            print("  cpu (cores): " + ", ".join(f"{k} {v}" for k, v in cores.items()))
        for step, s in api["per_step"].items():
            print(f"  {step:>7}: p50 {s['p50_ms']:7.1f} ms  p95 {s['p95_ms']:7.1f} ms  p99 {s['p99_ms']:7.1f} ms")
    floors = (("floor_asgi", "bare ASGI app, no Django"), ("floor_django", "Django /healthz, SELECT 1"))
    for key, label in floors:
        f = report.get(key)
        if f:
            print(
                f"floor ({label}): {f['requests_per_s']} requests/s, p95 {f['latency']['p95_ms']} ms"
                f" → at most {f['lifecycle_ceiling_per_s']} lifecycles/s at six requests each"
            )
    per_request = (api or {}).get("cpu_ms_per_request")
    if per_request:
        print("  CPU per API request (ms): " + ", ".join(f"{k} {v}" for k, v in per_request.items()))
    if "sql_baseline" in report:
        b = report["sql_baseline"]
        print(
            f"SQL baseline: {b['lifecycles_per_s']}/s ({b['lifecycles']} in {b['seconds']} s); "
            f"ratio {report.get('ratio_sql_to_api')}×"
        )
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}")
    print(f"status: {report['status']}")


def main(config: Config) -> int:
    report = run(config)
    print_report(report)
    harness.write_json(Path(config.output), report)
    vendor = report["database"].get("vendor", "unknown")
    harness.write_json(Path(config.output).with_suffix(f".{vendor}.json"), report)
    return 0 if report["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(parse_args()))
