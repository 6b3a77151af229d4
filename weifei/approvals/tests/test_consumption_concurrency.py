"""Two manifests take the last tonnes of an approval at once: the approval line is row-locked, so on
PostgreSQL exactly one succeeds and the other is refused (SQLite serialises them with a lock)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection

from weifei.approvals import services
from weifei.approvals.models import Application, ApprovalLine, Consumption
from weifei.approvals.tests.conftest import CODE, W, at, to_decision
from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError

DAY = dt.date(2026, 3, 2)


@pytest.mark.django_db(transaction=True)
def test_two_manifests_take_the_last_tonnes_exactly_one_succeeds(w: W) -> None:
    app = to_decision(w, DAY)
    services.application_decide(actor=w.actors["province"], application_id=app.id, approve=True, now=at(DAY))
    approval_id = Application.objects.get(id=app.id).approval.id
    services.approval_consume(
        actor=SYSTEM,
        approval_id=approval_id,
        waste_code=CODE,
        tonnes=Decimal(7),
        manifest_number="20262201000001",
        on=DAY,
    )

    one_writer = threading.Lock() if connection.vendor == "sqlite" else None
    start = threading.Barrier(2)
    refused: list[str] = []
    errors: list[BaseException] = []

    @contextmanager
    def writing() -> Iterator[None]:
        if one_writer is None:
            yield
        else:
            with one_writer:
                yield

    def worker(number: str) -> None:
        from django.db import connection as thread_connection

        try:
            start.wait(10)
            with writing():
                services.approval_consume(
                    actor=SYSTEM,
                    approval_id=approval_id,
                    waste_code=CODE,
                    tonnes=Decimal(3),
                    manifest_number=number,
                    on=DAY,
                )
        except ApplicationError as exc:
            refused.append(exc.code)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(f"2026220100001{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert refused == ["approved_quantity_exceeded"]
    assert ApprovalLine.objects.get(approval_id=approval_id, waste_code=CODE).consumed_tonnes == Decimal(10)
    assert Consumption.objects.filter(line__waste_code=CODE).count() == 2
