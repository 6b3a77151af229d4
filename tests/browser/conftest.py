"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright's sync API runs an asyncio loop in the test thread, and Django refuses ORM calls
from a thread with a running loop unless told otherwise; the flag is set before anything
touches the database. Never ``playwright install``: the browser is /usr/bin/chromium (or
``WEIFEI_CHROMIUM``).
"""

from __future__ import annotations

import os

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "Weifei-browser-2025"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = os.environ.get("WEIFEI_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.skip(f"Chromium not found at {executable} (set WEIFEI_CHROMIUM)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    path = Path(os.environ.get("WEIFEI_SCREENSHOTS") or REPO_ROOT / "test-artifacts" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Traffic:
    """Everything the page asked for, and everything that went wrong in it."""

    base_url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def external(self) -> list[str]:
        local = (self.base_url + "/", "data:", "blob:", "about:")
        return [u for u in self.requests if not u.startswith(local)]


@pytest.fixture
def traffic(live_server: Any) -> Traffic:
    return Traffic(base_url=live_server.url)


@pytest.fixture
def page(chromium: Any, traffic: Traffic) -> Iterator[Any]:
    """A fresh context per test (no shared cookies). On teardown: no request left localhost
    (no CDN, no tiles, no fonts from elsewhere), no asset failed, no 5xx, no uncaught JS error."""
    context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("request", lambda r: traffic.requests.append(r.url))
    page.on("requestfailed", lambda r: traffic.failed.append(f"{r.url} {r.failure}"))

    def on_response(r: Any) -> None:
        if r.status >= 500:
            traffic.server_errors.append(f"{r.status} {r.url}")

    def on_console(m: Any) -> None:
        if m.type == "error":
            traffic.console_errors.append(m.text)

    page.on("response", on_response)
    page.on("pageerror", lambda e: traffic.js_errors.append(str(e)))
    page.on("console", on_console)
    yield page
    context.close()
    assert traffic.requests, "the page made no requests"
    assert not traffic.external(), f"requests left the live server: {traffic.external()}"
    assert not traffic.failed, f"requests failed: {traffic.failed}"
    assert not traffic.server_errors, f"server errors: {traffic.server_errors}"
    assert not traffic.js_errors, f"uncaught JavaScript errors: {traffic.js_errors}"


@dataclass(frozen=True)
class SiteData:
    regulator_username: str
    enterprise_username: str
    enterprise_name: str
    enterprise_credit_code: str
    regulator_totp_secret: str  # the regulator's authenticator secret (enrolled by the fixture)
    password: str = PASSWORD


@pytest.fixture
def site(transactional_db: None) -> SiteData:
    """Reference data plus four units across four prefectures, a province regulator (with a
    confirmed TOTP device) and a unit admin — created through the services, inside this test's
    database."""
    from weifei.accounts.services import enterprise_user_create, regulator_account_create
    from weifei.accounts.testing import totp_enrol
    from weifei.catalog.services import reference_load
    from weifei.core.actors import SYSTEM
    from weifei.registry.services import enterprise_create

    reference_load()
    units = [
        ("91350100M000100Y43", "长春市南关区示范化工有限公司", "220102"),
        ("91130200699229617X", "吉林市昌邑区石化助剂有限公司", "220202"),
        ("911302307808371268", "延吉市边城汽车维修有限公司", "222401"),
        ("91512081MA62K0260E", "白城市洮北区热电有限公司", "220802"),
    ]
    created = [
        enterprise_create(actor=SYSTEM, credit_code=code, name=name, region_key=region, roles=("is_generator",))
        for code, name, region in units
    ]
    regulator = regulator_account_create(
        actor=SYSTEM,
        username="sheng",
        password=PASSWORD,
        full_name="省厅固废处",
        region_key="220000",
        department="固体废物与化学品处",
    )
    enterprise_user_create(
        actor=SYSTEM,
        enterprise=created[0],
        username="qiye",
        password=PASSWORD,
        full_name="企业管理员",
        role="admin",
    )
    return SiteData(
        regulator_totp_secret=totp_enrol(regulator.user),
        regulator_username="sheng",
        enterprise_username="qiye",
        enterprise_name=created[0].name,
        enterprise_credit_code=created[0].credit_code,
    )
