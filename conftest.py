"""Shared fixtures. Reference data is loaded once into the test database; a test that
flushes tables (transactional tests) gets it back through ``reference``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    from weifei.catalog.services import reference_load

    with django_db_blocker.unblock():
        reference_load()
    yield


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache() -> Iterator[None]:
    """Each test starts with an empty per-process catalogue cache: a test's rolled-back
    transaction must not leave versions or codes behind for the next one."""
    from weifei.catalog import cache
    from weifei.core import workdays

    cache.invalidate()
    workdays.invalidate()
    yield
    cache.invalidate()
    workdays.invalidate()


@pytest.fixture
def reference(db: None) -> None:
    """Reference data (regions, 名录2021, exemptions, methods) present in the database."""
    from weifei.catalog.testing import reference_ensure

    reference_ensure()


def _chromium() -> str:
    import os

    return os.environ.get("WEIFEI_CHROMIUM", "/usr/bin/chromium")


def pytest_report_header(config: Any) -> list[str]:
    import os

    lines = []
    chromium = _chromium()
    lines.append(f"browser tests: {'on, ' + chromium if os.access(chromium, os.X_OK) else 'off (no Chromium)'}")
    redis_url = os.environ.get("WEIFEI_TEST_REDIS_URL")
    lines.append(f"redis tests: {'on, ' + redis_url if redis_url else 'off (WEIFEI_TEST_REDIS_URL unset)'}")
    import shutil

    missing = [t for t in PDF_TOOLS if shutil.which(t) is None]
    lines.append(f"PDF text/QR checks: {'on' if not missing else 'skipped (missing ' + ', '.join(missing) + ')'}")
    return lines


PDF_TOOLS = ("pdftotext", "pdftoppm", "zbarimg")


def pytest_sessionstart(session: Any) -> None:
    """CI (``.ci/run`` sets WEIFEI_REQUIRE_PDF_TOOLS=1) must run the PDF text and QR checks: there a
    missing tool stops the run instead of letting those tests skip."""
    import os
    import shutil

    missing = [t for t in PDF_TOOLS if shutil.which(t) is None]
    if os.environ.get("WEIFEI_REQUIRE_PDF_TOOLS") == "1" and missing:
        pytest.exit(
            f"WEIFEI_REQUIRE_PDF_TOOLS=1 but {', '.join(missing)} missing (apt-get install poppler-utils zbar-tools)",
            returncode=3,
        )


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Deselect (never silently pass) tests whose service is absent; the header says which."""
    import os

    absent = set()
    if not os.access(_chromium(), os.X_OK):
        absent.add("browser")
    if not os.environ.get("WEIFEI_TEST_REDIS_URL"):
        absent.add("redis")
    if not absent:
        return
    keep, drop = [], []
    for item in items:
        (drop if absent & {m.name for m in item.iter_markers()} else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
