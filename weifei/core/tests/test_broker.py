"""Celery against a real Redis (CI sets WEIFEI_TEST_REDIS_URL): the health check reaches the
broker, and a task sent through it is delivered and executed by a real worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("WEIFEI_TEST_REDIS_URL", "")


def test_healthz_reaches_the_redis_broker(client: object, settings: object, db: None) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False  # type: ignore[attr-defined]
    from weifei.celery import app

    app.conf.broker_url = REDIS_URL
    try:
        body = client.get("/healthz").json()  # type: ignore[attr-defined]
    finally:
        app.conf.broker_url = "memory://"
    assert body["broker"] == {"ok": True, "mode": "broker", "ms": body["broker"]["ms"]}


def test_a_task_round_trips_through_redis_and_a_worker() -> None:
    env = dict(os.environ, CELERY_BROKER_URL=REDIS_URL, DJANGO_SETTINGS_MODULE="weifei.settings.dev")
    env["CELERY_RESULT_BACKEND"] = REDIS_URL
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "weifei",
            "worker",
            "--pool=solo",
            "-Q",
            "weifei-test",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        code = (
            f"from weifei.celery import app; app.conf.result_backend = {REDIS_URL!r}; "
            "r = app.send_task('weifei.core.tasks.ping', args=['吉林'], queue='weifei-test'); "
            "print(r.get(timeout=30))"
        )
        deadline = time.monotonic() + 60
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=90)
        assert time.monotonic() < deadline
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "pong 吉林"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
