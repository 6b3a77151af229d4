"""Issue 5 in a real browser: a consignor fills and submits a manifest, the driver signs pickup on a
390 px phone (typing the label codes), the receiver reports a discrepancy and accepts part of the
load, the regulator reads the history (with the map of the trip), and the consignor makes, lists and
revokes a road-control link."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import SiteData
from .test_pages import login, shoot

pytestmark = pytest.mark.browser


def _logout(page: Any) -> None:
    page.context.clear_cookies()


def test_manifest_from_wizard_to_partial_acceptance(
    page: Any, live_server: Any, site: SiteData, screenshot_dir: Path
) -> None:
    from weifei.accounts.testing import totp_enrol
    from weifei.manifests.models import Manifest
    from weifei.manifests.testing import PASSWORD, world

    w = world(containers=4)
    w.site.latitude, w.site.longitude = Decimal("43.8868"), Decimal("125.3245")
    w.site.save()
    w.receiver.latitude, w.receiver.longitude = Decimal("43.8379"), Decimal("126.5496")
    w.receiver.save()
    secret = totp_enrol(w.users["regulator"])
    base = live_server.url

    # 1. The consignor fills the wizard: receiver, two labelled drums, the carrier's vehicle and driver.
    login(page, base, "m_consignor", PASSWORD)
    page.goto(f"{base}/manifests/new/")
    page.select_option("[data-testid=site-step] select", str(w.site.id))
    with page.expect_navigation():
        page.click("[data-testid=site-step] button")
    expect(page.get_by_test_id("containers")).to_contain_text(w.containers[0])
    page.select_option("[data-testid=receiver]", str(w.receiver.id))
    page.select_option("[data-testid=method]", "D10")
    page.fill("[name=line-0-waste_code]", "900-249-08")
    page.fill("[name=line-0-packaging]", "铁桶")
    page.check(f"input[name=labels][value='{w.containers[0]}']")
    page.check(f"input[name=labels][value='{w.containers[1]}']")
    page.select_option("[name=leg-0-carrier]", str(w.carrier1.id))
    page.select_option("[name=leg-0-vehicle]", str(w.vehicles["c1"].id))
    page.select_option("[name=leg-0-driver]", str(w.drivers["c1"].id))
    page.fill("[data-testid=emergency]", "配备吸附棉、灭火器；泄漏时围堵并报告")
    shoot(page, screenshot_dir, "manifest-wizard.png")
    with page.expect_navigation():
        page.click("[data-testid=manifest-create]")
    m = Manifest.objects.get()
    expect(page.get_by_test_id("manifest-number")).to_have_text(m.number)
    expect(page.get_by_test_id("manifest-state")).to_have_text("草稿")
    with page.expect_navigation():
        page.click("[data-testid=event-submit] button")
    expect(page.get_by_test_id("manifest-state")).to_have_text("待运输")
    shoot(page, screenshot_dir, "manifest-submitted.png")

    # 2. The driver, on a phone: types the two label codes (one as the QR URL), ticks, signs pickup.
    _logout(page)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, base, "m_driver1", PASSWORD)
    page.goto(f"{base}/manifests/{m.id}/driver/")
    page.fill("[data-testid=scan-input]", "NOT-ON-THIS-MANIFEST")
    page.click("[data-testid=scan-add]")
    expect(page.get_by_test_id("scan-status")).to_contain_text("不在本联单上")
    page.fill("[data-testid=scan-input]", f"{base}/labels/{w.containers[0]}/")
    page.click("[data-testid=scan-add]")
    page.fill("[data-testid=scan-input]", w.containers[1].lower())
    page.click("[data-testid=scan-add]")
    expect(page.get_by_test_id("scan-count")).to_contain_text("2 / 2")
    # The driver's content fits the phone (the site-wide navigation bar is the base layout's).
    assert page.evaluate(
        """() => Array.from(document.querySelectorAll('.driver, .driver *'))
                 .every(e => e.getBoundingClientRect().right <= 390)"""
    )
    shoot(page, screenshot_dir, "manifest-driver-scanned.png")
    with page.expect_navigation():
        page.click("[data-testid=sign-pickup]")
    expect(page.get_by_test_id("manifest-state")).to_have_text("运输中")
    with page.expect_navigation():
        page.click("[data-testid=arrive-form] button")
    expect(page.get_by_test_id("manifest-state")).to_have_text("已到达")
    shoot(page, screenshot_dir, "manifest-driver-arrived.png")

    # 3. The receiver weighs 0.3 t of the declared 0.4 t, reports it, and refuses 0.1 t.
    _logout(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, base, "m_receiver", PASSWORD)
    page.goto(f"{base}/manifests/{m.id}/receive/")
    page.fill("[data-testid=weight-0]", "0.3")
    page.check("[data-testid=kind-quantity]")
    page.check("[data-testid=kind-packaging]")
    page.fill("[data-testid=discrepancy-description]", "一桶渗漏，重量不足")
    with page.expect_navigation():
        page.click("[data-testid=report-discrepancy]")
    expect(page.get_by_test_id("manifest-state")).to_have_text("差异待处理")
    page.fill("[data-testid=refused-tonnes]", "0.5")
    page.fill("[data-testid=partial-reason]", "渗漏桶拒收")
    with page.expect_navigation():
        page.click("[data-testid=accept-partially]")
    expect(page.get_by_test_id("message")).to_contain_text("拒收量应大于 0 且小于")
    expect(page.get_by_test_id("manifest-state")).to_have_text("差异待处理")
    page.fill("[data-testid=refused-tonnes]", "0.1")
    page.fill("[data-testid=partial-reason]", "渗漏桶拒收")
    with page.expect_navigation():
        page.click("[data-testid=accept-partially]")
    expect(page.get_by_test_id("manifest-state")).to_have_text("已接收")
    expect(page.get_by_test_id("acceptance")).to_contain_text("部分接受")
    shoot(page, screenshot_dir, "manifest-received-partially.png")

    # 4. The regulator reads the whole history and the map (no tiles: two points and a line).
    _logout(page)
    login(page, base, "m_regulator", PASSWORD, secret)
    page.goto(f"{base}/manifests/{m.id}/")
    history = page.get_by_test_id("history")
    for kind in ("manifest.created", "manifest.submit", "manifest.pickup", "manifest.arrive",
                 "manifest.report_discrepancy", "manifest.accept_partially"):  # fmt: skip
        expect(history).to_contain_text(kind)
    expect(page.get_by_test_id("signatures")).to_contain_text("部分接受")
    expect(page.locator("#manifest-map[data-ready='1']")).to_have_count(1)
    expect(page.get_by_test_id("discrepancy")).to_contain_text("数量、包装")
    shoot(page, screenshot_dir, "manifest-regulator-history.png")
    m.refresh_from_db()
    assert (m.state, m.acceptance, m.refused_tonnes) == ("received", "partial", Decimal("0.1"))

    # 5. The consignor makes a road-control link (shown once, with its QR), lists it, revokes it:
    #    the link then answers 410 to anybody, without login.
    _logout(page)
    login(page, base, "m_consignor", PASSWORD)
    page.goto(f"{base}/manifests/{m.id}/")
    with page.expect_navigation():
        page.click("[data-testid=road-link-form] button")
    road_url = page.get_by_test_id("road-url").inner_text().strip()
    assert road_url.startswith(f"{base}/manifests/road/")
    page.goto(f"{base}/manifests/{m.id}/road-links/")
    row = page.get_by_test_id("road-link-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "valid")
    assert road_url.rsplit("/", 2)[-2] not in page.content()  # the token is never listed
    shoot(page, screenshot_dir, "manifest-road-links.png")
    with page.expect_navigation():
        page.click("[data-testid^=revoke-] button")
    expect(page.get_by_test_id("road-link-row")).to_have_attribute("data-status", "revoked")
    _logout(page)
    assert page.request.get(road_url).status == 410
