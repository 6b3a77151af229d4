"""Entry point of ``make bench``: run the benchmarks, print a table, write bench/results/*.json.

    make bench                                   # the catalogue search benchmark, SQLite in a scratch directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/weifei_bench make bench
    .venv/bin/python bench/run.py --servers uvicorn,uvicorn-stock,runserver --duration 10 --rounds 5
    .venv/bin/python bench/run.py import         # the bulk import benchmark (bench/bulk_import.py)
    .venv/bin/python bench/run.py import --help
    .venv/bin/python bench/run.py all            # both, each with its defaults
    .venv/bin/python bench/run.py stock          # stock of a site with 100,000 containers (bench/stock.py)
    .venv/bin/python bench/run.py ledger-import  # 1,000,000 ledger rows through the bulk path
    .venv/bin/python bench/run.py manifests      # manifest lifecycles per second through the HTTP API

A first argument naming a benchmark (``catalog``, ``import``, ``all``) selects it; without one
the catalogue search benchmark runs, with the options below. Options may also come from the
environment: BENCH_CLIENTS, BENCH_DURATION, BENCH_ROUNDS, BENCH_MAX_REQUESTS, BENCH_WARMUP,
BENCH_SERVERS, BENCH_WORKERS, BENCH_SETTINGS. Exit status 1 when any request failed or a
server could not be started (catalogue), or when an import check failed (import).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # ``python bench/run.py`` puts bench/, not the repository, on the path
    sys.path.insert(0, str(REPO))

from bench import bulk_import, catalog_search  # noqa: E402

BENCHMARKS = ("catalog", "import", "all", "stock", "ledger-import", "manifests")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def parse_args(argv: list[str] | None = None) -> catalog_search.Config:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=int(_env("BENCH_CLIENTS", "8")))
    parser.add_argument(
        "--duration", type=float, default=float(_env("BENCH_DURATION", "8")), help="seconds per measurement"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=int(_env("BENCH_MAX_REQUESTS", "20000")),
        help="request cap per measurement (whichever of this and --duration comes first)",
    )
    parser.add_argument("--rounds", type=int, default=int(_env("BENCH_ROUNDS", "3")))
    parser.add_argument("--warmup", type=float, default=float(_env("BENCH_WARMUP", "2")), help="seconds")
    parser.add_argument(
        "--servers",
        default=_env("BENCH_SERVERS", "uvicorn"),
        help="comma-separated: uvicorn, uvicorn-stock, runserver (the first is the headline)",
    )
    parser.add_argument("--workers", type=int, default=int(_env("BENCH_WORKERS", "2")), help="uvicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (database, server logs)")
    parser.add_argument(
        "--settings",
        default=_env("BENCH_SETTINGS", "weifei.settings.dev"),
        help="DJANGO_SETTINGS_MODULE of the bench server (experiments: bench.settings_no_persistent_db)",
    )
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "catalog_search.json"))
    args = parser.parse_args(argv)
    servers = tuple(s.strip() for s in args.servers.split(",") if s.strip())
    if args.clients < 1 or args.rounds < 1 or args.duration <= 0 or args.max_requests < 1 or not servers:
        parser.error("clients, rounds, duration and max-requests must be positive; name at least one server")
    return catalog_search.Config(
        clients=args.clients,
        duration_s=args.duration,
        max_requests=args.max_requests,
        rounds=args.rounds,
        warmup_s=args.warmup,
        servers=servers,
        workers=args.workers,
        keep=args.keep,
        settings=args.settings,
        output=args.output,
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    name = args.pop(0) if args and args[0] in BENCHMARKS else "catalog"
    if name == "import":
        return bulk_import.main(bulk_import.parse_args(args))
    if name == "ledger-import":  # bench/ledger_import.py: a province-year of ledger rows through the bulk path
        from bench import ledger_import

        return ledger_import.main(ledger_import.parse_args(args))
    if name == "stock":  # bench/stock.py: stock of a site with 100,000 containers (PostgreSQL)
        from bench import stock

        return stock.main(stock.parse_args(args))
    if name == "manifests":  # bench/manifests.py: manifest lifecycles per second through the HTTP API
        from bench import manifests

        return manifests.main(manifests.parse_args(args))
    if name == "all":
        if args:
            raise SystemExit("bench/run.py all takes no options (run the benchmarks one by one to set them)")
        status = catalog_search.main(parse_args([]))
        return max(status, bulk_import.main(bulk_import.parse_args([])))
    return catalog_search.main(parse_args(args))


if __name__ == "__main__":
    sys.exit(main())
