"""Filing numbers under concurrent filings: each region-year counter row is locked while a
number is taken, so N simultaneous filings get 000001…N with no gap and no duplicate.

On PostgreSQL the threads really race (a barrier releases them together and they queue on the
counter's row lock). SQLite admits one writer at a time, so there the transactions are
serialised by a lock; the numbering must come out the same either way."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection

from weifei.core.actors import SYSTEM
from weifei.plans import services
from weifei.plans.models import FilingCounter, ManagementPlan
from weifei.registry import services as registry
from weifei.registry.models import Site

N = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_filings_get_distinct_sequential_numbers(reference: None) -> None:
    unit = registry.enterprise_create(actor=SYSTEM, credit_code="91350100M000100Y43", name="并发备案测试有限公司",
                                      region_key="220102", roles=("is_generator",))  # fmt: skip
    operator = registry.enterprise_create(actor=SYSTEM, credit_code="911302307808371268", name="并发处置测试有限公司",
                                          region_key="220102", roles=("is_operator",))  # fmt: skip
    registry.licence_create(actor=SYSTEM, holder=operator, number="吉危许并发01", kind="comprehensive",
                            methods=["disposal"], annual_capacity_tonnes=Decimal(1000),
                            valid_from=dt.date(2025, 1, 1), categories=["HW08"])  # fmt: skip
    plan_ids = []
    for i in range(N):
        site = registry.site_create(actor=SYSTEM, enterprise=unit, name=f"{i}号厂", address=f"南关区并发路{i}号",
                                    region_key="220102", roles=["generator"])  # fmt: skip
        Site.objects.filter(id=site.id).update(management_class="registered")
        plan = services.plan_draft(actor=SYSTEM, site_id=site.id, year=2026)
        services.plan_line_add(actor=SYSTEM, plan_id=plan.id, section="A3", waste_code="900-249-08", tonnes=Decimal(1))
        services.plan_line_add(actor=SYSTEM, plan_id=plan.id, section="A7", waste_code="900-249-08",
                               tonnes=Decimal(1), transfer_type="in_province", receiver_type="licensed",
                               receiver_id=operator.id, method_code="D10")  # fmt: skip
        plan_ids.append(plan.id)

    one_writer = threading.Lock() if connection.vendor == "sqlite" else None
    start = threading.Barrier(N)
    errors: list[BaseException] = []

    @contextmanager
    def writing() -> Iterator[None]:
        if one_writer is None:
            yield
        else:
            with one_writer:
                yield

    def worker(plan_id: int) -> None:
        from django.db import connection as thread_connection

        try:
            start.wait(10)
            with writing():
                services.plan_file(actor=SYSTEM, plan_id=plan_id)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(pid,)) for pid in plan_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    numbers = sorted(
        str(n) for n in ManagementPlan.objects.filter(id__in=plan_ids).values_list("filing_number", flat=True)
    )
    assert numbers == [f"220102-2026-{i:06d}" for i in range(1, N + 1)]
    assert FilingCounter.objects.get(region_code="220102", year=2026).last_serial == N
