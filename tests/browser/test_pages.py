"""The pages in a real browser: Chinese text in the bundled font, the dashboard's chart and
map drawn from local assets only, the htmx catalogue search, login and access rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from .conftest import SiteData, Traffic

pytestmark = pytest.mark.browser

NOTO = "/static/vendor/noto-sans-sc/files/"
PREFECTURES = ("220100", "220200", "220300", "220400", "220500", "220600", "220700", "220800", "222400")


def settle(page: Any) -> None:
    """Wait until the network is quiet and every web font the page asked for has loaded."""
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => document.fonts.ready.then(() => document.fonts.status)") == "loaded"


def shoot(page: Any, screenshot_dir: Path, name: str) -> None:
    settle(page)
    page.screenshot(path=str(screenshot_dir / name), full_page=True)


def rendered_fonts(page: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium used to draw the text of the first element matching ``selector``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    keep = ("familyName", "isCustomFont", "glyphCount")
    return [{k: f[k] for k in keep} for f in fonts]


def login(page: Any, base_url: str, username: str, password: str, totp_secret: str | None = None) -> None:
    """The login form, and for a regulator the second page asking for the TOTP code (computed
    here from the secret, as the authenticator app would)."""
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    if totp_secret is not None:
        type_totp_code(page, base_url, totp_secret)


def type_totp_code(page: Any, base_url: str, secret: str) -> None:
    expect(page).to_have_url(f"{base_url}/login/totp/")
    expect(page.locator("h1")).to_have_text("动态口令")
    page.fill("#id_code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("form.form button[type=submit]")


def test_landing_renders_in_chinese_with_bundled_font(
    page: Any, live_server: Any, traffic: Traffic, site: SiteData, screenshot_dir: Path
) -> None:
    response = page.goto(f"{live_server.url}/")
    assert response.status == 200
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    expect(page.locator("h1")).to_have_text("危险废物全过程智能监管平台")
    expect(page.locator(".brand-name")).to_have_text("吉林省危险废物全过程智能监管平台")
    expect(page.get_by_test_id("stat-enterprises")).to_have_text("4")
    settle(page)
    # The Chinese glyphs come from the bundled Noto Sans SC subsets, not a system font.
    assert page.evaluate("() => document.fonts.check('16px \"Noto Sans SC\"', '危险废物全过程智能监管平台')")
    assert "Noto Sans SC" in page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert any(NOTO in u and u.endswith(".woff2") for u in traffic.requests)
    # Ask the renderer which font actually drew the heading's glyphs.
    # (Chromium reports the name inside the subset files, "Noto Sans SC Thin" for the bundled
    # fontsource files; isCustomFont means a web font, not a system one.)
    for selector in ("h1", ".lead", ".stat .label"):
        fonts = rendered_fonts(page, selector)
        assert fonts and all(f["isCustomFont"] and f["familyName"].startswith("Noto Sans SC") for f in fonts), (
            selector,
            fonts,
        )
    shoot(page, screenshot_dir, "landing.png")


def test_regulator_dashboard_draws_chart_map_and_table(
    page: Any, live_server: Any, traffic: Traffic, site: SiteData, screenshot_dir: Path
) -> None:
    login(page, live_server.url, site.regulator_username, site.password, site.regulator_totp_secret)
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    assert f"{live_server.url}/home/" in traffic.requests  # the login went through the role router
    expect(page.locator("h1")).to_have_text("监管驾驶舱")
    expect(page.get_by_test_id("jurisdiction")).to_contain_text("固体废物与化学品处")
    expect(page.get_by_test_id("dash-enterprises")).to_have_text("4")

    # ECharts drew on a canvas of real size.
    chart_canvas = page.locator("#chart canvas")
    expect(chart_canvas).to_have_count(1)
    box = chart_canvas.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200

    # Every y-axis label (the 长白山 one is the longest) lies inside the chart, none clipped.
    labels = page.evaluate(
        """() => {
          const chart = echarts.getInstanceByDom(document.getElementById('chart'));
          const width = chart.getWidth();
          return chart.getZr().storage.getDisplayList()
            .filter(el => el.type === 'tspan' && el.style && el.style.text)
            .map(el => {
              const r = el.getBoundingRect().clone();
              r.applyTransform(el.getComputedTransform());
              return {text: el.style.text, left: r.x, right: r.x + r.width, width};
            });
        }"""
    )
    assert len(labels) >= 10
    clipped = [lb for lb in labels if lb["left"] < 0 or lb["right"] > lb["width"]]
    assert not clipped, f"chart labels cut off at the edge: {clipped}"

    # Leaflet loaded the prefecture GeoJSON and drew it (preferCanvas: one canvas in the
    # overlay pane) with one label per prefecture.
    expect(page.locator('#map[data-ready="1"]')).to_have_count(1)
    expect(page.locator("#map .leaflet-overlay-pane canvas")).to_have_count(1)
    expect(page.locator("#map .map-label")).to_have_count(9)
    expect(page.locator("#map .map-label").first).to_contain_text("长春市")
    assert any(u.endswith("/static/web/geo/jilin-prefectures.geojson") for u in traffic.requests)
    # The canvas really holds coloured shapes, not just a blank surface.
    painted = page.evaluate(
        """() => {
          const c = document.querySelector('#map .leaflet-overlay-pane canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
          return n / (c.width * c.height);
        }"""
    )
    assert painted > 0.05, f"map canvas mostly empty ({painted:.1%} painted)"

    # The table: the nine prefectures by code (plus the 长白山 special region last).
    codes = page.locator("[data-testid=prefecture-table] tbody tr td:first-child").all_inner_texts()
    assert [c for c in codes if c.isdigit()] == list(PREFECTURES)
    rows = dict(
        zip(
            codes,
            page.locator("[data-testid=prefecture-table] tbody tr td:last-child").all_inner_texts(),
            strict=True,
        )
    )
    assert {k: rows[k] for k in ("220100", "220200", "220800", "222400", "220300")} == {
        "220100": "1",
        "220200": "1",
        "220800": "1",
        "222400": "1",
        "220300": "0",
    }
    shoot(page, screenshot_dir, "dashboard.png")


def test_enterprise_admin_lands_on_its_unit(page: Any, live_server: Any, site: SiteData, screenshot_dir: Path) -> None:
    login(page, live_server.url, site.enterprise_username, site.password)
    expect(page).to_have_url(f"{live_server.url}/enterprise/")
    expect(page.locator("h1")).to_have_text("单位工作台")
    units = page.get_by_test_id("unit")
    expect(units).to_have_count(1)
    expect(units.locator("h2")).to_have_text(site.enterprise_name)
    expect(units).to_contain_text(site.enterprise_credit_code)
    expect(units).to_contain_text("南关区")
    expect(units).to_contain_text("产废单位")
    expect(page.get_by_test_id("who")).to_have_text("企业管理员")
    shoot(page, screenshot_dir, "enterprise.png")


def test_catalogue_search_as_you_type_and_detail(
    page: Any, live_server: Any, traffic: Traffic, site: SiteData, screenshot_dir: Path
) -> None:
    page.goto(f"{live_server.url}/catalog/")
    expect(page.locator("h1")).to_have_text("危险废物名录查询")
    count = page.get_by_test_id("result-count")
    results = page.get_by_test_id("results")
    # A marker on window survives htmx swaps but not a page load.
    page.evaluate("window.__noReload = true")

    page.locator("#q").press_sequentially("废矿物油", delay=60)
    expect(results).to_contain_text("900-249-08")
    expect(count).to_have_text(re.compile(r"找到 \d+ 条"))
    n = int(re.search(r"找到 (\d+) 条", count.inner_text()).group(1))  # type: ignore[union-attr]
    assert n > 0
    assert page.evaluate("window.__noReload === true"), "the search reloaded the page"
    expect(page).to_have_url(re.compile(r"/catalog/\?q=%E5%BA%9F%E7%9F%BF%E7%89%A9%E6%B2%B9"))
    expect(results.locator("mark").first).to_be_visible()  # the matched term is highlighted
    shoot(page, screenshot_dir, "catalog-search.png")

    page.fill("#q", "飞灰")
    expect(results).to_contain_text("772-002-18")
    expect(results).not_to_contain_text("900-249-08")
    assert page.evaluate("window.__noReload === true"), "the search reloaded the page"

    page.fill("#q", "900-041-49")
    link = results.locator("a.code", has_text="900-041-49")
    expect(link).to_have_count(1)
    with page.expect_navigation():
        link.click()
    expect(page).to_have_url(re.compile(r"/catalog/900-041-49/"))
    expect(page.get_by_test_id("code")).to_have_text("900-041-49")
    hazards = page.get_by_test_id("hazards")
    expect(hazards.locator(".hz")).to_have_count(2)
    expect(hazards.locator(".hz.T")).to_contain_text("T")
    expect(hazards.locator(".hz.In")).to_contain_text("In")
    exemptions = page.get_by_test_id("exemptions")
    expect(exemptions).to_be_visible()
    assert exemptions.locator("tbody tr").count() >= 1
    shoot(page, screenshot_dir, "catalog-detail.png")


def test_wrong_password_shows_chinese_error(page: Any, live_server: Any, site: SiteData) -> None:
    login(page, live_server.url, site.regulator_username, "not-the-password")
    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.locator("p.error[role=alert]")).to_have_text("用户名或密码不正确，请重新输入。")
    expect(page.locator("#id_username")).to_have_value(site.regulator_username)
    expect(page.get_by_test_id("who")).to_have_count(0)


def test_anonymous_dashboard_redirects_to_login(page: Any, live_server: Any, site: SiteData) -> None:
    response = page.goto(f"{live_server.url}/dashboard/")
    assert response.status == 200
    expect(page).to_have_url(f"{live_server.url}/login/?next=/dashboard/")
    expect(page.locator("h1")).to_have_text("登录")
    # Logging in from there goes back to the page that was asked for.
    page.fill("#id_username", site.regulator_username)
    page.fill("#id_password", site.password)
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    type_totp_code(page, live_server.url, site.regulator_totp_secret)
    expect(page).to_have_url(f"{live_server.url}/dashboard/")


def test_enterprise_admin_gets_chinese_403_on_dashboard(
    page: Any, live_server: Any, traffic: Traffic, site: SiteData
) -> None:
    login(page, live_server.url, site.enterprise_username, site.password)
    response = page.goto(f"{live_server.url}/dashboard/")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("无权访问")
    expect(page.locator("p.error[role=alert]")).to_have_text("只有监管部门账户可以查看监管驾驶舱")
    expect(page.get_by_role("link", name="返回首页")).to_be_visible()


def test_regulator_enrols_an_authenticator_then_reaches_the_dashboard(
    page: Any, live_server: Any, site: SiteData, screenshot_dir: Path
) -> None:
    from weifei.accounts.services import regulator_account_create
    from weifei.core.actors import SYSTEM

    regulator_account_create(
        actor=SYSTEM,
        username="changchun",
        password=site.password,
        full_name="长春市局",
        region_key="220100",
        department="固体废物科",
    )
    login(page, live_server.url, "changchun", site.password)
    expect(page).to_have_url(f"{live_server.url}/login/totp/enrol/")
    expect(page.locator("h1")).to_have_text("绑定动态口令")
    secret = page.get_by_test_id("totp-secret").get_attribute("data-secret")
    expect(page.get_by_test_id("totp-uri")).to_contain_text("otpauth://totp/")
    expect(page.get_by_test_id("totp-uri")).to_contain_text(f"secret={secret}")
    shoot(page, screenshot_dir, "totp-enrol.png")
    page.fill("#id_code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    expect(page.locator("p.error[role=alert]")).to_contain_text("动态口令不正确")
    page.fill("#id_code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    expect(page.get_by_test_id("who")).to_have_text("长春市局")
