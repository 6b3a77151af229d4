"""Settings: production refuses unsafe configuration; DATABASE_URL and the broker are read."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _import_settings(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("WEIFEI_", "DATABASE_URL", "CELERY_"))}
    environment.update(env)
    code = (
        f"import importlib; m = importlib.import_module({module!r}); "
        "print(m.DATABASES['default']['ENGINE'], m.CELERY_TASK_ALWAYS_EAGER, m.DEBUG, m.TIME_ZONE, m.LANGUAGE_CODE)"
    )
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60)


def test_production_refuses_debug() -> None:
    r = _import_settings("weifei.settings.production", WEIFEI_DEBUG="1", WEIFEI_SECRET_KEY="x" * 40)
    assert r.returncode != 0 and "DEBUG" in r.stderr


def test_production_refuses_the_default_secret() -> None:
    r = _import_settings("weifei.settings.production", WEIFEI_DEBUG="0")
    assert r.returncode != 0 and "WEIFEI_SECRET_KEY" in r.stderr


def test_production_starts_with_a_real_secret_and_postgres(tmp_path: object) -> None:
    r = _import_settings(
        "weifei.settings.production",
        WEIFEI_DEBUG="0",
        WEIFEI_SECRET_KEY="s" * 50,
        DATABASE_URL="postgres://u@127.0.0.1:5432/weifei",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["django.db.backends.postgresql", "False", "False", "Asia/Shanghai", "zh-hans"]


def test_defaults_are_sqlite_and_eager_tasks() -> None:
    r = _import_settings("weifei.settings.dev")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:2] == ["django.db.backends.sqlite3", "True"]


@pytest.mark.django_db
def test_timestamps_are_stored_aware_in_utc() -> None:
    from django.utils import timezone

    from weifei.core.models import CalendarOverride

    row = CalendarOverride.objects.create(date="2026-01-01", is_workday=False, reason="x")
    assert timezone.is_aware(row.created_at)
    assert row.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_periodic_tasks_are_scheduled_and_registered() -> None:
    from django.conf import settings

    from weifei.celery import app

    app.loader.import_default_modules()
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"weifei.core.tasks.chain_root", "weifei.accounts.tasks.purge_expired"} <= tasks
    assert tasks <= set(app.tasks), tasks - set(app.tasks)
