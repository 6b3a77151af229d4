"""The registry in a real browser: an enterprise registers itself, the county regulator verifies
it, the enterprise adds a site and a vehicle, and a regulator browses its region's registry with
filters and the map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, SiteData

pytestmark = pytest.mark.browser


def _login(page: Any, base: str, username: str, secret: str | None = None) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    if secret is not None:
        expect(page).to_have_url(f"{base}/login/totp/")
        page.fill("#id_code", pyotp.TOTP(secret).now())
        with page.expect_navigation():
            page.click("form.form button[type=submit]")


def _logout(page: Any) -> None:
    with page.expect_navigation():
        page.click("header form button[type=submit]")


def test_register_verify_then_add_site_and_vehicle(
    page: Any, live_server: Any, site: SiteData, screenshot_dir: Path
) -> None:
    from weifei.accounts.services import regulator_account_create
    from weifei.accounts.testing import totp_enrol
    from weifei.core.actors import SYSTEM
    from weifei.registry.models import Enterprise, Site, Vehicle

    base = live_server.url
    county = regulator_account_create(
        actor=SYSTEM,
        username="nanguan",
        password=PASSWORD,
        full_name="南关区分局",
        region_key="220102",
        department="综合执法股",
    )
    county_secret = totp_enrol(county.user)

    # 1. The enterprise registers itself; a bad credit code is refused next to the field first.
    page.goto(f"{base}/registry/register/")
    expect(page.locator("h1")).to_have_text("单位注册")
    page.fill("#id_credit_code", "91220102MA0000000Z")
    page.fill("#id_name", "长春南关测试运输有限公司")
    page.select_option("#id_region", "220102")
    page.check("input[name=roles][value=is_carrier]")
    page.fill("#id_full_name", "王经理")
    page.fill("#id_username", "wangjl")
    page.fill("#id_password", PASSWORD)
    page.click("form[data-testid=register-form] button[type=submit]")
    expect(page.locator("p.error[data-field=credit_code]")).to_contain_text("统一社会信用代码")
    assert not Enterprise.objects.filter(name="长春南关测试运输有限公司").exists()
    page.fill("#id_credit_code", "91220102MA6CF1XG8U")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("form[data-testid=register-form] button[type=submit]")
    expect(page.get_by_test_id("enterprise-name")).to_have_text("长春南关测试运输有限公司")
    expect(page.get_by_test_id("verification")).to_have_text("待核验")
    page.screenshot(path=str(screenshot_dir / "registry-registered.png"), full_page=True)
    enterprise = Enterprise.objects.get(name="长春南关测试运输有限公司")
    _logout(page)

    # 2. The county regulator finds it in the queue and verifies it.
    _login(page, base, "nanguan", county_secret)
    # The login lands on the dashboard; let its map finish loading before leaving the page
    # (an aborted fetch would count as a failed request).
    expect(page.locator("#map")).to_have_attribute("data-ready", "1")
    page.goto(f"{base}/registry/verification/")
    queue = page.get_by_test_id("verification-queue")
    expect(queue).to_contain_text("长春南关测试运输有限公司")
    page.screenshot(path=str(screenshot_dir / "registry-verification-queue.png"), full_page=True)
    row = queue.locator("tr", has_text="长春南关测试运输有限公司")
    with page.expect_navigation():
        row.locator("button[value=approve]").click()
    expect(page.locator("p.notice")).to_contain_text("已核验通过")
    enterprise.refresh_from_db()
    assert enterprise.verification == "verified"
    _logout(page)

    # 3. The enterprise adds a site and a vehicle.
    _login(page, base, "wangjl")
    page.goto(f"{base}/registry/enterprises/{enterprise.id}/")
    expect(page.get_by_test_id("verification")).to_have_text("已核验")
    with page.expect_navigation():
        page.get_by_test_id("add-site").click()
    page.fill("#id_name", "车队停车场")
    page.fill("#id_address", "长春市南关区幸福街88号")
    page.select_option("#id_region", "220102")
    page.uncheck("input[name=roles][value=generator]")
    page.check("input[name=roles][value=carrier_base]")
    page.fill("#id_latitude", "43.85")
    page.fill("#id_longitude", "125.35")
    with page.expect_navigation():
        page.click("form[data-testid=site-form] button[type=submit]")
    expect(page.get_by_test_id("sites")).to_contain_text("车队停车场")
    assert Site.objects.filter(enterprise=enterprise, name="车队停车场").exists()
    with page.expect_navigation():
        page.get_by_test_id("add-vehicle").click()
    page.fill("#id_plate", "吉A8X123")
    page.fill("#id_transport_certificate", "吉交运管220102000123")
    page.fill("#id_payload_tonnes", "abc")
    page.fill("#id_valid_until", "2027-12-31")
    page.click("form[data-testid=vehicle-form] button[type=submit]")
    expect(page.locator("p.error[data-field=payload_tonnes]")).to_have_text("核定载质量应为数字")
    page.fill("#id_payload_tonnes", "12.5")
    with page.expect_navigation():
        page.click("form[data-testid=vehicle-form] button[type=submit]")
    expect(page.get_by_test_id("vehicles")).to_contain_text("吉A8X123")
    expect(page.get_by_test_id("vehicles")).to_contain_text("待备案")
    expect(page.get_by_test_id("history")).to_contain_text("registry.enterprise_verified")
    page.screenshot(path=str(screenshot_dir / "registry-enterprise-profile.png"), full_page=True)
    assert Vehicle.objects.get(plate="吉A8X123").registration == "pending"


def test_regulator_browses_the_registry_with_filters_and_map(
    page: Any, live_server: Any, site: SiteData, screenshot_dir: Path
) -> None:
    from decimal import Decimal

    from weifei.core.actors import SYSTEM
    from weifei.registry.models import Enterprise
    from weifei.registry.services import site_create

    for enterprise, (lat, lng) in zip(
        Enterprise.objects.order_by("credit_code"),
        [(43.88, 125.32), (43.84, 126.55), (42.90, 129.51), (45.62, 122.84)],
        strict=True,
    ):
        site_create(
            actor=SYSTEM,
            enterprise=enterprise,
            name="主厂区",
            address=enterprise.name + "厂区",
            region_key=enterprise.region.key,
            roles=["generator"],
            latitude=Decimal(str(lat)),
            longitude=Decimal(str(lng)),
        )
    base = live_server.url
    _login(page, base, site.regulator_username, site.regulator_totp_secret)
    expect(page.locator("#map")).to_have_attribute("data-ready", "1")  # the dashboard, fully loaded
    page.goto(f"{base}/registry/")
    expect(page.get_by_test_id("registry-count")).to_contain_text("共 4 个单位")
    expect(page.get_by_test_id("registry-map")).to_have_attribute("data-ready", "1")
    assert page.locator("#registry-map .leaflet-overlay-pane canvas").count() == 1
    page.screenshot(path=str(screenshot_dir / "registry-list.png"), full_page=True)
    page.select_option("select[name=region]", "220200")
    with page.expect_navigation():
        page.click("form[data-testid=registry-filters] button[type=submit]")
    expect(page.get_by_test_id("registry-count")).to_contain_text("共 1 个单位")
    expect(page.get_by_test_id("registry-table")).to_contain_text("吉林市昌邑区石化助剂有限公司")
    expect(page.get_by_test_id("registry-map")).to_have_attribute("data-ready", "1")
    page.fill("input[name=q]", "热电")
    page.select_option("select[name=region]", "")
    with page.expect_navigation():
        page.click("form[data-testid=registry-filters] button[type=submit]")
    expect(page.get_by_test_id("registry-table")).to_contain_text("白城市洮北区热电有限公司")
    expect(page.get_by_test_id("registry-count")).to_contain_text("共 1 个单位")
    # Let the map's requests finish: closing the page mid-fetch would count as a failed request.
    expect(page.get_by_test_id("registry-map")).to_have_attribute("data-ready", "1")
