"""The Celery task runs the sweep (eagerly without a broker)."""

from __future__ import annotations

import pytest

from weifei.approvals.tasks import approvals_sweep

pytestmark = [pytest.mark.usefixtures("reference"), pytest.mark.django_db]


def test_task_runs_the_sweep() -> None:
    assert approvals_sweep.delay().get() == {"deemed": 0, "findings": 0}
