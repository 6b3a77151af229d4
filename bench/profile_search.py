"""Where a catalogue search request spends its time, in-process (no server, no network).

    .venv/bin/python bench/profile_search.py            # SQLite in a scratch directory
    DATABASE_URL=postgres://... .venv/bin/python bench/profile_search.py

Prints, per query of the benchmark mix: the full API request through Django's test client,
the selector ``weifei.catalog.selectors.catalogue_search`` alone, rows materialised and SQL
queries; then cProfile of the selector and of the full request over the whole mix. The test
client keeps the database connection open between requests, so connection set-up is not in
these figures (it is in the served benchmark).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import harness  # noqa: E402
from bench.catalog_search import QUERIES, search_paths  # noqa: E402


def _mean_ms(fn: object, n: int) -> float:
    assert callable(fn)
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1000


def _top(profile: cProfile.Profile, sort: str, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue()


def main(iterations: int = 100) -> None:
    var_dir = harness.make_scratch_dir()
    try:
        harness.django_in_process(var_dir)
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from weifei.catalog import selectors
        from weifei.core.actors import PUBLIC

        client = Client()
        version = selectors.catalogue_version(actor=PUBLIC)
        paths = search_paths()
        print(f"database: {connection.vendor}; {iterations} iterations per figure")
        print(f"{'kind':<12} {'q':<12} {'rows':>5} {'request ms':>10} {'selector ms':>11} {'queries':>7} {'bytes':>6}")
        for (kind, params), path in zip(QUERIES, paths, strict=True):
            q, limit = params.get("q", ""), int(params.get("limit", "50"))

            def search(q: str = q, limit: int = limit) -> selectors.SearchResult:
                return selectors.catalogue_search(actor=PUBLIC, q=q, version=version, limit=limit)

            def request(path: str = path) -> object:
                return client.get(path)

            for _ in range(5):
                request()
            request_ms = _mean_ms(request, iterations)
            selector_ms = _mean_ms(search, iterations)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            print(
                f"{kind:<12} {q or '(empty)':<12} {search().total:>5} {request_ms:>10.2f} {selector_ms:>11.2f} "
                f"{len(captured):>7} {len(response.content):>6}"
            )
        print(
            f"{'baseline':<12} {'/healthz':<12} {'':>5} {_mean_ms(lambda: client.get('/healthz'), iterations):>10.2f}"
        )

        selector_profile = cProfile.Profile()
        selector_profile.enable()
        for _ in range(iterations // 5 or 1):
            for _, params in QUERIES:
                selectors.catalogue_search(
                    actor=PUBLIC, q=params.get("q", ""), version=version, limit=int(params.get("limit", "50"))
                )
        selector_profile.disable()
        print("\n=== catalogue_search over the mix, by own time")
        print(_top(selector_profile, "tottime", 15))

        request_profile = cProfile.Profile()
        request_profile.enable()
        for _ in range(iterations // 5 or 1):
            for path in paths:
                client.get(path)
        request_profile.disable()
        print("=== full API request over the mix, by cumulative time")
        print(_top(request_profile, "cumulative", 30))
    finally:
        harness.remove_scratch_dir(var_dir)


if __name__ == "__main__":
    main()
