"""Where a manifest lifecycle spends its time, in-process (no server, no network).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/weifei_mprof .venv/bin/python bench/profile_manifests.py

Into the (empty, PostgreSQL) database it builds the world of ``bench/manifests.py``, then runs
lifecycles through Django's test client as the acting users (API tokens) and prints, per step, the
mean request time and the SQL queries it issued (with ``--queries``, their text); then cProfile of
the whole lifecycle by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import harness  # noqa: E402
from bench.manifests import STEPS  # noqa: E402


def _top(profile: cProfile.Profile, sort: str, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue()


AREAS = (
    ("/django/db/models/", "Django ORM (query building, compiling, model instances)"),
    ("/django/db/", "Django database layer (cursor, transactions, pool)"),
    ("/psycopg", "psycopg (driver)"),
    ("/ninja/", "django-ninja"),
    ("/pydantic", "pydantic"),
    ("/django/test/", "Django test client (not in production)"),
    ("/django/", "Django (request, middleware, other)"),
    ("/weifei/", "weifei"),
    ("/bench/", "bench"),
)


def _by_area(profile: cProfile.Profile) -> str:
    """Own time summed per package: where the CPU goes, whatever function names it carries."""
    totals: dict[str, float] = defaultdict(float)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (filename, _line, _func), (_cc, _nc, own, _cum, _callers) in stats.items():
        area = next((label for marker, label in AREAS if marker in filename), None)
        if area is None:
            area = "built-ins (called from all of the above)" if filename == "~" else "standard library, other"
        totals[area] += own
    whole = sum(totals.values()) or 1.0
    return "\n".join(
        f"  {own:7.2f} s  {own / whole:6.1%}  {area}" for area, own in sorted(totals.items(), key=lambda x: -x[1])
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--queries", action="store_true", help="print the SQL of one lifecycle")
    args = parser.parse_args(argv)
    var_dir = harness.make_scratch_dir()
    try:
        harness.django_in_process(var_dir)
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from bench.manifests import build

        built = build()
        sender = built["consignors"][0]
        tokens = {**built["tokens"], "consignor": sender["token"]}
        clients = {who: Client(HTTP_AUTHORIZATION=f"Bearer {token}") for who, token in tokens.items()}
        timings: dict[str, list[float]] = defaultdict(list)
        queries: dict[str, list[str]] = {}

        def lifecycle(record: bool = False) -> None:
            def call(step: str, who: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
                t0 = time.perf_counter()
                if record:
                    with CaptureQueriesContext(connection) as captured:
                        r = clients[who].post(
                            path, payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
                        )
                    queries[step] = [q["sql"] for q in captured.captured_queries]
                else:
                    r = clients[who].post(
                        path, payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
                    )
                timings[step].append(time.perf_counter() - t0)
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"{step}: {r.status_code} {r.content[:300]!r}")
                return dict(r.json())

            m = call("create", "consignor", "/api/v1/manifests/", sender["body"])
            base = f"/api/v1/manifests/{m['id']}/events"
            call("submit", "consignor", f"{base}/submit", {})
            call("pickup", "driver1", f"{base}/pickup", {"scanned_labels": []})
            m = call("arrive", "receiver", f"{base}/arrive", {})
            weights = {str(line["id"]): line["declared_tonnes"] for line in m["lines"]}
            call("accept", "receiver", f"{base}/accept", {"weights": weights})
            call("treat", "receiver", f"{base}/treat", {"method_code": "D10", "result": "焚烧处置完毕"})

        for _ in range(3):
            lifecycle()
        timings.clear()
        lifecycle(record=True)
        cpu0 = time.process_time()
        for _ in range(args.iterations):
            lifecycle()
        cpu_ms = (time.process_time() - cpu0) / args.iterations * 1000
        print(f"database: {connection.vendor}; {args.iterations} lifecycles")
        print(f"this process's CPU per lifecycle (the database's not included): {cpu_ms:.1f} ms")
        total = 0.0
        for step in STEPS:
            mean = sum(timings[step]) / len(timings[step]) * 1000
            total += mean
            print(f"{step:>8}: {mean:7.2f} ms  {len(queries[step]):3d} queries")
        print(f"{'total':>8}: {total:7.2f} ms  {sum(len(q) for q in queries.values()):3d} queries")
        if args.queries:
            for step in STEPS:
                print(f"\n=== {step}")
                for sql in queries[step]:
                    print("  ", sql[:400])

        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.iterations):
            lifecycle()
        profile.disable()
        print("\n=== lifecycle, own time by package")
        print(_by_area(profile))
        print("\n=== lifecycle, by cumulative time")
        print(_top(profile, "cumulative", 60))
        print("=== lifecycle, by own time")
        print(_top(profile, "tottime", 30))
    finally:
        harness.remove_scratch_dir(var_dir)


if __name__ == "__main__":
    main()
