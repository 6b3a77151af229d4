"""Issue 4 in a real browser: a generator files its management plan, records a container's 产生 and
入库, prints its label and opens the label's verification page on a phone; the province regulator
returns the plan with a comment."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from .conftest import SiteData
from .test_pages import login, settle, shoot

pytestmark = pytest.mark.browser
CODE = "900-249-08"


def _world(site: SiteData) -> dict[str, int]:
    """The unit's site with its facilities, and a licensed operator to send the oil to."""
    from weifei.core.actors import SYSTEM
    from weifei.registry import services
    from weifei.registry.models import Enterprise

    unit = Enterprise.objects.get(credit_code=site.enterprise_credit_code)
    plant = services.site_create(
        actor=SYSTEM,
        enterprise=unit,
        name="南关一厂",
        address="南关区示范路1号",
        region_key="220102",
        roles=["generator"],
    )
    services.facility_create(actor=SYSTEM, site=plant, kind="generating", name="机加工车间")
    services.facility_create(
        actor=SYSTEM, site=plant, kind="storage", name="危废贮存库", storage_capacity_tonnes=Decimal(30)
    )
    operator = services.enterprise_create(
        actor=SYSTEM,
        credit_code="91220101MA0Y4QJX6G",
        name="吉林省示范环保处置有限公司",
        region_key="220102",
        roles=("is_operator",),
    )
    today = timezone.localdate()
    services.licence_create(
        actor=SYSTEM,
        holder=operator,
        number="吉危许浏览器01",
        kind="comprehensive",
        methods=["disposal"],
        annual_capacity_tonnes=Decimal(5000),
        valid_from=dt.date(today.year, 1, 1),
        categories=["HW08"],
    )
    return {"site": plant.id, "operator": operator.id}


def _add_line(page: Any, **fields: str) -> None:
    form = page.get_by_test_id("line-form")
    for name, value in fields.items():
        target = form.locator(f"[name={name}]")
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    with page.expect_navigation():
        form.locator("button").click()
    expect(page.locator("p.notice[role=status]")).to_be_visible()


