"""What the demo-province test modules share: one generated province per module, and the check
that the ledger counters continue from the codes the demo wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction

from weifei.catalog import cache
from weifei.catalog.testing import reference_ensure
from weifei.plans.models import LedgerCounter, LedgerEntry
from weifei.registry.demo import DemoSummary, demo_province_generate


def demo_module_fixture(*, seed: int, scale: float, today: dt.date) -> Callable[..., Iterator[DemoSummary]]:
    """A module-scoped ``demo`` fixture: one demo province for the module, rolled back at its end
    (each test runs in a savepoint inside it). ``demo = demo_module_fixture(...)`` in the module."""

    @pytest.fixture(scope="module")
    def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoSummary]:
        with django_db_blocker.unblock():
            reference_ensure()  # a transactional test run before on this process may have flushed it
            atomic = transaction.atomic()
            atomic.__enter__()
            try:
                cache.invalidate()
                yield demo_province_generate(seed=seed, scale=scale, today=today)
            finally:
                transaction.set_rollback(True)
                atomic.__exit__(None, None, None)
                cache.invalidate()

    return demo


def assert_counters_continue_the_codes() -> dict[tuple[int, str, dt.date], int]:
    """Every (site, prefix, day) counter stands at the highest serial of the batch codes written
    (reversals excluded), so that the services continue where the demo stopped. Returns the
    counters."""
    expected: dict[tuple[int, str, dt.date], int] = {}
    for site_id, code, reversed_of in LedgerEntry.objects.values_list("site_id", "batch_code", "reversal_of_id"):
        if reversed_of is None:
            key = (site_id, code[:-11], dt.datetime.strptime(code[-11:-3], "%Y%m%d").date())
            expected[key] = max(expected.get(key, 0), int(code[-3:]))
    counters = {
        (s, p, d): n for s, p, d, n in LedgerCounter.objects.values_list("site_id", "prefix", "day", "last_seq")
    }
    assert counters == expected
    return counters
