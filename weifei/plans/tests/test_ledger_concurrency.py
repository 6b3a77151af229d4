"""Ledger withdrawals under concurrency: the source batch row is locked while what it still has
is checked, so N simultaneous takers of one batch never spend more than it holds, and the
per-site-day counter hands out distinct sequential batch codes.

On PostgreSQL the threads really race (a barrier releases them together and they queue on the
source's row lock); SQLite admits one writer at a time, so there they are serialised by a lock."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.plans import ledger
from weifei.plans.models import LedgerEntry
from weifei.registry import services as registry

N = 6
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_withdrawals_never_overdraw(reference: None) -> None:
    unit = registry.enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="并发台账测试有限公司",
                                      region_key="220102", roles=("is_generator",))  # fmt: skip
    site = registry.site_create(actor=SYSTEM, enterprise=unit, name="一厂", address="南关区并发路1号",
                                region_key="220102", roles=["generator"])  # fmt: skip
    batch = ledger.ledger_generate(actor=SYSTEM, site_id=site.id, occurred_at=T0, waste_code="900-249-08",
                                   quantity=Decimal(3))  # fmt: skip

    one_writer = threading.Lock() if connection.vendor == "sqlite" else None
    start = threading.Barrier(N)
    refused: list[str] = []
    errors: list[BaseException] = []

    @contextmanager
    def writing() -> Iterator[None]:
        if one_writer is None:
            yield
        else:
            with one_writer:
                yield

    def worker() -> None:
        from django.db import connection as thread_connection

        try:
            start.wait(10)
            with writing():
                ledger.ledger_store_in(actor=SYSTEM, site_id=site.id, source_id=batch.id, occurred_at=T0,
                                       quantity=Decimal(1))  # fmt: skip
        except ApplicationError as exc:
            refused.append(exc.code)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert refused == ["quantity_exceeds_source"] * (N - 3)
    codes = sorted(LedgerEntry.objects.filter(kind="stored_in").values_list("batch_code", flat=True))
    assert codes == ["HWRK20260301001", "HWRK20260301002", "HWRK20260301003"]
    assert ledger.batch_remaining(batch) == Decimal(0)