def test_generator_files_plan_records_container_prints_label_and_regulator_returns_plan(
    page: Any, chromium: Any, live_server: Any, site: SiteData, screenshot_dir: Path
) -> None:
    ids = _world(site)
    base = live_server.url
    year = timezone.localdate().year

    # 1. The generator drafts this year's plan for its site, adds A.3 and A.7 lines and files it.
    login(page, base, site.enterprise_username, site.password)
    page.goto(f"{base}/plans/")
    new = page.get_by_test_id("plan-new")
    new.locator("[name=site_id]").select_option(str(ids["site"]))
    new.locator("[name=year]").fill(str(year))
    with page.expect_navigation():
        new.locator("button").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("草稿")
    plan_url = page.url
    _add_line(page, section="A3", waste_code=CODE, waste_name="废机油", tonnes="12")
    _add_line(
        page,
        section="A7",
        waste_code=CODE,
        tonnes="12",
        method_code="D10",
        transfer_type="in_province",
        receiver_type="licensed",
        receiver_id=str(ids["operator"]),
    )
    expect(page.get_by_test_id("section-A7")).to_contain_text("吉林省示范环保处置有限公司")
    with page.expect_navigation():
        page.get_by_test_id("file-form").locator("button").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("已备案")
    expect(page.get_by_test_id("filing-number")).to_have_text(re.compile(rf"^220102-{year}-\d{{6}}$"))
    shoot(page, screenshot_dir, "plan-filed.png")

    # 2. 产生: one 200 L drum of waste oil, labelled.
    page.goto(f"{base}/plans/ledger/sites/{ids['site']}/new/generated/")
    form = page.get_by_test_id("ledger-form")
    form.locator("[name=waste_code]").fill(CODE)
    form.locator("[name=common_name]").fill("废机油")
    form.locator("[name=quantity]").fill("0.18")
    form.locator("[name=container_type]").fill("铁桶")
    form.locator("[name=container_litres]").fill("200")
    expect(form.locator("[name=label]")).to_be_checked()
    form.locator("[name=facility_id]").select_option(index=1)
    form.locator("[name=handler]").fill("王工")
    shoot(page, screenshot_dir, "ledger-generated-form.png")
    with page.expect_navigation():
        page.get_by_test_id("ledger-submit").click()
    expect(page.get_by_test_id("batch-code")).to_have_text(re.compile(r"^HWCS\d{8}001$"))
    label_code = page.get_by_test_id("container-code").evaluate("e => e.firstChild.textContent").strip()
    assert re.fullmatch(rf"{site.enterprise_credit_code}90024908\d{{8}}001", label_code), label_code
    generated_url = page.url
    shoot(page, screenshot_dir, "ledger-generated.png")

    # 3. 入库 from that batch into the storage facility (the source is preselected from the entry).
    page.get_by_test_id("next-kinds").get_by_text("记录入库").click()
    page.wait_for_url(re.compile(r"/new/stored_in/"))
    form = page.get_by_test_id("ledger-form")
    expect(form.locator("[name=source_id] option:checked")).to_contain_text("HWCS")
    form.locator("[name=quantity]").fill("0.18")
    form.locator("[name=facility_id]").select_option(index=1)
    with page.expect_navigation():
        page.get_by_test_id("ledger-submit").click()
    expect(page.get_by_test_id("batch-code")).to_have_text(re.compile(r"^HWRK\d{8}001$"))
    expect(page.get_by_test_id("source-link")).to_contain_text("HWCS")
    shoot(page, screenshot_dir, "ledger-stored-in.png")

    # The site's stock now holds the drum, in the storage facility; the declaration periods list.
    page.goto(f"{base}/plans/stock/sites/{ids['site']}/")
    expect(page.get_by_test_id("stock-by-code")).to_contain_text(CODE)
    expect(page.get_by_test_id("stock-by-code")).to_contain_text("0.18")
    expect(page.get_by_test_id("stock-containers")).to_contain_text(CODE)
    shoot(page, screenshot_dir, "stock-site.png")
    page.goto(f"{base}/plans/declarations/?site_id={ids['site']}&year={year}")
    expect(page.get_by_test_id("periods")).to_contain_text(f"{year + 1}-03-31")
    shoot(page, screenshot_dir, "declarations.png")

    # 4. The label: the PDF from the 产生 entry page, then its QR target on a phone, anonymously.
    page.goto(generated_url)
    pdf_href = page.get_by_test_id("label-pdf").get_attribute("href")
    response = page.request.get(f"{base}{pdf_href}")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        pdf = screenshot_dir / "label.pdf"
        pdf.write_bytes(body)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert label_code in text.replace(" ", "").replace("\n", "")
        assert "废矿物油" in text or "废机油" in text

    phone = chromium.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        mobile = phone.new_page()
        mobile.goto(f"{base}/labels/")
        mobile.get_by_test_id("label-code-input").fill(label_code.lower())
        with mobile.expect_navigation():
            mobile.get_by_test_id("label-submit").click()
        mobile.wait_for_url(re.compile(rf"/labels/{label_code}/$"))
        expect(mobile.get_by_test_id("label-waste-code")).to_have_text(CODE)
        expect(mobile.get_by_test_id("label-unit")).to_have_text(site.enterprise_name)
        expect(mobile.get_by_test_id("label-state")).to_contain_text("在库")
        expect(mobile.get_by_test_id("label-history")).to_have_count(0)  # the public sees no history
        assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
        settle(mobile)
        mobile.screenshot(path=str(screenshot_dir / "label-phone.png"), full_page=True)
    finally:
        phone.close()

    # 5. The province regulator returns the plan with a comment; the unit sees it.
    with page.expect_navigation():
        page.click("header form button[type=submit]")
    login(page, base, site.regulator_username, site.password, totp_secret=site.regulator_totp_secret)
    page.goto(plan_url)
    review = page.get_by_test_id("review-form")
    review.locator("[name=comment]").fill("A.7 转移量与 A.3 产生量一致，请补充贮存情况（A.4）后重新备案")
    with page.expect_navigation():
        review.get_by_role("button", name="退回").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("已退回")
    expect(page.locator("dl.facts").first).to_contain_text("请补充贮存情况")
    shoot(page, screenshot_dir, "plan-returned.png")
